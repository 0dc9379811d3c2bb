#include "gradcheck/weights/statistics.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "../core/parallel.hpp"

namespace gradcheck::weights {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kBins = 65536;

// The inverse of the order-preserving map of float32 bits to unsigned
// (negative values, all bits flipped, below positive ones, sign bit set).
float from_ordered(std::uint32_t u) noexcept {
  return std::bit_cast<float>((u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u);
}

// Count, mean and central moments of a set of finite values, mergeable.
struct Moments {
  double n = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0;

  // Pebay (2008), "Formulas for robust, one-pass parallel computation of
  // covariances and arbitrary-order statistical moments", eqs. 2.1-2.3.
  static Moments merge(const Moments& a, const Moments& b) noexcept {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    Moments r;
    r.n = a.n + b.n;
    const double d = b.mean - a.mean;
    const double d_n = d / r.n;
    const double d_n2 = d_n * d_n;
    const double t1 = d * d_n * a.n * b.n;
    r.mean = a.mean + d_n * b.n;
    r.m2 = a.m2 + b.m2 + t1;
    r.m3 = a.m3 + b.m3 + t1 * d_n * (a.n - b.n) + 3.0 * d_n * (a.n * b.m2 - b.n * a.m2);
    r.m4 = a.m4 + b.m4 + t1 * d_n2 * (a.n * a.n - a.n * b.n + b.n * b.n) +
           6.0 * d_n2 * (a.n * a.n * b.m2 + b.n * b.n * a.m2) + 4.0 * d_n * (a.n * b.m3 - b.n * a.m3);
    return r;
  }
};

struct ChunkResult {
  Moments moments;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::uint64_t nan = 0, inf = 0, zeros = 0;
};

// Merges chunk results [lo, hi) as a balanced binary tree: the order depends
// only on the chunk count, and the rounding error grows with log(chunks).
ChunkResult merge_tree(const std::vector<ChunkResult>& parts, std::size_t lo, std::size_t hi) {
  if (hi - lo == 1) return parts[lo];
  const std::size_t mid = lo + (hi - lo) / 2;
  const ChunkResult a = merge_tree(parts, lo, mid);
  const ChunkResult b = merge_tree(parts, mid, hi);
  ChunkResult r;
  r.moments = Moments::merge(a.moments, b.moments);
  r.min = std::min(a.min, b.min);
  r.max = std::max(a.max, b.max);
  r.nan = a.nan + b.nan;
  r.inf = a.inf + b.inf;
  r.zeros = a.zeros + b.zeros;
  return r;
}

// A task is up to kChunksPerTask consecutive chunks of one tensor (2 MiB of
// F32). Moments stay per chunk, so the merge tree, and every result, does not
// depend on the task size or the thread count.
constexpr std::size_t kChunksPerTask = 32;

struct Job;

// The histogram is counted by raw key: a float32's bits >> 16 (sign,
// exponent, top 7 mantissa bits), one shift in the kernels. Raw keys are in
// sign-magnitude order (0x0000.. from +0 up, 0x8000.. from -0 down); a flush
// turns them into Histogram's value-ordered keys.
inline std::uint32_t ordered_key_of_raw(std::uint32_t raw) noexcept {
  return raw < 0x8000 ? raw + 0x8000 : 0xFFFF - raw;
}

inline std::uint32_t raw_key_of(double x) noexcept {
  x = x < -double(FLT_MAX) ? -double(FLT_MAX) : x;
  x = x > double(FLT_MAX) ? double(FLT_MAX) : x;
  return std::bit_cast<std::uint32_t>(static_cast<float>(x)) >> 16;
}

// Per-worker scratch, reused across tasks. The histogram holds the counts of
// the worker's current job since its last flush (at most 2^32 - 1 values, so
// no count can wrap); pos_* and neg_* bound the raw keys touched on each side
// of zero (from the chunks' finite minima and maxima: the key is monotone in
// the magnitude), so a flush scans those ranges only and leaves the array
// zeroed. The worker's finished tasks of that job are published (counted
// down in Job::remaining) only after its counts are flushed, so the job's
// last task to be published finds every count in place.
struct Scratch {
  std::vector<double> values = std::vector<double>(kChunkElements);
  // Row piece hashes of a chunk: at most one per 8 values, plus a partial row at each end.
  std::vector<std::uint64_t> pieces = std::vector<std::uint64_t>(kChunkElements / 8 + 2);
  // One extra bin (kBins) takes the fused kernel's first, empty round of increments.
  std::vector<std::uint32_t> hist = std::vector<std::uint32_t>(kBins + 1, 0);
  std::uint32_t ring[32] = {};  // the fused kernel's keys, counted two rounds later
  std::uint32_t pos_lo = kBins, pos_hi = 0, neg_lo = kBins, neg_hi = 0;
  Job* job = nullptr;
  std::size_t finished = 0;  // tasks of `job` done and not yet published
  std::uint64_t held = 0;    // values counted since the last flush
};

struct Job {
  const TensorView* view = nullptr;
  std::size_t first_task = 0, tasks = 0, chunks = 0;
  std::vector<ChunkResult> parts;
  std::atomic<std::size_t> remaining{0};
  std::once_flag alloc_once;
  std::vector<std::uint64_t> dense;  // histogram of a multi-task tensor, while tasks are in flight
  bool is_matrix = false;
  std::int64_t rows = 0, cols = 0;
  std::vector<std::uint32_t> row_hash;  // two 32-bit sums per row (see hash_f32)
  std::vector<std::uint8_t> row_alive;
  std::vector<std::uint64_t> col_alive;  // bit set
  std::uint8_t all_cols_alive = 0;       // set once a whole row without zeros is seen
  TensorAnalysis* out = nullptr;
};

void allocate(Job& job) {
  if (job.tasks > 1) job.dense.assign(kBins, 0);
  if (job.is_matrix) {
    job.row_hash.assign(2 * static_cast<std::size_t>(job.rows), 0);
    job.row_alive.assign(static_cast<std::size_t>(job.rows), 0);
    job.col_alive.assign((static_cast<std::size_t>(job.cols) + 63) / 64, 0);
  }
}

inline std::uint16_t bin_of(double x) noexcept {
  return static_cast<std::uint16_t>(ordered_key_of_raw(raw_key_of(x)));
}

// The raw keys finite values in [lo, hi] can have. Zeros compare equal
// whatever their sign, so a zero bound reaches both +0's and -0's bins.
void widen_key_range(Scratch& s, double lo, double hi) noexcept {
  if (hi >= 0) {
    s.pos_lo = std::min(s.pos_lo, lo > 0 ? raw_key_of(lo) : 0u);
    s.pos_hi = std::max(s.pos_hi, hi > 0 ? raw_key_of(hi) : 0u);
  }
  if (lo <= 0) {
    s.neg_lo = std::min(s.neg_lo, hi < 0 ? raw_key_of(hi) : 0x8000u);
    s.neg_hi = std::max(s.neg_hi, lo < 0 ? raw_key_of(lo) : 0x8000u);
  }
}

// Calls emit(raw key, count) for each non-zero count among the raw keys
// [lo, hi], in ascending or descending order, and zeroes it. Blocks of 16
// empty bins are skipped with one test (a block never straddles 0x8000, so
// it holds keys of one sign only, all inside the touched range or empty).
template <class Emit>
void drain(std::uint32_t* hist, std::uint32_t lo, std::uint32_t hi, bool descending, Emit&& emit) {
  if (lo > hi) return;
  const std::size_t first = lo & ~15u, blocks = ((hi | 15u) + 1 - first) / 16;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t k = descending ? first + 16 * (blocks - 1 - b) : first + 16 * b;
    std::uint32_t any = 0;
    for (std::size_t j = 0; j < 16; ++j) any |= hist[k + j];
    if (any == 0) continue;
    for (std::size_t t = 0; t < 16; ++t) {
      const std::size_t j = descending ? k + 15 - t : k + t;
      if (hist[j] == 0) continue;
      emit(static_cast<std::uint32_t>(j), hist[j]);
      hist[j] = 0;
    }
  }
}

// Moves the worker's counts into its job, in value order: negative values
// (raw keys descending: largest magnitude first), then positive ones.
void flush_histogram(Scratch& s) {
  Job& job = *s.job;
  auto& bins = job.out->stats.histogram.bins;
  auto emit = [&](std::uint32_t raw, std::uint32_t count) {
    const std::uint32_t key = ordered_key_of_raw(raw);
    // A single-task tensor (one worker, one flush) takes its sparse histogram straight from here.
    if (job.tasks == 1) bins.push_back({static_cast<std::uint16_t>(key), count});
    else std::atomic_ref<std::uint64_t>(job.dense[key]).fetch_add(count, std::memory_order_relaxed);
  };
  drain(s.hist.data(), s.neg_lo, s.neg_hi, true, emit);
  drain(s.hist.data(), s.pos_lo, s.pos_hi, false, emit);
  s.pos_lo = s.neg_lo = kBins;
  s.pos_hi = s.neg_hi = 0;
  s.held = 0;
}

// ---------------------------------------------------------------------------
// The per-chunk kernels. They use GCC/Clang vector extensions: eight explicit
// double lanes (two 4-wide vectors), so the summation order is fixed by the
// source, not by the instruction set. Each kernel is compiled twice, for the
// x86-64 baseline (SSE2: each 4-wide vector is two instructions) and for AVX2,
// chosen at run time; FMA is not enabled, so both builds round identically and
// the results do not depend on the machine's instruction set either.

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef std::int64_t v4l __attribute__((vector_size(32)));
typedef std::uint32_t v8u __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));

#define GRADCHECK_INLINE inline __attribute__((always_inline))

// Four float32 values at p as doubles. Written element by element: GCC 12
// lowers __builtin_convertvector of four floats to doubles in pieces through
// the stack, while this form becomes one vcvtps2pd in the AVX2 kernels (two
// cvtps2pd in the baseline ones).
GRADCHECK_INLINE void widen4(const std::uint8_t* p, v4d& out) noexcept {
  float f[4];
  std::memcpy(f, p, 16);
  out = v4d{f[0], f[1], f[2], f[3]};
}

struct PassA {
  double sum = 0, min = 0, max = 0;
  std::uint64_t zeros = 0;
  // A finite sum means every value is finite: an infinity or NaN makes the
  // sum infinite or NaN, and float32 values cannot overflow a double sum. A
  // double sum can overflow from finite values; such a chunk merely takes the
  // value-by-value path.
  bool all_finite() const noexcept { return std::fabs(sum) <= DBL_MAX; }
};


GRADCHECK_INLINE double reduce8(const v4d& a, const v4d& b) noexcept {
  return ((a[0] + b[0]) + (a[1] + b[1])) + ((a[2] + b[2]) + (a[3] + b[3]));
}

// Where a float32 chunk of a matrix falls in its rows, so the fused pass can
// hash the row pieces while it reads them. Only for rows of whole 8-value
// vectors (cols % 8 == 0; chunks start at multiples of 8), so no vector
// straddles two rows; `cols == 0` means no hashing.
struct RowPieces {
  std::size_t cols = 0;
  std::size_t col0 = 0;          // column of the chunk's first value
  std::uint64_t* out = nullptr;  // hash_f32 of each row piece, in order
};

// Everything of a float32 chunk in one read of the mapped bytes: minimum,
// maximum, histogram, the row pieces' hashes, and the power sums S1..S4 of
// d = x - shift, shift being the mean of the first (up to) 64 values. Central
// moments follow from the power sums with little cancellation when the
// chunk's mean is within a few standard deviations of the shift (checked by
// the caller, which otherwise takes a second, two-pass look). The next
// chunk's bytes (`next`, may be null) are prefetched meanwhile.
//
// The loop is bound by its vector instructions and by the histogram's
// increments (a load and a store each), so both are kept few: keys are the
// raw bits >> 16, minimum and maximum are taken on the floats (8 lanes per
// AVX2 instruction; NaN never gets here, as such a chunk is redone value by
// value), and each round's keys go through `ring` to be counted two rounds
// later from plain loads (their stores long done), overlapping with that
// round's arithmetic.
struct FusedF32 {
  double shift = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, min = 0, max = 0;
};
template <bool kHash, bool kAvx2>
GRADCHECK_INLINE FusedF32 fused_f32(const std::uint8_t* p, std::size_t n, std::uint32_t* hist, std::uint32_t* ring,
                                    const std::uint8_t* next, const RowPieces& rows) noexcept {
  FusedF32 r;
  {
    const std::size_t k = std::min<std::size_t>(n, 64);
    double head = 0;
    for (std::size_t i = 0; i < k; ++i) {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      head += f;
    }
    r.shift = k > 0 ? head / double(k) : 0.0;
  }
  const v4d z = {0, 0, 0, 0}, mu = {r.shift, r.shift, r.shift, r.shift};
  // Four lanes per power sum, each adding the pair (x[i + l], x[i + 4 + l])
  // per round: few enough registers that nothing spills next to the hashing.
  v4d s1 = z, s2 = z, s3 = z, s4 = z;
  const float inf = std::numeric_limits<float>::infinity();
  // Eight lanes of minimum and maximum; for SSE as two 4-wide halves (GCC
  // splits an 8-wide select into scalar steps there), the same lanes.
  v8f fmin = {inf, inf, inf, inf, inf, inf, inf, inf}, fmax = -fmin;
  v4f min_a = {inf, inf, inf, inf}, min_b = min_a, max_a = -min_a, max_b = -min_a;
  const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7};
  // The first two rounds count keys of rounds before the first: none, so the spare bin.
  for (int j = 0; j < 32; ++j) ring[j] = kBins;
  const std::size_t n8 = n & ~std::size_t(7);
  std::size_t i = 0, piece = 0, col = kHash ? rows.col0 : 0;
  while (i < n8) {
    // One row piece (the whole chunk without hashing): hash_f32's sums, one
    // lane per column residue mod 8.
    const std::size_t stop = kHash ? std::min(n8, i + (rows.cols - col)) : n8;
    v8u lo = lane & 0, hi = lane & 0;
    v8u k1 = (lane + std::uint32_t(col + 1)) * 0x9E3779B9u, k2 = (lane + std::uint32_t(col + 1)) * 0x7FEB352Du;
    for (; i < stop; i += 8) {
      v8u u;
      std::memcpy(&u, p + 4 * i, 32);
      if constexpr (kAvx2) {
        const v8f f = (v8f)u;
        fmin = f < fmin ? f : fmin;
        fmax = f > fmax ? f : fmax;
      } else {
        v4f fa, fb;
        std::memcpy(&fa, p + 4 * i, 16);
        std::memcpy(&fb, p + 4 * i + 16, 16);
        min_a = fa < min_a ? fa : min_a;
        min_b = fb < min_b ? fb : min_b;
        max_a = fa > max_a ? fa : max_a;
        max_b = fb > max_b ? fb : max_b;
      }
      const v8u key = u >> 16;
      std::uint32_t* const mine = ring + (i & 24);
      const std::uint32_t* const before = ring + ((i - 16) & 24);
      for (int j = 0; j < 8; ++j) ++hist[before[j]];
      std::memcpy(mine, &key, 32);
      v4d a, b;
      widen4(p + 4 * i, a);
      widen4(p + 4 * i + 16, b);
      const v4d da = a - mu, db = b - mu;
      const v4d da2 = da * da, db2 = db * db;
      s1 += da + db;
      s2 += da2 + db2;
      s3 += da2 * da + db2 * db;
      s4 += da2 * da2 + db2 * db2;
      if constexpr (kHash) {
        lo += u ^ k1;
        hi += u ^ k2;
        k1 += 8 * 0x9E3779B9u;
        k2 += 8 * 0x7FEB352Du;
      }
      if (next != nullptr && (i & 15) == 0) __builtin_prefetch(next + 4 * i);
    }
    if constexpr (kHash) {
      std::uint32_t l = 0, h = 0;
      for (int j = 0; j < 8; ++j) {
        l += lo[j];
        h += hi[j];
      }
      rows.out[piece++] = (std::uint64_t(h) << 32) | l;
      col = 0;
    }
  }
  // The last two rounds' keys, and the spare bin back to 0.
  for (std::size_t back = std::min<std::size_t>(n8, 16); back > 0; back -= 8)
    for (std::size_t j = 0; j < 8; ++j) ++hist[ring[((n8 - back) & 24) + j]];
  hist[kBins] = 0;
  r.s1 = (s1[0] + s1[1]) + (s1[2] + s1[3]);
  r.s2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
  r.s3 = (s3[0] + s3[1]) + (s3[2] + s3[3]);
  r.s4 = (s4[0] + s4[1]) + (s4[2] + s4[3]);
  if constexpr (!kAvx2)
    for (int l = 0; l < 4; ++l) {
      fmin[l] = min_a[l];
      fmin[l + 4] = min_b[l];
      fmax[l] = max_a[l];
      fmax[l + 4] = max_b[l];
    }
  float mn = inf, mx = -inf;
  for (int l = 0; l < 8; ++l) {
    mn = fmin[l] < mn ? fmin[l] : mn;
    mx = fmax[l] > mx ? fmax[l] : mx;
  }
  for (; i < n; ++i) {
    std::uint32_t b;
    std::memcpy(&b, p + 4 * i, 4);
    ++hist[b >> 16];
    const float f = std::bit_cast<float>(b);
    mn = f < mn ? f : mn;
    mx = f > mx ? f : mx;
    const double d = double(f) - r.shift, d2 = d * d;
    r.s1 += d;
    r.s2 += d2;
    r.s3 += d2 * d;
    r.s4 += d2 * d2;
  }
  r.min = mn;
  r.max = mx;
  return r;
}

// The same over n doubles, counting zeros.
GRADCHECK_INLINE PassA pass_a_f64(const double* x, std::size_t n) noexcept {
  const double inf = std::numeric_limits<double>::infinity();
  v4d s0 = {0, 0, 0, 0}, s1 = s0;
  v4d mn0 = {inf, inf, inf, inf}, mn1 = mn0, mx0 = -mn0, mx1 = -mn0;
  v4l z0 = {0, 0, 0, 0}, z1 = z0;
  const v4d zero = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4d a, b;
    std::memcpy(&a, x + i, 32);
    std::memcpy(&b, x + i + 4, 32);
    s0 += a;
    s1 += b;
    mn0 = a < mn0 ? a : mn0;
    mn1 = b < mn1 ? b : mn1;
    mx0 = a > mx0 ? a : mx0;
    mx1 = b > mx1 ? b : mx1;
    z0 -= a == zero;
    z1 -= b == zero;
  }
  PassA r;
  r.sum = reduce8(s0, s1);
  r.min = inf;
  r.max = -inf;
  for (int l = 0; l < 4; ++l) {
    r.min = std::min({r.min, mn0[l], mn1[l]});
    r.max = std::max({r.max, mx0[l], mx1[l]});
    r.zeros += std::uint64_t(z0[l] + z1[l]);
  }
  for (; i < n; ++i) {
    r.sum += x[i];
    r.min = x[i] < r.min ? x[i] : r.min;
    r.max = x[i] > r.max ? x[i] : r.max;
    r.zeros += (x[i] == 0.0);
  }
  return r;
}

// Loads elements i..i+7 as doubles: from float32 bytes or a double buffer.
struct LoadF32 {
  const std::uint8_t* p;
  GRADCHECK_INLINE void operator()(std::size_t i, v4d& a, v4d& b) const noexcept {
    v4f fa, fb;
    std::memcpy(&fa, p + 4 * i, 16);
    std::memcpy(&fb, p + 4 * i + 16, 16);
    a = __builtin_convertvector(fa, v4d);
    b = __builtin_convertvector(fb, v4d);
  }
  GRADCHECK_INLINE double one(std::size_t i) const noexcept {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
};
struct LoadF64 {
  const double* x;
  GRADCHECK_INLINE void operator()(std::size_t i, v4d& a, v4d& b) const noexcept {
    std::memcpy(&a, x + i, 32);
    std::memcpy(&b, x + i + 4, 32);
  }
  GRADCHECK_INLINE double one(std::size_t i) const noexcept { return x[i]; }
};

// Central moments M2..M4 about `mean` over n finite values.
template <class Load>
GRADCHECK_INLINE void pass_moments(const Load& load, std::size_t n, double mean, double& m2, double& m3,
                                   double& m4) noexcept {
  const v4d z = {0, 0, 0, 0}, mu = {mean, mean, mean, mean};
  v4d a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4d a, b;
    load(i, a, b);
    const v4d da = a - mu, db = b - mu;
    const v4d da2 = da * da, db2 = db * db;
    a2 += da2;
    b2 += db2;
    a3 += da2 * da;
    b3 += db2 * db;
    a4 += da2 * da2;
    b4 += db2 * db2;
  }
  m2 = reduce8(a2, b2);
  m3 = reduce8(a3, b3);
  m4 = reduce8(a4, b4);
  for (; i < n; ++i) {
    const double d = load.one(i) - mean, d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
}

// Row hashing, additive over pieces of a row (chunk boundaries cut rows, and
// pieces arrive in any order): two sums mod 2^32 of mix(w, column) over a
// row's elements (w an element's raw bits), returned packed as hi << 32 | lo
// and added to the row's two sums separately. The column-dependent keys tell
// permuted rows apart; equal hashes are confirmed by comparing bytes. For
// float32, mix is w ^ key(column), two independent key sequences: a constant
// odd factor on each term would change nothing (sum(c * t) = c * sum(t) is a
// bijection of sum(t) mod 2^32), and this is what the fused kernel computes
// 8 columns at a time.
GRADCHECK_INLINE std::uint64_t hash_f32(const std::uint8_t* p, std::size_t col0, std::size_t n) noexcept {
  std::uint32_t lo = 0, hi = 0;
  std::uint32_t k1 = static_cast<std::uint32_t>(col0 + 1) * 0x9E3779B9u;
  std::uint32_t k2 = static_cast<std::uint32_t>(col0 + 1) * 0x7FEB352Du;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t w;
    std::memcpy(&w, p + 4 * i, 4);
    lo += w ^ k1;
    hi += w ^ k2;
    k1 += 0x9E3779B9u;
    k2 += 0x7FEB352Du;
  }
  return (std::uint64_t(hi) << 32) | lo;
}

std::uint64_t hash_any(const std::uint8_t* p, std::size_t size, std::size_t col0, std::size_t n) noexcept {
  std::uint32_t lo = 0, hi = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t w = 0;
    std::memcpy(&w, p + size * i, size);  // little-endian: the element's bits, zero-extended
    const std::uint64_t m = (w ^ ((col0 + i + 1) * 0xC2B2AE3D27D4EB4FULL)) * 0x165667B19E3779F9ULL;
    lo += std::uint32_t(m);
    hi += std::uint32_t(m >> 32);
  }
  return (std::uint64_t(hi) << 32) | lo;
}

// Zeros among n float32 values (either sign).
std::uint64_t count_zeros_f32(const std::uint8_t* p, std::size_t n) noexcept {
  std::uint64_t z = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t b;
    std::memcpy(&b, p + 4 * i, 4);
    z += (b & 0x7FFFFFFFu) == 0;
  }
  return z;
}

// A chunk's moments and histogram (and, for a float32 matrix of whole-vector
// rows, the row pieces' hashes). `x` is a scratch buffer of kChunkElements
// doubles; float32 data is read in place and binned from its own bits.
template <bool kAvx2>
GRADCHECK_INLINE ChunkResult chunk_kernel(const TensorView& v, std::size_t begin, std::size_t n, double* x,
                                          std::uint32_t* hist, std::uint32_t* ring, const RowPieces& rows) noexcept {
  ChunkResult r;
  const std::uint8_t* raw = v.data + begin * dtype_size(v.dtype);
  // The next chunk, prefetched while this one is worked on (a prefetch never
  // faults, so running past a shorter last chunk is harmless).
  const std::uint8_t* next = begin + n < v.numel ? raw + 4 * n : nullptr;
  const bool f32 = v.dtype == DType::F32;
  if (f32 && n > 0) {
    // Zeros fall in the bins of +0 and -0 (with the tiniest subnormals):
    // counted exactly only when those bins grew.
    const std::uint32_t around_zero = hist[0x0000] + hist[0x8000];
    const FusedF32 f = rows.cols != 0 ? fused_f32<true, kAvx2>(raw, n, hist, ring, next, rows)
                                      : fused_f32<false, kAvx2>(raw, n, hist, ring, next, rows);
    // A finite S1 means every value is finite (an infinity or NaN would make
    // it infinite or NaN; float32 values cannot overflow a double sum).
    if (std::fabs(f.s1) <= DBL_MAX) {
      r.min = f.min;
      r.max = f.max;
      if (hist[0x0000] + hist[0x8000] != around_zero) r.zeros = count_zeros_f32(raw, n);
      const double dn = double(n), delta = f.s1 / dn, mean = f.shift + delta;
      double m2 = f.s2 - f.s1 * delta, m3, m4;
      // The power sums lose about (1 + delta^2 / var)^2 ulps to cancellation.
      // As the shift is the mean of 64 of the chunk's n values, delta^2 <=
      // var * n / 64 (at most 16 standard deviations for a full chunk); past 4
      // the exact two-pass form is taken all the same.
      if (m2 > 0 && delta * delta <= 16 * m2 / dn) {
        m3 = f.s3 - 3 * delta * f.s2 + 2 * dn * delta * delta * delta;
        m4 = f.s4 - 4 * delta * f.s3 + 6 * delta * delta * f.s2 - 3 * dn * delta * delta * delta * delta;
      } else {
        pass_moments(LoadF32{raw}, n, mean, m2, m3, m4);
      }
      r.moments = {dn, mean, m2, m3, m4};
      return r;
    }
    // Taken back (the keys again from the bits): redone value by value below.
    for (std::size_t k = 0; k < n; ++k) {
      std::uint32_t b;
      std::memcpy(&b, raw + 4 * k, 4);
      --hist[b >> 16];
    }
  }
  PassA a;
  if (f32) a.sum = std::numeric_limits<double>::quiet_NaN();
  convert_to_double(v.dtype, v.data, begin, begin + n, x);
  if (!f32) a = pass_a_f64(x, n);
  if (a.all_finite()) {
    r.min = a.min;
    r.max = a.max;
    r.zeros = a.zeros;
    if (n == 0) return r;
    const double mean = a.sum / double(n);
    double m2, m3, m4;
    for (std::size_t k = 0; k < n; ++k) ++hist[raw_key_of(x[k])];
    pass_moments(LoadF64{x}, n, mean, m2, m3, m4);
    r.moments = {double(n), mean, m2, m3, m4};
    return r;
  }
  // Some value is NaN or infinite (or a double sum overflowed): value by
  // value over the finite ones.
  double sum[4] = {0, 0, 0, 0};
  std::uint64_t finite = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::size_t k = 0; k < n; ++k) {
    const double xk = x[k];
    if (!(std::fabs(xk) <= DBL_MAX)) {
      if (std::isnan(xk)) ++r.nan; else ++r.inf;
      continue;
    }
    ++finite;
    sum[k & 3] += xk;
    lo = std::min(lo, xk);
    hi = std::max(hi, xk);
    r.zeros += (xk == 0.0);
    ++hist[raw_key_of(xk)];
  }
  r.min = lo;
  r.max = hi;
  if (finite > 0) {
    const double mean = ((sum[0] + sum[1]) + (sum[2] + sum[3])) / double(finite);
    double a2 = 0, a3 = 0, a4 = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (!(std::fabs(x[k]) <= DBL_MAX)) continue;
      const double d = x[k] - mean, d2 = d * d;
      a2 += d2;
      a3 += d2 * d;
      a4 += d2 * d2;
    }
    r.moments = {double(finite), mean, a2, a3, a4};
  }
  return r;
}

ChunkResult chunk_baseline(const TensorView& v, std::size_t begin, std::size_t n, double* x, std::uint32_t* hist,
                           std::uint32_t* ring, const RowPieces& rows) {
  return chunk_kernel<false>(v, begin, n, x, hist, ring, rows);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) ChunkResult chunk_avx2(const TensorView& v, std::size_t begin, std::size_t n,
                                                       double* x, std::uint32_t* hist, std::uint32_t* ring,
                                                       const RowPieces& rows) {
  return chunk_kernel<true>(v, begin, n, x, hist, ring, rows);
}
__attribute__((target("avx2"))) std::uint64_t hash_f32_avx2(const std::uint8_t* p, std::size_t col0, std::size_t n) {
  return hash_f32(p, col0, n);
}
// GRADCHECK_BASELINE_KERNELS (any value) keeps the baseline kernels on an
// AVX2 machine, so tests can show both builds give the same results.
const bool kHaveAvx2 = __builtin_cpu_supports("avx2") && std::getenv("GRADCHECK_BASELINE_KERNELS") == nullptr;
#else
const bool kHaveAvx2 = false;
#endif

ChunkResult run_chunk_kernel(const TensorView& v, std::size_t begin, std::size_t n, double* x, std::uint32_t* hist,
                             std::uint32_t* ring, const RowPieces& rows) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kHaveAvx2) return chunk_avx2(v, begin, n, x, hist, ring, rows);
#endif
  return chunk_baseline(v, begin, n, x, hist, ring, rows);
}

std::uint64_t row_piece_hash(DType t, const std::uint8_t* p, std::size_t col0, std::size_t n) {
  if (t != DType::F32) return hash_any(p, dtype_size(t), col0, n);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kHaveAvx2) return hash_f32_avx2(p, col0, n);
#endif
  return hash_f32(p, col0, n);
}

// Row hashes and dead rows/columns of the rows [begin, end) of a chunk cuts.
// `pieces`: the row pieces' hashes when the chunk kernel took them, else null.
void matrix_segment(Job& job, std::size_t begin, std::size_t end, bool has_zeros, const std::uint64_t* pieces) {
  const TensorView& v = *job.view;
  const std::size_t size = dtype_size(v.dtype);
  const auto cols = static_cast<std::size_t>(job.cols);
  // Whether element k is non-zero, from its bits: any bit but a float's sign.
  std::uint64_t value_mask = ~std::uint64_t(0);
  if (size < 8) value_mask = (std::uint64_t(1) << (8 * size)) - 1;
  if (is_floating(v.dtype)) value_mask &= ~(std::uint64_t(1) << (8 * size - 1));
  auto nonzero = [&](std::size_t k) {
    std::uint64_t w = 0;
    std::memcpy(&w, v.data + size * k, size);
    return (w & value_mask) != 0;
  };
  std::size_t i = begin;
  while (i < end) {
    const std::size_t row = i / cols;
    const std::size_t seg_end = std::min(end, (row + 1) * cols);
    const std::size_t col0 = i - row * cols, col_end = seg_end - row * cols;
    const std::uint64_t h =
        pieces != nullptr ? *pieces++ : row_piece_hash(v.dtype, v.data + size * i, col0, seg_end - i);
    std::atomic_ref<std::uint32_t>(job.row_hash[2 * row]).fetch_add(std::uint32_t(h), std::memory_order_relaxed);
    std::atomic_ref<std::uint32_t>(job.row_hash[2 * row + 1]).fetch_add(std::uint32_t(h >> 32), std::memory_order_relaxed);
    // Without a zero in the chunk every value is alive: whole bit ranges, or
    // for a whole row, every column at once.
    bool any = !has_zeros && col_end > col0;
    std::atomic_ref<std::uint8_t> all_cols(job.all_cols_alive);
    if (!has_zeros && col0 == 0 && col_end == cols) all_cols.store(1, std::memory_order_relaxed);
    const bool cols_known = all_cols.load(std::memory_order_relaxed) != 0;
    for (std::size_t c = col0; c < col_end && !(cols_known && !has_zeros);) {
      const std::size_t w = c >> 6, stop = std::min(col_end, (w + 1) * 64);
      std::uint64_t word = 0;
      if (!has_zeros) {
        const std::size_t lo = c & 63, n = stop - c;
        word = (n == 64 ? ~std::uint64_t(0) : ((std::uint64_t(1) << n) - 1)) << lo;
      } else {
        for (std::size_t k = c; k < stop; ++k) word |= std::uint64_t(nonzero(row * cols + k)) << (k & 63);
        any |= word != 0;
      }
      if (word != 0 && !cols_known &&
          (std::atomic_ref<std::uint64_t>(job.col_alive[w]).load(std::memory_order_relaxed) & word) != word)
        std::atomic_ref<std::uint64_t>(job.col_alive[w]).fetch_or(word, std::memory_order_relaxed);
      c = stop;
    }
    if (any) std::atomic_ref<std::uint8_t>(job.row_alive[row]).store(1, std::memory_order_relaxed);
    i = seg_end;
  }
}

void process_chunk(Job& job, std::size_t chunk, Scratch& s) {
  const TensorView& v = *job.view;
  const std::size_t begin = chunk * kChunkElements;
  const std::size_t end = std::min<std::size_t>(v.numel, begin + kChunkElements);
  RowPieces rows;
  if (job.is_matrix && v.dtype == DType::F32 && job.cols % 8 == 0) {
    rows.cols = static_cast<std::size_t>(job.cols);
    rows.col0 = begin % rows.cols;
    rows.out = s.pieces.data();
  }
  const ChunkResult r = run_chunk_kernel(v, begin, end - begin, s.values.data(), s.hist.data(), s.ring, rows);
  if (r.moments.n > 0) widen_key_range(s, r.min, r.max);
  job.parts[chunk] = r;
  if (job.is_matrix) matrix_segment(job, begin, end, r.zeros > 0, rows.out);
}

// Publishes the worker's finished tasks of its job, counts flushed first;
// whoever publishes the job's last task finalizes it.
void finalize(Job& job);
void release(Scratch& s) {
  if (s.job == nullptr) return;
  Job& job = *s.job;
  flush_histogram(s);
  const std::size_t n = s.finished;
  s.job = nullptr;
  s.finished = 0;
  if (job.remaining.fetch_sub(n, std::memory_order_acq_rel) == n) finalize(job);
}

void process_task(Job& job, std::size_t task, Scratch& s) {
  if (s.job != &job) {
    release(s);
    s.job = &job;
  }
  const std::size_t c0 = task * kChunksPerTask, c1 = std::min(job.chunks, c0 + kChunksPerTask);
  const std::uint64_t values = std::min<std::uint64_t>(job.view->numel, c1 * kChunkElements) - c0 * kChunkElements;
  if (s.held + values > std::numeric_limits<std::uint32_t>::max()) flush_histogram(s);
  for (std::size_t c = c0; c < c1; ++c) process_chunk(job, c, s);
  s.held += values;
  ++s.finished;
}

void finalize(Job& job) {
  TensorStats& st = job.out->stats;
  const TensorView& v = *job.view;
  st.count = v.numel;
  if (job.tasks > 1) {
    for (std::size_t k = 0; k < kBins; ++k)
      if (job.dense[k] != 0) st.histogram.bins.push_back({static_cast<std::uint16_t>(k), job.dense[k]});
    std::vector<std::uint64_t>().swap(job.dense);
  }
  const ChunkResult all = job.chunks == 0 ? ChunkResult{} : merge_tree(job.parts, 0, job.chunks);
  std::vector<ChunkResult>().swap(job.parts);
  const Moments& m = all.moments;
  st.nan_count = all.nan;
  st.inf_count = all.inf;
  st.zero_count = all.zeros;
  st.finite_count = static_cast<std::uint64_t>(m.n);
  if (st.finite_count == 0) {
    st.mean = st.std = st.min = st.max = st.abs_max = st.zero_fraction = st.kurtosis = kNaN;
    st.p1 = st.p50 = st.p99 = kNaN;
    st.l2_norm = 0;
  } else {
    // Equal values have no spread; rounding in the chunk means must not invent one.
    const bool constant = all.min == all.max;
    st.mean = constant ? all.min : m.mean;
    st.std = constant ? 0.0 : std::sqrt(m.m2 / m.n);
    st.min = all.min;
    st.max = all.max;
    st.abs_max = std::max(std::fabs(all.min), std::fabs(all.max));
    st.l2_norm = constant ? std::sqrt(m.n) * std::fabs(all.min) : std::sqrt(m.m2 + m.n * m.mean * m.mean);
    st.zero_fraction = double(all.zeros) / m.n;
    st.kurtosis = !constant && m.m2 > 0 ? m.n * m.m4 / (m.m2 * m.m2) - 3.0 : kNaN;
    auto clamp = [&](double q) { return std::clamp(st.histogram.quantile(q), st.min, st.max); };
    st.p1 = clamp(0.01);
    st.p50 = clamp(0.50);
    st.p99 = clamp(0.99);
  }

  if (!job.is_matrix) return;
  MatrixStats ms;
  ms.rows = job.rows;
  ms.cols = job.cols;
  std::int64_t receptive = 1;
  for (std::size_t i = 2; i < v.shape.size(); ++i) receptive *= v.shape[i];
  ms.fan_in = v.shape[1] * receptive;
  ms.fan_out = v.shape[0] * receptive;
  ms.he_std = std::sqrt(2.0 / double(ms.fan_in));
  ms.glorot_std = std::sqrt(2.0 / double(ms.fan_in + ms.fan_out));
  ms.lecun_std = std::sqrt(1.0 / double(ms.fan_in));
  ms.ratio_he = st.std / ms.he_std;
  ms.ratio_glorot = st.std / ms.glorot_std;
  ms.ratio_lecun = st.std / ms.lecun_std;

  std::vector<std::int64_t> alive;
  for (std::int64_t r = 0; r < job.rows; ++r)
    if (job.row_alive[static_cast<std::size_t>(r)]) alive.push_back(r);
  ms.dead_rows = static_cast<std::uint64_t>(job.rows) - alive.size();
  std::uint64_t alive_cols = 0;
  for (std::uint64_t w : job.col_alive) alive_cols += static_cast<std::uint64_t>(std::popcount(w));
  if (job.all_cols_alive) alive_cols = static_cast<std::uint64_t>(job.cols);
  ms.dead_cols = static_cast<std::uint64_t>(job.cols) - alive_cols;

  const std::size_t row_bytes = static_cast<std::size_t>(job.cols) * dtype_size(v.dtype);
  auto row_bytes_of = [&](std::int64_t r) { return v.data + std::size_t(r) * row_bytes; };
  auto hash_of = [&](std::int64_t r) {
    return (std::uint64_t(job.row_hash[2 * std::size_t(r) + 1]) << 32) | job.row_hash[2 * std::size_t(r)];
  };
  std::sort(alive.begin(), alive.end(), [&](std::int64_t a, std::int64_t b) {
    const auto ha = hash_of(a), hb = hash_of(b);
    return ha != hb ? ha < hb : a < b;
  });
  for (std::size_t i = 0; i < alive.size();) {
    std::size_t j = i;
    while (j < alive.size() && hash_of(alive[j]) == hash_of(alive[i])) ++j;
    // Within a group of equal hashes (tiny unless rows really repeat, or an
    // unlucky structure collides), order rows by their bytes, then by index:
    // runs of equal bytes are the repeated rows, found with O(k log k)
    // comparisons however large the group. Each row after a run's first
    // repeats an earlier row; the run's first two rows are its earliest pair.
    if (j - i > 1) {
      if (j - i > 2)
        std::sort(alive.begin() + std::ptrdiff_t(i), alive.begin() + std::ptrdiff_t(j), [&](std::int64_t a, std::int64_t b) {
          const int c = std::memcmp(row_bytes_of(a), row_bytes_of(b), row_bytes);
          return c != 0 ? c < 0 : a < b;
        });
      for (std::size_t a = i; a < j;) {
        std::size_t b = a + 1;
        while (b < j && std::memcmp(row_bytes_of(alive[a]), row_bytes_of(alive[b]), row_bytes) == 0) ++b;
        if (b - a > 1) {
          ms.identical_rows += b - a - 1;
          const std::int64_t first = alive[a], second = alive[a + 1];
          if (ms.identical_first < 0 || second < ms.identical_second ||
              (second == ms.identical_second && first < ms.identical_first)) {
            ms.identical_first = first;
            ms.identical_second = second;
          }
        }
        a = b;
      }
    }
    i = j;
  }
  std::vector<std::uint32_t>().swap(job.row_hash);
  std::vector<std::uint8_t>().swap(job.row_alive);
  std::vector<std::uint64_t>().swap(job.col_alive);
  job.out->matrix = ms;
}

}  // namespace

std::uint16_t Histogram::key_of(double value) noexcept { return bin_of(value); }

double Histogram::lower_edge(std::uint16_t key) noexcept {
  return static_cast<double>(from_ordered(std::uint32_t(key) << 16));
}

double Histogram::upper_edge(std::uint16_t key) noexcept {
  if (key == 0xFFFF) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(from_ordered(std::uint32_t(key + 1) << 16));
}

std::uint64_t Histogram::total() const noexcept {
  std::uint64_t n = 0;
  for (const auto& b : bins) n += b.count;
  return n;
}

Histogram::Coarse Histogram::coarsened(std::size_t max_bins) const {
  Coarse out;
  // Fine keys are sign, exponent and 7 mantissa bits in value order, so
  // dropping low bits (key >> shift) merges neighbours of one binade and sign.
  int shift = 0;
  for (; shift < 7; ++shift) {
    std::size_t groups = 0;
    std::uint32_t last = 0x7FFFFFFF;
    for (const auto& b : bins) {
      const std::uint32_t g = std::uint32_t(b.key) >> shift;
      groups += g != last;
      last = g;
    }
    if (groups <= max_bins) break;
  }
  out.mantissa_bits = 7 - shift;
  std::uint32_t previous = 0x7FFFFFFF;
  for (const auto& b : bins) {
    const std::uint32_t g = std::uint32_t(b.key) >> shift;
    if (g == previous) {
      out.bins.back().count += b.count;
      continue;
    }
    previous = g;
    const auto first = static_cast<std::uint16_t>(g << shift), last = static_cast<std::uint16_t>(((g + 1) << shift) - 1);
    out.bins.push_back({lower_edge(first), upper_edge(last), b.count});
  }
  return out;
}

double Histogram::quantile(double q) const noexcept {
  const std::uint64_t n = total();
  if (n == 0) return kNaN;
  const double rank = std::clamp(q, 0.0, 1.0) * double(n - 1);
  std::uint64_t before = 0;
  for (const auto& b : bins) {
    if (rank < double(before + b.count)) {
      const double lo = lower_edge(b.key), hi = upper_edge(b.key);
      const double frac = (rank - double(before) + 0.5) / double(b.count);
      return lo + (hi - lo) * std::min(frac, 1.0);
    }
    before += b.count;
  }
  return lower_edge(bins.back().key);
}

std::vector<TensorAnalysis> analyse_tensors(const std::vector<TensorView>& views, const StatsOptions& options) {
  std::vector<TensorAnalysis> results(views.size());
  std::vector<std::unique_ptr<Job>> jobs;
  jobs.reserve(views.size());
  std::size_t tasks = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    auto job = std::make_unique<Job>();
    job->view = &views[i];
    job->out = &results[i];
    job->first_task = tasks;
    job->chunks = static_cast<std::size_t>((views[i].numel + kChunkElements - 1) / kChunkElements);
    job->tasks = (job->chunks + kChunksPerTask - 1) / kChunksPerTask;
    job->parts.resize(job->chunks);
    job->remaining = job->tasks;
    if (views[i].shape.size() >= 2 && views[i].numel > 0) {
      job->is_matrix = true;
      job->rows = views[i].shape[0];
      job->cols = static_cast<std::int64_t>(views[i].numel / static_cast<std::uint64_t>(job->rows));
    }
    tasks += job->tasks;
    jobs.push_back(std::move(job));
  }
  for (auto& job : jobs)
    if (job->chunks == 0) finalize(*job);

  const int threads = gradcheck::internal::resolve_threads(options.threads);
  std::vector<Scratch> scratch(static_cast<std::size_t>(std::min<std::size_t>(threads, std::max<std::size_t>(tasks, 1))));
  gradcheck::internal::parallel_for(tasks, threads, [&](std::size_t task, std::size_t worker) {
    // Jobs are in task order: find the one holding this task.
    auto it = std::upper_bound(jobs.begin(), jobs.end(), task,
                               [](std::size_t t, const std::unique_ptr<Job>& j) { return t < j->first_task; });
    Job& job = **(it - 1);
    std::call_once(job.alloc_once, [&] { allocate(job); });
    process_task(job, task - job.first_task, scratch[worker]);
  }, [&](std::size_t worker) { release(scratch[worker]); });
  return results;
}

TensorAnalysis analyse_tensor(const TensorView& view, const StatsOptions& options) {
  return std::move(analyse_tensors({view}, options).front());
}

namespace {
template <class T>
TensorAnalysis statistics_of(std::span<const T> values, std::vector<std::int64_t> shape, const StatsOptions& options) {
  if (shape.empty()) shape.push_back(static_cast<std::int64_t>(values.size()));
  std::uint64_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("statistics: negative extent in shape");
    n *= static_cast<std::uint64_t>(d);
  }
  if (n != values.size()) throw std::invalid_argument("statistics: the shape's product differs from the value count");
  TensorView v{std::is_same_v<T, float> ? DType::F32 : DType::F64,
               reinterpret_cast<const std::uint8_t*>(values.data()), n, std::move(shape)};
  return analyse_tensor(v, options);
}
}  // namespace

TensorAnalysis statistics(std::span<const float> values, std::vector<std::int64_t> shape, const StatsOptions& options) {
  return statistics_of(values, std::move(shape), options);
}

TensorAnalysis statistics(std::span<const double> values, std::vector<std::int64_t> shape, const StatsOptions& options) {
  return statistics_of(values, std::move(shape), options);
}

std::vector<DiffStats> diff_tensors(const std::vector<std::pair<TensorView, TensorView>>& pairs,
                                    const StatsOptions& options) {
  struct Part {
    double diff2 = 0, before2 = 0;
    std::uint64_t changed = 0, skipped = 0;
  };
  std::vector<std::size_t> first(pairs.size() + 1, 0);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (pairs[i].first.numel != pairs[i].second.numel)
      throw std::invalid_argument("diff_tensors: tensors of different sizes");
    first[i + 1] = first[i] + static_cast<std::size_t>((pairs[i].first.numel + kChunkElements - 1) / kChunkElements);
  }
  std::vector<Part> parts(first.back());
  const int threads = gradcheck::internal::resolve_threads(options.threads);
  std::vector<std::vector<double>> buffers(static_cast<std::size_t>(threads), std::vector<double>(2 * kChunkElements));
  gradcheck::internal::parallel_for(parts.size(), threads, [&](std::size_t task, std::size_t worker) {
    const std::size_t p = static_cast<std::size_t>(std::upper_bound(first.begin(), first.end(), task) - first.begin()) - 1;
    const auto& [before, after] = pairs[p];
    const std::size_t begin = (task - first[p]) * kChunkElements;
    const std::size_t end = std::min<std::size_t>(before.numel, begin + kChunkElements);
    double* a = buffers[worker].data();
    double* b = a + kChunkElements;
    convert_to_double(before.dtype, before.data, begin, end, a);
    convert_to_double(after.dtype, after.data, begin, end, b);
    Part part;
    for (std::size_t i = 0; i < end - begin; ++i) {
      if (!(std::fabs(a[i]) <= DBL_MAX) || !(std::fabs(b[i]) <= DBL_MAX)) {
        ++part.skipped;
        continue;
      }
      const double d = b[i] - a[i];
      part.diff2 += d * d;
      part.before2 += a[i] * a[i];
      part.changed += (a[i] != b[i]);
    }
    parts[task] = part;
  });
  std::vector<DiffStats> out(pairs.size());
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    // Pairwise tree over the chunk partial sums, fixed by the chunk count.
    auto tree = [&](auto&& self, std::size_t lo, std::size_t hi) -> Part {
      if (hi - lo == 1) return parts[lo];
      const std::size_t mid = lo + (hi - lo) / 2;
      const Part x = self(self, lo, mid), y = self(self, mid, hi);
      return {x.diff2 + y.diff2, x.before2 + y.before2, x.changed + y.changed, x.skipped + y.skipped};
    };
    const Part total = first[p] == first[p + 1] ? Part{} : tree(tree, first[p], first[p + 1]);
    DiffStats& d = out[p];
    d.diff_norm = std::sqrt(total.diff2);
    d.before_norm = std::sqrt(total.before2);
    d.changed = total.changed;
    d.non_finite_pairs = total.skipped;
    d.rel_change = d.before_norm > 0 ? d.diff_norm / d.before_norm
                                     : (d.diff_norm > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  }
  return out;
}

}  // namespace gradcheck::weights
