#pragma once
// Test functions with closed-form derivatives, and a tiny MLP whose backward
// pass can carry the bugs learners write.

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gradcheck/check.hpp"

namespace gradcheck::testing {

template <class T>
struct SmoothFunction {
  std::string name;
  std::function<double(const Vector<T>&)> f;
  std::function<Vector<T>(const Vector<T>&)> g;
  std::function<Vector<T>(std::uint64_t)> point;
};

template <class T>
Vector<T> random_point(std::uint64_t seed, Eigen::Index n, double lo, double hi) {
  auto z = detail::normal_vector(seed * 7919 + 13, static_cast<std::size_t>(n));
  Vector<T> x(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double u = 0.5 * (1 + std::erf(z[static_cast<std::size_t>(i)] / std::sqrt(2.0)));
    x(i) = static_cast<T>(lo + (hi - lo) * u);
  }
  return x;
}

// Functions computed in T (as the user's code would be), derivatives exact.
template <class T>
std::vector<SmoothFunction<T>> smooth_functions() {
  std::vector<SmoothFunction<T>> fs;
  fs.push_back({"polynomial",
                [](const Vector<T>& x) {
                  T s = 0;
                  for (Eigen::Index i = 0; i < x.size(); ++i) s += T(3) * x(i) * x(i) * x(i) - T(2) * x(i) * x(i) + x(i) * T(i + 1);
                  return static_cast<double>(s);
                },
                [](const Vector<T>& x) {
                  Vector<T> g(x.size());
                  for (Eigen::Index i = 0; i < x.size(); ++i) g(i) = T(9) * x(i) * x(i) - T(4) * x(i) + T(i + 1);
                  return g;
                },
                [](std::uint64_t s) { return random_point<T>(s, 7, -2, 2); }});
  fs.push_back({"exp_log_trig",
                [](const Vector<T>& x) {
                  T s = 0;
                  for (Eigen::Index i = 0; i < x.size(); ++i) s += std::exp(x(i)) + std::log(x(i)) * std::sin(x(i)) + std::cos(T(2) * x(i));
                  return static_cast<double>(s);
                },
                [](const Vector<T>& x) {
                  Vector<T> g(x.size());
                  for (Eigen::Index i = 0; i < x.size(); ++i)
                    g(i) = std::exp(x(i)) + std::sin(x(i)) / x(i) + std::log(x(i)) * std::cos(x(i)) - T(2) * std::sin(T(2) * x(i));
                  return g;
                },
                [](std::uint64_t s) { return random_point<T>(s, 6, 0.5, 3); }});
  fs.push_back({"log_sum_exp",
                [](const Vector<T>& x) {
                  const T m = x.maxCoeff();
                  return static_cast<double>(m + std::log((x.array() - m).exp().sum()));
                },
                [](const Vector<T>& x) {
                  const T m = x.maxCoeff();
                  Vector<T> e = (x.array() - m).exp().matrix();
                  return Vector<T>(e / e.sum());
                },
                [](std::uint64_t s) { return random_point<T>(s, 10, -3, 3); }});
  fs.push_back({"softmax_weighted",  // sum_k w_k softmax(x)_k
                [](const Vector<T>& x) {
                  Vector<T> e = (x.array() - x.maxCoeff()).exp().matrix();
                  e /= e.sum();
                  T s = 0;
                  for (Eigen::Index k = 0; k < x.size(); ++k) s += T(k + 1) * e(k);
                  return static_cast<double>(s);
                },
                [](const Vector<T>& x) {
                  Vector<T> p = (x.array() - x.maxCoeff()).exp().matrix();
                  p /= p.sum();
                  T dot = 0;
                  for (Eigen::Index k = 0; k < x.size(); ++k) dot += T(k + 1) * p(k);
                  Vector<T> g(x.size());
                  for (Eigen::Index k = 0; k < x.size(); ++k) g(k) = p(k) * (T(k + 1) - dot);
                  return g;
                },
                [](std::uint64_t s) { return random_point<T>(s, 8, -2, 2); }});
  fs.push_back({"l2_norm",
                [](const Vector<T>& x) { return static_cast<double>(x.norm()); },
                [](const Vector<T>& x) { return Vector<T>(x / x.norm()); },
                [](std::uint64_t s) { return random_point<T>(s, 9, -1, 1); }});
  fs.push_back({"tanh_net",  // sum tanh(A x + b)^2 with fixed A, b
                [](const Vector<T>& x) {
                  T s = 0;
                  for (int r = 0; r < 4; ++r) {
                    T z = T(0.1) * T(r);
                    for (Eigen::Index i = 0; i < x.size(); ++i) z += T(std::sin(1.0 + r * 3 + i)) * x(i);
                    s += std::tanh(z) * std::tanh(z);
                  }
                  return static_cast<double>(s);
                },
                [](const Vector<T>& x) {
                  Vector<T> g = Vector<T>::Zero(x.size());
                  for (int r = 0; r < 4; ++r) {
                    T z = T(0.1) * T(r);
                    for (Eigen::Index i = 0; i < x.size(); ++i) z += T(std::sin(1.0 + r * 3 + i)) * x(i);
                    const T t = std::tanh(z);
                    for (Eigen::Index i = 0; i < x.size(); ++i) g(i) += T(2) * t * (T(1) - t * t) * T(std::sin(1.0 + r * 3 + i));
                  }
                  return g;
                },
                [](std::uint64_t s) { return random_point<T>(s, 5, -1, 1); }});
  return fs;
}

/// Bugs a learner writes into an MLP's backward pass.
enum class MlpBug { none, sign, factor2, missing_term, transpose, off_by_one, unwritten, relative };

/// A two-layer MLP (tanh or ReLU hidden layer) with mean softmax cross-entropy.
/// Parameters: fc1.weight [h, in], fc1.bias [h], fc2.weight [c, h], fc2.bias [c].
template <class T>
class TinyMlp {
 public:
  TinyMlp(std::uint64_t seed, int in, int hidden, int classes, int batch, bool relu, MlpBug bug = MlpBug::none,
          double rel = 0)
      : in_(in), h_(hidden), c_(classes), b_(batch), relu_(relu), bug_(bug), rel_(rel) {
    layout_.add("fc1.weight", {hidden, in}).add("fc1.bias", {hidden}).add("fc2.weight", {classes, hidden}).add("fc2.bias", {classes});
    auto z = detail::normal_vector(seed, static_cast<std::size_t>(layout_.size() + batch * in + batch));
    params_.resize(layout_.size());
    std::size_t k = 0;
    for (Eigen::Index i = 0; i < params_.size(); ++i) params_(i) = static_cast<T>(0.5 * z[k++]);
    X_.resize(batch, in);
    for (int r = 0; r < batch; ++r)
      for (int j = 0; j < in; ++j) X_(r, j) = static_cast<T>(z[k++]);
    for (int r = 0; r < batch; ++r) y_.push_back(static_cast<int>(std::abs(z[k++]) * 1000) % classes);
  }
  const Layout& layout() const { return layout_; }
  const Vector<T>& params() const { return params_; }

  double loss(const Vector<T>& p, Vector<T>* grad) const {
    auto W1 = layout_.matrix(p, "fc1.weight");
    auto b1 = layout_.matrix(p, "fc1.bias");
    auto W2 = layout_.matrix(p, "fc2.weight");
    auto b2 = layout_.matrix(p, "fc2.bias");
    Matrix<T> Z = X_ * W1.transpose();
    Z.rowwise() += b1.col(0).transpose();
    Matrix<T> H = relu_ ? Matrix<T>(Z.cwiseMax(T(0))) : Matrix<T>(Z.array().tanh().matrix());
    Matrix<T> S = H * W2.transpose();
    S.rowwise() += b2.col(0).transpose();
    T loss = 0;
    Matrix<T> dS(b_, c_);
    for (int r = 0; r < b_; ++r) {
      const T m = S.row(r).maxCoeff();
      Vector<T> e = (S.row(r).array() - m).exp().matrix().transpose();
      const T sum = e.sum();
      loss += std::log(sum) + m - S(r, y_[r]);
      dS.row(r) = (e / sum).transpose();
      dS(r, y_[r]) -= T(1);
    }
    loss /= T(b_);
    dS /= T(b_);
    if (grad != nullptr) {
      grad->resize(p.size());
      auto gW1 = layout_.matrix(*grad, "fc1.weight");
      auto gb1 = layout_.matrix(*grad, "fc1.bias");
      auto gW2 = layout_.matrix(*grad, "fc2.weight");
      auto gb2 = layout_.matrix(*grad, "fc2.bias");
      gW2 = dS.transpose() * H;
      gb2 = dS.colwise().sum().transpose();
      Matrix<T> dH = dS * W2;
      Matrix<T> dZ = relu_ ? Matrix<T>(dH.array() * (Z.array() > T(0)).template cast<T>())
                           : Matrix<T>(dH.array() * (T(1) - H.array() * H.array()));
      Matrix<T> w1 = dZ.transpose() * X_;
      switch (bug_) {
        case MlpBug::none: break;
        case MlpBug::sign: w1 = -w1; break;
        case MlpBug::factor2: w1 *= T(2); break;
        case MlpBug::missing_term:  // the activation's derivative left out of the chain
          w1 = dH.transpose() * X_;
          break;
        case MlpBug::transpose: w1 = Matrix<T>(w1.transpose()); break;
        case MlpBug::off_by_one: {
          Matrix<T> shifted = w1;
          for (int r = 0; r < h_; ++r)
            for (int j = 0; j < in_; ++j) shifted(r, j) = w1(r, (j + 1) % in_);
          w1 = shifted;
          break;
        }
        case MlpBug::unwritten: w1(h_ / 2, in_ / 2) = T(0); break;
        case MlpBug::relative: w1 *= static_cast<T>(1 + rel_); break;
      }
      gW1 = w1;
      gb1 = dZ.colwise().sum().transpose();
    }
    return static_cast<double>(loss);
  }
  auto loss_fn() const {
    return [this](const Vector<T>& p, Vector<T>* g) { return loss(p, g); };
  }

 private:
  int in_, h_, c_, b_;
  bool relu_;
  MlpBug bug_;
  double rel_;
  Layout layout_;
  Vector<T> params_;
  Matrix<T> X_;
  std::vector<int> y_;
};

// A dense layer act(x w) computed in float throughout (as a float32 framework
// computes it), reduced to a scalar with seeded weights r: x [B x I] and
// w [I x O], drawn from `seed` as normals times x_scale and w_scale, are both
// checked (blocks "x" and "w"); `grad` is the backward pass's act'.
template <class Act, class Grad>
CheckResult check_dense_f32(std::uint64_t seed, int B, int I, int O, double x_scale, double w_scale, Act act, Grad grad,
                            const CheckOptions& opt) {
  const auto z = detail::normal_vector(seed, static_cast<std::size_t>(B * I + I * O + B * O));
  Vector<float> p(B * I + I * O);
  for (Eigen::Index k = 0; k < p.size(); ++k)
    p(k) = static_cast<float>((k < B * I ? x_scale : w_scale) * z[static_cast<std::size_t>(k)]);
  const std::vector<float> r(z.begin() + B * I + I * O, z.end());
  auto fg = [&](const Vector<float>& v, Vector<float>* g) {
    float loss = 0;
    if (g != nullptr) g->setZero(v.size());
    for (int b = 0; b < B; ++b)
      for (int o = 0; o < O; ++o) {
        float a = 0;
        for (int i = 0; i < I; ++i) a += v(b * I + i) * v(B * I + i * O + o);
        const float w = r[static_cast<std::size_t>(b * O + o)];
        loss += act(a) * w;
        if (g == nullptr) continue;
        const float s = grad(a) * w;
        for (int i = 0; i < I; ++i) {
          (*g)(b * I + i) += s * v(B * I + i * O + o);
          (*g)(B * I + i * O + o) += s * v(b * I + i);
        }
      }
    return static_cast<double>(loss);
  };
  Layout l;
  l.add("x", {B, I});
  l.add("w", {I, O});
  return check_loss<float>(fg, p, l, opt);
}

}  // namespace gradcheck::testing
