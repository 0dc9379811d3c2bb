#!/usr/bin/env bash
# The whole test suite built with ASan and UBSan (GRADCHECK_SANITIZE=ON: the
# top-level CMakeLists adds -fsanitize=address,undefined and
# -fno-sanitize-recover=undefined), into its own build directory. Any sanitizer
# report is fatal: the process that hit it fails, and so does its test.
#
# Left out here, and only here (the normal job runs them):
#  - label rlimit_as: tests that limit a child's address space (RLIMIT_AS).
#    ASan reserves terabytes of virtual memory at start-up (shadow memory), so
#    under any such limit its allocations fail before the code under test runs.
#  - the RLIMIT_AS cases of tests/plugin (named below), for the same reason;
#    they are not labelled (that folder is not ours), so they go by name.
# Extra ctest arguments are passed on.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$ROOT/build-asan}
export CMAKE_ARGS="-DGRADCHECK_SANITIZE=ON ${CMAKE_ARGS:-}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
RLIMIT_TESTS='a huge allocation fails inside the child|a model whose code crashes, aborts, exits, hangs or throws exits 3'
exec "$ROOT/tools/test.sh" -LE rlimit_as -E "$RLIMIT_TESTS" "$@"
