#pragma once
// Convergence diagnosis of a training run: detectors over the loss, validation
// loss and gradient-norm curves, each finding reported as data (a Symptom with
// its step range, evidence in numbers and advice). Many logs are read and
// diagnosed at once by diagnose_logs (report.hpp); presentation is in
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
  std::int64_t step_start = 0;
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
  /// plateau: the smoothed loss never gets more than this fraction below its
  /// starting level, (start - best) / |start| < plateau_drop.
  double plateau_drop = 0.10;
  /// oscillation: over the last half, the 10-90% spread of the loss exceeds this
  /// fraction of the progress made (start - median of the last half) ...
  double oscillation_progress = 0.5;
  /// ... and this fraction of the loss level, with no significant decrease.
  double oscillation_level = 0.3;
  /// overfitting: validation loss rises by at least this fraction of its best
  /// value over at least max(4, 20%) of its evaluations after the best
  /// (significant at `overfit_significance`: fewer epochs are logged) while the
  /// training loss does not rise.
  double overfit_rise = 0.10;
  double overfit_significance = 0.05;
  /// spike: a point above its surroundings (the larger of the medians of the 4
  /// points before and the 4 after) by more than spike_z robust standard
  /// deviations (1.4826 MAD of the log-ratio residuals over the run) and at
  /// least spike_ratio times that level.
  double spike_z = 8.0;
  double spike_ratio = 2.0;
  /// exploding_gradient: the gradient norm grows by this factor from its early
  /// median (first 10%) to its late median (last 10%) with a significant upward
  /// trend, or its smoothed peak reaches 100x the early median.
  double exploding_growth = 10.0;
  /// vanishing_gradient: the gradient norm falls to this fraction of its early
  /// median while the loss has fallen by less than half; or, with per-tensor
  /// gradient norms, the smallest tensor's median is below this fraction of the
  /// largest one's.
  double vanishing_ratio = 1e-3;
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

/// The advice text attached to each symptom kind.
std::string advice_for(const std::string& kind);

}  // namespace gradcheck::diag
