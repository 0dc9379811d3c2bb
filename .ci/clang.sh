#!/usr/bin/env bash
# The CI job that builds the library, the tools and the samples with clang 14
# (Debian 12's clang-14) into build-clang/: the normal and sanitizer jobs build
# with GCC, and a construct one compiler takes and the other refuses (clang
# before 16 cannot capture a structured binding in a lambda, for one) would
# otherwise reach users first. The tests are not built here: they run in the
# other two jobs.
set -euo pipefail
export BUILD_DIR=${BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build-clang}
export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}
source "$(dirname "$0")/../tools/lib/setup.sh"
gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}" clang-14
gradcheck_configure -DGRADCHECK_BUILD_TESTS=OFF -DGRADCHECK_BUILD_TOOLS=ON -DGRADCHECK_BUILD_SAMPLES=ON
gradcheck_build
