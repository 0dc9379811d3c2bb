#pragma once
// A two-layer ReLU network with softmax cross-entropy, and its pieces (a
// linear layer, the loss on its own), each with a hand-written backward pass,
// as gradcheck models. The template flags switch on the bugs of the buggy
// twins (samples/buggy), written next to the correct line they replace.
//
// Shapes (row-major, one example per row):
//   linear:   y = x W^T + b            x [batch, in], W [out, in], b [out]
//             dx = dy W,  dW = dy^T x,  db = sum over the batch of dy
//   loss:     L = (1/batch) sum_i ( logsumexp(z_i) - z_i[label_i] )
//             dL/dz = (softmax(z) - onehot(label)) / batch
//   network:  z1 = linear1(X), a1 = relu(z1), z2 = linear2(a1), L = loss(z2)

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gradcheck/plugin.hpp"

namespace samples {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

template <typename T>
std::string precision_suffix() {
  return std::is_same_v<T, float> ? "_f32" : "_f64";
}

enum class LossBug {
  none,
  no_onehot,             ///< dL/dz = softmax / batch: the target is never subtracted
  missing_batch_factor,  ///< dL/dz = softmax - onehot: the loss is a mean, the gradient a sum
};

/// Mean softmax cross-entropy of the rows of `z` against `labels`; when `dz`
/// is not null it receives dL/dz.
template <typename T, LossBug Bug = LossBug::none>
T softmax_cross_entropy(const RowMatrix<T>& z, const std::vector<int>& labels, RowMatrix<T>* dz) {
  const Eigen::Index batch = z.rows();
  T loss = 0;
  if (dz) dz->resize(z.rows(), z.cols());
  for (Eigen::Index i = 0; i < batch; ++i) {
    const T m = z.row(i).maxCoeff();  // shift for a stable exp
    const auto e = (z.row(i).array() - m).exp();
    const T s = e.sum();
    loss += m + std::log(s) - z(i, labels[i]);
    if (dz) {
      dz->row(i) = e / s;
      if constexpr (Bug != LossBug::no_onehot) (*dz)(i, labels[i]) -= T(1);
      // (no_onehot BUG: the line above is missing)
    }
  }
  if (dz) {
    if constexpr (Bug != LossBug::missing_batch_factor) *dz /= T(batch);
    // (missing_batch_factor BUG: the line above is missing)
  }
  return loss / T(batch);
}

/// Draws `n` values from N(0, scale^2) into a row-major matrix.
template <typename T>
RowMatrix<T> normal_matrix(std::mt19937_64& rng, Eigen::Index rows, Eigen::Index cols, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  RowMatrix<T> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(normal(rng));
  return m;
}

/// Softmax cross-entropy on its own, checked with respect to the logits.
template <typename T, LossBug Bug = LossBug::none>
class SoftmaxCrossEntropy {
 public:
  using Scalar = T;
  static constexpr int batch = 8, classes = 5;
  static std::string name() {
    const char* bug = Bug == LossBug::no_onehot              ? "_no_onehot"
                      : Bug == LossBug::missing_batch_factor ? "_missing_batch_factor"
                                                             : "";
    return std::string("softmax_ce") + bug + precision_suffix<T>();
  }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() { return {{"logits", {batch, classes}}}; }

  explicit SoftmaxCrossEntropy(std::uint64_t seed) : labels_(batch) {
    std::mt19937_64 rng(seed);
    z0_ = normal_matrix<T>(rng, batch, classes, 1.0);
    std::uniform_int_distribution<int> label(0, classes - 1);
    for (int& l : labels_) l = label(rng);
  }
  void init(gradcheck::sdk::Tensors<T>& values) { values["logits"].mat() = z0_; }
  double loss(const gradcheck::sdk::ConstTensors<T>& values, gradcheck::sdk::Tensors<T>* grads) {
    const RowMatrix<T> z = values["logits"].mat();
    RowMatrix<T> dz;
    const T l = softmax_cross_entropy<T, Bug>(z, labels_, grads ? &dz : nullptr);
    if (grads) (*grads)["logits"].mat() = dz;
    return static_cast<double>(l);
  }

 private:
  RowMatrix<T> z0_;
  std::vector<int> labels_;
};

/// A linear (dense) layer y = x W^T + b, checked as loss = sum(dy * y) with a
/// fixed random dy. BiasNotSummed = true is the twin that takes the bias
/// gradient from the first example only instead of summing over the batch.
template <typename T, bool BiasNotSummed = false>
class Linear {
 public:
  using Scalar = T;
  static constexpr int batch = 6, in = 5, out = 4;
  static std::string name() {
    return std::string(BiasNotSummed ? "linear_bias_not_summed" : "linear") + precision_suffix<T>();
  }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() {
    return {{"x", {batch, in}}, {"weight", {out, in}}, {"bias", {out}}};
  }

  explicit Linear(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    dy_ = normal_matrix<T>(rng, batch, out, 1.0);
    x0_ = normal_matrix<T>(rng, batch, in, 1.0);
    w0_ = normal_matrix<T>(rng, out, in, 1.0 / std::sqrt(double(in)));
    b0_ = normal_matrix<T>(rng, out, 1, 0.1);
  }
  void init(gradcheck::sdk::Tensors<T>& values) {
    values["x"].mat() = x0_;
    values["weight"].mat() = w0_;
    values["bias"].vec() = b0_;
  }
  double loss(const gradcheck::sdk::ConstTensors<T>& values, gradcheck::sdk::Tensors<T>* grads) {
    const auto x = values["x"].mat();
    const auto w = values["weight"].mat();
    const auto b = values["bias"].vec();
    const RowMatrix<T> y = (x * w.transpose()).rowwise() + b.transpose();
    if (grads) {
      (*grads)["x"].mat() = dy_ * w;
      (*grads)["weight"].mat() = dy_.transpose() * x;
      if constexpr (BiasNotSummed) {
        (*grads)["bias"].vec() = dy_.row(0).transpose();  // BUG: one example, not the batch
      } else {
        (*grads)["bias"].vec() = dy_.colwise().sum().transpose();
      }
    }
    return static_cast<double>((dy_.array() * y.array()).sum());
  }

 private:
  RowMatrix<T> dy_, x0_, w0_, b0_;
};

/// Two-layer ReLU network with softmax cross-entropy on a fixed batch drawn
/// from the seed; the parameters are the differentiable tensors.
template <typename T>
class Mlp {
 public:
  using Scalar = T;
  static constexpr int batch = 8, in = 12, hidden = 16, classes = 5;
  static std::string name() { return "mlp" + precision_suffix<T>(); }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() {
    return {{"fc1.weight", {hidden, in}},
            {"fc1.bias", {hidden}},
            {"fc2.weight", {classes, hidden}},
            {"fc2.bias", {classes}}};
  }

  explicit Mlp(std::uint64_t seed) : labels_(batch) {
    std::mt19937_64 rng(seed);
    x_ = normal_matrix<T>(rng, batch, in, 1.0);
    std::uniform_int_distribution<int> label(0, classes - 1);
    for (int& l : labels_) l = label(rng);
    // He initialisation; a hidden unit is redrawn until none of the batch's
    // pre-activations is within 0.2 standard deviations of 0, so the check
    // at the starting point does not straddle a ReLU kink.
    const double scale = std::sqrt(2.0 / in);
    w1_.resize(hidden, in);
    b1_ = RowMatrix<T>::Zero(hidden, 1);
    for (int h = 0; h < hidden; ++h) {
      for (;;) {
        w1_.row(h) = normal_matrix<T>(rng, 1, in, scale);
        const Vector<T> z = x_ * w1_.row(h).transpose();
        const T sd = std::sqrt(z.squaredNorm() / T(batch));
        if (z.cwiseAbs().minCoeff() > T(0.2) * sd) break;
      }
    }
    w2_ = normal_matrix<T>(rng, classes, hidden, std::sqrt(1.0 / hidden));
    b2_ = RowMatrix<T>::Zero(classes, 1);
  }

  void init(gradcheck::sdk::Tensors<T>& values) {
    values["fc1.weight"].mat() = w1_;
    values["fc1.bias"].vec() = b1_;
    values["fc2.weight"].mat() = w2_;
    values["fc2.bias"].vec() = b2_;
  }

  double loss(const gradcheck::sdk::ConstTensors<T>& values, gradcheck::sdk::Tensors<T>* grads) {
    const auto w1 = values["fc1.weight"].mat();
    const auto b1 = values["fc1.bias"].vec();
    const auto w2 = values["fc2.weight"].mat();
    const auto b2 = values["fc2.bias"].vec();
    const RowMatrix<T> z1 = (x_ * w1.transpose()).rowwise() + b1.transpose();
    const RowMatrix<T> a1 = z1.cwiseMax(T(0));
    const RowMatrix<T> z2 = (a1 * w2.transpose()).rowwise() + b2.transpose();
    RowMatrix<T> dz2;
    const T l = softmax_cross_entropy<T>(z2, labels_, grads ? &dz2 : nullptr);
    if (grads) {
      (*grads)["fc2.weight"].mat() = dz2.transpose() * a1;
      (*grads)["fc2.bias"].vec() = dz2.colwise().sum().transpose();
      const RowMatrix<T> da1 = dz2 * w2;
      const RowMatrix<T> dz1 = (z1.array() > T(0)).select(da1, RowMatrix<T>::Zero(batch, hidden));
      (*grads)["fc1.weight"].mat() = dz1.transpose() * x_;
      (*grads)["fc1.bias"].vec() = dz1.colwise().sum().transpose();
    }
    return static_cast<double>(l);
  }

 private:
  RowMatrix<T> x_, w1_, b1_, w2_, b2_;
  std::vector<int> labels_;
};

}  // namespace samples
