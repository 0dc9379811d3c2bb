#include "gradcheck/weights/dtype.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

namespace gradcheck::weights {

namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  std::size_t size;       // bytes per element, or per block
  std::size_t block = 1;  // values per block
};

// Block sizes and layouts: ggml's ggml-common.h (block_q8_0 ... block_q6_K,
// block_iq4_nl, block_iq4_xs, block_mxfp4, block_tq1_0, block_tq2_0, block_nvfp4).
constexpr std::array<DTypeInfo, 31> kTypes{{
    {DType::F64, "F64", 8},     {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},   {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},     {DType::I32, "I32", 4},         {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},       {DType::U64, "U64", 8},         {DType::U32, "U32", 4},
    {DType::U16, "U16", 2},     {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
    {DType::Q8_0, "Q8_0", 34, 32},  {DType::Q4_0, "Q4_0", 18, 32},  {DType::Q4_1, "Q4_1", 20, 32},
    {DType::Q5_0, "Q5_0", 22, 32},  {DType::Q5_1, "Q5_1", 24, 32},  {DType::Q2_K, "Q2_K", 84, 256},
    {DType::Q3_K, "Q3_K", 110, 256}, {DType::Q4_K, "Q4_K", 144, 256}, {DType::Q5_K, "Q5_K", 176, 256},
    {DType::Q6_K, "Q6_K", 210, 256}, {DType::IQ4_NL, "IQ4_NL", 18, 32}, {DType::IQ4_XS, "IQ4_XS", 136, 256},
    {DType::MXFP4, "MXFP4", 17, 32}, {DType::TQ1_0, "TQ1_0", 54, 256}, {DType::TQ2_0, "TQ2_0", 66, 256},
    {DType::NVFP4, "NVFP4", 36, 64},
}};

// Builds a double from sign, unbiased exponent and a mantissa fraction by
// placing the bits directly; exact because every narrower format's normal and
// subnormal values are normal doubles.
double from_parts(bool negative, int exponent, std::uint64_t mantissa, int mantissa_bits) noexcept {
  const std::uint64_t bits = (std::uint64_t(negative) << 63) |
                             (std::uint64_t(exponent + 1023) << 52) |
                             (mantissa << (52 - mantissa_bits));
  return std::bit_cast<double>(bits);
}

// A small IEEE-style format with `e_bits` exponent and `m_bits` mantissa bits.
double small_float(std::uint32_t bits, int e_bits, int m_bits, bool ieee_specials) noexcept {
  const bool negative = (bits >> (e_bits + m_bits)) & 1u;
  const std::uint32_t e = (bits >> m_bits) & ((1u << e_bits) - 1);
  const std::uint32_t m = bits & ((1u << m_bits) - 1);
  const int bias = (1 << (e_bits - 1)) - 1;
  const std::uint32_t e_max = (1u << e_bits) - 1;
  if (e == 0) {
    if (m == 0) return negative ? -0.0 : 0.0;
    // Subnormal: m * 2^(1 - bias - m_bits); normalise m into a double.
    const int shift = std::countl_zero(m) - (32 - m_bits);  // leading zeros within the m_bits field
    const std::uint32_t normalised = (m << (shift + 1)) & ((1u << m_bits) - 1);
    return from_parts(negative, 1 - bias - shift - 1, normalised, m_bits);
  }
  if (ieee_specials && e == e_max) {
    if (m == 0) return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  return from_parts(negative, int(e) - bias, m, m_bits);
}

std::array<double, 256> make_e4m3_table() {
  std::array<double, 256> t{};
  for (unsigned b = 0; b < 256; ++b) {
    // e4m3fn: only S.1111.111 is NaN; all other patterns with e = 15 are normal.
    t[b] = ((b & 0x7Fu) == 0x7Fu) ? std::numeric_limits<double>::quiet_NaN() : small_float(b, 4, 3, false);
  }
  return t;
}

std::array<double, 256> make_e5m2_table() {
  std::array<double, 256> t{};
  for (unsigned b = 0; b < 256; ++b) t[b] = small_float(b, 5, 2, true);
  return t;
}

const std::array<double, 256> kE4M3 = make_e4m3_table();
const std::array<double, 256> kE5M2 = make_e5m2_table();

template <class T>
T load(const std::uint8_t* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T, class F>
void convert_loop(const std::uint8_t* data, std::size_t begin, std::size_t end, double* out, F f) noexcept {
  const std::uint8_t* p = data + begin * sizeof(T);
  for (std::size_t i = begin; i < end; ++i, p += sizeof(T)) *out++ = f(load<T>(p));
}

}  // namespace

std::string_view dtype_name(DType t) noexcept { return kTypes[static_cast<std::size_t>(t)].name; }

std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (const auto& info : kTypes)
    if (info.name == name && info.block == 1) return info.type;
  return std::nullopt;
}

std::size_t dtype_size(DType t) noexcept { return kTypes[static_cast<std::size_t>(t)].size; }
std::size_t dtype_block(DType t) noexcept { return kTypes[static_cast<std::size_t>(t)].block; }
bool is_block_quantized(DType t) noexcept { return dtype_block(t) > 1; }

bool is_floating(DType t) noexcept {
  switch (t) {
    case DType::F64: case DType::F32: case DType::F16: case DType::BF16:
    case DType::F8_E4M3: case DType::F8_E5M2:
      return true;
    default:
      return is_block_quantized(t);
  }
}

double half_to_double(std::uint16_t bits) noexcept { return small_float(bits, 5, 10, true); }

double bfloat16_to_double(std::uint16_t bits) noexcept {
  return static_cast<double>(std::bit_cast<float>(std::uint32_t(bits) << 16));
}

double float8_e4m3_to_double(std::uint8_t bits) noexcept { return kE4M3[bits]; }
double float8_e5m2_to_double(std::uint8_t bits) noexcept { return kE5M2[bits]; }

double load_as_double(DType t, const std::uint8_t* data, std::size_t i) noexcept {
  double v;
  convert_to_double(t, data, i, i + 1, &v);
  return v;
}

void convert_to_double(DType t, const std::uint8_t* data, std::size_t begin, std::size_t end,
                       double* out) noexcept {
  if (is_block_quantized(t)) {
    // Block by block through a float buffer: the values are float32 results.
    const std::size_t block = dtype_block(t), size = dtype_size(t);
    float values[256];
    for (std::size_t b = begin / block; b * block < end; ++b) {
      dequantize_blocks(t, data + b * size, 1, values);
      const std::size_t lo = std::max(begin, b * block), hi = std::min(end, (b + 1) * block);
      for (std::size_t i = lo; i < hi; ++i) *out++ = double(values[i - b * block]);
    }
    return;
  }
  switch (t) {
    case DType::F64: convert_loop<double>(data, begin, end, out, [](double v) { return v; }); break;
    case DType::F32: convert_loop<float>(data, begin, end, out, [](float v) { return double(v); }); break;
    case DType::F16: convert_loop<std::uint16_t>(data, begin, end, out, half_to_double); break;
    case DType::BF16: convert_loop<std::uint16_t>(data, begin, end, out, bfloat16_to_double); break;
    case DType::F8_E4M3: convert_loop<std::uint8_t>(data, begin, end, out, [](std::uint8_t b) { return kE4M3[b]; }); break;
    case DType::F8_E5M2: convert_loop<std::uint8_t>(data, begin, end, out, [](std::uint8_t b) { return kE5M2[b]; }); break;
    case DType::I64: convert_loop<std::int64_t>(data, begin, end, out, [](std::int64_t v) { return double(v); }); break;
    case DType::I32: convert_loop<std::int32_t>(data, begin, end, out, [](std::int32_t v) { return double(v); }); break;
    case DType::I16: convert_loop<std::int16_t>(data, begin, end, out, [](std::int16_t v) { return double(v); }); break;
    case DType::I8: convert_loop<std::int8_t>(data, begin, end, out, [](std::int8_t v) { return double(v); }); break;
    case DType::U64: convert_loop<std::uint64_t>(data, begin, end, out, [](std::uint64_t v) { return double(v); }); break;
    case DType::U32: convert_loop<std::uint32_t>(data, begin, end, out, [](std::uint32_t v) { return double(v); }); break;
    case DType::U16: convert_loop<std::uint16_t>(data, begin, end, out, [](std::uint16_t v) { return double(v); }); break;
    case DType::U8: convert_loop<std::uint8_t>(data, begin, end, out, [](std::uint8_t v) { return double(v); }); break;
    // Any non-zero byte is true, as NumPy and PyTorch read bool storage.
    case DType::BOOL: convert_loop<std::uint8_t>(data, begin, end, out, [](std::uint8_t v) { return v != 0 ? 1.0 : 0.0; }); break;
    default: break;  // the block types, above
  }
}

}  // namespace gradcheck::weights
