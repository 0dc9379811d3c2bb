#!/usr/bin/env bash
# Builds everything (the library, the tools, the samples, the Python package,
# the tests and the benchmarks; installing missing packages) into build/ and runs the whole test
# suite through ctest. Extra arguments go to ctest (e.g. -LE slow, -R regex).
# Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}" "${GRADCHECK_TEST_PACKAGES[@]}"
gradcheck_configure -DGRADCHECK_BUILD_TESTS=ON -DGRADCHECK_BUILD_BENCHMARKS=ON \
  -DGRADCHECK_BUILD_PYTHON=ON -DPython_EXECUTABLE="$GRADCHECK_PYTHON"
gradcheck_build
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" --timeout 600 "$@"
