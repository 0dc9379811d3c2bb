#pragma once
// Private to the library: the per-chunk machinery of the statistics pass
// (statistics.cpp holds the statistics). A chunk's moments, minimum, maximum,
// zeros and histogram counts, and row-piece hashes, computed by kernels built
// for the x86-64 baseline, for AVX2 and for AVX-512 and chosen at run time:
// the best the CPU has, or the one GRADCHECK_KERNELS names when the CPU has
// it (baseline, avx2 or avx512; GRADCHECK_BASELINE_KERNELS, any value, means
// baseline). Every build gives bit-identical results: the sums' order is
// fixed by the source, and nothing is contracted to FMA (kernels.cpp is
// compiled with -ffp-contract=off).

#include <bit>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "gradcheck/weights/dtype.hpp"
#include "gradcheck/weights/statistics.hpp"

namespace gradcheck::weights::detail {

/// Histogram bins: one per float32 bits >> 16.
inline constexpr std::size_t kBins = 65536;

/// The histogram a worker counts into is kHistParts arrays of kBins counts,
/// kHistStride counts apart, a bin's count being the sum of its parts:
/// increments to one bin wait for each other, and spreading neighbouring
/// values over the parts shortens such chains. The stride is not a multiple
/// of 4 KiB (it is 1 KiB and 64 bytes past one), so the same bin in two parts
/// is not at the same offset within a page: loads of one part were delayed
/// behind stores to the same offset in another (four parts 256 KiB apart ran
/// 1.2x slower than two, 1 KiB and 64 bytes further apart 0.84x as long).
inline constexpr std::size_t kHistParts = 4;
inline constexpr std::size_t kHistStride = kBins + 272;
inline constexpr std::size_t kHistCounts = kHistParts * kHistStride;

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

// Where a float32 chunk of a matrix falls in its rows, so the fused pass can
// hash the row pieces while it reads them. Only for rows of whole 8-value
// vectors (cols % 8 == 0; chunks start at multiples of 8), so no vector
// straddles two rows; `cols == 0` means no hashing.
struct RowPieces {
  std::size_t cols = 0;
  std::size_t col0 = 0;          // column of the chunk's first value
  std::uint64_t* out = nullptr;  // hash_f32 of each row piece, in order
};

/// A chunk's moments and histogram (and, for a float32 matrix of whole-vector
/// rows, the row pieces' hashes into rows.out): the `n` elements of `v` from
/// `begin`. `x` is a scratch buffer of kChunkElements doubles; `hist` holds
/// kHistCounts counts, the kHistParts parts of one histogram indexed by raw
/// key (see kHistParts): the fused float32 pass counts value i in part i mod
/// 2, or, with `zeros_from_bins` (dequantized blocks, whose few levels make
/// long chains of increments to one bin), in part i mod 4 (the last n mod 8
/// values in the first); the other paths count in the first.
/// Float32 zeros fall in the bins of +0 and -0 with
/// the subnormals below 2^-133; they are counted in a second look at a chunk
/// whose zero bins grew (rare in trained weights), or, with `zeros_from_bins`,
/// taken as the bins' growth: for dequantized blocks, whose nonzero values are
/// all at least 2^-128 in magnitude (float16 scales are multiples of 2^-24,
/// and so is every product, sum and difference of them with the blocks'
/// integers; E8M0 scales are at least 2^-128 as halved, UE4M3 ones 2^-10, times
/// levels of at least 1), while a zero level is in nearly every chunk.
ChunkResult run_chunk_kernel(const TensorView& v, std::size_t begin, std::size_t n, double* x, std::uint32_t* hist,
                             const RowPieces& rows, bool zeros_from_bins = false);

/// The kernels chosen for this process (see the top of this file): 0 the
/// x86-64 baseline, 1 AVX2, 2 AVX-512. The other weights kernels (levels.cpp,
/// quant.cpp) use their AVX2 builds when this is 1 or more.
int kernel_isa() noexcept;

/// Block-scale tallies of a block-quantized tensor's blocks (QuantHealth's
/// counts and sums), taken chunk by chunk and merged in chunk order.
struct ScaleTally {
  std::uint64_t groups = 0, zero = 0, nonfinite = 0, finite = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  double sum = 0, sum2 = 0;  // of the finite |d|
  /// Adds `count` whole blocks of type t at `blocks`.
  void add(DType t, const std::uint8_t* blocks, std::size_t count) noexcept;
  void merge(const ScaleTally& o) noexcept;
  QuantHealth health() const noexcept;
};

/// The hash of a row piece: `n` elements of type `t` at `p`, the first in
/// column `col0` (see kernels.cpp: additive over a row's pieces).
std::uint64_t row_piece_hash(DType t, const std::uint8_t* p, std::size_t col0, std::size_t n);

}  // namespace gradcheck::weights::detail
