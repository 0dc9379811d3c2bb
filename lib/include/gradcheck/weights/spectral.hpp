#pragma once
// Spectral analysis of a weight matrix (rank >= 2 tensors seen as
// rows = shape[0] x cols = the rest, as in statistics.hpp).

#include <cstdint>
#include <vector>

#include "gradcheck/weights/statistics.hpp"

namespace gradcheck::weights {

struct SpectralOptions {
  /// Exact spectrum (eigenvalues of the smaller Gram matrix, W W^T or W^T W)
  /// when min(rows, cols) <= exact_max_dim and rows * cols <= exact_max_elements.
  std::int64_t exact_max_dim = 1024;
  std::int64_t exact_max_elements = std::int64_t(1) << 22;
  /// Beyond that, a randomised range finder (Halko, Martinsson & Tropp 2011,
  /// alg. 4.4) gives the top `sketch_rank` singular values: the time is bounded
  /// by about (2 * power_iterations + 2) * rows * cols * (sketch_rank + 8)
  /// flops; sigma_min and the condition number are then unknown (NaN).
  int sketch_rank = 64;
  int power_iterations = 2;
  std::uint64_t seed = 42;  ///< the Gaussian test matrix's seed
};

/// A discrete power law p(x) ~ x^-alpha fitted to the tail of an empirical
/// spectral density, as WeightWatcher does (Martin & Mahoney 2021):
/// maximum-likelihood alpha = 1 + n / sum ln(x_i / xmin) for every candidate
/// xmin, keeping the xmin whose fit has the smallest Kolmogorov-Smirnov
/// distance (Clauset, Shalizi & Newman 2009); error = (alpha - 1) / sqrt(n).
struct PowerLawFit {
  double alpha = 0, alpha_error = 0, xmin = 0, ks_distance = 0;
  std::int64_t tail_count = 0;  ///< eigenvalues >= xmin
};
/// Fits `values` (> 0; others ignored). Needs at least `min_tail` values in the
/// tail; alpha is NaN when there are too few.
PowerLawFit fit_power_law(std::vector<double> values, std::int64_t min_tail = 5);

struct SpectralStats {
  bool exact = true;                  ///< false: randomised top-k sketch
  std::int64_t eigenvalues = 0;       ///< how many eigenvalues of W^T W were found
  double spectral_norm = 0;           ///< sigma_max
  double sigma_min = 0;               ///< smallest singular value (NaN when sketched)
  double stable_rank = 0;             ///< ||W||_F^2 / sigma_max^2
  double condition_number = 0;        ///< sigma_max / sigma_min (inf when singular, NaN when sketched)
  PowerLawFit power_law;              ///< of the eigenvalues sigma_i^2
  /// The eigenvalues sigma_i^2 of W^T W that were found, descending
  /// (spectrum.size() == eigenvalues): every one when exact, the top
  /// sketch_rank when sketched. At most min(rows, cols) <= exact_max_dim
  /// values, so the report can draw the tail against its power-law fit.
  std::vector<double> spectrum;
};

/// The spectrum of `view` as a rows x cols matrix. Deterministic. Not
/// analysed (eigenvalues == 0) for rank < 2, no element, or a non-finite value.
SpectralStats spectral_analysis(const TensorView& view, const SpectralOptions& options = {});

}  // namespace gradcheck::weights
