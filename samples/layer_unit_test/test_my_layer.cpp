// How most users meet gradcheck: a unit test of their own layer. The layer is
// a softmax over each row followed by a weighted sum (an attention-style
// pooling); forward and backward are written by hand over Eigen, and the test
// fails with the checker's readable report when the backward is wrong.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <gradcheck/gradcheck.hpp>

using gradcheck::Matrix;
using gradcheck::Vector;

// y[r] = sum_c softmax(S[r, :])_c * V[c], for scores S [rows x cols], values V [cols].
struct SoftmaxPool {
  static constexpr int rows = 3, cols = 4;
  gradcheck::Layout layout;
  SoftmaxPool() { layout.add("scores", {rows, cols}).add("values", {cols}); }

  static Vector<double> softmax(const Vector<double>& s) {
    Vector<double> e = (s.array() - s.maxCoeff()).exp().matrix();
    return e / e.sum();
  }
  Vector<double> forward(const Vector<double>& p) const {
    auto S = layout.matrix(p, "scores");
    auto V = layout.matrix(p, "values");
    Vector<double> y(rows);
    for (int r = 0; r < rows; ++r) y(r) = softmax(S.row(r).transpose()).dot(V.col(0));
    return y;
  }
  Vector<double> backward(const Vector<double>& p, const Vector<double>& dy) const {
    auto S = layout.matrix(p, "scores");
    auto V = layout.matrix(p, "values");
    Vector<double> grad = Vector<double>::Zero(layout.size());
    auto dS = layout.matrix(grad, "scores");
    auto dV = layout.matrix(grad, "values");
    for (int r = 0; r < rows; ++r) {
      const Vector<double> a = softmax(S.row(r).transpose());
      const double y = a.dot(V.col(0));
      dV.col(0) += dy(r) * a;
#ifdef PLANT_BUG
      dS.row(r) = (dy(r) * a.array() * V.col(0).array()).matrix().transpose();  // forgot "- y"
      (void)y;
#else
      dS.row(r) = (dy(r) * a.array() * (V.col(0).array() - y)).matrix().transpose();
#endif
    }
    return grad;
  }
};

TEST_CASE("SoftmaxPool backward matches finite differences") {
  SoftmaxPool layer;
  Vector<double> p = Vector<double>::LinSpaced(layer.layout.size(), -1.0, 2.0);
  auto fwd = [&](const Vector<double>& v) { return layer.forward(v); };
  auto bwd = [&](const Vector<double>& v, const Vector<double>& dy) { return layer.backward(v, dy); };
  const gradcheck::CheckResult r = gradcheck::check_layer<double>(fwd, bwd, p, layer.layout);
  INFO(gradcheck::to_text(r));
  REQUIRE(r.passed);
}
