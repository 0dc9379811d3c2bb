// Jacobians, layers, JVPs, sampling, threads, fast mode with localisation,
// layouts and the JSON round trip.
#include <catch2/catch.hpp>

#include <cmath>

#include "gradcheck/gradcheck.hpp"
#include "test_functions.hpp"

using namespace gradcheck;
using namespace gradcheck::testing;

namespace {

// softmax: R^n -> R^n with Jacobian diag(p) - p p^T.
template <class T>
Vector<T> softmax(const Vector<T>& x) {
  Vector<T> e = (x.array() - x.maxCoeff()).exp().matrix();
  return e / e.sum();
}
template <class T>
Matrix<T> softmax_jacobian(const Vector<T>& x) {
  const Vector<T> p = softmax(x);
  Matrix<T> J = -p * p.transpose();
  J.diagonal() += p;
  return J;
}

// A large separable function: f = sum_i c_i sin(x_i) + x_i^2 / 2, with the
// gradient optionally wrong at one coordinate.
struct Wide {
  Layout layout;
  Vector<double> c;
  std::int64_t bad = -1;
  Wide(int blocks, int per_block) {
    for (int b = 0; b < blocks; ++b) layout.add("layer" + std::to_string(b) + ".weight", {per_block / 10, 10});
    c = Vector<double>::LinSpaced(layout.size(), 0.5, 1.5);
  }
  double f(const Vector<double>& x) const { return (c.array() * x.array().sin() + 0.5 * x.array().square()).sum(); }
  Vector<double> g(const Vector<double>& x) const {
    Vector<double> r = (c.array() * x.array().cos() + x.array()).matrix();
    if (bad >= 0) r(bad) *= 1.5;
    return r;
  }
};

}  // namespace

TEMPLATE_TEST_CASE("a softmax Jacobian passes and a wrong one is caught", "[checker][jacobian]", float, double) {
  using T = TestType;
  const Vector<T> x = random_point<T>(5, 6, -2, 2);
  auto f = [](const Vector<T>& v) { return softmax<T>(v); };
  auto J = [](const Vector<T>& v) { return softmax_jacobian<T>(v); };
  const CheckResult ok = check_jacobian<T>(f, J, x);
  INFO(to_text(ok));
  CHECK(ok.passed);
  CHECK(ok.blocks[0].checked == 6);
  auto J_bad = [](const Vector<T>& v) {
    Matrix<T> m = softmax_jacobian<T>(v);
    m.diagonal() -= softmax<T>(v);  // forgot the diagonal term
    return m;
  };
  const CheckResult bad = check_jacobian<T>(f, J_bad, x);
  INFO(to_text(bad));
  CHECK_FALSE(bad.passed);
}

TEST_CASE("check_layer checks a backward pass with a seeded upstream gradient", "[checker][layer]") {
  // y = tanh(W v) for a fixed W; x holds v.
  Matrix<double> W = Matrix<double>::Random(4, 3);
  auto fwd = [&](const Vector<double>& v) { return Vector<double>((W * v).array().tanh().matrix()); };
  auto bwd = [&](const Vector<double>& v, const Vector<double>& dy) {
    const Vector<double> y = (W * v).array().tanh().matrix();
    return Vector<double>(W.transpose() * (dy.array() * (1 - y.array().square())).matrix());
  };
  auto bwd_bad = [&](const Vector<double>& v, const Vector<double>& dy) { return Vector<double>(W.transpose() * dy); (void)v; };
  const Vector<double> v = Vector<double>::LinSpaced(3, -0.5, 0.7);
  CHECK(check_layer<double>(fwd, bwd, v).passed);
  CHECK_FALSE(check_layer<double>(fwd, bwd_bad, v).passed);
}

TEMPLATE_TEST_CASE("JVPs are checked along seeded directions", "[checker][jvp]", float, double) {
  using T = TestType;
  const Vector<T> x = random_point<T>(9, 5, -1, 1);
  auto f = [](const Vector<T>& v) { return softmax<T>(v); };
  auto jvp = [](const Vector<T>& v, const Vector<T>& d) { return Vector<T>(softmax_jacobian<T>(v) * d); };
  auto jvp_bad = [](const Vector<T>& v, const Vector<T>& d) { return Vector<T>(softmax_jacobian<T>(v) * d * T(1.1)); };
  const CheckResult ok = check_jvp<T>(f, jvp, x);
  INFO(to_text(ok));
  CHECK(ok.passed);
  CHECK(ok.mode == Mode::fast);
  CHECK_FALSE(check_jvp<T>(f, jvp_bad, x).passed);
}

TEST_CASE("sampling covers every block with the requested count", "[checker][sampling]") {
  TinyMlp<double> mlp(3, 20, 30, 5, 4, false);
  CheckOptions opt;
  opt.max_per_block = 10;
  const CheckResult r = check_loss<double>(mlp.loss_fn(), mlp.params(), mlp.layout(), opt);
  CHECK(r.passed);
  for (const auto& b : r.blocks) CHECK(b.checked == std::min<std::int64_t>(10, b.size));
}

TEST_CASE("results do not depend on the thread count", "[checker][threads]") {
  TinyMlp<float> mlp(8, 6, 8, 4, 5, true, MlpBug::factor2);
  auto factory = [&](int) { return [&mlp](const Vector<float>& p, Vector<float>* g) { return mlp.loss(p, g); }; };
  CheckOptions one, four;
  four.threads = 4;
  const CheckResult a = check_loss<float>(per_thread(factory), mlp.params(), mlp.layout(), one);
  const CheckResult b = check_loss<float>(per_thread(factory), mlp.params(), mlp.layout(), four);
  CHECK(a.evaluations == b.evaluations);
  REQUIRE(a.blocks.size() == b.blocks.size());
  for (std::size_t k = 0; k < a.blocks.size(); ++k) {
    CHECK(a.blocks[k].verdict == b.blocks[k].verdict);
    CHECK(a.blocks[k].max_rel_error == b.blocks[k].max_rel_error);
    CHECK(a.blocks[k].mismatches == b.blocks[k].mismatches);
  }
  CHECK(to_json(a).size() > 0);
}

TEST_CASE("fast mode passes a correct large function cheaply", "[checker][fast]") {
  Wide w(40, 2500);  // 100,000 values in 40 tensors
  const Vector<double> x = Vector<double>::LinSpaced(w.layout.size(), -1, 1);
  CheckOptions opt;
  opt.mode = Mode::fast;
  auto f = [&](const Vector<double>& v) { return w.f(v); };
  auto g = [&](const Vector<double>& v) { return w.g(v); };
  const CheckResult r = check_gradient<double>(f, g, x, w.layout, opt);
  INFO(to_text(r));
  CHECK(r.passed);
  CHECK(r.evaluations < 6000);
  for (const auto& b : r.blocks) CHECK(b.checked >= 1);
}

TEST_CASE("fast mode finds the guilty tensor and coordinate in O(log n) checks", "[checker][fast]") {
  Wide w(40, 2500);
  const Block& guilty = w.layout.block("layer23.weight");
  w.bad = guilty.offset + 1234;
  const Vector<double> x = Vector<double>::LinSpaced(w.layout.size(), -1, 1);
  CheckOptions opt;
  opt.mode = Mode::fast;
  auto f = [&](const Vector<double>& v) { return w.f(v); };
  auto g = [&](const Vector<double>& v) { return w.g(v); };
  const CheckResult r = check_gradient<double>(f, g, x, w.layout, opt);
  INFO(to_text(r));
  CHECK_FALSE(r.passed);
  for (const auto& b : r.blocks) CHECK((b.verdict == Verdict::mismatch) == (b.name == "layer23.weight"));
  bool found = false;
  for (const auto& b : r.blocks)
    for (const auto& e : b.worst)
      if (b.name == "layer23.weight" && !e.directional && e.position == 1234 && e.verdict == Verdict::mismatch) found = true;
  CHECK(found);
  CHECK(r.evaluations < 10000);  // versus 100,000 coordinates x 20 evaluations in full mode
  bool taylor = false;
  for (const auto& n : r.notes) taylor = taylor || n.find("Taylor remainder") != std::string::npos;
  CHECK(taylor);
}

TEMPLATE_TEST_CASE("fast mode passes a correct float MLP and catches a buggy one", "[checker][fast]", float, double) {
  using T = TestType;
  CheckOptions opt;
  opt.mode = Mode::fast;
  for (std::uint64_t seed : {71u, 72u, 73u}) {
    TinyMlp<T> good(seed, 6, 8, 4, 5, true);
    const CheckResult a = check_loss<T>(good.loss_fn(), good.params(), good.layout(), opt);
    INFO(to_text(a));
    CHECK(a.passed);
    TinyMlp<T> bad(seed, 6, 8, 4, 5, true, MlpBug::factor2);
    const CheckResult b = check_loss<T>(bad.loss_fn(), bad.params(), bad.layout(), opt);
    INFO(to_text(b));
    CHECK_FALSE(b.passed);
    CHECK(b.blocks[0].verdict == Verdict::mismatch);
  }
}

TEST_CASE("layout labels, views and lookups", "[checker][layout]") {
  Layout l;
  l.add("fc1.weight", {3, 4}).add("fc1.bias", {3}).add("scale", {}).add("cm", {2, 3}, Order::col_major);
  CHECK(l.size() == 12 + 3 + 1 + 6);
  CHECK(l.block("fc1.weight").label(7) == "fc1.weight[1,3]");
  CHECK(l.block("scale").label(0) == "scale");
  CHECK(l.block("cm").label(1) == "cm[1,0]");
  CHECK(l.block_of(12) == 1);
  CHECK(l.block_of(15) == 2);
  CHECK(l.block("cm").position_of({1, 2}) == 5);
  REQUIRE_THROWS_AS(l.add("fc1.bias", {1}), std::invalid_argument);
  REQUIRE_THROWS_AS(l.block("nope"), std::out_of_range);
  Vector<double> x = Vector<double>::LinSpaced(l.size(), 0, static_cast<double>(l.size() - 1));
  auto W = l.matrix(x, "fc1.weight");
  CHECK(W(1, 3) == 7);
  auto C = l.matrix(x, "cm");
  CHECK(C(1, 0) == 17);
}

TEST_CASE("a result survives the JSON round trip", "[checker][report]") {
  TinyMlp<float> mlp(4, 6, 6, 4, 5, false, MlpBug::transpose);
  const CheckResult r = check_loss<float>(mlp.loss_fn(), mlp.params(), mlp.layout());
  const CheckResult back = check_result_from_json(to_json(r));
  CHECK(to_json(back) == to_json(r));
  CHECK(back.blocks[0].hint_kind == HintKind::transposed);
  REQUIRE_THROWS_AS(check_result_from_json("{\"name\": 3}"), std::invalid_argument);
}

TEST_CASE("the text report gives an inconclusive tensor's scale fit as its evidence", "[checker][report]") {
  CheckResult r;
  r.name = "model";
  r.dtype = Dtype::f32;
  r.verdict = Verdict::inconclusive;
  BlockResult b;
  b.name = "fc1.weight";
  b.shape = {128, 64};
  b.size = b.checked = 8192;
  b.inconclusive = 1357;
  b.verdict = Verdict::inconclusive;
  b.scale = 1.0 / 1.00001;
  b.scale_error = 3.5e-5;
  b.scale_entries = 8192;
  r.blocks.push_back(b);
  const std::string text = to_text(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("fc1.weight: 1357 of 8192 coordinates are inconclusive"));
  CHECK_THAT(text, Catch::Contains("as a whole, analytic = 1.00001 x numeric (+-3.5e-05) over 8192 coordinates"));
  CHECK_THAT(text, Catch::Contains("no constant factor off by more than 0.012%"));
  // A tensor whose entries mismatch alone: its fit (over the others) is not shown.
  r.blocks[0].verdict = Verdict::mismatch;
  r.blocks[0].mismatches = 3;
  CHECK_THAT(to_text(r), !Catch::Contains("as a whole"));
  r.blocks[0].mismatches = 0;
  CHECK_THAT(to_text(r), Catch::Contains("    as a whole, analytic = 1.00001 x numeric"));
  r.blocks[0].verdict = Verdict::inconclusive;
  // Without a fit (too few entries), no such line.
  r.blocks[0].scale_entries = 10;
  CHECK_THAT(to_text(r), !Catch::Contains("as a whole"));
}

TEST_CASE("invalid options and sizes are refused", "[checker][errors]") {
  auto f = [](const Vector<double>& v) { return v.squaredNorm(); };
  auto g = [](const Vector<double>& v) { return Vector<double>(2 * v); };
  auto g_short = [](const Vector<double>& v) { return Vector<double>(v.head(1)); };
  CheckOptions bad;
  bad.safety = 0;
  REQUIRE_THROWS_AS(check_gradient<double>(f, g, Vector<double>::Ones(3), Layout{}, bad), std::invalid_argument);
  REQUIRE_THROWS_AS(check_gradient<double>(f, g_short, Vector<double>::Ones(3)), std::invalid_argument);
  REQUIRE_THROWS_AS(check_gradient<double>(f, g, Vector<double>::Ones(3), Layout::flat(2)), std::invalid_argument);
  CheckOptions cs;
  cs.method = Method::complex_step;
  REQUIRE_THROWS_AS(check_gradient<double>(f, g, Vector<double>::Ones(3), Layout{}, cs), std::invalid_argument);
}

TEST_CASE("extrapolation is paid for only where the first rows do not settle", "[checker][cost]") {
  TinyMlp<double> good(5, 6, 8, 4, 5, false);
  TinyMlp<double> bad(5, 6, 8, 4, 5, false, MlpBug::relative, 1e-4);
  TinyMlp<double> slight(5, 6, 8, 4, 5, false, MlpBug::relative, 1e-6);
  CheckOptions quick, early, all_rows;
  early.quick_precision = 0;
  all_rows.quick_precision = 0;
  all_rows.early_rows = 0;
  const CheckResult q = check_loss<double>(good.loss_fn(), good.params(), good.layout(), quick);
  const CheckResult a = check_loss<double>(good.loss_fn(), good.params(), good.layout(), early);
  const CheckResult b = check_loss<double>(good.loss_fn(), good.params(), good.layout(), all_rows);
  CHECK(q.passed);
  CHECK(a.passed);
  CHECK(b.passed);
  const std::int64_t n = good.layout().size();
  INFO("quick " << q.evaluations << ", early rows " << a.evaluations << ", all rows " << b.evaluations
                << ", coordinates " << n);
  CHECK(a.evaluations < b.evaluations / 2);
  CHECK(a.evaluations < 8 * n + 200);  // about 6 per coordinate plus the noise measurements
  CHECK(q.evaluations < 3 * n + 200);  // about 2 per coordinate: one central difference
  // Neither stage hides a 1e-4 relative error in f64, nor the quick one 1e-6.
  for (const CheckOptions& o : {quick, early}) {
    const CheckResult c = check_loss<double>(bad.loss_fn(), bad.params(), bad.layout(), o);
    CHECK(c.blocks[0].verdict == Verdict::mismatch);
  }
  const CheckResult s = check_loss<double>(slight.loss_fn(), slight.params(), slight.layout(), quick);
  CHECK(s.blocks[0].verdict == Verdict::mismatch);
}

TEST_CASE("small derivatives beside large ones are settled by one central difference", "[checker][cost]") {
  // f = 10 + sum_i c_i sin(x_i), with c_i from 1 down to 1e-5: the smallest
  // derivatives are far below the rounding of one central difference relative
  // to themselves, but not relative to their block's typical derivative.
  const int n = 400;
  Vector<double> c(n);
  for (int i = 0; i < n; ++i) c(i) = std::pow(10.0, -5.0 * i / (n - 1));
  auto f = [&c](const Vector<double>& x) { return 10 + (c.array() * x.array().sin()).sum(); };
  auto g = [&c](const Vector<double>& x) { return Vector<double>((c.array() * x.array().cos()).matrix()); };
  const Vector<double> x = Vector<double>::LinSpaced(n, -1, 1);
  Layout layout;
  layout.add("w", {n});
  const CheckResult r = check_gradient<double>(f, g, x, layout);
  INFO(to_text(r));
  CHECK(r.passed);
  CHECK(r.evaluations <= 2 * n + 40);  // one central difference each, and the noise measurement
  // An error of 1e-6 of the block's typical derivative, in its smallest
  // derivatives only, is still caught.
  auto g_bad = [&](const Vector<double>& v) {
    Vector<double> out = g(v);
    for (int i = n - 40; i < n; ++i) out(i) += 1e-6 * 0.2;
    return out;
  };
  const CheckResult b = check_gradient<double>(f, g_bad, x, layout);
  CHECK(b.blocks[0].verdict == Verdict::mismatch);
}
