// Presentation of a diag::Report with active checks: the contract's runs
// entries, the detailed "active" array, the terminal section, the verdict line
// and exit code of logs and active checks together, on reports built by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "diag/report_parts.hpp"
#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/render.hpp"
#include "gradcheck/diag/report.hpp"

using namespace gradcheck::diag;
using json = nlohmann::json;

namespace {

// A convdiag report of these logs and these active checks.
Report report_of(std::vector<RunDiagnosis> runs, const ActiveReport& active) {
  Report r;
  r.runs = std::move(runs);
  r.active = active;
  return r;
}

gradcheck::TextOptions text_options(bool color, bool quiet = false) {
  gradcheck::TextOptions o;
  o.color = color;
  o.quiet = quiet;
  return o;
}

ActiveReport sample_report() {
  ActiveReport r;
  r.plugin = "net.so";
  ModelActive good;
  good.model = "good";
  good.dtype = "f32";
  good.values = 10;
  good.initial_loss = 1.6;
  good.expected_initial_loss = std::log(5.0);
  OverfitAttempt gd;
  gd.optimizer = "gd";
  gd.learning_rate = 0.5;
  gd.steps = 3;
  gd.initial_loss = 1.6;
  gd.final_loss = 0.01;
  gd.goal = 0.016;
  gd.reached = true;
  gd.losses = {1.0, 0.1, 0.01};
  gd.rates_tried = {0.5};
  good.overfit = {gd};
  good.lr_range.points = {{1e-3, 1.5}, {1e-2, 1.2}, {1e-1, 0.5}, {1.0, std::numeric_limits<double>::quiet_NaN()}};
  good.lr_range.suggested_rate = 0.01;
  good.lr_range.min_loss_rate = 0.1;
  good.evaluations = 8;
  r.models.push_back(good);

  ModelActive bad = good;
  bad.model = "bad";
  Symptom s;
  s.kind = gradcheck::diag::SymptomKind::cannot_overfit_batch;
  s.metric = "loss";
  s.step_end = 500;
  s.severity = Severity::error;
  s.evidence = "gd best 1.5";
  s.advice = "the model, the loss or its gradient is wrong: run gradcheck on it";
  bad.symptoms = {s};
  r.models.push_back(bad);

  ModelActive crashed;
  crashed.model = "crashes";
  crashed.dtype = "f64";
  crashed.failure = "model 'crashes': crashed with SIGSEGV (Segmentation fault) during loss()";
  r.models.push_back(crashed);
  return r;
}

}  // namespace

TEST_CASE("active models are runs in the contract's JSON, with the details in 'active'", "[active][render]") {
  const ActiveReport r = sample_report();
  RunDiagnosis log;
  log.source = "train.csv";
  log.metrics = {"loss"};
  log.steps = 100;
  const json j = json::parse(to_json(report_of({log}, r)));
  CHECK(j.at("tool") == "convdiag");
  CHECK(j.at("schema") == 1);
  CHECK(j.at("healthy") == false);
  CHECK(j.at("plugin") == "net.so");
  const auto& runs = j.at("runs");
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].at("source") == "train.csv");
  CHECK(runs[0].at("healthy") == true);
  CHECK(runs[1].at("source") == "net.so:good");
  CHECK(runs[1].at("healthy") == true);
  CHECK(runs[1].at("steps") == 3);
  CHECK(runs[2].at("source") == "net.so:bad");
  CHECK(runs[2].at("healthy") == false);
  const auto& sym = runs[2].at("symptoms").at(0);
  for (const char* k : {"kind", "metric", "step_start", "step_end", "severity", "evidence", "advice"}) CHECK(sym.contains(k));
  CHECK(sym.at("kind") == "cannot_overfit_batch");
  CHECK(sym.at("severity") == "error");
  CHECK(sym.at("step_end") == 500);
  // A failed model has no symptom, yet is not healthy.
  CHECK(runs[3].at("healthy") == false);
  CHECK(runs[3].at("failure").get<std::string>().find("SIGSEGV") != std::string::npos);

  const auto& active = j.at("active");
  REQUIRE(active.size() == 3);
  const auto& a = active[0];
  CHECK(a.at("model") == "good");
  CHECK(a.at("initial_loss") == Approx(1.6));
  CHECK(a.at("expected_initial_loss") == Approx(std::log(5.0)));
  CHECK(a.at("overfit").at(0).at("losses").size() == 3);
  CHECK(a.at("overfit").at(0).at("reached") == true);
  CHECK(a.at("lr_range").at("suggested_rate") == Approx(0.01));
  // A non-finite loss in the sweep is null, never an invalid JSON token.
  CHECK(a.at("lr_range").at("points").at(3).at(1).is_null());
  CHECK(active[2].at("failure").get<std::string>().find("crashes") != std::string::npos);
  CHECK(active[2].at("expected_initial_loss").is_null());
}

TEST_CASE("the JSON of a healthy model report is healthy", "[active][render]") {
  ActiveReport r = sample_report();
  r.models.resize(1);
  const json j = json::parse(to_json(report_of({}, r)));
  CHECK(j.at("healthy") == true);
  CHECK(j.at("runs").size() == 1);
  CHECK_FALSE(j.contains("load_failure"));
  r.load_failure = "net.so: the plugin's code crashed with SIGSEGV while loading";
  const json k = json::parse(to_json(report_of({}, r)));
  CHECK(k.at("healthy") == false);
  CHECK(k.at("load_failure") == r.load_failure);
}

TEST_CASE("the terminal section shows init, overfit, the sweep and the symptoms", "[active][render]") {
  const ActiveReport r = sample_report();
  const std::string t = to_text(report_of({}, r));
  CHECK(t.find("net.so:good") != std::string::npos);
  CHECK(t.find("loss at init   1.6  (ln C = 1.609)") != std::string::npos);
  CHECK(t.find("overfit gd") != std::string::npos);
  CHECK(t.find("goal reached") != std::string::npos);
  CHECK(t.find("suggested rate 0.01") != std::string::npos);
  CHECK(t.find("▁") != std::string::npos);  // sparklines
  CHECK(t.find("✗ cannot_overfit_batch") != std::string::npos);
  CHECK(t.find("run gradcheck on it") != std::string::npos);
  CHECK(t.find("model code failed  model 'crashes': crashed with SIGSEGV") != std::string::npos);
  CHECK(t.find("\x1b[") == std::string::npos);  // no colour asked
  CHECK(to_text(report_of({}, r), text_options(true)).find("\x1b[") != std::string::npos);
  CHECK(verdict_line(report_of({}, r)) ==
        "convdiag: net.so: model code failed in 1 of 3 models; 1 symptom in 1 of 3 models (cannot_overfit_batch)");
  ActiveReport one = r;
  one.models.resize(1);
  CHECK(verdict_line(report_of({}, one)) == "convdiag: net.so: healthy (1 model)");
  CHECK(to_text(report_of({}, one), text_options(false, true)) == "convdiag: net.so: healthy (1 model)\n");
}

TEST_CASE("active runs carry the models' symptoms and notes", "[active][render]") {
  ActiveReport r = sample_report();
  r.models[1].lr_range.note = "the loss never fell below its value at init (1.6)";
  const auto runs = internal::active_runs(r);
  REQUIRE(runs.size() == 3);
  CHECK(runs[1].source == "net.so:bad");
  CHECK(runs[1].symptoms.size() == 1);
  CHECK(runs[1].notes.back().find("never fell") != std::string::npos);
  CHECK(runs[0].healthy());
}

TEST_CASE("logs and active checks together: one verdict line, both parts of the text, one exit code",
          "[active][render]") {
  RunDiagnosis log;
  log.source = "train.csv";
  log.metrics = {"loss"};
  log.steps = 100;
  ActiveReport active = sample_report();
  active.models.resize(1);  // healthy
  Report both = report_of({log}, active);
  CHECK(both.healthy());
  CHECK_FALSE(both.user_code_failed());
  CHECK(exit_code(both) == gradcheck::ExitCode::ok);
  CHECK(verdict_line(both) == "convdiag: healthy (1 run); net.so: healthy (1 model)");
  CHECK(to_text(both, text_options(false, true)) == verdict_line(both) + "\n");
  // The full text: the whole verdict line, the rest of the logs' part, a blank
  // line, the active checks' part.
  Report logs_only;
  logs_only.runs = {log};
  Report active_only;
  active_only.active = active;
  const std::string logs_text = to_text(logs_only);
  CHECK(to_text(both) == verdict_line(both) + logs_text.substr(logs_text.find('\n')) + "\n" + to_text(active_only));
  CHECK(to_json(both) == to_json(both));
  CHECK(to_html(both) == to_html(both));
  CHECK(to_html(both).find("class=\"verdict ok\">convdiag: healthy (1 run)") != std::string::npos);

  // A symptom in a log: problem; a model whose code failed: user_code, whatever else.
  RunDiagnosis sick = log;
  sick.symptoms.push_back({gradcheck::diag::SymptomKind::nan, "loss", 1, 2, Severity::error, "NaN at step 1", "lower the rate"});
  CHECK(exit_code(report_of({sick}, active)) == gradcheck::ExitCode::problem);
  CHECK(verdict_line(report_of({sick}, active)) == "convdiag: 1 symptom in 1 of 1 run (nan); net.so: healthy (1 model)");
  const ActiveReport full = sample_report();  // a symptom and a crashed model
  CHECK(exit_code(report_of({log}, full)) == gradcheck::ExitCode::user_code);
  CHECK_FALSE(report_of({log}, full).healthy());
  CHECK(exit_code(logs_only) == gradcheck::ExitCode::ok);
  Report sick_logs;
  sick_logs.runs = {sick};
  CHECK(exit_code(sick_logs) == gradcheck::ExitCode::problem);
}
