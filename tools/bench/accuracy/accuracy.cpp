#include "accuracy.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>

#include "functions.hpp"
#include "gradcheck/options.hpp"

namespace gradcheck::bench {

bool AccuracyOptions::is_valid(std::string* error) const {
  auto fail = [&](const char* why) {
    if (error != nullptr) *error = why;
    return false;
  };
  if (points_per_function < 1) return fail("points per function must be at least 1");
  if (!(relative_step >= 0) || !std::isfinite(relative_step)) return fail("relative step must be a finite number >= 0");
  if (relative_step >= 1) return fail("relative step must be below 1 (it is relative to max(|x|, 1))");
  if (worst_kept < 0) return fail("worst cases kept must be >= 0");
  return true;
}

namespace {

double checker_step(Method method, Dtype dtype) { return default_relative_step(method, dtype); }

// x as the dtype holds it.
double in_dtype(Dtype dtype, double x) { return dtype == Dtype::f32 ? static_cast<double>(static_cast<float>(x)) : x; }

// phi(t) = f(x + t) computed in the dtype, with the step the dtype applies.
LineFunction line_of(const TestFunction& fn, Dtype dtype, double x) {
  LineFunction phi;
  phi.outputs = 1;
  if (dtype == Dtype::f32) {
    const float xf = static_cast<float>(x);
    phi.applied_step = [xf](double t) {
      const float moved = xf + static_cast<float>(t);
      return static_cast<double>(moved) - static_cast<double>(xf);
    };
    phi.eval = [xf, f = fn.f32](double t, double* out) { *out = static_cast<double>(f(xf + static_cast<float>(t))); };
    phi.eval_complex_imag = [xf, f = fn.c32](double t, double* out) {
      *out = static_cast<double>(f(std::complex<float>(xf, static_cast<float>(t))).imag());
    };
  } else {
    phi.applied_step = [x](double t) { return (x + t) - x; };
    phi.eval = [x, f = fn.f64](double t, double* out) { *out = f(x + t); };
    phi.eval_complex_imag = [x, f = fn.c64](double t, double* out) { *out = f(std::complex<double>(x, t)).imag(); };
  }
  return phi;
}

// The noise level as the checker measures it (checker_noise, then at least
// half a double ulp of phi(0), as Engine::floor_noise does).
double checker_noise(const LineFunction& phi, Dtype dtype, double f0, double scale, std::int64_t* evaluations) {
  const double sigma = gradcheck::checker_noise(phi, {f0}, dtype, scale, evaluations)[0].sigma;
  return std::max(sigma, 0.5 * std::numeric_limits<double>::epsilon() * std::abs(f0));
}

struct Spec {
  Method method;
  bool sided;
};

constexpr Spec kSpecs[] = {
    {Method::forward, false},    {Method::central, false},      {Method::richardson, false},
    {Method::richardson, true},  {Method::complex_step, false},
};

std::string label_of(const Spec& s) {
  return std::string(to_string(s.method)) + (s.sided ? " (sided)" : "");
}

double median_of(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", v);
  return buf;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string percent(double fraction) { return fixed(100 * fraction, 1) + "%"; }

// Everything about one point that the estimators share: the line, phi(0), the
// noise level (measured once, as the checker does once per tensor), the truth.
struct Point {
  double x = 0;  // as the dtype holds it
  double scale = 1;
  long double truth = 0;
  LineFunction phi;
  std::vector<double> f0, noise;
};

Point make_point(const TestFunction& fn, Dtype dtype, double x, std::int64_t* noise_evaluations) {
  Point p;
  p.x = in_dtype(dtype, x);
  p.scale = std::max(std::abs(p.x), 1.0);
  p.truth = fn.derivative(static_cast<long double>(p.x));
  p.phi = line_of(fn, dtype, p.x);
  p.f0.resize(1);
  p.phi.eval(0.0, p.f0.data());
  p.noise = {checker_noise(p.phi, dtype, p.f0[0], p.scale, noise_evaluations)};
  return p;
}

CaseError estimate_at(const Point& p, const TestFunction& fn, Dtype dtype, const Spec& spec, double relative_step,
                      std::int64_t* evaluations) {
  EstimatorSettings settings;
  settings.method = spec.method;
  settings.roundoff = unit_roundoff(dtype);
  const double rel = relative_step > 0 ? relative_step : checker_step(spec.method, dtype);
  const double h = rel * p.scale;
  const Estimate e = spec.sided ? estimate_sided(p.phi, p.f0, h, p.noise, settings, evaluations).central[0]
                                : estimate_derivative(p.phi, p.f0, h, p.noise, settings, evaluations)[0];
  CaseError c;
  c.function = fn.name;
  c.x = p.x;
  c.truth = static_cast<double>(p.truth);
  c.estimate = e.value;
  c.error_bound = e.error_bound;
  const long double abs_error = std::abs(static_cast<long double>(e.value) - p.truth);
  c.error = static_cast<double>(abs_error);
  c.relative_error = static_cast<double>(abs_error / std::max(std::abs(p.truth), static_cast<long double>(DBL_MIN)));
  if (!std::isfinite(e.value)) c.error = c.relative_error = std::numeric_limits<double>::infinity();
  return c;
}

}  // namespace

CaseError measure_one(const TestFunction& fn, Dtype dtype, double x, Method method, bool sided, double relative_step) {
  std::int64_t evaluations = 0;
  const Point p = make_point(fn, dtype, x, &evaluations);
  return estimate_at(p, fn, dtype, Spec{method, sided}, relative_step, &evaluations);
}

AccuracyResult run_accuracy(const AccuracyOptions& options) {
  AccuracyResult result;
  result.options = options;
  const auto& functions = test_functions();
  result.functions = functions.size();
  const double safety = CheckOptions{}.safety;

  for (Dtype dtype : {Dtype::f64, Dtype::f32}) {
    std::vector<std::vector<CaseError>> per_spec(std::size(kSpecs));
    std::vector<std::int64_t> spec_evals(std::size(kSpecs), 0);
    std::int64_t noise_evals = 0;
    std::size_t points = 0;
    for (const TestFunction& fn : functions) {
      for (int j = 0; j < options.points_per_function; ++j) {
        const Point p = make_point(fn, dtype, test_point(fn, j, options.points_per_function), &noise_evals);
        ++points;
        for (std::size_t s = 0; s < std::size(kSpecs); ++s) {
          CaseError c = estimate_at(p, fn, dtype, kSpecs[s], options.relative_step, &spec_evals[s]);
          per_spec[s].push_back(std::move(c));
        }
      }
    }
    (dtype == Dtype::f32 ? result.noise_evaluations_f32 : result.noise_evaluations_f64) =
        static_cast<double>(noise_evals) / static_cast<double>(points);

    for (std::size_t s = 0; s < std::size(kSpecs); ++s) {
      auto& cases = per_spec[s];
      Configuration cfg;
      cfg.method = kSpecs[s].method;
      cfg.sided = kSpecs[s].sided;
      cfg.dtype = dtype;
      cfg.label = label_of(kSpecs[s]);
      cfg.cases = cases.size();
      cfg.safety = safety;
      std::vector<double> rel;
      std::size_t covered = 0, covered_safety = 0;
      for (const CaseError& c : cases) {
        rel.push_back(c.relative_error);
        covered += c.error <= c.error_bound;
        covered_safety += c.error <= safety * c.error_bound;
      }
      const double n = static_cast<double>(cases.size());
      cfg.median_relative_error = median_of(rel);
      cfg.worst_relative_error = rel.empty() ? 0.0 : *std::max_element(rel.begin(), rel.end());
      cfg.bound_coverage = static_cast<double>(covered) / n;
      cfg.safety_coverage = static_cast<double>(covered_safety) / n;
      cfg.evaluations_per_derivative = static_cast<double>(spec_evals[s]) / n;
      const auto keep = static_cast<std::size_t>(options.worst_kept);
      for (const CaseError& c : cases)
        if (!(c.error <= c.error_bound)) cfg.bound_misses.push_back(c);
      auto excess = [](const CaseError& c) { return c.error / c.error_bound; };
      std::stable_sort(cfg.bound_misses.begin(), cfg.bound_misses.end(),
                       [&](const CaseError& a, const CaseError& b) { return excess(a) > excess(b); });
      cfg.bound_misses.resize(std::min(cfg.bound_misses.size(), keep));
      // Largest first; ties keep the function order, so the list is reproducible.
      std::stable_sort(cases.begin(), cases.end(),
                       [](const CaseError& a, const CaseError& b) { return a.relative_error > b.relative_error; });
      cases.resize(std::min(cases.size(), keep));
      cfg.worst = std::move(cases);
      result.configurations.push_back(std::move(cfg));
    }
  }
  return result;
}

std::string render_markdown(const AccuracyResult& r) {
  const std::size_t cases = r.configurations.empty() ? 0 : r.configurations.front().cases;
  const double safety = r.configurations.empty() ? 0 : r.configurations.front().safety;
  std::string s;
  s += "| estimator | dtype | median rel. error | worst rel. error | error <= bound | error <= " + fixed(safety, 0) +
       " x bound | evaluations |\n";
  s += "|---|---|---:|---:|---:|---:|---:|\n";
  for (const Configuration& c : r.configurations) {
    s += "| " + c.label + " | " + to_string(c.dtype) + " | " + sci(c.median_relative_error) + " | " +
         sci(c.worst_relative_error) + " | " + percent(c.bound_coverage) + " | " + percent(c.safety_coverage) + " | " +
         fixed(c.evaluations_per_derivative, 1) + " |\n";
  }
  s += "\n" + std::to_string(r.functions) + " functions x " + std::to_string(r.options.points_per_function) +
       " points = " + std::to_string(cases) + " derivatives per row; steps: " +
       (r.options.relative_step > 0 ? "relative step " + sci(r.options.relative_step)
                                    : std::string("the checker's defaults")) +
       " times max(|x|, 1). Noise level estimate: " + fixed(r.noise_evaluations_f64, 1) + " (f64) / " +
       fixed(r.noise_evaluations_f32, 1) + " (f32) evaluations per point, not counted above.\n";
  return s;
}

std::string render_details(const AccuracyResult& r) {
  auto rows = [](const std::vector<CaseError>& list) {
    std::string s = "| function | x | f'(x) | estimate | error bound | error / bound | rel. error |\n"
                    "|---|---:|---:|---:|---:|---:|---:|\n";
    for (const CaseError& e : list) {
      char buf[320];
      std::snprintf(buf, sizeof buf, "| %s | %.9g | %.17g | %.17g | %.2e | %.2g | %.2e |\n", e.function.c_str(), e.x,
                    e.truth, e.estimate, e.error_bound, e.error / e.error_bound,
                    e.relative_error);
      s += buf;
    }
    return s;
  };
  std::string s;
  for (const Configuration& c : r.configurations) {
    const std::string name = c.label + " " + to_string(c.dtype);
    s += "\n### " + name + ": largest relative errors\n\n" + rows(c.worst);
    if (!c.bound_misses.empty()) s += "\n### " + name + ": errors above the bound\n\n" + rows(c.bound_misses);
  }
  return s;
}

std::vector<TargetCheck> check_targets(const AccuracyResult& r) {
  auto find = [&](Method m, bool sided, Dtype d) -> const Configuration* {
    for (const Configuration& c : r.configurations)
      if (c.method == m && c.sided == sided && c.dtype == d) return &c;
    return nullptr;
  };
  std::vector<TargetCheck> out;
  auto median_target = [&](const Configuration* c, double limit) {
    if (c == nullptr) return;
    TargetCheck t;
    t.description = c->label + " " + to_string(c->dtype) + " median relative error <= " + sci(limit);
    t.value = c->median_relative_error;
    t.limit = limit;
    t.met = t.value <= limit;
    out.push_back(std::move(t));
  };
  median_target(find(Method::richardson, false, Dtype::f64), 1e-12);
  median_target(find(Method::richardson, true, Dtype::f64), 1e-12);
  median_target(find(Method::complex_step, false, Dtype::f64), 1e-15);
  median_target(find(Method::central, false, Dtype::f64), 1e-9);
  // f32: the better of central and Richardson (either path).
  const Configuration* best = nullptr;
  for (const Configuration* c : {find(Method::central, false, Dtype::f32), find(Method::richardson, false, Dtype::f32),
                                 find(Method::richardson, true, Dtype::f32)})
    if (c != nullptr && (best == nullptr || c->median_relative_error < best->median_relative_error)) best = c;
  if (best != nullptr) {
    TargetCheck t;
    t.description = "best of central and richardson f32 (" + best->label + ") median relative error <= 1.0e-05";
    t.value = best->median_relative_error;
    t.limit = 1e-5;
    t.met = t.value <= t.limit;
    out.push_back(std::move(t));
  }
  return out;
}

std::string render_targets(const std::vector<TargetCheck>& targets) {
  std::string s;
  for (const TargetCheck& t : targets)
    s += std::string("- ") + (t.met ? "met" : "MISSED") + ": " + t.description + " (measured " + sci(t.value) + ")\n";
  return s;
}

}  // namespace gradcheck::bench
