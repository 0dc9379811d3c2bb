// A dense ReLU layer y = relu(x W^T + b) over a batch, with its backward pass
// written by hand, checked through the library: the first exercise in learning
// backpropagation. `--bug transpose|mask|bias` plants a learner's bug.
//
//   dense_layer              # passes
//   dense_layer --bug mask   # ReLU backward without the mask: caught in x and W

#include <cstring>
#include <iostream>
#include <string>

#include "gradcheck/gradcheck.hpp"
#include "gradcheck/output.hpp"

using gradcheck::Matrix;
using gradcheck::Vector;

namespace {

constexpr int kBatch = 4, kIn = 5, kOut = 5;

struct DenseLayer {
  gradcheck::Layout layout;
  std::string bug;

  DenseLayer() { layout.add("x", {kBatch, kIn}).add("W", {kOut, kIn}).add("b", {kOut}); }

  // y = relu(x W^T + b), flattened row-major [batch, out].
  Vector<double> forward(const Vector<double>& v) const {
    auto x = layout.matrix(v, "x");
    auto W = layout.matrix(v, "W");
    auto b = layout.matrix(v, "b");
    Matrix<double> z = x * W.transpose();
    z.rowwise() += b.col(0).transpose();
    Matrix<double> y = z.cwiseMax(0.0);
    Vector<double> out(kBatch * kOut);
    for (int r = 0; r < kBatch; ++r)
      for (int c = 0; c < kOut; ++c) out(r * kOut + c) = y(r, c);
    return out;
  }

  // dL/d(x, W, b) for the upstream gradient dy = dL/dy.
  Vector<double> backward(const Vector<double>& v, const Vector<double>& dyv) const {
    auto x = layout.matrix(v, "x");
    auto W = layout.matrix(v, "W");
    auto b = layout.matrix(v, "b");
    Matrix<double> z = x * W.transpose();
    z.rowwise() += b.col(0).transpose();
    Matrix<double> dz(kBatch, kOut);
    for (int r = 0; r < kBatch; ++r)
      for (int c = 0; c < kOut; ++c) {
        const double mask = bug == "mask" ? 1.0 : (z(r, c) > 0 ? 1.0 : 0.0);
        dz(r, c) = dyv(r * kOut + c) * mask;
      }
    Vector<double> grad(layout.size());
    layout.matrix(grad, "x") = dz * W;
    Matrix<double> dW = dz.transpose() * x;
    if (bug == "transpose") dW.transposeInPlace();
    layout.matrix(grad, "W") = dW;
    Vector<double> db = dz.colwise().sum().transpose();
    if (bug == "bias") db = dz.row(0).transpose();  // not summed over the batch
    layout.matrix(grad, "b") = db;
    return grad;
  }
};

}  // namespace

int main(int argc, char** argv) {
  DenseLayer layer;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bug") == 0 && i + 1 < argc) {
      layer.bug = argv[++i];
    } else {
      std::cerr << "usage: dense_layer [--bug transpose|mask|bias]\n";
      return 2;
    }
  }
  // A random point: inputs and weights from a seeded normal draw.
  const auto z = gradcheck::normal_vector(2024, static_cast<std::size_t>(layer.layout.size()));
  Vector<double> v(layer.layout.size());
  for (Eigen::Index i = 0; i < v.size(); ++i) v(i) = z[static_cast<std::size_t>(i)];

  gradcheck::CheckOptions options;
  options.seed = 1;
  options.batch_size = kBatch;
  auto forward = [&](const Vector<double>& p) { return layer.forward(p); };
  auto backward = [&](const Vector<double>& p, const Vector<double>& dy) { return layer.backward(p, dy); };
  gradcheck::CheckResult result = gradcheck::check_layer<double>(forward, backward, v, layer.layout, options);
  result.name = layer.bug.empty() ? "dense_layer" : "dense_layer (bug: " + layer.bug + ")";
  gradcheck::TextOptions text;
  text.color = gradcheck::use_color(stdout);
  std::cout << gradcheck::to_text(result, text);
  return result.passed ? 0 : 1;
}
