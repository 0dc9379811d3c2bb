#pragma once
// Element types of saved tensors and their exact conversion to double.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gradcheck::weights {

/// The element types a checkpoint may hold, named as safetensors names them.
/// F8_E4M3 is the "fn" variant (no infinities, NaN = S.1111.111, max 448);
/// F8_E5M2 follows IEEE 754 rules (infinities and NaNs, max 57344).
enum class DType : std::uint8_t {
  F64, F32, F16, BF16, F8_E4M3, F8_E5M2,
  I64, I32, I16, I8, U64, U32, U16, U8, BOOL,
};

/// The safetensors spelling ("F32", "BF16", ...).
std::string_view dtype_name(DType t) noexcept;
/// Parses a safetensors dtype name; nullopt when unknown.
std::optional<DType> parse_dtype(std::string_view name) noexcept;
/// Bytes per element.
std::size_t dtype_size(DType t) noexcept;
/// True for the floating-point types (the ones health flags apply to).
bool is_floating(DType t) noexcept;

/// IEEE binary16 bits to double, exact for every one of the 65,536 patterns
/// (subnormals, infinities, NaN preserved as NaN).
double half_to_double(std::uint16_t bits) noexcept;
/// bfloat16 bits to double, exact: bfloat16 is the top half of a binary32.
double bfloat16_to_double(std::uint16_t bits) noexcept;
/// float8 e4m3fn bits to double, exact (bias 7; S.1111.111 is NaN; no infinities).
double float8_e4m3_to_double(std::uint8_t bits) noexcept;
/// float8 e5m2 bits to double, exact (bias 15; IEEE-style infinities and NaNs).
double float8_e5m2_to_double(std::uint8_t bits) noexcept;

/// Element `i` of a little-endian buffer of type `t`, as double. Reads with
/// memcpy, so `data` need not be aligned (safetensors data often is not).
/// 64-bit integers beyond 2^53 are rounded to the nearest double.
double load_as_double(DType t, const std::uint8_t* data, std::size_t i) noexcept;

/// Converts elements [begin, end) of a buffer of type `t` to double into `out`.
void convert_to_double(DType t, const std::uint8_t* data, std::size_t begin, std::size_t end,
                       double* out) noexcept;

}  // namespace gradcheck::weights
