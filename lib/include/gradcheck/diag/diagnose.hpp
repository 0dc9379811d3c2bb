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
// over ~10% of the points (at least 3) is the smoothed curve. Levels are
// medians of stretches of points, so single minibatches do not move them; a
// positive curve that spans more than two decades is judged on a log scale,
// as a person reads its plot. Each rule is applied on its own (a run that
// diverges may also oscillate), and each symptom's step_start is where it
// began. Quantiles of more than 100,000 raw points are taken over an evenly
// strided subset.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::diag {

enum class Severity { warning, error };

/// What a finding is: the tools' contract's symptom kinds, spelled in reports
/// exactly as to_string returns them (the enumerators' names). The first eight
/// come from a log's curves; the last two from the active checks on a model
/// (gradcheck/diag/active.hpp).
enum class SymptomKind {
  nan,                    ///< a NaN or infinite loss or gradient norm
  divergence,             ///< the loss rose for good
  oscillation,            ///< the loss swings without settling
  plateau,                ///< the loss never fell, or froze, or sits at a uniform guess's loss
  overfitting,            ///< the validation loss rose while the training loss did not
  exploding_gradient,     ///< a gradient norm far above its usual level
  vanishing_gradient,     ///< a gradient norm, or one layer's, faded to nothing
  spike,                  ///< the loss jumped and came back down
  initial_loss_mismatch,  ///< the loss at initialisation is far from ln(classes)
  cannot_overfit_batch,   ///< the model cannot fit one fixed batch
};
/// The kind's name in reports (one table for JSON, text and HTML).
const char* to_string(SymptomKind k) noexcept;
/// The kind `to_string` spells `name`. Throws std::invalid_argument for any other string.
SymptomKind symptom_kind_from_string(std::string_view name);

/// One finding.
struct Symptom {
  SymptomKind kind = SymptomKind::nan;
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
  /// stays within 10% of ln(classes), the loss of a uniform guess, is a plateau,
  /// and one that starts below 0.8 ln(classes) (0.8 ln 2 when unknown) and
  /// improves little is a model that had learned already (a note).
  int classes = 0;
  /// The logged run starts from a freshly initialised model (--from-scratch).
  /// A log alone cannot tell a model that had learned already (fine-tuning, a
  /// resumed run) from a fresh model whose loss is small because its targets
  /// are (a regression on scaled data): by default a loss that starts below
  /// 0.8 ln 2, or a log that starts after more steps than it covers, and
  /// improves little is read as the former (a note, not a plateau). When set,
  /// a loss that never falls plateau_drop below its start is a plateau at any
  /// level, and a long flat start is judged at any level too.
  bool from_scratch = false;
  /// The run starts from a trained model (--pretrained: fine-tuning, an
  /// adapter trained over it, a resumed run; diagnose_logs sets it for an
  /// `adapter_config.json` beside the log, see logs::read_log_context): a
  /// loss that improves little from its start is no plateau at any level (a
  /// note says so), and a long flat start is no slow start. A loss held at a
  /// uniform guess's (with `classes`) still is. from_scratch wins.
  bool pretrained = false;
  /// Fewer finite loss points than this: only `nan` is judged, with a note, and
  /// a climb into a non-finite value: a loss that ends 2x its lowest or more
  /// (divergence), a gradient norm that grew exploding_growth^2-fold (exploding);
  /// or, the log ending finite, a climb of two decades: a loss that ends 100x
  /// its lowest or more, and the gradient norm's exploding_growth^2-fold beside it.
  std::size_t min_points = 8;
  /// Longer curves are reduced to this many bucket medians for trend tests.
  std::size_t max_trend_points = 400;
  /// One-sided Mann-Kendall p-value a trend must beat.
  double significance = 0.01;
  /// divergence: the loss ends (the median of its last 10%) at least this many
  /// times its lowest level (the smoothed curve's minimum before the last 10%;
  /// the lowest single point in a curve of fewer than 20 points),
  /// by a rise of at least divergence_visible of the curve's range (on a log
  /// scale when its logged values are positive and span more than two
  /// decades) ...
  double divergence_factor = 2.0;
  double divergence_visible = 0.1;
  /// ... or at least divergence_partial_factor times it, giving back at least
  /// divergence_partial_progress of the fall from its start to it (a short
  /// log's last epochs climbing), or at least divergence_partial_factor times
  /// it with a significant upward trend from the lowest level to the end
  /// (Mann-Kendall, `significance`: a warm-up past the rate the model can take,
  /// with no progress before it to give back). A jump that does not come back
  /// counts as much as a steady climb. "The last 10%" and the smoothing window
  /// hold at least 10% of the points (3 at least). The first two (2x, and
  /// giving back) need a rise that stands 3 standard errors out of the loss's
  /// noise: the end level's median against the lowest level's, the noise of a
  /// point sigma from second differences (1.4826 MAD / sqrt 1.5), a median of
  /// k points 1.2533 sigma / sqrt(k), on the scale the curve is read in (in a
  /// curve of 10 points or more; a rise that lifted nine in ten points of the
  /// last half to divergence_factor times the lowest level needs none).
  double divergence_partial_factor = 1.5;
  double divergence_partial_progress = 0.2;
  /// divergence: a positive loss whose last half stays above its first value
  /// (10% quantile above it) with a median (1 + divergence_rise) times it, by 3
  /// standard errors of the noise of single points or with a 10% quantile
  /// itself (1 + divergence_rise) times it (a first batch low by chance is no
  /// level the run left); for
  /// a loss that is not positive, a rise after its lowest level of this times
  /// max(|lowest|, start - lowest) with an upward trend.
  double divergence_rise = 1.0;
  /// plateau: the smoothed loss never gets more than this fraction below its
  /// starting level, (start - best) / |start| < plateau_drop (the best after
  /// its first 5% of points, where it is still settling). Not when it
  /// starts below 0.8 ln 2 (0.8 ln(classes) when given; a note instead): a freshly initialised classifier
  /// starts at ln C >= ln 2, so that is a model that had learned already
  /// (fine-tuning, a resumed run); a stuck loss is still judged. A slow start
  /// is a plateau too: the smoothed loss stays within plateau_drop of its start
  /// for the first half of the run or more, then falls by 3 standard errors of
  /// its noise (each phase at least 5 points; not for a trained model's start).
  /// When what follows such a flat half does not stand out of the noise and
  /// the whole curve has no downward trend (Mann-Kendall p >= 0.05), the loss
  /// made no progress at all: its dips below the start were passing.
  double plateau_drop = 0.10;
  /// plateau, a stuck loss: consecutive training-loss values that all lie
  /// within this relative difference of the first of them (float32 rounding of a
  /// mean: the output no longer changes) ...
  double stuck_tolerance = 1e-6;
  /// ... over at least this fraction of the points (and at least 10), reported
  /// when a cause is evident: the loss was still moving just before it froze, it
  /// froze 10% or more above the median of the points just before (a descent
  /// into a fixed point ends below them), it froze at a constant prediction's
  /// loss, or a dead-unit series says so. Otherwise a note (full-batch training
  /// that converged also reaches a fixed point, with a zero gradient norm).
  double stuck_fraction = 0.05;
  /// oscillation: over the last half the loss keeps swinging up and down: at
  /// least 3 up-swings of that half read on its own (one in the last quarter;
  /// a rise from the half's first point counts), each at least this fraction of
  /// the level it starts from (a ratio of 1 + this on a log scale, used when the
  /// curve is positive and spans more than two decades) ...
  double oscillation_level = 0.3;
  /// ... and at least this fraction of the judged curve's range (a swing a plot
  /// shows). The curve judged: the logged points of a per-epoch or full-batch
  /// log, or of a curve that moves deterministically (see oscillation_turning);
  /// else means over an epoch (at least 10 points), where single batches
  /// scatter. Epochs are known from an `epoch` column; when they are not (a
  /// validation every few points is an evaluation interval, not an epoch), the
  /// means are over as many points as make their noise at most 5% of the level
  /// (at least 10, at most 1/40 of the points). On a log scale, swings whose
  /// peaks stay below 1% of the level the loss started from are a loss near
  /// zero wandering, not oscillation.
  double oscillation_visible = 0.1;
  /// oscillation: a curve moves deterministically, and is judged point by point,
  /// when its last half repeats a cycle of k <= 32 steps (to 1e-4, at 90% of its
  /// points) or turns (up then down or down then up) at this fraction of its
  /// steps or more (independent noise turns at 2/3): full-batch training whose
  /// steps overshoot.
  double oscillation_turning = 0.9;
  /// overfitting: the validation loss's end level (the median of its last 20%
  /// of evaluations, at least 2) is at least this fraction above its best (the
  /// lowest running median over 10% of them, at least 3, before the last 20%),
  /// while the training loss does not rise with it (its end level below 1.2x
  /// its level at the best validation step). No trend is required: a loss that
  /// jumps up after its best and stays there is as overfit as one that climbs.
  double overfit_rise = 0.10;
  /// overfitting: the rise is also at least this many standard errors of the
  /// difference of those two medians, from the validation loss's noise (a
  /// robust SD of its second differences), so a noisy curve that stays within
  /// its noise is not overfitting; or, short of that, the rise is 20% or more
  /// and at least the interquartile range of the evaluations from the best on
  /// (a curve of a few evaluations, whose second differences are mostly its
  /// bend, shows a rise that way); or the training loss ends below a tenth of
  /// its level at the best validation step (the model is memorising its
  /// training set) and the rise is at least 1.5x that interquartile range; or
  /// the evaluations from the best on (at least 8) climb (Mann-Kendall at
  /// `significance`) while the training loss ends no higher than at the best.
  double overfit_noise_z = 2.5;
  /// spike: a jump to at least spike_ratio times the level before it (the
  /// median of the 5% of the run before it, at least 20 points, ending 2 points
  /// before it) and spike_band times the highest of those points (it stands
  /// out of the noise band), that comes back down by three quarters of the
  /// jump (a median of 5 points, on a log scale when the loss is positive and
  /// spans more than two decades) within 10% of the run after its peak (at
  /// least 5 points; the 5 points lie within that span).
  double spike_ratio = 3.0;
  double spike_band = 2.0;
  /// spike: spikes that all start within this first fraction of the run (the
  /// first steps, warm-up) and recover are transient: a note, not a symptom.
  double spike_early_fraction = 0.05;
  /// exploding_gradient: the gradient norm reaches this many times its usual
  /// level (the larger of its early median, first 10%, and its median over the
  /// run) at 3 points or more after the first 5% of the run (2 before a
  /// non-finite value), or its late median (last 10%) reaches this squared
  /// times its early median. It starts at the first such point.
  double exploding_growth = 10.0;
  /// vanishing_gradient: the gradient norm falls to this fraction of its early
  /// median while the loss has fallen by less than half; or, with per-layer
  /// gradient norms, the smallest layer's median over the last half is below
  /// this fraction of the largest layer's or of the global norm's (weights only:
  /// biases and normalisation parameters carry small gradients by nature).
  double vanishing_ratio = 1e-3;
  /// exploding_gradient per layer (when the global norm does not show it): a
  /// layer's norm explodes as `exploding_growth` says and its late median or
  /// peak is at least this fraction of the largest layer's late median (it
  /// dominates; a layer growing from a tiny start is not exploding).
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

/// The advice text attached to each symptom kind.
std::string advice_for(SymptomKind kind);

}  // namespace gradcheck::diag
