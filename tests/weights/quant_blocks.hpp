#pragma once
// Block-quantized tensors for the statistics tests: random codes with random
// float16 scales, rows of whole blocks, and the values they dequantize to.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gradcheck/weights/dtype.hpp"
#include "gradcheck/weights/statistics.hpp"

namespace quant_test {

using gradcheck::weights::DType;

// A random normal float16's bits, magnitude 2^-14 to 2^1, either sign.
inline std::uint16_t random_half(std::mt19937& rng) {
  const std::uint32_t sign = rng() & 1, exponent = 1 + rng() % 16, mantissa = rng() & 0x3FF;
  return static_cast<std::uint16_t>((sign << 15) | (exponent << 10) | mantissa);
}

// Where a type's float16 scales are in its block (Q2_K: d and dmin).
inline std::vector<std::size_t> scale_offsets(DType t) {
  switch (t) {
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    case DType::TQ1_0: return {52};
    case DType::TQ2_0: return {64};
    case DType::Q4_0: case DType::Q8_0: return {0};
    default: return {};
  }
}

inline void set_half(std::uint8_t* p, std::uint16_t h) { std::memcpy(p, &h, 2); }

struct Blocks {
  DType type;
  std::int64_t rows, cols;
  std::vector<std::uint8_t> bytes;

  std::size_t block_size() const { return gradcheck::weights::dtype_size(type); }
  std::size_t blocks_per_row() const { return std::size_t(cols) / gradcheck::weights::dtype_block(type); }
  std::uint8_t* block(std::int64_t row, std::size_t b) {
    return bytes.data() + (std::size_t(row) * blocks_per_row() + b) * block_size();
  }
  gradcheck::weights::TensorView view() const {
    return {type, bytes.data(), std::uint64_t(rows * cols), {rows, cols}};
  }
  std::vector<float> values() const {
    std::vector<float> out(std::size_t(rows * cols));
    gradcheck::weights::dequantize_blocks(type, bytes.data(), out.size() / gradcheck::weights::dtype_block(type),
                                          out.data());
    return out;
  }
  // Row `to` made a copy of row `from`, byte for byte.
  void copy_row(std::int64_t from, std::int64_t to) {
    std::memcpy(block(to, 0), block(from, 0), blocks_per_row() * block_size());
  }
};

// rows x cols values of type t (cols a multiple of its block): random bytes,
// then a random finite float16 in each scale.
inline Blocks random_blocks(DType t, std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
  Blocks b{t, rows, cols, {}};
  std::mt19937 rng(seed);
  b.bytes.resize(std::size_t(rows) * b.blocks_per_row() * b.block_size());
  for (auto& x : b.bytes) x = static_cast<std::uint8_t>(rng());
  for (std::size_t i = 0; i < b.bytes.size(); i += b.block_size())
    for (std::size_t at : scale_offsets(t)) set_half(b.bytes.data() + i + at, random_half(rng));
  return b;
}

}  // namespace quant_test
