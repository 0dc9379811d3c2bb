// check_plugin as a library call: the report as data, exit codes, progress.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/host/plugin_check.hpp"

using namespace gradcheck::host;

namespace {
std::string plugin_path(const std::string& name) { return std::string(TEST_PLUGIN_DIR) + "/" + name + ".so"; }
}  // namespace

TEST_CASE("check_plugin returns the report as data, with its exit code", "[plugin_check]") {
  PluginCheckOptions options;
  const PluginReport ok = check_plugin(plugin_path("c_ok"), options);
  REQUIRE(ok.models.size() == 1);
  CHECK(ok.passed());
  CHECK_FALSE(ok.user_code_failed());
  CHECK(exit_code(ok) == gradcheck::ExitCode::ok);
  CHECK(ok.models[0].name == "quadratic");
  CHECK(ok.models[0].mode == Mode::full);

  const PluginReport crashed = check_plugin(plugin_path("c_crash"), options);
  CHECK(exit_code(crashed) == gradcheck::ExitCode::user_code);
  REQUIRE(crashed.models[0].problems.size() == 1);
  CHECK(crashed.models[0].problems[0].kind == gradcheck::ProblemKind::model_error);

  const PluginReport stateful = check_plugin(plugin_path("c_stateful"), options);
  CHECK(exit_code(stateful) == gradcheck::ExitCode::problem);

  // Each model's result has its own exit code; the verdict line opens the text
  // and is all of it when quiet.
  CHECK(gradcheck::exit_code(ok.models[0]) == gradcheck::ExitCode::ok);
  CHECK(gradcheck::exit_code(crashed.models[0]) == gradcheck::ExitCode::user_code);
  CHECK(gradcheck::exit_code(stateful.models[0]) == gradcheck::ExitCode::problem);
  CHECK(verdict_line(ok) == "PASS " + plugin_path("c_ok") + ": 1 model checked, gradients agree");
  CHECK(verdict_line(crashed) == "FAIL " + plugin_path("c_crash") + ": 1 of 1 model failed (the model's code failed)");
  gradcheck::TextOptions quiet;
  quiet.quiet = true;
  for (const PluginReport* r : {&ok, &crashed, &stateful}) {
    CHECK(to_text(*r, quiet) == verdict_line(*r) + "\n");
    CHECK(to_text(*r).rfind(verdict_line(*r) + "\n\n", 0) == 0);
  }
  CHECK(to_html(ok).find("class=\"verdict ok\">" + verdict_line(ok) + "<") != std::string::npos);
}

TEST_CASE("check_plugin refuses bad options and unknown models as input errors", "[plugin_check][errors]") {
  PluginCheckOptions options;
  options.threads = -1;
  CHECK_THROWS_WITH(check_plugin(plugin_path("c_ok"), options), Catch::Contains("threads must not be negative"));
  options.threads = 1;
  options.models = {"quadratic", "other"};
  CHECK_THROWS_WITH(check_plugin(plugin_path("c_ok"), options), Catch::Contains("no model named 'other'"));
  CHECK_THROWS_WITH(parse_mode("slow"), Catch::Contains("auto, full or fast"));
  CHECK(parse_mode("fast") == Mode::fast);
}

TEST_CASE("automatic mode picks fast above the size threshold", "[plugin_check]") {
  PluginCheckOptions options;
  options.fast_above = 5;  // the model has 10 values
  const PluginReport r = check_plugin(plugin_path("c_ok"), options);
  CHECK(r.models[0].mode == Mode::fast);
  CHECK(r.passed());
}

TEST_CASE("progress reaches the caller while a slow model is checked", "[plugin_check]") {
  PluginCheckOptions options;
  std::vector<std::int64_t> evaluations;
  options.progress = [&](const std::string& model, std::int64_t n, double seconds) {
    CHECK(model == "quadratic");
    CHECK(seconds >= 0.25);
    evaluations.push_back(n);
  };
  const PluginReport r = check_plugin(plugin_path("c_slow"), options);
  CHECK(r.passed());
  REQUIRE(evaluations.size() >= 2);
  for (std::size_t i = 1; i < evaluations.size(); ++i) CHECK(evaluations[i] > evaluations[i - 1]);
}

TEST_CASE("listing models runs the plugin in a child and reports refusals", "[plugin_check]") {
  const auto models = list_models(plugin_path("cpp_plugin"));
  REQUIRE(models.size() == 8);
  CHECK(models[0].name == "tanh_f32");
  CHECK(models[0].num_values == 16);
  CHECK_THROWS_WITH(list_models(plugin_path("c_bad_dtype")), Catch::Contains("dtype is 3"));
  CHECK_THAT(models_listing(models), Catch::Contains("tanh_f32  f32  2 tensors  16 values"));
}
