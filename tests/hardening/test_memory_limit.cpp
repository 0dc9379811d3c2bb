// The matrix case that needs an address-space limit (RLIMIT_AS) on the child:
// labelled rlimit_as, because a sanitizer runtime reserves terabytes of
// address space up front and cannot run under such a limit (see .ci/sanitize.sh).
#include "matrix_checks.hpp"

using namespace hardening;

TEST_CASE("a model that grows its memory every call fails at --memory-limit, the tool lives", "[matrix][rlimit]") {
  // 64 MiB more per loss() call, touched: under a 512 MiB limit the child's
  // new[] throws long before the machine notices.
  expect_user_code_failure("leak_growing", "--memory-limit 512", "bad_alloc");
}
