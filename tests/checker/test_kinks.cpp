// Kinks are told apart from bugs; problems of the function are named.
#include <catch2/catch.hpp>

#include "gradcheck/gradcheck.hpp"
#include "test_functions.hpp"

using namespace gradcheck;
using gradcheck::testing::check_dense_f32;

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
    CheckOptions strict;
    strict.recheck_kinks = false;
    const CheckResult r = check_gradient<T>(f, g, x, {}, strict);
    INFO(to_text(r));
    CHECK_FALSE(r.passed);
    CHECK(r.blocks[0].mismatches == 2);
    // By default the coordinates are decided at a nearby generic point, where
    // the derivative is right; the report keeps the kinks and says so.
    const CheckResult moved = check_gradient<T>(f, g, x);
    INFO(to_text(moved));
    CHECK(moved.passed);
    CHECK(moved.blocks[0].kinks == 2);
    CHECK(moved.blocks[0].rechecked == 2);
    REQUIRE(moved.notes.size() == 1);
    CHECK_THAT(moved.notes[0], Catch::Matchers::Contains("2 had the analytic value outside [left, right]"));
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

namespace {

// A two-layer ReLU regression net, loss = mean_b (w2 . relu(W1 x_b + b1) + c - y_b)^2,
// parameters [W1 (4x2, row-major), b1 (4), w2 (4), c]; the gradient with the
// relu'(0) = 0 convention that autodiff frameworks use.
template <class T>
struct ReluNet {
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> X;  // batch x 2
  Vector<T> y;
  static constexpr int H = 4;
  T loss(const Vector<T>& p, Vector<T>* grad) const {
    const auto B = X.rows();
    T total = 0;
    if (grad != nullptr) grad->setZero(p.size());
    for (Eigen::Index b = 0; b < B; ++b) {
      T pred = p(4 * H);
      T s[H], h[H];
      for (int i = 0; i < H; ++i) {
        s[i] = p(2 * i) * X(b, 0) + p(2 * i + 1) * X(b, 1) + p(2 * H + i);
        h[i] = s[i] > T(0) ? s[i] : T(0);
        pred += p(3 * H + i) * h[i];
      }
      const T r = pred - y(b);
      total += r * r / T(B);
      if (grad == nullptr) continue;
      const T dr = T(2) * r / T(B);
      (*grad)(4 * H) += dr;
      for (int i = 0; i < H; ++i) {
        (*grad)(3 * H + i) += dr * h[i];
        const T ds = s[i] > T(0) ? dr * p(3 * H + i) : T(0);
        (*grad)(2 * i) += ds * X(b, 0);
        (*grad)(2 * i + 1) += ds * X(b, 1);
        (*grad)(2 * H + i) += ds;
      }
    }
    return total;
  }
};

template <class T>
Layout relu_net_layout() {
  Layout l;
  l.add("W1", {4, 2}).add("b1", {4}).add("w2", {4}).add("c", {});
  return l;
}

}  // namespace

TEMPLATE_TEST_CASE("kinks that coincide are decided at a nearby generic point, not called a bug", "[checker][kink]", float,
                   double) {
  using T = TestType;
  // Zero biases and rows of W1 of the form (a, -a) with inputs on the line
  // (1, 1): every pre-activation is exactly 0 for every sample, so moving one
  // weight crosses several kinks at once (some samples turn on to the right,
  // others to the left) and relu'(0) = 0 lies outside [left, right], or the
  // two sides even agree on a value the convention does not give.
  ReluNet<T> net;
  net.X.resize(4, 2);
  net.X << T(1), T(1), T(-1), T(-1), T(2), T(2), T(-0.5), T(-0.5);
  net.y.resize(4);
  net.y << T(1), T(-2), T(0.5), T(-1);
  Vector<T> p(17);
  p << T(0.7), T(-0.7), T(-0.4), T(0.4), T(1.1), T(-1.1), T(0.3), T(-0.3),  // W1
      T(0), T(0), T(0), T(0),                                             // b1
      T(0.9), T(-0.6), T(0.5), T(1.2),                                    // w2
      T(0.1);                                                             // c
  auto fg = [&](const Vector<T>& v, Vector<T>* g) { return net.loss(v, g); };

  CheckOptions at_point_only;
  at_point_only.recheck_kinks = false;
  const CheckResult before = check_loss<T>(fg, p, relu_net_layout<T>(), at_point_only);
  INFO(to_text(before));
  CHECK_FALSE(before.passed);  // what a check that stays at the point says

  const CheckResult r = check_loss<T>(fg, p, relu_net_layout<T>());
  INFO(to_text(r));
  CHECK(r.passed);
  const BlockResult& w1 = r.blocks[0];
  CHECK(w1.verdict == Verdict::kink);
  CHECK(w1.rechecked > 0);
  CHECK(w1.mismatches == 0);
  bool noted = false;
  for (const auto& n : r.notes) noted = noted || (n.find("W1: ") == 0 && n.find("nearby point") != std::string::npos);
  CHECK(noted);

  // The same net with a real bug (W1's gradient doubled) is still caught there.
  auto buggy = [&](const Vector<T>& v, Vector<T>* g) {
    const T l = net.loss(v, g);
    if (g != nullptr) g->head(8) *= T(2);
    return l;
  };
  Vector<T> q = p;
  q.segment(8, 4).setConstant(T(0.05));  // biases on: most units active
  const CheckResult bug = check_loss<T>(buggy, q, relu_net_layout<T>());
  INFO(to_text(bug));
  CHECK_FALSE(bug.passed);
  CHECK(bug.blocks[0].verdict == Verdict::mismatch);
  const CheckResult bug_at_kinks = check_loss<T>(buggy, p, relu_net_layout<T>());
  INFO(to_text(bug_at_kinks));
  CHECK_FALSE(bug_at_kinks.passed);
  CHECK(bug_at_kinks.blocks[0].verdict == Verdict::mismatch);
}

TEST_CASE("a correct f32 layer with several kinks within one step passes: decided again with smaller steps",
          "[checker][kink][f32]") {
  // Hardswish(3 z) of a dense layer in float: kinks at z = -1 and 1. With
  // inputs of scale 2, moving one weight by its f32 step (5% of its scale)
  // moves 32 pre-activations by up to 0.6, so kinks lie within the step on
  // both sides and neither one-sided table is clean, at the point given or at
  // a nearby one: only smaller steps see the derivative.
  constexpr int I = 6;
  auto hardswish = [](float a) {
    const float z = 3 * a;
    return z * std::min(std::max(z + 3, 0.0f), 6.0f) / 6;
  };
  auto hardswish_grad = [](float a) {
    const float z = 3 * a;
    return 3 * (z < -3 ? 0.0f : z > 3 ? 1.0f : (2 * z + 3) / 6);
  };
  int false_alarms = 0, rechecked = 0;
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    CheckOptions opt;
    opt.seed = seed;
    const CheckResult res =
        check_dense_f32(seed, 32, I, 6, 2.0, 1 / std::sqrt(double(I)), hardswish, hardswish_grad, opt);
    INFO("seed " << seed << "\n" << to_text(res));
    false_alarms += !res.passed;
    for (const auto& b : res.blocks) rechecked += b.rechecked > 0;
  }
  CHECK(rechecked > 0);
  CHECK(false_alarms == 0);
}
