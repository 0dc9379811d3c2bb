// The same user's model as a plugin for the gradcheck tool, built against the
// installed plugin SDK alone (gradcheck::plugin_sdk): a least-squares loss
// L(w) = 1/2 |A w - b|^2 with its hand-written gradient A^T (A w - b).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gradcheck/plugin.hpp>

namespace {

class LeastSquares {
 public:
  using Scalar = double;
  static constexpr int rows = 6, cols = 4;

  static std::string name() { return "least_squares"; }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() { return {{"w", {cols}}}; }

  explicit LeastSquares(std::uint64_t seed) : a_(rows, cols), b_(rows) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (Eigen::Index i = 0; i < a_.size(); ++i) a_.data()[i] = normal(rng);
    for (Eigen::Index i = 0; i < b_.size(); ++i) b_[i] = normal(rng);
  }

  void init(gradcheck::sdk::Tensors<double>& values) { values["w"].vec().setConstant(0.5); }

  double loss(const gradcheck::sdk::ConstTensors<double>& values, gradcheck::sdk::Tensors<double>* grads) {
    const Eigen::VectorXd r = a_ * values["w"].vec() - b_;
    if (grads) (*grads)["w"].vec() = a_.transpose() * r;
    return 0.5 * r.squaredNorm();
  }

 private:
  Eigen::MatrixXd a_;
  Eigen::VectorXd b_;
};

}  // namespace

GRADCHECK_EXPORT_MODELS(LeastSquares)
