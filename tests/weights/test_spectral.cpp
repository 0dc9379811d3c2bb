#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

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
