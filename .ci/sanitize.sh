#!/usr/bin/env bash
# The test suite built with ASan and UBSan (GRADCHECK_SANITIZE=ON: the
# top-level CMakeLists adds -fsanitize=address,undefined and
# -fno-sanitize-recover=undefined), without optimisation (the sanitizers'
# instrumentation makes optimised builds several times slower to compile), into
# its own build directory, build-asan/. Any sanitizer report is fatal: the
# process that hit it fails, and so does its test.
#
#   .ci/sanitize.sh          the whole suite
#   .ci/sanitize.sh --ci     the CI job: the code that reads untrusted input and
#                            hosts user code (target sanitize_job: the checkpoint
#                            and log readers, the fuzz replays, the malformed-input
#                            corpus, the plugin host and isolation, the HTML
#                            writer), i.e. the tests labelled sanitize,
#                            hardening and fuzz
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
# Further arguments are passed to ctest.
set -euo pipefail
ci=0
if [ "${1:-}" = "--ci" ]; then
  ci=1
  shift
fi
export BUILD_DIR=${BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build-asan}
export BUILD_TYPE=None
export CMAKE_ARGS="-DGRADCHECK_SANITIZE=ON -DCMAKE_CXX_FLAGS=-O0 -DCMAKE_C_FLAGS=-O0 ${CMAKE_ARGS:-}"
source "$(dirname "$0")/../tools/lib/setup.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "$0")" && pwd)/lsan-suppressions.txt}
EXCLUDED='a huge allocation fails inside the child|a model whose code crashes, aborts, exits, hangs or throws exits 3|the adapter turns exceptions into error codes with the message'

gradcheck_install_missing "${GRADCHECK_PACKAGES[@]}" "${GRADCHECK_TEST_PACKAGES[@]}"
if [ $ci -eq 1 ]; then
  gradcheck_configure -DGRADCHECK_BUILD_TESTS=ON -DGRADCHECK_BUILD_BENCHMARKS=OFF
  gradcheck_build sanitize_job
  cd "$BUILD_DIR"
  exec ctest --output-on-failure -j "$JOBS" --timeout 600 -L '^(sanitize|hardening|fuzz)$' -E "$EXCLUDED" "$@"
fi
gradcheck_configure -DGRADCHECK_BUILD_TESTS=ON -DGRADCHECK_BUILD_BENCHMARKS=ON
gradcheck_build
cd "$BUILD_DIR"
exec ctest --output-on-failure -j "$JOBS" --timeout 600 -LE rlimit_as -E "$EXCLUDED" "$@"
