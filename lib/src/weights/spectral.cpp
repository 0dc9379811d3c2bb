#include "gradcheck/weights/spectral.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include <Eigen/Dense>

namespace gradcheck::weights {

namespace {

// A statistic that is not defined for the matrix (no tail to fit, no positive
// singular value).
constexpr double kUndefined = std::numeric_limits<double>::quiet_NaN();

// The Kolmogorov-Smirnov distance between the tail values[start..n) (sorted)
// and the power law of exponent alpha from xmin = values[start]:
//   max over i of |F(x_i) - (i - start) / m| and |F(x_i) - (i - start + 1) / m|,
//   F(x) = 1 - (x / xmin)^(1 - alpha), m = n - start,
// the straightforward scan's value exactly, as the same formula evaluated at
// every point that can hold the maximum; or some value >= cutoff, once that
// is certain (the caller only wants candidates below it).
//
// F and the empirical steps are non-decreasing in i, so over the points
// strictly inside a run (a, b) whose ends are evaluated, every deviation is
// at most max(F(x_b) - lo(a + 1), hi(b - 1) - F(x_a)); a run whose bound is
// below the largest deviation found so far is skipped whole, and other runs
// are halved. The margin covers pow's rounding (< 1 ulp, not guaranteed
// monotone), so a skipped point can never hold the maximum. A good fit,
// whose deviations stay near the maximum's size only here and there, needs
// pow at a few hundred of thousands of points; a bad one stops at the cutoff.
double ks_distance(const std::vector<double>& values, std::int64_t start, std::int64_t n, double alpha, double cutoff) {
  const double xmin = values[std::size_t(start)], m = double(n - start);
  auto model = [&](std::int64_t i) { return 1.0 - std::pow(values[std::size_t(i)] / xmin, 1.0 - alpha); };
  auto lo = [&](std::int64_t i) { return double(i - start) / m; };
  auto hi = [&](std::int64_t i) { return double(i - start + 1) / m; };
  auto deviation = [&](std::int64_t i, double f) { return std::max(std::fabs(f - lo(i)), std::fabs(f - hi(i))); };
  constexpr double kMargin = 1e-13;
  struct Run {
    std::int64_t a, b;
    double fa, fb;
  };
  const std::int64_t last = n - 1;
  const double f_first = model(start), f_last = model(last);
  double d = std::max(deviation(start, f_first), deviation(last, f_last));
  std::vector<Run> runs{{start, last, f_first, f_last}};
  while (!runs.empty() && d < cutoff) {
    const Run r = runs.back();
    runs.pop_back();
    if (r.b - r.a < 2) continue;
    const double bound = std::max(r.fb - lo(r.a + 1), hi(r.b - 1) - r.fa);
    if (bound + kMargin < d) continue;
    const std::int64_t mid = r.a + (r.b - r.a) / 2;
    const double f_mid = model(mid);
    d = std::max(d, deviation(mid, f_mid));
    runs.push_back({mid, r.b, f_mid, r.fb});
    runs.push_back({r.a, mid, r.fa, f_mid});
  }
  return d;
}

}  // namespace

PowerLawFit fit_power_law(std::vector<double> values, std::int64_t min_tail) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !(v > 0) || !std::isfinite(v); }),
               values.end());
  std::sort(values.begin(), values.end());
  PowerLawFit best;
  best.alpha = best.alpha_error = best.xmin = best.ks_distance = kUndefined;
  const auto n = static_cast<std::int64_t>(values.size());
  if (n < min_tail) return best;
  // suffix sums of ln(x) let each candidate's MLE cost O(1).
  std::vector<double> log_suffix(values.size() + 1, 0.0);
  for (std::size_t i = values.size(); i-- > 0;) log_suffix[i] = log_suffix[i + 1] + std::log(values[i]);
  double best_d = std::numeric_limits<double>::infinity();
  for (std::int64_t start = 0; start + min_tail <= n; ++start) {
    if (start > 0 && values[std::size_t(start)] == values[std::size_t(start - 1)]) continue;
    const double xmin = values[std::size_t(start)];
    const double m = double(n - start);
    // The first tail point alone is 1/m off (F(xmin) = 0, its step reaches
    // 1/m), and m only shrinks from here: no later candidate can do better.
    if (1.0 / m >= best_d) break;
    const double sum_log = log_suffix[std::size_t(start)] - m * std::log(xmin);
    if (!(sum_log > 0)) continue;
    const double alpha = 1.0 + m / sum_log;
    // Ties keep the earlier (smaller) xmin, as a strict < over starts in order does.
    const double d = ks_distance(values, start, n, alpha, best_d);
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
  s.stable_rank = eig.front() > 0 ? frob2 / eig.front() : kUndefined;
  if (s.exact) {
    s.sigma_min = std::sqrt(eig.back());
    s.condition_number = s.sigma_min > 0 ? s.spectral_norm / s.sigma_min : std::numeric_limits<double>::infinity();
  } else {
    s.sigma_min = s.condition_number = kUndefined;
  }
  s.power_law = fit_power_law(eig);
  s.spectrum = std::move(eig);
  return s;
}

}  // namespace gradcheck::weights
