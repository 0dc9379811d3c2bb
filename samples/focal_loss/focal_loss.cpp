// Focal loss (Lin et al., 2017) as a loss definition checked on its own, with
// respect to its input logits: for people who design losses rather than layers.
//
//   p_i  = softmax(z_i)[y_i]                        (probability of the true class)
//   L    = (1/batch) sum_i  -(1 - p_i)^gamma * log(p_i)
//   dL/dz_ij = (1/batch) * [gamma (1-p)^(gamma-1) p log p - (1-p)^gamma] * (delta_{j,y_i} - s_ij)
//
// where s_i = softmax(z_i). The last factor is dp/dz_ij / p: the chain rule
// through the softmax of the true class. gamma = 0 gives cross-entropy back.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gradcheck/plugin.hpp"

namespace {

template <typename T>
class FocalLoss {
 public:
  using Scalar = T;
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  static constexpr int batch = 16, classes = 5;
  static constexpr double gamma = 2.0;

  static std::string name() { return std::is_same_v<T, float> ? "focal_loss_f32" : "focal_loss_f64"; }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() { return {{"logits", {batch, classes}}}; }

  explicit FocalLoss(std::uint64_t seed) : z0_(batch, classes), labels_(batch) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.5);
    for (Eigen::Index i = 0; i < z0_.size(); ++i) z0_.data()[i] = static_cast<T>(normal(rng));
    std::uniform_int_distribution<int> label(0, classes - 1);
    for (int& l : labels_) l = label(rng);
  }

  void init(gradcheck::sdk::Tensors<T>& values) { values["logits"].mat() = z0_; }

  double loss(const gradcheck::sdk::ConstTensors<T>& values, gradcheck::sdk::Tensors<T>* grads) {
    const auto z = values["logits"].mat();
    const T g = T(gamma);
    T total = 0;
    for (Eigen::Index i = 0; i < batch; ++i) {
      const int y = labels_[i];
      const T m = z.row(i).maxCoeff();
      const Eigen::Array<T, 1, Eigen::Dynamic> e = (z.row(i).array() - m).exp();
      const T sum = e.sum();
      const T log_p = z(i, y) - m - std::log(sum);  // log-softmax, stable
      const T p = std::exp(log_p);
      const T q = T(1) - p;
      total += -std::pow(q, g) * log_p;
      if (grads) {
        const T coef = (g * std::pow(q, g - T(1)) * p * log_p - std::pow(q, g)) / T(batch);
        auto dz = (*grads)["logits"].mat();
        dz.row(i) = -coef * (e / sum).matrix();
        dz(i, y) += coef;
      }
    }
    return static_cast<double>(total / T(batch));
  }

 private:
  Matrix z0_;
  std::vector<int> labels_;
};

}  // namespace

GRADCHECK_EXPORT_MODELS(FocalLoss<float>, FocalLoss<double>)
