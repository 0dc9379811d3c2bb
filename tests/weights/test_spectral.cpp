#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gradcheck/weights/spectral.hpp"

using namespace gradcheck::weights;
using Catch::Matchers::WithinRel;

namespace {
TensorView view(const std::vector<double>& v, std::vector<std::int64_t> shape) {
  return {DType::F64, reinterpret_cast<const std::uint8_t*>(v.data()), v.size(), std::move(shape)};
}
}  // namespace

TEST_CASE("spectral norm, sigma_min, condition number and stable rank of a known spectrum", "[spectral]") {
  // 4 x 6 with singular values 4, 3, 2, 1 (a scaled partial permutation).
  std::vector<double> wide(24, 0.0), tall(24, 0.0);
  const double sv[4] = {3, 1, 4, 2};
  for (int i = 0; i < 4; ++i) {
    wide[std::size_t(i * 6 + (i + 2) % 6)] = sv[i];
    tall[std::size_t(((i + 2) % 6) * 4 + i)] = sv[i];  // its transpose, 6 x 4
  }
  for (const auto& [v, shape] : {std::pair{wide, std::vector<std::int64_t>{4, 6}}, {tall, {6, 4}}}) {
    const SpectralStats s = spectral_analysis(view(v, shape));
    CHECK(s.exact);
    CHECK(s.eigenvalues == 4);
    CHECK_THAT(s.spectral_norm, WithinRel(4.0, 1e-12));
    CHECK_THAT(s.sigma_min, WithinRel(1.0, 1e-9));
    CHECK_THAT(s.condition_number, WithinRel(4.0, 1e-9));
    CHECK_THAT(s.stable_rank, WithinRel(30.0 / 16.0, 1e-12));
  }
  std::vector<double> singular(24, 1.0);  // rank 1
  CHECK(std::isinf(spectral_analysis(view(singular, {4, 6})).condition_number));
  std::vector<double> nan = wide;
  nan[3] = NAN;
  CHECK(spectral_analysis(view(nan, {4, 6})).eigenvalues == 0);
  CHECK(spectral_analysis(view(wide, {24})).eigenvalues == 0);
}

TEST_CASE("the randomised sketch finds the top of the spectrum of a large matrix", "[spectral]") {
  const std::int64_t m = 150, n = 400;
  std::mt19937_64 rng(1);
  std::normal_distribution<double> g;
  std::vector<double> w(std::size_t(m * n));
  // A decaying spectrum: rank-8 signal plus noise.
  std::vector<double> u(std::size_t(m * 8)), v(std::size_t(n * 8));
  for (auto& x : u) x = g(rng);
  for (auto& x : v) x = g(rng);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0.05 * g(rng);
      for (int r = 0; r < 8; ++r) s += u[std::size_t(i * 8 + r)] * v[std::size_t(j * 8 + r)] / double(r + 1);
      w[std::size_t(i * n + j)] = s;
    }
  const SpectralStats exact = spectral_analysis(view(w, {m, n}));
  SpectralOptions o;
  o.exact_max_dim = 16;
  o.sketch_rank = 20;
  const SpectralStats sketch = spectral_analysis(view(w, {m, n}), o);
  CHECK(exact.exact);
  CHECK_FALSE(sketch.exact);
  CHECK(sketch.eigenvalues == 20);
  CHECK_THAT(sketch.spectral_norm, WithinRel(exact.spectral_norm, 1e-8));
  CHECK_THAT(sketch.stable_rank, WithinRel(exact.stable_rank, 1e-8));
  CHECK(std::isnan(sketch.condition_number));
  const SpectralStats again = spectral_analysis(view(w, {m, n}), o);
  CHECK(std::memcmp(&again.spectral_norm, &sketch.spectral_norm, sizeof(double)) == 0);
}

TEST_CASE("the power-law fit recovers alpha from Pareto samples and picks xmin by KS distance", "[spectral]") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x;
  for (int i = 0; i < 3000; ++i) x.push_back(2.0 * std::pow(1.0 - u(rng), -1.0 / (3.0 - 1.0)));  // alpha 3, xmin 2
  for (int i = 0; i < 1000; ++i) x.push_back(0.5 + 1.4 * u(rng));  // a non-power-law bulk below 2
  const PowerLawFit f = fit_power_law(x);
  INFO("alpha " << f.alpha << " +- " << f.alpha_error << " xmin " << f.xmin << " D " << f.ks_distance);
  CHECK(std::fabs(f.alpha - 3.0) < 3 * f.alpha_error);
  CHECK(f.alpha_error < 0.1);
  CHECK(f.xmin >= 1.8);
  CHECK(f.xmin < 2.5);
  CHECK(f.ks_distance < 0.05);
  CHECK(std::isnan(fit_power_law({1.0, 2.0}).alpha));
}

namespace {
// The fit as first written: every candidate xmin (alpha from the same suffix
// sums of ln x), the KS distance over its whole tail with pow at every point
// (quadratic), ties to the smaller xmin.
PowerLawFit reference_fit(std::vector<double> values, std::int64_t min_tail) {
  std::vector<double> v;
  for (double x : values)
    if (x > 0 && std::isfinite(x)) v.push_back(x);
  std::sort(v.begin(), v.end());
  PowerLawFit best;
  best.alpha = best.alpha_error = best.xmin = best.ks_distance = NAN;
  const auto n = static_cast<std::int64_t>(v.size());
  if (n < min_tail) return best;
  std::vector<double> log_suffix(v.size() + 1, 0.0);
  for (std::size_t i = v.size(); i-- > 0;) log_suffix[i] = log_suffix[i + 1] + std::log(v[i]);
  double best_d = INFINITY;
  for (std::int64_t start = 0; start + min_tail <= n; ++start) {
    if (start > 0 && v[std::size_t(start)] == v[std::size_t(start - 1)]) continue;
    const double xmin = v[std::size_t(start)], m = double(n - start);
    const double sum_log = log_suffix[std::size_t(start)] - m * std::log(xmin);
    if (!(sum_log > 0)) continue;
    const double alpha = 1.0 + m / sum_log;
    double d = 0;
    for (std::int64_t i = start; i < n; ++i) {
      const double model = 1.0 - std::pow(v[std::size_t(i)] / xmin, 1.0 - alpha);
      d = std::max({d, std::fabs(model - double(i - start) / m), std::fabs(model - double(i - start + 1) / m)});
    }
    if (d < best_d) {
      best_d = d;
      best = {alpha, (alpha - 1.0) / std::sqrt(m), xmin, d, n - start};
    }
  }
  return best;
}
}  // namespace

TEST_CASE("the power-law fit equals a straightforward quadratic reference on real-looking spectra", "[spectral]") {
  std::mt19937_64 rng(31);
  std::normal_distribution<double> g;
  std::student_t_distribution<double> t3(3.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::pair<std::string, std::vector<double>>> sets;
  // Eigenvalues of W^T W for a Gaussian matrix (Marchenko-Pastur bulk) and a
  // heavy-tailed one (a power-law tail, as trained layers show).
  for (const bool heavy : {false, true}) {
    std::vector<double> w(300 * 420);
    for (auto& x : w) x = heavy ? t3(rng) : g(rng);
    const TensorView tv{DType::F64, reinterpret_cast<const std::uint8_t*>(w.data()), w.size(), {300, 420}};
    sets.emplace_back(heavy ? "student-t spectrum" : "gaussian spectrum", spectral_analysis(tv).spectrum);
  }
  std::vector<double> pareto;
  for (int i = 0; i < 300; ++i) pareto.push_back(2.0 * std::pow(1.0 - u(rng), -1.0 / 1.5));
  for (int i = 0; i < 100; ++i) pareto.push_back(0.5 + 1.4 * u(rng));
  sets.emplace_back("pareto and a bulk", pareto);
  // Repeated values (candidates skipped), values a fit ignores, and a near-constant set.
  std::vector<double> odd;
  for (int i = 0; i < 250; ++i) odd.push_back(std::round(20.0 * std::exp(g(rng))) / 4.0);
  odd.insert(odd.end(), {0.0, -1.0, NAN, INFINITY, 1e-300});
  sets.emplace_back("repeats, zeros, NaN", odd);
  std::vector<double> flat(200, 3.0);
  flat[7] = 3.0000001;
  sets.emplace_back("almost constant", flat);
  for (const auto& [name, values] : sets)
    for (const std::int64_t min_tail : {std::int64_t(5), std::int64_t(50)}) {
      INFO(name << ", " << values.size() << " values, min_tail " << min_tail);
      const PowerLawFit a = fit_power_law(values, min_tail), b = reference_fit(values, min_tail);
      REQUIRE(std::isnan(a.alpha) == std::isnan(b.alpha));
      if (std::isnan(b.alpha)) continue;
      CHECK(a.tail_count == b.tail_count);
      CHECK_THAT(a.alpha, WithinRel(b.alpha, 1e-12));
      CHECK_THAT(a.alpha_error, WithinRel(b.alpha_error, 1e-12));
      CHECK_THAT(a.xmin, WithinRel(b.xmin, 1e-12));
      CHECK_THAT(a.ks_distance, WithinRel(b.ks_distance, 1e-12));
    }
}
