// Seeded bugs are caught, in f64 and f32, and the hint names the pattern.
#include <catch2/catch.hpp>

#include "gradcheck/gradcheck.hpp"
#include "test_functions.hpp"

using namespace gradcheck;
using namespace gradcheck::testing;

namespace {

template <class T>
CheckResult run_mlp(MlpBug bug, std::uint64_t seed, bool relu, int in = 6, int hidden = 8, double rel = 0) {
  TinyMlp<T> mlp(seed, in, hidden, 4, 5, relu, bug, rel);
  CheckOptions opt;
  opt.seed = seed;
  return check_loss<T>(mlp.loss_fn(), mlp.params(), mlp.layout(), opt);
}

const BlockResult& block(const CheckResult& r, const std::string& name) {
  for (const auto& b : r.blocks)
    if (b.name == name) return b;
  throw std::runtime_error("no block " + name);
}

}  // namespace

TEMPLATE_TEST_CASE("seeded backward-pass bugs are caught in the guilty tensor only", "[checker][bugs]", float, double) {
  using T = TestType;
  struct Case { MlpBug bug; HintKind hint; };
  const Case cases[] = {
      {MlpBug::sign, HintKind::constant_ratio},     {MlpBug::factor2, HintKind::constant_ratio},
      {MlpBug::missing_term, HintKind::varying},    {MlpBug::off_by_one, HintKind::confined},
      {MlpBug::unwritten, HintKind::missing_term},
  };
  for (const auto& c : cases) {
    for (bool relu : {false, true}) {
      for (std::uint64_t seed : {41u, 42u, 43u}) {
        const CheckResult r = run_mlp<T>(c.bug, seed, relu);
        INFO("bug " << static_cast<int>(c.bug) << " relu " << relu << " seed " << seed << "\n" << to_text(r));
        CHECK_FALSE(r.passed);
        CHECK(block(r, "fc1.weight").verdict == Verdict::mismatch);
        CHECK(block(r, "fc1.bias").verdict != Verdict::mismatch);
        CHECK(block(r, "fc2.weight").verdict != Verdict::mismatch);
        CHECK(block(r, "fc2.bias").verdict != Verdict::mismatch);
        if (c.hint != HintKind::none) CHECK(block(r, "fc1.weight").hint_kind == c.hint);
        CHECK_FALSE(block(r, "fc1.weight").hint.empty());
      }
    }
  }
}

TEMPLATE_TEST_CASE("a transposed weight gradient is caught and recognised", "[checker][bugs][hints]", float, double) {
  using T = TestType;
  for (std::uint64_t seed : {51u, 52u, 53u}) {
    const CheckResult r = run_mlp<T>(MlpBug::transpose, seed, false, /*in=*/6, /*hidden=*/6);
    INFO(to_text(r));
    CHECK_FALSE(r.passed);
    CHECK(block(r, "fc1.weight").verdict == Verdict::mismatch);
    CHECK(block(r, "fc1.weight").hint_kind == HintKind::transposed);
  }
}

TEST_CASE("a relative error of 1e-4 is caught in f64", "[checker][bugs][precision]") {
  for (bool relu : {false, true})
    for (std::uint64_t seed : {61u, 62u, 63u}) {
      const CheckResult r = run_mlp<double>(MlpBug::relative, seed, relu, 6, 8, 1e-4);
      INFO(to_text(r));
      CHECK(block(r, "fc1.weight").verdict == Verdict::mismatch);
      CHECK(block(r, "fc1.weight").hint_kind == HintKind::approximate);
    }
}

TEST_CASE("a relative error of 1e-2 is caught in f32", "[checker][bugs][precision]") {
  for (bool relu : {false, true})
    for (std::uint64_t seed : {61u, 62u, 63u}) {
      const CheckResult r = run_mlp<float>(MlpBug::relative, seed, relu, 6, 8, 1e-2);
      INFO(to_text(r));
      CHECK(block(r, "fc1.weight").verdict == Verdict::mismatch);
    }
}

TEMPLATE_TEST_CASE("bugs in plain functions: sign, factor, missing term, index, unwritten", "[checker][bugs]", float, double) {
  using T = TestType;
  const auto fns = smooth_functions<T>();
  const double rel = std::is_same_v<T, float> ? 1e-2 : 1e-4;
  using Corrupt = std::function<Vector<T>(Vector<T>)>;
  const std::vector<std::pair<std::string, Corrupt>> bugs = {
      {"sign", [](Vector<T> g) { return Vector<T>(-g); }},
      {"factor 0.5", [](Vector<T> g) { return Vector<T>(g * T(0.5)); }},
      {"off by one", [](Vector<T> g) { Vector<T> s = g; for (Eigen::Index i = 0; i + 1 < g.size(); ++i) s(i) = g(i + 1); return s; }},
      {"unwritten", [](Vector<T> g) { g(g.size() - 1) = T(0); return g; }},
      {"relative", [rel](Vector<T> g) { return Vector<T>(g * static_cast<T>(1 + rel)); }},
  };
  for (const auto& fn : fns) {
    for (const auto& [name, corrupt] : bugs) {
      const Vector<T> x = fn.point(3);
      auto g = [&](const Vector<T>& v) { return corrupt(fn.g(v)); };
      const CheckResult r = check_gradient<T>(fn.f, g, x);
      INFO(fn.name << " / " << name << "\n" << to_text(r));
      CHECK(r.verdict == Verdict::mismatch);
    }
  }
}

TEST_CASE("missing 1/batch factor is named", "[checker][bugs][hints]") {
  // loss = mean_b (w . x_b)^2 / 2; the buggy gradient sums instead of averaging.
  const int batch = 8;
  Matrix<double> X = Matrix<double>::Random(batch, 5);
  auto f = [&](const Vector<double>& w) { return 0.5 * (X * w).squaredNorm() / batch; };
  auto g_bad = [&](const Vector<double>& w) { return Vector<double>(X.transpose() * (X * w)); };
  Vector<double> w = Vector<double>::LinSpaced(5, -1, 1);
  CheckOptions opt;
  opt.batch_size = batch;
  const CheckResult r = check_gradient<double>(f, g_bad, w, Layout{}, opt);
  INFO(to_text(r));
  CHECK(r.blocks[0].hint_kind == HintKind::constant_ratio);
  CHECK_THAT(r.blocks[0].hint, Catch::Contains("batch"));
}

TEST_CASE("errors confined to one row are named", "[checker][bugs][hints]") {
  // f = sum(W .* C) with the gradient wrong in row 2 only.
  Matrix<double> C = Matrix<double>::Random(5, 4);
  Layout layout;
  layout.add("W", {5, 4});
  auto f = [&](const Vector<double>& v) {
    double s = 0;
    auto W = layout.matrix(v, "W");
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 4; ++c) s += std::sin(W(r, c)) * C(r, c);
    return s;
  };
  auto g = [&](const Vector<double>& v) {
    Vector<double> out(v.size());
    auto W = layout.matrix(v, "W");
    auto G = layout.matrix(out, "W");
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 4; ++c) G(r, c) = std::cos(W(r, c)) * C(r, c) * (r == 2 ? 1.0 + 0.3 * (c + 1) : 1.0);
    return out;
  };
  const CheckResult r = check_gradient<double>(f, g, Vector<double>::LinSpaced(20, -1, 1), layout);
  INFO(to_text(r));
  CHECK(r.blocks[0].verdict == Verdict::mismatch);
  CHECK(r.blocks[0].mismatches == 4);
  CHECK(r.blocks[0].hint_kind == HintKind::confined);
  CHECK_THAT(r.blocks[0].hint, Catch::Contains("row(s) 2"));
}

TEST_CASE("rtol and atol replace the calibrated tolerance", "[checker][options]") {
  auto f = [](const Vector<double>& v) { return v.squaredNorm(); };
  auto g = [](const Vector<double>& v) { return Vector<double>(2 * v * (1 + 1e-6)); };
  const Vector<double> x = Vector<double>::LinSpaced(4, 0.5, 2);
  CHECK_FALSE(check_gradient<double>(f, g, x).passed);  // 1e-6 is far beyond the f64 bound
  CheckOptions loose;
  loose.rtol = 1e-5;
  CHECK(check_gradient<double>(f, g, x, Layout{}, loose).passed);
  CheckOptions absolute;
  absolute.atol = 1e-3;
  CHECK(check_gradient<double>(f, g, x, Layout{}, absolute).passed);
  CheckOptions tight;
  tight.rtol = 1e-8;
  CHECK_FALSE(check_gradient<double>(f, g, x, Layout{}, tight).passed);
}

namespace {

// f(x) = 64 + sum_j w_j sin(x_j), summed in float: each derivative
// w_j cos(x_j) (about 1e-3) is near the rounding noise of a loss of 64 in f32,
// so no single coordinate can tell a gradient off by a small constant factor.
struct NoisyF32Sum {
  Vector<float> w, x;
  explicit NoisyF32Sum(int n) : w(n), x(n) {
    const auto z = detail::normal_vector(7, static_cast<std::size_t>(2 * n));
    for (int j = 0; j < n; ++j) {
      w(j) = static_cast<float>(2e-3 * (1 + 0.3 * z[static_cast<std::size_t>(j)]));
      x(j) = static_cast<float>(z[static_cast<std::size_t>(n + j)]);
    }
  }
  CheckResult check(double factor, const CheckOptions& opt) const {
    auto f = [this](const Vector<float>& v) {
      float s = 64;
      for (Eigen::Index j = 0; j < v.size(); ++j) s += w(j) * std::sin(v(j));
      return s;
    };
    auto g = [this, factor](const Vector<float>& v) {
      Vector<float> out(v.size());
      for (Eigen::Index j = 0; j < v.size(); ++j)
        out(j) = static_cast<float>(factor * static_cast<double>(w(j) * std::cos(v(j))));
      return out;
    };
    return check_gradient<float>(f, g, x, Layout{}, opt);
  }
};

}  // namespace

TEST_CASE("a constant factor below every coordinate's noise is found by the block's scale fit", "[checker][bugs][scale]") {
  const NoisyF32Sum fn(4096);
  CheckOptions opt;
  opt.seed = 5;
  const CheckResult ok = fn.check(1.0, opt);
  INFO(to_text(ok));
  CHECK(ok.passed);
  CHECK(ok.blocks[0].scale_entries > 1000);
  CHECK(std::abs(ok.blocks[0].scale - 1) < 6 * ok.blocks[0].scale_error);

  const CheckResult bad = fn.check(1.02, opt);
  INFO(to_text(bad));
  CHECK_FALSE(bad.passed);
  CHECK(bad.blocks[0].verdict == Verdict::mismatch);
  CHECK(bad.blocks[0].mismatches == 0);  // no coordinate alone shows it
  CHECK(bad.blocks[0].hint_kind == HintKind::constant_ratio);
  CHECK_THAT(bad.blocks[0].hint, Catch::Contains("as a whole, analytic = ") && Catch::Contains("though each entry is within its own noise"));
  CHECK(1 / bad.blocks[0].scale == Approx(1.02).epsilon(0.005));
  CHECK(1 / bad.blocks[0].scale_check == Approx(1.02).epsilon(0.005));  // the same at 4x larger steps

  // The scale test is what finds it: switched off, the same check passes.
  CheckOptions off = opt;
  off.scale_sigmas = 0;
  CHECK(fn.check(1.02, off).passed);
}

TEST_CASE("a scale deviation that rounding makes (it shrinks with the step) is not called a bug", "[checker][scale]") {
  // sum_j softplus(a_j x_j) summed in float: a loss near 1e4 whose float sum
  // rounds so that the numeric derivatives run about 1e-3 high at small steps,
  // shrinking as 1/step. The gradient is right.
  const int n = 2000;
  Vector<float> x(n), a(n);
  const auto z = detail::normal_vector(11, 2 * n);
  for (int j = 0; j < n; ++j) {
    x(j) = static_cast<float>(3 * z[static_cast<std::size_t>(j)]);
    a(j) = static_cast<float>(3 * (0.5 + std::abs(z[static_cast<std::size_t>(n + j)])));
  }
  auto f = [&](const Vector<float>& v) {
    float s = 0;
    for (int j = 0; j < n; ++j) s += std::log1p(std::exp(a(j) * v(j)));
    return s;
  };
  auto g = [&](const Vector<float>& v) {
    Vector<float> o(n);
    for (int j = 0; j < n; ++j) o(j) = a(j) / (1 + std::exp(-a(j) * v(j)));
    return o;
  };
  CheckOptions opt;
  opt.relative_step = 0.0125;  // small steps: the deviation is past the scale test's thresholds
  const CheckResult r = check_gradient<float>(f, g, x, Layout{}, opt);
  INFO(to_text(r));
  const BlockResult& b = r.blocks[0];
  CHECK(r.passed);
  CHECK(b.verdict != Verdict::mismatch);
  // The first fit deviated, and the second opinion at 4x the step shrank.
  CHECK(std::abs(b.scale - 1) > opt.scale_sigmas * b.scale_error);
  REQUIRE(std::isfinite(b.scale_check));
  CHECK(std::abs(b.scale_check - 1) < 0.6 * std::abs(b.scale - 1));
  REQUIRE_FALSE(r.notes.empty());
  CHECK_THAT(r.notes.back(), Catch::Contains("rounding in the function, not the gradient"));
}

namespace {
// GELU with the tanh approximation, computed in double and rounded to T.
template <class T>
Vector<T> gelu_tanh(const Vector<T>& x) {
  Vector<T> y(x.size());
  const double k = std::sqrt(2 / M_PI);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double z = x(i);
    y(i) = static_cast<T>(0.5 * z * (1 + std::tanh(k * (z + 0.044715 * z * z * z))));
  }
  return y;
}
}  // namespace

TEST_CASE("an approximate derivative is caught in f32: a wider one-sided estimate does not overrule the central one",
          "[checker][bugs][precision]") {
  // The forward pass uses tanh-GELU; the buggy backward pass the exact (erf)
  // GELU derivative, 0.04-1.1% off. The correct backward is tanh-GELU's own.
  auto exact_derivative = [](const Vector<float>& x, const Vector<float>& dy) {
    Vector<float> dx(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      const double z = x(i);
      const double g = 0.5 * (1 + std::erf(z / std::sqrt(2.0))) + z * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
      dx(i) = static_cast<float>(dy(i) * g);
    }
    return dx;
  };
  auto own_derivative = [](const Vector<float>& x, const Vector<float>& dy) {
    Vector<float> dx(x.size());
    const double k = std::sqrt(2 / M_PI);
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      const double z = x(i);
      const double t = std::tanh(k * (z + 0.044715 * z * z * z));
      dx(i) = static_cast<float>(dy(i) * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)));
    }
    return dx;
  };
  int caught = 0, false_alarms = 0;
  const int seeds = 6;
  for (int seed = 0; seed < seeds; ++seed) {
    const auto z = detail::normal_vector(static_cast<std::uint64_t>(seed) + 1, 64);
    Vector<float> x(64);
    for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = static_cast<float>(2 * z[static_cast<std::size_t>(i)]);
    const CheckResult bug = check_layer<float>(gelu_tanh<float>, exact_derivative, x);
    INFO(to_text(bug));
    caught += !bug.passed;
    const CheckResult right = check_layer<float>(gelu_tanh<float>, own_derivative, x);
    INFO(to_text(right));
    false_alarms += !right.passed;
  }
  CHECK(caught == seeds);
  CHECK(false_alarms == 0);
}

namespace {
// A dense layer y = GELU(x w) in float arithmetic, x [32 x 5] and w [5 x 4]
// both checked. The backward pass uses the exact (erf) GELU derivative under
// the tanh-approximated forward pass when `erf_backward`.
CheckResult dense_gelu_f32(std::uint64_t seed, bool erf_backward, double consistency_sd = CheckOptions{}.consistency_sd) {
  const float k = 0.7978845608f, c = 0.044715f;
  auto gelu = [=](float a) { return 0.5f * a * (1 + std::tanh(k * (a + c * a * a * a))); };
  auto derivative = [=](float a) {
    if (erf_backward)
      return 0.5f * (1 + std::erf(a / std::sqrt(2.0f))) + a * std::exp(-0.5f * a * a) / std::sqrt(2 * 3.14159265f);
    const float t = std::tanh(k * (a + c * a * a * a));
    return 0.5f * (1 + t) + 0.5f * a * (1 - t * t) * k * (1 + 3 * c * a * a);
  };
  CheckOptions opt;
  opt.seed = seed;
  opt.consistency_sd = consistency_sd;
  return check_dense_f32(seed, 32, 5, 4, 1.0, 1.0, gelu, derivative, opt);
}
}  // namespace

TEST_CASE("an approximate derivative that no entry shows alone is caught by the consistency of the whole tensor",
          "[checker][bugs][precision]") {
  // Computed in float throughout, the layer's own rounding makes each entry's
  // bound as wide as the error (tanh-GELU against the erf derivative, 0.04-1.1%
  // off): every entry lies within 3 bounds, but on a correct derivative the
  // entries lie within a fraction of their bounds.
  int caught = 0, caught_alone = 0, by_consistency = 0, false_alarms = 0, worst_correct = 0;
  double largest_correct = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const CheckResult bug = dense_gelu_f32(seed, true);
    INFO("seed " << seed << "\n" << to_text(bug));
    caught += !bug.passed;
    caught_alone += !dense_gelu_f32(seed, true, 0).passed;  // the test switched off
    for (const auto& b : bug.blocks)
      if (b.verdict == Verdict::mismatch && b.mismatches == 0) {
        ++by_consistency;
        CHECK(b.hint_kind == HintKind::approximate);
        CHECK_THAT(b.hint, Catch::Contains("within its own error bound"));
        CHECK(b.consistency > b.consistency_limit);
      }
    const CheckResult right = dense_gelu_f32(seed, false);
    INFO(to_text(right));
    false_alarms += !right.passed;
    for (const auto& b : right.blocks) {
      if (b.consistency_entries < CheckOptions{}.consistency_min_entries) continue;  // most bounds are truncation
      largest_correct = std::max(largest_correct, b.consistency / b.consistency_limit);
      worst_correct += b.consistency > 0.5 * b.consistency_limit;
    }
  }
  INFO("caught " << caught << ", without the test " << caught_alone << ", largest RMS / limit on the correct layer "
                 << largest_correct);
  CHECK(caught >= 7);                // 7 of 8, and 5 of 8 without the test (2026-12-06)
  CHECK(caught - caught_alone >= 2);  // entry by entry, some of these pass
  CHECK(by_consistency > 0);
  CHECK(false_alarms == 0);
  CHECK(worst_correct == 0);  // a correct derivative stays far below the limit
}
