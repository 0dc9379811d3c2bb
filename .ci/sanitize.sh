#!/usr/bin/env bash
# The whole test suite built with ASan and UBSan (GRADCHECK_SANITIZE=ON: the
# top-level CMakeLists adds -fsanitize=address,undefined and
# -fno-sanitize-recover=undefined), into its own build directory. Any sanitizer
# report is fatal: the process that hit it fails, and so does its test.
#
# The test plugins that play a user's crashing model are built without
# sanitizers (gradcheck_user_code in CMakeLists.txt), and ASan leaves fatal
# signals alone (handle_segv=0 ...), so the tools see the SIGSEGV or SIGFPE a
# user's code would raise, as in the normal build.
#
# Left out here, and only here (the normal job runs them):
#  - label rlimit_as, and the RLIMIT_AS cases of tests/plugin and tests/tools
#    (in binaries with other tests, so by name): ASan reserves terabytes of
#    virtual memory at start-up (shadow memory), so under any address-space
#    limit the child fails before the code under test runs.
#  - the adapter's exception test: its model allocates 2^47 bytes with
#    operator new to make std::bad_alloc, and ASan's operator new reports such
#    a size as fatal instead of throwing.
# Extra ctest arguments are passed on.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$ROOT/build-asan}
export CMAKE_ARGS="-DGRADCHECK_SANITIZE=ON ${CMAKE_ARGS:-}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
EXCLUDED='a huge allocation fails inside the child|a model whose code crashes, aborts, exits, hangs or throws exits 3|the adapter turns exceptions into error codes with the message'
exec "$ROOT/tools/test.sh" -LE rlimit_as -E "$EXCLUDED" "$@"
