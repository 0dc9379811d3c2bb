// Dequantization of ggml's block-quantized types, value for value as ggml's
// reference dequantize_row_* functions (ggml/src/ggml-quants.c) compute them:
// float32 operations in the same order, so every value is the float the
// reference gives (this file is compiled without FMA contraction: the x86-64
// baseline has no fused multiply-add). Block layouts: ggml-common.h.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "gradcheck/weights/dtype.hpp"
#include "gradcheck/weights/statistics.hpp"
#include "kernels.hpp"
#include "levels.hpp"

// The 32-byte vector helpers below are always inlined: their values never
// cross a call, so GCC's note that such returns change the ABI without AVX
// does not apply.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace gradcheck::weights {

namespace {

// Every float16 as float (exact): one load per block scale.
const std::vector<float> kHalf = [] {
  std::vector<float> t(65536);
  for (std::uint32_t h = 0; h < 65536; ++h) t[h] = static_cast<float>(half_to_double(std::uint16_t(h)));
  return t;
}();

#define GRADCHECK_INLINE inline __attribute__((always_inline))

// Eight lanes, written with GCC/Clang vector extensions so that the baseline
// and AVX2 builds do the same element-wise operations (each lane rounds as the
// reference's scalar code does).
typedef std::int32_t v8i __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));

GRADCHECK_INLINE v8i widen8(const std::uint8_t* p) noexcept {
  return v8i{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]};
}
GRADCHECK_INLINE v8f to_float(v8i v) noexcept { return __builtin_convertvector(v, v8f); }
GRADCHECK_INLINE v8f splat(float x) noexcept { return v8f{x, x, x, x, x, x, x, x}; }
GRADCHECK_INLINE void store8(float* y, v8f v) noexcept { std::memcpy(y, &v, sizeof v); }

GRADCHECK_INLINE float half_at(const std::uint8_t* p) noexcept {
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return kHalf[h];
}

// 32-value blocks: a float16 scale d (and minimum m), then the quants. Byte j
// of qs holds value j in its low nibble and value j + 16 in its high one.
GRADCHECK_INLINE void q8_0(const std::uint8_t* __restrict b, float* __restrict y) noexcept {  // d, qs[32] (int8)
  const float d = half_at(b);
  for (int j = 0; j < 32; ++j) y[j] = float(static_cast<std::int8_t>(b[2 + j])) * d;
}

GRADCHECK_INLINE void q4_0(const std::uint8_t* __restrict b, float* __restrict y) noexcept {  // d, qs[16]
  const v8f d = splat(half_at(b));
  const std::uint8_t* qs = b + 2;
  for (int j = 0; j < 16; j += 8) {
    const v8i q = widen8(qs + j);
    store8(y + j, to_float((q & 0x0F) - 8) * d);
    store8(y + j + 16, to_float((q >> 4) - 8) * d);
  }
}

GRADCHECK_INLINE void q4_1(const std::uint8_t* __restrict b, float* __restrict y) noexcept {  // d, m, qs[16]
  const float d = half_at(b), m = half_at(b + 2);
  const std::uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(int(qs[j] & 0x0F)) * d + m;
    y[j + 16] = float(int(qs[j] >> 4)) * d + m;
  }
}

// Q5: the fifth bit of value j is bit j of the 32-bit qh.
GRADCHECK_INLINE void q5_0(const std::uint8_t* __restrict b, float* __restrict y) noexcept {  // d, qh[4], qs[16]
  const float d = half_at(b);
  std::uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const std::uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int hi0 = int((qh >> j) & 1u) << 4, hi1 = int((qh >> (j + 16)) & 1u) << 4;
    y[j] = float((int(qs[j] & 0x0F) | hi0) - 16) * d;
    y[j + 16] = float((int(qs[j] >> 4) | hi1) - 16) * d;
  }
}

GRADCHECK_INLINE void q5_1(const std::uint8_t* __restrict b, float* __restrict y) noexcept {  // d, m, qh[4], qs[16]
  const float d = half_at(b), m = half_at(b + 2);
  std::uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const std::uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int hi0 = int((qh >> j) & 1u) << 4, hi1 = int((qh >> (j + 16)) & 1u) << 4;
    y[j] = float(int(qs[j] & 0x0F) | hi0) * d + m;
    y[j + 16] = float(int(qs[j] >> 4) | hi1) * d + m;
  }
}

// 256-value super-blocks. Q2_K: scales[16] (low nibble: scale, high: minimum,
// one pair per 16 values), qs[64] (2 bits each), d, dmin.
GRADCHECK_INLINE void q2_k(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const std::uint8_t* scales = b;
  const std::uint8_t* q = b + 16;
  const float d = half_at(b + 80), dmin = half_at(b + 82);
  int s = 0;
  for (int half = 0; half < 2; ++half, q += 32) {
    const v8i q0 = widen8(q), q1 = widen8(q + 8), q2 = widen8(q + 16), q3 = widen8(q + 24);
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part, ++s, y += 16) {
        const v8f dl = splat(d * float(scales[s] & 0x0F)), ml = splat(dmin * float(scales[s] >> 4));
        const v8i a = part == 0 ? q0 : q2, c = part == 0 ? q1 : q3;
        store8(y, dl * to_float((a >> shift) & 3) - ml);
        store8(y + 8, dl * to_float((c >> shift) & 3) - ml);
      }
    }
  }
}

// Q3_K: hmask[32] (the third bit), qs[64] (two low bits), scales[12] (sixteen
// 6-bit scales, biased by 32), d. Scale s has its low four bits in byte s
// (s < 8: low nibble) or s - 8 (high nibble), its top two in byte 8 + s % 4 at
// bit 2 * (s / 4).
GRADCHECK_INLINE void q3_k(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const std::uint8_t* hm = b;
  const std::uint8_t* q = b + 32;
  const std::uint8_t* packed = b + 96;
  const float d = half_at(b + 108);
  int scale[16];
  for (int s = 0; s < 16; ++s) {
    const int low = s < 8 ? (packed[s] & 0x0F) : (packed[s - 8] >> 4);
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    scale[s] = (low | (high << 4)) - 32;
  }
  const v8i h[4] = {widen8(hm), widen8(hm + 8), widen8(hm + 16), widen8(hm + 24)};
  int s = 0, bit = 1;
  for (int half = 0; half < 2; ++half, q += 32) {
    const v8i qv[4] = {widen8(q), widen8(q + 8), widen8(q + 16), widen8(q + 24)};
    for (int shift = 0; shift < 8; shift += 2, bit <<= 1) {
      for (int part = 0; part < 2; ++part, ++s, y += 16) {
        const v8f dl = splat(d * float(scale[s]));
        for (int k = 0; k < 2; ++k) {
          // ((q >> shift) & 3) - (the hmask bit set ? 0 : 4); a comparison's lanes are -1 or 0.
          const v8i low = (qv[2 * part + k] >> shift) & 3;
          const v8i minus = ((h[2 * part + k] & bit) == 0) & 4;
          store8(y + 8 * k, dl * to_float(low - minus));
        }
      }
    }
  }
}

// The 6-bit scale and minimum of sub-block j (0..7) of Q4_K and Q5_K, packed
// in 12 bytes: j < 4 in the low six bits of bytes j and j + 4; j >= 4 split
// between the nibbles of byte j + 4 and the top two bits of bytes j - 4 and j.
GRADCHECK_INLINE void scale_min_k4(int j, const std::uint8_t* p, int& sc, int& m) noexcept {
  if (j < 4) {
    sc = p[j] & 63;
    m = p[j + 4] & 63;
  } else {
    sc = (p[j + 4] & 0x0F) | ((p[j - 4] >> 6) << 4);
    m = (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
  }
}

// Q4_K: d, dmin, scales[12], qs[128]: 64 values per 32 bytes, low nibbles first.
GRADCHECK_INLINE void q4_k(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const float d = half_at(b), dmin = half_at(b + 2);
  const std::uint8_t* packed = b + 4;
  const std::uint8_t* q = b + 16;
  for (int j = 0; j < 8; j += 2, q += 32) {
    int sc, m;
    scale_min_k4(j, packed, sc, m);
    const float d1 = d * float(sc), m1 = dmin * float(m);
    scale_min_k4(j + 1, packed, sc, m);
    const float d2 = d * float(sc), m2 = dmin * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
  }
}

// Q5_K: d, dmin, scales[12], qh[32] (the fifth bits, two per 64 values), qs[128].
GRADCHECK_INLINE void q5_k(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const float d = half_at(b), dmin = half_at(b + 2);
  const std::uint8_t* packed = b + 4;
  const std::uint8_t* qh = b + 16;
  const std::uint8_t* q = b + 48;
  int bit = 0;
  for (int j = 0; j < 8; j += 2, q += 32, bit += 2) {
    int sc, m;
    scale_min_k4(j, packed, sc, m);
    const float d1 = d * float(sc), m1 = dmin * float(m);
    scale_min_k4(j + 1, packed, sc, m);
    const float d2 = d * float(sc), m2 = dmin * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((q[l] & 0x0F) + (((qh[l] >> bit) & 1) << 4)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float((q[l] >> 4) + (((qh[l] >> (bit + 1)) & 1) << 4)) - m2;
  }
}

// Q6_K: ql[128] (low four bits), qh[64] (top two), scales[16] (int8, one per 16
// values), d. Each half of 128 values: ql 64 bytes, qh 32, scales 8.
GRADCHECK_INLINE void q6_k(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const std::uint8_t* ql = b;
  const std::uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const float d = half_at(b + 208);
  for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
    // Values l and l + 32, 64, 96 share qh[l]; sixteen consecutive l share
    // their scales. The reference multiplies (d * scale) * q: the same here.
    for (int g = 0; g < 2; ++g) {
      const float s1 = d * float(sc[g]), s2 = d * float(sc[g + 2]), s3 = d * float(sc[g + 4]),
                  s4 = d * float(sc[g + 6]);
      for (int l = 16 * g; l < 16 * g + 16; ++l) {
        const int q1 = int((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = int((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = s1 * float(q1);
        y[l + 32] = s2 * float(q2);
        y[l + 64] = s3 * float(q3);
        y[l + 96] = s4 * float(q4);
      }
    }
  }
}

// IQ4: ggml's non-linear 4-bit code book (kvalues_iq4nl, ggml-common.h) is
// kIq4Book below.
// The code book's values of 16 nibbles: a byte shuffle (pshufb where the
// instruction set has it), then widened to two 8-lane int vectors.
typedef std::int8_t v16b __attribute__((vector_size(16)));
constexpr v16b kIq4Book = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
// MXFP4's and NVFP4's (kvalues_mxfp4): E2M1 (0, 0.5, 1, 1.5, 2, 3, 4, 6 and
// their negatives) doubled.
constexpr v16b kFp4Book = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
GRADCHECK_INLINE void book_lookup(v16b book, v16b nibbles, v8i& first, v8i& second) noexcept {
#if defined(__clang__)
  v16b v;  // clang has no variable-index shuffle builtin: lane by lane
  for (int i = 0; i < 16; ++i) v[i] = book[nibbles[i] & 0x0F];
#else
  const v16b v = __builtin_shuffle(book, nibbles);
#endif
  first = v8i{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  second = v8i{v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}

// 32 values from 16 bytes: value j (j + 16) is the low (high) nibble of byte j,
// looked up in a 16-entry code book, times `scale` (the reference's
// d * code book value, or code book value * d: the same product).
GRADCHECK_INLINE void book_32(v16b book, const std::uint8_t* qs, float scale, float* y) noexcept {
  v16b q;
  std::memcpy(&q, qs, 16);
  v8i a, b;
  book_lookup(book, q & 0x0F, a, b);
  store8(y, splat(scale) * to_float(a));
  store8(y + 8, splat(scale) * to_float(b));
  book_lookup(book, (v16b)((__attribute__((vector_size(16))) std::uint8_t)q >> 4), a, b);
  store8(y + 16, splat(scale) * to_float(a));
  store8(y + 24, splat(scale) * to_float(b));
}
GRADCHECK_INLINE void iq4_32(const std::uint8_t* qs, float scale, float* y) noexcept { book_32(kIq4Book, qs, scale, y); }

// IQ4_NL: d, qs[16].
GRADCHECK_INLINE void iq4_nl(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  iq4_32(b + 2, half_at(b), y);
}

// IQ4_XS: d, scales_h (uint16: two high bits per 32 values), scales_l[4] (a
// nibble per 32 values), qs[128]: 32 values per 16 bytes as in IQ4_NL.
GRADCHECK_INLINE void iq4_xs(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const float d = half_at(b);
  std::uint16_t high;
  std::memcpy(&high, b + 2, 2);
  const std::uint8_t* low = b + 4;
  const std::uint8_t* qs = b + 8;
  for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
    const int ls = ((low[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((high >> (2 * ib)) & 3) << 4);
    iq4_32(qs, d * float(ls - 32), y);
  }
}

// MXFP4 (OCP microscaling FP4): e (one exponent byte), qs[16] (value j in
// the low nibble of byte j, j + 16 in its high one). The reference multiplies
// ggml's doubled E2M1 code book (kvalues_mxfp4) by half the scale, as a
// float: d = 2^(e - 128), a subnormal for e < 2.
GRADCHECK_INLINE float e8m0_half(std::uint8_t e) noexcept {
  const std::uint32_t bits = e < 2 ? 0x00200000u << e : std::uint32_t(e - 1) << 23;
  float d;
  std::memcpy(&d, &bits, 4);
  return d;
}

GRADCHECK_INLINE void mxfp4(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  book_32(kFp4Book, b + 1, e8m0_half(b[0]), y);
}

// NVFP4: d[4] (one unsigned E4M3 scale byte per 16 values), qs[32] (each 16
// values from 8 bytes: value j in the low nibble of byte j, j + 8 in its high
// one), the MXFP4 code book. The reference's ggml_ue4m3_to_fp32: 0x00 and
// 0x7F are 0; else exponent bits 6-3 (bias 7), mantissa bits 2-0, subnormal
// at exponent 0, and half of that (for the doubled code book); bit 7 is not
// read. Every such value is a float, computed exactly here.
const std::vector<float> kUe4m3Half = [] {
  std::vector<float> t(256);
  for (int x = 0; x < 256; ++x) {
    const int e = (x >> 3) & 0x0F, m = x & 7;
    const double raw = e == 0 ? std::ldexp(double(m), -9) : std::ldexp(1.0 + m / 8.0, e - 7);
    t[std::size_t(x)] = x == 0 || x == 0x7F ? 0.0f : static_cast<float>(raw * 0.5);
  }
  return t;
}();

GRADCHECK_INLINE void nvfp4(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  // Two sub-blocks (16 bytes) at a time: the low nibbles of bytes 0-7 are
  // values 0-7 of the first, their high nibbles values 8-15; bytes 8-15 the same
  // for the second.
  for (int s = 0; s < 4; s += 2, y += 32) {
    const v8f d0 = splat(kUe4m3Half[b[s]]), d1 = splat(kUe4m3Half[b[s + 1]]);
    v16b q;
    std::memcpy(&q, b + 4 + 8 * s, 16);
    v8i first, second;
    book_lookup(kFp4Book, q & 0x0F, first, second);
    store8(y, d0 * to_float(first));
    store8(y + 16, d1 * to_float(second));
    book_lookup(kFp4Book, (v16b)((__attribute__((vector_size(16))) std::uint8_t)q >> 4), first, second);
    store8(y + 8, d0 * to_float(first));
    store8(y + 24, d1 * to_float(second));
  }
}

// Ternary digit n (0 the most significant) of a byte holding five in ggml's
// fixed-point base 3: the byte times 3^n (mod 256), times 3, over 256.
GRADCHECK_INLINE float trit(std::uint8_t byte, int n) noexcept {
  static constexpr std::uint8_t pow3[5] = {1, 3, 9, 27, 81};
  const auto q = static_cast<std::uint8_t>(byte * pow3[n]);
  return float(int((unsigned(q) * 3) >> 8) - 1);
}

// TQ1_0: qs[48] (five values a byte: bytes 0-31 give values n * 32 + m for
// digit n of byte m, bytes 32-47 the next 80 as n * 16 + m), qh[4] (four
// values a byte, the last 16: n * 4 + j), d.
GRADCHECK_INLINE void tq1_0(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const std::uint8_t* qs = b;
  const std::uint8_t* qh = b + 48;
  const float d = half_at(b + 52);
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 32; ++m) *y++ = trit(qs[m], n) * d;
  for (int n = 0; n < 5; ++n)
    for (int m = 0; m < 16; ++m) *y++ = trit(qs[32 + m], n) * d;
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < 4; ++j) *y++ = trit(qh[j], n) * d;
}

// TQ2_0: qs[64] (four values a byte, 2 bits each: for each 32 bytes, the
// values at shift 0 of all 32, then shift 2, 4, 6), d. The code is t - 1.
GRADCHECK_INLINE void tq2_0(const std::uint8_t* __restrict b, float* __restrict y) noexcept {
  const std::uint8_t* qs = b;
  const float d = half_at(b + 64);
  for (int j = 0; j < 64; j += 32)
    for (int shift = 0; shift < 8; shift += 2)
      for (int m = 0; m < 32; ++m) *y++ = float(int((qs[j + m] >> shift) & 3) - 1) * d;
}

template <void (*F)(const std::uint8_t*, float*)>
GRADCHECK_INLINE void each_block(const std::uint8_t* data, std::size_t blocks, std::size_t size, std::size_t values,
                                 float* out) noexcept {
  for (std::size_t i = 0; i < blocks; ++i) F(data + i * size, out + i * values);
}

GRADCHECK_INLINE void dequantize_any(DType t, const std::uint8_t* data, std::size_t blocks, float* out) noexcept {
  const std::size_t size = dtype_size(t), values = dtype_block(t);
  switch (t) {
    case DType::Q8_0: each_block<q8_0>(data, blocks, size, values, out); break;
    case DType::Q4_0: each_block<q4_0>(data, blocks, size, values, out); break;
    case DType::Q4_1: each_block<q4_1>(data, blocks, size, values, out); break;
    case DType::Q5_0: each_block<q5_0>(data, blocks, size, values, out); break;
    case DType::Q5_1: each_block<q5_1>(data, blocks, size, values, out); break;
    case DType::Q2_K: each_block<q2_k>(data, blocks, size, values, out); break;
    case DType::Q3_K: each_block<q3_k>(data, blocks, size, values, out); break;
    case DType::Q4_K: each_block<q4_k>(data, blocks, size, values, out); break;
    case DType::Q5_K: each_block<q5_k>(data, blocks, size, values, out); break;
    case DType::Q6_K: each_block<q6_k>(data, blocks, size, values, out); break;
    case DType::IQ4_NL: each_block<iq4_nl>(data, blocks, size, values, out); break;
    case DType::IQ4_XS: each_block<iq4_xs>(data, blocks, size, values, out); break;
    case DType::MXFP4: each_block<mxfp4>(data, blocks, size, values, out); break;
    case DType::TQ1_0: each_block<tq1_0>(data, blocks, size, values, out); break;
    case DType::TQ2_0: each_block<tq2_0>(data, blocks, size, values, out); break;
    case DType::NVFP4: each_block<nvfp4>(data, blocks, size, values, out); break;
    default: break;  // not a block type
  }
}

// Compiled twice, like the statistics kernels: for the x86-64 baseline and for
// AVX2 (chosen at run time). Neither enables FMA, so both round every
// operation alone, as the reference's C does: the same floats either way.
void dequantize_baseline(DType t, const std::uint8_t* data, std::size_t blocks, float* out) noexcept {
  dequantize_any(t, data, blocks, out);
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) void dequantize_avx2(DType t, const std::uint8_t* data, std::size_t blocks,
                                                     float* out) noexcept {
  dequantize_any(t, data, blocks, out);
}
const bool kHaveAvx2 = detail::kernel_isa() >= 1;  // kernels.hpp: GRADCHECK_KERNELS
#else
const bool kHaveAvx2 = false;
#endif

}  // namespace

const float* detail::half_floats() noexcept { return kHalf.data(); }

void dequantize_blocks(DType t, const std::uint8_t* data, std::size_t blocks, float* out) noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kHaveAvx2) return dequantize_avx2(t, data, blocks, out);
#endif
  dequantize_baseline(t, data, blocks, out);
}

std::size_t dtype_scale_groups(DType t) noexcept {
  return t == DType::NVFP4 ? 4 : is_block_quantized(t) ? 1 : 0;
}

BlockScale block_scale(DType t, const std::uint8_t* block, std::size_t group) noexcept {
  const double none = std::numeric_limits<double>::quiet_NaN();
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q5_0: case DType::IQ4_NL: case DType::IQ4_XS:
      return {half_at(block), none};
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K:
      return {half_at(block), half_at(block + 2)};
    case DType::Q2_K: return {half_at(block + 80), half_at(block + 82)};
    case DType::Q3_K: return {half_at(block + 108), none};
    case DType::Q6_K: return {half_at(block + 208), none};
    case DType::MXFP4: return {e8m0_half(block[0]), none};
    case DType::TQ1_0: return {half_at(block + 52), none};
    case DType::TQ2_0: return {half_at(block + 64), none};
    case DType::NVFP4: return {kUe4m3Half[block[group]], none};
    default: return {none, none};
  }
}

void detail::ScaleTally::add(DType t, const std::uint8_t* blocks, std::size_t count) noexcept {
  const std::size_t size = dtype_size(t);
  const bool has_min =
      t == DType::Q4_1 || t == DType::Q5_1 || t == DType::Q2_K || t == DType::Q4_K || t == DType::Q5_K;
  const std::size_t per_block = dtype_scale_groups(t);  // each group's scale is counted
  for (std::size_t b = 0; b < count; ++b)
    for (std::size_t g = 0; g < per_block; ++g) {
      BlockScale s = block_scale(t, blocks + b * size, g);
      if (!has_min) s.min = 0;
      ++groups;
      if (!std::isfinite(s.d) || !std::isfinite(s.min)) ++nonfinite;
      if (!std::isfinite(s.d)) continue;
      const double a = std::fabs(s.d);
      zero += a == 0;
      ++finite;
      lo = std::min(lo, a);
      hi = std::max(hi, a);
      sum += a;
      sum2 += a * a;
    }
}

void detail::ScaleTally::merge(const ScaleTally& o) noexcept {
  groups += o.groups;
  zero += o.zero;
  nonfinite += o.nonfinite;
  finite += o.finite;
  lo = std::min(lo, o.lo);
  hi = std::max(hi, o.hi);
  sum += o.sum;
  sum2 += o.sum2;
}

QuantHealth detail::ScaleTally::health() const noexcept {
  QuantHealth h;
  h.blocks = groups;
  h.zero_scale_blocks = zero;
  h.nonfinite_scale_blocks = nonfinite;
  if (finite == 0) {
    h.scale_min = h.scale_max = h.scale_mean = h.scale_std = std::numeric_limits<double>::quiet_NaN();
    return h;
  }
  h.scale_min = lo;
  h.scale_max = hi;
  h.scale_mean = sum / double(finite);
  // One pass: float16 magnitudes of one tensor lie within a few binades of each
  // other, so sum(a^2)/n - mean^2 loses nothing a report shows.
  const double var = std::max(0.0, sum2 / double(finite) - h.scale_mean * h.scale_mean);
  h.scale_std = std::sqrt(var);
  return h;
}

QuantHealth quantization_health(const TensorView& view) {
  if (!is_block_quantized(view.dtype)) return {};
  detail::ScaleTally tally;
  tally.add(view.dtype, view.data, view.numel / dtype_block(view.dtype));
  return tally.health();
}

}  // namespace gradcheck::weights
