// One coordinate (or direction) of the engine: its step, its line, its
// noise and the judgement of analytic against numeric.

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine_impl.hpp"

namespace gradcheck::detail::impl {

double default_step(Method method, Dtype dtype) { return default_relative_step(method, dtype); }

// The step (x_i + t) - x_i actually applied in the dtype.
double applied(Dtype dtype, double xi, double t) {
  if (dtype == Dtype::f32) {
    const float xf = static_cast<float>(xi);
    const float moved = xf + static_cast<float>(t);
    return static_cast<double>(moved) - static_cast<double>(xf);
  }
  const double moved = xi + t;
  return moved - xi;
}

double Engine::scale_of(double xi, double block_rms) const {
  return std::max({std::abs(xi), block_rms, global_rms, 1e-3});
}

LineFunction Engine::coordinate_line(Evaluator* ev, std::int64_t i) const {
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

LineFunction Engine::direction_line(Evaluator* ev, const std::vector<double>& d) const {
  LineFunction phi;
  phi.outputs = m;
  phi.applied_step = [](double t) { return t; };
  phi.eval = [ev, &d](double t, double* out) { ev->along(d, t, out); };
  if (ev->complex()) phi.eval_complex_imag = [ev, &d](double t, double* out) { ev->complex_along(d, t, out); };
  return phi;
}

// The noise floor: a double result is at least rounded to double.
void Engine::floor_noise(std::vector<double>& sigma) const {
  for (std::size_t k = 0; k < m; ++k)
    sigma[k] = std::max(sigma[k], 0.5 * std::numeric_limits<double>::epsilon() * std::abs(task.f0[k]));
}

// A random direction supported on [begin, end), each coordinate scaled by its
// step scale so every coordinate moves in proportion.
std::vector<double> Engine::block_direction(std::int64_t begin, std::int64_t end, double block_rms, std::uint64_t seed) const {
  std::vector<double> d(task.x.size(), 0.0);
  auto z = normal_vector(seed, static_cast<std::size_t>(end - begin));
  for (std::int64_t i = begin; i < end; ++i)
    d[static_cast<std::size_t>(i)] = z[static_cast<std::size_t>(i - begin)] * scale_of(task.x[i], block_rms);
  return d;
}

// The noise level along `d`, rescaled to the length of a typical
// coordinate scale (see checker_noise).
std::vector<NoiseLevel> Engine::measure_noise(std::vector<double> d, Evaluator* ev, std::int64_t* evals) const {
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
Entry Engine::judge(double a, const Estimate& c, const Estimate* left, const Estimate* right, NearKink* near) const {
  if (near != nullptr) *near = NearKink::no;
  Entry e;
  e.analytic = a;
  e.numeric = c.value;
  e.error_bound = c.error_bound;
  e.rounding = c.rounding;
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
    if (near != nullptr) *near = NearKink::kink;
  } else if (ok) {
    e.verdict = Verdict::ok;
  } else {
    // The central estimate disagrees, but a one-sided one may agree: the step
    // straddled a kink near the point, so one side is clean.
    auto agrees = [&](const Estimate& s) {
      return std::abs(a - s.value) <= (user_tol ? tol_for(s.error_bound, s.value) : opt.safety * s.error_bound);
    };
    const Estimate* match = agrees(*left) ? left : agrees(*right) ? right : nullptr;
    const bool can_know_better = match != nullptr && (gap > opt.safety * std::min(bound_sum, c.error_bound) ||
                                                      match->error_bound <= c.error_bound);
    if (match != nullptr && !can_know_better && near != nullptr) *near = NearKink::side;
    if (match != nullptr && (lenient || can_know_better)) {
      e.verdict = gap > opt.safety * bound_sum ? Verdict::kink : Verdict::ok;
      if (e.verdict == Verdict::kink && near != nullptr) *near = NearKink::kink;  // a kink within the step
      if (e.verdict == Verdict::ok) {
        e.numeric = match->value;
        e.error_bound = match->error_bound;
        e.rounding = match->rounding;
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
    e.rounding = near.rounding;
    e.tolerance = tol_for(near.error_bound, near.value);
  }
  return e;
}

// Compares every output of coordinate i.
std::vector<Entry> Engine::check_coordinate(Evaluator* ev, std::int64_t i, const BlockPlan& plan, std::int64_t* evals,
                                            std::vector<NearKink>* near) const {
  if (near != nullptr) near->assign(m, NearKink::no);
  auto judged = [&](std::size_t k, double a_k, const Estimate& c, const Estimate& l, const Estimate& r) {
    return judge(a_k, c, &l, &r, near != nullptr ? &(*near)[k] : nullptr);
  };
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
    if (staged && quick_central(phi, a, scale_of(xi, plan.rms), plan, out, evals)) return finish(out);
    // The early rows' values are kept for the whole table, whose first rows
    // take the same steps (the same h, divided the same way): it evaluates
    // only the rows the early stage did not. (Only the early stage keeps:
    // nothing evaluates the whole table's rows twice.)
    struct Kept {
      double t;
      std::vector<double> f;
    };
    std::vector<Kept> kept;
    bool keeping = true;
    std::int64_t calls = 0;
    LineFunction line = phi;
    line.eval = [&](double t, double* f) {
      for (const Kept& k : kept)
        if (k.t == t) {
          std::copy(k.f.begin(), k.f.end(), f);
          return;
        }
      phi.eval(t, f);
      ++calls;
      if (keeping) kept.push_back({t, std::vector<double>(f, f + m)});
    };
    if (staged && task.dtype == Dtype::f64 && opt.early_rows > 0 && opt.early_rows < settings.ridders_rows &&
        !user_tolerance()) {
      EstimatorSettings few = settings;
      few.ridders_rows = opt.early_rows;
      const SidedEstimates est = estimate_sided(line, task.f0, h, plan.noise, few, nullptr);
      bool settled = true;
      for (std::size_t k = 0; k < m; ++k) {
        out[k] = judged(k, a[k], est.central[k], est.left[k], est.right[k]);
        settled = settled && settled_early(out[k]);
      }
      if (settled) {
        if (evals != nullptr) *evals += calls;
        return finish(out);
      }
    }
    keeping = false;
    const SidedEstimates est = estimate_sided(line, task.f0, h, plan.noise, settings, nullptr);
    if (evals != nullptr) *evals += calls;
    for (std::size_t k = 0; k < m; ++k) out[k] = judged(k, a[k], est.central[k], est.left[k], est.right[k]);
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
          NearKink why = NearKink::no;
          Entry e2 = judge(a[k], est[k], &sided.left[k], &sided.right[k], &why);
          if (e2.verdict == Verdict::kink) out[k] = e2;
          if (why == NearKink::kink && near != nullptr) (*near)[k] = why;
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
//   |a - c| <= p max(|a|, |c|, rho)  and  r <= p max(|a|, |c|, rho)
// with p = CheckOptions::quick_precision and rho the RMS of the block's
// analytic derivatives: a wrong derivative would then have to be cancelled by
// this one step's truncation error to within p of itself or of its block's
// typical derivative, a coincidence rather than a risk, and p is below any
// bug worth reporting.
// Both exactly zero does not settle: |x| at 0 with sign(0) = 0 looks like
// that, and only the one-sided tables tell it is a kink. Not in f32: there
// r alone is 1e-3 of a typical gradient entry or more.
bool Engine::quick_central(const LineFunction& phi, const std::vector<double>& a, double scale, const BlockPlan& plan,
                           std::vector<Entry>& out, std::int64_t* evals) const {
  const std::vector<double>& noise = plan.noise;
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
    const double rho = k < plan.derivative_rms.size() ? plan.derivative_rms[k] : 0.0;
    const double mag = std::max({std::abs(a[k]), std::abs(c), rho});
    const double diff = std::abs(a[k] - c);
    if (!std::isfinite(c) || !(diff <= p * mag && r <= p * mag)) return false;
    Entry& e = out[k];
    e.analytic = a[k];
    e.numeric = c;
    e.error_bound = std::max(r, diff);  // the truncation is known only to be below the agreement
    e.rounding = r;
    e.tolerance = p * mag;
    e.verdict = Verdict::ok;
    e.quick = true;
  }
  return true;
}

std::vector<Entry> Engine::finish(std::vector<Entry>& out) const {
  for (std::size_t k = 0; k < m; ++k) out[k].output = m == 1 ? -1 : static_cast<std::int64_t>(k);
  return out;
}

bool Engine::user_tolerance() const { return opt.rtol >= 0 || opt.atol >= 0; }

// Settled by the first rows: ok, and verified to a relative precision that
// no bug worth reporting fits in (1e-7), or exactly zero on both sides.
// Anything else gets the whole table.
bool Engine::settled_early(const Entry& e) const {
  if (e.verdict != Verdict::ok) return false;
  if (e.analytic == 0 && e.numeric == 0) return true;
  return e.tolerance <= 1e-7 * std::max(std::abs(e.analytic), std::abs(e.numeric));
}

Engine make_engine(const Task& task, const CheckOptions& options, const std::vector<Evaluator*>& evaluators) {
  Engine eng{task, options, evaluators, task.f0.size(), rms_of(task.x, 0, static_cast<std::int64_t>(task.x.size())), {}};
  eng.settings.method = options.method;
  eng.settings.roundoff = unit_roundoff(task.dtype);
  // In f32 the rounding of the function dominates past the first rows: on
  // every test and sample model the best row is among the first four, and 4
  // rows give the same verdicts, hints, inconclusive counts and bounds as 10
  // (docs/benchmarks.md), at 8 evaluations a coordinate instead of 20.
  if (task.dtype == Dtype::f32) eng.settings.ridders_rows = std::min(eng.settings.ridders_rows, 4);
  return eng;
}

}  // namespace gradcheck::detail::impl
