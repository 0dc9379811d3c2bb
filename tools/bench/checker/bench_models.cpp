// The benchmark's plugin: two-layer tanh MLPs with softmax cross-entropy at
// three sizes (about 10k, 100k and 200k values), in f32 and f64, plus the
// 10k and 200k models with one tensor's gradient off by a factor 1.001
// (fc1.weight, the largest: the hardest one to single out for a directional
// check, and the one full mode would spend the most evaluations on). The 10k
// twins are for the side-by-side run with torch.autograd.gradcheck
// (tools/bench/peers), whose default tolerance, rtol 1e-3, lets 1.001 through.
//
// tanh rather than ReLU for those: the overhead and cost figures should
// measure the checker on smooth code. Two models of other designs show what
// the cost is elsewhere: the 10k MLP with ReLU (kinks near the point, decided
// at a nearby point), and a 1-D convolution (another layer type) at about 10k
// values:
//   z = conv1d(X, K) + b (4 channels in, 16 out, width 5, length 64 -> 60),
//   a = tanh(z), logits = flatten(a) W^T + c, the same softmax cross-entropy;
//   dK[o,i,k] = sum_b,t dz[b,o,t] X[b,i,t+k], db[o] = sum_b,t dz[b,o,t].
//
//   z1 = X W1^T + b1,  a1 = tanh(z1),  z2 = a1 W2^T + b2,
//   L = (1/B) sum_i ( logsumexp(z2_i) - z2_i[label_i] )
//   dz2 = (softmax(z2) - onehot) / B,  dW2 = dz2^T a1,  db2 = colsum(dz2)
//   dz1 = (dz2 W2) .* (1 - a1^2),      dW1 = dz1^T X,   db1 = colsum(dz1)

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gradcheck/plugin.hpp"

namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
RowMatrix<T> normal_matrix(std::mt19937_64& rng, Eigen::Index rows, Eigen::Index cols, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  RowMatrix<T> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(normal(rng));
  return m;
}

// Mean softmax cross-entropy over the rows of `z` (logits, batch x classes);
// with `gradient`, z becomes dL/dz row by row: (softmax - onehot) / batch.
template <typename T>
double softmax_cross_entropy(RowMatrix<T>& z, const std::vector<int>& labels, bool gradient) {
  T total = 0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    const int label = labels[static_cast<std::size_t>(i)];
    const T m = z.row(i).maxCoeff();
    const auto e = (z.row(i).array() - m).exp();
    const T s = e.sum();
    total += m + std::log(s) - z(i, label);
    if (gradient) {
      z.row(i) = e / s;
      z(i, label) -= T(1);
    }
  }
  if (gradient) z /= T(z.rows());
  return static_cast<double>(total / T(z.rows()));
}

// Sizes per model: in, hidden, classes (the batch is 16 for all).
struct Small {  // 64*128 + 128 + 128*10 + 10 = 9,610 values
  static constexpr int in = 64, hidden = 128, classes = 10;
  static constexpr const char* label = "mlp10k";
};
struct Medium {  // 256*384 + 384 + 384*10 + 10 = 102,538 values
  static constexpr int in = 256, hidden = 384, classes = 10;
  static constexpr const char* label = "mlp100k";
};
struct Large {  // 512*384 + 384 + 384*10 + 10 = 200,842 values
  static constexpr int in = 512, hidden = 384, classes = 10;
  static constexpr const char* label = "mlp200k";
};

template <typename T, typename Size, bool ScaledFc1Weight = false, bool Relu = false>
class TanhMlp {
 public:
  using Scalar = T;
  static constexpr int batch = 16, in = Size::in, hidden = Size::hidden, classes = Size::classes;
  static std::string name() {
    const std::string label = Relu ? "relu" + std::string(Size::label).substr(3) : std::string(Size::label);
    return label + (ScaledFc1Weight ? "_fc1_weight_x1.001" : "") + (std::is_same_v<T, float> ? "_f32" : "_f64");
  }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() {
    return {{"fc1.weight", {hidden, in}},
            {"fc1.bias", {hidden}},
            {"fc2.weight", {classes, hidden}},
            {"fc2.bias", {classes}}};
  }

  explicit TanhMlp(std::uint64_t seed) : labels_(batch) {
    std::mt19937_64 rng(seed);
    x_ = normal_matrix<T>(rng, batch, in, 1.0);
    std::uniform_int_distribution<int> label(0, classes - 1);
    for (int& l : labels_) l = label(rng);
    w1_ = normal_matrix<T>(rng, hidden, in, std::sqrt(1.0 / in));  // LeCun: tanh stays unsaturated
    b1_ = normal_matrix<T>(rng, hidden, 1, 0.1);
    w2_ = normal_matrix<T>(rng, classes, hidden, std::sqrt(1.0 / hidden));
    b2_ = normal_matrix<T>(rng, classes, 1, 0.1);
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
    RowMatrix<T> a1 = Relu ? RowMatrix<T>(z1.cwiseMax(T(0))) : RowMatrix<T>(z1.array().tanh());
    RowMatrix<T> z2 = (a1 * w2.transpose()).rowwise() + b2.transpose();
    const double loss = softmax_cross_entropy(z2, labels_, grads != nullptr);  // z2 becomes dz2
    if (grads) {
      const RowMatrix<T>& dz2 = z2;
      (*grads)["fc2.weight"].mat() = dz2.transpose() * a1;
      (*grads)["fc2.bias"].vec() = dz2.colwise().sum().transpose();
      const RowMatrix<T> da1 = dz2 * w2;
      const RowMatrix<T> dz1 = Relu ? RowMatrix<T>((da1.array() * (z1.array() > T(0)).template cast<T>()).matrix())
                                    : RowMatrix<T>((da1.array() * (T(1) - a1.array().square())).matrix());
      (*grads)["fc1.weight"].mat() = dz1.transpose() * x_;
      if constexpr (ScaledFc1Weight) (*grads)["fc1.weight"].mat() *= T(1.001);  // the planted bug
      (*grads)["fc1.bias"].vec() = dz1.colwise().sum().transpose();
    }
    return loss;
  }

 private:
  RowMatrix<T> x_, w1_, b1_, w2_, b2_;
  std::vector<int> labels_;
};

template <typename T>
class Conv1dNet {
 public:
  using Scalar = T;
  static constexpr int batch = 16, cin = 4, cout = 16, width = 5, length = 64, out = length - width + 1,
                       classes = 10;
  static std::string name() { return std::string("conv10k") + (std::is_same_v<T, float> ? "_f32" : "_f64"); }
  static std::vector<gradcheck::sdk::TensorSpec> tensors() {  // 320 + 16 + 9,600 + 10 = 9,946 values
    return {{"conv.weight", {cout, cin, width}},
            {"conv.bias", {cout}},
            {"fc.weight", {classes, cout * out}},
            {"fc.bias", {classes}}};
  }

  explicit Conv1dNet(std::uint64_t seed) : labels_(batch) {
    std::mt19937_64 rng(seed);
    x_ = normal_matrix<T>(rng, batch, cin * length, 1.0);
    std::uniform_int_distribution<int> label(0, classes - 1);
    for (int& l : labels_) l = label(rng);
    k_ = normal_matrix<T>(rng, cout, cin * width, std::sqrt(1.0 / (cin * width)));
    kb_ = normal_matrix<T>(rng, cout, 1, 0.1);
    w_ = normal_matrix<T>(rng, classes, cout * out, std::sqrt(1.0 / (cout * out)));
    c_ = normal_matrix<T>(rng, classes, 1, 0.1);
  }

  void init(gradcheck::sdk::Tensors<T>& values) {
    values["conv.weight"].vec() = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(k_.data(), k_.size());
    values["conv.bias"].vec() = kb_;
    values["fc.weight"].mat() = w_;
    values["fc.bias"].vec() = c_;
  }

  double loss(const gradcheck::sdk::ConstTensors<T>& values, gradcheck::sdk::Tensors<T>* grads) {
    const auto k = values["conv.weight"].vec();  // [o][i][w], row-major
    const auto kb = values["conv.bias"].vec();
    const auto w = values["fc.weight"].mat();
    const auto c = values["fc.bias"].vec();
    RowMatrix<T> a(batch, cout * out);  // [b][o][t]
    for (int b = 0; b < batch; ++b)
      for (int o = 0; o < cout; ++o)
        for (int t = 0; t < out; ++t) {
          T z = kb[o];
          for (int i = 0; i < cin; ++i)
            for (int q = 0; q < width; ++q) z += k[(o * cin + i) * width + q] * x_(b, i * length + t + q);
          a(b, o * out + t) = std::tanh(z);
        }
    RowMatrix<T> z2 = (a * w.transpose()).rowwise() + c.transpose();
    const double loss = softmax_cross_entropy(z2, labels_, grads != nullptr);  // z2 becomes dz2
    if (grads) {
      const RowMatrix<T>& dz2 = z2;
      (*grads)["fc.weight"].mat() = dz2.transpose() * a;
      (*grads)["fc.bias"].vec() = dz2.colwise().sum().transpose();
      const RowMatrix<T> dz = ((dz2 * w).array() * (T(1) - a.array().square())).matrix();
      auto dk = (*grads)["conv.weight"].vec();
      auto db = (*grads)["conv.bias"].vec();
      dk.setZero();
      db.setZero();
      for (int b = 0; b < batch; ++b)
        for (int o = 0; o < cout; ++o)
          for (int t = 0; t < out; ++t) {
            const T g = dz(b, o * out + t);
            db[o] += g;
            for (int i = 0; i < cin; ++i)
              for (int q = 0; q < width; ++q) dk[(o * cin + i) * width + q] += g * x_(b, i * length + t + q);
          }
    }
    return loss;
  }

 private:
  RowMatrix<T> x_, k_, kb_, w_, c_;
  std::vector<int> labels_;
};

}  // namespace

GRADCHECK_EXPORT_MODELS(TanhMlp<double, Small, false, true>, TanhMlp<float, Small, false, true>, Conv1dNet<double>,
                        Conv1dNet<float>, TanhMlp<double, Small>, TanhMlp<float, Small>, TanhMlp<double, Small, true>,
                        TanhMlp<float, Small, true>, TanhMlp<double, Medium>,
                        TanhMlp<float, Medium>, TanhMlp<double, Large>, TanhMlp<float, Large>,
                        TanhMlp<double, Large, true>, TanhMlp<float, Large, true>)
