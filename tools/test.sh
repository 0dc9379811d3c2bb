#!/usr/bin/env bash
# Builds the project (installing missing packages) and runs the whole test
# suite through ctest. Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}" "${GRADCHECK_TEST_PACKAGES[@]}"
gradcheck_build
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" --timeout 600 "$@"
