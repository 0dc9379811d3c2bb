#pragma once
// Private to the library: the statistics of a chunk of a few-level block type
// (Q2_K, TQ1_0, TQ2_0) read from its codes instead of its values.
//
// Each sub-block of such a type holds a handful of distinct values, its
// levels: Q2_K has 4 in 16 values (scale * q - min, q = 0..3), the ternary
// types 3 or 4 in 256 (d * (t - 1)). A chunk's statistics follow from each
// level and how many of the sub-block's values take it, counted from the
// packed codes a machine word at a time: minimum and maximum over the levels
// that occur, the histogram one increment per level (hist[key] += count),
// zeros, and the moments from the (level, count) pairs in two passes. Each
// level is computed as the reference's dequantization computes the value (the
// same float operations in the same order), so minimum, maximum, histogram
// and zeros are exactly those of the dequantized values; the moments differ
// from a value-by-value sum only in rounding (they are exact central moments
// of the pairs). Types with more levels per value (Q3_K: 8 in 16) gain
// nothing this way: the value-by-value kernel does as much work per value as
// this does per level.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gradcheck/weights/dtype.hpp"
#include "kernels.hpp"

namespace gradcheck::weights::detail {

/// Whether chunks of type t are summarised from their codes (level_chunk).
bool counts_levels(DType t) noexcept;

/// Scratch for level_chunk, reused across chunks.
struct LevelScratch {
  std::vector<float> level;
  std::vector<std::uint32_t> count;
};

/// The statistics of `blocks` whole blocks of t (counts_levels(t)) at `data`,
/// as run_chunk_kernel gives them for the dequantized values, the histogram
/// counted into the four arrays `hist` (indexed by raw key; their sum is the
/// histogram, each level's count in one of them); `nonzero[b]` is set to the
/// number of non-zero values in block b. Returns false, having changed
/// nothing, when a block's scale is not finite (its values may not be):
/// the caller then dequantizes the chunk.
bool level_chunk(DType t, const std::uint8_t* data, std::size_t blocks, std::uint32_t* const* hist,
                 LevelScratch& scratch,
                 ChunkResult& out, std::uint32_t* nonzero);

/// A hash of one block's stored bytes (`size` of them), the block being the
/// `index`-th of its row. A row's hash is the sum of its blocks' hashes
/// (each 32-bit half summed on its own, as the row-piece hashes of
/// kernels.hpp are), so equal rows of blocks have equal hashes.
std::uint64_t block_hash(const std::uint8_t* p, std::size_t size, std::size_t index) noexcept;

/// Every float16 as float (exact), indexed by its bits.
const float* half_floats() noexcept;

}  // namespace gradcheck::weights::detail
