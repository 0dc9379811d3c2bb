#include "gradcheck/diag/diagnose.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <numeric>
#include <optional>
#include <cstdint>
#include <span>
#include <string>

#include "stats.hpp"
#include "gradcheck/errors.hpp"
#include "../core/parallel.hpp"

namespace gradcheck::diag {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
  return buf;
}
std::string pval(double p) {
  char buf[32];
  if (p < 1e-4) std::snprintf(buf, sizeof buf, "p < 1e-4");
  else std::snprintf(buf, sizeof buf, "p = %.2g", p);
  return buf;
}

// Thresholds of the detectors that are not options (DiagnoseOptions holds the
// ones worth calibrating). Each is a count, a fraction or a ratio.

// Onsets: a condition "began" at the first point from which it holds at this
// fraction of the points to the end (a few noisy exceptions allowed).
constexpr double kOnsetPersistence = 0.9;
// A loss that fell by less than this fraction of its start has stalled: the
// context in which a gradient that does not reach a layer is the cause.
constexpr double kStalledLossDrop = 0.5;
// divergence (late rise): at least this many points after the best one.
constexpr std::size_t kLateRiseMinPoints = 4;
// plateau: the run's first value is its start when it lies more than this many
// robust noise standard deviations above the best (smoothed) level.
constexpr double kFirstValueNoise = 3.0;
// plateau: the first points whose median may be the start.
constexpr std::size_t kStartPoints = 5;
// plateau (stuck loss): at least this many consecutive identical points.
constexpr std::size_t kStuckMinPoints = 10;
// A stuck stretch is judged against the steps just before it: this many.
constexpr std::size_t kStuckContext = 5;
// ... the loss was "still moving" when its median step-to-step change there
// was at least this fraction of its level (minibatch noise is ~1-10%; a
// full-batch run converging into a fixed point slows down geometrically, its
// last steps changing by ~1e-5 and less).
constexpr double kStuckMoving = 1e-3;
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
// oscillation (alternating): at least this many turns judged in the last half.
constexpr std::size_t kOscillationMinTurns = 16;
// ... and its last quarter's median step at least this fraction of the third
// quarter's: an oscillation that dies out (momentum settling) is not one.
constexpr double kOscillationSettled = 0.5;
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
// oscillation (cycles): the onset is the first step from which this share of
// the steps move by at least kCycleStepShare of the last half's median step.
constexpr double kAlternationOnset = 0.75;
constexpr double kCycleStepShare = 0.25;
// oscillation (bouncing): a bucket is inside the band the loss bounces in when
// it is below the band's 90% quantile plus this fraction of the swing.
constexpr double kBandMargin = 0.25;
// oscillation (waves): lag-1 autocorrelation of the last half's bucket medians
// at least this (independent noise: ~0), over at least this many of them ...
constexpr double kOscillationWaves = 0.6;
constexpr std::size_t kOscillationMinWavePoints = 16;
// ... whose 10-90% spread is at least this fraction of the raw swing (waves,
// not noise that the buckets average away).
constexpr double kOscillationWaveShare = 0.5;
// oscillation (no progress): the last half's median, or its mean by more than
// kNoProgressZ standard errors, is this fraction above the start.
constexpr double kNoProgressRise = 0.1;
constexpr double kNoProgressZ = 2.0;
// spike: a spike must come back down within this fraction of the run's points
// (at least 2 * kSide points); a jump that stays longer is a level shift.
constexpr double kSpikeMaxDuration = 0.05;
// ... "back down" is within this many robust standard deviations of the level
// before the spike.
constexpr double kSpikeRecoveryZ = 3.0;

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
  bool positive = true;  // every finite value > 0: judged on a log scale

  std::size_t m() const { return by.size(); }
  std::size_t head() const { return std::max<std::size_t>(3, m() / 10); }
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

// `until`: points at this step or later are left out (a gradient norm after
// the loss reached a fixed point is rounding noise).
Prepared prepare(const logs::Series& s, std::size_t max_points,
                 std::int64_t until = std::numeric_limits<std::int64_t>::max()) {
  Prepared p;
  p.name = s.name;
  p.total = s.size();
  // Logs are almost always in step order; only an unordered one pays for an index.
  const bool sorted = std::is_sorted(s.steps.begin(), s.steps.end());
  std::vector<std::size_t> order;
  if (!sorted) {
    order.resize(s.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s.steps[a] < s.steps[b]; });
  }
  p.steps.reserve(s.size());
  p.y.reserve(s.size());
  for (std::size_t k = 0; k < s.size(); ++k) {
    const std::size_t i = sorted ? k : order[k];
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
  if (s.size() > 0) p.last_step = sorted ? s.steps.back() : s.steps[order.back()];
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
  const std::size_t w = std::max<std::size_t>(3, p.by.size() / 10) | 1;
  p.smooth = running_median(p.by, w);
  return p;
}

Symptom make(const std::string& kind, const std::string& metric, std::int64_t a, std::int64_t b, Severity sev,
             std::string evidence) {
  return Symptom{kind, metric, a, b, sev, std::move(evidence), advice_for(kind)};
}

std::string step_text(std::int64_t s) { return "step " + std::to_string(s); }

void detect_nan(const Prepared& p, std::vector<Symptom>& out) {
  if (p.first_bad == SIZE_MAX) return;
  const std::string what = std::isnan(p.bad_value) ? "NaN" : p.bad_value > 0 ? "+inf" : "-inf";
  std::string ev = "first " + what + " at step " + std::to_string(p.bad_step) + "; " + std::to_string(p.bad_count) +
                   " of " + std::to_string(p.total) + " values are not finite";
  if (!p.y.empty())
    ev += "; last finite value " + num(p.y.back()) + " at step " + std::to_string(p.steps.back());
  out.push_back(make("nan", p.name, p.bad_step, p.last_step, Severity::error, ev));
}


std::size_t argmin(const std::vector<double>& v, std::size_t from, std::size_t to) {  // in [from, to]
  return static_cast<std::size_t>(std::min_element(v.begin() + static_cast<std::ptrdiff_t>(from),
                                                   v.begin() + static_cast<std::ptrdiff_t>(to) + 1) -
                                  v.begin());
}

bool detect_divergence(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  if (m < 3) return false;
  const std::int64_t last = p.steps.back();
  // Worse than at initialisation: a learning rate far too high can blow the
  // loss up within a step or two and leave it bouncing above where it started,
  // which the smoothed curve (its start already inflated) cannot show.
  const double init = p.y.front();
  if (init > 0 && p.y.size() >= o.min_points) {
    const std::vector<double> tail = thinned(p.y.begin() + static_cast<std::ptrdiff_t>(p.y.size() / 2), p.y.end());
    const double q10 = quantile(tail, 0.1), med = median(tail);
    if (q10 > init && med >= (1 + o.divergence_rise) * init) {
      // Onset: the loss went above its first value for good at bucket `above`;
      // it began rising at its best point before that, or where the rise from
      // there took off.
      std::vector<std::uint8_t> above_init(m);
      for (std::size_t k = 0; k < m; ++k) above_init[k] = p.by[k] > init;
      const std::size_t above = std::min(persistent_onset(above_init, kOnsetPersistence), m - 1);
      const std::size_t best = argmin(p.smooth, 0, above);
      const std::size_t onset = p.rise_start(best);
      out.push_back(make("divergence", p.name, p.bsteps[onset], last, Severity::error,
                         "the loss rose from " + step_text(p.bsteps[onset]) + " (smoothed " + num(p.smooth[onset]) +
                             ") and over the last half stays above its first value " + num(init) + " at " +
                             step_text(p.steps.front()) + ": median " + num(med) + " (x" + num(med / init) +
                             "), 10% quantile " + num(q10) + "; it peaked at " +
                             num(*std::max_element(p.y.begin(), p.y.end()))));
      return true;
    }
  }
  const std::size_t b = argmin(p.smooth, 0, m - 1);
  if (m - 1 - b < 2) return false;
  const double start = p.start_level(), best = p.smooth[b], end = p.smooth[m - 1];
  const double ref = std::max({std::abs(best), start - best, 1e-12});
  const double rise = end - best;
  const TrendTest t = mann_kendall(std::span<const double>(p.by).subspan(b));
  const std::string trend = "Mann-Kendall z = " + num(t.z) + ", " + pval(t.p_increasing);
  // Back to where it started, or doubled.
  if (rise >= o.divergence_rise * ref && (t.p_increasing < o.significance || rise >= 10 * o.divergence_rise * ref)) {
    const std::size_t onset = p.rise_start(b);
    out.push_back(make("divergence", p.name, p.bsteps[onset], last, Severity::error,
                       "smoothed loss rose from its best " + num(best) + " at " + step_text(p.bsteps[b]) + " to " +
                           num(end) + " at " + step_text(p.bsteps[m - 1]) + " (start " + num(start) + "; " + trend +
                           ")"));
    return true;
  }
  // A late rise: a short log whose last epochs climb steadily several-fold
  // from the best is diverging even before it is back at its start.
  if (p.positive && best > 0 && m - 1 - b >= kLateRiseMinPoints && end >= o.divergence_late_factor * best &&
      rise >= o.divergence_late_progress * (start - best) && t.p_increasing < o.significance) {
    const std::size_t onset = p.rise_start(b);
    out.push_back(make("divergence", p.name, p.bsteps[onset], last, Severity::error,
                       "smoothed loss rose steadily from its best " + num(best) + " at " + step_text(p.bsteps[b]) +
                           " to " + num(end) + " at " + step_text(p.bsteps[m - 1]) + " (x" + num(end / best) +
                           ", giving back " + pct(rise / std::max(start - best, 1e-300)) + " of its fall from " +
                           num(start) + "; " + trend + ")"));
    return true;
  }
  return false;
}

// Where a loss that moves in steps of a cycle's size over its last half (from
// index `half`) began to: the first point from which kAlternationOnset of the
// steps are at least kCycleStepShare of the last half's median step. (A cycle
// often locks in after a chaotic start: the bouncing began with the start.)
std::size_t bouncing_since(const Prepared& p, std::size_t half) {
  const std::size_t n = p.y.size();
  std::vector<double> moves;
  for (std::size_t i = half + 1; i < n; ++i) moves.push_back(std::abs(p.y[i] - p.y[i - 1]));
  const double move = median(std::move(moves));
  std::vector<std::uint8_t> large(n - 1);
  for (std::size_t i = 0; i + 1 < n; ++i) large[i] = std::abs(p.y[i + 1] - p.y[i]) >= kCycleStepShare * move;
  return std::min(persistent_onset(large, kAlternationOnset), n - 1);
}

// Cycles: full-batch training with too large a step overshoots into a fixed
// cycle of a few steps, or turns at (nearly) every step around a slowly moving
// level; independent minibatch noise turns at 2/3 of the steps and never
// repeats. Judged even in a diverging run: it says the step size is the cause.
bool detect_cycles(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t n = p.y.size();
  if (p.m() < o.min_points) return false;
  const std::size_t half = n / 2;
  std::size_t turns = 0, judged = 0;
  std::vector<double> moves3, moves4;  // |change| per step in the third and fourth quarter (a thinning)
  const std::size_t q3 = half + (n - half) / 2;
  const std::size_t stride = std::max<std::size_t>(1, (n - half) / 100000);
  for (std::size_t i = half + 1; i + 1 < n; ++i) {
    const double d1 = p.y[i] - p.y[i - 1], d2 = p.y[i + 1] - p.y[i];
    if (d1 != 0 && d2 != 0) {
      ++judged;
      turns += (d1 > 0) != (d2 > 0) ? 1 : 0;
    }
    if ((i - half) % stride == 0) (i < q3 ? moves3 : moves4).push_back(std::abs(d2));
  }
  const double turning = judged ? static_cast<double>(turns) / static_cast<double>(judged) : 0.0;
  const std::vector<double> tail = thinned(p.y.begin() + static_cast<std::ptrdiff_t>(half), p.y.end());
  const double med = median(tail);
  const double level = std::max(std::abs(med), 1e-300);
  // A limit cycle: the last half repeats itself every k steps (to float
  // rounding), a cycle between several levels that no noise could make.
  const double spread = quantile(tail, 0.9) - quantile(tail, 0.1);
  if (n - half > 4 * kMaxCycle && spread >= kCycleMinSpread * level) {
    auto repeats = [&](std::size_t i, std::size_t k) {
      return std::abs(p.y[i + k] - p.y[i]) <= kCycleTolerance * std::abs(p.y[i]);
    };
    for (std::size_t k = 2; k <= kMaxCycle; ++k) {
      // A cheap look at the start of the last half rules out most periods.
      std::size_t hits = 0;
      const std::size_t probe = std::min<std::size_t>(kCycleProbe, n - half - k);
      for (std::size_t i = half; i < half + probe; ++i) hits += repeats(i, k) ? 1 : 0;
      if (static_cast<double>(hits) < kOnsetPersistence * static_cast<double>(probe)) continue;
      std::size_t ok = 0;
      for (std::size_t i = half; i + k < n; ++i) ok += repeats(i, k) ? 1 : 0;
      if (static_cast<double>(ok) < kOnsetPersistence * static_cast<double>(n - half - k)) continue;
      const std::size_t onset = bouncing_since(p, half);
      out.push_back(make("oscillation", p.name, p.steps[onset], p.steps[n - 1], Severity::warning,
                         "the loss repeats a cycle of " + std::to_string(k) + " steps between " +
                             num(quantile(tail, 0.1)) + " and " + num(quantile(tail, 0.9)) + " (10-90%, " +
                             pct(spread / level) + " of its level " + num(med) + ") from " +
                             step_text(p.steps[onset]) + " on: the steps overshoot and it will not settle"));
      return true;
    }
  }
  if (judged < kOscillationMinTurns || moves3.empty() || moves4.empty() || turning < o.oscillation_turning)
    return false;
  std::vector<double> moves = moves3;
  moves.insert(moves.end(), moves4.begin(), moves4.end());
  const double move = median(moves), move3 = median(moves3), move4 = median(moves4);
  if (move < o.oscillation_step * level || move4 < kOscillationSettled * move3) return false;
  const std::size_t onset = bouncing_since(p, half);
  out.push_back(make("oscillation", p.name, p.steps[onset], p.steps[n - 1], Severity::warning,
                     "the loss turns up and down at " + pct(turning) + " of the steps of its last half (" +
                         std::to_string(turns) + " of " + std::to_string(judged) +
                         "; independent noise turns at 67%), by a median " + num(move) + " per step (" +
                         pct(move / level) + " of its level " + num(med) + "), from " + step_text(p.steps[onset]) +
                         " on, and does not settle (the last quarter's median step is " +
                         pct(move4 / std::max(move3, 1e-300)) + " of the third quarter's)"));
  return true;
}

// Bouncing between levels: large swings over the last half that do not
// shrink, moving in waves (not independent noise around a level: a noisy
// small-batch run that converged scatters as widely, without structure).
bool detect_bouncing(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  const std::size_t n = p.y.size();
  if (m < o.min_points) return false;
  const std::vector<double> tail = thinned(p.y.begin() + static_cast<std::ptrdiff_t>(n / 2), p.y.end());
  const double q10 = quantile(tail, 0.1), q90 = quantile(tail, 0.9), med = median(tail);
  const double swing = q90 - q10;
  const double start = p.start_level();
  const double progress = std::max(0.0, start - med);
  if (!(swing > o.oscillation_progress * progress && swing > o.oscillation_level * std::abs(med))) return false;
  const TrendTest t = mann_kendall(std::span<const double>(p.by).subspan(m / 2));
  if (t.p_decreasing < o.significance) return false;
  // Waves: the smoothed last half moves up and down as widely as the raw one.
  const std::vector<double> bt(p.by.begin() + static_cast<std::ptrdiff_t>(m / 2), p.by.end());
  const double rho = lag1_autocorrelation(bt);
  const bool waves = bt.size() >= kOscillationMinWavePoints && rho >= kOscillationWaves &&
                     quantile(bt, 0.9) - quantile(bt, 0.1) >= kOscillationWaveShare * swing;
  // No progress: the last half's typical level (median) or its mean (what
  // training lowers; a median hides a heavy tail of bad batches) is above the
  // start: the larger of the first value (the loss at initialisation) and the
  // median of the first 10% (so that one low first batch is no start).
  const double start0 = std::max(p.y.front(), p.head_level());
  double mean = 0, var = 0;
  for (double v : tail) mean += v;
  mean /= static_cast<double>(tail.size());
  for (double v : tail) var += (v - mean) * (v - mean);
  const double se = std::sqrt(var / static_cast<double>(tail.size() > 1 ? tail.size() - 1 : 1) /
                              static_cast<double>(tail.size()));
  const double above = (1 + kNoProgressRise) * start0;
  const bool no_progress = med >= above || mean >= above + kNoProgressZ * se;
  if (!waves && !no_progress) return false;
  std::vector<std::uint8_t> in_band(m);
  for (std::size_t k = 0; k < m; ++k) in_band[k] = p.by[k] <= q90 + kBandMargin * swing;
  const std::size_t onset = std::min(persistent_onset(in_band, kOnsetPersistence), m - 1);
  out.push_back(make("oscillation", p.name, p.bsteps[onset], p.steps[n - 1], Severity::warning,
                     "over the last half the loss swings between " + num(q10) + " and " + num(q90) +
                         " (10-90%) around " + num(med) + ", a spread of " + pct(swing / std::max(std::abs(med), 1e-300)) +
                         " of its level, " +
                         (waves ? "in waves (lag-1 autocorrelation " + num(rho) + ")"
                                : "with a median of " + num(med) + " and a mean of " + num(mean) +
                                      ", above its start " + num(start0) + " (no progress)") +
                         ", while it fell only " + num(progress) + " from its start " + num(start) +
                         " and shows no significant decrease (Mann-Kendall " + pval(t.p_decreasing) +
                         "); bouncing in this band from " + step_text(p.bsteps[onset])));
  return true;
}

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
  char buf[40];
  for (int d = 1; d < 17; ++d) {
    std::snprintf(buf, sizeof buf, "%.*g", d, v);
    if (std::strtod(buf, nullptr) == v) return d;
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
      s.causes.push_back("it was still changing by a median " + pct(move) + " per step over the " +
                         std::to_string(moves.size()) + " steps before: it froze, it did not slow down into it");
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
      s.causes.push_back(num(s.value) + " is " + l.what + ": the model predicts a constant");
  // (A zero gradient norm is no evidence: a full-batch run at its optimum has
  // one too.)
  const std::int64_t a = p.steps[s.first], b = p.steps[s.last];
  for (const auto& series : run.series) {
    std::string l(series.name);
    for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (l.find("dead") == std::string::npos) continue;
    const double dead = median_between(series, a, b);
    if (dead >= kDeadFraction && dead <= 1)
      s.causes.push_back(series.name + " is " + pct(dead) + " there: those units are dead");
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
                   pct(static_cast<double>(s.last - s.first + 1) / static_cast<double>(p.y.size())) + " of the log)";
  if (s.first > 0) ev += ", after falling from " + num(p.y.front());
  return ev;
}

constexpr const char* kStuckAdvice =
    "the model's output stopped changing: look for dead ReLUs (units that are never positive: lower the learning "
    "rate, use LeakyReLU or GELU, He initialisation, a bias that does not start negative), a saturated sigmoid or tanh "
    "output, or zero gradients (a detached tensor, frozen parameters, an optimizer not given the model's "
    "parameters); overfit one batch to check";

void detect_plateau(const Prepared& p, const DiagnoseOptions& o, const std::optional<Stuck>& stuck,
                    std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  if (m < o.min_points) return;
  const double best = *std::min_element(p.smooth.begin(), p.smooth.end());
  // The start is the median of the first points, which noise cannot fake: of
  // the first 2% of the run, or of its first kStartPoints when higher (a run
  // that converged within its first 1% made its progress there; at
  // initialisation the loss is about the same on every batch). The first value
  // alone is the start when it stands out of the noise, far above the best.
  double start = p.start_level();
  start = std::max(start, median(std::vector<double>(
                              p.y.begin(), p.y.begin() + static_cast<std::ptrdiff_t>(std::min(kStartPoints, p.y.size())))));
  const double y0 = p.y.front();
  const bool first_stands_out = y0 > start && y0 - best > kFirstValueNoise * noise_sd(p.by);
  if (first_stands_out) start = p.y.front();
  const double drop = (start - best) / std::max(std::abs(start), 1e-12);
  const std::int64_t a = p.bsteps.front(), b = p.steps.back();
  const bool frozen = stuck && !stuck->causes.empty();
  std::string stuck_ev;
  if (frozen) {
    stuck_ev = describe_stuck(p, *stuck);
    for (const auto& c : stuck->causes) stuck_ev += "; " + c;
  }
  if (drop < o.plateau_drop) {
    const TrendTest t = mann_kendall(p.by);
    Symptom s = make("plateau", p.name, a, b, Severity::warning,
                     "the smoothed loss never fell more than " + pct(std::max(drop, 0.0)) + " below its start " +
                         num(start) + " (best " + num(best) + ", end " + num(p.end_level()) +
                         "; Mann-Kendall z = " + num(t.z) + ")" + (frozen ? "; " + stuck_ev : std::string()));
    if (frozen) s.advice = kStuckAdvice;
    out.push_back(std::move(s));
    return;
  }
  if (frozen) {
    Symptom s = make("plateau", p.name, p.steps[stuck->first], b, Severity::warning, stuck_ev);
    s.advice = kStuckAdvice;
    out.push_back(std::move(s));
    return;
  }
  if (o.classes > 1) {
    const double chance = std::log(static_cast<double>(o.classes));
    const double end = p.end_level();
    if (std::abs(end - chance) <= 0.1 * chance) {
      std::vector<std::uint8_t> near(m);
      for (std::size_t k = 0; k < m; ++k) near[k] = std::abs(p.smooth[k] - chance) <= 0.1 * chance;
      const std::size_t onset = std::min(persistent_onset(near, kOnsetPersistence), m - 1);
      out.push_back(make("plateau", p.name, p.bsteps[onset], b, Severity::warning,
                         "the loss ends at " + num(end) + ", within 10% of ln(" + std::to_string(o.classes) +
                             ") = " + num(chance) + ", the loss of a uniform guess over the classes, from " +
                             step_text(p.bsteps[onset]) + " on"));
    }
  }
}

constexpr std::size_t kSide = 4;  // points before a spike that define the level it jumps from

void detect_spikes(const Prepared& p, const DiagnoseOptions& o, std::vector<std::string>& notes,
                   std::vector<Symptom>& out) {
  const std::size_t n = p.y.size();
  if (n < o.min_points) return;
  const bool positive = p.positive;
  // Median of at most kSide values without allocating: this runs for every point.
  auto small_median = [](const double* first, std::size_t count) {
    std::array<double, kSide> a{};
    const std::size_t k = std::min(count, kSide);
    for (std::size_t i = 0; i < k; ++i) {  // insertion sort of <= 4 values
      std::size_t j = i;
      for (; j > 0 && a[j - 1] > first[i]; --j) a[j] = a[j - 1];
      a[j] = first[i];
    }
    return k % 2 ? a[k / 2] : 0.5 * (a[k / 2 - 1] + a[k / 2]);
  };
  // before[i]: the level before point i, the median of the kSide points before
  // it. Only the level before counts: a spike that takes several points to
  // come back down (a loss that jumps by decades and decays) has no low level
  // right after it.
  std::vector<double> before(n);
  for (std::size_t i = 1; i < n; ++i) {
    const std::size_t lo = i >= kSide ? i - kSide : 0;
    before[i] = small_median(p.y.data() + lo, i - lo);
  }
  // Residuals of a positive loss are taken in log space, where minibatch noise
  // is close to symmetric (it is multiplicative) and a loss spanning decades
  // has one scale.
  auto residual = [&](std::size_t i) { return positive ? std::log(p.y[i] / before[i]) : p.y[i] - before[i]; };
  // The robust scale needs the residuals of a deterministic thinning only.
  std::vector<double> kept;
  {
    const std::size_t inner = n - 1, limit = 200000;
    const std::size_t stride = inner > limit ? (inner + limit - 1) / limit : 1;
    kept.reserve(inner / stride + 1);
    for (std::size_t k = 0; k < inner; k += stride) kept.push_back(residual(1 + k));
  }
  const double scale = std::max(1.4826 * mad(kept), 1e-12);
  // A point starts a spike when r / scale > spike_z. For a positive loss,
  // r = log(y / before) > spike_z * scale needs y / before > exp(spike_z *
  // scale): a multiplication rules out most points before the logarithm is
  // taken (with a margin, so the decision is the logarithm's).
  const double ratio_floor = std::exp(o.spike_z * scale) * (1 - 1e-9);
  const bool prefilter = positive && std::isfinite(ratio_floor);
  const double recovery = positive ? std::exp(kSpikeRecoveryZ * scale) : kSpikeRecoveryZ * scale;
  const std::size_t horizon = std::max<std::size_t>(2 * kSide, static_cast<std::size_t>(kSpikeMaxDuration * static_cast<double>(n)));
  struct Spike {
    std::size_t start, peak, back;  // back: the first point at the level before again
    double base, z;
  };
  std::vector<Spike> spikes;
  for (std::size_t i = 2; i + 1 < n;) {
    if (prefilter && !(p.y[i] > before[i] * ratio_floor)) {
      ++i;
      continue;
    }
    const double z = residual(i) / scale;
    if (z <= o.spike_z || (positive && p.y[i] < o.spike_ratio * before[i])) {
      ++i;
      continue;
    }
    const double base = before[i];
    const double back_level = positive ? base * recovery : base + recovery;
    std::size_t j = i + 1, peak = i;
    while (j < n && j - i <= horizon && p.y[j] > back_level) {
      if (p.y[j] > p.y[peak]) peak = j;
      ++j;
    }
    if (j < n && p.y[j] <= back_level) {
      const double zp = (positive ? std::log(p.y[peak] / base) : p.y[peak] - base) / scale;
      spikes.push_back({i, peak, j, base, zp});
    }
    i = j;  // an excursion that did not come back is a level shift, not spikes
  }
  if (spikes.empty()) return;
  // Transient spikes of the first steps (warm-up, the first batches of a fresh
  // model) that recover are not a symptom.
  const double early_end = static_cast<double>(p.steps.front()) +
                           o.spike_early_fraction * static_cast<double>(p.steps.back() - p.steps.front());
  std::size_t early = 0;
  while (early < spikes.size() && static_cast<double>(p.steps[spikes[early].start]) <= early_end) ++early;
  auto describe = [&](const Spike& s) {
    return num(p.y[s.peak]) + " at " + step_text(p.steps[s.peak]) + " is " +
           (positive ? num(p.y[s.peak] / s.base) + "x the level " + num(s.base) + " before it"
                     : num(p.y[s.peak] - s.base) + " above the level " + num(s.base) + " before it") +
           " (" + num(s.z) + " robust standard deviations)";
  };
  const std::string scale_text =
      positive ? "judged on a log scale: the loss spans " +
                     num(std::log10(*std::max_element(p.y.begin(), p.y.end()) /
                                    *std::min_element(p.y.begin(), p.y.end()))) +
                     " decades"
               : "judged on a linear scale: the loss is not positive";
  if (early == spikes.size()) {
    const auto& w = *std::max_element(spikes.begin(), spikes.end(), [](const Spike& a, const Spike& b) { return a.z < b.z; });
    notes.push_back(std::to_string(spikes.size()) + " transient " + (spikes.size() == 1 ? "spike" : "spikes") +
                    " of " + p.name + " in the first " + pct(o.spike_early_fraction) + " of the run (the largest " +
                    describe(w) + "), recovered and not repeated: not counted");
    return;
  }
  const std::span<const Spike> late(spikes.data() + early, spikes.size() - early);
  const Spike& worst = *std::max_element(late.begin(), late.end(), [](const Spike& a, const Spike& b) { return a.z < b.z; });
  std::int64_t longest = 0;
  for (const auto& s : late) longest = std::max(longest, p.steps[s.back] - p.steps[s.start]);  // up to back at the level
  const std::int64_t first = p.steps[late.front().start], last = p.steps[late.back().start];
  std::string ev = std::to_string(late.size()) + (late.size() == 1 ? " spike" : " spikes") + " (" + scale_text +
                   "); the largest " + describe(worst) + "; " + (late.size() == 1 ? "it" : "each") +
                   " came back down within " + std::to_string(longest) + " steps (transient)";
  if (late.size() > 1)
    ev += ", and they recur from " + step_text(first) + " to " + step_text(last) + " (" + pct(p.position(last)) +
          " into the run)";
  if (early > 0) ev += "; " + std::to_string(early) + " more in the first " + pct(o.spike_early_fraction) + ", not counted";
  // The range ends at the last point of the last spike that was still up.
  out.push_back(make("spike", p.name, first, p.steps[late.back().back - 1], Severity::warning, ev));
}

void detect_overfitting(const Prepared& v, const Prepared* train, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = v.m();
  if (m < 5) return;
  const std::size_t b = argmin(v.smooth, 0, m - 1);
  // A rise over the last two or three evaluations is noise until it lasts.
  if (m - 1 - b < std::max<std::size_t>(4, m / 5)) return;
  const double best = v.smooth[b], end = v.smooth[m - 1];
  const double rise = end - best;
  if (rise < o.overfit_rise * std::max(std::abs(best), 1e-12)) return;
  // A rise the run's plot shows: against the validation loss's own fall, and
  // out of its noise.
  const double start = v.start_level();
  if (rise < o.overfit_progress * (start - best)) return;
  const double sd = noise_sd(v.by);
  if (rise < o.overfit_noise_z * sd) return;
  const TrendTest t = mann_kendall(std::span<const double>(v.by).subspan(b));
  if (t.p_increasing >= o.overfit_significance) return;
  const std::int64_t sb = v.bsteps[b], se = v.bsteps[m - 1];
  std::string train_ev;
  if (train != nullptr) {
    std::vector<double> ty;
    for (std::size_t i = 0; i < train->m(); ++i)
      if (train->bsteps[i] >= sb) ty.push_back(train->by[i]);
    if (ty.size() >= 3) {
      const TrendTest tt = mann_kendall(ty);
      if (tt.p_increasing < o.significance) return;  // training loss rising too: not overfitting
      train_ev = " while the training loss went from " + num(ty.front()) + " to " + num(ty.back());
    }
  }
  out.push_back(make("overfitting", v.name, sb, se, Severity::warning,
                     "validation loss rose from its best " + num(best) + " at step " + std::to_string(sb) + " to " +
                         num(end) + " at step " + std::to_string(se) + " (+" + pct(rise / std::max(std::abs(best), 1e-12)) +
                         ", " + pct(rise / std::max(start - best, 1e-300)) + " of its fall from " + num(start) +
                         ", " + num(rise / std::max(sd, 1e-300)) + "x its noise; Mann-Kendall " + pval(t.p_increasing) +
                         ")" + train_ev + "; best checkpoint: step " + std::to_string(sb)));
}

// The exploding rule on one gradient-norm curve: growth from the early median
// to the late one with an upward trend, or a peak far above the start.
struct Growth {
  double early = 0, late = 0, peak = 0, z = 0;
  bool exploding = false;
};

Growth growth_of(const Prepared& g, const DiagnoseOptions& o) {
  Growth r;
  r.early = g.head_level();
  r.late = g.end_level();
  r.peak = *std::max_element(g.smooth.begin(), g.smooth.end());
  if (r.early > 0) {
    const TrendTest t = mann_kendall(g.by);
    r.z = t.z;
    r.exploding = (r.late / r.early >= o.exploding_growth && t.p_increasing < o.significance) ||
                  r.peak >= o.exploding_growth * o.exploding_growth * r.early;
  }
  return r;
}

// `converged`: the loss reached a fixed point, so a gradient norm that fell is
// the convergence itself, not a gradient that vanished.
bool detect_gradients(const Prepared& g, const Prepared* loss, bool converged, const DiagnoseOptions& o,
                      std::vector<Symptom>& out) {
  const std::size_t m = g.m();
  if (m < o.min_points) return false;
  const Growth gr = growth_of(g, o);
  if (gr.exploding) {
    const std::size_t onset = g.rise_start(0);
    out.push_back(make("exploding_gradient", g.name, g.bsteps[onset], g.steps.back(), Severity::error,
                       "gradient norm grew from a median of " + num(gr.early) + " early to " + num(gr.late) +
                           " late (x" + num(gr.late / gr.early) + ", peak " + num(gr.peak) +
                           "; Mann-Kendall z = " + num(gr.z) + "); it took off at " + step_text(g.bsteps[onset]) +
                           " (" + pct(g.position(g.bsteps[onset])) + " into the run)"));
    return true;
  }
  if (loss == nullptr || loss->m() < o.min_points || converged) return false;
  const double ls = loss->start_level(), le = loss->end_level();
  const double loss_drop = (ls - le) / std::max(std::abs(ls), 1e-12);
  if (gr.early > 0 && gr.late <= o.vanishing_ratio * gr.early && loss_drop < kStalledLossDrop) {
    const std::size_t onset = g.rise_start(0, /*falling=*/true);
    out.push_back(make("vanishing_gradient", g.name, g.bsteps[onset], g.steps.back(), Severity::warning,
                       "gradient norm fell from a median of " + num(gr.early) + " early to " + num(gr.late) +
                           " late (x" + num(gr.late / gr.early) + ") from " + step_text(g.bsteps[onset]) +
                           " on, while the loss fell only " + pct(std::max(loss_drop, 0.0))));
  }
  return false;
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

// The step from which `a` stays below `ratio` times `b` (at the steps both
// curves have), or `fallback` when they share too few steps.
std::int64_t below_from(const Prepared& a, const Prepared& b, double ratio, std::size_t min_points,
                        std::int64_t fallback) {
  std::vector<std::uint8_t> below;
  std::vector<std::int64_t> at;
  for (std::size_t i = 0, j = 0; i < a.y.size() && j < b.y.size();) {
    if (a.steps[i] < b.steps[j]) ++i;
    else if (b.steps[j] < a.steps[i]) ++j;
    else {
      below.push_back(a.y[i] < ratio * b.y[j]);
      at.push_back(a.steps[i]);
      ++i, ++j;
    }
  }
  if (below.size() < min_points) return fallback;
  const std::size_t k = persistent_onset(below, kOnsetPersistence);
  return k < at.size() ? at[k] : fallback;
}

// Per-layer gradient norms: a layer that gets almost none of the gradient while
// the loss stalls (vanishing), and a layer whose gradient explodes when the
// global norm is not logged or does not show it.
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
      if (std::min(to_layer, to_total) < o.vanishing_ratio) {
        const bool vs_total = to_total < o.vanishing_ratio;
        const std::int64_t onset = below_from(lo->p, vs_total ? *grad : hi->p, o.vanishing_ratio, o.min_points,
                                              lo->p.steps.front());
        const std::string stalled = " while the loss fell only " + pct(std::max(loss_drop, 0.0)) + " (" + num(ls) +
                                    " to " + num(le) + "): ";
        std::string ev;
        if (lo->late == 0) {
          // Exactly zero: dead units upstream, or a layer cut off from the loss.
          ev = named(*lo) + " gets no gradient at all from " + step_text(onset) +
               " on (0, median over the last half; " +
               (total > 0 ? "the global gradient norm " + grad->name + " is " + num(total)
                          : "the largest layer's, " + named(*hi) + ", is " + num(hi->late)) +
               ")" + stalled + "dead units or a detached layer stop the gradient before " + lo->layer;
        } else {
          ev = "the gradient norm of " + named(*lo) + " is " + num(lo->late) + " (median over the last half)";
          if (total > 0) ev += ", " + num(to_total) + " of the global gradient norm " + grad->name + " (" + num(total) + ")";
          if (hi != lo && hi->late > 0)
            ev += (total > 0 ? " and " : ", ") + num(to_layer) + " of the largest layer's, " + named(*hi) + " (" +
                  num(hi->late) + ")";
          ev += ", below " + num(o.vanishing_ratio) + " of it from " + step_text(onset) + " on," + stalled +
                "almost no gradient reaches " + lo->layer;
        }
        out.push_back(make("vanishing_gradient", lo->p.name, onset, lo->p.steps.back(), Severity::warning, ev));
      }
    }
  }

  // Exploding: the global rule on each layer, for a layer that comes to
  // dominate; reported once, for the layer that grew most.
  if (global_exploded) return;
  double largest = 0;
  for (const auto& l : layers) largest = std::max(largest, l.p.end_level());
  const Layer* worst = nullptr;
  Growth worst_growth;
  std::size_t count = 0;
  for (const auto& l : layers) {
    const Growth gr = growth_of(l.p, o);
    if (!gr.exploding || gr.late < o.exploding_layer_share * largest) continue;
    ++count;
    const double factor = std::max(gr.late, gr.peak) / gr.early;
    if (worst == nullptr || factor > std::max(worst_growth.late, worst_growth.peak) / worst_growth.early)
      worst = &l, worst_growth = gr;
  }
  if (worst == nullptr) return;
  const std::size_t onset = worst->p.rise_start(0);
  out.push_back(make("exploding_gradient", worst->p.name, worst->p.bsteps[onset], worst->p.steps.back(), Severity::error,
                     "the gradient norm of " + named(*worst) + " grew from a median of " + num(worst_growth.early) +
                         " early to " + num(worst_growth.late) + " late (x" + num(worst_growth.late / worst_growth.early) +
                         ", peak " + num(worst_growth.peak) + "; Mann-Kendall z = " + num(worst_growth.z) +
                         "); it took off at " + step_text(worst->p.bsteps[onset]) + " (" +
                         pct(worst->p.position(worst->p.bsteps[onset])) + " into the run); " + std::to_string(count) +
                         " of " + std::to_string(layers.size()) + " layers' gradient norms grew like this"));
}

Curve make_curve(const logs::Series& s, const std::string& role) {
  Curve c;
  c.name = s.name;
  c.role = role;
  c.points = s.size();
  const bool sorted = std::is_sorted(s.steps.begin(), s.steps.end());
  std::vector<std::size_t> order;
  if (!sorted) {
    order.resize(s.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s.steps[a] < s.steps[b]; });
  }
  // The finite values in step order: the series itself when it is in order
  // and finite (the usual case for a long log: no copy), else a copy.
  bool all_finite = sorted;
  for (std::size_t k = 0; all_finite && k < s.size(); ++k) all_finite = std::isfinite(s.values[k]);
  std::vector<double> copy;
  if (!all_finite) {
    copy.reserve(s.size());
    for (std::size_t k = 0; k < s.size(); ++k) {
      const double v = s.values[sorted ? k : order[k]];
      if (std::isfinite(v)) copy.push_back(v);
      else ++c.non_finite;
    }
  }
  const std::vector<double>& f = all_finite ? s.values : copy;
  if (s.size() > 0) {
    c.first_step = sorted ? s.steps.front() : s.steps[order.front()];
    c.last_step = sorted ? s.steps.back() : s.steps[order.back()];
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

}  // namespace

std::string advice_for(const std::string& kind) {
  if (kind == "nan")
    return "lower the learning rate by 10x and clip gradients (e.g. global norm 1.0); look for log(0), "
           "division by zero or sqrt of 0 in the loss, and for NaN or inf in the input data";
  if (kind == "divergence")
    return "lower the learning rate by 10x (or add warm-up), clip gradients, and check input scaling";
  if (kind == "oscillation")
    return "lower the learning rate by 3-10x or increase the batch size; use a decaying schedule";
  if (kind == "plateau")
    return "check that the loss is wired to the outputs and labels (overfit one batch first), raise the learning "
           "rate by 3-10x, check the initialisation and input scaling";
  if (kind == "overfitting")
    return "stop at the best validation step (early stopping) and add regularisation: weight decay, dropout, "
           "data augmentation or more data";
  if (kind == "exploding_gradient")
    return "clip gradients, lower the learning rate by 10x, and check the initialisation (He/Xavier scale) and "
           "normalisation layers";
  if (kind == "vanishing_gradient")
    return "use ReLU-family activations instead of sigmoid/tanh in deep stacks, He/Xavier initialisation, "
           "normalisation layers or residual connections";
  if (kind == "spike")
    return "clip gradients and look at the batches at those steps (bad samples, label errors); with Adam, a larger "
           "epsilon or a lower learning rate";
  return "";
}

RunDiagnosis diagnose(const logs::Run& run, const DiagnoseOptions& o) {
  RunDiagnosis d;
  d.source = run.source;
  d.metrics = run.metric_names();
  d.steps = run.distinct_steps();
  d.roles = logs::recognise_roles(run, o.columns);
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

  if (loss.y.size() < o.min_points) {
    d.notes.push_back("only " + std::to_string(loss.y.size()) + " finite points of " + loss.name +
                      ": too few to judge trends (at least " + std::to_string(o.min_points) + " needed)");
  } else {
    const bool diverged = detect_divergence(loss, o, d.symptoms);
    bool oscillating = detect_cycles(loss, o, d.symptoms);
    if (!diverged && !oscillating) oscillating = detect_bouncing(loss, o, d.symptoms);
    if (!diverged && !oscillating) detect_plateau(loss, o, stuck, d.symptoms);
    detect_spikes(loss, o, d.notes, d.symptoms);
  }
  if (converged) {
    d.notes.push_back(describe_stuck(loss, *stuck) +
                      ": a full-batch run that converged to a fixed point, or a model whose output stopped "
                      "changing; nothing logged says which (no sudden stop, no constant prediction's loss, no dead "
                      "units), not counted; gradient norms are judged before it");
    if (grad) grad = prepare(*run.find(d.roles.grad_norm), o.max_trend_points, until);
  }
  if (val) {
    if (val->y.size() < 5)
      d.notes.push_back("only " + std::to_string(val->y.size()) + " finite points of " + val->name +
                        ": too few to judge overfitting");
    else
      detect_overfitting(*val, loss.m() > 0 ? &loss : nullptr, o, d.symptoms);
  }
  bool exploded = false;
  if (grad) {
    if (grad->y.size() < o.min_points)
      d.notes.push_back("only " + std::to_string(grad->y.size()) + " finite points of " + grad->name +
                        ": too few to judge gradients");
    else
      exploded = detect_gradients(*grad, &loss, converged, o, d.symptoms);
  }
  detect_layers(run, d.roles, loss, grad ? &*grad : nullptr, exploded, until, o, d.symptoms);

  d.curves.push_back(make_curve(*run.find(d.roles.loss), "loss"));
  if (!d.roles.val_loss.empty()) d.curves.push_back(make_curve(*run.find(d.roles.val_loss), "val_loss"));
  if (!d.roles.grad_norm.empty()) d.curves.push_back(make_curve(*run.find(d.roles.grad_norm), "grad_norm"));
  if (!d.roles.lr.empty()) d.curves.push_back(make_curve(*run.find(d.roles.lr), "lr"));
  return d;
}

LogsDiagnosis diagnose_logs(const std::vector<std::string>& paths, const logs::ReadOptions& read,
                            const DiagnoseOptions& options, int threads, bool keep_runs) {
  const std::size_t n = paths.size();
  LogsDiagnosis out;
  out.results.resize(n);
  if (keep_runs) out.runs.resize(n);
  std::vector<std::exception_ptr> errors(n);
  gradcheck::internal::parallel_for(n, threads, [&](std::size_t i, std::size_t) {
    try {
      logs::Run run = logs::read_log(paths[i], read);
      out.results[i] = diagnose(run, options);
      if (keep_runs) out.runs[i] = std::move(run);
    } catch (...) {
      errors[i] = std::current_exception();  // kept per log: the first in path order is reported
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

ExitCode exit_code(const std::vector<RunDiagnosis>& results) {
  for (const auto& r : results)
    if (!r.healthy()) return ExitCode::problem;
  return ExitCode::ok;
}

}  // namespace gradcheck::diag
