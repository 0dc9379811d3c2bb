#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <charconv>
#include <exception>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <cstdint>
#include <deque>
#include <span>
#include <stdexcept>
#include <string>

#include "stats.hpp"
#include "gradcheck/errors.hpp"
#include "../core/format.hpp"
#include "../core/parallel.hpp"

namespace gradcheck::diag {
namespace {

using gradcheck::internal::general;
using gradcheck::internal::percent;

std::string pval(double p) { return p < 1e-4 ? "p < 1e-4" : "p = " + general(p, 2); }

// Thresholds of the detectors that are not options (DiagnoseOptions holds the
// ones worth calibrating). Each is a count, a fraction or a ratio.

// Onsets: a condition "began" at the first point from which it holds at this
// fraction of the points to the end (a few noisy exceptions allowed).
constexpr double kOnsetPersistence = 0.9;
// vanishing_gradient: the share of the logged points at which a layer must be
// below vanishing_ratio of another's or of the global norm (LABELLING.md).
constexpr double kVanishingShare = 0.5;
// exploding_gradient: at least this many points at exploding_growth x the
// usual level, after this share of the run (a large norm at initialisation
// that falls is not exploding).
constexpr std::size_t kExplodingPoints = 3;
constexpr double kExplodingSettle = 0.05;
// A loss that fell by less than this fraction of its start has stalled: the
// context in which a gradient that does not reach a layer is the cause.
constexpr double kStalledLossDrop = 0.5;
// divergence: the onset is the last point after the lowest level that is
// within this fraction of the rise above it.
constexpr double kLeaveBottom = 0.1;
// divergence: a curve of fewer points than this has its lowest level read
// from single points.
constexpr std::size_t kShortLog = 20;
// plateau: the run's first value is its start when it lies more than this many
// robust noise standard deviations above the best (smoothed) level.
constexpr double kFirstValueNoise = 3.0;
// plateau (no progress): a loss that starts below this fraction of ln 2 comes
// from a model that had learned already (fine-tuning, a resumed run): a freshly
// initialised classifier predicts about uniformly, a cross-entropy of ln C >=
// ln 2 (a little less at the first logged point when it is a mean over the
// first steps). Little progress from there is no plateau.
constexpr double kTrainedStart = 0.8;
// plateau (a long flat start): the loss stays within plateau_drop of its start
// for at least this share of the run before it falls ...
constexpr double kFlatStart = 0.5;
// ... by at least this many standard errors of the two medians compared.
constexpr double kRiseNoiseZ = 3.0;
// plateau: a curve "has no downward trend" when Mann-Kendall's p for one is
// at least this (a loose level: a slow fall under heavy noise is progress).
constexpr double kNoTrend = 0.05;
// Fewer points than this cannot tell their scatter from the curve's own
// bends: a rise among them is not judged against their noise.
constexpr std::size_t kNoiseJudgedPoints = 10;
// plateau: the best level is looked for after this share of the points (the
// loss is still settling before it, as for spikes).
constexpr double kSettle = 0.05;
// The points of the first kSettle share (at least 1).
std::size_t settled_points(std::size_t m) {
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(kSettle * static_cast<double>(m))));
}
// plateau: the first value alone may be the start when the first 1/this of
// the run holds it alone (a run of fewer than 2x this many points); in a
// longer run whose first value alone stands out (the second point already at
// the level after it), the start is the median of that first 1/this.
constexpr std::size_t kStartShareInverse = 20;
// ... unless the first value stands this many times above that median: a
// fall of a third or more within the first point, over three times the
// progress a plateau lacks, was learned, not a first epoch's mean inflated by
// a fresh model's first batches (which stands 10-30% above the level after).
constexpr double kFirstEpochLearned = 1.5;
// plateau: the first points whose median may be the start.
constexpr std::size_t kStartPoints = 5;
// plateau: the fewest points of the run's first 1/kStartShareInverse whose
// lack of a downward trend makes their median the start.
constexpr std::size_t kStartTrendPoints = 8;
// plateau (stuck loss): at least this many consecutive identical points.
constexpr std::size_t kStuckMinPoints = 10;
// A stuck stretch is judged against the steps just before it: this many.
constexpr std::size_t kStuckContext = 5;
// ... the loss was "still moving" when its median step-to-step change there
// was at least this fraction of its level (minibatch noise is ~1-10%; a
// full-batch run converging into a fixed point slows down geometrically, its
// last steps changing by ~1e-5 and less).
constexpr double kStuckMoving = 1e-3;
// ... or it froze at a level at least this fraction above the median of those
// steps: descent into a fixed point ends below where it was, a model whose
// output died (a blow-up killing the ReLUs) can freeze above it.
constexpr double kStuckJump = 0.1;
// A level is a constant prediction's loss when within this relative distance
// of one: 0.25 (squared error of 0.5 on 0/1 targets), ln 2 (cross-entropy of
// p = 0.5), ln(classes).
constexpr double kStuckLandmark = 1e-4;
// A stuck level below this fraction of the start is a loss that reached ~0:
// nothing left to learn, not a stuck model.
constexpr double kStuckMinLevel = 1e-3;
// Logs that round the loss (4 decimals) repeat values by construction: a
// stretch counts only when the points before it carry at least this many
// significant digits.
constexpr int kStuckMinDigits = 5;
// A dead-unit series (dead_fraction/<layer>, as the monitor writes it) with a
// median at least this high over the stretch: most units of that layer are dead.
constexpr double kDeadFraction = 0.5;
// oscillation (a deterministic curve): at least this many turns judged in the
// last half.
constexpr std::size_t kOscillationMinTurns = 16;
// oscillation (a cycle): periods of up to this many steps are looked for ...
constexpr std::size_t kMaxCycle = 32;
// ... a value "repeats" when within this relative difference of the one a
// period before (a full-batch run's cycle repeats to float32 rounding, or
// drifts slowly; minibatch noise is >= 1e-2) ...
constexpr double kCycleTolerance = 1e-4;
// ... a cycle's 10-90% spread is at least this fraction of the level (ten
// times the tolerance: a cycle repeats, it needs no noise margin) ...
constexpr double kCycleMinSpread = 1e-3;
// ... and a period is pursued only when this many points at the start of the
// last half repeat (at kOnsetPersistence), which keeps the search cheap.
constexpr std::size_t kCycleProbe = 200;
// oscillation: the swings are judged on means of this many points of a
// per-step log (an epoch at least), where single batches scatter ...
constexpr std::size_t kSwingGroup = 10;
// ... when its epochs are not known (a per-step log), or as many as make the
// noise of a mean at most this fraction of the level (small batches scatter
// by more than the level) ...
constexpr double kMeanNoise = 0.05;
// ... and a log with a validation at every logged point is judged point by
// point (a per-epoch log) unless its training points scatter this many times
// as much as the validation loss does (single batches logged every few steps).
constexpr double kBatchScatter = 3.0;
// ... on a log scale when the judged curve is positive and its largest value is
// more than this many times its smallest (it spans more than two decades).
constexpr double kLogScaleSpan = 100.0;
// ... unless a validation loss of at least kValSwingPoints evaluations swings
// too (kMinSwings up-swings of kValSwingLevel of the level they start from in
// its last half, visible on its own scale): the model's weights swing, which
// moves the loss on fixed data, where the scatter of batches does not. Then
// the training loss is judged on means of kSwingGroup points, as a person
// reads a per-step log whose epochs it does not say.
constexpr std::size_t kValSwingPoints = 16;
constexpr double kValSwingLevel = 0.15;
// ... on a log scale, a swing counts when its peak reaches this fraction of
// the level the curve started from (a loss near zero wanders by ratios no plot
// shows)
constexpr double kVisibleFloor = 0.01;
// ... at least this many up-swings start in the last half, one of them ends in
// the last quarter ...
constexpr std::size_t kMinSwings = 3;
// ... and the onset is the first swing of the chain of swings that runs to the
// end, each starting at most this fraction of the judged points (at least
// kSwingGapMin) after the one before; the first step when the chain starts
// within this fraction of the run.
constexpr double kSwingGap = 0.1;
constexpr std::size_t kSwingGapMin = 5;
constexpr double kSwingEarly = 0.05;
// overfitting: the end level is the median of at least this many of the last
// evaluations (and of the last 20%) ...
constexpr std::size_t kOverfitEndPoints = 2;
// ... a rise of at least this fraction of the best that stands above the
// scatter after the best counts without a noise estimate ...
constexpr double kOverfitBandRise = 0.2;
// ... where that scatter is the interquartile range of at least this many
// evaluations (the quartiles of three are two of them: the rise itself).
constexpr std::size_t kOverfitBandPoints = 4;
// ... a median of k points has a standard error of about this times sigma /
// sqrt(k) (1.2533 for normal noise) ...
constexpr double kMedianEfficiency = 1.2533;
// ... the training loss "rises with it" when its end level is at least
// this many times its level around the best validation step ...
constexpr double kTrainRiseWithVal = 1.2;
// ... and it is memorising the training set when its end level is at most
// this fraction of that level: then a rise of overfit_rise that stands this
// many interquartile ranges above the scatter after the best counts too.
constexpr double kMemorising = 0.1;
constexpr double kMemorisingBands = 1.5;
// ... or, over at least this many evaluations from the best on, they climb.
constexpr std::size_t kOverfitTrendPoints = 8;
// plateau, a collapse to a uniform guess (collapsed_to_guess): ln C for C up
// to this, a level within kGuessTolerance of it (or, after the loss was below
// kGuessLearned of it, in a constant prediction's band below), flat within
// kGuessFlat over the last kGuessStretch of the run.
constexpr int kGuessMaxClasses = 10;
constexpr double kGuessTolerance = 0.005;
constexpr double kGuessFlat = 0.02;
constexpr double kGuessStretch = 0.2;
constexpr double kGuessLearned = 0.9;
// ... and a loss that went there straight from a blown-up first value and
// held it: a constant prediction's loss between (1 - kConstantBelow) ln C (the
// entropy of moderately imbalanced class frequencies) and (1 + kConstantAbove)
// ln C (a constant not yet fitted).
constexpr double kConstantBelow = 0.05;
constexpr double kConstantAbove = 0.02;
// ... when the first value is at least this many times that level (a fresh
// model starts near ln C).
constexpr double kBlownUp = 3.0;

// The class count C (--classes, or without it the first of 2 to
// kGuessMaxClasses) whose constant prediction's loss band holds `level`:
// between (1 - kConstantBelow) ln C and (1 + kConstantAbove) ln C; 0 for none.
int constant_prediction_classes(double level, const DiagnoseOptions& o) {
  const int first = o.classes > 1 ? o.classes : 2, last = o.classes > 1 ? o.classes : kGuessMaxClasses;
  for (int c = first; c <= last; ++c) {
    const double ln_c = std::log(static_cast<double>(c));
    if (level >= (1 - kConstantBelow) * ln_c && level <= (1 + kConstantAbove) * ln_c) return c;
  }
  return 0;
}
// plateau: the fewest validation evaluations whose fall says the model learned.
constexpr std::size_t kValLearnedPoints = 5;
// spike: a jump within this share of the run after the learning rate rose
// at least kLrJump-fold back to a rate used before (at most kLrSameRate times
// the earlier highest: a warm restart) follows the schedule.
constexpr double kLrWindow = 0.02;
constexpr double kLrJump = 2.0;
constexpr double kLrSameRate = 1.01;
// spike: the band before a point is this share of the run (at least
// kSpikeBandMin points), ending kSpikeGap points before it ...
constexpr double kSpikeBand = 0.05;
constexpr std::size_t kSpikeBandMin = 20;
constexpr std::size_t kSpikeGap = 2;
// ... and a spike comes back down within this share of the run after its peak
// (at least kSpikeBackMin points): a median of kSpikeBackPoints points, all
// within that span, is down by kSpikeBackShare of the jump (a jump that stays
// up is a level shift, judged by the divergence rule; a bump whose scatter
// takes longer to settle is no spike).
constexpr double kSpikeBack = 0.1;
constexpr std::size_t kSpikeBackMin = 5;
constexpr std::size_t kSpikeBackPoints = 5;
constexpr double kSpikeBackShare = 0.75;

// A curve as the detectors see it: sorted by step, cut at the first non-finite
// value, plus its bucket-median reduction and smoothed version.
struct Prepared {
  std::string name;
  std::size_t total = 0;
  std::vector<std::int64_t> steps;  // finite prefix
  std::vector<double> y;            // finite prefix
  std::size_t first_bad = SIZE_MAX; // index (in sorted order) of the first non-finite value
  double bad_value = 0;
  std::int64_t bad_step = 0, last_step = 0;
  std::size_t bad_count = 0;
  std::vector<double> by, smooth;  // trend view
  std::vector<std::int64_t> bsteps;
  std::size_t window = 1;          // the points of each running median in `smooth`
  bool positive = true;  // every finite value > 0: judged on a log scale

  std::size_t m() const { return by.size(); }
  // The first or last 10% of the points, rounded up (at least 3): a median
  // of 3 of 39 noisy batches is one chance low away from the bottom.
  std::size_t head() const { return std::max<std::size_t>(3, (m() + 9) / 10); }
  // The starting level: the median of the first 2% (at least 3 points), short
  // enough that a fast initial drop still counts as progress.
  double start_level() const {
    const std::size_t k = std::min(m(), std::max<std::size_t>(3, m() / 50));
    return median(std::vector<double>(by.begin(), by.begin() + static_cast<std::ptrdiff_t>(k)));
  }
  double head_level() const {
    return median(std::vector<double>(by.begin(), by.begin() + static_cast<std::ptrdiff_t>(std::min(head(), m()))));
  }
  double end_level() const {
    return median(std::vector<double>(by.end() - static_cast<std::ptrdiff_t>(std::min(head(), m())), by.end()));
  }
  // The trend view from bucket `from` on, in the scale the curve lives in: the
  // logarithm of a positive curve (a loss falling over decades, a gradient
  // norm growing by orders of magnitude), else the values.
  std::vector<double> scaled(std::size_t from = 0) const {
    std::vector<double> v(by.begin() + static_cast<std::ptrdiff_t>(std::min(from, m())), by.end());
    bool pos = true;
    for (double x : v) pos = pos && x > 0;
    if (pos)
      for (double& x : v) x = std::log(x);
    return v;
  }
  // Bucket index where a rise that ends the curve began, searching from
  // bucket `from`; a fall's start with `falling`.
  std::size_t rise_start(std::size_t from, bool falling = false) const {
    std::vector<double> v = scaled(from);
    if (falling)
      for (double& x : v) x = -x;
    return from + rise_onset(v);
  }
  // The share of the run's steps before `step`, for evidence.
  double position(std::int64_t step) const {
    const double span = static_cast<double>(steps.back() - steps.front());
    return span > 0 ? static_cast<double>(step - steps.front()) / span : 0.0;
  }
};
// Every k-th value of [first, last) so that at most `limit` remain: quantiles of
// a long curve's raw points are estimated from a deterministic thinning, which
// keeps a million-step log cheap and leaves short curves untouched.
std::vector<double> thinned(std::vector<double>::const_iterator first, std::vector<double>::const_iterator last,
                            std::size_t limit = 100000) {
  const std::size_t n = static_cast<std::size_t>(last - first);
  const std::size_t stride = n > limit ? (n + limit - 1) / limit : 1;
  std::vector<double> out;
  out.reserve(n / stride + 1);
  for (std::size_t i = 0; i < n; i += stride) out.push_back(first[static_cast<std::ptrdiff_t>(i)]);
  return out;
}

// The points of a series in step order: position k holds the index of the
// k-th point. Logs are almost always in step order; only an unordered one pays
// for an index (a stable sort, so equal steps keep the log's order).
struct StepOrder {
  std::vector<std::size_t> index;  // empty: the series is in order
  bool sorted() const { return index.empty(); }
  std::size_t operator[](std::size_t k) const { return index.empty() ? k : index[k]; }
};

StepOrder step_order(const logs::Series& s) {
  StepOrder o;
  if (std::is_sorted(s.steps.begin(), s.steps.end())) return o;
  o.index.resize(s.size());
  std::iota(o.index.begin(), o.index.end(), std::size_t{0});
  std::stable_sort(o.index.begin(), o.index.end(), [&](std::size_t a, std::size_t b) { return s.steps[a] < s.steps[b]; });
  return o;
}

// `until`: points at this step or later are left out (a gradient norm after
// the loss reached a fixed point is rounding noise).
Prepared prepare(const logs::Series& s, std::size_t max_points,
                 std::int64_t until = std::numeric_limits<std::int64_t>::max()) {
  Prepared p;
  p.name = s.name;
  p.total = s.size();
  const StepOrder order = step_order(s);
  p.steps.reserve(s.size());
  p.y.reserve(s.size());
  for (std::size_t k = 0; k < s.size(); ++k) {
    const std::size_t i = order[k];
    const double v = s.values[i];
    if (s.steps[i] >= until) continue;
    if (!std::isfinite(v)) {
      ++p.bad_count;
      if (p.first_bad == SIZE_MAX) {
        p.first_bad = k;
        p.bad_value = v;
        p.bad_step = s.steps[i];
      }
      continue;
    }
    if (p.first_bad == SIZE_MAX) {
      p.steps.push_back(s.steps[i]);
      p.y.push_back(v);
      p.positive = p.positive && v > 0;
    }
  }
  if (s.size() > 0) p.last_step = s.steps[order[s.size() - 1]];
  // The trend view: bucket medians (as bucket_medians() does), each at the
  // step of its bucket's middle point.
  const std::size_t n = p.y.size();
  if (n <= max_points || max_points == 0) {
    p.by = p.y;
    p.bsteps = p.steps;
  } else {
    std::vector<double> buf;
    for (std::size_t b = 0; b < max_points; ++b) {
      const std::size_t lo = b * n / max_points, hi = (b + 1) * n / max_points;
      if (hi <= lo) continue;
      buf.assign(p.y.begin() + static_cast<std::ptrdiff_t>(lo), p.y.begin() + static_cast<std::ptrdiff_t>(hi));
      p.by.push_back(median(std::move(buf)));
      p.bsteps.push_back(p.steps[(lo + hi - 1) / 2]);
    }
  }
  // The smoothing window: 10% of the points, rounded, made odd (at least 3).
  p.window = std::max<std::size_t>(3, (p.by.size() + 5) / 10) | 1;
  p.smooth = running_median(p.by, p.window);
  return p;
}

// The curve as a person sees it on a plot (LABELLING.md's "curve as seen"):
// a running median over 5% of the points (an odd number, at least 1),
// narrower than a Prepared's `smooth`, so that where a rise begins is not
// blurred half a window early.
std::vector<double> seen_curve(const std::vector<double>& v) {
  return running_median(v, std::max<std::size_t>(1, (v.size() + 10) / 20) | 1);
}

Symptom make(SymptomKind kind, const std::string& metric, std::int64_t a, std::int64_t b, Severity sev,
             std::string evidence) {
  return Symptom{kind, metric, a, b, sev, std::move(evidence), advice_for(kind)};
}

std::string step_text(std::int64_t s) { return "step " + std::to_string(s); }

// Robust standard deviation of a curve's noise from its second differences,
// y_i - (y_{i-1} + y_{i+1}) / 2 (variance 1.5 sigma^2 for independent noise),
// which a straight trend does not inflate.
double noise_sd(const std::vector<double>& v) {
  if (v.size() < 5) return 0;
  std::vector<double> e;
  e.reserve(v.size() - 2);
  for (std::size_t i = 1; i + 1 < v.size(); ++i) e.push_back(v[i] - 0.5 * (v[i - 1] + v[i + 1]));
  return 1.4826 * mad(e) / std::sqrt(1.5);
}

// The noise of the last half of `v` (its finite values, thinned) relative to
// its level: NaN with fewer than 5 points or a zero level.
double late_relative_noise(const std::vector<double>& v) {
  std::vector<double> tail = thinned(v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  std::erase_if(tail, [](double x) { return !std::isfinite(x); });
  const double level = std::abs(median(tail));
  return tail.size() >= 5 && level > 0 ? noise_sd(tail) / level : std::numeric_limits<double>::quiet_NaN();
}

void detect_nan(const Prepared& p, std::vector<Symptom>& out) {
  if (p.first_bad == SIZE_MAX) return;
  const std::string what = std::isnan(p.bad_value) ? "NaN" : p.bad_value > 0 ? "+inf" : "-inf";
  std::string ev = "first " + what + " at step " + std::to_string(p.bad_step) + "; " + std::to_string(p.bad_count) +
                   " of " + std::to_string(p.total) + " values are not finite";
  if (!p.y.empty())
    ev += "; last finite value " + general(p.y.back(), 4) + " at step " + std::to_string(p.steps.back());
  out.push_back(make(SymptomKind::nan, p.name, p.bad_step, p.last_step, Severity::error, ev));
}


std::size_t argmin(const std::vector<double>& v, std::size_t from, std::size_t to) {  // in [from, to]
  return static_cast<std::size_t>(std::min_element(v.begin() + static_cast<std::ptrdiff_t>(from),
                                                   v.begin() + static_cast<std::ptrdiff_t>(to) + 1) -
                                  v.begin());
}

// A rise from a level `from` (a median of `from_points` points, 1 for a
// single point) to a level `to` (a median of `to_points`) in standard errors
// of the two, the scatter of a point taken from the noise of `points`
// (noise_sd), on the scale the curve is read in (logarithms when
// `log_scale`). A loss of single batches that scatter by a third has medians
// of a few points 1.5x apart by chance.
double rise_in_noise(std::vector<double> points, bool log_scale, double from, double from_points, double to,
                     double to_points) {
  if (log_scale)
    for (double& x : points) x = std::log(x);
  const double sd = noise_sd(points);
  const double rise = log_scale ? std::log(to / from) : to - from;
  const double se = kMedianEfficiency * sd * std::sqrt(1.0 / from_points + 1.0 / to_points);
  return se > 0 ? rise / se : (rise > 0 ? HUGE_VAL : 0.0);
}

// `from_first`: judge a loss that ends above its first value too. Not for a
// reinforcement-learning critic, whose first value is the loss of targets
// that start near zero (no returns yet), below any level it can keep.
bool detect_divergence(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out, bool from_first = true) {
  const std::size_t m = p.m();
  if (m < 3) return false;
  const std::int64_t last = p.steps.back();
  // The logged values' range: whether they span decades (see log_scale below).
  // (A pair, not structured bindings: a lambda below uses it, and clang
  // before 16 cannot capture a binding.)
  const auto y_range = std::minmax_element(p.y.begin(), p.y.end());
  const double y_span = *y_range.second / *y_range.first;
  // Worse than at initialisation: a learning rate far too high can blow the
  // loss up within a step or two and leave it bouncing above where it started,
  // which the smoothed curve (its start already inflated) cannot show.
  const double init = p.y.front();
  if (from_first && init > 0 && p.y.size() >= o.min_points) {
    const std::vector<double> tail = thinned(p.y.begin() + static_cast<std::ptrdiff_t>(p.y.size() / 2), p.y.end());
    const double q10 = quantile(tail, 0.1), med = median(tail);
    // ... by more than the noise of a single point (a first batch that came
    // out low by chance is no level the run left).
    const auto beyond_noise = [&] {
      return m < kNoiseJudgedPoints || q10 >= (1 + o.divergence_rise) * init ||
             rise_in_noise(tail, p.positive && y_span > kLogScaleSpan, init, 1.0, med,
                           static_cast<double>(tail.size())) >= kRiseNoiseZ;
    };
    if (q10 > init && med >= (1 + o.divergence_rise) * init && beyond_noise()) {
      // Onset: the loss went above its first value for good at bucket `above`;
      // it began rising at its best point before that, or where the rise from
      // there took off.
      std::vector<std::uint8_t> above_init(m);
      for (std::size_t k = 0; k < m; ++k) above_init[k] = p.by[k] > init;
      const std::size_t above = std::min(persistent_onset(above_init, kOnsetPersistence), m - 1);
      const std::size_t best = argmin(p.smooth, 0, above);
      const std::size_t onset = p.rise_start(best);
      out.push_back(make(SymptomKind::divergence, p.name, p.bsteps[onset], last, Severity::error,
                         "the loss rose from " + step_text(p.bsteps[onset]) + " (smoothed " + general(p.smooth[onset], 4) +
                             ") and over the last half stays above its first value " + general(init, 4) + " at " +
                             step_text(p.steps.front()) + ": median " + general(med, 4) + " (x" + general(med / init, 4) +
                             "), 10% quantile " + general(q10, 4) + "; it peaked at " +
                             general(*std::max_element(p.y.begin(), p.y.end()), 4)));
      return true;
    }
  }
  // The lowest level (of the smoothed curve, before the last 10%) against
  // where the loss ends (the median of its last 10%).
  const std::size_t tail = std::max<std::size_t>(1, m / 10);
  if (m < tail + 3) return false;
  // Fewer than kShortLog points (per-epoch logs of a few epochs, each an
  // epoch's mean): the lowest is a single point, as a person reads such a
  // curve; a running median would fill in the bottom of a V.
  const std::vector<double>& low_curve = m < kShortLog ? p.by : p.smooth;
  const std::size_t b = argmin(low_curve, 0, m - 1 - tail);
  const double lowest = low_curve[b], end = p.end_level();
  // The start: the median of the first 5% of the points (rounded up), the
  // first point alone in a log of 20 or fewer: a short log's fast first drop
  // is progress, not its start.
  const double start = median(std::vector<double>(
      p.by.begin(), p.by.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, (m + 19) / 20))));
  const double rise = end - lowest;
  const auto [lo, hi] = std::minmax_element(p.smooth.begin(), p.smooth.end());
  // The scale the curve is read in: logarithmic for a positive curve whose
  // values span more than two decades (a loss near zero that wanders by 2x is
  // not a rise on it). The logged values decide, as on a plot, not the
  // smoothed curve: a loss that fell 100-fold within its first few points
  // spans the decades on a plot though its running median, over 10% of the
  // points, cuts off the first of them.
  const bool log_scale = p.positive && *lo > 0 && y_span > kLogScaleSpan;
  const double range = log_scale ? std::log(*hi / *lo) : *hi - *lo;
  const double seen_rise = log_scale ? std::log(end / lowest) : rise;
  // ... and the rise stands out of the curve's noise: the end level against
  // the lowest, by kRiseNoiseZ standard errors of the two (the median of the
  // last 10% and a running median, or a single point in a short log), unless
  // it moved the whole band (nine in ten points of the last half at
  // divergence_factor times the lowest level: a blow-up into swings as wide as
  // the rise).
  // (Judged only for a rise that meets the thresholds: lowest > 0 there.)
  const auto stands_out = [&] {
    if (m < kNoiseJudgedPoints) return true;
    const double band_low =
        quantile(std::vector<double>(p.by.begin() + static_cast<std::ptrdiff_t>(m / 2), p.by.end()), 0.1);
    if (band_low >= o.divergence_factor * lowest) return true;
    const double low_points = m < kShortLog ? 1.0 : static_cast<double>(std::min(p.window, m));
    return rise_in_noise(p.by, log_scale, lowest, low_points, end, static_cast<double>(std::min(p.head(), m))) >=
           kRiseNoiseZ;
  };
  const bool doubled = lowest > 0 && end >= o.divergence_factor * lowest && seen_rise >= o.divergence_visible * range &&
                       stands_out();
  const bool gave_back = lowest > 0 && start - lowest >= o.plateau_drop * start &&
                         end >= o.divergence_partial_factor * lowest &&
                         rise >= o.divergence_partial_progress * (start - lowest) && (doubled || stands_out());
  // A loss that is not positive: back to where it started, or doubled, with
  // an upward trend.
  bool back = false, climbed = false;
  std::string trend;
  if (!(lowest > 0)) {
    const TrendTest t = mann_kendall(std::span<const double>(p.by).subspan(b));
    trend = "; Mann-Kendall z = " + general(t.z, 4) + ", " + pval(t.p_increasing);
    back = rise >= o.divergence_rise * std::max({std::abs(lowest), start - lowest, 1e-12}) &&
           t.p_increasing < o.significance;
  } else if (!doubled && !gave_back && end >= o.divergence_partial_factor * lowest) {
    // A positive loss that climbs from its lowest level to the end (a
    // significant upward trend, not a dip and a return to the scatter) to
    // divergence_partial_factor times that level: a learning rate warmed up
    // past what the model can take, with no progress before it to give back.
    const TrendTest t = mann_kendall(std::span<const double>(p.by).subspan(b));
    trend = "; Mann-Kendall z = " + general(t.z, 4) + ", " + pval(t.p_increasing);
    climbed = t.p_increasing < o.significance;
  }
  if (!doubled && !gave_back && !back && !climbed) return false;
  // Onset: where the curve as seen (the points themselves in a short log)
  // leaves its bottom for good, the last point after the lowest that is
  // still within kLeaveBottom of the rise above it.
  const std::vector<double> seen = m < kShortLog ? p.by : seen_curve(p.by);
  std::size_t onset = b;
  for (std::size_t k = b; k < m; ++k) {
    const double above = log_scale ? std::log(std::max(seen[k], lowest) / lowest) : seen[k] - lowest;
    if (above <= kLeaveBottom * seen_rise) onset = k;
  }
  std::string how = doubled ? "x" + general(end / lowest, 4) + (log_scale ? ", on a log scale" : "")
                  : gave_back ? "x" + general(end / lowest, 4) + ", giving back " + percent(rise / std::max(start - lowest, 1e-300), 1) +
                                    " of its fall from " + general(start, 4)
                  : climbed   ? "x" + general(end / lowest, 4) + ", climbing" + trend
                              : "back to its start " + general(start, 4) + trend;
  out.push_back(make(SymptomKind::divergence, p.name, p.bsteps[onset], last, Severity::error,
                     "the loss rose from its lowest level " + general(lowest, 4) + " at " + step_text(p.bsteps[b]) +
                         " and ends at " + general(end, 4) + " (" + how + "), leaving its bottom at " +
                         step_text(p.bsteps[onset]) + "; it has not come back"));
  return true;
}

// Whether the last half of the raw curve moves deterministically: it repeats a
// cycle of k <= kMaxCycle steps, or turns (up then down, or down then up) at
// oscillation_turning of its steps or more, as full-batch training with too
// large a step does (independent minibatch noise turns at 2/3 of the steps and
// never repeats). Such a curve is judged point by point.
struct Determinism {
  std::size_t period = 0;  // the cycle's length, 0 when none
  double turning = 0;      // the share of turning steps
  bool deterministic = false;
};

Determinism find_determinism(const Prepared& p, const DiagnoseOptions& o) {
  Determinism d;
  const std::size_t n = p.y.size(), half = n / 2;
  if (n - half < kOscillationMinTurns + 2) return d;
  const std::vector<double> tail = thinned(p.y.begin() + static_cast<std::ptrdiff_t>(half), p.y.end());
  const double level = std::max(std::abs(median(tail)), 1e-300);
  if (quantile(tail, 0.9) - quantile(tail, 0.1) < kCycleMinSpread * level) return d;  // it stands still
  std::size_t turns = 0, judged = 0;
  for (std::size_t i = half + 1; i + 1 < n; ++i) {
    const double d1 = p.y[i] - p.y[i - 1], d2 = p.y[i + 1] - p.y[i];
    if (d1 != 0 && d2 != 0) {
      ++judged;
      turns += (d1 > 0) != (d2 > 0) ? 1 : 0;
    }
  }
  d.turning = judged ? static_cast<double>(turns) / static_cast<double>(judged) : 0.0;
  if (n - half > 4 * kMaxCycle) {
    auto repeats = [&](std::size_t i, std::size_t k) {
      return std::abs(p.y[i + k] - p.y[i]) <= kCycleTolerance * std::abs(p.y[i]);
    };
    for (std::size_t k = 2; k <= kMaxCycle && d.period == 0; ++k) {
      // A cheap look at the start of the last half rules out most periods.
      std::size_t hits = 0;
      const std::size_t probe = std::min<std::size_t>(kCycleProbe, n - half - k);
      for (std::size_t i = half; i < half + probe; ++i) hits += repeats(i, k) ? 1 : 0;
      if (static_cast<double>(hits) < kOnsetPersistence * static_cast<double>(probe)) continue;
      std::size_t ok = 0;
      for (std::size_t i = half; i + k < n; ++i) ok += repeats(i, k) ? 1 : 0;
      if (static_cast<double>(ok) >= kOnsetPersistence * static_cast<double>(n - half - k)) d.period = k;
    }
  }
  d.deterministic = d.period > 0 || (judged >= kOscillationMinTurns && d.turning >= o.oscillation_turning);
  return d;
}

// An up-swing of the judged curve: from a trough to the peak that follows.
struct Swing {
  std::size_t trough = 0, peak = 0;  // indices into the judged curve
};

// The up-swings of `v` (already in the scale it is judged in): a zigzag that
// counts a rise from the lowest point since the last fall when it reaches
// `big(from)`, and a fall from the highest point since then when it reaches
// `big(to)`, so that only moves up and down by a large amount count.
template <class Big>
std::vector<Swing> up_swings(const std::vector<double>& v, Big big) {
  std::vector<Swing> out;
  if (v.empty()) return out;
  bool rising = true;  // looking for a rise from `lo`, else for a fall from `hi`
  std::size_t lo = 0, hi = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (rising) {
      if (v[i] <= v[lo]) lo = i;  // the last of equal lows: where the rise starts
      if (v[i] - v[lo] >= big(v[lo])) {
        out.push_back({lo, i});
        rising = false;
        hi = i;
      }
    } else {
      if (v[i] > v[hi]) {
        hi = i;
        out.back().peak = i;
      }
      if (v[hi] - v[i] >= big(v[i])) {
        rising = true;
        lo = i;
      }
    }
  }
  return out;
}

// What an up-swing needs on a judged curve read as it is plotted (up_swings'
// `big`): `level` of the value it starts from, and `visible` of the curve's
// range. read_as_plotted takes the curve's values to logarithms when they are
// positive and span more than kLogScaleSpan; a swing then needs a rise of
// log(1 + level).
struct SwingSize {
  bool log_scale = false;
  double level = 0, at_least = 0;
  double operator()(double from) const {
    return std::max(log_scale ? std::log1p(level) : level * std::abs(from), at_least);
  }
};

SwingSize read_as_plotted(std::vector<double>& v, bool positive, double level, double visible) {
  SwingSize size;
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  size.log_scale = positive && *mn > 0 && *mx / *mn > kLogScaleSpan;
  if (size.log_scale)
    for (double& x : v) x = std::log(x);
  size.level = level;
  size.at_least = visible * (*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()));
  return size;
}

// Whether a validation loss swings (kValSwingPoints evaluations or more,
// kMinSwings up-swings of kValSwingLevel in its last half, each at least
// oscillation_visible of its range, on a log scale past kLogScaleSpan).
bool validation_swings(const Prepared& val, const DiagnoseOptions& o) {
  std::vector<double> v;
  for (double x : val.y)
    if (std::isfinite(x)) v.push_back(x);
  if (v.size() < kValSwingPoints) return false;
  const SwingSize big = read_as_plotted(v, /*positive=*/true, kValSwingLevel, o.oscillation_visible);
  v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2));  // the last half
  return up_swings(v, big).size() >= kMinSwings;
}

// Oscillation: over the last half the loss keeps moving up and down by a
// large amount and does not settle, on the curve a person reads: the logged
// points of a full-batch run or of a per-epoch log, the epoch means (at least
// kSwingGroup points) of a per-step minibatch log, whose single batches
// scatter without the model oscillating. `group`: the points per epoch of the
// log (0: not known).
// `means_of`: points per judged value when the caller knows them (epoch means
// of a few batches each), 0 to work them out. `val`: the validation loss, if
// any.
bool detect_oscillation(const Prepared& p, std::size_t group, const DiagnoseOptions& o, std::vector<Symptom>& out,
                        std::size_t means_of = 0, const Prepared* val = nullptr) {
  const std::size_t n = p.y.size();
  if (p.m() < o.min_points) return false;
  const Determinism det = find_determinism(p, o);
  // Points per judged value.
  std::size_t g = 1;
  bool val_swung = false;
  if (means_of > 0) {
    g = means_of;
  } else if (!det.deterministic) {
    if (group >= 2) {
      g = group * ((kSwingGroup + group - 1) / group);
    } else if (group == 0 && val != nullptr && validation_swings(*val, o)) {
      // Epochs not known, and the validation loss swings: the model does.
      g = kSwingGroup;
      val_swung = true;
    } else if (group == 0) {
      // Epochs not known: enough points that a mean's noise is at most
      // kMeanNoise of the level (a third of a swing), at least kSwingGroup,
      // and still 40 judged values (20 in the last half, where the swings are counted).
      const double rel = late_relative_noise(p.y);
      const double needed = std::isnan(rel) ? 0.0 : std::ceil(rel * rel / (kMeanNoise * kMeanNoise));
      g = std::clamp<std::size_t>(static_cast<std::size_t>(std::min(needed, 1e9)), kSwingGroup,
                                  std::max(kSwingGroup, n / 40));
    }
  }
  std::vector<double> v;
  std::vector<std::size_t> first;  // the raw index where each judged value starts
  for (std::size_t i = 0; i + g <= n || (i < n && v.empty()); i += g) {
    const std::size_t end = std::min(n, i + g);
    double sum = 0;
    for (std::size_t j = i; j < end; ++j) sum += p.y[j];
    v.push_back(sum / static_cast<double>(end - i));
    first.push_back(i);
  }
  const std::size_t m = v.size();
  if (m < o.min_points) return false;
  // The scale the curve is read in: logarithmic for a positive curve spanning
  // more than two decades.
  const SwingSize big = read_as_plotted(v, p.positive, o.oscillation_level, o.oscillation_visible);
  const bool log_scale = big.log_scale;
  // On a log scale, a loss that converged close to zero wanders by ratios no
  // plot shows: swings that stay below kVisibleFloor of the level the loss
  // started from (its first judged value) do not count. Not of its highest
  // level: a loss that blew up in its first steps and came back down to bounce
  // is not close to zero because it is far below that blow-up.
  const double floor = log_scale ? std::log(kVisibleFloor) + v.front() : -INFINITY;
  auto hidden = [&](const Swing& sw) { return v[sw.peak] < floor; };
  // The swings of the last half are counted on that half alone, as a person
  // reads it: a rise from its first point counts from there, not from a
  // trough the first half left behind.
  const std::size_t half = m / 2;
  std::vector<Swing> late_swings = up_swings(std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(half), v.end()), big);
  std::erase_if(late_swings, [&](Swing& sw) {
    sw.trough += half;
    sw.peak += half;
    return hidden(sw);
  });
  const std::size_t late = late_swings.size();
  bool last_quarter = false;
  for (const auto& sw : late_swings) last_quarter = last_quarter || sw.peak >= m - m / 4;
  if (late < kMinSwings || !last_quarter) return false;
  // The onset from the swings of the whole curve.
  std::vector<Swing> swings = up_swings(v, big);
  std::erase_if(swings, hidden);
  if (swings.empty()) swings = late_swings;
  // Onset: the first swing of the unbroken chain that runs to the end.
  std::size_t k = swings.size() - 1;
  const double gap = std::max(static_cast<double>(kSwingGapMin), kSwingGap * static_cast<double>(m));
  while (k > 0 && static_cast<double>(swings[k].trough - swings[k - 1].trough) <= gap) --k;
  std::size_t onset = first[swings[k].trough];
  if (static_cast<double>(swings[k].trough) <= kSwingEarly * static_cast<double>(m)) onset = 0;
  const Swing& widest = *std::max_element(swings.begin() + static_cast<std::ptrdiff_t>(k), swings.end(),
                                          [&](const Swing& a, const Swing& b) {
                                            return v[a.peak] - v[a.trough] < v[b.peak] - v[b.trough];
                                          });
  auto value = [&](std::size_t j) { return general(log_scale ? std::exp(v[j]) : v[j], 4); };
  std::string judged =
      g == 1         ? "its logged points"
      : means_of > 0 ? "its means over " + std::to_string(g) + " epochs (of a few batches each)"
      : val_swung    ? "its means over " + std::to_string(g) + " points; " + val->name +
                        " swings too, so the model's weights do, not only its batches"
                     : "its means over " + std::to_string(g) + " points (" +
                           (group >= 2 ? "epochs" : "the scatter of single batches averaged out") + ")";
  std::string cause;
  if (det.period > 0) cause = "; it repeats a cycle of " + std::to_string(det.period) + " steps: the steps overshoot";
  else if (det.deterministic) cause = "; it turns at " + percent(det.turning, 1) + " of its steps: the steps overshoot";
  out.push_back(make(SymptomKind::oscillation, p.name, p.steps[onset], p.steps[n - 1], Severity::warning,
                     std::to_string(late) + " up-swings over the last half, each at least " + percent(o.oscillation_level, 1) +
                         " of the level it starts from (judged on " + judged +
                         (log_scale ? ", on a log scale" : "") + "), the widest from " + value(widest.trough) +
                         " to " + value(widest.peak) + " at " + step_text(p.steps[first[widest.peak]]) +
                         ", and still in the last quarter: the loss does not settle; swinging from " +
                         step_text(p.steps[onset]) + cause));
  return true;
}


// A training loss that stopped changing: its longest stretch of values equal
// within stuck_tolerance, and what explains it.
struct Stuck {
  std::size_t first = 0, last = 0;  // indices into Prepared::y, inclusive
  double value = 0;
  double deviation = 0;  // largest relative difference from `value` in the stretch
  std::vector<std::string> causes;  // the evidence that the model's output froze ("" none)
};

// The fewest significant digits that print `v` back exactly (what the log wrote).
int significant_digits(double v) {
  for (int d = 1; d < 17; ++d) {
    const std::string text = general(v, d);
    double back = 0;
    std::from_chars(text.data(), text.data() + text.size(), back);
    if (back == v) return d;
  }
  return 17;
}

// Median of the values of `s` with steps in [a, b] (NaN when none).
double median_between(const logs::Series& s, std::int64_t a, std::int64_t b) {
  std::vector<double> v;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.steps[i] >= a && s.steps[i] <= b && std::isfinite(s.values[i])) v.push_back(s.values[i]);
  return median(std::move(v));
}

std::optional<Stuck> find_stuck(const Prepared& p, const logs::Run& run, const DiagnoseOptions& o) {
  const std::size_t n = p.y.size();
  if (n < kStuckMinPoints) return std::nullopt;
  std::size_t best_a = 0, best_len = 0;
  for (std::size_t a = 0; a < n;) {
    const double v = p.y[a], tol = o.stuck_tolerance * std::abs(v);
    std::size_t b = a + 1;
    while (b < n && std::abs(p.y[b] - v) <= tol) ++b;
    if (b - a > best_len) best_a = a, best_len = b - a;
    a = b;
  }
  const double needed = std::max(static_cast<double>(kStuckMinPoints), o.stuck_fraction * static_cast<double>(n));
  if (static_cast<double>(best_len) < needed) return std::nullopt;
  Stuck s;
  s.first = best_a;
  s.last = best_a + best_len - 1;
  s.value = p.y[best_a];
  const double start = std::abs(p.y.front());
  if (s.value == 0 || std::abs(s.value) < kStuckMinLevel * start) return std::nullopt;  // it reached ~0
  for (std::size_t i = s.first; i <= s.last; ++i)
    s.deviation = std::max(s.deviation, std::abs(p.y[i] - s.value) / std::abs(s.value));
  // A log that rounds the loss repeats values by construction.
  std::vector<double> digits;
  for (std::size_t i = s.first > 64 ? s.first - 64 : 0; i < std::max<std::size_t>(s.first, 1); ++i)
    digits.push_back(significant_digits(p.y[i]));
  if (median(digits) < kStuckMinDigits) return std::nullopt;

  // What says the model froze (rather than converged to a fixed point).
  if (s.first >= 2) {
    std::vector<double> moves;
    for (std::size_t i = s.first > kStuckContext ? s.first - kStuckContext : 1; i <= s.first; ++i)
      moves.push_back(std::abs(p.y[i] - p.y[i - 1]) / std::abs(s.value));
    const double move = median(moves);
    if (move >= kStuckMoving)
      s.causes.push_back("it was still changing by a median " + percent(move, 1) + " per step over the " +
                         std::to_string(moves.size()) + " steps before: it froze, it did not slow down into it");
    std::vector<double> before(p.y.begin() + static_cast<std::ptrdiff_t>(s.first > kStuckContext ? s.first - kStuckContext : 0),
                               p.y.begin() + static_cast<std::ptrdiff_t>(s.first));
    const double level = median(before);
    if (s.value > 0 && level > 0 && s.value >= (1 + kStuckJump) * level)
      s.causes.push_back("it froze at " + general(s.value, 4) + ", " + general(s.value / level, 3) +
                         "x the level " + general(level, 4) + " of the " + std::to_string(before.size()) +
                         " points before: a run converging into a fixed point ends below where it was, not above");
  }
  struct Landmark {
    double value;
    std::string what;
  };
  std::vector<Landmark> landmarks = {{0.25, "0.25, the squared error of predicting 0.5 for 0/1 targets"},
                                     {std::log(2.0), "ln 2, the cross-entropy of predicting p = 0.5"}};
  if (o.classes > 2)
    landmarks.push_back({std::log(static_cast<double>(o.classes)),
                         "ln(" + std::to_string(o.classes) + "), the cross-entropy of a uniform guess"});
  for (const auto& l : landmarks)
    if (std::abs(s.value - l.value) <= kStuckLandmark * l.value)
      s.causes.push_back(general(s.value, 4) + " is " + l.what + ": the model predicts a constant");
  // Or it froze near a constant prediction's loss for C classes (between the
  // entropy of imbalanced class frequencies and a constant still being
  // fitted, as collapsed_to_guess judges it) without having learned anything
  // before: no descent ends where it started.
  if (s.causes.empty() && s.value > 0) {
    const double lowest = *std::min_element(p.y.begin(), p.y.begin() + static_cast<std::ptrdiff_t>(s.first + 1));
    const bool never_fell = lowest >= (1 - o.plateau_drop) * p.y.front();
    if (const int c = never_fell ? constant_prediction_classes(s.value, o) : 0; c > 0) {
      const double ln_c = std::log(static_cast<double>(c));
      s.causes.push_back(general(s.value, 7) + " is within " + percent(std::abs(s.value / ln_c - 1), 2) + " of ln(" +
                         std::to_string(c) + "), about the loss of a constant prediction over " + std::to_string(c) +
                         " classes, and the loss never fell more than " + percent(o.plateau_drop, 1) +
                         " before it: the model never learned");
    }
  }
  // (A zero gradient norm is no evidence: a full-batch run at its optimum has
  // one too.)
  const std::int64_t a = p.steps[s.first], b = p.steps[s.last];
  for (const auto& series : run.series) {
    std::string l(series.name);
    for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (l.find("dead") == std::string::npos) continue;
    const double dead = median_between(series, a, b);
    if (dead >= kDeadFraction && dead <= 1)
      s.causes.push_back(series.name + " is " + percent(dead, 1) + " there: those units are dead");
  }
  return s;
}

std::string describe_stuck(const Prepared& p, const Stuck& s) {
  std::string same;
  if (s.deviation == 0) {
    same = "bit-identical";
  } else {
    const int digits = std::clamp(static_cast<int>(std::floor(-std::log10(s.deviation))), 1, 15);
    same = "identical to " + std::to_string(digits) + " significant digits";
  }
  const std::int64_t a = p.steps[s.first], b = p.steps[s.last];
  // The value with as many digits as the claim is about (float32 needs 7).
  char value[32];
  std::snprintf(value, sizeof value, "%.7g", s.value);
  std::string ev = "the loss is " + same + " (" + value + ") for " + std::to_string(s.last - s.first + 1) +
                   " points, " + step_text(a) + " to " + std::to_string(b) + " (" +
                   percent(static_cast<double>(s.last - s.first + 1) / static_cast<double>(p.y.size()), 1) + " of the log)";
  if (s.first > 0) ev += ", after falling from " + general(p.y.front(), 4);
  return ev;
}

constexpr const char* kStuckAdvice =
    "the model's output stopped changing: look for dead ReLUs (units that are never positive: lower the learning "
    "rate, use LeakyReLU or GELU, He initialisation, a bias that does not start negative), a saturated sigmoid or tanh "
    "output, or zero gradients (a detached tensor, frozen parameters, an optimizer not given the model's "
    "parameters); overfit one batch to check";

// A loss that had learned, came back up to the loss of a uniform guess over C
// classes, ln C, and stays there to the end: the model collapsed to a
// constant prediction (after a blow-up, with dead units), whether or not the
// way up counts as divergence. Or one that went there straight from a
// blown-up first value and never left it: it never learned (a drift of a
// fraction of a percent is no progress, though a trend test finds it). C is
// --classes, or without it 2 to kGuessMaxClasses: their ln C lie 5% or more apart, so a level within
// kGuessTolerance of one, held flat (within kGuessFlat) over the last
// kGuessStretch of the run after the loss was below kGuessLearned of it, is
// no coincidence.
// The start of the final stretch of the smoothed curve within kGuessFlat of
// `end`: the stretch is [start, m), empty when start == m.
std::size_t flat_tail(const Prepared& p, double end) {
  std::size_t k = p.m();
  while (k > 0 && std::abs(p.smooth[k - 1] - end) <= kGuessFlat * std::abs(end)) --k;
  return k;
}

bool collapsed_to_guess(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  const double end = p.end_level();
  if (m < o.min_points || !(end > 0)) return false;
  auto near_guess = [&](int c) {
    const double ln_c = std::log(static_cast<double>(c));
    return std::abs(end - ln_c) <= kGuessTolerance * ln_c;
  };
  int guess = o.classes > 1 && near_guess(o.classes) ? o.classes : 0;
  for (int c = 2; guess == 0 && c <= kGuessMaxClasses; ++c)
    if (near_guess(c)) guess = c;
  // ... or, for a loss that never left the level, the loss of a constant
  // prediction for C classes as it comes: the entropy of the class
  // frequencies (below ln C on an imbalanced set) or a little above ln C while
  // the constant is still being fitted (judged for a loss that never left it).
  bool frequencies = false;
  if (guess == 0) {
    guess = constant_prediction_classes(end, o);
    frequencies = guess > 0;
  }
  if (guess == 0) return false;
  std::size_t k = flat_tail(p, end);  // the flat stretch is [k, m)
  const double run = static_cast<double>(p.bsteps.back() - p.bsteps.front());
  const double chance = std::log(static_cast<double>(guess));
  const std::string level =
      frequencies ? general(end, 4) + ", " + percent(std::abs(end / chance - 1), 1) + (end < chance ? " below" : " above") +
                        " ln(" + std::to_string(guess) + ") = " + general(chance, 4) +
                        ", the loss of a constant prediction over " + std::to_string(guess) +
                        " classes (their frequencies' entropy, or a constant still being fitted)"
                  : general(end, 4) + ", within " + percent(kGuessTolerance, 1) + " of ln(" + std::to_string(guess) +
                        ") = " + general(chance, 4) + ", the loss of a uniform guess over " + std::to_string(guess) +
                        " classes";
  // Never left it: the flat stretch holds everything after the first points
  // that settle (a first epoch blown up by a rate or features too large, then
  // the guess from the next point on).
  const std::size_t settled = settled_points(m);
  // Near ln C, after a blown-up first value: the constant may still be
  // fitted into place, drifting by a few percent; it never left the band when
  // the smoothed loss after the settling points moves by less than
  // kConstantBelow of its level.
  bool drifted_in = false;
  if (frequencies && settled < m) {
    const auto [lo, hi] = std::minmax_element(p.smooth.begin() + static_cast<std::ptrdiff_t>(settled), p.smooth.end());
    drifted_in = *hi - *lo <= kConstantBelow * end;
  }
  if (k <= settled || drifted_in) {
    if (p.y.front() <= (1 + kGuessFlat) * end) return false;  // a start at the guess: the plateau rule judges it
    // Only near ln C (not at it): from a first value blown up far above any
    // fresh model's start; a 3-class model that starts at 1.23 and learns to
    // 0.68 passes 1.2% below ln 2 on its way.
    if (frequencies && p.y.front() < kBlownUp * end) return false;
    const std::size_t from = std::min(k == 0 || drifted_in ? std::size_t{1} : k, m - 1);
    Symptom s = make(SymptomKind::plateau, p.name, p.bsteps[from], p.steps.back(), Severity::warning,
                     "after its first value " + general(p.y.front(), 4) + " the loss went straight to " + level +
                         ", and stays there from " + step_text(p.bsteps[from]) + " to the end: the model predicts a "
                         "constant and never learned");
    s.advice = kStuckAdvice;
    out.push_back(std::move(s));
    return true;
  }
  if (m - k < kStartPoints || static_cast<double>(p.bsteps.back() - p.bsteps[k]) < kGuessStretch * run) return false;
  const std::size_t low = argmin(p.smooth, 0, k - 1);
  // A loss that had learned and came back to a constant prediction's loss
  // band (a blow-up killed the units; the output bias, all that still learns,
  // fits the class frequencies) counts anywhere in the band; one that fell
  // onto the level from above only at ln C itself.
  if (frequencies && p.smooth[low] > kGuessLearned * end) return false;
  if (p.smooth[low] > kGuessLearned * end) {
    // It never got below the guess: it fell onto it from above (outputs that
    // start confident and end uniform) and stays there for kFlatStart of the
    // run or more.
    if (static_cast<double>(p.bsteps.back() - p.bsteps[k]) < kFlatStart * run) return false;
    Symptom s = make(SymptomKind::plateau, p.name, p.bsteps[k], p.steps.back(), Severity::warning,
                     "the loss fell from " + general(p.y.front(), 4) + " to " + level + ", never below it, and stays "
                         "there from " + step_text(p.bsteps[k]) + " (" +
                         percent(static_cast<double>(p.bsteps.back() - p.bsteps[k]) / std::max(run, 1.0), 1) +
                         " of the run): the model predicts a constant");
    s.advice = kStuckAdvice;
    out.push_back(std::move(s));
    return true;
  }
  Symptom s = make(SymptomKind::plateau, p.name, p.bsteps[k], p.steps.back(), Severity::warning,
                   "the loss had reached " + general(p.smooth[low], 4) + " at " + step_text(p.bsteps[low]) +
                       ", came back up to " + level + ", and stays there from " + step_text(p.bsteps[k]) + " (" +
                       percent(static_cast<double>(p.bsteps.back() - p.bsteps[k]) / std::max(run, 1.0), 1) +
                       " of the run): the model predicts a constant");
  s.advice = kStuckAdvice;
  out.push_back(std::move(s));
  return true;
}

// Whether evaluations fall clearly, not by a low one in a scattering curve:
// the median of their last quarter at least `drop` below that of their first
// quarter, by more than twice their scatter (the median relative change from
// one evaluation to the next). At least 4 positive values.
bool falls_clearly(const std::vector<double>& v, double drop) {
  if (v.size() < 4) return false;
  for (double x : v)
    if (!(x > 0)) return false;
  const std::size_t q = std::max<std::size_t>(1, v.size() / 4);
  const double first = median(std::vector<double>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(q)));
  const double last = median(std::vector<double>(v.end() - static_cast<std::ptrdiff_t>(q), v.end()));
  std::vector<double> change;
  for (std::size_t i = 1; i < v.size(); ++i) change.push_back(std::abs(v[i] - v[i - 1]) / v[i - 1]);
  const double fall = 1 - last / first;
  return fall >= drop && fall > 2 * median(change);
}

// The start of a curve as a flat stretch: its first `k` points keep the
// smoothed loss within plateau_drop of `start`; `longer` when they cover
// kFlatStart of the run or more (all of it when k = m); `fell` when the fall
// after them stands out of the noise: the flat stretch's median against the
// end level, by kRiseNoiseZ standard errors of the two (a few scattering
// batches dip by chance), each phase kStartPoints long at least; `late` when
// fewer than kStartPoints points follow the flat stretch (a fall in the last
// few points, which no test can tell from their noise).
struct FlatStart {
  std::size_t k = 0;
  bool longer = false, fell = false, late = false;
  double z = 0;  // the fall in standard errors (0 when a phase is too short)
};

FlatStart flat_start(const Prepared& p, double start, const DiagnoseOptions& o) {
  const std::size_t m = p.m();
  FlatStart f;
  const double below = start - o.plateau_drop * std::abs(start);
  while (f.k < m && p.smooth[f.k] >= below) ++f.k;
  const double span = static_cast<double>(p.bsteps.back() - p.bsteps.front());
  f.longer = span > 0 && (f.k == m || static_cast<double>(p.bsteps[f.k] - p.bsteps.front()) >= kFlatStart * span);
  f.late = f.k < m && f.k + kStartPoints > m;
  if (f.k >= kStartPoints && f.k + kStartPoints <= m) {
    const double flat = median(std::vector<double>(p.by.begin(), p.by.begin() + static_cast<std::ptrdiff_t>(f.k)));
    // The fall from the flat stretch to the end, as a rise read backwards.
    f.z = rise_in_noise(p.by, false, p.end_level(), static_cast<double>(std::min(p.head(), m)), flat,
                        static_cast<double>(f.k));
    f.fell = f.z >= kRiseNoiseZ;
  }
  return f;
}

// `diverged`: the loss is diverging, so only a loss that froze is judged (a
// rise is no failure to make progress).
void detect_plateau(const Prepared& p, const Prepared* val, const DiagnoseOptions& o, const std::optional<Stuck>& stuck,
                    bool diverged,
                    std::vector<std::string>& notes, std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  if (m < o.min_points) return;
  // The best level after the loss settled: a low in its first kSettle share
  // (a bounce while a rate too high throws it about, before it sticks) that it
  // never reaches again is no progress.
  const std::size_t settled = settled_points(m);
  const double best = *std::min_element(p.smooth.begin() + static_cast<std::ptrdiff_t>(std::min(settled, m - 1)), p.smooth.end());
  // The start is the median of the first points, which noise cannot fake: of
  // the first 2% of the run, or of its first kStartPoints when higher (a run
  // that converged within its first 1% made its progress there; at
  // initialisation the loss is about the same on every batch). When the first
  // kStartShare of the run has no downward trend (Mann-Kendall p >= kNoTrend
  // over kStartTrendPoints or more), no progress was made there, and the
  // median of all of it is the start: the median of a noisy curve's first few
  // points is a coin toss between its highs and its lows. The first value
  // is the start when it stands out of the noise, far above the best, and a
  // descent starts from it (but see below for a first value that stands out
  // alone).
  double start = p.start_level();
  start = std::max(start, median(std::vector<double>(
                              p.y.begin(), p.y.begin() + static_cast<std::ptrdiff_t>(std::min(kStartPoints, p.y.size())))));
  {
    const std::size_t h = std::min(m, std::max(kStartPoints, (m + kStartShareInverse - 1) / kStartShareInverse));
    const std::span<const double> head(p.by.data(), h);
    if (h >= kStartTrendPoints && mann_kendall(head).p_decreasing >= kNoTrend)
      start = median(std::vector<double>(head.begin(), head.end()));
  }
  const double y0 = p.y.front();
  const bool first_stands_out = y0 > start && y0 - best > kFirstValueNoise * noise_sd(p.by);
  // ... when it is the start of a descent: the first 5% of the run is that one
  // point, or the loss keeps falling after it (a downward trend, Mann-Kendall
  // p < significance). A loss that goes from a blown-up first value (a first
  // epoch's mean inflated by its first batches) straight to a level it then
  // holds made no progress from there.
  bool descent = p.y.size() < 2 * kStartShareInverse || p.by.size() < 4;
  // After a first value blown up kBlownUp times above the level that follows
  // it, the descent must be progress: the points after it fall by
  // plateau_drop from their own start (a significant drift of 3% after a
  // blown-up first epoch is a level held, not learning). A first value
  // nearer the rest (a fresh model's loss before a fast first step) needs
  // only the trend.
  bool blown_first = false;
  if (first_stands_out && !descent) {
    const std::size_t k = std::min(p.by.size() - 1, std::max<std::size_t>(3, p.by.size() / 50));
    const double rest_start = median(std::vector<double>(p.by.begin() + 1, p.by.begin() + 1 + static_cast<std::ptrdiff_t>(k)));
    blown_first = rest_start > 0 && y0 >= kBlownUp * rest_start;
    descent = mann_kendall(std::span<const double>(p.by).subspan(1)).p_decreasing < o.significance &&
              (!blown_first || rest_start - best >= o.plateau_drop * std::abs(rest_start));
  }
  // The start of a descent is its first value, unless that value alone
  // stands out: a first epoch's mean inflated by its first batches, the
  // second point already at the level of the first 1/kStartShareInverse of
  // the run (within plateau_drop of their median). Then the start is that
  // level, as a person reads the curve (a curve that creeps down 10% from
  // there over most of the run is a slow start, not a fast first step),
  // unless the first value stands kFirstEpochLearned times above it: the
  // model learned most of what it did in its first epoch (progress). A
  // descent through several points (a fast first 5% that then converges) is
  // progress from its first value.
  if (first_stands_out && descent) {
    start = y0;
    const std::size_t share = (m + kStartShareInverse - 1) / kStartShareInverse;
    if (share > 1) {
      const double head = median(std::vector<double>(p.by.begin(), p.by.begin() + static_cast<std::ptrdiff_t>(share)));
      const bool alone = std::abs(p.by[1] - head) <= o.plateau_drop * std::abs(head);
      if (alone && y0 < kFirstEpochLearned * head) start = head;
    }
  }
  const double drop = (start - best) / std::max(std::abs(start), 1e-12);
  // No progress: the smoothed loss never fell plateau_drop below its start,
  // or it stayed within that for a long flat start (kFlatStart of the run),
  // what came after does not stand out of the noise and the whole curve has
  // no downward trend, not even a weak one (Mann-Kendall p >= kNoTrend): the
  // passing dips of a loss held at one level. A fall in the last few points
  // after the flat stretch (`late`) is no progress either, whatever the trend
  // test makes of it.
  const FlatStart flat = flat_start(p, start, o);
  const bool dips_only = drop >= o.plateau_drop && flat.longer && !flat.fell &&
                         (flat.late || mann_kendall(p.by).p_decreasing >= kNoTrend);
  const bool no_progress = drop < o.plateau_drop || dips_only;
  const auto no_progress_text = [&] {
    if (!dips_only) return "never fell more than " + percent(std::max(drop, 0.0), 1) + " below its start " + general(start, 4);
    return "stayed within " + percent(o.plateau_drop, 1) + " of its start " + general(start, 4) + " for " +
           (flat.k == m ? std::string("the whole run") : "the first " + percent(p.position(p.bsteps[flat.k]), 1) + " of the run") +
           ", and what came after does not stand out of its noise (end level " + general(p.end_level(), 4) +
           (flat.z > 0 ? ", " + general(flat.z, 3) + " standard errors below the flat stretch, " +
                             general(kRiseNoiseZ, 2) + " needed"
                       : std::string()) +
           ")";
  };
  const std::int64_t a = p.bsteps.front(), b = p.steps.back();
  const bool frozen = stuck && !stuck->causes.empty();
  std::string stuck_ev;
  if (frozen) {
    stuck_ev = describe_stuck(p, *stuck);
    for (const auto& c : stuck->causes) stuck_ev += "; " + c;
  }
  // A log that starts after more steps than it covers continues a run that
  // trained before it (resumed from a checkpoint, or fine-tuned with the step
  // count carried over, as Lightning and the Hugging Face Trainer do): its
  // first point is no fresh model's loss, and the log cannot show what the
  // run learned before.
  const std::int64_t first_step = p.steps.front(), covered = p.steps.back() - p.steps.front();
  const bool resumed = !o.from_scratch && first_step > 0 && first_step >= covered;
  // A start below kTrainedStart ln C (C = --classes, else 2, the fewest): a
  // model that had learned already, unless the user says the run starts from
  // scratch.
  const int fresh_classes = std::max(o.classes, 2);
  const double trained_below = kTrainedStart * std::log(static_cast<double>(fresh_classes));
  const bool trained_start = !o.from_scratch && (o.pretrained || (start > 0 && start < trained_below));
  if (no_progress && !diverged && !frozen && resumed) {
    notes.push_back(p.name + " is logged from " + step_text(first_step) + ", after more steps than the log covers (" +
                    std::to_string(covered) + "): a run that continues earlier training (resumed, or fine-tuned with "
                    "its step count carried over); that it improved little from there (best " + general(best, 4) +
                    ", start " + general(start, 4) + ") is not a plateau (if it starts from a fresh model, "
                    "--from-scratch judges it)");
    return;
  }
  if (no_progress && !diverged && !frozen && trained_start && o.pretrained) {
    notes.push_back(p.name + " improved little from its start " + general(start, 4) + " (best " + general(best, 4) +
                    "), but the run starts from a trained model (--pretrained, or a PEFT adapter beside the log): "
                    "fine-tuning that improves little is not a plateau (if it starts from a fresh model, "
                    "--from-scratch judges it)");
    return;
  }
  if (no_progress && !diverged && !frozen && trained_start) {
    notes.push_back(p.name + " starts at " + general(start, 4) + ", below " + general(trained_below, 4) + " (" +
                    percent(kTrainedStart, 1) + " of ln " + std::to_string(fresh_classes) +
                    ", where a freshly initialised classifier" +
                    (o.classes > 1 ? " of " + std::to_string(o.classes) + " classes" : std::string()) +
                    " starts): a model "
                    "that had learned already (fine-tuning, a resumed run); that it improved little (best " +
                    general(best, 4) + ") is not a plateau (if the run starts from a fresh model, "
                    "--from-scratch judges it)");
    return;
  }
  if (no_progress && !diverged && !frozen && val != nullptr && val->m() >= kValLearnedPoints) {
    // A validation loss (the whole validation set, not a batch) that fell
    // from its first evaluation to well below anything the training loss
    // reached says the model learned: the training points did not show it (a
    // few sampled batches, noisy labels, dropout). (A validation loss that
    // falls from a first evaluation above the chance level to it, while the
    // training loss sits there too, is no progress.)
    const std::size_t vb = argmin(val->smooth, 1, val->m() - 1);
    const double vfirst = val->by.front(), vbest = val->smooth[vb];
    if (vfirst > 0 && vfirst - vbest > o.plateau_drop * vfirst && vbest < (1 - o.plateau_drop) * best &&
        falls_clearly(val->y, o.plateau_drop)) {
      notes.push_back(p.name + " " + no_progress_text() + ", but " + val->name + " fell from " + general(vfirst, 4) + " to " +
                      general(vbest, 4) + " (" + step_text(val->bsteps[vb]) + "): the model learned; not a plateau");
      return;
    }
  }
  // From a blown-up first value the loss went straight to a level: a
  // collapse onto a uniform guess says more (dead units), and otherwise the
  // stall starts at the second point.
  const bool held_after_first = blown_first && !descent;
  if (held_after_first && no_progress && !diverged && !frozen && collapsed_to_guess(p, o, out)) return;
  if (no_progress && !diverged) {
    const TrendTest t = mann_kendall(p.by);
    Symptom s = make(SymptomKind::plateau, p.name, held_after_first && p.steps.size() > 1 ? p.steps[1] : a, b,
                     Severity::warning,
                     "the smoothed loss " + no_progress_text() + " (best " + general(best, 4) + ", end " + general(p.end_level(), 4) +
                         "; Mann-Kendall z = " + general(t.z, 4) + ")" +
                         (held_after_first ? "; the first value " + general(y0, 4) +
                                                 " is left out: a first epoch inflated by its first batches, " +
                                                 general(y0 / start, 3) + "x the level after it"
                                           : std::string()) +
                         (frozen ? "; " + stuck_ev : std::string()));
    if (frozen) s.advice = kStuckAdvice;
    out.push_back(std::move(s));
    return;
  }
  if (frozen) {
    Symptom s = make(SymptomKind::plateau, p.name, p.steps[stuck->first], b, Severity::warning, stuck_ev);
    s.advice = kStuckAdvice;
    out.push_back(std::move(s));
    return;
  }
  if (collapsed_to_guess(p, o, out)) return;
  // A long flat start: the smoothed loss stays within plateau_drop of its
  // start for kFlatStart of the run or more before it finally falls (a rate
  // too low at first, a symmetric or saturated initialisation, a warm-up that
  // lasts too long): half the run spent learning nothing. Not for a model
  // that had learned already (a start below kTrainedStart ln C), whose slow
  // fine-tuning is no failure to start.
  if (!diverged && !resumed && !trained_start && flat.longer && flat.fell) {
    out.push_back(make(SymptomKind::plateau, p.name, a, p.bsteps[flat.k], Severity::warning,
                       "the smoothed loss stayed within " + percent(o.plateau_drop, 1) + " of its start " +
                           general(start, 4) + " for the first " + percent(p.position(p.bsteps[flat.k]), 1) +
                           " of the run, to " + step_text(p.bsteps[flat.k]) + ", before it fell (best " +
                           general(best, 4) + "): a slow start"));
    return;
  }
  // With --classes: a loss that ends within 10% of ln C and sits there, its
  // smoothed curve within kGuessFlat of its end level over the last
  // kGuessStretch of the run or more (a loss that still swings around that
  // level is no model stuck at a uniform guess).
  if (o.classes > 1 && !diverged) {
    const double chance = std::log(static_cast<double>(o.classes));
    const double end = p.end_level();
    const std::size_t flat = flat_tail(p, end);  // the flat final stretch is [flat, m)
    const double span = static_cast<double>(p.bsteps.back() - p.bsteps.front());
    const bool sits = flat < m && static_cast<double>(p.bsteps.back() - p.bsteps[flat]) >= kGuessStretch * span;
    if (std::abs(end - chance) <= 0.1 * chance && sits) {
      std::vector<std::uint8_t> near(m);
      for (std::size_t k = 0; k < m; ++k) near[k] = std::abs(p.smooth[k] - chance) <= 0.1 * chance;
      const std::size_t onset = std::min(persistent_onset(near, kOnsetPersistence), m - 1);
      out.push_back(make(SymptomKind::plateau, p.name, p.bsteps[onset], b, Severity::warning,
                         "the loss ends at " + general(end, 4) + ", within 10% of ln(" + std::to_string(o.classes) +
                             ") = " + general(chance, 4) + ", the loss of a uniform guess over the classes, from " +
                             step_text(p.bsteps[onset]) + " on, and stays within " + percent(kGuessFlat, 1) +
                             " of that level from " + step_text(p.bsteps[flat]) + " (" +
                             percent(static_cast<double>(p.bsteps.back() - p.bsteps[flat]) / span, 1) +
                             " of the run)"));
    }
  }
}

// Median of v[first, last) (a copy; for the few points that are spike candidates).
double median_of(const std::vector<double>& v, std::size_t first, std::size_t last) {
  return median(std::vector<double>(v.begin() + static_cast<std::ptrdiff_t>(first),
                                    v.begin() + static_cast<std::ptrdiff_t>(last)));
}

// Whether the learning rate (series `lr`) was restarted in the kLrWindow
// share of the run up to `step`: it rose kLrJump-fold or more back to a rate
// the run had used before (a warm restart, which the loss follows up and back
// down). A rise to a rate never used before is a bump, not a schedule.
bool lr_restarted_before(const logs::Series* lr, const Prepared& p, std::int64_t step) {
  if (lr == nullptr || lr->size() < 2) return false;
  const auto w = static_cast<std::int64_t>(kLrWindow * static_cast<double>(p.steps.back() - p.steps.front()));
  double before = NAN, earlier = 0, peak = 0;
  for (std::size_t i = 0; i < lr->size(); ++i) {
    const std::int64_t s = lr->steps[i];
    const double v = lr->values[i];
    if (!std::isfinite(v)) continue;
    if (s <= step - w - 1) {
      before = v;  // the last rate before the window
      earlier = std::max(earlier, v);
    } else if (s <= step) {
      peak = std::max(peak, v);
    }
  }
  return before > 0 && peak >= kLrJump * before && peak <= kLrSameRate * earlier;
}

void detect_spikes(const Prepared& p, const logs::Series* lr, const DiagnoseOptions& o,
                   std::vector<std::string>& notes, std::vector<Symptom>& out) {
  const std::size_t n = p.y.size();
  if (n < o.min_points) return;
  const bool positive = p.positive;
  // The band before a point: the kSpikeBand share of the run before it (at
  // least kSpikeBandMin points), ending kSpikeGap points before it, so that a
  // jump that takes a step or two is judged against the level it left.
  const std::size_t band = std::max(kSpikeBandMin, static_cast<std::size_t>(kSpikeBand * static_cast<double>(n)));
  // The scale the curve is read in: logarithmic for a positive curve spanning
  // more than two decades (a jump of decades is a spike however small it looks
  // on a linear plot).
  const auto [lo, hi] = std::minmax_element(p.y.begin(), p.y.end());
  const bool log_scale = positive && *hi / *lo > kLogScaleSpan;
  auto seen = [&](double v) { return log_scale ? std::log(v) : v; };
  const std::size_t back_within = std::max(kSpikeBackMin, static_cast<std::size_t>(kSpikeBack * static_cast<double>(n)));
  struct Spike {
    std::size_t start, peak, back;  // back: where it was back down
    double level;                   // the median of the band before it
  };
  std::vector<Spike> spikes;
  std::size_t scheduled = 0;  // jumps that follow a rise of the learning rate
  // The running maximum of the band (a monotone deque of indices): a point
  // must stand spike_band times above it, which rules out all but a few points
  // before any median is taken.
  std::deque<std::size_t> top;
  std::size_t added = 0;  // points [0, added) have entered the band
  for (std::size_t i = kSpikeGap + 1; i < n; ++i) {
    const std::size_t end = i - kSpikeGap;  // the band is [end - band, end)
    for (; added < end; ++added) {
      while (!top.empty() && p.y[top.back()] <= p.y[added]) top.pop_back();
      top.push_back(added);
    }
    while (!top.empty() && top.front() + band < end) top.pop_front();
    if (top.empty()) continue;
    const double band_top = p.y[top.front()];
    const std::size_t from = end > band ? end - band : 0;
    const bool stands_out = positive ? p.y[i] >= o.spike_band * band_top
                                     : p.y[i] > band_top;  // refined against the level below
    if (!stands_out) continue;
    const double level = median_of(p.y, from, end);
    if (positive ? p.y[i] < o.spike_ratio * level
                 : p.y[i] - level < o.spike_band * (band_top - level) || band_top <= level)
      continue;
    // The jump's peak: the highest point while it stays above the band, within
    // the reach a spike has to come back in (a loss that started below all
    // its later values would otherwise make the rest of the run one jump).
    std::size_t peak = i, j = i;
    while (j + 1 < n && j + 1 <= i + back_within && p.y[j + 1] > band_top) {
      ++j;
      if (p.y[j] > p.y[peak]) peak = j;
    }
    // Back down: a median of kSpikeBackPoints points within back_within
    // points after the peak is down by kSpikeBackShare of the jump (on the
    // scale the curve is read in).
    const double down_to = seen(p.y[peak]) - kSpikeBackShare * (seen(p.y[peak]) - seen(level));
    std::size_t back = 0;
    for (std::size_t k = peak + 1; k + kSpikeBackPoints <= n && k + kSpikeBackPoints <= peak + 1 + back_within; ++k)
      if (seen(median_of(p.y, k, k + kSpikeBackPoints)) <= down_to) {
        back = k;
        break;
      }
    if (back > 0) {
      if (lr_restarted_before(lr, p, p.steps[i])) ++scheduled;
      else spikes.push_back({i, peak, back, level});
    }
    // The rest of this jump is the same spike, up to where it was back down
    // (the points after it are judged against a band that holds it); or a
    // level shift.
    i = std::max(i, back > 0 ? back : j);
  }
  if (scheduled > 0)
    notes.push_back(std::to_string(scheduled) + " jump" + (scheduled == 1 ? "" : "s") + " of " + p.name +
                    " right after a warm restart of the learning rate (it rose " + general(kLrJump, 4) +
                    "-fold or more, back to a rate used before), recovered: not counted as spikes");
  if (spikes.empty()) return;
  // Spikes of the first steps (warm-up, the first batches of a fresh model)
  // are transient: the loss is still settling.
  const double early_end = static_cast<double>(p.steps.front()) +
                           o.spike_early_fraction * static_cast<double>(p.steps.back() - p.steps.front());
  std::size_t early = 0;
  while (early < spikes.size() && static_cast<double>(p.steps[spikes[early].start]) <= early_end) ++early;
  auto ratio = [&](const Spike& s) { return positive ? p.y[s.peak] / s.level : p.y[s.peak] - s.level; };
  auto describe = [&](const Spike& s) {
    return general(p.y[s.peak], 4) + " at " + step_text(p.steps[s.peak]) + " is " +
           (positive ? general(p.y[s.peak] / s.level, 4) + "x the level " + general(s.level, 4) + " before it"
                     : general(p.y[s.peak] - s.level, 4) + " above the level " + general(s.level, 4) + " before it");
  };
  auto largest = [&](auto first, auto last) {
    return *std::max_element(first, last, [&](const Spike& a, const Spike& b) { return ratio(a) < ratio(b); });
  };
  const std::string scale_text =
      log_scale ? "on a log scale: the loss spans " + general(std::log10(*hi / *lo), 4) + " decades" : "on a linear scale";
  if (early == spikes.size()) {
    notes.push_back(std::to_string(spikes.size()) + " transient " + (spikes.size() == 1 ? "spike" : "spikes") +
                    " of " + p.name + " in the first " + percent(o.spike_early_fraction, 1) + " of the run (the largest " +
                    describe(largest(spikes.begin(), spikes.end())) + "), recovered and not repeated: not counted");
    return;
  }
  const std::span<const Spike> late(spikes.data() + early, spikes.size() - early);
  std::int64_t longest = 0;
  for (const auto& s : late) longest = std::max(longest, p.steps[s.back] - p.steps[s.start]);
  const std::int64_t first = p.steps[late.front().start], last = p.steps[late.back().start];
  std::string ev = std::to_string(late.size()) + (late.size() == 1 ? " spike" : " spikes") + " (judged " + scale_text +
                   "); the largest " + describe(largest(late.begin(), late.end())) + "; " +
                   (late.size() == 1 ? "it" : "each") + " came back down within " + std::to_string(longest) +
                   " steps (transient)";
  if (late.size() > 1)
    ev += ", and they recur from " + step_text(first) + " to " + step_text(last) + " (" + percent(p.position(last), 1) +
          " into the run)";
  if (early > 0) ev += "; " + std::to_string(early) + " more in the first " + percent(o.spike_early_fraction, 1) + ", not counted";
  // The range ends at the last point of the last spike that was still up.
  out.push_back(make(SymptomKind::spike, p.name, first, p.steps[std::max(late.back().peak, late.back().back - 1)],
                     Severity::warning, ev));
}

void detect_overfitting(const Prepared& v, const Prepared* train, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = v.m();
  if (m < 5) return;
  // The best: the lowest running median (one low evaluation in a scattering
  // curve is not the best), before the last evaluations that show the rise.
  const std::size_t b = argmin(v.smooth, 0, m - 1);
  const std::size_t last = std::max<std::size_t>(kOverfitEndPoints, (m + 4) / 5);
  if (b >= m - last) return;
  const double best = v.smooth[b];
  // Where it ends: the median of its last 20% of evaluations (a rise over one
  // or two evaluations is noise until it lasts).
  const double end = median(std::vector<double>(v.by.end() - static_cast<std::ptrdiff_t>(last), v.by.end()));
  const double rise = end - best;
  if (rise < o.overfit_rise * std::max(std::abs(best), 1e-12)) return;
  // Out of its noise: the rise against the standard error of the difference of
  // two medians (of the best's window and of the end) of a curve this noisy.
  const std::size_t window = std::max<std::size_t>(3, m / 10) | 1;
  const double sd = noise_sd(v.by);
  const double se = kMedianEfficiency * sd * std::sqrt(1.0 / static_cast<double>(std::min(window, m)) +
                                                       1.0 / static_cast<double>(last));
  // A rise out of its noise (see `se`), or a rise of kOverfitBandRise or more
  // that stands above the band the evaluations from the best on scatter in
  // (their interquartile range): a curve of a few evaluations, whose second
  // differences are mostly its bend, not its noise, shows it that way.
  const std::vector<double> after(v.by.begin() + static_cast<std::ptrdiff_t>(b), v.by.end());
  const bool banded = after.size() >= kOverfitBandPoints;
  const double band = banded ? quantile(after, 0.75) - quantile(after, 0.25) : 0.0;
  const std::int64_t sb = v.bsteps[b], se_step = v.bsteps[m - 1];
  std::string train_ev;
  bool memorising = false, train_falling = true;
  if (train != nullptr && train->m() >= 3) {
    // The training loss must not rise with it (that is divergence): its end
    // level against its level at the best validation step, the curve as a
    // person sees it there (the median of 5% of its points around that step;
    // a window as wide as the validation's would reach into the training
    // loss's own later fall and call a flat one rising).
    std::size_t nearest = 0;
    for (std::size_t i = 0; i < train->m(); ++i)
      if (std::abs(train->bsteps[i] - sb) < std::abs(train->bsteps[nearest] - sb)) nearest = i;
    const std::size_t reach = std::max<std::size_t>(1, (train->m() + 10) / 20) / 2;
    const std::vector<double> at_best(
        train->by.begin() + static_cast<std::ptrdiff_t>(nearest >= reach ? nearest - reach : 0),
        train->by.begin() + static_cast<std::ptrdiff_t>(std::min(train->m(), nearest + reach + 1)));
    const double then = median(at_best), now = train->end_level();
    if (now >= kTrainRiseWithVal * then) return;  // training loss rising too: not overfitting
    memorising = then > 0 && now >= 0 && now <= kMemorising * then;
    train_falling = now <= then;
    train_ev = " while the training loss went from " + general(then, 4) + " to " + general(now, 4) +
               (memorising ? " (it is memorising the training set)" : "");
  }
  const bool above_band = (rise >= kOverfitBandRise * std::max(std::abs(best), 1e-12) && rise >= band) ||
                          (memorising && rise >= kMemorisingBands * band);
  // Or the evaluations from the best on climb while the training loss ends no
  // higher than it was at the best: a significant upward trend (Mann-Kendall)
  // is no scatter, however noisy its single evaluations.
  const TrendTest climb = after.size() >= kOverfitTrendPoints ? mann_kendall(after) : TrendTest{};
  const bool climbing = train_falling && climb.p_increasing < o.significance;
  if (rise < o.overfit_noise_z * se && !above_band && !climbing) return;
  out.push_back(make(SymptomKind::overfitting, v.name, sb, se_step, Severity::warning,
                     "validation loss rose from its best " + general(best, 4) + " at step " + std::to_string(sb) + " to " +
                         general(end, 4) + " over its last " + std::to_string(last) + " evaluations (+" +
                         percent(rise / std::max(std::abs(best), 1e-12), 1) + ", " + general(rise / std::max(se, 1e-300), 4) +
                         " standard errors of its noise" +
                         (rise >= o.overfit_noise_z * se ? ""
                          : above_band && !banded ? ", over " + percent(kOverfitBandRise, 1) + " of the best with only " +
                                                        std::to_string(after.size()) +
                                                        " evaluations from the best on, too few for their scatter"
                          : above_band ? ", above the interquartile range " + general(band, 4) +
                                             " of the evaluations from the best on"
                                       : ", but the " + std::to_string(after.size()) +
                                             " evaluations from the best on climb: Mann-Kendall " + pval(climb.p_increasing)) +
                         ")" + train_ev +
                         "; best checkpoint: step " + std::to_string(sb)));
}

// The exploding rule on one gradient-norm curve: it reaches exploding_growth
// times its usual level (the larger of its early median and its median over
// the run, so a norm that grew early and settled is not exploding) at
// kExplodingPoints points or more after the run's first kExplodingSettle (one
// fewer before the first non-finite value), or its level at the end is
// exploding_growth^2 times its early level.
struct Growth {
  double early = 0, usual = 0, late = 0, peak = 0;
  std::size_t above = 0;   // points at exploding_growth x the usual level
  std::size_t onset = 0;   // index into y: the first of them (or of the sustained rise)
  bool sustained = false;  // the end-level rule
  bool exploding = false;
};

Growth growth_of(const Prepared& g, const DiagnoseOptions& o) {
  Growth r;
  const std::size_t n = g.y.size();
  if (g.m() < 3) return r;
  r.early = g.head_level();
  r.usual = std::max(r.early, median(thinned(g.y.begin(), g.y.end())));
  r.late = g.end_level();
  r.peak = *std::max_element(g.y.begin(), g.y.end());
  if (!(r.early > 0)) return r;
  const std::size_t after = static_cast<std::size_t>(kExplodingSettle * static_cast<double>(n));
  const double high = o.exploding_growth * r.usual;
  for (std::size_t i = after; i < n; ++i)
    if (g.y[i] >= high && r.above++ == 0) r.onset = i;
  const std::size_t needed = g.first_bad != SIZE_MAX ? kExplodingPoints - 1 : kExplodingPoints;
  r.sustained = r.late >= o.exploding_growth * o.exploding_growth * r.early;
  if (r.above < needed && r.sustained) {
    // A sustained rise starts where it first reached exploding_growth x its early level.
    r.onset = after;
    while (r.onset + 1 < n && g.y[r.onset] < o.exploding_growth * r.early) ++r.onset;
  }
  // A norm that turns non-finite right after a last finite value at
  // exploding_growth^2 times its usual level or more blew up within a point or
  // two: orders of magnitude before a NaN are no noise. Onset: the first of
  // the last points at exploding_growth times the usual level.
  const bool before_nan = g.first_bad != SIZE_MAX && g.y.back() >= o.exploding_growth * high;
  if (before_nan && !(r.above >= needed || r.sustained)) {
    r.onset = n - 1;
    while (r.onset > after && g.y[r.onset - 1] >= high) --r.onset;
  }
  r.exploding = r.above >= needed || r.sustained || before_nan;
  return r;
}

std::string growth_text(const Prepared& g, const Growth& gr, const DiagnoseOptions& o) {
  return "median " + general(gr.early, 4) + " early, " + general(gr.late, 4) + " late (x" + general(gr.late / gr.early, 4) + "), peak " +
         general(gr.peak, 4) + "; " + std::to_string(gr.above) + " points at " + general(o.exploding_growth, 4) +
         "x its usual level " + general(gr.usual, 4) + " or more; from " + step_text(g.steps[gr.onset]) + " (" +
         percent(g.position(g.steps[gr.onset]), 1) + " into the run)";
}

// `converged`: the loss reached a fixed point, so a gradient norm that fell is
// the convergence itself, not a gradient that vanished.
bool detect_gradients(const Prepared& g, const Prepared* loss, bool converged, const DiagnoseOptions& o,
                      std::vector<Symptom>& out) {
  const std::size_t m = g.m();
  if (m < o.min_points) return false;
  const Growth gr = growth_of(g, o);
  if (gr.exploding)
    out.push_back(make(SymptomKind::exploding_gradient, g.name, g.steps[gr.onset], g.steps.back(), Severity::error,
                       "the gradient norm exploded: " + growth_text(g, gr, o)));
  // Each rule on its own: a blow-up that kills the units leaves no gradient
  // after it (judged from the explosion on).
  if (loss == nullptr || loss->m() < o.min_points || converged) return gr.exploding;
  const double ls = loss->start_level(), le = loss->end_level();
  const double loss_drop = (ls - le) / std::max(std::abs(ls), 1e-12);
  if (gr.early > 0 && gr.late <= o.vanishing_ratio * gr.early && loss_drop < kStalledLossDrop) {
    std::size_t from = 0;
    if (gr.exploding)
      while (from + 1 < m && g.bsteps[from] < g.steps[gr.onset]) ++from;
    const std::size_t onset = g.rise_start(from, /*falling=*/true);
    out.push_back(make(SymptomKind::vanishing_gradient, g.name, g.bsteps[onset], g.steps.back(), Severity::warning,
                       "gradient norm fell from a median of " + general(gr.early, 4) + " early to " + general(gr.late, 4) +
                           " late (x" + general(gr.late / gr.early, 4) + ") from " + step_text(g.bsteps[onset]) +
                           " on, while the loss fell only " + percent(std::max(loss_drop, 0.0), 1)));
  }
  return gr.exploding;
}

// A log too short for the trend rules (fewer than min_points finite points)
// whose loss turns non-finite after climbing: its last finite value is
// kShortRise times its lowest or more, the lowest before it; or, ending
// finite, kShortClimb times it (two decades in a few points are no noise).
// Onset: where it leaves its bottom for good (the last point within
// kLeaveBottom of the rise, on a log scale when the points span more than two
// decades).
constexpr double kShortRise = 2.0;
constexpr double kShortClimb = 100.0;
bool detect_short_divergence(const Prepared& p, std::vector<Symptom>& out) {
  const std::size_t n = p.y.size();
  if (n < 3) return false;
  const bool turned = p.first_bad != SIZE_MAX;
  const std::size_t b = static_cast<std::size_t>(std::min_element(p.y.begin(), p.y.end()) - p.y.begin());
  const double lowest = p.y[b], last = p.y.back();
  if (!(lowest > 0) || b + 1 >= n || last < (turned ? kShortRise : kShortClimb) * lowest) return false;
  const bool log_scale = *std::max_element(p.y.begin(), p.y.end()) > kLogScaleSpan * lowest;
  auto seen = [&](double v) { return log_scale ? std::log(v) : v; };
  std::size_t onset = b;
  for (std::size_t k = b; k < n; ++k)
    if (seen(p.y[k]) - seen(lowest) <= kLeaveBottom * (seen(last) - seen(lowest))) onset = k;
  out.push_back(make(SymptomKind::divergence, p.name, p.steps[onset], turned ? p.bad_step : p.steps.back(),
                     Severity::error,
                     "the loss rose from " + general(lowest, 4) + " at " + step_text(p.steps[b]) + " to " +
                         general(last, 4) + " at " + step_text(p.steps.back()) + " (x" + general(last / lowest, 4) +
                         (log_scale ? ", on a log scale" : "") + ")" +
                         (turned ? " and turned non-finite at " + step_text(p.bad_step) : std::string()) +
                         ", leaving its bottom at " + step_text(p.steps[onset]) + " (a log too short for the usual rule)"));
  return true;
}

// A log too short for the gradient rules (fewer than min_points finite
// points) that ends in a blow-up: the gradient norm's last finite value is
// exploding_growth^2 times its first or more, and the gradient norm or the
// loss turns non-finite after it, or the loss climbed by kShortClimb
// (`loss_climbed`). Orders of magnitude in a few points are no noise; onset:
// the first point at exploding_growth times the first.
bool detect_short_blow_up(const Prepared& g, const Prepared& loss, bool loss_climbed, const DiagnoseOptions& o,
                          std::vector<Symptom>& out) {
  const std::size_t n = g.y.size();
  const bool turned = g.first_bad != SIZE_MAX || loss.first_bad != SIZE_MAX;
  if (n < 3 || (!turned && !loss_climbed)) return false;
  const double first = g.y.front(), last = g.y.back();
  if (!(first > 0) || last < o.exploding_growth * o.exploding_growth * first) return false;
  std::size_t onset = 1;
  while (onset < n && g.y[onset] < o.exploding_growth * first) ++onset;
  const std::int64_t bad = g.first_bad != SIZE_MAX ? g.bad_step : loss.bad_step;
  out.push_back(make(SymptomKind::exploding_gradient, g.name, g.steps[onset], g.steps.back(), Severity::error,
                     "the gradient norm exploded: from " + general(first, 4) + " at " + step_text(g.steps.front()) +
                         " to " + general(last, 4) + " at " + step_text(g.steps.back()) + " (x" +
                         general(last / first, 4) + ") in " + std::to_string(n) + " finite points, " +
                         (turned ? "before the first non-finite value at " + step_text(bad)
                                 : "while the loss climbed by two decades or more") +
                         " (a log too short for the usual rule)"));
  return true;
}

// Biases and normalisation parameters (LayerNorm/BatchNorm scale and shift)
// carry small gradients by nature; the layer comparison is between weights.
bool is_bias_or_norm(const std::string& layer) {
  std::string l(layer);
  for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::size_t a = 0;
  while (a <= l.size()) {
    std::size_t b = l.find_first_of("._/-", a);
    if (b == std::string::npos) b = l.size();
    const std::string t = l.substr(a, b - a);
    if (t == "bias" || t == "b" || t == "beta" || t == "gamma" || t.find("norm") != std::string::npos) return true;
    // ln, ln1, ln_f, bn2, gn: normalisation layers by their usual short names
    if (t.size() >= 2 && (t[0] == 'l' || t[0] == 'b' || t[0] == 'g') && t[1] == 'n' &&
        std::all_of(t.begin() + 2, t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return true;
    a = b + 1;
  }
  return false;
}

// Median of the last half of a curve's finite values: the state a run ends in.
double late_median(const Prepared& p) {
  return median(thinned(p.y.begin() + static_cast<std::ptrdiff_t>(p.y.size() / 2), p.y.end()));
}

// Where `a` is below `ratio` times `b`, at the steps both curves have.
struct Below {
  std::vector<std::uint8_t> flags;
  std::vector<std::int64_t> at;  // the steps of `flags`

  Below(const Prepared& a, const Prepared& b, double ratio) {
    for (std::size_t i = 0, j = 0; i < a.y.size() && j < b.y.size();) {
      if (a.steps[i] < b.steps[j]) ++i;
      else if (b.steps[j] < a.steps[i]) ++j;
      else {
        flags.push_back(a.y[i] < ratio * b.y[j]);
        at.push_back(a.steps[i]);
        ++i, ++j;
      }
    }
  }
  // The share of the shared steps where it is below (0 when there are none).
  double share() const {
    const std::size_t below = static_cast<std::size_t>(std::count(flags.begin(), flags.end(), 1));
    return flags.empty() ? 0.0 : static_cast<double>(below) / static_cast<double>(flags.size());
  }
  // The step from which it stays below, or `fallback` with fewer than
  // `min_points` shared steps. Each step is judged by the majority of the
  // steps around it (a window of 10% of them): the ratio of two mini-batch
  // norms scatters across the line from point to point, and a stretch where
  // most points are below is one stretch.
  std::int64_t from(std::size_t min_points, std::int64_t fallback) const {
    const std::size_t n = flags.size();
    if (n < min_points) return fallback;
    const std::size_t half = std::max<std::size_t>(1, (n + 5) / 10) / 2;
    std::vector<std::uint8_t> mostly(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t a0 = i >= half ? i - half : 0, a1 = std::min(n, i + half + 1);
      std::size_t count = 0;
      for (std::size_t j = a0; j < a1; ++j) count += flags[j];
      mostly[i] = 2 * count > a1 - a0;
    }
    const std::size_t k = persistent_onset(mostly, kOnsetPersistence);
    return k < n ? at[k] : fallback;
  }
};

// Per-layer gradient norms: a layer that gets almost none of the gradient while
// the loss stalls (vanishing), and a layer whose gradient explodes when no
// global norm is logged.
void detect_layers(const logs::Run& run, const logs::Roles& roles, const Prepared& loss, const Prepared* grad,
                   bool global_exploded, std::int64_t until, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  struct Layer {
    std::string layer;
    Prepared p;
    double late = 0;
    bool weight = true;
  };
  std::vector<Layer> layers;
  for (std::size_t i = 0; i < roles.tensor_grad_norms.size(); ++i) {
    const logs::Series* s = run.find(roles.tensor_grad_norms[i]);
    if (s == nullptr) continue;
    Layer l;
    l.layer = i < roles.tensor_names.size() ? roles.tensor_names[i] : s->name;
    l.p = prepare(*s, o.max_trend_points, until);
    if (l.p.y.size() < o.min_points) continue;
    l.late = late_median(l.p);
    l.weight = !is_bias_or_norm(l.layer);
    layers.push_back(std::move(l));
  }
  if (layers.empty()) return;
  auto named = [](const Layer& l) { return l.layer == l.p.name ? l.p.name : l.layer + " (" + l.p.name + ")"; };

  // Vanishing: while the loss stalls, the smallest weight layer against the
  // largest one and against the global norm.
  if (loss.m() >= o.min_points) {
    const double ls = loss.start_level(), le = loss.end_level();
    const double loss_drop = (ls - le) / std::max(std::abs(ls), 1e-12);
    const Layer *lo = nullptr, *hi = nullptr;
    for (const auto& l : layers) {
      if (!l.weight) continue;
      if (lo == nullptr || l.late < lo->late) lo = &l;
      if (hi == nullptr || l.late > hi->late) hi = &l;
    }
    const double total = grad != nullptr && grad->y.size() >= o.min_points ? late_median(*grad) : 0.0;
    if (lo != nullptr && loss_drop < kStalledLossDrop) {
      const double to_layer = hi != lo && hi->late > 0 ? lo->late / hi->late : INFINITY;
      const double to_total = total > 0 ? lo->late / total : INFINITY;
      const bool vs_total = to_total < o.vanishing_ratio;
      // ... at half of the logged points or more: a layer that dies late in
      // a run that blew up (dead units after a divergence) is the
      // divergence's consequence, not a gradient that never reached it.
      const std::optional<Below> below =
          std::min(to_layer, to_total) < o.vanishing_ratio
              ? std::optional<Below>(std::in_place, lo->p, vs_total ? *grad : hi->p, o.vanishing_ratio)
              : std::nullopt;
      if (below && below->share() >= kVanishingShare) {
        const std::int64_t onset = below->from(o.min_points, lo->p.steps.front());
        const std::string stalled = " while the loss fell only " + percent(std::max(loss_drop, 0.0), 1) + " (" + general(ls, 4) +
                                    " to " + general(le, 4) + "): ";
        std::string ev;
        if (lo->late == 0) {
          // Exactly zero: dead units upstream, or a layer cut off from the loss.
          ev = named(*lo) + " gets no gradient at all from " + step_text(onset) +
               " on (0, median over the last half; " +
               (total > 0 ? "the global gradient norm " + grad->name + " is " + general(total, 4)
                          : "the largest layer's, " + named(*hi) + ", is " + general(hi->late, 4)) +
               ")" + stalled + "dead units or a detached layer stop the gradient before " + lo->layer;
        } else {
          ev = "the gradient norm of " + named(*lo) + " is " + general(lo->late, 4) + " (median over the last half)";
          if (total > 0) ev += ", " + general(to_total, 4) + " of the global gradient norm " + grad->name + " (" + general(total, 4) + ")";
          if (hi != lo && hi->late > 0)
            ev += (total > 0 ? " and " : ", ") + general(to_layer, 4) + " of the largest layer's, " + named(*hi) + " (" +
                  general(hi->late, 4) + ")";
          ev += ", below " + general(o.vanishing_ratio, 4) + " of it from " + step_text(onset) + " on," + stalled +
                "almost no gradient reaches " + lo->layer;
        }
        out.push_back(make(SymptomKind::vanishing_gradient, lo->p.name, onset, lo->p.steps.back(), Severity::warning, ev));
      }
    }
  }

  // Exploding: the global rule on each layer, for a layer that comes to
  // dominate; reported once, for the layer whose peak stands highest. Only
  // without a global norm to judge: a layer that explodes dominates the global
  // norm, which then shows it; one whose norm jumps tenfold in ratio while the
  // global norm holds is a small layer's scatter (a deep network's first
  // layers at 1e-4 of the rest), not a gradient that blows up training.
  if (global_exploded || (grad != nullptr && grad->y.size() >= o.min_points)) return;
  double largest = 0;
  for (const auto& l : layers) largest = std::max(largest, l.p.end_level());
  const Layer* worst = nullptr;
  Growth worst_growth;
  std::size_t count = 0;
  for (const auto& l : layers) {
    const Growth gr = growth_of(l.p, o);
    if (!gr.exploding || std::max(gr.late, gr.peak) < o.exploding_layer_share * largest) continue;
    ++count;
    if (worst == nullptr || gr.peak / gr.usual > worst_growth.peak / worst_growth.usual) worst = &l, worst_growth = gr;
  }
  if (worst == nullptr) return;
  out.push_back(make(SymptomKind::exploding_gradient, worst->p.name, worst->p.steps[worst_growth.onset], worst->p.steps.back(),
                     Severity::error,
                     "the gradient norm of " + named(*worst) + " exploded: " + growth_text(worst->p, worst_growth, o) +
                         "; " + std::to_string(count) + " of " + std::to_string(layers.size()) +
                         " layers' gradient norms did"));
}

// At most one loss point per epoch: the epoch's own loss (logged at its last
// step, every epoch) or a step sampled every N steps of mini-batch training (a
// single batch's loss, or a mean over N steps, which scatter as batches do). A
// log of several steps an epoch that skips epochs between points, or whose
// points fall inside epochs (not at the last step the log records for their
// epoch, or at a fractional epoch, as the Hugging Face Trainer logs every N
// steps), is the second.
bool sampled_within_epochs(const logs::Series& epoch, const Prepared& loss) {
  std::map<double, std::int64_t> end;  // epoch -> the last step the log records for it
  for (std::size_t i = 0; i < epoch.size(); ++i) {
    if (!std::isfinite(epoch.values[i])) continue;  // (a NaN key would break the map's order)
    auto [it, fresh] = end.emplace(epoch.values[i], epoch.steps[i]);
    if (!fresh) it->second = std::max(it->second, epoch.steps[i]);
  }
  // Steps an epoch: full-batch training (one step an epoch) logged every N
  // steps skips epochs, but each point is still the whole data's loss.
  std::vector<double> per_epoch;
  for (auto it = end.begin(), prev = it; it != end.end(); prev = it++)
    if (it != prev) per_epoch.push_back(double(it->second - prev->second) / (it->first - prev->first));
  if (per_epoch.empty() || median(per_epoch) <= 1.5) return false;
  std::size_t skips = 0, inside = 0, judged = 0;
  double previous = std::numeric_limits<double>::quiet_NaN();
  std::size_t j = 0;
  for (const std::int64_t s : loss.steps) {
    while (j + 1 < epoch.size() && epoch.steps[j + 1] <= s) ++j;
    if (epoch.steps[j] > s) continue;
    const double e = epoch.values[j];
    if (!std::isfinite(e)) continue;
    ++judged;
    skips += e - previous > 1.5 ? 1 : 0;
    inside += end[e] != s || std::abs(e - std::round(e)) > 1e-6 ? 1 : 0;
    previous = e;
  }
  return judged >= 2 && (skips > judged / 4 || inside > judged / 2);
}

// Whether the last half of the training points `y` scatters (relative to its
// level) kBatchScatter times as much as the last half of the validation
// series `val` and by at least kMeanNoise: batches, not the model, move it.
bool batch_scatter(const std::vector<double>& y, const logs::Series& val) {
  const double train = late_relative_noise(y);
  return train >= kMeanNoise && train >= kBatchScatter * late_relative_noise(val.values);
}

// Training-loss points per epoch: from an `epoch` series logged with the loss
// (1 when the step is the epoch; 0 when the points are sampled batches), else
// 1 when a validation loss is logged at every point; 0 when the log does not
// say, or when one point an epoch scatters as single batches do (batch_scatter).
std::size_t points_per_epoch(const logs::Run& run, const logs::Roles& roles, const Prepared& loss) {
  std::string step(run.step_name);
  for (auto& ch : step) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (step == "epoch") return 1;
  const logs::Series* val = roles.val_loss.empty() ? nullptr : run.find(roles.val_loss);
  auto scattered = [&] { return val != nullptr && batch_scatter(loss.y, *val); };
  if (const logs::Series* e = run.find("epoch"); e != nullptr && e->size() > 0) {
    // Epoch of each loss point, by step (both in step order in the usual log).
    std::vector<std::size_t> counts;
    std::size_t j = 0, count = 0;
    double current = std::numeric_limits<double>::quiet_NaN();
    for (const std::int64_t s : loss.steps) {
      while (j + 1 < e->size() && e->steps[j + 1] <= s) ++j;
      if (e->steps[j] > s) continue;
      const double epoch = e->values[j];
      if (epoch != current) {
        if (count > 0) counts.push_back(count);
        current = epoch;
        count = 0;
      }
      ++count;
    }
    if (count > 0) counts.push_back(count);
    if (counts.size() >= 2) {
      const auto per = static_cast<std::size_t>(median(std::vector<double>(counts.begin(), counts.end())));
      if (per >= 2) return per;
      return sampled_within_epochs(*e, loss) || scattered() ? 0 : 1;
    }
  }
  // A validation at every logged point: a per-epoch log (or full-batch
  // training evaluated at every step). A validation every k >= 2 points is an
  // evaluation interval, not necessarily an epoch (val_check_interval, an
  // eval_every of a hand-written loop): the epochs are not known.
  // Unless the training points scatter where the validation loss, on fixed
  // data at the same steps, does not: a model that swings moves both, so such
  // points are single batches (or means of a few) of minibatch training,
  // logged every few steps.
  if (val != nullptr && val->size() >= 3) return (loss.y.size() + val->size() / 2) / val->size() > 1 || scattered() ? 0 : 1;
  return 0;
}

// A log holding several runs one after another (DETR's log.txt is opened to
// append, as is Keras's CSVLogger(append=True)): the training loss's step goes
// back to its first step or below, between 1 and kMaxAppendedRuns - 1 times
// (more restarts are a counter within epochs, not runs). A run of one point
// is followed by the same step again; a log's first two points at one step
// are one point logged twice. Each series keeps its points from its own last
// restart on; nullopt when the log holds one run.
constexpr std::size_t kMaxAppendedRuns = 10;

std::size_t restart_count(const logs::Series& s, std::size_t* last = nullptr) {
  std::size_t n = 0;
  for (std::size_t i = 1; i < s.steps.size(); ++i)
    if ((s.steps[i] < s.steps[i - 1] || (i >= 2 && s.steps[i] == s.steps[i - 1])) && s.steps[i] <= s.steps[0]) {
      ++n;
      if (last) *last = i;
    }
  return n;
}

std::optional<logs::Run> last_appended_run(const logs::Run& run, const logs::Series& loss, std::string& note) {
  std::size_t at = 0;
  const std::size_t restarts = restart_count(loss, &at);
  if (restarts == 0 || restarts + 1 >= kMaxAppendedRuns) return std::nullopt;
  logs::Run out = run;
  for (auto& s : out.series) {
    std::size_t from = 0;
    if (restart_count(s, &from) == 0) continue;
    s.steps.erase(s.steps.begin(), s.steps.begin() + static_cast<std::ptrdiff_t>(from));
    s.values.erase(s.values.begin(), s.values.begin() + static_cast<std::ptrdiff_t>(from));
  }
  note = run.source + " holds " + std::to_string(restarts + 1) + " runs one after another (the step of " + loss.name +
         " goes back to " + std::to_string(loss.steps[at]) + " at its point " + std::to_string(at + 1) +
         "): the last, from that point on, is diagnosed";
  return out;
}

Curve make_curve(const logs::Series& s, const std::string& role) {
  Curve c;
  c.name = s.name;
  c.role = role;
  c.points = s.size();
  const StepOrder order = step_order(s);
  // The finite values in step order: the series itself when it is in order
  // and finite (the usual case for a long log: no copy), else a copy.
  bool all_finite = order.sorted();
  for (std::size_t k = 0; all_finite && k < s.size(); ++k) all_finite = std::isfinite(s.values[k]);
  std::vector<double> copy;
  if (!all_finite) {
    copy.reserve(s.size());
    for (std::size_t k = 0; k < s.size(); ++k) {
      const double v = s.values[order[k]];
      if (std::isfinite(v)) copy.push_back(v);
      else ++c.non_finite;
    }
  }
  const std::vector<double>& f = all_finite ? s.values : copy;
  if (s.size() > 0) {
    c.first_step = s.steps[order[0]];
    c.last_step = s.steps[order[s.size() - 1]];
  }
  if (!f.empty()) {
    c.first = f.front();
    c.last = f.back();
    c.min = *std::min_element(f.begin(), f.end());
    c.max = *std::max_element(f.begin(), f.end());
    const std::size_t buckets = std::min<std::size_t>(48, f.size());
    for (std::size_t b = 0; b < buckets; ++b) {
      const std::size_t lo = b * f.size() / buckets, hi = (b + 1) * f.size() / buckets;
      double sum = 0;
      for (std::size_t i = lo; i < hi; ++i) sum += f[i];
      c.shape.push_back(sum / static_cast<double>(hi - lo));
    }
  }
  return c;
}

bool is_lossish(const std::string& name) {
  std::string l(name);
  for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return l.find("loss") != std::string::npos;
}

// The per-epoch twin of a per-step loss column: `<name>_epoch` beside
// `<name>_step` (PyTorch Lightning's `on_step` and `on_epoch` logging of one
// value), or nullptr.
const logs::Series* epoch_twin(const logs::Run& run, const std::string& loss) {
  constexpr std::string_view kStep = "_step";
  if (loss.size() <= kStep.size() || !loss.ends_with(kStep)) return nullptr;
  return run.find(loss.substr(0, loss.size() - kStep.size()) + "_epoch");
}

// A reinforcement-learning log judged on its critic's loss: the note says so,
// and each symptom of that loss says what the episode return did over the
// same steps, since a critic's targets grow with the returns. A critic's loss
// that rises while the returns rise is told apart, in its severity and
// advice, from one that rises while they do not. The returns are read as a
// person sees them: the smoothed trend view (at most max_trend_points bucket
// medians) of prepare().
void reinforcement_context(const logs::Run& run, const DiagnoseOptions& o, RunDiagnosis& d) {
  if (!d.roles.critic) return;
  std::string note = "a reinforcement-learning log: judged on the critic's loss " + d.roles.loss +
                     ", a regression to targets that grow with the returns";
  if (!d.roles.policy_loss.empty())
    note += "; the policy's loss " + d.roles.policy_loss +
            " has no floor to converge to (minus a Q-value, or a surrogate near zero) and is not judged";
  d.notes.push_back(note);
  const logs::Series* series = d.roles.episode_return.empty() ? nullptr : run.find(d.roles.episode_return);
  if (series == nullptr) return;
  const Prepared ret = prepare(*series, o.max_trend_points);
  if (ret.m() < 3) return;
  const auto [lo, hi] = std::minmax_element(ret.smooth.begin(), ret.smooth.end());
  const double range = *hi - *lo, end = ret.end_level();
  if (!(range > 0)) return;
  for (auto& s : d.symptoms) {
    if (s.metric != d.roles.loss || s.kind == SymptomKind::nan || s.kind == SymptomKind::overfitting) continue;
    // The returns where the symptom began, and their peak since.
    const std::size_t at = static_cast<std::size_t>(
        std::lower_bound(ret.bsteps.begin(), ret.bsteps.end(), s.step_start) - ret.bsteps.begin());
    const std::size_t k = std::min(at, ret.m() - 1);
    // (Five points around it: the smoothed curve's wide window would reach
    // far into a fast early rise.)
    const double from = median_of(ret.by, k >= 2 ? k - 2 : 0, std::min(ret.m(), k + 3));
    const std::size_t top = static_cast<std::size_t>(
        std::max_element(ret.smooth.begin() + static_cast<std::ptrdiff_t>(k), ret.smooth.end()) - ret.smooth.begin());
    const double peak = ret.smooth[top];
    const bool peaked = peak - from >= 0.25 * range && peak - end >= 0.5 * range;
    const bool falling = !peaked && from - end >= 0.1 * range;
    const bool rose = end - from >= 0.1 * range;
    s.evidence += "; over the same steps the episode return " + d.roles.episode_return + " went from " +
                  general(from, 4) + " to " + general(end, 4) +
                  (peaked    ? " after a peak of " + general(peak, 4) + " at " + step_text(ret.bsteps[top]) +
                                   " (the policy got worse)"
                   : falling ? " (falling: the policy got worse)"
                   : rose    ? " (rising)"
                             : " (not rising)");
    // A critic's loss growing with returns that rise is worth a look, not
    // an error.
    if (rose) s.severity = Severity::warning;
    if (s.kind == SymptomKind::divergence)
      s.advice = rose ? "the critic's targets grew with the returns: compare its value estimates with the "
                        "discounted returns; estimates far above them are overestimation (lower the critic's "
                        "learning rate, update the target network more slowly, clipped double-Q); a critic's loss "
                        "that keeps growing after the returns level off is diverging"
                      : "the critic is diverging while the returns do not improve: lower its learning rate by 10x, "
                        "clip its gradients, scale or clip the rewards, and update the target network more slowly";
  }
}

// A generative adversarial network's losses, judged as LABELLING.md reads
// them: neither has a floor to converge to, and a generator's adversarial
// loss commonly climbs while its discriminator learns, so only two failures
// are read from them (on losses that never go negative: a Wasserstein
// critic's estimate has no sign; a printed 0.0000 is a loss rounded to 0):
//  - the discriminator wins: its level over the last 10% of its points is
//    below kGanWonShare of its start (the higher of its first value and the
//    level of its first 5%: a discriminator may win within them), its curve
//    as seen (a running median over 5% of the points) stays below that over
//    the last kGanWonStretch of the run or more, and the generator's end
//    level is at or above its start: the generator's gradients vanish;
//  - else a blow-up: either loss ends at kGanBlowUp times its start or more (an
//    adversarial drift stays within a few times), from the first step where
//    its curve as seen stays at 2x its start or more.
constexpr double kGanWonShare = 0.1;
constexpr double kGanWonStretch = 0.2;
constexpr double kGanBlowUp = 10.0;

// The levels the GAN rules read, on the points as logged when there are at
// most kGanRawPoints of them (the rules are written for the points; a
// running median of bucket medians is not the running median of the points,
// and one spike averaged into its bucket can lift the curve), else on the
// trend view.
constexpr std::size_t kGanRawPoints = 20000;

struct GanLevels {
  bool signless = false;  // no value below 0, and a start above 0
  double start = 0, end = 0;
  const std::vector<double>* values = nullptr;
  const std::vector<std::int64_t>* steps = nullptr;
  std::vector<double> seen;  // the curve as seen, over *values
};

GanLevels gan_levels(const Prepared& p) {
  GanLevels g;
  const bool raw = p.y.size() <= kGanRawPoints;
  g.values = raw ? &p.y : &p.by;
  g.steps = raw ? &p.steps : &p.bsteps;
  const std::vector<double>& v = *g.values;
  const std::size_t m = v.size();
  if (m == 0) return g;
  const std::size_t head = std::max<std::size_t>(1, (m + 19) / 20), tail = std::max<std::size_t>(1, (m + 9) / 10);
  g.start = std::max(p.y.front(), median_of(v, 0, head));
  g.signless = g.start > 0 && std::all_of(v.begin(), v.end(), [](double x) { return x >= 0; });
  g.end = median_of(v, m - tail, m);
  g.seen = seen_curve(v);
  return g;
}

// The first index from which `holds` is true of every point of `seen` to the
// end (seen.size() when the last point fails it).
template <class Holds>
std::size_t holds_to_end(const std::vector<double>& seen, Holds holds) {
  std::size_t k = seen.size();
  while (k > 0 && holds(seen[k - 1])) --k;
  return k;
}

void detect_adversarial(const Prepared& g, const Prepared& dis, std::vector<Symptom>& out) {
  if (g.y.size() < 3 || dis.y.size() < 3) return;
  const GanLevels gl = gan_levels(g), dl = gan_levels(dis);
  constexpr const char* kWonAdvice =
      "the discriminator overpowers the generator, whose gradients vanish: lower the discriminator's learning "
      "rate or update it less often, use the non-saturating generator loss (fake samples labelled real), one-sided "
      "label smoothing or instance noise, or a Wasserstein loss with gradient penalty";
  constexpr const char* kBlowUpAdvice =
      "lower both learning rates (Adam with beta1 = 0.5 and a rate of 2e-4 is the usual start), and constrain the "
      "discriminator (spectral normalisation, a gradient penalty, gradient clipping)";
  const std::vector<std::int64_t>& ds = *dl.steps;
  const double span = static_cast<double>(ds.back() - ds.front());
  if (dl.signless && gl.signless && dl.end < kGanWonShare * dl.start && gl.end >= gl.start) {
    const std::size_t k = holds_to_end(dl.seen, [&](double v) { return v < kGanWonShare * dl.start; });
    if (k < ds.size() && static_cast<double>(ds.back() - ds[k]) >= kGanWonStretch * span) {
      Symptom s = make(SymptomKind::divergence, g.name, ds[k], g.steps.back(), Severity::error,
                       "the discriminator won: " + dis.name + " fell from " + general(dl.start, 4) + " to " +
                           general(dl.end, 4) + " (" + percent(dl.end / dl.start, 1) + " of its start), below " +
                           percent(kGanWonShare, 1) + " of it from " + step_text(ds[k]) + " to the end, while " +
                           g.name + " ends at " + general(gl.end, 4) + ", above its start " + general(gl.start, 4) +
                           ": the generator gets no useful gradient");
      s.advice = kWonAdvice;
      out.push_back(std::move(s));
      return;  // the generator's climb, however steep, is the discriminator's win
    }
  }
  for (const auto* p : {&g, &dis}) {
    const GanLevels& l = p == &g ? gl : dl;
    if (!l.signless || l.end < kGanBlowUp * l.start) continue;
    const std::size_t k = std::min(holds_to_end(l.seen, [&](double v) { return v >= 2 * l.start; }), l.seen.size() - 1);
    Symptom s = make(SymptomKind::divergence, p->name, (*l.steps)[k], p->steps.back(), Severity::error,
                     p->name + " blew up: from " + general(l.start, 4) + " to " + general(l.end, 4) + " (" +
                         general(l.end / l.start, 3) + "x its start; at 2x or more from " + step_text((*l.steps)[k]) +
                         " on)");
    s.advice = kBlowUpAdvice;
    out.push_back(std::move(s));
  }
}

}  // namespace

namespace {
// The contract's spelling of each SymptomKind, in the enum's order.
constexpr const char* kSymptomKindNames[] = {"nan",         "divergence",         "oscillation",
                                             "plateau",     "overfitting",        "exploding_gradient",
                                             "vanishing_gradient", "spike",       "initial_loss_mismatch",
                                             "cannot_overfit_batch"};
static_assert(std::size(kSymptomKindNames) == static_cast<std::size_t>(SymptomKind::cannot_overfit_batch) + 1);
}  // namespace

const char* to_string(SymptomKind k) noexcept {
  const auto i = static_cast<std::size_t>(k);
  return i < std::size(kSymptomKindNames) ? kSymptomKindNames[i] : "?";
}

SymptomKind symptom_kind_from_string(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kSymptomKindNames); ++i)
    if (name == kSymptomKindNames[i]) return static_cast<SymptomKind>(i);
  throw std::invalid_argument("unknown symptom kind '" + std::string(name) + "'");
}

std::string advice_for(SymptomKind kind) {
  switch (kind) {
    case SymptomKind::nan:
      return "lower the learning rate by 10x and clip gradients (e.g. global norm 1.0); look for log(0), "
           "division by zero or sqrt of 0 in the loss, and for NaN or inf in the input data";
    case SymptomKind::divergence:
      return "lower the learning rate by 10x (or add warm-up), clip gradients, and check input scaling";
    case SymptomKind::oscillation:
      return "lower the learning rate by 3-10x or increase the batch size; use a decaying schedule";
    case SymptomKind::plateau:
      return "check that the loss is wired to the outputs and labels (overfit one batch first), raise the learning "
           "rate by 3-10x, check the initialisation and input scaling";
    case SymptomKind::overfitting:
      return "stop at the best validation step (early stopping) and add regularisation: weight decay, dropout, "
           "data augmentation or more data";
    case SymptomKind::exploding_gradient:
      return "clip gradients, lower the learning rate by 10x, and check the initialisation (He/Xavier scale) and "
           "normalisation layers";
    case SymptomKind::vanishing_gradient:
      return "use ReLU-family activations instead of sigmoid/tanh in deep stacks, He/Xavier initialisation, "
           "normalisation layers or residual connections";
    case SymptomKind::spike:
      return "clip gradients and look at the batches at those steps (bad samples, label errors); with Adam, a larger "
           "epsilon or a lower learning rate";
    case SymptomKind::initial_loss_mismatch:
    case SymptomKind::cannot_overfit_batch:
      break;  // the active checks write their own advice
  }
  return "";
}

RunDiagnosis diagnose(const logs::Run& input, const DiagnoseOptions& o) {
  RunDiagnosis d;
  d.source = input.source;
  d.roles = logs::recognise_roles(input, o.columns);
  // Several runs appended to one log: the last is diagnosed.
  std::string appended;
  const std::optional<logs::Run> last =
      d.roles.loss.empty() ? std::nullopt : last_appended_run(input, *input.find(d.roles.loss), appended);
  const logs::Run& run = last ? *last : input;
  if (last) d.notes.push_back(appended);
  d.metrics = run.metric_names();
  d.steps = run.distinct_steps();
  if (d.roles.loss.empty()) {
    std::string have;
    for (const auto& s : run.series) have += (have.empty() ? "" : ", ") + s.name;
    throw InputError(run.source, "no training loss series recognised (the log has: " +
                                     (have.empty() ? std::string("no numeric series") : have) +
                                     "); name one with --loss-col");
  }

  const Prepared loss = prepare(*run.find(d.roles.loss), o.max_trend_points);
  // A loss that stopped changing: frozen (a symptom, with plateau) or at a
  // fixed point that full-batch training reaches when it converges, after
  // which gradient norms are rounding noise.
  const std::optional<Stuck> stuck = loss.y.size() >= o.min_points ? find_stuck(loss, run, o) : std::nullopt;
  const bool converged = stuck && stuck->causes.empty();
  const std::int64_t until = converged ? loss.steps[stuck->first] : std::numeric_limits<std::int64_t>::max();
  std::optional<Prepared> val, grad;
  if (!d.roles.val_loss.empty()) val = prepare(*run.find(d.roles.val_loss), o.max_trend_points);
  if (!d.roles.grad_norm.empty()) grad = prepare(*run.find(d.roles.grad_norm), o.max_trend_points);

  // Non-finite values: the training and validation loss, the gradient norm and
  // every other loss-like series (auxiliary losses of multi-task runs).
  detect_nan(loss, d.symptoms);
  if (val) detect_nan(*val, d.symptoms);
  if (grad) detect_nan(*grad, d.symptoms);
  for (const auto& s : run.series)
    if (s.name != d.roles.loss && s.name != d.roles.val_loss && is_lossish(s.name)) {
      bool bad = false;
      for (double v : s.values)
        if (!std::isfinite(v)) {
          bad = true;
          break;
        }
      if (bad) detect_nan(prepare(s, o.max_trend_points), d.symptoms);
    }

  // A generative adversarial network: its two losses play a game, and only
  // the failures detect_adversarial reads are judged on them.
  const bool adversarial = !d.roles.discriminator_loss.empty();
  std::optional<Prepared> dis;
  if (adversarial) {
    dis = prepare(*run.find(d.roles.discriminator_loss), o.max_trend_points);
    if (!is_lossish(dis->name)) detect_nan(*dis, d.symptoms);
    d.notes.push_back("a generative adversarial network: judged on the generator's loss " + d.roles.loss +
                      " and the discriminator's " + d.roles.discriminator_loss +
                      ", which play a game and have no floor to converge to; only a discriminator that wins (its "
                      "loss near zero while the generator's does not fall) and a blow-up are read from them, not "
                      "plateaus, oscillation, spikes or overfitting");
  }
  bool short_climb = false;
  if (adversarial) {
    detect_adversarial(loss, *dis, d.symptoms);
  } else if (loss.y.size() < o.min_points) {
    // Only a climb into a non-finite value, or by orders of magnitude, can be
    // told from so few points.
    short_climb = detect_short_divergence(loss, d.symptoms);
    d.notes.push_back("only " + std::to_string(loss.y.size()) + " finite points of " + loss.name +
                      ": too few to judge trends (at least " + std::to_string(o.min_points) + " needed)");
  } else {
    // Each rule on its own: a run that diverges may oscillate too, one that
    // oscillates may never have made progress.
    const bool diverged = detect_divergence(loss, o, d.symptoms, !d.roles.critic);
    // Swings are judged on the curve a person reads for them: where the loss
    // is a per-step column beside its per-epoch twin (Lightning's
    // `train_loss_step` and `train_loss_epoch`), the epoch means; the step
    // column holds single batches, whose scatter is no oscillation.
    // An epoch of a few batches (2 to kSwingGroup - 1 steps) still scatters:
    // its means are averaged over enough epochs to hold kSwingGroup batches,
    // as the step column's would be. One step an epoch is full-batch
    // training: its points are the curve.
    const logs::Series* twin = epoch_twin(run, d.roles.loss);
    std::optional<Prepared> epochs;
    if (twin != nullptr) epochs = prepare(*twin, o.max_trend_points);
    if (epochs && epochs->m() >= o.min_points) {
      std::vector<double> gaps;
      for (std::size_t i = 1; i < epochs->steps.size(); ++i)
        gaps.push_back(static_cast<double>(epochs->steps[i] - epochs->steps[i - 1]));
      const double batches = median(gaps);
      const std::size_t means_of =
          batches >= 2 && batches < static_cast<double>(kSwingGroup)
              ? static_cast<std::size_t>(std::ceil(static_cast<double>(kSwingGroup) / batches))
              : 1;
      detect_oscillation(*epochs, 1, o, d.symptoms, means_of);
    } else {
      detect_oscillation(loss, points_per_epoch(run, d.roles, loss), o, d.symptoms, 0, val ? &*val : nullptr);
    }
    detect_plateau(loss, val ? &*val : nullptr, o, stuck, diverged, d.notes, d.symptoms);
    const logs::Series* lr = d.roles.lr.empty() ? nullptr : run.find(d.roles.lr);
    const std::size_t before_spikes = d.symptoms.size();
    detect_spikes(loss, lr, o, d.notes, d.symptoms);
    // A per-step column logged every few batches holds only the batches it
    // sampled: a bad batch between them shows in its epoch's mean alone.
    if (d.symptoms.size() == before_spikes && epochs && epochs->m() >= o.min_points) {
      std::vector<std::string> twin_notes;
      detect_spikes(*epochs, lr, o, twin_notes, d.symptoms);
      if (d.symptoms.size() > before_spikes) d.notes.insert(d.notes.end(), twin_notes.begin(), twin_notes.end());
    }
  }
  if (converged) {
    d.notes.push_back(describe_stuck(loss, *stuck) +
                      ": a full-batch run that converged to a fixed point, or a model whose output stopped "
                      "changing; nothing logged says which (no sudden stop, no constant prediction's loss, no dead "
                      "units), not counted; gradient norms are judged before it");
    if (grad) grad = prepare(*run.find(d.roles.grad_norm), o.max_trend_points, until);
  }
  if (val && !adversarial) {
    if (val->y.size() < 5)
      d.notes.push_back("only " + std::to_string(val->y.size()) + " finite points of " + val->name +
                        ": too few to judge overfitting");
    else
      detect_overfitting(*val, loss.m() > 0 ? &loss : nullptr, o, d.symptoms);
  }
  bool exploded = false;
  if (grad) {
    if (grad->y.size() < o.min_points) {
      exploded = detect_short_blow_up(*grad, loss, short_climb, o, d.symptoms);
      if (!exploded)
        d.notes.push_back("only " + std::to_string(grad->y.size()) + " finite points of " + grad->name +
                          ": too few to judge gradients");
    } else {
      exploded = detect_gradients(*grad, &loss, converged, o, d.symptoms);
    }
  }
  detect_layers(run, d.roles, loss, grad ? &*grad : nullptr, exploded, until, o, d.symptoms);
  reinforcement_context(run, o, d);

  d.curves.push_back(make_curve(*run.find(d.roles.loss), "loss"));
  if (!d.roles.val_loss.empty()) d.curves.push_back(make_curve(*run.find(d.roles.val_loss), "val_loss"));
  if (adversarial) d.curves.push_back(make_curve(*run.find(d.roles.discriminator_loss), "discriminator_loss"));
  if (!d.roles.grad_norm.empty()) d.curves.push_back(make_curve(*run.find(d.roles.grad_norm), "grad_norm"));
  if (!d.roles.lr.empty()) d.curves.push_back(make_curve(*run.find(d.roles.lr), "lr"));
  if (!d.roles.episode_return.empty())
    d.curves.push_back(make_curve(*run.find(d.roles.episode_return), "episode_return"));
  return d;
}

Report diagnose_logs(const std::vector<std::string>& paths, const logs::ReadOptions& read,
                     const DiagnoseOptions& options, int threads, bool keep_logs) {
  const std::size_t n = paths.size();
  Report out;
  out.runs.resize(n);
  if (keep_logs) out.logs.resize(n);
  std::vector<std::exception_ptr> errors(n);
  gradcheck::internal::parallel_for(n, threads, [&](std::size_t i, std::size_t) {
    try {
      logs::Run run = logs::read_log(paths[i], read);
      const logs::LogContext context = logs::read_log_context(paths[i]);
      DiagnoseOptions o = options;
      if (o.classes == 0) o.classes = context.classes;
      o.pretrained = o.pretrained || !context.base_model.empty();
      out.runs[i] = diagnose(run, o);
      out.runs[i].notes.insert(out.runs[i].notes.begin(), context.notes.begin(), context.notes.end());
      if (keep_logs) out.logs[i] = std::move(run);
    } catch (...) {
      errors[i] = std::current_exception();  // kept per log: the first in path order is reported
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

Report diagnose_sources(const std::vector<std::string>& paths, const logs::ReadOptions& read,
                        const DiagnoseOptions& options, int threads, bool keep_logs) {
  const std::vector<logs::LogSource> sources = logs::expand_log_sources(paths);
  std::vector<std::string> logs;
  for (const auto& source : sources) logs.push_back(source.path);
  Report report = diagnose_logs(logs, read, options, threads, keep_logs);
  for (std::size_t i = 0; i < sources.size(); ++i)
    if (!sources[i].note.empty()) report.runs[i].notes.insert(report.runs[i].notes.begin(), sources[i].note);
  return report;
}

}  // namespace gradcheck::diag
