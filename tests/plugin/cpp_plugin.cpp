// A plugin written with the C++ adapter (gradcheck/plugin.hpp): a correct
// model in f32 and f64, and models whose code throws, so the boundary's
// exception handling can be tested.
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "gradcheck/plugin.hpp"

namespace sdk = gradcheck::sdk;

// loss = sum(c .* tanh(W x)) over W [3, 4] and x [4]: both tensors differentiable.
template <typename T>
class TanhLayer {
 public:
  using Scalar = T;
  static std::string name() { return std::is_same_v<T, float> ? "tanh_f32" : "tanh_f64"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"W", {3, 4}}, {"x", {4}}}; }
  explicit TanhLayer(std::uint64_t seed) : c_(3) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> n;
    for (auto& v : c_) v = static_cast<T>(n(rng));
  }
  void init(sdk::Tensors<T>& values) {
    auto w = values["W"].mat();
    for (Eigen::Index i = 0; i < w.rows(); ++i)
      for (Eigen::Index j = 0; j < w.cols(); ++j) w(i, j) = static_cast<T>(0.1 * (i + 1) - 0.05 * j);
    values[1].vec().setLinSpaced(-1, 1);
  }
  double loss(const sdk::ConstTensors<T>& v, sdk::Tensors<T>* grads) {
    const auto w = v["W"].mat();
    const auto x = v["x"].vec();
    const Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> c(c_.data(), 3);
    const Eigen::Matrix<T, Eigen::Dynamic, 1> t = (w * x).array().tanh().matrix();
    if (grads) {
      const Eigen::Matrix<T, Eigen::Dynamic, 1> d = (c.array() * (1 - t.array().square())).matrix();
      (*grads)["W"].mat() = d * x.transpose();
      (*grads)["x"].vec() = w.transpose() * d;
    }
    return static_cast<double>(c.dot(t));
  }

 private:
  std::vector<T> c_;
};

struct Throws {
  using Scalar = double;
  static std::string name() { return "throws"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"x", {2}}}; }
  explicit Throws(std::uint64_t) {}
  void init(sdk::Tensors<double>& v) { v[0].vec().setOnes(); }
  double loss(const sdk::ConstTensors<double>&, sdk::Tensors<double>*) {
    throw std::runtime_error("labels and logits disagree in size");
  }
};

struct HugeAlloc {
  using Scalar = double;
  static std::string name() { return "huge_alloc"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"x", {2}}}; }
  explicit HugeAlloc(std::uint64_t) {}
  void init(sdk::Tensors<double>& v) { v[0].vec().setOnes(); }
  double loss(const sdk::ConstTensors<double>& v, sdk::Tensors<double>*) {
    std::vector<double> scratch(std::size_t{1} << 44);  // 128 TiB: bad_alloc
    scratch[1] = v[0][0];
    return scratch[1];
  }
};

// loss = 0.5 * sum(c_i * v_i^2) over a [64, 64] tensor `w` and a [100] tensor
// `a`; Bug 1 doubles the gradient of w[17, 42] only, Bug 2 scales all of w's
// gradient by 1.001. For fast mode's localisation.
template <int Bug>
struct Quadratic {
  using Scalar = double;
  static std::string name() { return Bug == 1 ? "one_wrong" : "scaled_1001"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"a", {100}}, {"w", {64, 64}}}; }
  explicit Quadratic(std::uint64_t) {}
  void init(sdk::Tensors<double>& v) {
    for (auto& t : v)
      for (Eigen::Index i = 0; i < t.size(); ++i) t[i] = 0.5 + 0.001 * static_cast<double>(i % 97);
  }
  double loss(const sdk::ConstTensors<double>& v, sdk::Tensors<double>* grads) {
    double l = 0;
    for (std::size_t k = 0; k < v.size(); ++k) {
      const auto x = v[k].vec();
      for (Eigen::Index i = 0; i < x.size(); ++i) {
        const double c = 1.0 + 0.01 * static_cast<double>(i % 13);
        l += 0.5 * c * x[i] * x[i];
        if (grads) (*grads)[k][i] = c * x[i];
      }
    }
    if (grads) {
      auto gw = (*grads)["w"].mat();
      if (Bug == 1) gw(17, 42) *= 2;
      if (Bug == 2) gw *= 1.001;
    }
    return l;
  }
};

struct Crashes {
  using Scalar = double;
  static std::string name() { return "crashes"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"x", {2}}}; }
  explicit Crashes(std::uint64_t) {}
  void init(sdk::Tensors<double>& v) { v[0].vec().setOnes(); }
  double loss(const sdk::ConstTensors<double>& v, sdk::Tensors<double>*) {
    volatile double* nowhere = nullptr;
    return v[0][0] + *nowhere;
  }
};

struct ThrowsInConstructor {
  using Scalar = float;
  static std::string name() { return "bad_constructor"; }
  static std::vector<sdk::TensorSpec> tensors() { return {{"s", {}}}; }
  explicit ThrowsInConstructor(std::uint64_t) { throw std::runtime_error("cannot open data.bin"); }
  void init(sdk::Tensors<float>&) {}
  double loss(const sdk::ConstTensors<float>&, sdk::Tensors<float>*) { return 0; }
};

GRADCHECK_EXPORT_MODELS(TanhLayer<float>, Crashes, TanhLayer<double>, Throws, HugeAlloc, ThrowsInConstructor,
                        Quadratic<1>, Quadratic<2>)
