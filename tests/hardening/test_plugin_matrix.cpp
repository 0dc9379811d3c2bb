// The plugin misbehaviour matrix, end to end through the gradcheck executable:
// what tests/plugin covers (segfault, abort, exit(3), an exception escaping
// loss(), a hang in loss(), error returns, a NaN loss, a huge malloc under a
// memory limit) plus the cases below. Every one ends with the tool alive, a
// complete report, exit 3 for a failure of the user's code (1 for numbers the
// host flags), and the healthy model after the victim still checked.
#include "matrix_checks.hpp"

using namespace hardening;

TEST_CASE("writes past a buffer and runaway recursion die in the child, not the tool", "[matrix]") {
  // The victim writes past the host's gradient buffer until memory ends: the
  // child's heap is ruined, the tool's is not (a separate process).
  expect_user_code_failure("heap_overflow", "", "SIGSEGV", "during loss()");
  expect_user_code_failure("stack_overflow", "", "SIGSEGV", "during loss()");
  expect_user_code_failure("div_zero", "", "SIGFPE", "during loss()");
}

TEST_CASE("exceptions thrown across the C boundary are reported with their message", "[matrix]") {
  expect_user_code_failure("throw_int", "", "unknown exception type", "unknown exception type");
  expect_user_code_failure("throw_in_create", "", "no GPU found while creating the model",
                           "no GPU found while creating the model");
  // Through a noexcept function: std::terminate.
  expect_user_code_failure("terminate", "", "SIGABRT", "SIGABRT");
  // The bad_alloc of a 32 TiB new[] escapes loss() (no memory limit needed:
  // no machine grants it).
  expect_user_code_failure("huge_new", "", "bad_alloc", "");
}

TEST_CASE("an exception thrown by the plugin's entry point is a load failure, exit 3", "[matrix]") {
  const Verdict v = run_matrix_case("throw_in_entry", "");
  INFO(v.run.out << v.run.err);
  CHECK(v.run.exit_code == 3);
  CHECK(v.report.at("passed") == false);
  CHECK_THAT(v.run.out, Catch::Contains("cannot read the model's config file"));
}

TEST_CASE("exit(0) in the model's code is a failure, not a success", "[matrix]") {
  expect_user_code_failure("exit0", "", "exited with status 0", "exited with status 0");
}

TEST_CASE("a model that blocks every signal and spins is killed at the time limit", "[matrix]") {
  expect_user_code_failure("hang_signals_blocked", "--timeout 1", "timed out after 1 s during init()",
                           "timed out after 1 s during init()");
}

TEST_CASE("a helper process the model leaves behind does not keep the tool waiting", "[matrix]") {
  // The helper sleeps 60 s holding the host's pipe; the check must end long before.
  const Verdict v = run_matrix_case("fork_linger", "", 30);
  CHECK(v.run.exit_code == 0);
  CHECK(v.report.at("passed") == true);
}

TEST_CASE("a model that closes or scribbles on the host's descriptors is reported", "[matrix]") {
  expect_user_code_failure("close_fds", "", "", "");
  expect_user_code_failure("scribble_fds", "", "", "");
}

TEST_CASE("error returns: from init, with a huge multi-line message, with a crashing last_error", "[matrix]") {
  expect_user_code_failure("init_error", "", "weights file 'init.bin' not found",
                           "weights file 'init.bin' not found");
  expect_user_code_failure("long_error", "", "first line", "first line");
  expect_user_code_failure("last_error_crash", "", "SIGSEGV", "");
}

TEST_CASE("non-finite gradients and an infinite loss are problems of the model, exit 1", "[matrix]") {
  for (const char* variant : {"nan_grad", "inf_loss"}) {
    const Verdict v = run_matrix_case(variant, "");
    INFO(variant << "\n" << v.run.out);
    CHECK(v.run.exit_code == 1);
    CHECK(victim_problem(v).at("kind") == "non_finite");
  }
}
