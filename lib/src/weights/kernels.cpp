#include "kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace gradcheck::weights::detail {

namespace {

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
typedef double v8d __attribute__((vector_size(64)));

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
// Adds d^2, d^3 and d^4 of eight values, lanes 0-3 in da and 4-7 in db, to
// their lanes of the power sums.
GRADCHECK_INLINE void add_powers(const v4d& da, const v4d& db, v4d& a2, v4d& b2, v4d& a3, v4d& b3, v4d& a4,
                                 v4d& b4) noexcept {
  const v4d da2 = da * da, db2 = db * db;
  a2 += da2;
  b2 += db2;
  a3 += da2 * da;
  b3 += db2 * db;
  a4 += da2 * da2;
  b4 += db2 * db2;
}
// The same order over one 8-wide vector: lanes 0-3 are a's, 4-7 b's.
GRADCHECK_INLINE double reduce8(const v8d& s) noexcept {
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}


// Everything of a float32 chunk in one read of the mapped bytes: minimum,
// maximum, histogram, the row pieces' hashes, and the power sums S1..S4 of
// d = x - shift, shift being the mean of the first (up to) 64 values. Central
// moments follow from the power sums with little cancellation when the
// chunk's mean is within a few standard deviations of the shift (checked by
// the caller, which otherwise takes a second, two-pass look). The bytes
// kPrefetchAhead ahead of the read are prefetched meanwhile, a cache line at
// a time (a prefetch never faults, so running past the data is harmless).
//
// Each power sum has eight lanes, lane l adding the values whose index is l
// mod 8, reduced as ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)): one
// order for every build (kIsa 0: the x86-64 baseline, two 4-wide halves in
// SSE2 pairs; 1: AVX2, two 4-wide halves; 2: AVX-512, one 8-wide vector).
//
// The loop is bound by its instructions and by the histogram's increments (a
// load and a store each; a core here issues three memory operations a
// cycle), so both are kept few: a key, the raw bits >> 16, is one 16-bit
// load of the value's high half, whose result the increment addresses with
// (no shifts, no store of the keys and no reading them back; on
// cache-resident data 0.87x the time of taking two keys from one 64-bit load
// and shifting them out in the AVX-512 build, 0.89x in the AVX2 one);
// minimum and maximum are taken on the floats (8 lanes per AVX2 instruction;
// NaN never gets here, as such a chunk is redone value by value); in the
// AVX-512 build each power of eight values is one instruction, where AVX2
// needs two. Only the AVX-512 build hashes row pieces here (kHash): the
// others run out of vector registers and hash in a pass of their own.
struct FusedF32 {
  double shift = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, min = 0, max = 0;
};
// How far ahead of the read the fused pass prefetches: 4 KiB (a page) took
// 0.93-0.96 of the CPU time of prefetching the next chunk (64 KiB ahead) on
// a 1 GiB float32 report here; 2 and 8 KiB did about as well.
inline constexpr std::size_t kPrefetchAhead = 4096;

// Counts the keys of the 8 float32 values at p: each key is the high 16 bits
// of a value, one 16-bit load that the increment's address takes directly;
// value j in the histogram's part j mod kWays (see run_chunk_kernel).
template <int kWays>
GRADCHECK_INLINE void count_keys(const std::uint8_t* p, std::uint32_t* hist) noexcept {
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    std::uint16_t key;
    std::memcpy(&key, p + 4 * j + 2, 2);
    ++hist[std::size_t(j % kWays) * kHistStride + key];
  }
}

template <bool kHash, int kIsa, int kWays>
GRADCHECK_INLINE FusedF32 fused_f32(const std::uint8_t* p, std::size_t n, std::uint32_t* hist,
                                    const RowPieces& rows) noexcept {
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
  const double sh = r.shift;
  const v4d z = {0, 0, 0, 0}, mu = {sh, sh, sh, sh};
  const v8d z8 = {0, 0, 0, 0, 0, 0, 0, 0}, mu8 = {sh, sh, sh, sh, sh, sh, sh, sh};
  // The power sums: lanes 0-3 in the a's and 4-7 in the b's (kIsa < 2), or
  // all eight in one vector (kIsa == 2).
  v4d s1a = z, s2a = z, s3a = z, s4a = z, s1b = z, s2b = z, s3b = z, s4b = z;
  v8d s1 = z8, s2 = z8, s3 = z8, s4 = z8;
  const float inf = std::numeric_limits<float>::infinity();
  // Eight lanes of minimum and maximum; for SSE as two 4-wide halves (GCC
  // splits an 8-wide select into scalar steps there), the same lanes.
  v8f fmin = {inf, inf, inf, inf, inf, inf, inf, inf}, fmax = -fmin;
  v4f min_a = {inf, inf, inf, inf}, min_b = min_a, max_a = -min_a, max_b = -min_a;
  const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::size_t n8 = n & ~std::size_t(7);
  std::size_t i = 0, piece = 0, col = kHash ? rows.col0 : 0;
  while (i < n8) {
    // One row piece (the whole chunk without hashing): hash_f32's sums, one
    // lane per column residue mod 8.
    const std::size_t stop = kHash ? std::min(n8, i + (rows.cols - col)) : n8;
    v8u lo = lane & 0, hi = lane & 0;
    v8u k1 = (lane + std::uint32_t(col + 1)) * 0x9E3779B9u;
    for (; i < stop; i += 8) {
      v8u u;
      std::memcpy(&u, p + 4 * i, 32);
      if constexpr (kIsa >= 1) {
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
      count_keys<kWays>(p + 4 * i, hist);
      if constexpr (kIsa == 2) {
        // One vcvtps2pd to 8 doubles: GCC 12 lowers __builtin_convertvector
        // here to two 4-wide conversions and an insert, this form it does not.
        const v8f f = (v8f)u;
        const v8d x = v8d{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
        const v8d d = x - mu8, d2 = d * d;
        s1 += d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
      } else {
        v4d a, b;
        if constexpr (kIsa == 1) {  // vextractf128 and two vcvtps2pd
          const v8f f = (v8f)u;
          a = v4d{f[0], f[1], f[2], f[3]};
          b = v4d{f[4], f[5], f[6], f[7]};
        } else {
          widen4(p + 4 * i, a);
          widen4(p + 4 * i + 16, b);
        }
        const v4d da = a - mu, db = b - mu;
        s1a += da;
        s1b += db;
        add_powers(da, db, s2a, s2b, s3a, s3b, s4a, s4b);
      }
      if constexpr (kHash) {
        lo += u ^ k1;
        hi += u;
        k1 += 8 * 0x9E3779B9u;
      }
      if ((i & 15) == 0) __builtin_prefetch(p + 4 * i + kPrefetchAhead);
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
  if constexpr (kIsa == 2) {
    r.s1 = reduce8(s1);
    r.s2 = reduce8(s2);
    r.s3 = reduce8(s3);
    r.s4 = reduce8(s4);
  } else {
    r.s1 = reduce8(s1a, s1b);
    r.s2 = reduce8(s2a, s2b);
    r.s3 = reduce8(s3a, s3b);
    r.s4 = reduce8(s4a, s4b);
  }
  if constexpr (kIsa == 0)
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
    add_powers(a - mu, b - mu, a2, b2, a3, b3, a4, b4);
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
// pieces arrive in any order): two sums mod 2^32 over a row's elements (w an
// element's raw bits), returned packed as hi << 32 | lo and added to the
// row's two sums separately. Equal hashes are confirmed by comparing bytes,
// so the hash need only make that rare for rows that differ. For float32, lo
// sums w ^ key(column), whose column-dependent keys tell permuted rows apart,
// and hi sums w itself (a second key sequence would add two instructions per
// 8 values to the AVX-512 fused pass, for rows the byte comparison tells
// apart anyway); this is what that pass computes 8 columns at a time, and
// what the other builds compute after their fused pass (hash_pieces).
GRADCHECK_INLINE std::uint64_t hash_f32(const std::uint8_t* p, std::size_t col0, std::size_t n) noexcept {
  std::uint32_t lo = 0, hi = 0;
  std::uint32_t k1 = static_cast<std::uint32_t>(col0 + 1) * 0x9E3779B9u;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t w;
    std::memcpy(&w, p + 4 * i, 4);
    lo += w ^ k1;
    hi += w;
    k1 += 0x9E3779B9u;
  }
  return (std::uint64_t(hi) << 32) | lo;
}

// The hashes of the row pieces of a float32 chunk of n values into
// rows.out, as the fused pass computes them: over its whole 8-value vectors
// (all of a chunk of a matrix of whole-vector rows).
GRADCHECK_INLINE void hash_pieces(const std::uint8_t* p, std::size_t n, const RowPieces& rows) noexcept {
  n &= ~std::size_t(7);
  std::size_t piece = 0;
  for (std::size_t i = 0, col = rows.col0; i < n; col = 0) {
    const std::size_t len = std::min(n - i, rows.cols - col);
    rows.out[piece++] = hash_f32(p + 4 * i, col, len);
    i += len;
  }
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
template <int kIsa>
GRADCHECK_INLINE ChunkResult chunk_kernel(const TensorView& v, std::size_t begin, std::size_t n, double* x,
                                          std::uint32_t* hist, const RowPieces& rows, bool zeros_from_bins) noexcept {
  ChunkResult r;
  const std::uint8_t* raw = v.data + begin * dtype_size(v.dtype);
  const bool f32 = v.dtype == DType::F32;
  if (f32 && n > 0) {
    // Zeros fall in the bins of +0 and -0 (with the tiniest subnormals):
    // counted exactly only when those bins grew.
    auto zero_bins = [hist] {
      std::uint32_t z = 0;
      for (std::size_t part = 0; part < kHistParts; ++part)
        z += hist[part * kHistStride + 0x0000] + hist[part * kHistStride + 0x8000];
      return z;
    };
    const std::uint32_t around_zero = zero_bins();
    // Dequantized blocks are counted in four parts of the histogram, float32
    // data in two (spread over four, its bins take twice the cache: 1.06x the
    // time).
    const bool four = zeros_from_bins;
    FusedF32 f;
    if constexpr (kIsa <= 1) {
      // The AVX2 and baseline builds hash the row pieces in a pass of their
      // own over the chunk, which the fused pass has just brought into cache:
      // the hash's three vectors and the fused pass's own are more than their
      // sixteen registers, and the power sums GCC then keeps in memory made
      // the AVX2 pass with hashing 1.22x the time of the two passes (baseline
      // 1.07x). AVX-512 has thirty-two registers and hashes in the fused pass.
      f = four ? fused_f32<false, kIsa, 4>(raw, n, hist, rows) : fused_f32<false, kIsa, 2>(raw, n, hist, rows);
      if (rows.cols != 0) hash_pieces(raw, n, rows);
    } else if (rows.cols != 0) {
      f = four ? fused_f32<true, kIsa, 4>(raw, n, hist, rows) : fused_f32<true, kIsa, 2>(raw, n, hist, rows);
    } else {
      f = four ? fused_f32<false, kIsa, 4>(raw, n, hist, rows) : fused_f32<false, kIsa, 2>(raw, n, hist, rows);
    }
    // A finite S1 means every value is finite (an infinity or NaN would make
    // it infinite or NaN; float32 values cannot overflow a double sum).
    if (std::fabs(f.s1) <= DBL_MAX) {
      r.min = f.min;
      r.max = f.max;
      // The bins of +0 and -0 hold the zeros and the subnormals below
      // 2^-133; a dequantized value is never such a subnormal (see
      // run_chunk_kernel in kernels.hpp), so there their growth is the count.
      const std::uint32_t grew = zero_bins() - around_zero;
      if (grew != 0) r.zeros = zeros_from_bins ? grew : count_zeros_f32(raw, n);
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
    // Taken back (the keys again from the bits, from the part each was
    // counted in): redone value by value below.
    const std::size_t n8 = n & ~std::size_t(7);
    for (std::size_t k = 0; k < n; ++k) {
      std::uint32_t b;
      std::memcpy(&b, raw + 4 * k, 4);
      --hist[(k < n8 ? k % (four ? 4 : 2) : 0) * kHistStride + (b >> 16)];
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
                           const RowPieces& rows, bool zeros_from_bins) {
  return chunk_kernel<0>(v, begin, n, x, hist, rows, zeros_from_bins);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) ChunkResult chunk_avx2(const TensorView& v, std::size_t begin, std::size_t n,
                                                       double* x, std::uint32_t* hist, const RowPieces& rows,
                                                       bool zeros_from_bins) {
  return chunk_kernel<1>(v, begin, n, x, hist, rows, zeros_from_bins);
}
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) ChunkResult chunk_avx512(
    const TensorView& v, std::size_t begin, std::size_t n, double* x, std::uint32_t* hist, const RowPieces& rows,
    bool zeros_from_bins) {
  return chunk_kernel<2>(v, begin, n, x, hist, rows, zeros_from_bins);
}
__attribute__((target("avx2"))) std::uint64_t hash_f32_avx2(const std::uint8_t* p, std::size_t col0, std::size_t n) {
  return hash_f32(p, col0, n);
}
#endif

int choose_kernels() noexcept {
  int best = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (__builtin_cpu_supports("avx2")) best = 1;
  if (best == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    best = 2;
#endif
  if (std::getenv("GRADCHECK_BASELINE_KERNELS") != nullptr) return 0;
  if (const char* asked = std::getenv("GRADCHECK_KERNELS")) {
    if (std::strcmp(asked, "baseline") == 0) return 0;
    if (std::strcmp(asked, "avx2") == 0) return std::min(best, 1);
  }
  return best;
}

}  // namespace

int kernel_isa() noexcept {
  static const int chosen = choose_kernels();
  return chosen;
}

ChunkResult run_chunk_kernel(const TensorView& v, std::size_t begin, std::size_t n, double* x, std::uint32_t* hist,
                             const RowPieces& rows, bool zeros_from_bins) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const int isa = kernel_isa();
  if (isa == 2) return chunk_avx512(v, begin, n, x, hist, rows, zeros_from_bins);
  if (isa == 1) return chunk_avx2(v, begin, n, x, hist, rows, zeros_from_bins);
#endif
  return chunk_baseline(v, begin, n, x, hist, rows, zeros_from_bins);
}

std::uint64_t row_piece_hash(DType t, const std::uint8_t* p, std::size_t col0, std::size_t n) {
  if (t != DType::F32) return hash_any(p, dtype_size(t), col0, n);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kernel_isa() >= 1) return hash_f32_avx2(p, col0, n);
#endif
  return hash_f32(p, col0, n);
}

}  // namespace gradcheck::weights::detail
