// One vocabulary: every enum of a result has one table of names, the names of
// the tools' contract (docs/tools-contract.md), and they read back.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "gradcheck/gradcheck.hpp"

using namespace gradcheck;

TEST_CASE("problem kinds are named as in the tools' contract and read back", "[checker][names]") {
  const std::vector<std::pair<ProblemKind, std::string>> names = {
      {ProblemKind::nondeterministic_loss, "nondeterministic_loss"},
      {ProblemKind::stateful_gradient, "stateful_gradient"},
      {ProblemKind::gradient_not_written, "gradient_not_written"},
      {ProblemKind::values_modified, "values_modified"},
      {ProblemKind::non_finite, "non_finite"},
      {ProblemKind::model_error, "model_error"},
  };
  for (const auto& [kind, name] : names) {
    CHECK(to_string(kind) == name);
    CHECK(problem_kind_from_string(name) == kind);
  }
  CHECK_THROWS_AS(problem_kind_from_string("segfault"), std::invalid_argument);
}

TEST_CASE("verdicts, modes, dtypes and methods are named as in the tools' contract", "[checker][names]") {
  for (const auto& [v, name] : std::vector<std::pair<Verdict, std::string>>{
           {Verdict::ok, "ok"}, {Verdict::mismatch, "mismatch"}, {Verdict::kink, "kink"},
           {Verdict::inconclusive, "inconclusive"}}) {
    CHECK(to_string(v) == name);
    CHECK(verdict_from_string(name) == v);
  }
  for (const auto& [m, name] : std::vector<std::pair<Mode, std::string>>{
           {Mode::automatic, "auto"}, {Mode::full, "full"}, {Mode::fast, "fast"}}) {
    CHECK(to_string(m) == name);
    CHECK(mode_from_string(name) == m);
  }
  for (const auto& [d, name] : std::vector<std::pair<Dtype, std::string>>{{Dtype::f32, "f32"}, {Dtype::f64, "f64"}}) {
    CHECK(to_string(d) == name);
    CHECK(dtype_from_string(name) == d);
  }
  for (const auto& [m, name] : std::vector<std::pair<Method, std::string>>{
           {Method::forward, "forward"}, {Method::central, "central"}, {Method::richardson, "richardson"},
           {Method::complex_step, "complex_step"}}) {
    CHECK(to_string(m) == name);
    CHECK(method_from_string(name) == m);
  }
  for (HintKind k : {HintKind::none, HintKind::constant_ratio, HintKind::missing_term, HintKind::transposed,
                     HintKind::confined, HintKind::approximate, HintKind::varying, HintKind::constant_offset,
                     HintKind::constant_per_line, HintKind::two_constants, HintKind::proportional})
    CHECK(hint_kind_from_string(to_string(k)) == k);
  CHECK_THROWS_AS(verdict_from_string("fine"), std::invalid_argument);
  CHECK_THROWS_AS(mode_from_string("slow"), std::invalid_argument);
  CHECK_THROWS_AS(dtype_from_string("f16"), std::invalid_argument);
}

TEST_CASE("a result's mode and problem kinds survive the JSON round trip", "[checker][names]") {
  CheckResult r;
  r.name = "m";
  r.mode = Mode::fast;
  r.passed = false;
  r.problems = {{ProblemKind::gradient_not_written, "gradient of w[0] was not written"},
                {ProblemKind::model_error, "loss returned 7"}};
  const std::string json = to_json(r);
  CHECK(json.find("\"mode\":\"fast\"") != std::string::npos);
  CHECK(json.find("\"kind\":\"gradient_not_written\"") != std::string::npos);
  const CheckResult back = check_result_from_json(json);
  CHECK(back.mode == Mode::fast);
  REQUIRE(back.problems.size() == 2);
  CHECK(back.problems[0].kind == ProblemKind::gradient_not_written);
  CHECK(back.problems[1].kind == ProblemKind::model_error);
  CHECK(back.problems[1].message == "loss returned 7");
  CHECK(to_json(back) == json);
}

TEST_CASE("automatic mode is the host's to resolve, not the checker's", "[checker][names]") {
  CheckOptions options;
  options.mode = Mode::automatic;
  std::string why;
  CHECK_FALSE(options.is_valid(&why));
  CHECK(why.find("automatic") != std::string::npos);
}
