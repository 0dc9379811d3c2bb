// Kinks are told apart from bugs; problems of the function are named.
#include <catch2/catch.hpp>

#include "gradcheck/gradcheck.hpp"

using namespace gradcheck;

TEMPLATE_TEST_CASE("ReLU, abs and max at exact kinks give kink", "[checker][kink]", float, double) {
  using T = TestType;
  Vector<T> x(4);
  x << T(0), T(0.5), T(-0.75), T(0);  // kinks at coordinates 0 and 3
  SECTION("relu with the subgradient 0 at 0") {
    auto f = [](const Vector<T>& v) { return static_cast<double>(v.cwiseMax(T(0)).sum()); };
    auto g = [](const Vector<T>& v) { return Vector<T>((v.array() > T(0)).template cast<T>()); };
    const CheckResult r = check_gradient<T>(f, g, x);
    INFO(to_text(r));
    CHECK(r.passed);
    CHECK(r.blocks[0].verdict == Verdict::kink);
    CHECK(r.blocks[0].kinks == 2);
  }
  SECTION("abs with sign(0) = 0") {
    auto f = [](const Vector<T>& v) { return static_cast<double>(v.cwiseAbs().sum()); };
    auto g = [](const Vector<T>& v) {
      Vector<T> s(v.size());
      for (Eigen::Index i = 0; i < v.size(); ++i) s(i) = v(i) > 0 ? T(1) : v(i) < 0 ? T(-1) : T(0);
      return s;
    };
    const CheckResult r = check_gradient<T>(f, g, x);
    INFO(to_text(r));
    CHECK(r.passed);
    CHECK(r.blocks[0].kinks == 2);
  }
  SECTION("max with a tie picks one argument") {
    Vector<T> y(3);
    y << T(1), T(1), T(-2);
    auto f = [](const Vector<T>& v) { return static_cast<double>(v.maxCoeff()); };
    auto g = [](const Vector<T>& v) {
      Vector<T> s = Vector<T>::Zero(v.size());
      Eigen::Index k;
      v.maxCoeff(&k);
      s(k) = T(1);
      return s;
    };
    const CheckResult r = check_gradient<T>(f, g, y);
    INFO(to_text(r));
    CHECK(r.passed);
    CHECK(r.blocks[0].kinks == 2);
  }
  SECTION("a subgradient outside the one-sided interval is a mismatch") {
    auto f = [](const Vector<T>& v) { return static_cast<double>(v.cwiseMax(T(0)).sum()); };
    auto g = [](const Vector<T>& v) {
      Vector<T> s = (v.array() > T(0)).template cast<T>();
      for (Eigen::Index i = 0; i < v.size(); ++i)
        if (v(i) == T(0)) s(i) = T(1.5);  // outside [0, 1]
      return s;
    };
    const CheckResult r = check_gradient<T>(f, g, x);
    INFO(to_text(r));
    CHECK_FALSE(r.passed);
    CHECK(r.blocks[0].mismatches == 2);
  }
}

TEST_CASE("a nondeterministic loss is reported as such, not as a mismatch", "[checker][problems]") {
  int calls = 0;
  auto f = [&](const Vector<double>& v) { return v.squaredNorm() + 1e-3 * (++calls % 3); };
  auto g = [](const Vector<double>& v) { return Vector<double>(2 * v); };
  const CheckResult r = check_gradient<double>(f, g, Vector<double>::Ones(3));
  INFO(to_text(r));
  CHECK_FALSE(r.passed);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].kind == ProblemKind::nondeterministic_loss);
  for (const auto& b : r.blocks) CHECK(b.verdict != Verdict::mismatch);
}

TEST_CASE("a stateful gradient is reported as such", "[checker][problems]") {
  Vector<double> accumulator = Vector<double>::Zero(3);
  auto f = [](const Vector<double>& v) { return v.squaredNorm(); };
  auto g = [&](const Vector<double>& v) {
    accumulator += 2 * v;  // never reset: the classic missing zero_grad()
    return accumulator;
  };
  const CheckResult r = check_gradient<double>(f, g, Vector<double>::Ones(3));
  INFO(to_text(r));
  CHECK_FALSE(r.passed);
  REQUIRE(!r.problems.empty());
  CHECK(r.problems[0].kind == ProblemKind::stateful_gradient);
}

TEST_CASE("non-finite values are reported", "[checker][problems]") {
  auto f = [](const Vector<double>& v) { return v.squaredNorm(); };
  auto g = [](const Vector<double>& v) {
    Vector<double> r = 2 * v;
    r(1) = std::nan("");
    return r;
  };
  const CheckResult r = check_gradient<double>(f, g, Vector<double>::Ones(3));
  CHECK_FALSE(r.passed);
  REQUIRE(!r.problems.empty());
  CHECK(r.problems[0].kind == ProblemKind::non_finite);
}
