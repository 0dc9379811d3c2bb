// The fused float32 pass, tasks of several chunks, the histogram's key range
// and row hashing: results must not depend on the thread count, on the path a
// chunk takes (fast float32, value by value after a NaN, double buffer), or
// on how rows fall across chunks and tasks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gradcheck/weights/statistics.hpp"

using namespace gradcheck::weights;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool identical(const TensorAnalysis& a, const TensorAnalysis& b) {
  const TensorStats &x = a.stats, &y = b.stats;
  if (x.histogram.bins.size() != y.histogram.bins.size()) return false;
  for (std::size_t i = 0; i < x.histogram.bins.size(); ++i)
    if (x.histogram.bins[i].key != y.histogram.bins[i].key || x.histogram.bins[i].count != y.histogram.bins[i].count)
      return false;
  bool same = same_bits(x.mean, y.mean) && same_bits(x.std, y.std) && same_bits(x.l2_norm, y.l2_norm) &&
              same_bits(x.kurtosis, y.kurtosis) && same_bits(x.min, y.min) && same_bits(x.max, y.max) &&
              same_bits(x.p1, y.p1) && same_bits(x.p50, y.p50) && same_bits(x.p99, y.p99) &&
              x.zero_count == y.zero_count && x.nan_count == y.nan_count && x.inf_count == y.inf_count;
  if (a.matrix.has_value() != b.matrix.has_value()) return false;
  if (a.matrix)
    same = same && a.matrix->identical_rows == b.matrix->identical_rows &&
           a.matrix->identical_first == b.matrix->identical_first &&
           a.matrix->identical_second == b.matrix->identical_second && a.matrix->dead_rows == b.matrix->dead_rows &&
           a.matrix->dead_cols == b.matrix->dead_cols;
  return same;
}

// Long-double moments of the finite values, for a 1e-9 comparison.
struct Ref {
  double mean, std, kurtosis, l2;
  std::uint64_t zeros, finite;
};
Ref reference(const std::vector<float>& f) {
  long double s = 0, n = 0;
  std::uint64_t zeros = 0;
  for (float v : f)
    if (std::isfinite(v)) {
      s += v;
      n += 1;
      zeros += (v == 0.0f);
    }
  const long double mean = s / n;
  long double m2 = 0, m4 = 0, sq = 0;
  for (float v : f)
    if (std::isfinite(v)) {
      const long double d = v - mean;
      m2 += d * d;
      m4 += d * d * d * d;
      sq += (long double)v * v;
    }
  return {double(mean), double(std::sqrt(m2 / n)), double(n * m4 / (m2 * m2) - 3), double(std::sqrt(sq)), zeros,
          std::uint64_t(n)};
}

std::vector<float> gaussian_f32(std::size_t n, float mean, float sd, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TensorView f32_view(const std::vector<float>& v, std::vector<std::int64_t> shape) {
  return {DType::F32, reinterpret_cast<const std::uint8_t*>(v.data()), v.size(), std::move(shape)};
}

}  // namespace

TEST_CASE("float32 tensors of many tasks: reference to 1e-9, and bit-identical for 1, 2, 3 and 5 threads",
          "[statistics][threads][f32]") {
  // 1,100,000 values: 68 chunks, 3 tasks, rows of 1,000 cut by chunk edges;
  // zeros of both signs, a subnormal, and rows 17 and 999 equal to row 3.
  auto f = gaussian_f32(1'100'000, 0.25f, 0.05f, 21);
  for (std::size_t i = 0; i < f.size(); i += 1013) f[i] = (i & 1) ? -0.0f : 0.0f;
  f[777] = 1e-42f;
  std::copy(f.begin() + 3000, f.begin() + 4000, f.begin() + 17'000);
  std::copy(f.begin() + 3000, f.begin() + 4000, f.begin() + 999'000);
  const TensorView v = f32_view(f, {1100, 1000});
  const auto one = analyse_tensors({v}, {1}).front();
  const Ref r = reference(f);
  using Catch::Matchers::WithinRel;
  CHECK_THAT(one.stats.mean, WithinRel(r.mean, 1e-9));
  CHECK_THAT(one.stats.std, WithinRel(r.std, 1e-9));
  CHECK_THAT(one.stats.kurtosis + 3, WithinRel(r.kurtosis + 3, 1e-9));
  CHECK_THAT(one.stats.l2_norm, WithinRel(r.l2, 1e-9));
  CHECK(one.stats.zero_count == r.zeros);
  CHECK(one.stats.histogram.total() == f.size());
  REQUIRE(one.matrix);
  CHECK(one.matrix->identical_rows == 2);
  CHECK(one.matrix->identical_first == 3);
  CHECK(one.matrix->identical_second == 17);
  for (int threads : {2, 3, 5}) {
    INFO("threads " << threads);
    CHECK(identical(one, analyse_tensors({v}, {threads}).front()));
  }
  // The same values as doubles take the double-buffer path: same histogram.
  const std::vector<double> d(f.begin(), f.end());
  const auto dd = statistics(std::span<const double>(d), {1100, 1000}, {2});
  REQUIRE(dd.stats.histogram.bins.size() == one.stats.histogram.bins.size());
  for (std::size_t i = 0; i < dd.stats.histogram.bins.size(); ++i) {
    CHECK(dd.stats.histogram.bins[i].key == one.stats.histogram.bins[i].key);
    CHECK(dd.stats.histogram.bins[i].count == one.stats.histogram.bins[i].count);
  }
  CHECK(dd.stats.zero_count == one.stats.zero_count);
  CHECK(dd.matrix->identical_rows == 2);
}

TEST_CASE("a NaN or an infinity in one chunk of a float32 tensor: that chunk is redone value by value",
          "[statistics][f32]") {
  auto f = gaussian_f32(600'000, -1.0f, 0.5f, 22);
  f[20'000] = NAN;
  f[20'001] = INFINITY;
  f[590'000] = -INFINITY;
  for (std::size_t i = 100; i < f.size(); i += 4999) f[i] = 0.0f;
  const auto a = statistics(std::span<const float>(f), {}, {3});
  const Ref r = reference(f);
  CHECK(a.stats.nan_count == 1);
  CHECK(a.stats.inf_count == 2);
  CHECK(a.stats.finite_count == r.finite);
  CHECK(a.stats.zero_count == r.zeros);
  CHECK(a.stats.histogram.total() == r.finite);
  CHECK_THAT(a.stats.mean, Catch::Matchers::WithinRel(r.mean, 1e-9));
  CHECK_THAT(a.stats.std, Catch::Matchers::WithinRel(r.std, 1e-9));
  CHECK(identical(a, statistics(std::span<const float>(f), {}, {1})));
}

TEST_CASE("signed zeros at the ends of the range are all binned", "[statistics][histogram]") {
  // min and max are zeros of either sign, whose keys sit on both sides of 0.
  std::vector<float> f(40'000, 0.0f);
  for (std::size_t i = 0; i < f.size(); i += 3) f[i] = -0.0f;
  const auto a = statistics(std::span<const float>(f)).stats;
  CHECK(a.histogram.total() == f.size());
  CHECK(a.zero_count == f.size());
  CHECK(a.p50 == 0.0);
  std::vector<float> g(700'000, 1.0f);
  for (std::size_t i = 0; i < g.size(); i += 7) g[i] = -0.0f;
  const auto b = statistics(std::span<const float>(g), {}, {2}).stats;
  CHECK(b.histogram.total() == g.size());
  CHECK(b.min == 0.0);
  CHECK(b.zero_count == (g.size() + 6) / 7);
}

TEST_CASE("rows that repeat in a pattern, and rows that are permutations of each other", "[statistics][matrix]") {
  const std::int64_t rows = 3000, cols = 64;
  const auto base = gaussian_f32(7 * cols, 0.0f, 1.0f, 23);
  std::vector<float> f(std::size_t(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    std::copy(base.begin() + (r % 7) * cols, base.begin() + (r % 7 + 1) * cols, f.begin() + r * cols);
  const auto a = statistics(std::span<const float>(f), {rows, cols}, {2});
  CHECK(a.matrix->identical_rows == std::uint64_t(rows - 7));
  CHECK(a.matrix->identical_first == 0);
  CHECK(a.matrix->identical_second == 7);
  // Every row a rotation of one row: equal as multisets, never equal as rows.
  std::vector<float> p(std::size_t(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) p[std::size_t(r * cols + c)] = base[std::size_t((c + r) % cols)];
  const auto b = statistics(std::span<const float>(p), {rows, cols}, {2});
  // Rotations by r and r + 64 coincide: rows r and r + 64 are equal.
  CHECK(b.matrix->identical_rows == std::uint64_t(rows - cols));
  CHECK(b.matrix->identical_first == 0);
  CHECK(b.matrix->identical_second == cols);
  // An identity matrix: one non-zero per row, all rows distinct.
  std::vector<float> eye(std::size_t(512 * 512), 0.0f);
  for (std::size_t i = 0; i < 512; ++i) eye[i * 512 + i] = 1.0f;
  const auto e = statistics(std::span<const float>(eye), {512, 512}, {3});
  CHECK(e.matrix->identical_rows == 0);
  CHECK(e.matrix->dead_rows == 0);
  CHECK(e.matrix->dead_cols == 0);
}

TEST_CASE("coarsened histograms merge whole bins, keep the total, and pick the finest width that fits",
          "[statistics][histogram]") {
  const auto f = gaussian_f32(200'000, 0.0f, 0.02f, 24);
  const auto s = statistics(std::span<const float>(f)).stats;
  REQUIRE(s.histogram.bins.size() > 256);
  const auto fine = s.histogram.coarsened(s.histogram.bins.size());
  CHECK(fine.mantissa_bits == 7);
  REQUIRE(fine.bins.size() == s.histogram.bins.size());
  for (std::size_t i = 0; i < fine.bins.size(); ++i) {
    CHECK(fine.bins[i].lower == Histogram::lower_edge(s.histogram.bins[i].key));
    CHECK(fine.bins[i].upper == Histogram::upper_edge(s.histogram.bins[i].key));
  }
  const auto c = s.histogram.coarsened(256);
  CHECK(c.bins.size() <= 256);
  CHECK(c.mantissa_bits < 7);
  // One step finer would not fit.
  CHECK(s.histogram.coarsened(c.bins.size() - 1).mantissa_bits < c.mantissa_bits);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < c.bins.size(); ++i) {
    total += c.bins[i].count;
    CHECK(c.bins[i].lower < c.bins[i].upper);
    if (i > 0) CHECK(c.bins[i - 1].upper <= c.bins[i].lower);
    // Width 2^-m of the binade [2^e, 2^(e+1)) holding the bin: 2^(e - m)
    // (a float32 ulp less on the negative side, whose edges are floats).
    const double mid = 0.5 * (c.bins[i].lower + c.bins[i].upper);
    if (std::fabs(mid) > 1e-30)
      CHECK(c.bins[i].upper - c.bins[i].lower ==
            Approx(std::ldexp(1.0, std::ilogb(mid) - c.mantissa_bits)).epsilon(1e-5));
  }
  CHECK(total == f.size());
  // Counting the values directly into the coarse bins gives the same counts.
  std::vector<std::uint64_t> direct(c.bins.size(), 0);
  for (float v : f) {
    std::size_t k = 0;
    while (k < c.bins.size() && !(double(v) >= c.bins[k].lower && double(v) < c.bins[k].upper)) ++k;
    REQUIRE(k < c.bins.size());
    ++direct[k];
  }
  for (std::size_t k = 0; k < c.bins.size(); ++k) CHECK(direct[k] == c.bins[k].count);
  CHECK(Histogram{}.coarsened(256).bins.empty());
}

TEST_CASE("float32 moments stay within 1e-9 when a chunk's head is far from its mean (two-pass fallback)",
          "[statistics][f32]") {
  // Offset mean with a tiny spread and zeros, and chunks whose first 64 values
  // (the one-pass shift) are outliers: ~16 standard deviations from the
  // chunk's mean, the worst case for the one-pass form, which hands such a
  // chunk to the two-pass form.
  auto f = gaussian_f32(300'000, 3.0f, 0.01f, 25);
  for (std::size_t i = 0; i < f.size(); i += 97) f[i] = 0.0f;
  for (std::size_t c = 0; c < f.size(); c += 16384 * 3)
    for (std::size_t i = c; i < std::min(f.size(), c + 64); ++i) f[i] = 1000.0f;
  const Ref r = reference(f);
  for (int threads : {1, 3}) {
    const auto a = statistics(std::span<const float>(f), {}, {threads}).stats;
    using Catch::Matchers::WithinRel;
    CHECK_THAT(a.mean, WithinRel(r.mean, 1e-9));
    CHECK_THAT(a.std, WithinRel(r.std, 1e-9));
    CHECK_THAT(a.kurtosis + 3, WithinRel(r.kurtosis + 3, 1e-9));
    CHECK_THAT(a.l2_norm, WithinRel(r.l2, 1e-9));
    CHECK(a.zero_count == r.zeros);
  }
  // A well-centred heavy-tailed tensor takes the one-pass path: same bound.
  std::mt19937_64 rng(26);
  std::student_t_distribution<float> t3(3.0f);
  std::vector<float> g(500'000);
  for (auto& v : g) v = 0.5f + 0.02f * t3(rng);
  const Ref q = reference(g);
  const auto b = statistics(std::span<const float>(g), {}, {2}).stats;
  CHECK_THAT(b.mean, Catch::Matchers::WithinRel(q.mean, 1e-9));
  CHECK_THAT(b.std, Catch::Matchers::WithinRel(q.std, 1e-9));
  CHECK_THAT(b.kurtosis + 3, Catch::Matchers::WithinRel(q.kurtosis + 3, 1e-9));
}
