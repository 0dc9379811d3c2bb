#pragma once
// Options of a check: plain struct, one documented field each.

#include <cstdint>
#include <string>
#include <vector>

#include "gradcheck/estimators.hpp"

namespace gradcheck {

/// How much of a function is compared.
enum class Mode {
  automatic,  ///< full or fast by size; resolved by the host (plugin checks:
              ///< PluginCheckOptions::fast_above), never by check_* itself
  full,       ///< every coordinate (or a sample of max_per_block per block)
  fast,       ///< random directions per group of blocks; on a failure, bisect to the
              ///< faulty blocks and then coordinates in O(k log n) directional checks
};
/// The names options and reports use, one per Mode in the enum's order (a
/// result's mode is always "full" or "fast").
inline constexpr const char* mode_names[] = {"auto", "full", "fast"};
/// mode_names[mode]; mode_from_string reads one back (std::invalid_argument otherwise).
const char* to_string(Mode mode);
Mode mode_from_string(const std::string& s);

struct CheckOptions {
  /// Full (coordinates) or fast (directions, then localisation). Mode::automatic
  /// is for hosts that choose by size (check_plugin); here it is invalid.
  Mode mode = Mode::full;
  /// Fast mode: faulty coordinates localised per block at most.
  int localize_max = 8;
  /// How numeric derivatives are estimated. complex_step needs a callable
  /// wrapped with gradcheck::complex_step(f); the others work with any callable.
  Method method = Method::richardson;
  /// Richardson in f64: rows of the table tried first (2 evaluations a row). A
  /// coordinate that these settle (ok, with a tolerance below 1e-7 of its
  /// derivative) stops there; the rest get all rows. 0 always uses all rows.
  /// f32 always uses all rows (the first rows rarely settle it), and its table
  /// has at most 4 rows: past them the function's rounding dominates.
  int early_rows = 3;
  /// Richardson in f64: before any table, one central difference at the step
  /// u^(1/4) x scale (2 evaluations) settles a coordinate when it agrees with
  /// the analytic derivative to this precision, relative to the larger of the
  /// derivative and the RMS of its block's analytic derivatives, and its own
  /// rounding bound is as small: a bug would have to be cancelled by that
  /// step's truncation error. 0 switches the stage off; ignored with rtol/atol. (In
  /// f32 one difference's rounding alone is too large for it to settle.)
  double quick_precision = 1e-7;
  /// Largest finite-difference step, relative to the coordinate's scale
  /// max(|x_i|, rms of its block, rms of x, 1e-3) (0: the default of the method and dtype:
  /// richardson 0.05 (f32) / 1e-2 (f64); central/forward cbrt/sqrt of the unit roundoff;
  /// complex step 1e-20 (f64) / 1e-10 (f32)).
  double relative_step = 0;
  /// Tolerance overrides. When either is >= 0, a coordinate passes when
  /// |analytic - numeric| <= atol + rtol * |numeric| (the unset one counts as 0),
  /// replacing the self-calibrated tolerance safety * error_bound.
  double rtol = -1;
  double atol = -1;
  /// The calibrated tolerance is safety * error_bound: the estimator's bound is an
  /// estimate, and a factor 3 keeps correct code from failing on an unlucky one.
  double safety = 3.0;
  /// A coordinate that passes only because its tolerance exceeds this fraction
  /// of max(|analytic|, |numeric|) proves little: it is `inconclusive` unless the
  /// tolerance is below `negligible` times the largest numeric derivative.
  double inconclusive_ratio = 0.5;
  double negligible = 1e-4;
  /// A block whose inconclusive coordinates exceed this fraction is inconclusive.
  double inconclusive_block_fraction = 0.1;
  /// The block-wide scale test. Over a block's coordinate entries (kinks
  /// excluded), numeric ~ k x analytic is fitted by least squares weighted by
  /// 1/error_bound^2; the standard error of k comes from the entries' scatter
  /// about the fit. When at least `scale_min_entries` entries take part,
  /// |k - 1| > scale_sigmas x that error, and |k - 1| > 2 sqrt(unit roundoff),
  /// the block is a mismatch: a constant factor (x1.001, a missing 1/N) that no
  /// single entry shows above its noise, as in f32. 0 switches the test off; so
  /// do rtol/atol (they say which errors to accept).
  /// A deviation is confirmed before it counts: up to scale_check_entries of
  /// the block's coordinates (a seeded sample) are estimated again at 4x larger
  /// steps and fitted again. Rounding in the function (a large sum in f32)
  /// makes a deviation that shrinks as 1/step; a wrong constant factor does not.
  double scale_sigmas = 6;
  std::int64_t scale_min_entries = 32;
  std::int64_t scale_check_entries = 1024;
  /// The block-wide consistency test. A rounding bound is a worst case (3
  /// noise levels, summed in the worst way through the table): on a correct
  /// derivative, z = (numeric - analytic) / error_bound has a spread of about
  /// 0.05-0.15 where the bound is mostly rounding (measured on every f32 test,
  /// sample and benchmark model; the theory allows at most about 0.24). Over a
  /// block's coordinate entries whose bound is at least 80% rounding (a
  /// truncation estimate can be tight), mismatches, kinks and entries settled
  /// by quick_precision left out, and the largest twentieth of z^2 left out
  /// (a step that reaches a kink of the derivative nearby spoils a few), the
  /// block is a mismatch when at least `consistency_min_entries` take part and
  /// the sum of the rest exceeds consistency_sd^2 times the 1 - 1e-6 quantile
  /// of a chi-square with as many degrees of freedom: errors that each fit within
  /// their bounds but together are too large for noise of spread consistency_sd
  /// (an approximate derivative in f32, 0.04-1% off, whose entries lie 1-3
  /// bounds off each). 0 switches the test off; so do rtol/atol.
  double consistency_sd = 0.3;
  std::int64_t consistency_min_entries = 8;
  /// Full mode: coordinates at or next to a kink are decided again at a nearby
  /// generic point, where the function is differentiable: every value of the
  /// point moved by a seeded normal draw times recheck_distance times its
  /// scale (see relative_step), the value and the claimed derivatives taken
  /// there, and those coordinates compared again. Such coordinates are those
  /// whose one-sided derivatives differ (a kink, or kinks that coincide, where
  /// the analytic value may lie outside [left, right] although it is the
  /// convention every autodiff framework returns), and those where only a
  /// one-sided estimate agrees with the analytic value. A mismatch there, at
  /// a second such point, and there again with 10x smaller steps (several
  /// kinks within the usual step spoil every estimate at it; the smaller
  /// steps' estimate clears a mismatch only with a bound no wider than the
  /// usual step's), is a mismatch; otherwise a kink at the point
  /// given stays a kink and the rest are decided where they were compared. At
  /// most recheck_max coordinates are moved (a seeded sample beyond). False
  /// keeps every verdict at the point given and trusts a one-sided agreement.
  bool recheck_kinks = true;
  double recheck_distance = 0.01;
  std::int64_t recheck_max = 1024;
  /// Full mode: only the blocks with these names are compared (the others are
  /// reported with nothing checked); empty compares every block. The follow-up
  /// of tensors that fast mode left inconclusive uses it.
  std::vector<std::string> only_blocks;
  /// Coordinates compared per block: 0 compares all; otherwise a seeded random
  /// sample of this many (the block's first and last element always included).
  std::int64_t max_per_block = 0;
  /// Seeds every random draw (samples, upstream gradients, directions).
  std::uint64_t seed = 0;
  /// Worker threads (each with its own callable: see per_thread()); results do
  /// not depend on it.
  int threads = 1;
  /// Worst entries kept per block in the result.
  int worst_entries = 5;
  /// The batch size, when known, lets a hint say "x batch size" or "missing 1/batch".
  std::int64_t batch_size = 0;
  /// Evaluate twice at the same point: repeatable loss and gradient.
  bool check_reentrancy = true;
  /// Random directions per block (per group of blocks in fast mode) for
  /// directional checks (JVP and fast mode).
  int directions = 3;

  /// False (with a reason in *error) when the options cannot work together.
  bool is_valid(std::string* error) const;
};

}  // namespace gradcheck
