#include "gradcheck/weights/spectral.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include <Eigen/Dense>

namespace gradcheck::weights {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

PowerLawFit fit_power_law(std::vector<double> values, std::int64_t min_tail) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !(v > 0) || !std::isfinite(v); }),
               values.end());
  std::sort(values.begin(), values.end());
  PowerLawFit best;
  best.alpha = best.alpha_error = best.xmin = best.ks_distance = kNaN;
  const auto n = static_cast<std::int64_t>(values.size());
  if (n < min_tail) return best;
  // suffix sums of ln(x) let each candidate's MLE cost O(1); the KS scan O(n).
  std::vector<double> log_suffix(values.size() + 1, 0.0);
  for (std::size_t i = values.size(); i-- > 0;) log_suffix[i] = log_suffix[i + 1] + std::log(values[i]);
  double best_d = std::numeric_limits<double>::infinity();
  for (std::int64_t start = 0; start + min_tail <= n; ++start) {
    if (start > 0 && values[std::size_t(start)] == values[std::size_t(start - 1)]) continue;
    const double xmin = values[std::size_t(start)];
    const double m = double(n - start);
    const double sum_log = log_suffix[std::size_t(start)] - m * std::log(xmin);
    if (!(sum_log > 0)) continue;
    const double alpha = 1.0 + m / sum_log;
    double d = 0;
    for (std::int64_t i = start; i < n; ++i) {
      const double model = 1.0 - std::pow(values[std::size_t(i)] / xmin, 1.0 - alpha);
      const double lo = double(i - start) / m, hi = double(i - start + 1) / m;
      d = std::max({d, std::fabs(model - lo), std::fabs(model - hi)});
    }
    if (d < best_d) {
      best_d = d;
      best.alpha = alpha;
      best.alpha_error = (alpha - 1.0) / std::sqrt(m);
      best.xmin = xmin;
      best.ks_distance = d;
      best.tail_count = n - start;
    }
  }
  return best;
}

SpectralStats spectral_analysis(const TensorView& view, const SpectralOptions& options) {
  SpectralStats s;
  if (view.shape.size() < 2 || view.numel == 0) return s;
  const auto rows = static_cast<Eigen::Index>(view.shape[0]);
  const auto cols = static_cast<Eigen::Index>(view.numel / static_cast<std::uint64_t>(rows));
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> w(rows, cols);
  convert_to_double(view.dtype, view.data, 0, view.numel, w.data());
  if (!w.allFinite()) return s;
  // Work with the wide orientation: A is small_dim x big_dim.
  Eigen::MatrixXd a = rows <= cols ? Eigen::MatrixXd(w) : Eigen::MatrixXd(w.transpose());
  w.resize(0, 0);
  const Eigen::Index small = a.rows();
  const double frob2 = a.squaredNorm();
  std::vector<double> eig;  // eigenvalues of W^T W (= squared singular values), descending
  if (small <= options.exact_max_dim && std::int64_t(small) * std::int64_t(a.cols()) <= options.exact_max_elements) {
    const Eigen::MatrixXd gram = a * a.transpose();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(gram, Eigen::EigenvaluesOnly);
    for (Eigen::Index i = small; i-- > 0;) eig.push_back(std::max(0.0, solver.eigenvalues()[i]));
    s.exact = true;
  } else {
    const Eigen::Index k = std::min<Eigen::Index>(small, options.sketch_rank + 8);
    std::mt19937_64 rng(options.seed);
    std::normal_distribution<double> normal;
    Eigen::MatrixXd omega(a.cols(), k);
    for (Eigen::Index j = 0; j < k; ++j)
      for (Eigen::Index i = 0; i < a.cols(); ++i) omega(i, j) = normal(rng);
    Eigen::MatrixXd y = a * omega;
    Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(y).householderQ() * Eigen::MatrixXd::Identity(small, k);
    for (int it = 0; it < options.power_iterations; ++it) {
      Eigen::MatrixXd z = a.transpose() * q;
      z = Eigen::HouseholderQR<Eigen::MatrixXd>(z).householderQ() * Eigen::MatrixXd::Identity(a.cols(), k);
      y = a * z;
      q = Eigen::HouseholderQR<Eigen::MatrixXd>(y).householderQ() * Eigen::MatrixXd::Identity(small, k);
    }
    const Eigen::MatrixXd b = q.transpose() * a;  // k x big
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(b * b.transpose(), Eigen::EigenvaluesOnly);
    const Eigen::Index keep = std::min<Eigen::Index>(k, options.sketch_rank);
    for (Eigen::Index i = k; i-- > k - keep;) eig.push_back(std::max(0.0, solver.eigenvalues()[i]));
    s.exact = false;
  }
  s.eigenvalues = static_cast<std::int64_t>(eig.size());
  s.spectral_norm = std::sqrt(eig.front());
  s.stable_rank = eig.front() > 0 ? frob2 / eig.front() : kNaN;
  if (s.exact) {
    s.sigma_min = std::sqrt(eig.back());
    s.condition_number = s.sigma_min > 0 ? s.spectral_norm / s.sigma_min : std::numeric_limits<double>::infinity();
  } else {
    s.sigma_min = s.condition_number = kNaN;
  }
  s.power_law = fit_power_law(eig);
  s.spectrum = std::move(eig);
  return s;
}

}  // namespace gradcheck::weights
