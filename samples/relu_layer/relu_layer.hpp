#pragma once
// A ReLU layer with a hand-written backward pass, as a gradcheck model.
//
// Forward:  y = max(x, 0), elementwise, over a batch x [batch, features].
// Backward: dx = dy * (x > 0): the upstream gradient passes where the input
//           was positive and is blocked (the "mask") where it was not.
// gradcheck sees the layer as the scalar loss = sum(dy * y) with a fixed random
// dy drawn from the seed, so d loss / dx is exactly what backward returns.

#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gradcheck/plugin.hpp"

namespace samples {

template <typename T>
std::string relu_dtype_suffix() {
  return std::is_same_v<T, float> ? "_f32" : "_f64";
}

// ForgetMask = true is the classic first bug: backward returns dy unchanged.
template <typename T, bool ForgetMask = false>
class ReluLayer {
 public:
  using Scalar = T;
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  static constexpr int batch = 8, features = 16;

  static std::string name() { return std::string(ForgetMask ? "relu_no_mask" : "relu") + relu_dtype_suffix<T>(); }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() { return {{"x", {batch, features}}}; }

  explicit ReluLayer(std::uint64_t seed) : dy_(batch, features), x0_(batch, features) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> magnitude(0.1, 1.0);
    std::bernoulli_distribution positive(0.5);
    for (Eigen::Index i = 0; i < dy_.size(); ++i) dy_.data()[i] = static_cast<T>(normal(rng));
    // Inputs kept away from 0, where ReLU has its kink.
    for (Eigen::Index i = 0; i < x0_.size(); ++i)
      x0_.data()[i] = static_cast<T>((positive(rng) ? 1 : -1) * magnitude(rng));
  }

  void init(gradcheck::sdk::Tensors<T>& values) { values["x"].mat() = x0_; }

  double loss(const gradcheck::sdk::ConstTensors<T>& values, gradcheck::sdk::Tensors<T>* grads) {
    const auto x = values["x"].mat();
    const Matrix y = x.cwiseMax(T(0));  // forward
    if (grads) {
      auto dx = (*grads)["x"].mat();
      if constexpr (ForgetMask) {
        dx = dy_;  // BUG: the gradient flows through units that were off
      } else {
        dx = (x.array() > T(0)).select(dy_, Matrix::Zero(batch, features));  // backward
      }
    }
    return static_cast<double>((dy_.array() * y.array()).sum());
  }

 private:
  Matrix dy_;  // the fixed upstream gradient
  Matrix x0_;  // the starting input
};

}  // namespace samples
