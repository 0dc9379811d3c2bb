#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradcheck/host/isolation.hpp"
#include "gradcheck/host/loader.hpp"

using namespace gradcheck::host;
using gradcheck::host::ModelInstance;
using gradcheck::host::Plugin;

namespace {

std::string plugin_path(const std::string& name) { return std::string(TEST_PLUGIN_DIR) + "/" + name + ".so"; }

struct Run {
  ChildOutcome outcome;
  std::vector<std::string> messages;
};

// Loads `plugin` in a child, evaluates its model `model` once, as a tool does.
Run run_plugin(const std::string& plugin, const std::string& model = "", ChildOptions options = {}) {
  Run run;
  run.outcome = run_in_child(
      [&](Channel& ch) {
        Plugin p(plugin_path(plugin));
        const std::size_t k = model.empty() ? 0 : p.find(model);
        ModelInstance m(p, k, 1);
        std::vector<double> x;
        {
          Channel::Call call(ch, "init() of model '" + p.models()[k].name + "'");
          x = m.init();
        }
        ch.send("started");
        std::vector<double> g(x.size());
        double loss = 0;
        std::vector<gradcheck::host::Problem> problems;
        {
          Channel::Call call(ch, "loss() of model '" + p.models()[k].name + "'");
          problems = m.loss(x, loss, g);
        }
        for (const auto& pr : problems) ch.send(gradcheck::to_string(pr.kind));
        return problems.empty() ? 0 : 1;
      },
      [&](std::string_view msg) { run.messages.emplace_back(msg); }, options);
  return run;
}

}  // namespace

TEST_CASE("a healthy child streams its messages and returns its value", "[isolation]") {
  std::vector<std::string> got;
  const auto outcome = run_in_child(
      [](Channel& ch) {
        ch.send("one");
        ch.send(std::string(200000, 'x'));  // larger than a pipe buffer
        ch.send("");
        return 5;
      },
      [&](std::string_view m) { got.emplace_back(m); });
  CHECK(outcome.ending == Ending::returned);
  CHECK(outcome.exit_code == 5);
  REQUIRE(got.size() == 3);
  CHECK(got[0] == "one");
  CHECK(got[1].size() == 200000);
  CHECK(got[2].empty());
}

TEST_CASE("a correct plugin runs to the end in the child", "[isolation]") {
  const Run r = run_plugin("c_ok");
  CHECK(r.outcome.ending == Ending::returned);
  CHECK(r.outcome.exit_code == 0);
  CHECK(r.messages == std::vector<std::string>{"started"});
}

TEST_CASE("a segfault in the model is reported with the signal and the call", "[isolation]") {
  const Run r = run_plugin("c_crash");
  CHECK(r.outcome.ending == Ending::signaled);
  CHECK(r.outcome.signal == SIGSEGV);
  CHECK_THAT(r.outcome.description, Catch::Contains("SIGSEGV") && Catch::Contains("loss() of model 'quadratic'"));
  CHECK(r.messages == std::vector<std::string>{"started"});
}

TEST_CASE("a handler the calling program installed does not run when the child crashes", "[isolation]") {
  // A crash reporter of the caller's would turn the model's SIGSEGV into its
  // own exit; the child runs the user's code with the default action.
  struct sigaction reporter {}, previous {};
  reporter.sa_handler = [](int) { ::_exit(42); };
  sigemptyset(&reporter.sa_mask);
  REQUIRE(::sigaction(SIGSEGV, &reporter, &previous) == 0);
  const Run r = run_plugin("c_crash");
  ::sigaction(SIGSEGV, &previous, nullptr);
  CHECK(r.outcome.ending == Ending::signaled);
  CHECK(r.outcome.signal == SIGSEGV);
}

TEST_CASE("an abort in the model is reported as SIGABRT", "[isolation]") {
  const Run r = run_plugin("c_abort");
  CHECK(r.outcome.ending == Ending::signaled);
  CHECK(r.outcome.signal == SIGABRT);
  CHECK_THAT(r.outcome.description, Catch::Contains("SIGABRT (Aborted)"));
}

TEST_CASE("exit() in the model is reported as an exit with its status", "[isolation]") {
  const Run r = run_plugin("c_exit");
  CHECK(r.outcome.ending == Ending::exited);
  CHECK(r.outcome.exit_code == 3);
  CHECK_THAT(r.outcome.description, Catch::Contains("exited with status 3 during loss()"));
}

TEST_CASE("a hanging model is killed after the per-call time limit", "[isolation]") {
  ChildOptions options;
  options.call_timeout_seconds = 0.5;
  const auto start = std::chrono::steady_clock::now();
  const Run r = run_plugin("c_hang", "", options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(r.outcome.ending == Ending::timed_out);
  CHECK_THAT(r.outcome.description, Catch::Contains("timed out after 0.5 s during loss() of model 'quadratic'"));
  CHECK(seconds < 5);
  CHECK(r.messages == std::vector<std::string>{"started"});
}

TEST_CASE("time spent outside guarded calls does not count against the limit", "[isolation]") {
  ChildOptions options;
  options.call_timeout_seconds = 0.2;
  const auto outcome = run_in_child(
      [](Channel& ch) {
        for (int i = 0; i < 5; ++i) {
          Channel::Call call(ch, "short call");
          ::usleep(100000);
        }
        return 0;
      },
      [](std::string_view) {}, options);
  CHECK(outcome.ending == Ending::returned);
}

TEST_CASE("an exception escaping a raw C++ plugin is reported with its message", "[isolation]") {
  const Run r = run_plugin("raw_throw");
  CHECK(r.outcome.ending == Ending::exception);
  CHECK_THAT(r.outcome.description, Catch::Contains("index 7 out of range"));
}

TEST_CASE("a huge allocation fails inside the child, which is reported", "[isolation]") {
  ChildOptions options;
  options.memory_limit_bytes = std::size_t{4} << 30;
  const Run r = run_plugin("c_huge_alloc", "", options);
  // malloc returns NULL and the careless model writes through it.
  CHECK(r.outcome.ending == Ending::signaled);
  CHECK(r.outcome.signal == SIGSEGV);
  // With the adapter, the same allocation is a bad_alloc turned into an error code.
  const Run a = run_plugin("cpp_plugin", "huge_alloc", options);
  CHECK(a.outcome.ending == Ending::returned);
  CHECK(a.outcome.exit_code == 1);
  CHECK(a.messages == std::vector<std::string>{"started", "model_error"});
}

TEST_CASE("an error return is a message, not a crash", "[isolation]") {
  const Run r = run_plugin("c_error_return");
  CHECK(r.outcome.ending == Ending::returned);
  CHECK(r.outcome.exit_code == 1);
  CHECK(r.messages == std::vector<std::string>{"started", "model_error"});
}

TEST_CASE("an ABI refusal inside the child comes back as an exception message", "[isolation]") {
  const Run r = run_plugin("c_bad_rank");
  CHECK(r.outcome.ending == Ending::exception);
  CHECK_THAT(r.outcome.description, Catch::Contains("rank is 9"));
}

TEST_CASE("an exception thrown by on_message kills the child and propagates", "[isolation]") {
  REQUIRE_THROWS_WITH(run_in_child(
                          [](Channel& ch) {
                            ch.send("bad");
                            for (;;) ::pause();
                            return 0;
                          },
                          [](std::string_view) { throw std::runtime_error("parse error"); }),
                      "parse error");
}

TEST_CASE("signal_description gives the abbreviation and the text", "[isolation]") {
  CHECK(signal_description(SIGSEGV) == "SIGSEGV (Segmentation fault)");
}
