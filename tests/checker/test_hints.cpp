// Hint accuracy on a labelled set of bug shapes: each is a layer or loss a
// user writes by hand, with one bug of a known shape, checked in f64 through
// check_layer or check_loss; the hint kind must name the shape.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gradcheck/gradcheck.hpp"

using namespace gradcheck;

namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Vector<double> seeded(std::uint64_t seed, Eigen::Index n, double scale = 1) {
  const auto z = normal_vector(seed, static_cast<std::size_t>(n));
  Vector<double> v(n);
  for (Eigen::Index i = 0; i < n; ++i) v(i) = scale * z[static_cast<std::size_t>(i)];
  return v;
}

Mat as_mat(const Vector<double>& v, Eigen::Index r, Eigen::Index c) { return Eigen::Map<const Mat>(v.data(), r, c); }
Vector<double> as_vec(const Mat& m) { return Eigen::Map<const Vector<double>>(m.data(), m.size()); }

constexpr Eigen::Index R = 6, C = 8;

// LayerNorm over each row of x [R, C] (no affine part):
//   y = (x - mean) / sigma,  dx = (dy - mean(dy) - y mean(dy y)) / sigma.
CheckResult layer_norm(bool forget_mean_dy) {
  auto fwd = [](const Vector<double>& v) {
    Mat x = as_mat(v, R, C), y(R, C);
    for (Eigen::Index r = 0; r < R; ++r) {
      const double mu = x.row(r).mean();
      const double sigma = std::sqrt((x.row(r).array() - mu).square().mean() + 1e-5);
      y.row(r) = (x.row(r).array() - mu) / sigma;
    }
    return as_vec(y);
  };
  auto bwd = [fwd, forget_mean_dy](const Vector<double>& v, const Vector<double>& dyv) {
    const Mat x = as_mat(v, R, C), y = as_mat(fwd(v), R, C), dy = as_mat(dyv, R, C);
    Mat dx(R, C);
    for (Eigen::Index r = 0; r < R; ++r) {
      const double mu = x.row(r).mean();
      const double sigma = std::sqrt((x.row(r).array() - mu).square().mean() + 1e-5);
      const double mean_dy = forget_mean_dy ? 0.0 : dy.row(r).mean();
      const double mean_dyy = (dy.row(r).array() * y.row(r).array()).mean();
      dx.row(r) = (dy.row(r).array() - mean_dy - y.row(r).array() * mean_dyy) / sigma;
    }
    return as_vec(dx);
  };
  Layout l;
  l.add("x", {R, C});
  return check_layer<double>(fwd, bwd, seeded(11, R * C), l);
}

// Mean cross-entropy with a label-smoothed target over logits z [R, C]:
// gradient (p - t) / R with t = (1 - eps) onehot + eps / C.
CheckResult smoothed_cross_entropy(bool ignore_smoothing) {
  const double eps = 0.1;
  auto target = [eps](Eigen::Index r, Eigen::Index k, bool smooth) {
    const double onehot = k == (r * 3) % C ? 1.0 : 0.0;
    return smooth ? (1 - eps) * onehot + eps / C : onehot;
  };
  auto fg = [&](const Vector<double>& v, Vector<double>* g) {
    const Mat z = as_mat(v, R, C);
    double loss = 0;
    Mat grad(R, C);
    for (Eigen::Index r = 0; r < R; ++r) {
      const double m = z.row(r).maxCoeff();
      const Eigen::ArrayXd e = (z.row(r).array() - m).exp().transpose();
      const Eigen::ArrayXd p = e / e.sum();
      for (Eigen::Index k = 0; k < C; ++k) {
        loss -= target(r, k, true) * std::log(p(k)) / R;
        grad(r, k) = (p(k) - target(r, k, !ignore_smoothing)) / R;
      }
    }
    if (g != nullptr) *g = as_vec(grad);
    return loss;
  };
  Layout l;
  l.add("logits", {R, C});
  return check_loss<double>(fg, seeded(12, R * C), l);
}

// A least-squares fit with an L2 penalty lambda ||w||^2 over w [R, C].
CheckResult l2_regularised(bool forget_factor_2) {
  const double lambda = 0.05;
  const Vector<double> target = seeded(13, R * C);
  auto fg = [&](const Vector<double>& w, Vector<double>* g) {
    const Vector<double> r = w.array().sin().matrix() - target;
    if (g != nullptr)
      *g = (r.array() * w.array().cos()).matrix() + (forget_factor_2 ? 1.0 : 2.0) * lambda * w;
    return 0.5 * r.squaredNorm() + lambda * w.squaredNorm();
  };
  Layout l;
  l.add("w", {R, C});
  return check_loss<double>(fg, seeded(14, R * C), l);
}

// A 1-D convolution with stride 2 (kernel K over input length N): the weight
// gradient of the buggy version reads the input as if the stride were 1.
CheckResult strided_convolution(bool ignore_stride) {
  constexpr Eigen::Index N = 21, K = 3, S = 2, O = (N - K) / S + 1;
  const Vector<double> input = seeded(15, N);
  const Vector<double> dy = seeded(16, O);
  auto fg = [&](const Vector<double>& w, Vector<double>* g) {
    double loss = 0;
    if (g != nullptr) g->setZero(K);
    for (Eigen::Index o = 0; o < O; ++o) {
      double y = 0;
      for (Eigen::Index k = 0; k < K; ++k) y += w(k) * input(o * S + k);
      loss += dy(o) * y;
      if (g != nullptr)
        for (Eigen::Index k = 0; k < K; ++k) (*g)(k) += dy(o) * input((ignore_stride ? o : o * S) + k);
    }
    return loss;
  };
  Layout l;
  l.add("kernel", {K});
  return check_loss<double>(fg, seeded(17, K), l);
}

// A dense layer y = W x over a batch, x [C] per sample; the buggy gradient
// of W is off by a factor: 2, -1, or the batch size.
CheckResult scaled_dense(double factor) {
  const Mat X = as_mat(seeded(18, 5 * C), 5, C);
  const Mat dY = as_mat(seeded(19, 5 * R), 5, R);
  auto fg = [&](const Vector<double>& wv, Vector<double>* g) {
    const Mat W = as_mat(wv, R, C);
    const Mat Y = X * W.transpose();
    if (g != nullptr) *g = as_vec(factor * (dY.transpose() * X));
    return (Y.array() * dY.array()).sum();
  };
  Layout l;
  l.add("W", {R, C});
  return check_loss<double>(fg, seeded(20, R * C), l);
}

// Softmax cross-entropy with one-hot targets over logits z [R, C]: the buggy
// gradient forgets to subtract the target (p instead of p - onehot).
CheckResult cross_entropy(bool forget_target) {
  auto fg = [&](const Vector<double>& v, Vector<double>* g) {
    const Mat z = as_mat(v, R, C);
    double loss = 0;
    Mat grad(R, C);
    for (Eigen::Index r = 0; r < R; ++r) {
      const Eigen::Index t = (r * 5) % C;
      const double m = z.row(r).maxCoeff();
      const Eigen::ArrayXd e = (z.row(r).array() - m).exp().transpose();
      const Eigen::ArrayXd p = e / e.sum();
      loss -= std::log(p(t));
      for (Eigen::Index k = 0; k < C; ++k) grad(r, k) = p(k) - (forget_target || k != t ? 0.0 : 1.0);
    }
    if (g != nullptr) *g = as_vec(grad);
    return loss;
  };
  Layout l;
  l.add("logits", {R, C});
  return check_loss<double>(fg, seeded(21, R * C), l);
}

// A ReLU layer's input gradient, y = relu(x) over x [R, C]: the buggy
// backward passes dy through where x < 0 (the mask left out).
CheckResult relu(bool forget_mask) {
  auto fwd = [](const Vector<double>& v) { return Vector<double>(v.cwiseMax(0.0)); };
  auto bwd = [forget_mask](const Vector<double>& v, const Vector<double>& dy) {
    return Vector<double>(forget_mask ? dy : Vector<double>(dy.array() * (v.array() > 0).cast<double>()));
  };
  Layout l;
  l.add("x", {R, C});
  return check_layer<double>(fwd, bwd, seeded(22, R * C), l);
}

// A square dense layer y = W x whose weight gradient is transposed.
CheckResult transposed_dense(bool transpose) {
  constexpr Eigen::Index D = 7;
  const Mat X = as_mat(seeded(23, 4 * D), 4, D);
  const Mat dY = as_mat(seeded(24, 4 * D), 4, D);
  auto fg = [&](const Vector<double>& wv, Vector<double>* g) {
    const Mat W = as_mat(wv, D, D);
    const Mat Y = X * W.transpose();
    const Mat gw = dY.transpose() * X;
    if (g != nullptr) *g = as_vec(transpose ? Mat(gw.transpose()) : gw);
    return (Y.array() * dY.array()).sum();
  };
  Layout l;
  l.add("W", {D, D});
  return check_loss<double>(fg, seeded(25, D * D), l);
}

struct Shape {
  std::string name;
  std::function<CheckResult(bool)> run;
  HintKind expected;
};

}  // namespace

TEST_CASE("hints name the bug's shape on a labelled set, and no correct version fails", "[checker][hints]") {
  const std::vector<Shape> shapes = {
      {"LayerNorm without the mean of dy", layer_norm, HintKind::constant_per_line},
      {"cross-entropy ignoring label smoothing", smoothed_cross_entropy, HintKind::two_constants},
      {"L2 penalty missing its factor 2", l2_regularised, HintKind::proportional},
      {"strided convolution's weight gradient ignoring the stride", strided_convolution, HintKind::varying},
      {"dense layer's gradient doubled", [](bool bug) { return scaled_dense(bug ? 2 : 1); }, HintKind::constant_ratio},
      {"dense layer's gradient with its sign flipped", [](bool bug) { return scaled_dense(bug ? -1 : 1); },
       HintKind::constant_ratio},
      {"cross-entropy without the one-hot target subtracted", cross_entropy, HintKind::constant_offset},
      {"ReLU backward without its mask", relu, HintKind::missing_term},
      {"dense layer's weight gradient transposed", transposed_dense, HintKind::transposed},
  };
  int right = 0;
  for (const auto& s : shapes) {
    const CheckResult good = s.run(false);
    INFO(s.name << " (correct)\n" << to_text(good));
    CHECK(good.passed);
    const CheckResult bad = s.run(true);
    INFO(s.name << " (bug)\n" << to_text(bad));
    CHECK_FALSE(bad.passed);
    const bool named = !bad.blocks.empty() && bad.blocks[0].hint_kind == s.expected;
    CHECK(named);
    right += named;
  }
  // The figure docs/checker.md reports.
  WARN("hint accuracy on the labelled bug shapes: " << right << " of " << shapes.size());
  CHECK(right == static_cast<int>(shapes.size()));
}

TEST_CASE("the strided convolution's hint points at the index arithmetic", "[checker][hints]") {
  const CheckResult bad = strided_convolution(true);
  INFO(to_text(bad));
  CHECK_THAT(bad.blocks[0].hint, Catch::Matchers::Contains("a stride, a row pitch or an offset"));
}
