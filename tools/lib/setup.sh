# Shared set-up for tools/quickstart.sh and tools/test.sh: installs the Debian
# packages that are missing, then configures and builds into build/.
# Sourced, not run. Honours BUILD_DIR, BUILD_TYPE, JOBS and CMAKE_ARGS.

GRADCHECK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$GRADCHECK_ROOT/build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Everything the build and the tests need, as Debian 12 package names.
GRADCHECK_PACKAGES=(
  build-essential cmake pkg-config
  libeigen3-dev libspdlog-dev libcli11-dev catch2 nlohmann-json3-dev zlib1g-dev libhdf5-dev
)
# What only the test suite needs on top: a real browser for the HTML report
# tests (headless Chromium), python3 for the convdiag corpus benchmark, and
# what the Python package and its tests need (pybind11, NumPy, PyTorch, pytest).
GRADCHECK_TEST_PACKAGES=(chromium python3 python3-dev pybind11-dev python3-numpy python3-torch python3-pytest
  python3-pip python3-venv)
# The Python the Debian packages above install into (a pyenv or venv python
# first on PATH has neither NumPy nor pytest).
GRADCHECK_PYTHON=${GRADCHECK_PYTHON:-/usr/bin/python3}

gradcheck_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing missing packages: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; return 2; }
    sudo=sudo
  fi
  $sudo apt-get update -qq || return 2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" || return 2
}

# gradcheck_configure [-DOPTION=VALUE...]: configures build/ (cheap when it is
# already configured).
gradcheck_configure() {
  # shellcheck disable=SC2086
  cmake -S "$GRADCHECK_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" ${CMAKE_ARGS:-} >/dev/null || return 2
}

# gradcheck_build [TARGET...]: builds the targets named (all without any).
gradcheck_build() {
  local targets=() t
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}" || return 2
}
