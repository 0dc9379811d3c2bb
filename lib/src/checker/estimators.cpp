#include "gradcheck/estimators.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace gradcheck {

double unit_roundoff(Dtype dtype) {
  return dtype == Dtype::f32 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
}

double default_relative_step(Method method, Dtype dtype) {
  const double u = unit_roundoff(dtype);
  switch (method) {
    case Method::richardson: return dtype == Dtype::f32 ? 0.05 : 1e-2;
    case Method::central: return std::cbrt(3 * u);
    case Method::forward: return std::sqrt(4 * u);
    case Method::complex_step: return dtype == Dtype::f32 ? 1e-10 : 1e-20;
  }
  return 1e-3;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Two-point estimates D(h) and D(2h) with error c*h^p: the truncation of D(h) is
// about |D(2h) - D(h)| / (2^p - 1).
std::vector<Estimate> two_step(const std::vector<double>& d1, const std::vector<double>& d2,
                               double step, int order, const std::vector<double>& rounding, double roundoff) {
  const double denom = std::pow(2.0, order) - 1.0;
  std::vector<Estimate> out(d1.size());
  for (std::size_t k = 0; k < d1.size(); ++k) {
    Estimate& e = out[k];
    e.value = d1[k];
    e.truncation = std::abs(d2[k] - d1[k]) / denom;
    e.rounding = rounding[k] + 4 * roundoff * std::abs(e.value);
    e.error_bound = e.truncation + e.rounding;
    e.step = step;
  }
  return out;
}

// A step that is not zero once applied (a coordinate of 1e30 swallows h = 1e-5).
double nonzero_step(const LineFunction& phi, double h) {
  for (int tries = 0; tries < 60; ++tries) {
    const double s = phi.applied_step(h);
    if (s != 0 && std::isfinite(s)) return s;
    h *= 2;
  }
  throw std::domain_error("gradcheck: no step changes the argument");
}

// A Neville table of difference quotients extrapolated to step 0, for m
// outputs at once, filled one row (one step) at a time. Each output keeps the
// entry with the smallest truncation + rounding; `factor` is ratio^power,
// where `power` is the exponent gap between successive error terms (2 for
// central differences, 1 for one-sided).
class NevilleTable {
 public:
  NevilleTable(std::size_t m, int rows, double factor, const EstimatorSettings& s)
      : m_(m), rows_(rows), factor_(factor), s_(s), a_(static_cast<std::size_t>(rows * rows) * m, 0.0),
        r_(a_.size(), 0.0), best_(m), best_err_(m, kInf), stopped_(m, false) {}

  // Adds row i (raw quotients, their rounding bounds, the applied step).
  void add_row(const double* row, const double* rnd, double applied) {
    const int i = added_++;
    for (std::size_t k = 0; k < m_; ++k) {
      a_[at(i, 0, k)] = row[k];
      r_[at(i, 0, k)] = rnd[k];
    }
    if (i == 0) {
      for (std::size_t k = 0; k < m_; ++k) {
        best_[k].value = row[k];
        best_[k].step = applied;
        best_[k].rounding = rnd[k];
      }
    }
    double fac = factor_;
    for (int j = 1; j <= i; ++j) {
      for (std::size_t k = 0; k < m_; ++k) {
        const double v = (a_[at(i, j - 1, k)] * fac - a_[at(i - 1, j - 1, k)]) / (fac - 1.0);
        const double rv = (r_[at(i, j - 1, k)] * fac + r_[at(i - 1, j - 1, k)]) / (fac - 1.0);
        a_[at(i, j, k)] = v;
        r_[at(i, j, k)] = rv;
        if (stopped_[k]) continue;
        const double trunc = std::max(std::abs(v - a_[at(i, j - 1, k)]), std::abs(v - a_[at(i - 1, j - 1, k)]));
        const double total = trunc + rv;
        if (total <= best_err_[k]) {
          best_err_[k] = total;
          best_[k].value = v;
          best_[k].truncation = trunc;
          best_[k].rounding = rv;
          best_[k].step = applied;
        }
      }
      fac *= factor_;
    }
    // Numerical Recipes' stop: the error grew by ridders_safe along the diagonal.
    if (i > 0)
      for (std::size_t k = 0; k < m_; ++k)
        if (!stopped_[k] && std::abs(a_[at(i, i, k)] - a_[at(i - 1, i - 1, k)]) >= s_.ridders_safe * best_err_[k])
          stopped_[k] = true;
  }

  bool all_stopped() const {
    return added_ > 1 && std::all_of(stopped_.begin(), stopped_.end(), [](bool b) { return b; });
  }

  // Whether a next row whose raw rounding bounds are `rnd` (and every row
  // after it, checked by the caller) can change no output's choice: its
  // entries carry at least the rounding of the first extrapolation,
  // (r_i f + r_(i-1)) / (f - 1), which only grows along the row; an entry
  // replaces the choice only when its truncation + rounding is no larger.
  bool cannot_improve(const double* rnd, const double* prev_rnd) const {
    for (std::size_t k = 0; k < m_; ++k) {
      if (stopped_[k]) continue;
      const double floor = (rnd[k] * factor_ + prev_rnd[k]) / (factor_ - 1.0);
      if (!(floor > best_err_[k])) return false;
    }
    return true;
  }

  std::vector<Estimate> result() const {
    std::vector<Estimate> best = best_;
    for (std::size_t k = 0; k < m_; ++k) {
      best[k].rounding += 4 * s_.roundoff * std::abs(best[k].value);
      best[k].error_bound = best[k].truncation + best[k].rounding;
    }
    return best;
  }

 private:
  std::size_t at(int i, int j, std::size_t k) const { return static_cast<std::size_t>(i * rows_ + j) * m_ + k; }
  std::size_t m_;
  int rows_;
  double factor_;
  const EstimatorSettings& s_;
  std::vector<double> a_, r_;
  std::vector<Estimate> best_;
  std::vector<double> best_err_;
  std::vector<bool> stopped_;
  int added_ = 0;
};

// The whole table: `quotient(h, out, rnd, applied)` returns a row's raw
// estimates (m values), their rounding bounds and the applied step; rows
// stop when every output has stopped.
template <class Quotient>
std::vector<Estimate> extrapolate(std::size_t m, double h, const EstimatorSettings& s, int power,
                                  Quotient&& quotient) {
  const int rows = std::max(2, s.ridders_rows);
  NevilleTable table(m, rows, std::pow(s.ridders_ratio, power), s);
  std::vector<double> row(m), rnd(m);
  double hh = h;
  for (int i = 0; i < rows; ++i) {
    double applied = 0;
    quotient(hh, row.data(), rnd.data(), &applied);
    table.add_row(row.data(), rnd.data(), applied);
    if (table.all_stopped()) break;
    hh /= s.ridders_ratio;
  }
  return table.result();
}

}  // namespace

std::vector<Estimate> estimate_derivative(const LineFunction& phi, const std::vector<double>& f0,
                                          double h, const std::vector<double>& noise,
                                          const EstimatorSettings& s, std::int64_t* evaluations) {
  const std::size_t m = phi.outputs;
  if (f0.size() != m || noise.size() != m) throw std::invalid_argument("gradcheck: output count mismatch");
  std::vector<double> fp(m), fm(m);
  std::int64_t evals = 0;
  auto central_quotient = [&](double hh, double* out, double* rnd, double* applied) {
    const double sp = nonzero_step(phi, hh);
    const double sm = nonzero_step(phi, -hh);
    phi.eval(sp, fp.data());
    phi.eval(sm, fm.data());
    evals += 2;
    const double width = sp - sm;
    for (std::size_t k = 0; k < m; ++k) {
      out[k] = (fp[k] - fm[k]) / width;
      rnd[k] = 2.0 * s.noise_kappa * noise[k] / width;
    }
    *applied = 0.5 * width;
  };
  std::vector<Estimate> result;
  switch (s.method) {
    case Method::forward: {
      std::vector<double> d1(m), d2(m), rnd(m);
      double s1 = nonzero_step(phi, h), s2 = nonzero_step(phi, 2 * h);
      phi.eval(s1, fp.data());
      for (std::size_t k = 0; k < m; ++k) d1[k] = (fp[k] - f0[k]) / s1;
      phi.eval(s2, fp.data());
      for (std::size_t k = 0; k < m; ++k) {
        d2[k] = (fp[k] - f0[k]) / s2;
        rnd[k] = 2.0 * s.noise_kappa * noise[k] / std::abs(s1);
      }
      evals += 2;
      result = two_step(d1, d2, s1, 1, rnd, s.roundoff);
      break;
    }
    case Method::central: {
      std::vector<double> d1(m), d2(m), r1(m), r2(m);
      double a1 = 0, a2 = 0;
      central_quotient(h, d1.data(), r1.data(), &a1);
      central_quotient(2 * h, d2.data(), r2.data(), &a2);
      result = two_step(d1, d2, a1, 2, r1, s.roundoff);
      break;
    }
    case Method::richardson:
      result = extrapolate(m, h, s, 2, central_quotient);
      break;
    case Method::complex_step: {
      if (!phi.eval_complex_imag) throw std::invalid_argument("gradcheck: complex step needs a complex-capable function");
      std::vector<double> d1(m), d2(m), rnd(m);
      phi.eval_complex_imag(h, fp.data());
      phi.eval_complex_imag(2 * h, fm.data());
      evals += 2;
      for (std::size_t k = 0; k < m; ++k) {
        d1[k] = fp[k] / h;
        d2[k] = fm[k] / (2 * h);
        // No subtraction, so rounding is relative to the value itself.
        rnd[k] = s.noise_kappa * 4 * s.roundoff * std::abs(d1[k]);
      }
      result = two_step(d1, d2, h, 2, rnd, 0.0);
      break;
    }
  }
  if (evaluations != nullptr) *evaluations += evals;
  return result;
}

std::vector<Estimate> estimate_one_sided(const LineFunction& phi, const std::vector<double>& f0,
                                         double h, int side, const std::vector<double>& noise,
                                         const EstimatorSettings& s, std::int64_t* evaluations) {
  const std::size_t m = phi.outputs;
  if (f0.size() != m || noise.size() != m) throw std::invalid_argument("gradcheck: output count mismatch");
  std::vector<double> fp(m);
  std::int64_t evals = 0;
  auto quotient = [&](double hh, double* out, double* rnd, double* applied) {
    const double st = nonzero_step(phi, side > 0 ? hh : -hh);
    phi.eval(st, fp.data());
    ++evals;
    for (std::size_t k = 0; k < m; ++k) {
      out[k] = (fp[k] - f0[k]) / st;
      rnd[k] = 2.0 * s.noise_kappa * noise[k] / std::abs(st);
    }
    *applied = st;
  };
  auto result = extrapolate(m, h, s, 1, quotient);
  if (evaluations != nullptr) *evaluations += evals;
  return result;
}

SidedEstimates estimate_sided(const LineFunction& phi, const std::vector<double>& f0, double h,
                              const std::vector<double>& noise, const EstimatorSettings& s,
                              std::int64_t* evaluations) {
  const std::size_t m = phi.outputs;
  if (f0.size() != m || noise.size() != m) throw std::invalid_argument("gradcheck: output count mismatch");
  const int rows = std::max(2, s.ridders_rows);
  // The applied steps, and so every row's rounding bounds, are known before
  // any evaluation.
  std::vector<double> sp(static_cast<std::size_t>(rows)), sm(sp.size());
  double hh = h;
  for (int i = 0; i < rows; ++i) {
    sp[i] = nonzero_step(phi, hh);
    sm[i] = nonzero_step(phi, -hh);
    hh /= s.ridders_ratio;
  }
  // Raw rounding bounds of row i: central, right, left, m each.
  std::vector<double> rnd(static_cast<std::size_t>(rows) * 3 * m);
  auto rnd_of = [&](int i, int table) { return rnd.data() + (static_cast<std::size_t>(i) * 3 + table) * m; };
  for (int i = 0; i < rows; ++i)
    for (std::size_t k = 0; k < m; ++k) {
      rnd_of(i, 0)[k] = 2.0 * s.noise_kappa * noise[k] / (sp[i] - sm[i]);
      rnd_of(i, 1)[k] = 2.0 * s.noise_kappa * noise[k] / std::abs(sp[i]);
      rnd_of(i, 2)[k] = 2.0 * s.noise_kappa * noise[k] / std::abs(sm[i]);
    }
  // Every row goes into all three tables (no early stop of their own: the
  // sides are compared entry for entry), in the order a sequential
  // evaluation gives them.
  EstimatorSettings all_rows = s;
  all_rows.ridders_safe = std::numeric_limits<double>::infinity();
  NevilleTable central(m, rows, std::pow(s.ridders_ratio, 2), all_rows);
  NevilleTable right(m, rows, std::pow(s.ridders_ratio, 1), all_rows);
  NevilleTable left(m, rows, std::pow(s.ridders_ratio, 1), all_rows);
  constexpr int kFirstRows = 2;  // the rows every coordinate gets
  auto rest_is_useless = [&](int n) {
    for (int i = n; i < rows; ++i)
      if (!central.cannot_improve(rnd_of(i, 0), rnd_of(i - 1, 0)) ||
          !right.cannot_improve(rnd_of(i, 1), rnd_of(i - 1, 1)) || !left.cannot_improve(rnd_of(i, 2), rnd_of(i - 1, 2)))
        return false;
    return true;
  };
  std::vector<double> plus(m), minus(m), q(m);
  int evaluated = 0;
  for (int i = 0; i < rows; ++i) {
    if (s.skip_useless_rows && i >= kFirstRows && rest_is_useless(i)) break;
    phi.eval(sp[i], plus.data());
    phi.eval(sm[i], minus.data());
    evaluated = i + 1;
    const double width = sp[i] - sm[i];
    for (std::size_t k = 0; k < m; ++k) q[k] = (plus[k] - minus[k]) / width;
    central.add_row(q.data(), rnd_of(i, 0), 0.5 * width);
    for (std::size_t k = 0; k < m; ++k) q[k] = (plus[k] - f0[k]) / sp[i];
    right.add_row(q.data(), rnd_of(i, 1), sp[i]);
    for (std::size_t k = 0; k < m; ++k) q[k] = (minus[k] - f0[k]) / sm[i];
    left.add_row(q.data(), rnd_of(i, 2), sm[i]);
  }
  if (evaluations != nullptr) *evaluations += 2 * evaluated;
  return {central.result(), left.result(), right.result()};
}

std::vector<NoiseLevel> estimate_noise(const LineFunction& phi, const std::vector<double>& f0,
                                       double delta, const std::vector<double>& fallback,
                                       std::int64_t* evaluations) {
  const std::size_t m = phi.outputs;
  constexpr int kPoints = 9;
  constexpr int kMaxOrder = 6;
  std::vector<NoiseLevel> out(m);
  std::vector<bool> done(m, false);
  // gamma_k = (k!)^2 / (2k)!
  double gamma[kMaxOrder + 1];
  gamma[0] = 1.0;
  for (int k = 1; k <= kMaxOrder; ++k) gamma[k] = gamma[k - 1] * k / (2.0 * (2 * k - 1));
  std::vector<double> values(static_cast<std::size_t>(kPoints) * m), tmp(m);
  std::vector<int> direction(m, 0);  // -1 smaller, +1 larger, 0 undecided
  for (int attempt = 0; attempt < 5; ++attempt) {
    for (int j = 0; j < kPoints; ++j) {
      if (j == kPoints / 2) {
        for (std::size_t k = 0; k < m; ++k) values[j * m + k] = f0[k];
        continue;
      }
      const double t = phi.applied_step((j - kPoints / 2) * delta);
      phi.eval(t, tmp.data());
      if (evaluations != nullptr) ++*evaluations;
      for (std::size_t k = 0; k < m; ++k) values[j * m + k] = tmp[k];
    }
    bool all_done = true;
    int want = 0;
    for (std::size_t k = 0; k < m; ++k) {
      if (done[k]) continue;
      double table[kPoints];
      for (int j = 0; j < kPoints; ++j) table[j] = values[j * m + k];
      double fmin = table[0], fmax = table[0];
      for (double v : table) fmin = std::min(fmin, v), fmax = std::max(fmax, v);
      // Count distinct neighbours: when most values repeat, the spacing is too
      // small for the function to register it.
      int repeats = 0;
      for (int j = 1; j < kPoints; ++j) repeats += table[j] == table[j - 1];
      if (fmax == fmin) {
        out[k] = {0.0, true, delta};
        done[k] = true;
        continue;
      }
      if (repeats > kPoints / 2) {
        direction[k] = +1;
        all_done = false;
        want = want == 0 ? +1 : want;
        continue;
      }
      double sigma[kMaxOrder + 2] = {};
      bool sign_change[kMaxOrder + 2] = {};
      int len = kPoints;
      for (int order = 1; order <= kMaxOrder; ++order) {
        --len;
        double lo = kInf, hi = -kInf, sumsq = 0;
        for (int j = 0; j < len; ++j) {
          table[j] = table[j + 1] - table[j];
          lo = std::min(lo, table[j]);
          hi = std::max(hi, table[j]);
          sumsq += table[j] * table[j];
        }
        sigma[order] = std::sqrt(gamma[order] * sumsq / len);
        sign_change[order] = lo < 0 && hi > 0;
      }
      bool found = false;
      for (int order = 1; order + 2 <= kMaxOrder; ++order) {
        const double smax = std::max({sigma[order], sigma[order + 1], sigma[order + 2]});
        const double smin = std::min({sigma[order], sigma[order + 1], sigma[order + 2]});
        if (smax <= 4 * smin && sign_change[order]) {
          out[k] = {sigma[order], true, delta};
          done[k] = true;
          found = true;
          break;
        }
      }
      if (!found) {
        // Differences dominated by the smooth part (or a kink): a smaller spacing.
        all_done = false;
        if (want == 0) want = -1;
      }
    }
    if (all_done) break;
    delta = want > 0 ? delta * 100 : delta / 100;
  }
  for (std::size_t k = 0; k < m; ++k)
    if (!done[k]) out[k] = {fallback[k], false, delta};
  return out;
}

std::vector<NoiseLevel> checker_noise(const LineFunction& phi, const std::vector<double>& f0, Dtype dtype,
                                      double scale, std::int64_t* evaluations) {
  const std::size_t m = phi.outputs;
  std::vector<double> fallback(m);
  for (std::size_t k = 0; k < m; ++k) fallback[k] = 64 * unit_roundoff(dtype) * std::max(std::abs(f0[k]), 1e-300);
  const double delta = (dtype == Dtype::f32 ? 1e-3 : 1e-6) * scale;
  std::vector<std::vector<NoiseLevel>> runs;
  for (double spacing : {delta, delta / 10, delta / 100}) runs.push_back(estimate_noise(phi, f0, spacing, fallback, evaluations));
  std::vector<NoiseLevel> out(m);
  for (std::size_t k = 0; k < m; ++k) {
    std::vector<double> good;
    for (const auto& r : runs)
      if (r[k].estimated) good.push_back(r[k].sigma);
    std::sort(good.begin(), good.end());
    if (good.empty()) out[k] = runs[0][k];
    else if (good.size() == 2) out[k] = {good[1], true, delta};
    else out[k] = {good[good.size() / 2], true, delta};
  }
  return out;
}

}  // namespace gradcheck
