#pragma once
// Statistics of a tensor's values, computed in one streaming pass.
//
// Values are converted to double. The tensor is cut into fixed chunks of
// kChunkElements elements (independent of the thread count); each chunk's
// count, mean and central moments M2..M4 are computed in double with a fixed
// summation order (float32: in one read of the bytes, from power sums about
// the mean of the chunk's first 64 values, or two passes when the chunk's
// mean is far from it; block-quantized types: dequantized to float32 first,
// or, for the few-level Q2_K, TQ1_0 and TQ2_0, two passes over each level and
// the count of values taking it; other types: two passes over a converted
// copy), then chunks are merged in a fixed pairwise tree with the exact update
// formulas of Chan et al. / Pebay (2008). Bytes that lie in a MappedFile are
// copied from its file with pread, a task at a time, instead of being read
// through the mapping (the same bytes). Histogram counts, minima, maxima, row hashes
// and dead-row/column bits are integer or order-free, so every result is
// bit-identical for any number of threads, and for the baseline and AVX2
// builds of the kernels (no FMA in either).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gradcheck/weights/dtype.hpp"

namespace gradcheck::weights {

/// Elements per chunk of the streaming pass: 128 KiB of doubles, cache-resident.
inline constexpr std::size_t kChunkElements = 16384;

/// A log-scale histogram with one bin per 2^16 consecutive float32 bit
/// patterns: sign, 8 exponent bits and the top 7 mantissa bits, so each bin is
/// [v, v * (1 + 2^-7)) wide: about 0.8% of the value, at any magnitude, with no
/// range to guess before the pass. Only non-empty bins are kept, in value order.
/// Finite values beyond the float32 range are counted in the outermost bins.
struct Histogram {
  struct Bin {
    std::uint16_t key;
    std::uint64_t count;
  };
  std::vector<Bin> bins;

  /// The bin of a finite value.
  static std::uint16_t key_of(double value) noexcept;
  /// The value range [lower_edge, upper_edge) of a bin.
  static double lower_edge(std::uint16_t key) noexcept;
  static double upper_edge(std::uint16_t key) noexcept;
  std::uint64_t total() const noexcept;
  /// The same counts in coarser bins, for reports: a bin keeps the sign, the
  /// exponent and the top `mantissa_bits` mantissa bits of float32, so in the
  /// binade [2^e, 2^(e+1)) of magnitudes a bin is 2^(e - m) wide: between
  /// 2^-(m+1) and 2^-m of its values.
  /// The finest m in 7..0 with at most `max_bins` non-empty bins is chosen
  /// (m = 0 when none fits; at most 512 bins can be non-empty at m = 0). Bins
  /// are in value order, empty ones left out; counts sum to total().
  struct CoarseBin {
    double lower, upper;  ///< [lower, upper); upper is +inf past FLT_MAX
    std::uint64_t count;
  };
  struct Coarse {
    int mantissa_bits = 7;
    std::vector<CoarseBin> bins;
  };
  Coarse coarsened(std::size_t max_bins) const;
  /// The q-quantile (0 <= q <= 1) with NumPy's default "linear" definition
  /// (rank q * (n - 1)), interpolated inside its bin as if the bin's values
  /// were evenly spread: off by at most one bin width (0.8% relative). NaN when
  /// empty.
  double quantile(double q) const noexcept;
};

/// Statistics of one tensor. `count` is every element; the others are computed
/// over the finite values only (`finite_count` of them); NaN when undefined
/// (no finite value, or std == 0 for kurtosis).
struct TensorStats {
  std::uint64_t count = 0;
  std::uint64_t finite_count = 0;
  std::uint64_t nan_count = 0;
  std::uint64_t inf_count = 0;
  std::uint64_t zero_count = 0;
  double mean = 0, std = 0;      ///< std: population (divide by n)
  double min = 0, max = 0, abs_max = 0;
  double l2_norm = 0;            ///< sqrt(sum x^2) = sqrt(M2 + n mean^2)
  double zero_fraction = 0;      ///< zero_count / finite_count
  double kurtosis = 0;           ///< excess kurtosis n M4 / M2^2 - 3 (0 for a Gaussian)
  double p1 = 0, p50 = 0, p99 = 0;  ///< from the histogram, clamped to [min, max]
  Histogram histogram;
};

/// Shape-aware statistics of a tensor of rank >= 2, seen as a matrix of
/// rows = shape[0] and cols = the product of the other extents (a conv kernel
/// out x in x k... is out x (in * k...)).
struct MatrixStats {
  std::int64_t rows = 0, cols = 0;
  /// PyTorch's convention (torch.nn.init._calculate_fan_in_and_fan_out):
  /// fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field,
  /// receptive field = product of shape[2:].
  std::int64_t fan_in = 0, fan_out = 0;
  /// Standard deviations a freshly initialised layer has under each scheme:
  /// He (Kaiming normal, ReLU gain) sqrt(2 / fan_in); Glorot (Xavier)
  /// sqrt(2 / (fan_in + fan_out)); LeCun sqrt(1 / fan_in).
  double he_std = 0, glorot_std = 0, lecun_std = 0;
  /// The measured std divided by each expected std.
  double ratio_he = 0, ratio_glorot = 0, ratio_lecun = 0;
  /// Rows with a non-zero value that are bit-for-bit equal to an earlier row
  /// (found by hashing, confirmed by comparing bytes), and the first such pair.
  std::uint64_t identical_rows = 0;
  std::int64_t identical_first = -1, identical_second = -1;
  std::uint64_t dead_rows = 0;   ///< rows whose values are all zero
  std::uint64_t dead_cols = 0;   ///< columns whose values are all zero
};

/// The block scales of a block-quantized tensor (GGUF's Q8_0 ... Q6_K, IQ4,
/// MXFP4, NVFP4, TQ): each block's scale d (the K types' super-block scale),
/// and for the types with a minimum its m or dmin. `blocks` counts scale
/// groups (dtype_scale_groups): NVFP4's 16-value groups, each with its own
/// scale (NVFP4's own block size; ggml packs four of them in 36 bytes). A
/// block whose d is 0 holds one value (0, or its minimum); a NaN or infinite
/// d or minimum makes every value of the block NaN or infinite.
struct QuantHealth {
  std::uint64_t blocks = 0;
  std::uint64_t zero_scale_blocks = 0;       ///< d == 0
  std::uint64_t nonfinite_scale_blocks = 0;  ///< d or the minimum NaN or infinite
  /// Over the finite |d| (NaN when none): smallest, largest, mean, population std.
  double scale_min = 0, scale_max = 0, scale_mean = 0, scale_std = 0;
};

struct TensorAnalysis {
  TensorStats stats;
  std::optional<MatrixStats> matrix;  ///< for rank >= 2 with at least one element
  std::optional<QuantHealth> quant;   ///< block-quantized tensors: their block scales, in the same pass
};

/// Values to analyse: `numel` little-endian elements of `dtype`, C order, at
/// `data` (alignment not required).
struct TensorView {
  DType dtype = DType::F32;
  const std::uint8_t* data = nullptr;
  std::uint64_t numel = 0;
  std::vector<std::int64_t> shape;
};

struct StatsOptions {
  /// Worker threads; 0 means all cores. Results do not depend on it.
  int threads = 0;
};

/// Analyses many tensors at once: threads work over tensors and within large
/// ones. Results are in the order of `views`.
std::vector<TensorAnalysis> analyse_tensors(const std::vector<TensorView>& views, const StatsOptions& options = {});
TensorAnalysis analyse_tensor(const TensorView& view, const StatsOptions& options = {});

/// The same statistics for a training loop: a raw buffer in C order with an
/// optional shape (empty: a vector of values.size()). Throws
/// std::invalid_argument when the shape's product differs from values.size().
/// For Eigen matrices see gradcheck/weights/eigen.hpp.
TensorAnalysis statistics(std::span<const float> values, std::vector<std::int64_t> shape = {},
                          const StatsOptions& options = {});
TensorAnalysis statistics(std::span<const double> values, std::vector<std::int64_t> shape = {},
                          const StatsOptions& options = {});

/// The block-scale health of a block-quantized tensor (an empty result, 0
/// blocks, for any other type), alone (analyse_tensors gives it with the
/// statistics). Sequential, in block order.
QuantHealth quantization_health(const TensorView& view);

/// How much a tensor changed between two checkpoints.
struct DiffStats {
  double diff_norm = 0;    ///< ||after - before||_2 over pairs where both are finite
  double before_norm = 0;  ///< ||before||_2 over the same pairs
  double rel_change = 0;   ///< diff_norm / before_norm; +inf if before is zero and after is not
  std::uint64_t changed = 0;          ///< elements whose value differs
  std::uint64_t non_finite_pairs = 0; ///< pairs skipped because a side is NaN or infinite
};

/// Compares pairs of same-sized tensors (element i with element i); threads
/// as in analyse_tensors, results independent of their number.
std::vector<DiffStats> diff_tensors(const std::vector<std::pair<TensorView, TensorView>>& pairs,
                                    const StatsOptions& options = {});

}  // namespace gradcheck::weights
