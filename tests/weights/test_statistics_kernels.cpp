// The fused float32 pass, tasks of several chunks, the histogram's key range
// and row hashing: results must not depend on the thread count, on the path a
// chunk takes (fast float32, value by value after a NaN, double buffer), or
// on how rows fall across chunks and tasks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "gradcheck/weights/statistics.hpp"
#include "quant_blocks.hpp"
#include "weights/kernels.hpp"

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

namespace {
// The histogram counted directly: (key, count) in key order.
std::vector<std::pair<std::uint16_t, std::uint64_t>> direct_histogram(const std::vector<float>& f) {
  std::vector<std::uint64_t> counts(65536, 0);
  for (float v : f)
    if (std::isfinite(v)) ++counts[Histogram::key_of(v)];
  std::vector<std::pair<std::uint16_t, std::uint64_t>> out;
  for (std::size_t k = 0; k < counts.size(); ++k)
    if (counts[k] != 0) out.emplace_back(std::uint16_t(k), counts[k]);
  return out;
}
}  // namespace

TEST_CASE("many tensors of one and several tasks: workers move between them, histograms stay exact",
          "[statistics][threads][f32]") {
  // Workers keep one tensor's counts across its tasks and hand them over when
  // they move on: tensors of 1, 2 and 3 tasks, empty ones and tiny ones in
  // between, with values of both signs, zeros and a NaN.
  std::vector<std::vector<float>> data;
  const std::size_t sizes[] = {16384 * 70 + 5, 0, 3, 16384 * 33, 1, 16384 * 32, 200'000, 16384 * 65 - 8};
  std::uint64_t seed = 40;
  for (std::size_t n : sizes) {
    auto f = gaussian_f32(n, (seed & 1) ? -0.5f : 0.01f, 0.3f, seed);
    for (std::size_t i = 0; i < n; i += 977) f[i] = (i & 1) ? -0.0f : 0.0f;
    ++seed;
    data.push_back(std::move(f));
  }
  data[6][12'345] = NAN;
  std::vector<TensorView> views;
  for (const auto& f : data) views.push_back(f32_view(f, {}));
  const auto one = analyse_tensors(views, {1});
  for (std::size_t t = 0; t < data.size(); ++t) {
    INFO("tensor " << t);
    const auto expected = direct_histogram(data[t]);
    const auto& bins = one[t].stats.histogram.bins;
    REQUIRE(bins.size() == expected.size());
    for (std::size_t i = 0; i < bins.size(); ++i) {
      CHECK(bins[i].key == expected[i].first);
      CHECK(bins[i].count == expected[i].second);
    }
    if (data[t].size() > 1000) {
      const Ref r = reference(data[t]);
      CHECK_THAT(one[t].stats.mean, Catch::Matchers::WithinRel(r.mean, 1e-9));
      CHECK_THAT(one[t].stats.std, Catch::Matchers::WithinRel(r.std, 1e-9));
      CHECK(one[t].stats.zero_count == r.zeros);
    }
  }
  for (int threads : {2, 3, 5, 16}) {
    INFO("threads " << threads);
    const auto many = analyse_tensors(views, {threads});
    for (std::size_t t = 0; t < data.size(); ++t) CHECK(identical(one[t], many[t]));
  }
}

TEST_CASE("row hashing: rows of whole 8-value vectors (fused) and other widths find the same identical rows",
          "[statistics][matrix]") {
  // cols % 8 == 0 hashes in the fused float32 pass, other widths afterwards;
  // rows cut by chunks, repeats near chunk edges, a permuted copy that is not
  // a repeat, a dead row, a dead column, and a row differing in one bit.
  for (const std::int64_t cols : {std::int64_t(1000), std::int64_t(1001), std::int64_t(24), std::int64_t(7)}) {
    INFO("cols " << cols);
    const std::int64_t rows = 2 * 16384 / cols + 50;
    auto f = gaussian_f32(std::size_t(rows * cols), 0.0f, 1.0f, 50 + std::uint64_t(cols));
    auto row = [&](std::int64_t r) { return f.begin() + r * cols; };
    std::copy(row(2), row(3), row(rows - 3));                      // a repeat of row 2, far away
    std::copy(row(16384 / cols), row(16384 / cols + 1), row(9));   // a row cut by the first chunk edge, repeated
    std::reverse_copy(row(4), row(5), row(11));                    // reversed: equal as a multiset only
    std::copy(row(5), row(6), row(12));
    std::uint32_t bits;
    std::memcpy(&bits, &*(row(12) + cols - 1), 4);
    bits ^= 1;                                                     // row 12 = row 5 but one bit
    std::memcpy(&*(row(12) + cols - 1), &bits, 4);
    std::fill(row(20), row(21), 0.0f);                             // dead row
    for (std::int64_t r = 0; r < rows; ++r) f[std::size_t(r * cols + 3)] = -0.0f;  // dead column 3
    const auto a = statistics(std::span<const float>(f), {rows, cols}, {3});
    REQUIRE(a.matrix);
    // Two repeats; the pair reported is the one whose later row comes first.
    CHECK(a.matrix->identical_rows == 2);
    CHECK(a.matrix->identical_first == 9);
    CHECK(a.matrix->identical_second == 16384 / cols);
    CHECK(a.matrix->dead_rows == 1);
    CHECK(a.matrix->dead_cols == 1);
    CHECK(identical(a, statistics(std::span<const float>(f), {rows, cols}, {1})));
  }
  // Rows without a zero make every column alive at once; a zero elsewhere
  // in the same tensor does not make its column dead.
  auto g = gaussian_f32(64 * 4096, 1.0f, 0.1f, 60);
  g[5 * 4096 + 17] = 0.0f;
  const auto b = statistics(std::span<const float>(g), {64, 4096}, {2});
  CHECK(b.matrix->dead_cols == 0);
  CHECK(b.matrix->dead_rows == 0);
  CHECK(b.stats.zero_count == 1);
}

// Run twice by ctest, with and without GRADCHECK_BASELINE_KERNELS, each run
// writing every result's bits to GRADCHECK_DIGEST_FILE; the two files must be
// equal (tests/weights/CMakeLists.txt). Hidden: it means nothing alone.
TEST_CASE("statistics digest for the kernel comparison", "[.digest]") {
  const char* path = std::getenv("GRADCHECK_DIGEST_FILE");
  REQUIRE(path != nullptr);
  std::vector<std::vector<float>> data;
  data.push_back(gaussian_f32(1'000'000, 0.02f, 0.05f, 70));                 // one-pass chunks
  auto far = gaussian_f32(300'000, 3.0f, 0.01f, 71);
  for (std::size_t c = 0; c < far.size(); c += 16384 * 2)
    for (std::size_t i = c; i < std::min(far.size(), c + 64); ++i) far[i] = 1000.0f;  // two-pass chunks
  data.push_back(far);
  auto odd = gaussian_f32(16384 * 5 + 3, -1.0f, 2.0f, 72);
  odd[100] = NAN;
  odd[40'000] = -INFINITY;
  for (std::size_t i = 7; i < odd.size(); i += 501) odd[i] = -0.0f;
  data.push_back(odd);                                                         // value-by-value chunks, zeros
  data.push_back(gaussian_f32(777 * 1000, 0.0f, 1.0f, 73));
  data.push_back(gaussian_f32(777 * 1001, 0.0f, 1.0f, 74));
  const std::vector<std::vector<std::int64_t>> shapes = {{1000, 1000}, {}, {}, {777, 1000}, {777, 1001}};
  std::vector<TensorView> views;
  for (std::size_t i = 0; i < data.size(); ++i) views.push_back(f32_view(data[i], shapes[i]));
  // Quantized tensors: the few-level types read from their codes (one block
  // with an infinite scale, its chunk dequantized), and a dequantized type.
  std::vector<quant_test::Blocks> quantized;
  for (DType t : {DType::Q2_K, DType::TQ1_0, DType::TQ2_0, DType::Q4_0})
    quantized.push_back(quant_test::random_blocks(t, 96, 1280, 75));
  quant_test::set_half(quantized[0].block(40, 2) + 80, 0x7C00);
  for (const auto& q : quantized) views.push_back(q.view());
  const auto results = analyse_tensors(views, {2});
  std::FILE* out = std::fopen(path, "w");
  REQUIRE(out != nullptr);
  auto bits = [](double x) {
    std::uint64_t u;
    std::memcpy(&u, &x, 8);
    return static_cast<unsigned long long>(u);
  };
  for (const auto& r : results) {
    const TensorStats& s = r.stats;
    for (double x : {s.mean, s.std, s.min, s.max, s.abs_max, s.l2_norm, s.zero_fraction, s.kurtosis, s.p1, s.p50, s.p99})
      std::fprintf(out, "%016llx ", bits(x));
    std::fprintf(out, "%llu %llu %llu %llu\n", (unsigned long long)s.finite_count, (unsigned long long)s.nan_count,
                 (unsigned long long)s.inf_count, (unsigned long long)s.zero_count);
    for (const auto& b : s.histogram.bins) std::fprintf(out, "%u:%llu ", unsigned(b.key), (unsigned long long)b.count);
    std::fprintf(out, "\n");
    if (r.matrix)
      std::fprintf(out, "%llu %lld %lld %llu %llu\n", (unsigned long long)r.matrix->identical_rows,
                   (long long)r.matrix->identical_first, (long long)r.matrix->identical_second,
                   (unsigned long long)r.matrix->dead_rows, (unsigned long long)r.matrix->dead_cols);
  }
  // The fused float32 chunk pass itself, whose power sums are where the
  // builds could differ (a tensor's statistics round most of that away):
  // every chunk result's bits and its row pieces' hashes, over chunks of
  // several lengths, offsets and row widths, counted in two parts of the
  // histogram and in four (as dequantized blocks are).
  std::vector<double> scratch(kChunkElements);
  std::vector<std::uint32_t> hist(detail::kHistCounts, 0);
  std::vector<std::uint64_t> pieces(kChunkElements / 8 + 2);
  const auto values = gaussian_f32(kChunkElements * 3, 0.3f, 0.05f, 76);
  const TensorView flat = f32_view(values, {});
  for (std::size_t n : {std::size_t(kChunkElements), std::size_t(1000), std::size_t(8 * 17 + 5), std::size_t(7)})
    for (std::size_t begin : {std::size_t(0), std::size_t(8 * 101)})
      for (std::size_t cols : {std::size_t(0), std::size_t(64), std::size_t(8 * 37)})
        for (bool four : {false, true}) {
          detail::RowPieces rows;
          if (cols != 0) rows = {cols, begin % cols, pieces.data()};
          const detail::ChunkResult c = detail::run_chunk_kernel(flat, begin, n, scratch.data(), hist.data(), rows, four);
          const detail::Moments& m = c.moments;
          for (double x : {m.n, m.mean, m.m2, m.m3, m.m4, c.min, c.max}) std::fprintf(out, "%016llx ", bits(x));
          const std::size_t n8 = n & ~std::size_t(7);  // the values the fused pass hashes
          if (cols != 0 && n8 != 0)
            for (std::size_t k = 0; k < (begin % cols + n8 + cols - 1) / cols; ++k)
              std::fprintf(out, "%016llx ", static_cast<unsigned long long>(pieces[k]));
          std::fprintf(out, "\n");
        }
  for (std::size_t k = 0; k < detail::kHistCounts; ++k)
    if (hist[k] != 0) std::fprintf(out, "%zu:%u ", k, unsigned(hist[k]));
  std::fprintf(out, "\n");
  CHECK(std::fclose(out) == 0);
}

TEST_CASE("dequantized zeros are counted exactly from the zero bins, at the smallest scales of every block type",
          "[statistics][quant]") {
  // The zero bins also hold the float32 subnormals below 2^-133; no block
  // type dequantizes to one (its scales and their products with the codes are
  // at least 2^-128 when not 0), so their growth is the count. Blocks of bytes
  // 0x00, 0x01, 0x02, 0x80 and 0x81 give the smallest scales of every kind
  // (float16 2^-24 and its subnormals, E8M0 2^-127 and UE4M3 2^-9, both halved) and
  // many zero codes.
  const DType types[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1,  DType::Q5_0,   DType::Q5_1,  DType::Q2_K,
                         DType::Q3_K, DType::Q4_K, DType::Q5_K,  DType::Q6_K,   DType::IQ4_NL, DType::IQ4_XS,
                         DType::MXFP4, DType::TQ1_0, DType::TQ2_0, DType::NVFP4};
  const std::uint8_t small[] = {0x00, 0x01, 0x02, 0x80, 0x81};
  for (DType t : types) {
    quant_test::Blocks b{t, 64, 1024, {}};
    b.bytes.resize(std::size_t(b.rows) * b.blocks_per_row() * b.block_size());
    std::mt19937 rng(static_cast<std::uint32_t>(t) + 90);
    for (auto& x : b.bytes) x = small[rng() % 5];
    const std::vector<float> values = b.values();
    std::uint64_t zeros = 0, tiny = 0;
    for (float v : values) {
      zeros += v == 0.0f;
      tiny += v != 0.0f && std::fabs(v) < std::ldexp(1.0f, -133);
    }
    INFO(dtype_name(t));
    CHECK(tiny == 0);
    REQUIRE(zeros > 0);
    REQUIRE(zeros < values.size());
    const auto r = analyse_tensors({b.view()}, {2});
    CHECK(r[0].stats.zero_count == zeros);
    CHECK(r[0].stats.finite_count == values.size());
  }
}
