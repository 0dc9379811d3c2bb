#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gradcheck/weights/dtype.hpp"

using namespace gradcheck::weights;

namespace {

// References computed arithmetically (ldexp of the integer significand), a
// different route from the library's bit construction.
double ref_small_float(std::uint32_t b, int e_bits, int m_bits, bool ieee_specials, bool fn_nan) {
  const std::uint32_t e = (b >> m_bits) & ((1u << e_bits) - 1);
  const std::uint32_t m = b & ((1u << m_bits) - 1);
  const bool neg = (b >> (e_bits + m_bits)) & 1u;
  const int bias = (1 << (e_bits - 1)) - 1;
  double v;
  if (fn_nan && e == (1u << e_bits) - 1 && m == (1u << m_bits) - 1) return NAN;
  if (ieee_specials && e == (1u << e_bits) - 1) {
    if (m != 0) return NAN;
    v = INFINITY;
  } else if (e == 0) {
    v = std::ldexp(double(m), 1 - bias - m_bits);
  } else {
    v = std::ldexp(double((1u << m_bits) + m), int(e) - bias - m_bits);
  }
  return neg ? -v : v;
}

bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

}  // namespace

TEST_CASE("float16 converts exactly for all 65536 bit patterns", "[dtype]") {
  int mismatches = 0;
  for (std::uint32_t b = 0; b < 65536; ++b)
    if (!same(half_to_double(std::uint16_t(b)), ref_small_float(b, 5, 10, true, false))) ++mismatches;
  CHECK(mismatches == 0);
  CHECK(half_to_double(0x3C00) == 1.0);
  CHECK(half_to_double(0x7BFF) == 65504.0);
  CHECK(half_to_double(0x0001) == std::ldexp(1.0, -24));
  CHECK(std::isinf(half_to_double(0xFC00)));
}

TEST_CASE("bfloat16 converts exactly for all 65536 bit patterns", "[dtype]") {
  int mismatches = 0;
  for (std::uint32_t b = 0; b < 65536; ++b)
    if (!same(bfloat16_to_double(std::uint16_t(b)), ref_small_float(b, 8, 7, true, false))) ++mismatches;
  CHECK(mismatches == 0);
  CHECK(bfloat16_to_double(0x3F80) == 1.0);
  CHECK(bfloat16_to_double(0xC000) == -2.0);
}

TEST_CASE("float8 e4m3fn and e5m2 convert exactly for all 256 bit patterns", "[dtype]") {
  for (std::uint32_t b = 0; b < 256; ++b) {
    INFO("bits " << b);
    CHECK(same(float8_e4m3_to_double(std::uint8_t(b)), ref_small_float(b, 4, 3, false, true)));
    CHECK(same(float8_e5m2_to_double(std::uint8_t(b)), ref_small_float(b, 5, 2, true, false)));
  }
  CHECK(float8_e4m3_to_double(0x7E) == 448.0);
  CHECK(std::isnan(float8_e4m3_to_double(0x7F)));
  CHECK(float8_e5m2_to_double(0x7B) == 57344.0);
  CHECK(std::isinf(float8_e5m2_to_double(0x7C)));
}

TEST_CASE("every dtype name round-trips and integer types load exactly", "[dtype]") {
  for (const char* n : {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8", "U64", "U32",
                        "U16", "U8", "BOOL"}) {
    auto t = parse_dtype(n);
    REQUIRE(t);
    CHECK(dtype_name(*t) == n);
  }
  CHECK_FALSE(parse_dtype("F128"));
  CHECK_FALSE(parse_dtype("f32"));
  const std::int64_t i64[2] = {-(std::int64_t(1) << 52), 7};
  std::uint8_t buf[17];
  std::memcpy(buf + 1, i64, 16);  // deliberately misaligned
  CHECK(load_as_double(DType::I64, buf + 1, 0) == -std::ldexp(1.0, 52));
  CHECK(load_as_double(DType::I64, buf + 1, 1) == 7.0);
  const std::uint8_t bools[3] = {0, 1, 2};
  CHECK(load_as_double(DType::BOOL, bools, 2) == 1.0);
  const std::uint8_t u16[2] = {0xFD, 0xFF};
  CHECK(load_as_double(DType::U16, u16, 0) == 65533.0);
  CHECK(load_as_double(DType::I16, u16, 0) == -3.0);
}
