#pragma once
// Shared by the plugin-matrix tests: run gradcheck on a misbehaving plugin of
// tests/hardening/misbehave.cpp and check that the tool survived it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>

#include "support/run_tool.hpp"

namespace hardening {

using gradcheck::test::quote;
using gradcheck::test::ToolRun;

struct Verdict {
  ToolRun run;
  nlohmann::json report;
};

inline std::string plugin(const std::string& variant) {
  return std::string(HARDENING_PLUGIN_DIR) + "/" + variant + ".so";
}

// Runs gradcheck on the variant's plugin with --json, and checks what every
// case shares: the tool itself ended normally (no signal) within `max_seconds`
// and wrote a complete report; when the plugin could be listed, the victim
// comes first and the bystander after it was still checked, and passed.
inline Verdict run_matrix_case(const std::string& variant, const std::string& args, double max_seconds = 60) {
  Verdict v;
  v.run = gradcheck::test::run_tool(GRADCHECK_TOOL, quote(plugin(variant)) + " " + args + " --threads 1",
                                    {.json = true});
  INFO(variant << " " << args << "\nstdout:\n" << v.run.out << "\nstderr:\n" << v.run.err.substr(0, 4000));
  REQUIRE(v.run.signal == 0);
  CHECK(v.run.seconds < max_seconds);
  REQUIRE(v.run.has_report);
  v.report = v.run.report;
  CHECK(v.report.at("tool") == "gradcheck");
  CHECK(v.report.at("schema") == 1);
  const auto& models = v.report.at("models");
  if (!models.empty()) {
    REQUIRE(models.size() == 2);
    CHECK(models[0].at("name") == "victim");
    CHECK(models[1].at("name") == "bystander");
    CHECK(models[1].at("passed") == true);
    CHECK(models[1].at("problems").empty());
  }
  return v;
}

// The victim's first problem.
inline const nlohmann::json& victim_problem(const Verdict& v) {
  const auto& problems = v.report.at("models").at(0).at("problems");
  REQUIRE_FALSE(problems.empty());
  return problems[0];
}

// The victim failed in its own code: exit 3, a model_error that names what
// happened (`text`; in a sanitizer build the sanitizer ends the child first,
// so only `sanitized_text`, which may be empty, is required there), printed
// in the text report too.
inline void expect_user_code_failure(const std::string& variant, const std::string& args, const std::string& text,
                                     const std::string& sanitized_text = "") {
  const Verdict v = run_matrix_case(variant, args);
  INFO(variant << " " << args << "\nstdout:\n" << v.run.out << "\nstderr:\n" << v.run.err.substr(0, 4000));
  CHECK(v.run.exit_code == 3);
  CHECK(v.report.at("passed") == false);
  const auto& p = victim_problem(v);
  CHECK(p.at("kind") == "model_error");
  const std::string message = p.at("message");
  CHECK_THAT(message, Catch::Contains("victim"));
#ifdef GRADCHECK_SANITIZED
  const std::string& expected = sanitized_text;
#else
  const std::string& expected = text;
#endif
  (void)text;
  (void)sanitized_text;
  CHECK_THAT(message, Catch::Contains(expected));
  CHECK_THAT(v.run.out, Catch::Contains(expected));
}

}  // namespace hardening
