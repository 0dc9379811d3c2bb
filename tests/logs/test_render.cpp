#include <catch2/catch.hpp>

#include <limits>
#include <nlohmann/json.hpp>

#include "diag/report_parts.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/render.hpp"
#include "gradcheck/utf8.hpp"
#include "gradcheck/version.hpp"
#include "synth.hpp"

using namespace gradcheck::diag;

namespace {

Report report_of(std::vector<RunDiagnosis> runs) {
  Report r;
  r.runs = std::move(runs);
  return r;
}

gradcheck::TextOptions text_options(bool color, bool quiet = false) {
  gradcheck::TextOptions o;
  o.color = color;
  o.quiet = quiet;
  return o;
}

}  // namespace

TEST_CASE("JSON report carries the contract's fields, schema 1", "[render][json]") {
  auto healthy_run = synth::healthy(1);
  auto sick_run = synth::healthy(2);
  for (std::size_t i = 1500; i < sick_run.series[0].size(); ++i)
    sick_run.series[0].values[i] = std::numeric_limits<double>::quiet_NaN();
  const Report report = report_of({diagnose(healthy_run), diagnose(sick_run)});
  const auto j = nlohmann::json::parse(to_json(report));
  CHECK(j.at("tool") == "convdiag");
  CHECK(j.at("schema") == 1);
  CHECK(j.at("version") == gradcheck::version_string);
  CHECK(j.at("healthy") == false);
  REQUIRE(j.at("runs").size() == 2);
  const auto& r0 = j.at("runs")[0];
  CHECK(r0.at("source") == "synthetic-1");
  CHECK(r0.at("metrics") == nlohmann::json({"loss", "val_loss", "grad_norm", "lr"}));
  CHECK(r0.at("steps") == 2000);
  CHECK(r0.at("healthy") == true);
  CHECK(r0.at("symptoms").empty());
  // The roles each series was read in; those a log lacks are null.
  const auto& roles = r0.at("roles");
  CHECK(roles.at("loss") == "loss");
  CHECK(roles.at("val_loss") == "val_loss");
  CHECK(roles.at("grad_norm") == "grad_norm");
  CHECK(roles.at("lr") == "lr");
  CHECK(roles.at("policy_loss").is_null());
  CHECK(roles.at("episode_return").is_null());
  CHECK(roles.at("discriminator_loss").is_null());
  const auto& s = j.at("runs")[1].at("symptoms")[0];
  CHECK(s.at("kind") == "nan");
  CHECK(s.at("metric") == "loss");
  CHECK(s.at("step_start") == 15000);
  CHECK(s.at("step_end") == 19990);
  CHECK(s.at("severity") == "error");
  CHECK(s.at("evidence").is_string());
  CHECK(s.at("advice").is_string());
}

TEST_CASE("terminal summary: sparklines, symptoms and the verdict, colour only on request", "[render][terminal]") {
  auto run = synth::healthy(3);
  run.series[0].values[700] *= 12;
  const Report report = report_of({diagnose(run)});
  const std::string plain = to_text(report);
  CHECK(plain.find("\x1b[") == std::string::npos);
  CHECK(plain.find("▁") != std::string::npos);
  CHECK(plain.find("spike") != std::string::npos);
  // The one-line verdict comes first (the contract), the detail after it.
  CHECK(plain.rfind("convdiag: 1 symptom in 1 of 1 run (spike)\n", 0) == 0);
  CHECK(plain.find("convdiag:", 1) == std::string::npos);  // one run: not repeated
  const auto first_line_end = plain.find('\n');
  CHECK(plain.find(run.source) > first_line_end);
  CHECK(plain.find("spike", first_line_end) != std::string::npos);
  CHECK(plain.back() == '\n');
  CHECK(plain.substr(plain.size() - 2) != "\n\n");
  CHECK(to_text(report, text_options(true)).find("\x1b[33m") != std::string::npos);
  CHECK(verdict_line(report_of({diagnose(synth::healthy(4))})) == "convdiag: healthy (1 run)");
  CHECK(to_text(report, text_options(false, true)) == "convdiag: 1 symptom in 1 of 1 run (spike)\n");
}

TEST_CASE("terminal summary of several runs: the verdict first and again last", "[render][terminal]") {
  auto bad = synth::healthy(3);
  bad.series[0].values[700] *= 12;
  const Report report = report_of({diagnose(synth::healthy(4)), diagnose(bad)});
  const std::string text = to_text(report);
  const std::string verdict = verdict_line(report);
  CHECK(verdict == "convdiag: 1 symptom in 1 of 2 runs (spike)");
  CHECK(text.rfind(verdict + "\n\n", 0) == 0);
  REQUIRE(text.size() > verdict.size() + 1);
  CHECK(text.substr(text.size() - verdict.size() - 1) == verdict + "\n");
  CHECK(to_text(Report{}) == "convdiag: healthy (0 runs)\n");
}

TEST_CASE("sparkline maps the range onto eight levels", "[render]") {
  using internal::sparkline;
  CHECK(sparkline({0, 1, 2, 3, 4, 5, 6, 7}) == "▁▂▃▄▅▆▇█");
  CHECK(sparkline({1, 10, 100}, true) == "▁▅█");
  CHECK(sparkline({1, std::numeric_limits<double>::quiet_NaN(), 2}) == "▁ █");
}

TEST_CASE("A source path with bytes that are not UTF-8 is shown escaped in JSON and text, never a crash", "[render][utf8]") {
  auto run = synth::healthy(1);
  run.source = "logs/r\xff\xfeun.csv";
  const Report report = report_of({diagnose(run)});
  std::string json;
  REQUIRE_NOTHROW(json = to_json(report));
  CHECK(gradcheck::valid_utf8(json));
  CHECK(nlohmann::json::parse(json).at("runs")[0].at("source") == "logs/r\\xff\\xfeun.csv");
  const std::string text = to_text(report, text_options(true));
  CHECK(gradcheck::valid_utf8(text));
  CHECK(text.find("logs/r\\xff\\xfeun.csv") != std::string::npos);
}
