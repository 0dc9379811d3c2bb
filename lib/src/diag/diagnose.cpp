#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <numeric>
#include <optional>
#include <cstdint>
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

Prepared prepare(const logs::Series& s, std::size_t max_points) {
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

void detect_nan(const Prepared& p, std::vector<Symptom>& out) {
  if (p.first_bad == SIZE_MAX) return;
  const std::string what = std::isnan(p.bad_value) ? "NaN" : p.bad_value > 0 ? "+inf" : "-inf";
  std::string ev = "first " + what + " at step " + std::to_string(p.bad_step) + "; " + std::to_string(p.bad_count) +
                   " of " + std::to_string(p.total) + " values are not finite";
  if (!p.y.empty())
    ev += "; last finite value " + general(p.y.back(), 4) + " at step " + std::to_string(p.steps.back());
  out.push_back(make("nan", p.name, p.bad_step, p.last_step, Severity::error, ev));
}

bool detect_divergence(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  if (m < 3) return false;
  // Worse than at initialisation: a learning rate far too high can blow the
  // loss up within a step or two and leave it bouncing above where it started,
  // which the smoothed curve (its start already inflated) cannot show.
  const double init = p.y.front();
  if (init > 0 && p.y.size() >= o.min_points) {
    const std::vector<double> tail = thinned(p.y.begin() + static_cast<std::ptrdiff_t>(p.y.size() / 2), p.y.end());
    const double q10 = quantile(tail, 0.1), med = median(tail);
    if (q10 > init && med >= (1 + o.divergence_rise) * init) {
      out.push_back(make("divergence", p.name, p.steps.front(), p.steps.back(), Severity::error,
                         "over the last half the loss stays above its first value " + general(init, 4) + " at step " +
                             std::to_string(p.steps.front()) + ": median " + general(med, 4) + " (x" + general(med / init, 4) +
                             "), 10% quantile " + general(q10, 4) + "; it peaked at " +
                             general(*std::max_element(p.y.begin(), p.y.end()), 4)));
      return true;
    }
  }
  const std::size_t b = static_cast<std::size_t>(std::min_element(p.smooth.begin(), p.smooth.end()) - p.smooth.begin());
  if (m - 1 - b < 2) return false;
  const double start = p.start_level(), best = p.smooth[b], end = p.smooth[m - 1];
  const double ref = std::max({std::abs(best), start - best, 1e-12});
  const double rise = end - best;
  if (rise < o.divergence_rise * ref) return false;
  const TrendTest t = mann_kendall(std::span<const double>(p.by).subspan(b));
  if (!(t.p_increasing < o.significance || rise >= 10 * o.divergence_rise * ref)) return false;
  out.push_back(make("divergence", p.name, p.bsteps[b], p.bsteps[m - 1], Severity::error,
                     "smoothed loss rose from its best " + general(best, 4) + " at step " + std::to_string(p.bsteps[b]) +
                         " to " + general(end, 4) + " at step " + std::to_string(p.bsteps[m - 1]) + " (start " + general(start, 4) +
                         "; Mann-Kendall z = " + general(t.z, 4) + ", " + pval(t.p_increasing) + ")"));
  return true;
}

bool detect_oscillation(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
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
  out.push_back(make("oscillation", p.name, p.steps[n / 2], p.steps[n - 1], Severity::warning,
                     "over the last half the loss swings between " + general(q10, 4) + " and " + general(q90, 4) +
                         " (10-90%) around " + general(med, 4) + ", a spread of " + percent(swing / std::max(std::abs(med), 1e-300), 1) +
                         " of its level, while it fell only " + general(progress, 4) + " from its start " + general(start, 4) +
                         " and shows no significant decrease (Mann-Kendall " + pval(t.p_decreasing) + ")"));
  return true;
}

void detect_plateau(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = p.m();
  if (m < o.min_points) return;
  const double start = p.start_level();
  const double best = *std::min_element(p.smooth.begin(), p.smooth.end());
  const double drop = (start - best) / std::max(std::abs(start), 1e-12);
  const std::int64_t a = p.bsteps.front(), b = p.bsteps.back();
  if (drop < o.plateau_drop) {
    const TrendTest t = mann_kendall(p.by);
    out.push_back(make("plateau", p.name, a, b, Severity::warning,
                       "the smoothed loss never fell more than " + percent(std::max(drop, 0.0), 1) + " below its start " +
                           general(start, 4) + " (best " + general(best, 4) + ", end " + general(p.end_level(), 4) +
                           "; Mann-Kendall z = " + general(t.z, 4) + ")"));
    return;
  }
  if (o.classes > 1) {
    const double chance = std::log(static_cast<double>(o.classes));
    const double end = p.end_level();
    if (std::abs(end - chance) <= 0.1 * chance)
      out.push_back(make("plateau", p.name, a, b, Severity::warning,
                         "the loss ends at " + general(end, 4) + ", within 10% of ln(" + std::to_string(o.classes) +
                             ") = " + general(chance, 4) + ", the loss of a uniform guess over the classes"));
  }
}

constexpr std::size_t kSide = 4;  // points on each side that define a spike's surroundings

void detect_spikes(const Prepared& p, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t n = p.y.size();
  if (n < o.min_points) return;
  bool positive = true;
  for (double v : p.y)
    if (v <= 0) {
      positive = false;
      break;
    }
  // Reference level of point i: the larger of the medians of the points just
  // before and just after it, so a steep start or a recovery is not a spike.
  // Residuals of a positive loss are taken in log space, where minibatch noise
  // is close to symmetric (it is multiplicative).
  std::vector<double> ref(n);
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
  // left[i]: the median of the kSide points before i. The kSide points after
  // i are the points before i + kSide + 1, so a full right window is read
  // from `left` instead of being sorted a second time.
  std::vector<double> left(n);
  for (std::size_t i = 1; i < n; ++i) {
    const std::size_t lo = i >= kSide ? i - kSide : 0;
    left[i] = small_median(p.y.data() + lo, i - lo);
  }
  for (std::size_t i = 1; i + 1 < n; ++i) {
    const double right = i + kSide + 1 < n ? left[i + kSide + 1]
                                           : small_median(p.y.data() + i + 1, std::min(n, i + 1 + kSide) - (i + 1));
    ref[i] = std::max(left[i], right);
  }
  auto residual = [&](std::size_t i) { return positive ? std::log(p.y[i] / ref[i]) : p.y[i] - ref[i]; };
  // The robust scale needs the residuals of a deterministic thinning only
  // (thinned() of r[1 .. n-2], computed for the points it keeps).
  std::vector<double> kept;
  {
    const std::size_t inner = n - 2, limit = 200000;
    const std::size_t stride = inner > limit ? (inner + limit - 1) / limit : 1;
    kept.reserve(inner / stride + 1);
    for (std::size_t k = 0; k < inner; k += stride) kept.push_back(residual(1 + k));
  }
  const double scale = std::max(1.4826 * mad(kept), 1e-12);
  // A point is a spike when r / scale > spike_z. For a positive loss,
  // r = log(y / ref) > spike_z * scale needs y / ref > exp(spike_z * scale):
  // a multiplication rules out most points before the logarithm is taken
  // (with a margin, so the decision is the logarithm's).
  const double ratio_floor = std::exp(o.spike_z * scale) * (1 - 1e-9);
  const bool prefilter = positive && std::isfinite(ratio_floor);
  std::size_t count = 0, worst = 0;
  double worst_z = 0;
  std::int64_t first = 0, last = 0;
  for (std::size_t i = 2; i + 1 < n; ++i) {
    if (prefilter && !(p.y[i] > ref[i] * ratio_floor)) continue;
    const double z = residual(i) / scale;
    if (z <= o.spike_z) continue;
    if (positive && p.y[i] < o.spike_ratio * ref[i]) continue;
    if (count == 0) first = p.steps[i];
    last = p.steps[i];
    ++count;
    if (z > worst_z) {
      worst_z = z;
      worst = i;
    }
  }
  if (count == 0) return;
  std::string ev = std::to_string(count) + (count == 1 ? " spike" : " spikes") + "; the largest " + general(p.y[worst], 4) +
                   " at step " + std::to_string(p.steps[worst]) + " is " +
                   (positive ? general(p.y[worst] / ref[worst], 4) + "x the surrounding level " + general(ref[worst], 4)
                             : general(p.y[worst] - ref[worst], 4) + " above the surrounding level " + general(ref[worst], 4)) +
                   " (" + general(worst_z, 4) + " robust standard deviations), and the loss came back down";
  out.push_back(make("spike", p.name, first, last, Severity::warning, ev));
}

void detect_overfitting(const Prepared& v, const Prepared* train, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = v.m();
  if (m < 5) return;
  const std::size_t b = static_cast<std::size_t>(std::min_element(v.smooth.begin(), v.smooth.end()) - v.smooth.begin());
  // A rise over the last two or three evaluations is noise until it lasts.
  if (m - 1 - b < std::max<std::size_t>(4, m / 5)) return;
  const double best = v.smooth[b], end = v.smooth[m - 1];
  const double rise = end - best;
  if (rise < o.overfit_rise * std::max(std::abs(best), 1e-12)) return;
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
      train_ev = " while the training loss went from " + general(ty.front(), 4) + " to " + general(ty.back(), 4);
    }
  }
  out.push_back(make("overfitting", v.name, sb, se, Severity::warning,
                     "validation loss rose from its best " + general(best, 4) + " at step " + std::to_string(sb) + " to " +
                         general(end, 4) + " at step " + std::to_string(se) + " (+" + percent(rise / std::max(std::abs(best), 1e-12), 1) +
                         ", Mann-Kendall " + pval(t.p_increasing) + ")" + train_ev + "; best checkpoint: step " +
                         std::to_string(sb)));
}

void detect_gradients(const Prepared& g, const Prepared* loss, const DiagnoseOptions& o, std::vector<Symptom>& out) {
  const std::size_t m = g.m();
  if (m < o.min_points) return;
  const double early = g.head_level(), late = g.end_level();
  const double peak = *std::max_element(g.smooth.begin(), g.smooth.end());
  if (early > 0) {
    const TrendTest t = mann_kendall(g.by);
    const double growth = late / early;
    if ((growth >= o.exploding_growth && t.p_increasing < o.significance) ||
        peak >= o.exploding_growth * o.exploding_growth * early) {
      out.push_back(make("exploding_gradient", g.name, g.bsteps.front(), g.bsteps.back(), Severity::error,
                         "gradient norm grew from a median of " + general(early, 4) + " early to " + general(late, 4) +
                             " late (x" + general(growth, 4) + ", peak " + general(peak, 4) + "; Mann-Kendall z = " + general(t.z, 4) + ")"));
      return;
    }
  }
  if (loss == nullptr || loss->m() < o.min_points) return;
  const double ls = loss->start_level(), le = loss->end_level();
  const double loss_drop = (ls - le) / std::max(std::abs(ls), 1e-12);
  if (early > 0 && late <= o.vanishing_ratio * early && loss_drop < 0.5)
    out.push_back(make("vanishing_gradient", g.name, g.bsteps.front(), g.bsteps.back(), Severity::warning,
                       "gradient norm fell from a median of " + general(early, 4) + " early to " + general(late, 4) + " late (x" +
                           general(late / early, 4) + ") while the loss fell only " + percent(std::max(loss_drop, 0.0), 1)));
}

void detect_layer_vanishing(const logs::Run& run, const logs::Roles& roles, const Prepared* loss,
                            const DiagnoseOptions& o, std::vector<Symptom>& out) {
  if (roles.tensor_grad_norms.size() < 2 || loss == nullptr || loss->m() < o.min_points) return;
  const double ls = loss->start_level(), le = loss->end_level();
  const double loss_drop = (ls - le) / std::max(std::abs(ls), 1e-12);
  if (loss_drop >= 0.5) return;
  // Biases often carry much smaller gradients than weights; compare weights.
  auto is_bias = [](const std::string& n) {
    return n.size() >= 4 && (n.compare(n.size() - 4, 4, "bias") == 0 || n.compare(n.size() - 2, 2, ".b") == 0);
  };
  std::string lo_name, hi_name;
  double lo = INFINITY, hi = 0;
  std::int64_t a = 0, b = 0;
  for (const auto& name : roles.tensor_grad_norms) {
    if (is_bias(name)) continue;
    const logs::Series* s = run.find(name);
    std::vector<double> f;
    for (double v : s->values)
      if (std::isfinite(v)) f.push_back(v);
    if (f.size() < o.min_points) continue;
    const double med = median(f);
    if (med < lo) lo = med, lo_name = name;
    if (med > hi) hi = med, hi_name = name;
    if (!s->steps.empty()) a = s->steps.front(), b = s->steps.back();
  }
  if (lo_name.empty() || hi <= 0 || lo_name == hi_name || lo > o.vanishing_ratio * hi) return;
  out.push_back(make("vanishing_gradient", lo_name, a, b, Severity::warning,
                     "median gradient norm of " + lo_name + " is " + general(lo, 4) + ", " + general(lo / hi, 4) + " of " + hi_name +
                         "'s " + general(hi, 4) + ", while the loss fell only " + percent(std::max(loss_drop, 0.0), 1)));
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
    bool oscillating = false;
    if (!diverged) oscillating = detect_oscillation(loss, o, d.symptoms);
    if (!diverged && !oscillating) detect_plateau(loss, o, d.symptoms);
    detect_spikes(loss, o, d.symptoms);
  }
  if (val) {
    if (val->y.size() < 5)
      d.notes.push_back("only " + std::to_string(val->y.size()) + " finite points of " + val->name +
                        ": too few to judge overfitting");
    else
      detect_overfitting(*val, loss.m() > 0 ? &loss : nullptr, o, d.symptoms);
  }
  if (grad) {
    if (grad->y.size() < o.min_points)
      d.notes.push_back("only " + std::to_string(grad->y.size()) + " finite points of " + grad->name +
                        ": too few to judge gradients");
    else
      detect_gradients(*grad, &loss, o, d.symptoms);
  }
  detect_layer_vanishing(run, d.roles, &loss, o, d.symptoms);

  d.curves.push_back(make_curve(*run.find(d.roles.loss), "loss"));
  if (!d.roles.val_loss.empty()) d.curves.push_back(make_curve(*run.find(d.roles.val_loss), "val_loss"));
  if (!d.roles.grad_norm.empty()) d.curves.push_back(make_curve(*run.find(d.roles.grad_norm), "grad_norm"));
  if (!d.roles.lr.empty()) d.curves.push_back(make_curve(*run.find(d.roles.lr), "lr"));
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
      out.runs[i] = diagnose(run, options);
      if (keep_logs) out.logs[i] = std::move(run);
    } catch (...) {
      errors[i] = std::current_exception();  // kept per log: the first in path order is reported
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace gradcheck::diag
