// Correct derivatives of functions with closed forms pass in f64 and f32 with
// default settings: no false alarm.
#include <catch2/catch.hpp>

#include <cmath>

#include "gradcheck/gradcheck.hpp"
#include "test_functions.hpp"

using namespace gradcheck;
using namespace gradcheck::testing;

TEMPLATE_TEST_CASE("correct gradients of smooth functions pass", "[checker][smooth]", float, double) {
  using T = TestType;
  for (const auto& fn : smooth_functions<T>()) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      const Vector<T> x = fn.point(seed);
      CheckOptions opt;
      opt.seed = seed;
      const CheckResult r = check_gradient<T>(fn.f, fn.g, x, Layout{}, opt);
      INFO(fn.name << " seed " << seed << "\n" << to_text(r));
      CHECK(r.passed);
      CHECK(r.verdict == Verdict::ok);
    }
  }
}

TEMPLATE_TEST_CASE("every estimator passes correct smooth gradients", "[checker][smooth]", float, double) {
  using T = TestType;
  for (Method method : {Method::forward, Method::central, Method::richardson}) {
    for (const auto& fn : smooth_functions<T>()) {
      const Vector<T> x = fn.point(7);
      CheckOptions opt;
      opt.method = method;
      const CheckResult r = check_gradient<T>(fn.f, fn.g, x, Layout{}, opt);
      INFO(fn.name << " " << to_string(method) << "\n" << to_text(r));
      CHECK(r.passed);
    }
  }
}

TEST_CASE("complex step passes a generic lambda", "[checker][smooth][complex]") {
  auto f = [](const auto& x) {
    using std::exp;
    using std::sin;
    auto s = x(0) * 0.0;
    for (Eigen::Index i = 0; i < x.size(); ++i) s += exp(x(i)) * sin(x(i)) + x(i) * x(i) * x(i);
    return s;
  };
  auto g = [](const Vector<double>& x) {
    Vector<double> out(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) out(i) = std::exp(x(i)) * (std::sin(x(i)) + std::cos(x(i))) + 3 * x(i) * x(i);
    return out;
  };
  Vector<double> x = Vector<double>::LinSpaced(6, -1.0, 1.5);
  CheckOptions opt;
  opt.method = Method::complex_step;
  const CheckResult r = check_gradient<double>(complex_step(f), g, x, Layout{}, opt);
  INFO(to_text(r));
  CHECK(r.passed);
  CHECK(r.blocks[0].max_rel_error < 1e-13);
}

TEMPLATE_TEST_CASE("a correct MLP with softmax cross-entropy passes", "[checker][smooth][mlp]", float, double) {
  using T = TestType;
  for (std::uint64_t seed : {11u, 12u, 13u, 14u, 15u}) {
    TinyMlp<T> mlp(seed, /*inputs=*/6, /*hidden=*/8, /*classes=*/4, /*batch=*/5, /*relu=*/false);
    CheckOptions opt;
    opt.seed = seed;
    const CheckResult r = check_loss<T>(mlp.loss_fn(), mlp.params(), mlp.layout(), opt);
    INFO("seed " << seed << "\n" << to_text(r));
    CHECK(r.passed);
    CHECK(r.verdict != Verdict::mismatch);
  }
}

TEMPLATE_TEST_CASE("a correct ReLU MLP passes: kinks near the point are not bugs", "[checker][mlp][kink]", float, double) {
  using T = TestType;
  int inconclusive_blocks = 0, blocks = 0;
  for (std::uint64_t seed = 21; seed < 31; ++seed) {
    TinyMlp<T> mlp(seed, 6, 8, 4, 5, /*relu=*/true);
    CheckOptions opt;
    opt.seed = seed;
    const CheckResult r = check_loss<T>(mlp.loss_fn(), mlp.params(), mlp.layout(), opt);
    INFO("seed " << seed << "\n" << to_text(r));
    CHECK(r.passed);
    for (const auto& b : r.blocks) {
      ++blocks;
      inconclusive_blocks += b.verdict == Verdict::inconclusive;
    }
  }
  // The verdict must mostly say something: inconclusive is the exception.
  CHECK(inconclusive_blocks * 4 <= blocks);
}

TEST_CASE("a derivative at a point where the function is 0 is not a false alarm", "[checker][smooth][regression]") {
  // Found by bench_accuracy: with phi(0) = 0 the noise floor vanished and the
  // one-ulp rounding of the quotient exceeded the bound.
  auto f = [](const Vector<double>& v) { return std::sin(v(0)) + std::tanh(v(0)) + std::atan(v(0)) + v(1) * v(1); };
  auto g = [](const Vector<double>& v) {
    Vector<double> r(2);
    r << 3 * 1.0 + 0 * v(0), 2 * v(1);
    return r;
  };
  int failures = 0;
  for (int k = 0; k < 400; ++k) {
    Vector<double> v(2);
    v << 0.0, 0.0025 * (k + 1);
    failures += !check_gradient<double>(f, g, v).passed;
  }
  CHECK(failures == 0);
}

TEST_CASE("a periodic rounding pattern does not deflate the noise level", "[checker][smooth][regression]") {
  // Found by bench_accuracy: softplus in f32 at -3.75, forward differences.
  auto f = [](const Vector<float>& v) { return static_cast<double>(std::log(1.0f + std::exp(v(0)))); };
  auto g = [](const Vector<float>& v) {
    Vector<float> r(1);
    r(0) = 1.0f / (1.0f + std::exp(-v(0)));
    return r;
  };
  for (Method m : {Method::forward, Method::central, Method::richardson}) {
    Vector<float> v(1);
    v << -3.75f;
    CheckOptions opt;
    opt.method = m;
    const CheckResult r = check_gradient<float>(f, g, v, Layout{}, opt);
    INFO(to_string(m) << "\n" << to_text(r));
    CHECK(r.passed);
  }
}
