// The eigenvalue-tail chart (WeightWatcher's plot) and the spectrum it draws,
// as weights::spectral_analysis keeps it.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "html/charts.hpp"
#include "gradcheck/weights/spectral.hpp"
#include "count.hpp"

using namespace gradcheck;
using namespace gradcheck::html;

namespace {

using gradcheck::html::test::count;

// Continuous Pareto draws x = xmin * u^(-1 / (alpha - 1)): survival (x / xmin)^(1 - alpha).
std::vector<double> pareto(std::size_t n, double alpha, double xmin, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) x = xmin * std::pow(1.0 - u(rng), -1.0 / (alpha - 1.0));
  return v;
}

weights::TensorView view(const std::vector<double>& v, std::vector<std::int64_t> shape) {
  return {weights::DType::F64, reinterpret_cast<const std::uint8_t*>(v.data()), v.size(), std::move(shape)};
}

}  // namespace

TEST_CASE("spectral analysis keeps the eigenvalues of W^T W, descending", "[charts][tail][spectral]") {
  // 4 x 6 with singular values 3, 1, 4, 2 on a shifted diagonal.
  std::vector<double> w(24, 0.0);
  const double sv[4] = {3, 1, 4, 2};
  for (int i = 0; i < 4; ++i) w[std::size_t(i * 6 + (i + 2) % 6)] = sv[i];
  const auto s = weights::spectral_analysis(view(w, {4, 6}));
  REQUIRE(s.spectrum.size() == 4);
  CHECK(s.eigenvalues == 4);
  const double want[4] = {16, 9, 4, 1};
  for (std::size_t i = 0; i < 4; ++i) CHECK(s.spectrum[i] == Approx(want[i]).epsilon(1e-9));

  // Sketched: only the top sketch_rank are found, and kept.
  std::vector<double> big(60 * 80);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  for (auto& x : big) x = g(rng);
  weights::SpectralOptions o;
  o.exact_max_dim = 10;
  o.sketch_rank = 12;
  const auto k = weights::spectral_analysis(view(big, {60, 80}), o);
  CHECK_FALSE(k.exact);
  CHECK(k.spectrum.size() == 12);
  CHECK(k.eigenvalues == 12);
  CHECK(std::is_sorted(k.spectrum.rbegin(), k.spectrum.rend()));
  CHECK(std::sqrt(k.spectrum.front()) == Approx(k.spectral_norm));

  // Not analysed: nothing kept.
  CHECK(weights::spectral_analysis(view(w, {24})).spectrum.empty());
}

TEST_CASE("tail chart: survival points, the tail coloured, the fit line anchored at xmin", "[charts][tail]") {
  // Known geometry: 4 values over three decades, alpha 2 from xmin 10.
  PowerLawTailOptions o;
  o.title = "layer <1>";
  const std::string svg = power_law_tail_chart({1, 1000, 10, 100}, 2.0, 10.0, o);
  CHECK(svg.rfind("<svg class=\"chart chart-tail\"", 0) == 0);
  CHECK(svg.find("layer &lt;1&gt;") != std::string::npos);
  CHECK(count(svg, "class=\"point ") == 4);
  CHECK(count(svg, "class=\"point c1\"") == 3);  // 1000, 100, 10 are >= xmin
  CHECK(count(svg, "class=\"series fit ") == 1);
  CHECK(count(svg, "class=\"marker\"") == 1);
  // x axis 1..1000 over pixels 56..344, y axis 0.1..1 over 200..40. The fit
  // starts at (xmin, 3/4) and, at 0.75 (x/10)^-1, leaves the plot's bottom
  // (0.1) at x = 75.
  CHECK(svg.find("d=\"M152.00 59.99 L236.01 200.00\"") != std::string::npos);
  // The xmin point is on the line's start: the same pixel.
  CHECK(svg.find("cx=\"152.00\" cy=\"59.99\"") != std::string::npos);
  // The largest value has 1 of 4 at or above it.
  CHECK(svg.find("cx=\"344.00\" cy=\"136.33\"") != std::string::npos);
  CHECK(svg.find("1 of 4 are &gt;= it (in the fitted tail)") != std::string::npos);
  CHECK(svg == power_law_tail_chart({1, 1000, 10, 100}, 2.0, 10.0, o));  // deterministic
}

TEST_CASE("tail chart of a Pareto sample: the fitted tail, capped points", "[charts][tail]") {
  const auto v = pareto(2000, 2.5, 0.3, 11);
  const auto fit = weights::fit_power_law(v);
  REQUIRE(std::isfinite(fit.alpha));
  REQUIRE(fit.tail_count > 1);
  REQUIRE(fit.tail_count < 2000);
  PowerLawTailOptions o;
  o.max_points = 150;
  const std::string svg = power_law_tail_chart(v, fit.alpha, fit.xmin, o);
  const std::size_t points = count(svg, "class=\"point ");
  CHECK(points <= 150);
  CHECK(points >= 50);
  CHECK(count(svg, "class=\"series fit ") == 1);
  // The largest value (rank 1) and the smallest (rank n) are always drawn.
  CHECK(svg.find(": 1 of 2000 are &gt;= it") != std::string::npos);
  CHECK(svg.find(": 2000 of 2000 are &gt;= it") != std::string::npos);
  // So is the point at xmin, the last of the tail.
  CHECK(svg.find(": " + std::to_string(fit.tail_count) + " of 2000 are &gt;= it (in the fitted tail)") !=
        std::string::npos);
  // Uncapped, every value is a point.
  o.max_points = 10000;
  CHECK(count(power_law_tail_chart(v, fit.alpha, fit.xmin, o), "class=\"point ") == 2000);
}

TEST_CASE("tail chart without a fit or without positive values says so", "[charts][tail]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::string nofit = power_law_tail_chart({3, 2, 1, 0, -1, nan}, nan, nan, {});
  CHECK(count(nofit, "class=\"point c0\"") == 3);  // 0, -1 and NaN are not drawn
  CHECK(nofit.find("; 3 not drawn (not &gt; 0)") != std::string::npos);
  CHECK(count(nofit, "class=\"point c1\"") == 0);
  CHECK(nofit.find("series fit") == std::string::npos);
  CHECK(nofit.find("tail &gt;= xmin") == std::string::npos);
  CHECK(nofit.find("no power-law fit") != std::string::npos);
  CHECK(count(nofit, "class=\"marker\"") == 0);
  const std::string empty = power_law_tail_chart({0, nan}, 2.0, 1.0, {});
  CHECK(empty.find("no positive eigenvalue") != std::string::npos);
  CHECK(count(empty, "class=\"point") == 0);
  CHECK(empty.find("</svg>") != std::string::npos);
}
