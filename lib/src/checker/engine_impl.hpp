#pragma once
// Internals shared by the coordinate engine (engine.cpp) and fast mode
// (fast.cpp): step choice, sampling, noise measurement, per-entry judgement.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>

#include "gradcheck/check.hpp"
#include "gradcheck/report.hpp"
#include "../core/parallel.hpp"
#include "hints.hpp"

namespace gradcheck::detail::impl {


// SplitMix64: small, seedable, identical on every platform (std::normal_distribution is not).
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
  double normal() {
    // Box-Muller; u1 in (0, 1].
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};

inline std::uint64_t hash_name(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}



inline double default_step(Method method, Dtype dtype) { return default_relative_step(method, dtype); }

// The step (x_i + t) - x_i actually applied in the dtype.
inline double applied(Dtype dtype, double xi, double t) {
  if (dtype == Dtype::f32) {
    const float xf = static_cast<float>(xi);
    const float moved = xf + static_cast<float>(t);
    return static_cast<double>(moved) - static_cast<double>(xf);
  }
  const double moved = xi + t;
  return moved - xi;
}

struct BlockPlan {
  std::vector<std::int64_t> positions;  // within the block, ascending
  std::vector<double> noise;            // per output
  bool noise_estimated = true;
  double rms = 0;
  // Multiplies the largest step; other than 1, every coordinate gets the
  // whole table at it (the scale fit's second opinion).
  double step_factor = 1;
};

inline double rms_of(const std::vector<double>& x, std::int64_t begin, std::int64_t end) {
  if (end <= begin) return 0;
  double s = 0;
  for (std::int64_t i = begin; i < end; ++i) s += x[i] * x[i];
  return std::sqrt(s / static_cast<double>(end - begin));
}

inline std::vector<std::int64_t> sample_positions(std::int64_t size, std::int64_t max, std::uint64_t seed) {
  std::vector<std::int64_t> pos;
  if (max <= 0 || size <= max) {
    pos.resize(static_cast<std::size_t>(size));
    std::iota(pos.begin(), pos.end(), 0);
    return pos;
  }
  // First and last always (off-by-one bugs live at the edges), the rest by a
  // partial Fisher-Yates shuffle over the interior.
  Rng rng{seed};
  std::vector<std::int64_t> interior(static_cast<std::size_t>(size - 2));
  std::iota(interior.begin(), interior.end(), 1);
  const std::int64_t want = std::max<std::int64_t>(0, max - 2);
  for (std::int64_t k = 0; k < want; ++k) {
    const auto j = k + static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(interior.size() - k));
    std::swap(interior[k], interior[j]);
  }
  pos.assign(interior.begin(), interior.begin() + want);
  pos.push_back(0);
  if (max >= 2) pos.push_back(size - 1);
  std::sort(pos.begin(), pos.end());
  return pos;
}

struct Engine {
  const Task& task;
  const CheckOptions& opt;
  const std::vector<Evaluator*>& evaluators;
  std::size_t m;
  double global_rms;
  EstimatorSettings settings;

  double scale_of(double xi, double block_rms) const {
    return std::max({std::abs(xi), block_rms, global_rms, 1e-3});
  }

  LineFunction coordinate_line(Evaluator* ev, std::int64_t i) const {
    LineFunction phi;
    phi.outputs = m;
    const double xi = task.x[static_cast<std::size_t>(i)];
    const Dtype dt = task.dtype;
    phi.applied_step = [xi, dt](double t) { return applied(dt, xi, t); };
    phi.eval = [ev, i](double t, double* out) { ev->at_coordinate(i, t, out); };
    if (ev->complex())
      phi.eval_complex_imag = [ev, i](double t, double* out) { ev->complex_at_coordinate(i, t, out); };
    return phi;
  }

  LineFunction direction_line(Evaluator* ev, const std::vector<double>& d) const {
    LineFunction phi;
    phi.outputs = m;
    phi.applied_step = [](double t) { return t; };
    phi.eval = [ev, &d](double t, double* out) { ev->along(d, t, out); };
    if (ev->complex()) phi.eval_complex_imag = [ev, &d](double t, double* out) { ev->complex_along(d, t, out); };
    return phi;
  }

  // The noise floor: a double result is at least rounded to double.
  void floor_noise(std::vector<double>& sigma) const {
    for (std::size_t k = 0; k < m; ++k)
      sigma[k] = std::max(sigma[k], 0.5 * std::numeric_limits<double>::epsilon() * std::abs(task.f0[k]));
  }

  // A random direction supported on [begin, end), each coordinate scaled by its
  // step scale so every coordinate moves in proportion.
  std::vector<double> block_direction(std::int64_t begin, std::int64_t end, double block_rms, std::uint64_t seed) const {
    std::vector<double> d(task.x.size(), 0.0);
    auto z = normal_vector(seed, static_cast<std::size_t>(end - begin));
    for (std::int64_t i = begin; i < end; ++i)
      d[static_cast<std::size_t>(i)] = z[static_cast<std::size_t>(i - begin)] * scale_of(task.x[i], block_rms);
    return d;
  }

  // The noise level along `d`, rescaled to the length of a typical
  // coordinate scale (see checker_noise).
  std::vector<NoiseLevel> measure_noise(std::vector<double> d, Evaluator* ev, std::int64_t* evals) const {
    double norm = 0, scale2 = 0;
    std::size_t support = 0;
    for (std::size_t j = 0; j < d.size(); ++j) {
      if (d[j] == 0) continue;
      norm += d[j] * d[j];
      scale2 += std::pow(scale_of(task.x[j], 0), 2);
      ++support;
    }
    if (norm > 0) {
      const double target = std::sqrt(scale2 / static_cast<double>(support));
      for (double& v : d) v *= target / std::sqrt(norm);
    }
    return checker_noise(direction_line(ev, d), task.f0, task.dtype, 1.0, evals);
  }

  // Judges one output of one coordinate (or direction).
  Entry judge(double a, const Estimate& c, const Estimate* left, const Estimate* right) const {
    Entry e;
    e.analytic = a;
    e.numeric = c.value;
    e.error_bound = c.error_bound;
    const bool user_tol = opt.rtol >= 0 || opt.atol >= 0;
    auto tol_for = [&](double bound, double n) {
      return user_tol ? std::max(opt.atol, 0.0) + std::max(opt.rtol, 0.0) * std::abs(n) : opt.safety * bound;
    };
    e.tolerance = tol_for(c.error_bound, c.value);
    const double diff = std::abs(a - c.value);
    if (!std::isfinite(c.value) || !std::isfinite(c.error_bound)) {
      e.verdict = std::isfinite(a) ? Verdict::inconclusive : Verdict::mismatch;
      return e;
    }
    if (!std::isfinite(a)) {
      e.verdict = Verdict::mismatch;
      return e;
    }
    const bool ok = diff <= e.tolerance;
    const bool sided = left != nullptr && right != nullptr && std::isfinite(left->value) && std::isfinite(right->value);
    if (!sided) {
      e.verdict = ok ? Verdict::ok : Verdict::mismatch;
      return e;
    }
    e.left = left->value;
    e.right = right->value;
    const double gap = std::abs(right->value - left->value);
    const double lo = std::min(left->value, right->value);
    const double hi = std::max(left->value, right->value);
    const double bound_sum = left->error_bound + right->error_bound;
    // A kink needs the two sides to disagree well beyond both bounds (twice the
    // safety), so that smooth functions are not called kinks.
    const double gap_tol = 2 * opt.safety * bound_sum +
                           8 * unit_roundoff(task.dtype) * std::max(std::abs(lo), std::abs(hi));
    const double slack = opt.safety * std::max(left->error_bound, right->error_bound) +
                         (user_tol ? tol_for(0, std::max(std::abs(lo), std::abs(hi))) : 0.0);
    const bool between = a >= lo - slack && a <= hi + slack;
    if (gap > gap_tol) {
      e.verdict = between ? Verdict::kink : Verdict::mismatch;
    } else if (ok) {
      e.verdict = Verdict::ok;
    } else {
      // The central estimate disagrees, but a one-sided one may agree: the step
      // straddled a kink near the point, so one side is clean.
      auto agrees = [&](const Estimate& s) {
        return std::abs(a - s.value) <= (user_tol ? tol_for(s.error_bound, s.value) : opt.safety * s.error_bound);
      };
      const Estimate* match = agrees(*left) ? left : agrees(*right) ? right : nullptr;
      if (match != nullptr) {
        e.verdict = gap > opt.safety * bound_sum ? Verdict::kink : Verdict::ok;
        if (e.verdict == Verdict::ok) {
          e.numeric = match->value;
          e.error_bound = match->error_bound;
          e.tolerance = tol_for(match->error_bound, match->value);
        }
        return e;
      }
      e.verdict = Verdict::mismatch;
    }
    if (e.verdict == Verdict::mismatch && gap > gap_tol) {
      // Report the one-sided value nearest the analytic one as the numeric.
      const Estimate& near = std::abs(a - left->value) < std::abs(a - right->value) ? *left : *right;
      e.numeric = near.value;
      e.error_bound = near.error_bound;
      e.tolerance = tol_for(near.error_bound, near.value);
    }
    return e;
  }

  // Compares every output of coordinate i.
  std::vector<Entry> check_coordinate(Evaluator* ev, std::int64_t i, const BlockPlan& plan, std::int64_t* evals) const {
    const double xi = task.x[static_cast<std::size_t>(i)];
    const double rel = opt.relative_step > 0 ? opt.relative_step : default_step(opt.method, task.dtype);
    const double h = rel * scale_of(xi, plan.rms) * plan.step_factor;
    LineFunction phi = coordinate_line(ev, i);
    std::vector<double> a(m);
    if (task.analytic.column) {
      task.analytic.column(i, a.data());
    } else {  // directional-only checks (JVPs): the column is J e_i
      std::vector<double> unit(task.x.size(), 0.0);
      unit[static_cast<std::size_t>(i)] = 1.0;
      task.analytic.along(unit, a.data());
    }
    std::vector<Entry> out(m);
    if (opt.method == Method::richardson) {
      // Extrapolation is paid for only where the error bound calls for it:
      // one central difference settles most coordinates, the first rows of
      // the table most of the rest, and only what is left gets every row.
      // In f32 the first rows rarely reach a useful precision, so there the
      // rest gets the whole table at once.
      const bool staged = plan.step_factor == 1;
      if (staged && quick_central(phi, a, scale_of(xi, plan.rms), plan.noise, out, evals)) return finish(out);
      if (staged && task.dtype == Dtype::f64 && opt.early_rows > 0 && opt.early_rows < settings.ridders_rows &&
          !user_tolerance()) {
        EstimatorSettings few = settings;
        few.ridders_rows = opt.early_rows;
        const SidedEstimates est = estimate_sided(phi, task.f0, h, plan.noise, few, evals);
        bool settled = true;
        for (std::size_t k = 0; k < m; ++k) {
          out[k] = judge(a[k], est.central[k], &est.left[k], &est.right[k]);
          settled = settled && settled_early(out[k]);
        }
        if (settled) return finish(out);
      }
      const SidedEstimates est = estimate_sided(phi, task.f0, h, plan.noise, settings, evals);
      for (std::size_t k = 0; k < m; ++k) out[k] = judge(a[k], est.central[k], &est.left[k], &est.right[k]);
    } else {
      const auto est = estimate_derivative(phi, task.f0, h, plan.noise, settings, evals);
      for (std::size_t k = 0; k < m; ++k) out[k] = judge(a[k], est[k], nullptr, nullptr);
      bool any_bad = false;
      for (auto& e : out) any_bad = any_bad || e.verdict == Verdict::mismatch;
      if (any_bad) {
        // Second opinion: is this a kink? One-sided tables from the real line.
        const double hs = default_step(Method::richardson, task.dtype) * scale_of(xi, plan.rms);
        const auto sided = estimate_sided(phi, task.f0, hs, plan.noise, settings, evals);
        for (std::size_t k = 0; k < m; ++k)
          if (out[k].verdict == Verdict::mismatch) {
            Entry e2 = judge(a[k], est[k], &sided.left[k], &sided.right[k]);
            if (e2.verdict == Verdict::kink) out[k] = e2;
          }
      }
    }
    return finish(out);
  }

  // Stage 0 of Richardson in f64: one central difference c (2 evaluations) at
  // the step u^(1/4) x scale (1.2e-4: its truncation, about h^2/6 = 2e-9 of
  // the scale, sits below p for ordinary curvature, and its rounding is 60x
  // smaller than at the error-optimal step cbrt(3u)), with rounding bound
  // r = 2 kappa sigma / width + 4u|c|. It settles the coordinate (every output)
  // only when
  //   |a - c| <= p max(|a|, |c|)  and  r <= p max(|a|, |c|)
  // with p = CheckOptions::quick_precision: a wrong derivative would then have
  // to be cancelled by this one step's truncation error to within p, a
  // coincidence rather than a risk, and p is below any bug worth reporting.
  // Both exactly zero does not settle: |x| at 0 with sign(0) = 0 looks like
  // that, and only the one-sided tables tell it is a kink. Not in f32: there
  // r alone is 1e-3 of a typical gradient entry or more.
  bool quick_central(const LineFunction& phi, const std::vector<double>& a, double scale,
                     const std::vector<double>& noise, std::vector<Entry>& out, std::int64_t* evals) const {
    const double p = task.dtype == Dtype::f64 ? opt.quick_precision : 0.0;
    if (!(p > 0) || user_tolerance()) return false;
    const double h = std::pow(unit_roundoff(task.dtype), 0.25) * scale;
    const double sp = phi.applied_step(h), sm = phi.applied_step(-h);
    const double width = sp - sm;
    if (!(width > 0)) return false;
    std::vector<double> fp(m), fm(m);
    phi.eval(sp, fp.data());
    phi.eval(sm, fm.data());
    *evals += 2;
    const double u = unit_roundoff(task.dtype);
    for (std::size_t k = 0; k < m; ++k) {
      const double c = (fp[k] - fm[k]) / width;
      const double r = 2.0 * settings.noise_kappa * noise[k] / width + 4 * u * std::abs(c);
      const double mag = std::max(std::abs(a[k]), std::abs(c));
      const double diff = std::abs(a[k] - c);
      if (!std::isfinite(c) || !(diff <= p * mag && r <= p * mag)) return false;
      Entry& e = out[k];
      e.analytic = a[k];
      e.numeric = c;
      e.error_bound = std::max(r, diff);  // the truncation is known only to be below the agreement
      e.tolerance = p * mag;
      e.verdict = Verdict::ok;
    }
    return true;
  }

  std::vector<Entry> finish(std::vector<Entry>& out) const {
    for (std::size_t k = 0; k < m; ++k) out[k].output = m == 1 ? -1 : static_cast<std::int64_t>(k);
    return out;
  }

  bool user_tolerance() const { return opt.rtol >= 0 || opt.atol >= 0; }

  // Settled by the first rows: ok, and verified to a relative precision that
  // no bug worth reporting fits in (1e-7), or exactly zero on both sides.
  // Anything else gets the whole table.
  bool settled_early(const Entry& e) const {
    if (e.verdict != Verdict::ok) return false;
    if (e.analytic == 0 && e.numeric == 0) return true;
    return e.tolerance <= 1e-7 * std::max(std::abs(e.analytic), std::abs(e.numeric));
  }
};

// Checks `count` coordinates in parallel, worker w with evaluators[w]; at(k)
// gives item k's flat index and plan. Entries come back per item, and their
// evaluations are added to *evaluations in item order.
template <class At>
std::vector<std::vector<Entry>> check_coordinates(const Engine& eng, const std::vector<Evaluator*>& evaluators,
                                                  std::size_t count, At&& at, std::int64_t* evaluations) {
  std::vector<std::vector<Entry>> per_item(count);
  std::vector<std::int64_t> item_evals(count, 0);
  // Each item's result depends only on the item, so any thread count gives the same.
  gradcheck::internal::parallel_for(count, static_cast<int>(evaluators.size()), [&](std::size_t k, std::size_t w) {
    const auto [index, plan] = at(k);
    per_item[k] = eng.check_coordinate(evaluators[w], index, *plan, &item_evals[k]);
  });
  for (std::int64_t e : item_evals) *evaluations += e;
  return per_item;
}

// numeric ~ k x analytic over the coordinate entries that are not kinks or
// mismatches, weighted by 1/error_bound^2. The bounds are worst cases, so the
// standard error of k comes from the scatter about the fit:
//   k = sum(w a n) / sum(w a^2),  se^2 = sum(w (n - k a)^2) / ((N - 1) sum(w a^2)).
struct ScaleFit {
  double scale = std::numeric_limits<double>::quiet_NaN();
  double error = std::numeric_limits<double>::quiet_NaN();
  std::int64_t entries = 0;
};

inline ScaleFit fit_scale(const std::vector<Entry>& entries) {
  ScaleFit fit;
  // 1/error_bound^2 for an entry that takes part, 0 for one that does not.
  auto weight = [](const Entry& e) {
    const bool usable = !e.directional && (e.verdict == Verdict::ok || e.verdict == Verdict::inconclusive) &&
                        e.error_bound > 0 && std::isfinite(e.analytic) && std::isfinite(e.numeric);
    const double w = usable ? 1 / (e.error_bound * e.error_bound) : 0.0;
    return std::isfinite(w) ? w : 0.0;
  };
  double swan = 0, swaa = 0;
  std::int64_t count = 0;
  for (const auto& e : entries) {
    const double w = weight(e);
    if (w == 0) continue;
    swan += w * e.analytic * e.numeric;
    swaa += w * e.analytic * e.analytic;
    ++count;
  }
  if (count < 2 || !(swaa > 0) || !std::isfinite(swaa) || !std::isfinite(swan)) return fit;
  const double k = swan / swaa;
  double ss = 0;  // a second pass: sum(w n^2) - k^2 sum(w a^2) would cancel
  for (const auto& e : entries) {
    const double r = e.numeric - k * e.analytic;
    if (const double w = weight(e); w != 0) ss += w * r * r;
  }
  fit.scale = k;
  fit.error = std::sqrt(ss / (static_cast<double>(count - 1) * swaa));
  fit.entries = count;
  return fit;
}

// Whether the scale fit shows a constant factor no entry shows alone (before
// the second opinion of scale_confirmed).
inline bool scale_is_off(const BlockResult& br, const CheckOptions& opt, Dtype dtype) {
  if (opt.scale_sigmas <= 0 || opt.rtol >= 0 || opt.atol >= 0) return false;
  if (br.scale_entries < opt.scale_min_entries || !std::isfinite(br.scale) || !std::isfinite(br.scale_error))
    return false;
  const double off = std::abs(br.scale - 1);
  return off > opt.scale_sigmas * br.scale_error && off > 2 * std::sqrt(unit_roundoff(dtype));
}

// The second opinion on a scale deviation d1 = k - 1, from k2 fitted to
// estimates at 4x larger steps: rounding in the function (a large sum in f32)
// makes a deviation that shrinks as 1/step, to about d1 / 4; a constant factor
// in the gradient stays d1. Confirmed when d2 is nearer d1 than d1 / 4 and
// itself more than 3 standard errors from 0.
inline bool scale_confirmed(const BlockResult& br) {
  const double d1 = br.scale - 1, d2 = br.scale_check - 1;
  if (!std::isfinite(d2) || !std::isfinite(br.scale_check_error)) return false;
  return std::abs(d2 - d1) <= std::abs(d2 - d1 / 4) && std::abs(d2) > 3 * br.scale_check_error;
}

inline std::string scale_hint(const BlockResult& br) {
  return scale_fit_text(br) +
         ", though each entry is within its own noise: a constant factor is slightly off (a scale, a temperature "
         "or a mean over the wrong count, a constant rounded in the backward pass)";
}

// Whether the scale fit deviates and still waits for its second opinion (the
// caller re-estimates at larger steps, sets scale_check and summarizes again;
// summarize_block calls a deviation a mismatch only once scale_confirmed).
inline bool scale_pending(const BlockResult& br, const CheckOptions& opt, Dtype dtype) {
  return br.mismatches == 0 && scale_is_off(br, opt, dtype) && !std::isfinite(br.scale_check);
}

// The block's verdict, counts, worst entries, hint and scale fit from its
// entries; may be called again (everything it sets is reset first).
inline void summarize_block(BlockResult& br, std::vector<Entry>& entries, const Block& block, double global_scale,
                            const CheckOptions& opt, Dtype dtype, bool full_coverage) {
  br.mismatches = br.kinks = br.inconclusive = 0;
  br.max_rel_error = br.max_error_bound = 0;
  br.worst.clear();
  br.hint_kind = HintKind::none;
  br.hint.clear();
  double scale = 0;
  for (const auto& e : entries) scale = std::max(scale, std::abs(e.numeric));
  const double floor = std::max(1e-3 * scale, 1e-300);
  for (auto& e : entries) {
    const double mag = std::max({std::abs(e.analytic), std::abs(e.numeric), floor});
    e.rel_error = std::abs(e.analytic - e.numeric) / mag;
    // Both exactly zero is evidence, not doubt: the function did not move at
    // all along the coordinate (a dead unit) and the analytic derivative agrees.
    const bool exact_zero = e.analytic == 0 && e.numeric == 0;
    if (e.verdict == Verdict::ok && !exact_zero &&
        e.tolerance > opt.inconclusive_ratio * std::max(std::abs(e.analytic), std::abs(e.numeric)) &&
        e.tolerance > opt.negligible * global_scale)
      e.verdict = Verdict::inconclusive;
    br.max_rel_error = std::max(br.max_rel_error, e.rel_error);
    br.max_error_bound = std::max(br.max_error_bound, e.error_bound / mag);
    br.mismatches += e.verdict == Verdict::mismatch;
    br.kinks += e.verdict == Verdict::kink;
    br.inconclusive += e.verdict == Verdict::inconclusive;
  }
  const ScaleFit fit = fit_scale(entries);
  br.scale = fit.scale;
  br.scale_error = fit.error;
  br.scale_entries = fit.entries;
  const bool scale_off = br.mismatches == 0 && scale_is_off(br, opt, dtype) && scale_confirmed(br);
  if (br.mismatches > 0 || scale_off) br.verdict = Verdict::mismatch;
  else if (br.checked == 0 && br.size > 0) br.verdict = Verdict::inconclusive;
  else if (static_cast<double>(br.inconclusive) > opt.inconclusive_block_fraction * static_cast<double>(entries.size()))
    br.verdict = Verdict::inconclusive;
  else if (br.kinks > 0) br.verdict = Verdict::kink;
  else br.verdict = Verdict::ok;

  // Worst first: mismatches by how many tolerances off, then the rest by relative error.
  std::vector<std::size_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  auto badness = [&](const Entry& e) {
    const double d = std::abs(e.analytic - e.numeric);
    return e.verdict == Verdict::mismatch ? 1.0 + d / std::max(e.tolerance, 1e-300) : 0.0;
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t p, std::size_t q) {
    const double bp = badness(entries[p]), bq = badness(entries[q]);
    if (bp != bq) return bp > bq;
    return entries[p].rel_error > entries[q].rel_error;
  });
  for (std::size_t k = 0; k < order.size() && static_cast<int>(k) < opt.worst_entries; ++k)
    br.worst.push_back(entries[order[k]]);
  if (scale_off) {
    br.hint_kind = HintKind::constant_ratio;
    br.hint = scale_hint(br);
  } else if (br.verdict == Verdict::mismatch) {
    // Patterns are read from coordinate entries only (not directions).
    std::vector<Entry> coords;
    for (const auto& e : entries)
      if (!e.directional) coords.push_back(e);
    auto hint = coords.empty() ? Hint{} : analyze_hint(block, coords, opt.batch_size, full_coverage);
    br.hint_kind = hint.kind;
    br.hint = hint.text;
  }
}


// A result with the task's identity and one empty BlockResult per block.
inline CheckResult start_result(const Task& task, const CheckOptions& options, const char* mode) {
  CheckResult result;
  result.name = task.name;
  result.dtype = task.dtype;
  result.method = options.method;
  result.mode = mode;
  result.problems = task.problems;
  result.evaluations = task.evaluations;
  for (const auto& blk : task.layout.blocks()) {
    BlockResult br;
    br.name = blk.name;
    br.shape = blk.shape;
    br.size = blk.size();
    result.blocks.push_back(std::move(br));
  }
  return result;
}

inline Engine make_engine(const Task& task, const CheckOptions& options, const std::vector<Evaluator*>& evaluators) {
  Engine eng{task, options, evaluators, task.f0.size(), rms_of(task.x, 0, static_cast<std::int64_t>(task.x.size())), {}};
  eng.settings.method = options.method;
  eng.settings.roundoff = unit_roundoff(task.dtype);
  return eng;
}

// Overall verdict, passed and timing from the block results.
inline void finalize(CheckResult& result, std::chrono::steady_clock::time_point start) {
  bool any_mismatch = false, any_inconclusive = false, any_kink = false;
  for (const auto& br : result.blocks) {
    any_mismatch = any_mismatch || br.verdict == Verdict::mismatch;
    any_inconclusive = any_inconclusive || br.verdict == Verdict::inconclusive;
    any_kink = any_kink || br.verdict == Verdict::kink;
  }
  result.verdict = any_mismatch ? Verdict::mismatch
                   : any_inconclusive ? Verdict::inconclusive
                   : any_kink ? Verdict::kink
                              : Verdict::ok;
  result.passed = !any_mismatch && result.problems.empty();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Fast mode (fast.cpp): directional checks per group of blocks, then
/// bisection down to faulty blocks and coordinates.
CheckResult run_fast(Task task, const std::vector<Evaluator*>& evaluators, const CheckOptions& options);

}  // namespace gradcheck::detail::impl
