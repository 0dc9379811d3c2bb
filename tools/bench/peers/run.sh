#!/usr/bin/env bash
# Runs gradcheck beside torch.autograd.gradcheck on the benchmark plugin
# (tools/bench/checker/bench_models.cpp). Installs Debian's python3-torch when
# missing, builds the two targets, then runs torch_gradcheck.py with Debian's
# Python (the one python3-torch is for). Extra arguments (--quick) are passed on.
set -euo pipefail
source "$(dirname "$0")/../../lib/setup.sh"
gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}" python3-torch
cmake -S "$GRADCHECK_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target gradcheck_tool bench_models >/dev/null
exec /usr/bin/python3 "$GRADCHECK_ROOT/tools/bench/peers/torch_gradcheck.py" \
  "$BUILD_DIR/tools/gradcheck/gradcheck" "$BUILD_DIR/tools/bench/checker/bench_models.so" "$@"
