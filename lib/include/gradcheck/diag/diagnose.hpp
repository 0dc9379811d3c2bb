#pragma once
// Convergence diagnosis of a training run: detectors over the loss, validation
// loss and gradient-norm curves, each finding reported as data (a Symptom with
// its step range, evidence in numbers and advice). Presentation is in
// gradcheck/diag/render.hpp.
//
// How the detectors see a curve: points are sorted by step; a curve is cut at
// its first non-finite value (reported as `nan`); curves longer than
// `max_trend_points` are reduced to bucket medians; a centred running median
// over ~10% of the points (at least 3) is the smoothed curve. Trend claims need
// a one-sided Mann-Kendall p-value below `significance` in addition to a size
// threshold, so stochastic minibatch noise alone does not raise a symptom.
// Quantiles of more than 100,000 raw points (200,000 for the spike scale) are
// taken over an evenly strided subset.

#include <cstdint>
#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::diag {

enum class Severity { warning, error };

/// One finding. `kind` is one of the contract's symptom kinds.
struct Symptom {
  std::string kind;    ///< nan, divergence, oscillation, plateau, overfitting, exploding_gradient, vanishing_gradient, spike
  std::string metric;  ///< the series it was found in
  std::int64_t step_start = 0;  ///< where it began (the onset a person would mark), not the log's first step
  std::int64_t step_end = 0;
  Severity severity = Severity::warning;
  std::string evidence;  ///< the numbers behind the claim
  std::string advice;    ///< what to try first
};

/// Thresholds; defaults documented in docs/convdiag.md with their sources. Each is a
/// ratio or a probability, so none depends on the scale of the loss.
struct DiagnoseOptions {
  logs::ColumnOverrides columns;  ///< --loss-col, --val-col, --grad-col (step is the reader's)
  /// Number of classes of a classifier (0: unknown). When given, a loss that
  /// stays within 10% of ln(classes), the loss of a uniform guess, is a plateau.
  int classes = 0;
  /// Fewer finite loss points than this: only `nan` is judged, with a note.
  std::size_t min_points = 8;
  /// Longer curves are reduced to this many bucket medians for trend tests.
  std::size_t max_trend_points = 400;
  /// One-sided Mann-Kendall p-value a trend must beat.
  double significance = 0.01;
  /// divergence: after its best (smoothed) point the loss rises by at least this
  /// times max(|best|, start - best), i.e. back to its starting level or doubled.
  /// Also divergence: a positive loss whose last half stays above its first
  /// value (10% quantile above it) with a median (1 + divergence_rise) times it.
  double divergence_rise = 1.0;
  /// divergence, a late rise (a short log's last epochs): after its best
  /// (smoothed) point a positive loss rises steadily (Mann-Kendall p <
  /// `significance`) to at least this many times its best, and is still there
  /// at the end ...
  double divergence_late_factor = 3.0;
  /// ... giving back at least this fraction of the progress it had made
  /// (start - best), so that wandering near zero after a long fall is not it.
  double divergence_late_progress = 0.1;
  /// plateau: the smoothed loss never gets more than this fraction below its
  /// starting level, (start - best) / |start| < plateau_drop.
  double plateau_drop = 0.10;
  /// plateau, a stuck loss: consecutive training-loss values that all lie
  /// within this relative difference of the first of them (float32 rounding of a
  /// mean: the output no longer changes) ...
  double stuck_tolerance = 1e-6;
  /// ... over at least this fraction of the points (and at least 10), reported
  /// when a cause is evident: the loss was still moving just before it froze, it
  /// froze at a constant prediction's loss, the gradient norm is zero there, or
  /// a dead-unit series says so. Otherwise a note (full-batch training that
  /// converged also reaches a fixed point).
  double stuck_fraction = 0.05;
  /// oscillation: over the last half, the 10-90% spread of the loss exceeds this
  /// fraction of the progress made (start - median of the last half) ...
  double oscillation_progress = 0.5;
  /// ... and this fraction of the loss level, with no significant decrease; and
  /// the swings are not independent noise around a level the loss reached (a
  /// noisy small-batch run that converged): the last half moves in waves (lag-1
  /// autocorrelation of its bucket medians >= 0.6, their spread >= half the
  /// swing), or it sits 10% above where it started (its median, or its mean by
  /// two standard errors, against the larger of the first value and the median
  /// of the first 10%).
  double oscillation_level = 0.3;
  /// oscillation, a cycle (full-batch training with too large a rate): the last
  /// half repeats itself every k <= 32 steps (to 1e-4, at 90% of its points)
  /// with a 10-90% spread of at least 0.1% of its level; or it turns (up then
  /// down or down then up) at this fraction of its steps or more (independent
  /// noise turns at 2/3) ...
  double oscillation_turning = 0.9;
  /// ... by a median step-to-step change of at least this fraction of its
  /// level, no smaller in the last quarter than half of the third quarter's.
  double oscillation_step = 0.01;
  /// overfitting: validation loss rises by at least this fraction of its best
  /// value over at least max(4, 20%) of its evaluations after the best
  /// (significant at `overfit_significance`: fewer epochs are logged) while the
  /// training loss does not rise.
  double overfit_rise = 0.10;
  double overfit_significance = 0.05;
  /// overfitting: the rise is also at least this fraction of the validation
  /// loss's own fall (start - best): a rise a plot of the run shows ...
  double overfit_progress = 0.1;
  /// ... and at least this many robust standard deviations of the validation
  /// loss's noise (from its second differences), so a noisy curve that stays
  /// within its noise is not overfitting.
  double overfit_noise_z = 3.0;
  /// spike: a point above the level before it (the median of the 4 points
  /// before) by more than spike_z robust standard deviations (1.4826 MAD of the
  /// residuals over the run; log ratios for a positive loss, the scale a loss
  /// spanning decades lives in) and at least spike_ratio times that level, that
  /// comes back down to that level within 5% of the run (a jump that stays is
  /// a level shift, judged by the trend detectors).
  double spike_z = 8.0;
  double spike_ratio = 2.0;
  /// spike: spikes that all start within this first fraction of the run (the
  /// first steps, warm-up) and recover are transient: a note, not a symptom.
  double spike_early_fraction = 0.05;
  /// exploding_gradient: the gradient norm grows by this factor from its early
  /// median (first 10%) to its late median (last 10%) with a significant upward
  /// trend, or its smoothed peak reaches 100x the early median.
  double exploding_growth = 10.0;
  /// vanishing_gradient: the gradient norm falls to this fraction of its early
  /// median while the loss has fallen by less than half; or, with per-layer
  /// gradient norms, the smallest layer's median over the last half is below
  /// this fraction of the largest layer's or of the global norm's (weights only:
  /// biases and normalisation parameters carry small gradients by nature).
  double vanishing_ratio = 1e-3;
  /// exploding_gradient per layer (when the global norm does not show it): a
  /// layer's norm grows as `exploding_growth` says and ends at least this
  /// fraction of the largest layer's late median (it dominates; a layer growing
  /// from a tiny start is not exploding).
  double exploding_layer_share = 0.1;
};

/// A compact view of one curve for presentation.
struct Curve {
  std::string name;
  std::string role;  ///< "loss", "val_loss", "grad_norm", "lr"
  std::size_t points = 0;
  std::size_t non_finite = 0;
  double first = 0, last = 0, min = 0, max = 0;  ///< over finite values
  std::int64_t first_step = 0, last_step = 0;
  std::vector<double> shape;  ///< up to 48 bucket means of the finite values, for a sparkline
};

struct RunDiagnosis {
  std::string source;
  std::vector<std::string> metrics;
  std::int64_t steps = 0;  ///< distinct steps in the log
  logs::Roles roles;
  std::vector<Symptom> symptoms;
  std::vector<std::string> notes;  ///< why something could not be judged
  std::vector<Curve> curves;
  bool healthy() const noexcept { return symptoms.empty(); }
};

/// Diagnoses one run. Throws InputError(run.source, ...) when an override names
/// a missing series or no training loss can be recognised (the message lists
/// the series the log has).
RunDiagnosis diagnose(const logs::Run& run, const DiagnoseOptions& options = {});

/// Many logs read (logs::read_log) and diagnosed, in the order given.
struct LogsDiagnosis {
  std::vector<RunDiagnosis> results;  ///< one per path, in the order of the paths
  std::vector<logs::Run> runs;        ///< the logs read, when asked for (reports that draw whole curves)
};

/// Reads and diagnoses each of `paths` on up to `threads` workers (0: all
/// cores), one log per worker at a time. Results keep the order of `paths`;
/// when logs cannot be read, the error of the first of them in that order is
/// thrown (InputError naming the file), so the outcome does not depend on the
/// thread count. With `keep_runs`, LogsDiagnosis::runs holds the logs.
LogsDiagnosis diagnose_logs(const std::vector<std::string>& paths, const logs::ReadOptions& read = {},
                            const DiagnoseOptions& options = {}, int threads = 0, bool keep_runs = false);

/// The exit code of a diagnosis (docs/tools-contract.md): ok when every run is
/// healthy, problem otherwise.
ExitCode exit_code(const std::vector<RunDiagnosis>& results);

/// The advice text attached to each symptom kind.
std::string advice_for(const std::string& kind);

}  // namespace gradcheck::diag
