// The statistics of few-level block types from their codes (see levels.hpp).
// Codes are counted eight bytes at a time: a code's bit at a given shift,
// masked to one bit per byte, summed over the bytes by a multiplication.
// Each level is the float the reference's dequantization computes for that
// code (quant.cpp, ggml-quants.c): the same operations in the same order,
// without FMA contraction (neither build below enables it). Integer counting
// and a fixed order of the double sums: the baseline and AVX2 builds give the
// same results.

#include "levels.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

// The 32-byte vector helpers are always inlined: their values never cross a
// call, so GCC's note that such returns change the ABI without AVX does not
// apply.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace gradcheck::weights::detail {

namespace {

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;

inline std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// The sum of x's eight bytes, when it is at most 255.
inline std::uint32_t byte_sum(std::uint64_t x) noexcept { return std::uint32_t((x * kOnes) >> 56); }

// The sum of x's eight bytes, up to 8 * 255.
inline std::uint32_t byte_sum_wide(std::uint64_t x) noexcept {
  constexpr std::uint64_t kEven = 0x00FF00FF00FF00FFULL;
  const std::uint64_t pairs = (x & kEven) + ((x >> 8) & kEven);
  return std::uint32_t((pairs * 0x0001000100010001ULL) >> 48);
}

// Bit `bit` of each of w's bytes, as 0 or 1 in that byte.
inline std::uint64_t bits_at(std::uint64_t w, int bit) noexcept { return (w >> bit) & kOnes; }

inline float half_at(const float* half, const std::uint8_t* p) noexcept {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return half[h];
}

#define GRADCHECK_INLINE inline __attribute__((always_inline))

typedef float v4f __attribute__((vector_size(16)));
typedef std::uint32_t v4u __attribute__((vector_size(16)));
typedef std::int32_t v4i __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

// A chunk's (level, count) pairs, a fixed number per block (pairs_per_block).
struct Pairs {
  float* level;
  std::uint32_t* count;
  GRADCHECK_INLINE void put4(v4f l, std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                             std::uint32_t c3) noexcept {
    std::memcpy(level, &l, 16);
    const v4u c = {c0, c1, c2, c3};
    std::memcpy(count, &c, 16);
    level += 4;
    count += 4;
  }
};

GRADCHECK_INLINE v4f splat4(float x) noexcept { return v4f{x, x, x, x}; }

// Q2_K (layout: quant.cpp): sub-block s, 16 values at one shift of 16 bytes
// of qs, levels dl * q - ml for q = 0..3.
GRADCHECK_INLINE void q2_k(const float* half, const std::uint8_t* b, Pairs& out) noexcept {
  const std::uint8_t* scales = b;
  const std::uint8_t* q = b + 16;
  const float d = half_at(half, b + 80), dmin = half_at(half, b + 82);
  const v4f codes = {0.0f, 1.0f, 2.0f, 3.0f};
  // Every sub-block's scale and minimum first, four at a time.
  float dls[16], mls[16];
  for (int k = 0; k < 16; k += 4) {
    const v4i raw = {scales[k], scales[k + 1], scales[k + 2], scales[k + 3]};
    const v4f dl = splat4(d) * __builtin_convertvector(raw & 0x0F, v4f);
    const v4f ml = splat4(dmin) * __builtin_convertvector(raw >> 4, v4f);
    std::memcpy(dls + k, &dl, 16);
    std::memcpy(mls + k, &ml, 16);
  }
  int s = 0;
  for (int h = 0; h < 2; ++h, q += 32) {
    const std::uint64_t w0 = load64(q), w1 = load64(q + 8), w2 = load64(q + 16), w3 = load64(q + 24);
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part, ++s) {
        const std::uint64_t a = part == 0 ? w0 : w2, c = part == 0 ? w1 : w3;
        const std::uint64_t l0 = bits_at(a, shift), l1 = bits_at(c, shift);
        const std::uint64_t h0 = bits_at(a, shift + 1), h1 = bits_at(c, shift + 1);
        const std::uint32_t both = byte_sum((l0 & h0) + (l1 & h1)), low = byte_sum(l0 + l1), high = byte_sum(h0 + h1);
        const std::uint32_t c1 = low - both, c2 = high - both;
        out.put4(splat4(dls[s]) * codes - splat4(mls[s]), 16 - c1 - c2 - both, c1, c2, both);
      }
    }
  }
}

// TQ2_0: 256 two-bit codes, value (code - 1) * d.
GRADCHECK_INLINE void tq2_0(const float* half, const std::uint8_t* b, Pairs& out) noexcept {
  const float d = half_at(half, b + 64);
  std::uint64_t low = 0, high = 0, both = 0;  // at most 32 per byte
  for (int j = 0; j < 64; j += 8) {
    const std::uint64_t w = load64(b + j);
    for (int shift = 0; shift < 8; shift += 2) {
      const std::uint64_t l = bits_at(w, shift), h = bits_at(w, shift + 1);
      low += l;
      high += h;
      both += l & h;
    }
  }
  const std::uint32_t c3 = byte_sum_wide(both), c1 = byte_sum_wide(low) - c3, c2 = byte_sum_wide(high) - c3;
  const v4f codes = {-1.0f, 0.0f, 1.0f, 2.0f};
  out.put4(codes * splat4(d), 256 - c1 - c2 - c3, c1, c2, c3);
}

// TQ1_0: how many of a byte's first five (or four) base-3 digits are 0, 1
// and 2, in 16-bit fields; the digits as quant.cpp's trit reads them.
struct TritCounts {
  std::uint64_t five[256], four[256];
  TritCounts() {
    static constexpr std::uint8_t pow3[5] = {1, 3, 9, 27, 81};
    for (int x = 0; x < 256; ++x) {
      five[x] = four[x] = 0;
      for (int n = 0; n < 5; ++n) {
        const auto q = static_cast<std::uint8_t>(x * pow3[n]);
        const std::uint64_t one = std::uint64_t(1) << (16 * ((unsigned(q) * 3) >> 8));
        five[x] += one;
        if (n < 4) four[x] += one;
      }
    }
  }
};
const TritCounts kTrits;

// TQ1_0: 256 base-3 digits, value (t - 1) * d; the fourth pair is empty.
GRADCHECK_INLINE void tq1_0(const float* half, const std::uint8_t* b, Pairs& out) noexcept {
  const float d = half_at(half, b + 52);
  std::uint64_t c = 0;
  for (int m = 0; m < 48; ++m) c += kTrits.five[b[m]];
  for (int j = 0; j < 4; ++j) c += kTrits.four[b[48 + j]];
  const v4f codes = {-1.0f, 0.0f, 1.0f, 0.0f};
  out.put4(codes * splat4(d), std::uint32_t(c & 0xFFFF), std::uint32_t((c >> 16) & 0xFFFF),
           std::uint32_t((c >> 32) & 0xFFFF), 0);
}

// Pairs per block.
GRADCHECK_INLINE std::size_t pairs_per_block(DType t) noexcept {
  return t == DType::Q2_K ? 64 : 4;
}

// Whether the float16 scales a block's values are computed from are finite.
GRADCHECK_INLINE bool finite_scales(DType t, const float* half, const std::uint8_t* b) noexcept {
  auto ok = [&](std::size_t at) { return std::isfinite(half_at(half, b + at)); };
  switch (t) {
    case DType::Q2_K: return ok(80) && ok(82);
    case DType::TQ1_0: return ok(52);
    case DType::TQ2_0: return ok(64);
    default: return false;
  }
}

GRADCHECK_INLINE double reduce4(v4d v) noexcept { return (v[0] + v[1]) + (v[2] + v[3]); }

// Four floats (counts) at p as doubles (the form kernels.cpp's widen4 found
// to become one conversion instruction).
GRADCHECK_INLINE v4d widen4(const float* p) noexcept {
  float f[4];
  std::memcpy(f, p, 16);
  return v4d{f[0], f[1], f[2], f[3]};
}
GRADCHECK_INLINE v4d widen4(const std::uint32_t* p) noexcept {
  std::int32_t c[4];  // at most 256
  std::memcpy(c, p, 16);
  return v4d{double(c[0]), double(c[1]), double(c[2]), double(c[3])};
}

// Compiled for the baseline and for AVX2 like the statistics kernels
// (kernels.cpp): the same lane-wise operations in the same order, no FMA,
// so both give the same bits. First the pairs (stopping, before anything is
// counted, at a block whose scale is not finite), then the histogram pair by
// pair, then extremes, zeros and mean, and the central moments, four lanes
// at a time (pair i in lane i % 4; a zero count adds nothing).
GRADCHECK_INLINE bool level_kernel(DType t, const std::uint8_t* data, std::size_t blocks, std::uint32_t* const* hist,
                                   float* level, std::uint32_t* count, ChunkResult& out,
                                   std::uint32_t* nonzero) noexcept {
  const float* half = half_floats();
  const std::size_t size = dtype_size(t), values = dtype_block(t), per_block = pairs_per_block(t);
  Pairs pairs{level, count};
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::uint8_t* b = data + i * size;
    if (!finite_scales(t, half, b)) return false;
    switch (t) {
      case DType::Q2_K: q2_k(half, b, pairs); break;
      case DType::TQ1_0: tq1_0(half, b, pairs); break;
      default: tq2_0(half, b, pairs); break;
    }
  }
  // Pair k into histogram k % 4: increments of one bin come less often in a
  // row, each waiting on the store before it.
  const std::size_t n = blocks * per_block;  // a multiple of 4
  for (std::size_t k = 0; k < n; k += 4)
    for (std::size_t j = 0; j < 4; ++j)
      hist[j][std::bit_cast<std::uint32_t>(level[k + j]) >> 16] += count[k + j];
  const float inf = std::numeric_limits<float>::infinity();
  const v4d zero = {0, 0, 0, 0};
  const v4f none = {0, 0, 0, 0}, up = splat4(inf), down = splat4(-inf);
  const v4i no = {0, 0, 0, 0};
  v4f lo = up, hi = down;
  v4d sum = zero;
  std::uint64_t zeros = 0;
  for (std::size_t i = 0, k = 0; i < blocks; ++i) {
    v4i z = no;  // the block's zeros
    for (std::size_t end = k + per_block; k < end; k += 4) {
      v4f lf;
      v4i c;
      std::memcpy(&lf, level + k, 16);
      std::memcpy(&c, count + k, 16);
      const v4i seen = c > no;
      const v4f low = seen ? lf : up, high = seen ? lf : down;
      lo = low < lo ? low : lo;
      hi = high > hi ? high : hi;
      z += lf == none ? c : no;
      sum += widen4(count + k) * widen4(level + k);
    }
    const auto block_zeros = static_cast<std::uint32_t>((z[0] + z[1]) + (z[2] + z[3]));
    nonzero[i] = std::uint32_t(values) - block_zeros;
    zeros += block_zeros;
  }
  const double dn = double(blocks * values), mean = reduce4(sum) / dn;
  const v4d mu = {mean, mean, mean, mean};
  v4d m2 = zero, m3 = zero, m4 = zero;
  for (std::size_t i = 0; i < n; i += 4) {
    const v4d d = widen4(level + i) - mu, d2 = d * d, cd2 = widen4(count + i) * d2;
    m2 += cd2;
    m3 += cd2 * d;
    m4 += cd2 * d2;
  }
  out = ChunkResult{};
  out.moments = {dn, mean, reduce4(m2), reduce4(m3), reduce4(m4)};
  float mn = inf, mx = -inf;
  for (int l = 0; l < 4; ++l) {
    mn = lo[l] < mn ? lo[l] : mn;
    mx = hi[l] > mx ? hi[l] : mx;
  }
  out.min = mn;
  out.max = mx;
  out.zeros = zeros;
  return true;
}

bool level_baseline(DType t, const std::uint8_t* data, std::size_t blocks, std::uint32_t* const* hist, float* level,
                    std::uint32_t* count, ChunkResult& out, std::uint32_t* nonzero) {
  return level_kernel(t, data, blocks, hist, level, count, out, nonzero);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) bool level_avx2(DType t, const std::uint8_t* data, std::size_t blocks,
                                                std::uint32_t* const* hist, float* level, std::uint32_t* count,
                                                ChunkResult& out,
                                                std::uint32_t* nonzero) {
  return level_kernel(t, data, blocks, hist, level, count, out, nonzero);
}
const bool kHaveAvx2 = kernel_isa() >= 1;  // kernels.hpp: GRADCHECK_KERNELS
#else
const bool kHaveAvx2 = false;
#endif

}  // namespace

bool counts_levels(DType t) noexcept {
  return t == DType::Q2_K || t == DType::TQ1_0 || t == DType::TQ2_0;
}

bool level_chunk(DType t, const std::uint8_t* data, std::size_t blocks, std::uint32_t* const* hist, LevelScratch& scratch,
                 ChunkResult& out, std::uint32_t* nonzero) {
  const std::size_t most = blocks * pairs_per_block(t);
  if (scratch.level.size() < most) {
    scratch.level.resize(most);
    scratch.count.resize(most);
  }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kHaveAvx2)
    return level_avx2(t, data, blocks, hist, scratch.level.data(), scratch.count.data(), out, nonzero);
#endif
  return level_baseline(t, data, blocks, hist, scratch.level.data(), scratch.count.data(), out, nonzero);
}

std::uint64_t block_hash(const std::uint8_t* p, std::size_t size, std::size_t index) noexcept {
  // Two lanes, the even and the odd 8-byte words, so that the multiplications
  // of one word and the next do not wait on each other.
  std::uint64_t a = (std::uint64_t(index) + 1) * 0x9E3779B97F4A7C15ULL, b = a ^ 0xD6E8FEB86659FD93ULL;
  std::size_t i = 0;
  for (; i + 16 <= size; i += 16) {
    a = (a ^ load64(p + i)) * 0xFF51AFD7ED558CCDULL;
    b = (b ^ load64(p + i + 8)) * 0xC4CEB9FE1A85EC53ULL;
    a ^= a >> 32;
    b ^= b >> 29;
  }
  if (i + 8 <= size) {
    a = (a ^ load64(p + i)) * 0xFF51AFD7ED558CCDULL;
    a ^= a >> 32;
    i += 8;
  }
  std::uint64_t tail = 0;  // the last 0-7 bytes
  for (std::size_t k = 0; i + k < size; ++k) tail |= std::uint64_t(p[i + k]) << (8 * k);
  std::uint64_t h = (a ^ std::rotl(b, 31) ^ tail ^ (std::uint64_t(size) << 56)) * 0xFF51AFD7ED558CCDULL;
  return h ^ (h >> 29);
}

}  // namespace gradcheck::weights::detail
