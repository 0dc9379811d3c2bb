#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gradcheck/weights/eigen.hpp"
#include "gradcheck/weights/statistics.hpp"

using namespace gradcheck::weights;

namespace {

struct Reference {
  double count = 0, mean = 0, std = 0, min = 0, max = 0, l2 = 0, zero_fraction = 0, kurtosis = 0;
  std::vector<double> sorted;
};

// Two-pass long-double reference over the finite values.
Reference reference(const std::vector<double>& x) {
  Reference r;
  long double s = 0;
  for (double v : x)
    if (std::isfinite(v)) {
      s += v;
      r.sorted.push_back(v);
    }
  const long double n = r.sorted.size();
  r.count = double(n);
  const long double mean = s / n;
  long double m2 = 0, m4 = 0, sq = 0, zeros = 0;
  for (double v : r.sorted) {
    const long double d = v - mean;
    m2 += d * d;
    m4 += d * d * d * d;
    sq += (long double)v * v;
    zeros += (v == 0);
  }
  std::sort(r.sorted.begin(), r.sorted.end());
  r.mean = double(mean);
  r.std = double(std::sqrt(m2 / n));
  r.min = r.sorted.front();
  r.max = r.sorted.back();
  r.l2 = double(std::sqrt(sq));
  r.zero_fraction = double(zeros / n);
  r.kurtosis = double(n * m4 / (m2 * m2) - 3);
  return r;
}

double exact_quantile(const std::vector<double>& sorted, double q) {
  const double rank = q * double(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - double(lo));
}

void check_against(const TensorStats& s, const Reference& r) {
  using Catch::Matchers::WithinRel;
  CHECK_THAT(s.mean, WithinRel(r.mean, 1e-9));
  CHECK_THAT(s.std, WithinRel(r.std, 1e-9));
  CHECK(s.min == r.min);
  CHECK(s.max == r.max);
  CHECK(s.abs_max == std::max(std::fabs(r.min), std::fabs(r.max)));
  CHECK_THAT(s.l2_norm, WithinRel(r.l2, 1e-9));
  CHECK_THAT(s.zero_fraction, WithinRel(r.zero_fraction, 1e-12));
  CHECK_THAT(s.kurtosis + 3, WithinRel(r.kurtosis + 3, 1e-9));
  CHECK(double(s.finite_count) == r.count);
  // A percentile lies between the histogram bins of the two order statistics
  // the exact (linear) one interpolates: off by at most a bin width (2^-7
  // relative) beyond the gap between neighbouring values.
  for (auto [q, got] : {std::pair{0.01, s.p1}, {0.5, s.p50}, {0.99, s.p99}}) {
    const double rank = q * double(r.sorted.size() - 1);
    const double lo = r.sorted[std::size_t(std::floor(rank))];
    const double hi = r.sorted[std::min(std::size_t(std::floor(rank)) + 1, r.sorted.size() - 1)];
    INFO("q=" << q << " got " << got << " exact " << exact_quantile(r.sorted, q) << " between " << lo << " and " << hi);
    CHECK(got >= Histogram::lower_edge(Histogram::key_of(lo)));
    CHECK(got <= Histogram::upper_edge(Histogram::key_of(hi)));
  }
}

std::vector<double> gaussian(std::size_t n, double mean, double sd, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, sd);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

bool identical(const TensorStats& a, const TensorStats& b) {
  auto eq = [](double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; };
  if (a.histogram.bins.size() != b.histogram.bins.size()) return false;
  for (std::size_t i = 0; i < a.histogram.bins.size(); ++i)
    if (a.histogram.bins[i].key != b.histogram.bins[i].key || a.histogram.bins[i].count != b.histogram.bins[i].count)
      return false;
  return eq(a.mean, b.mean) && eq(a.std, b.std) && eq(a.l2_norm, b.l2_norm) && eq(a.kurtosis, b.kurtosis) &&
         eq(a.min, b.min) && eq(a.max, b.max) && eq(a.p1, b.p1) && eq(a.p50, b.p50) && eq(a.p99, b.p99);
}

}  // namespace

TEST_CASE("statistics of F64 values match a long-double reference to 1e-9", "[statistics]") {
  // 5.3 chunks, an offset mean (cancellation-prone for naive sums), some zeros.
  auto x = gaussian(86'999, 3.0, 0.01, 1);
  for (std::size_t i = 0; i < x.size(); i += 97) x[i] = 0.0;
  const auto a = statistics(std::span<const double>(x));
  CHECK(a.stats.count == x.size());
  check_against(a.stats, reference(x));
  CHECK_FALSE(a.matrix);
}

TEST_CASE("statistics of F32 values (heavy-tailed) match the reference", "[statistics]") {
  std::mt19937_64 rng(2);
  std::student_t_distribution<float> dist(3.0f);
  std::vector<float> f(40'000);
  for (auto& v : f) v = dist(rng) * 0.02f;
  std::vector<double> d(f.begin(), f.end());
  check_against(statistics(std::span<const float>(f)).stats, reference(d));
}

TEST_CASE("NaN and infinities are counted and excluded from the statistics", "[statistics]") {
  auto x = gaussian(20'000, 0.0, 1.0, 3);
  x[5] = NAN;
  x[17'000] = INFINITY;
  x[19'999] = -INFINITY;
  const auto s = statistics(std::span<const double>(x)).stats;
  CHECK(s.nan_count == 1);
  CHECK(s.inf_count == 2);
  CHECK(s.count == 20'000);
  CHECK(s.finite_count == 19'997);
  check_against(s, reference(x));
}

TEST_CASE("an empty tensor and an all-NaN tensor give undefined statistics, not a crash", "[statistics]") {
  const auto e = statistics(std::span<const double>());
  CHECK(e.stats.count == 0);
  CHECK(std::isnan(e.stats.mean));
  const std::vector<double> nan(10, NAN);
  const auto n = statistics(std::span<const double>(nan)).stats;
  CHECK(n.nan_count == 10);
  CHECK(std::isnan(n.std));
  CHECK(n.l2_norm == 0);
}

TEST_CASE("results are bit-identical for any thread count", "[statistics][threads]") {
  auto x = gaussian(300'001, 0.1, 2.0, 4);
  std::vector<double> y(x.begin(), x.begin() + 1000);
  const TensorView w{DType::F64, reinterpret_cast<const std::uint8_t*>(y.data()), y.size(), {}};
  const TensorView v2{DType::F64, reinterpret_cast<const std::uint8_t*>(x.data()), 300'000, {1000, 300}};
  const auto one = analyse_tensors({v2, w, v2}, {1});
  for (int threads : {2, 3, 8}) {
    const auto many = analyse_tensors({v2, w, v2}, {threads});
    for (std::size_t i = 0; i < one.size(); ++i) CHECK(identical(one[i].stats, many[i].stats));
    CHECK(one[0].matrix->identical_rows == many[0].matrix->identical_rows);
  }
  CHECK(identical(one[0].stats, one[2].stats));
}

TEST_CASE("F16 and BF16 buffers give the statistics of their exact values", "[statistics]") {
  std::vector<std::uint16_t> h(5000), b(5000);
  std::mt19937 rng(5);
  std::vector<double> hv, bv;
  for (std::size_t i = 0; i < h.size(); ++i) {
    h[i] = std::uint16_t(rng() & 0x7BFF);  // finite halves
    b[i] = std::uint16_t((rng() & 0x3FFF) | 0x3000);
    hv.push_back(half_to_double(h[i]));
    bv.push_back(bfloat16_to_double(b[i]));
  }
  check_against(analyse_tensor({DType::F16, reinterpret_cast<const std::uint8_t*>(h.data()), h.size(), {5000}}).stats,
                reference(hv));
  check_against(analyse_tensor({DType::BF16, reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), {5000}}).stats,
                reference(bv));
}

TEST_CASE("matrix statistics: fans, init ratios, identical rows, dead rows and columns", "[statistics][matrix]") {
  SECTION("conv kernel fans follow PyTorch's convention") {
    auto x = gaussian(4 * 3 * 3 * 3, 0.0, 0.1, 6);
    const auto a = statistics(std::span<const double>(x), {4, 3, 3, 3});
    REQUIRE(a.matrix);
    CHECK(a.matrix->rows == 4);
    CHECK(a.matrix->cols == 27);
    CHECK(a.matrix->fan_in == 27);
    CHECK(a.matrix->fan_out == 36);
    CHECK_THAT(a.matrix->he_std, Catch::Matchers::WithinRel(std::sqrt(2.0 / 27), 1e-15));
    CHECK_THAT(a.matrix->glorot_std, Catch::Matchers::WithinRel(std::sqrt(2.0 / 63), 1e-15));
    CHECK_THAT(a.matrix->lecun_std, Catch::Matchers::WithinRel(std::sqrt(1.0 / 27), 1e-15));
    CHECK_THAT(a.matrix->ratio_he, Catch::Matchers::WithinRel(a.stats.std / std::sqrt(2.0 / 27), 1e-15));
  }
  SECTION("identical rows longer than a chunk, dead rows and columns") {
    const std::int64_t rows = 7, cols = 20'000;  // each row straddles chunk boundaries
    auto x = gaussian(std::size_t(rows * cols), 0.0, 1.0, 7);
    std::copy(x.begin() + 1 * cols, x.begin() + 2 * cols, x.begin() + 5 * cols);  // row 5 = row 1
    std::fill(x.begin() + 3 * cols, x.begin() + 4 * cols, 0.0);                  // row 3 dead
    std::fill(x.begin() + 6 * cols, x.begin() + 7 * cols, 0.0);                  // row 6 dead (not "identical")
    for (std::int64_t r = 0; r < rows; ++r) x[std::size_t(r * cols + 11)] = 0.0;  // column 11 dead
    for (int threads : {1, 2}) {
      const auto a = statistics(std::span<const double>(x), {rows, cols}, {threads});
      REQUIRE(a.matrix);
      CHECK(a.matrix->identical_rows == 1);
      CHECK(a.matrix->identical_first == 1);
      CHECK(a.matrix->identical_second == 5);
      CHECK(a.matrix->dead_rows == 2);
      CHECK(a.matrix->dead_cols == 1);
    }
  }
  SECTION("random rows are not identical") {
    auto x = gaussian(512 * 64, 0.0, 1.0, 8);
    const auto a = statistics(std::span<const double>(x), {512, 64});
    CHECK(a.matrix->identical_rows == 0);
    CHECK(a.matrix->dead_rows == 0);
    CHECK(a.matrix->dead_cols == 0);
  }
}

TEST_CASE("an Eigen matrix in any storage order gives the row-major statistics", "[statistics][eigen]") {
  Eigen::MatrixXd m(40, 30);  // column-major
  std::mt19937_64 rng(9);
  std::normal_distribution<double> dist(0, 1);
  for (int i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
  m.row(7) = m.row(3);
  const auto a = statistics(m);
  REQUIRE(a.matrix);
  CHECK(a.matrix->rows == 40);
  CHECK(a.matrix->cols == 30);
  CHECK(a.matrix->identical_rows == 1);
  const std::vector<double> flat(m.data(), m.data() + m.size());
  check_against(a.stats, reference(flat));
  Eigen::MatrixXf f = m.cast<float>();
  CHECK(statistics(f.block(0, 0, 10, 30)).matrix->rows == 10);
  REQUIRE_THROWS_AS(statistics(std::span<const double>(flat), {7, 7}), std::invalid_argument);
}

TEST_CASE("the histogram's bins are 2^-7 wide and quantiles of a constant are exact", "[statistics][histogram]") {
  for (double v : {1.0, -3.5, 1e-30, 1e30, 0.0}) {
    const auto k = Histogram::key_of(v);
    INFO(v);
    CHECK(Histogram::lower_edge(k) <= v);
    CHECK(v < Histogram::upper_edge(k));
  }
  CHECK(Histogram::upper_edge(Histogram::key_of(1.0)) == 1.0 + 1.0 / 128);
  const std::vector<double> c(1000, 0.37);
  const auto s = statistics(std::span<const double>(c)).stats;
  CHECK(s.p1 == 0.37);
  CHECK(s.p99 == 0.37);
  CHECK(s.std == 0);
  CHECK(std::isnan(s.kurtosis));
  CHECK(s.histogram.total() == 1000);
}

TEST_CASE("diff_tensors measures ||after - before|| / ||before||", "[statistics][diff]") {
  auto a = gaussian(50'000, 0.0, 1.0, 10);
  auto b = a;
  for (std::size_t i = 0; i < b.size(); i += 2) b[i] += 0.001;
  long double d2 = 0, a2 = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d2 += (long double)(b[i] - a[i]) * (b[i] - a[i]);
    a2 += (long double)a[i] * a[i];
  }
  const TensorView va{DType::F64, reinterpret_cast<const std::uint8_t*>(a.data()), a.size(), {}};
  const TensorView vb{DType::F64, reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), {}};
  const auto r1 = diff_tensors({{va, vb}, {va, va}}, {1});
  const auto r2 = diff_tensors({{va, vb}, {va, va}}, {3});
  CHECK_THAT(r1[0].rel_change, Catch::Matchers::WithinRel(double(std::sqrt(d2 / a2)), 1e-9));
  CHECK(r1[0].changed == 25'000);
  CHECK(r1[1].rel_change == 0);
  CHECK(r1[1].changed == 0);
  CHECK(std::memcmp(&r1[0].rel_change, &r2[0].rel_change, sizeof(double)) == 0);
}

TEST_CASE("F32 data, binned from its own bits, gets the histogram its double values get", "[statistics][histogram]") {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> f(70'000);
  for (auto& v : f) v = dist(rng);
  f[3] = 0.0f;
  f[4] = -0.0f;
  f[5] = 3e38f;
  f[6] = -1e-45f;  // a negative subnormal
  const std::vector<double> d(f.begin(), f.end());
  const auto a = statistics(std::span<const float>(f)).stats;
  const auto b = statistics(std::span<const double>(d)).stats;
  REQUIRE(a.histogram.bins.size() == b.histogram.bins.size());
  for (std::size_t i = 0; i < a.histogram.bins.size(); ++i) {
    CHECK(a.histogram.bins[i].key == b.histogram.bins[i].key);
    CHECK(a.histogram.bins[i].count == b.histogram.bins[i].count);
  }
  CHECK(a.p50 == b.p50);
}
