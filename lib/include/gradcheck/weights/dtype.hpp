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
///
/// The block-quantized types are ggml's (GGUF files), named as ggml names
/// them: a tensor is a sequence of blocks of dtype_block(t) values, each
/// block dtype_size(t) bytes holding float16 scales and packed integers.
/// A value is what ggml's reference dequantize_row_* computes for it, in
/// float32 (then exact in double):
///   Q8_0 (32 values, 34 bytes): d * q, q int8;
///   Q4_0 (32, 18) and Q5_0 (32, 22): d * (q - 8) and d * (q - 16), q 4 or 5 bits;
///   Q4_1 (32, 20) and Q5_1 (32, 24): d * q + m;
///   Q2_K (256, 84), Q3_K (256, 110), Q4_K (256, 144), Q5_K (256, 176),
///   Q6_K (256, 210): a super-block scale d (and dmin) times 4- to 8-bit
///   scales of 16 or 32 values each, times 2- to 6-bit q (minus the scaled
///   minimum for Q2_K, Q4_K, Q5_K);
///   IQ4_NL (32, 18): d * v[q], v ggml's 16-entry non-linear table
///   (-127 ... 113); IQ4_XS (256, 136): the same table, a 6-bit scale
///   (biased by 32) per 32 values times d;
///   MXFP4 (32, 17): OCP microscaling FP4, an E2M1 value (0, 0.5, 1, 1.5, 2,
///   3, 4, 6 and their negatives) times a power-of-two scale 2^(e - 127) from
///   one exponent byte e, computed as the reference does: d * k[q] with
///   d = 2^(e - 128) and k the doubled E2M1 table (0 ... 12), so e = 255 is a
///   finite scale and large codes overflow to infinity in float32;
///   NVFP4 (64, 36): the same E2M1 codes in four sub-blocks of 16, each with
///   an unsigned E4M3 scale byte (bias 7, top bit ignored; 0x00 and 0x7F read
///   as 0), halved for the doubled code book as the reference does;
///   TQ1_0 (256, 54) and TQ2_0 (256, 66): ternary, d * (t - 1) with t in 0..2
///   packed five to a byte in base 3 (TQ1_0) or four to a byte in 2 bits
///   (TQ2_0, where the unused code 3 reads as 2 d, as in the reference).
/// The block-scale health of MXFP4 reports d = 2^(e - 128), that of NVFP4
/// each 16-value sub-block's scale; the others their float16 d.
enum class DType : std::uint8_t {
  F64, F32, F16, BF16, F8_E4M3, F8_E5M2,
  I64, I32, I16, I8, U64, U32, U16, U8, BOOL,
  Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS,
  MXFP4, TQ1_0, TQ2_0, NVFP4,
};

/// The safetensors spelling ("F32", "BF16", ...), or ggml's for the block
/// types ("Q4_K").
std::string_view dtype_name(DType t) noexcept;
/// Parses a safetensors dtype name; nullopt when unknown (the block types are
/// not safetensors types and are not parsed).
std::optional<DType> parse_dtype(std::string_view name) noexcept;
/// Bytes per element; for a block-quantized type, bytes per block.
std::size_t dtype_size(DType t) noexcept;
/// Values per block: 1 for the element types, 32 or 256 for the block types.
std::size_t dtype_block(DType t) noexcept;
/// True for ggml's block-quantized types.
bool is_block_quantized(DType t) noexcept;
/// True for the floating-point types (the ones health flags apply to),
/// including the block-quantized ones.
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
/// 64-bit integers beyond 2^53 are rounded to the nearest double. For a
/// block-quantized type, `data` is the first block and element `i` is
/// dequantized from its block.
double load_as_double(DType t, const std::uint8_t* data, std::size_t i) noexcept;

/// Converts elements [begin, end) of a buffer of type `t` to double into `out`
/// (block-quantized types: dequantized from the blocks holding them).
void convert_to_double(DType t, const std::uint8_t* data, std::size_t begin, std::size_t end,
                       double* out) noexcept;

/// Dequantizes `blocks` whole blocks of a block-quantized type at `data` into
/// `out` (blocks x dtype_block(t) floats), exactly as ggml's reference
/// dequantize_row_* does: the same float32 operations in the same order.
void dequantize_blocks(DType t, const std::uint8_t* data, std::size_t blocks, float* out) noexcept;

/// Scale groups per block: 4 for NVFP4 (a scale per 16 values, NVFP4's own
/// block size; ggml packs four in one block), 1 for the other block types, 0
/// for the element types.
std::size_t dtype_scale_groups(DType t) noexcept;

/// The scale of group `group` (< dtype_scale_groups(t)) of a block: its
/// float16 `d` (the super-block scale of the K types; for MXFP4 the float the
/// reference multiplies the codes by, 2^(e - 128); for NVFP4 the group's E4M3
/// scale as the reference reads it), and for the types with a minimum (Q4_1,
/// Q5_1, Q2_K, Q4_K, Q5_K) its `m` or `dmin` (NaN for the others).
struct BlockScale {
  double d = 0;
  double min = 0;
};
BlockScale block_scale(DType t, const std::uint8_t* block, std::size_t group = 0) noexcept;

}  // namespace gradcheck::weights
