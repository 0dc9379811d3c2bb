// convdiag --model end to end: exit codes, the contract's JSON fields with the
// active results, the terminal section, and logs and a model together.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "support/run_tool.hpp"

using json = nlohmann::json;
using gradcheck::test::ToolRun;

namespace {

// Runs convdiag with `args` (shell words); with_json adds --json and parses it.
ToolRun run_convdiag(const std::string& args, bool with_json = true) {
  return gradcheck::test::run_tool(CONVDIAG, args, {.json = with_json});
}

std::string mlp() { return std::string("'") + SAMPLE_MLP + "'"; }
std::string plugin(const std::string& v) { return std::string("'") + TEST_PLUGIN_DIR + "/" + v + ".so'"; }

}  // namespace

TEST_CASE("convdiag --model on the correct MLP: healthy, exit 0, runs and active in the JSON", "[active][tool]") {
  const auto r = run_convdiag("--model " + mlp() + " -m mlp_f64 -m mlp_f32 --classes 5 --seed 3");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  REQUIRE(r.has_report);
  CHECK(r.report.at("tool") == "convdiag");
  CHECK(r.report.at("schema") == 1);
  CHECK(r.report.at("healthy") == true);
  const auto& runs = r.report.at("runs");
  REQUIRE(runs.size() == 2);
  // The plugin's order, not the command line's.
  CHECK(runs[0].at("source") == std::string(SAMPLE_MLP) + ":mlp_f32");
  CHECK(runs[1].at("source") == std::string(SAMPLE_MLP) + ":mlp_f64");
  for (const auto& run : runs) {
    for (const char* k : {"source", "metrics", "steps", "healthy", "symptoms"}) CHECK(run.contains(k));
    CHECK(run.at("symptoms").empty());
  }
  const auto& active = r.report.at("active");
  REQUIRE(active.size() == 2);
  for (const auto& a : active) {
    CHECK(a.at("expected_initial_loss").get<double>() == Approx(std::log(5.0)));
    CHECK(a.at("overfit").size() == 2);
    CHECK(a.at("overfit").at(0).at("reached") == true);
    CHECK(a.at("lr_range").at("suggested_rate").is_number());
    CHECK(a.at("failure") == "");
  }
  CHECK(r.out.find("suggested rate") != std::string::npos);
  CHECK(r.out.find("overfit adam") != std::string::npos);
  CHECK(r.out.find("healthy (2 models)") != std::string::npos);
}

TEST_CASE("convdiag --model: a wrong --classes and a model that cannot overfit exit 1", "[active][tool]") {
  const auto wrong = run_convdiag("--model " + mlp() + " -m mlp_f64 --classes 1000");
  CHECK(wrong.exit_code == 1);
  REQUIRE(wrong.has_report);
  CHECK(wrong.report.at("healthy") == false);
  CHECK(wrong.report.at("runs").at(0).at("symptoms").at(0).at("kind") == "initial_loss_mismatch");
  CHECK(wrong.out.find("! initial_loss_mismatch") != std::string::npos);

  const auto bug = run_convdiag(std::string("--model '") + SAMPLE_BUGGY + "' -m softmax_ce_no_onehot_f32");
  CHECK(bug.exit_code == 1);
  REQUIRE(bug.has_report);
  const auto& s = bug.report.at("runs").at(0).at("symptoms").at(0);
  CHECK(s.at("kind") == "cannot_overfit_batch");
  CHECK(s.at("severity") == "error");
  CHECK(s.at("advice").get<std::string>().find("run gradcheck") != std::string::npos);
  CHECK(bug.out.find("✗ cannot_overfit_batch") != std::string::npos);
}

TEST_CASE("convdiag --model: model code that fails exits 3 naming the model and what happened", "[active][tool]") {
  const auto crash = run_convdiag("--model " + plugin("c_crash"));
  CHECK(crash.exit_code == 3);
  REQUIRE(crash.has_report);
  CHECK(crash.report.at("healthy") == false);
  const auto& run = crash.report.at("runs").at(0);
  CHECK(run.at("healthy") == false);
  CHECK(run.at("failure").get<std::string>().find("'quadratic'") != std::string::npos);
  CHECK(run.at("failure").get<std::string>().find("SIGSEGV") != std::string::npos);
  CHECK(crash.out.find("model code failed") != std::string::npos);

  const auto hang = run_convdiag("--model " + plugin("c_hang") + " --timeout 0.5", false);
  CHECK(hang.exit_code == 3);
  CHECK(hang.out.find("timed out") != std::string::npos);

  const auto error = run_convdiag("--model " + plugin("c_error_return"), false);
  CHECK(error.exit_code == 3);
  CHECK(error.out.find("the batch file is missing") != std::string::npos);
}

TEST_CASE("convdiag --model: bad input exits 2 with a one-line message", "[active][tool]") {
  const auto refused = run_convdiag("--model " + plugin("c_wrong_version"));
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("c_wrong_version.so") != std::string::npos);
  CHECK_FALSE(refused.has_report);  // nothing half-written

  const auto unknown = run_convdiag("--model " + mlp() + " -m nope", false);
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("no model named 'nope'") != std::string::npos);

  const auto missing = run_convdiag("--model /nonexistent/net.so", false);
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("/nonexistent/net.so") != std::string::npos);

  const auto nothing = run_convdiag("", false);
  CHECK(nothing.exit_code == 2);
  CHECK(nothing.err.find("nothing to diagnose") != std::string::npos);

  const auto orphan = run_convdiag("-m mlp_f64", false);  // -m needs --model
  CHECK(orphan.exit_code == 2);

  const auto timeout = run_convdiag("--model " + mlp() + " --timeout 0", false);
  CHECK(timeout.exit_code == 2);

  // An unwritable --html is bad input naming the path, with --model too.
  const auto html = run_convdiag("--model " + mlp() + " --html /nonexistent/dir/r.html", false);
  CHECK(html.exit_code == 2);
  CHECK(html.err.find("/nonexistent/dir/r.html") != std::string::npos);
}

TEST_CASE("convdiag with logs and a model: both in one report", "[active][tool]") {
  const auto r = run_convdiag(std::string("'") + LOGS_DATA + "/healthy.csv' '" + LOGS_DATA +
                              "/diverging.jsonl' --model " + mlp() + " -m mlp_f64");
  CHECK(r.exit_code == 1);  // the diverging log
  REQUIRE(r.has_report);
  const auto& runs = r.report.at("runs");
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].at("source").get<std::string>().find("healthy.csv") != std::string::npos);
  CHECK(runs[1].at("healthy") == false);
  CHECK(runs[2].at("source") == std::string(SAMPLE_MLP) + ":mlp_f64");
  CHECK(runs[2].at("healthy") == true);
  CHECK(r.report.at("active").size() == 1);
  CHECK(r.out.find("healthy.csv") != std::string::npos);
  CHECK(r.out.find("lr range test") != std::string::npos);

  // --quiet: one verdict line, as every tool prints, for the logs and the model.
  const auto q = run_convdiag(std::string("'") + LOGS_DATA + "/healthy.csv' --quiet --model " + mlp() + " -m mlp_f64",
                              false);
  CHECK(q.exit_code == 0);
  CHECK(q.out == "convdiag: healthy (1 run); " + std::string(SAMPLE_MLP) + ": healthy (1 model)\n");
}

TEST_CASE("convdiag --model: the same seed gives the same report", "[active][tool][determinism]") {
  const auto a = run_convdiag("--model " + mlp() + " --seed 11 --json -", false);
  const auto b = run_convdiag("--model " + mlp() + " --seed 11 --json -", false);
  REQUIRE(a.exit_code == b.exit_code);
  auto strip = [](json j) {  // wall-clock time is the one field allowed to differ
    for (auto& m : j.at("active")) m.erase("seconds");
    return j;
  };
  const json ja = json::parse(a.out), jb = json::parse(b.out);
  CHECK(strip(ja) == strip(jb));
  CHECK(ja.at("active").size() == 6);
}
