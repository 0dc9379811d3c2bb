// A wide float32 model (about 197k values) for auto mode's follow-up of the
// tensors fast mode leaves inconclusive: a two-layer tanh regression,
// loss = mean_b (w2 . tanh(W1 x_b + b1) - y_b)^2 / 2 over W1 [512, 384],
// b1 [512], w2 [512]. "wide_f32" is correct; "wide_b1_scaled" returns b1's
// gradient times 1.001, a constant factor no single coordinate shows in f32.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gradcheck/plugin.hpp"

namespace sdk = gradcheck::sdk;

template <int Bug>
class Wide {
 public:
  using Scalar = float;
  static constexpr int H = 512, D = 384, B = 8;
  static std::string name() { return Bug == 0 ? "wide_f32" : "wide_b1_scaled"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"W1", {H, D}}, {"b1", {H}}, {"w2", {H}}}; }
  explicit Wide(std::uint64_t seed) : X_(D, B), y_(B) {
    std::mt19937_64 rng(seed + 11);
    std::normal_distribution<float> n;
    for (Eigen::Index i = 0; i < X_.size(); ++i) X_.data()[i] = n(rng);
    for (Eigen::Index i = 0; i < y_.size(); ++i) y_[i] = n(rng);
  }
  void init(sdk::Tensors<float>& v) {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> n;
    auto w1 = v["W1"].mat();
    for (Eigen::Index i = 0; i < w1.size(); ++i) w1.data()[i] = n(rng) / std::sqrt(float(D));
    for (Eigen::Index i = 0; i < H; ++i) v["b1"][i] = 0.1f * n(rng);
    for (Eigen::Index i = 0; i < H; ++i) v["w2"][i] = n(rng) / std::sqrt(float(H));
  }
  double loss(const sdk::ConstTensors<float>& v, sdk::Tensors<float>* grads) {
    const auto w1 = v["W1"].mat();
    const auto b1 = v["b1"].vec();
    const auto w2 = v["w2"].vec();
    const Eigen::MatrixXf pre = (w1 * X_).colwise() + b1;
    const Eigen::MatrixXf h = pre.array().tanh().matrix();
    const Eigen::VectorXf r = h.transpose() * w2 - y_;
    const float l = 0.5f * r.squaredNorm() / float(B);
    if (grads) {
      const Eigen::VectorXf dr = r / float(B);
      const Eigen::MatrixXf dpre = ((w2 * dr.transpose()).array() * (1 - h.array().square())).matrix();
      (*grads)["W1"].mat() = dpre * X_.transpose();
      (*grads)["b1"].vec() = dpre.rowwise().sum() * (Bug == 1 ? 1.001f : 1.0f);
      (*grads)["w2"].vec() = h * dr;
    }
    return static_cast<double>(l);
  }

 private:
  Eigen::MatrixXf X_;
  Eigen::VectorXf y_;
};

GRADCHECK_EXPORT_MODELS(Wide<0>, Wide<1>)
