// The accuracy benchmark's own correctness: its truths, its intervals, its
// statistics and its target checks. A wrong closed-form derivative would make
// every estimator look bad (or a wrong "truth" could make a bad one look good).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <set>

#include "accuracy.hpp"
#include "functions.hpp"
#include "gradcheck/check.hpp"

using namespace gradcheck;
using namespace gradcheck::bench;

TEST_CASE("every closed-form derivative agrees with the complex step in double", "[bench][functions]") {
  // The complex step has no cancellation: it is good to a few ulp, so a typo in
  // a formula (a factor, a sign, a missed chain-rule term) cannot hide.
  for (const TestFunction& fn : test_functions()) {
    for (int j = 0; j < 16; ++j) {
      const double x = test_point(fn, j, 16);
      const double h = 1e-20;
      const double cs = fn.c64(std::complex<double>(x, h)).imag() / h;
      const double truth = static_cast<double>(fn.derivative(x));
      INFO(fn.name << " at x = " << x << ": closed form " << truth << ", complex step " << cs);
      CHECK(std::abs(cs - truth) <= 1e-13 * std::abs(truth));
    }
  }
}

TEST_CASE("the four arithmetics compute the same function", "[bench][functions]") {
  for (const TestFunction& fn : test_functions()) {
    for (int j = 0; j < 8; ++j) {
      const double x = test_point(fn, j, 8);
      const double f64 = fn.f64(x);
      INFO(fn.name << " at x = " << x);
      CHECK(fn.c64(std::complex<double>(x, 0.0)).real() == Approx(f64).epsilon(1e-14));
      const float xf = static_cast<float>(x);
      const double ref = fn.f64(static_cast<double>(xf));
      CHECK(static_cast<double>(fn.f32(xf)) == Approx(ref).epsilon(1e-5).margin(1e-6));
      CHECK(static_cast<double>(fn.c32(std::complex<float>(xf, 0.0f)).real()) == Approx(ref).epsilon(1e-5).margin(1e-6));
    }
  }
}

TEST_CASE("derivatives stay away from zero on every interval", "[bench][functions]") {
  // The README promises |f'| >= 1e-3 on each interval (relative errors are
  // meaningful there); checked on a fine grid.
  std::set<std::string> names;
  for (const TestFunction& fn : test_functions()) {
    names.insert(fn.name);
    REQUIRE(fn.lo < fn.hi);
    double smallest = INFINITY;
    for (int j = 0; j <= 2000; ++j) {
      const long double x = fn.lo + (fn.hi - fn.lo) * j / 2000.0L;
      smallest = std::min(smallest, static_cast<double>(std::abs(fn.derivative(x))));
    }
    INFO(fn.name << " on [" << fn.lo << ", " << fn.hi << "]: min |f'| = " << smallest);
    CHECK(smallest >= 1e-3);
  }
  CHECK(names.size() == test_functions().size());  // no function listed twice
  CHECK(test_functions().size() >= 20);
}

TEST_CASE("test points are the midpoints of equal cells", "[bench][functions]") {
  const TestFunction& fn = test_functions().front();
  const int n = 4;
  const double cell = (fn.hi - fn.lo) / n;
  CHECK(test_point(fn, 0, n) == Approx(fn.lo + cell / 2));
  CHECK(test_point(fn, n - 1, n) == Approx(fn.hi - cell / 2));
}

TEST_CASE("options are validated", "[bench][options]") {
  AccuracyOptions o;
  std::string why;
  CHECK(o.is_valid(&why));
  o.points_per_function = 0;
  CHECK_FALSE(o.is_valid(&why));
  CHECK(why.find("points") != std::string::npos);
  o = AccuracyOptions{};
  o.relative_step = -1;
  CHECK_FALSE(o.is_valid(&why));
  o.relative_step = NAN;
  CHECK_FALSE(o.is_valid(&why));
  o.relative_step = 1;
  CHECK_FALSE(o.is_valid(&why));
}

TEST_CASE("run_accuracy covers every estimator, dtype and case, deterministically", "[bench][run]") {
  AccuracyOptions o;
  o.points_per_function = 2;
  const AccuracyResult a = run_accuracy(o);
  const AccuracyResult b = run_accuracy(o);
  REQUIRE(a.configurations.size() == 10);  // 5 estimators x 2 dtypes
  REQUIRE(b.configurations.size() == a.configurations.size());
  for (std::size_t i = 0; i < a.configurations.size(); ++i) {
    const Configuration& c = a.configurations[i];
    INFO(c.label << " " << to_string(c.dtype));
    CHECK(c.dtype == (i < 5 ? Dtype::f64 : Dtype::f32));
    CHECK(c.cases == 2 * test_functions().size());
    CHECK(c.median_relative_error == b.configurations[i].median_relative_error);
    CHECK(c.worst_relative_error == b.configurations[i].worst_relative_error);
    CHECK(c.bound_coverage == b.configurations[i].bound_coverage);
    CHECK(c.median_relative_error <= c.worst_relative_error);
    CHECK(c.bound_coverage >= 0);
    CHECK(c.safety_coverage >= c.bound_coverage);
    CHECK(c.safety_coverage <= 1);
    REQUIRE(c.worst.size() == 5);
    CHECK(c.worst.front().relative_error == c.worst_relative_error);
    for (std::size_t k = 1; k < c.worst.size(); ++k) CHECK(c.worst[k - 1].relative_error >= c.worst[k].relative_error);
    // Evaluations per derivative are fixed by each method's stencil; the
    // sided table evaluates its rows while they can still change a result
    // (at least 2 rows), and in f32 the rounding makes the last rows useless.
    if (c.method == Method::forward || c.method == Method::complex_step) CHECK(c.evaluations_per_derivative == 2);
    if (c.method == Method::central) CHECK(c.evaluations_per_derivative == 4);
    if (c.method == Method::richardson && c.sided) {
      CHECK(c.evaluations_per_derivative >= 4);
      CHECK(c.evaluations_per_derivative <= 20);
      if (c.dtype == Dtype::f32) CHECK(c.evaluations_per_derivative < 18);
    }
    if (c.method == Method::richardson && !c.sided) {
      CHECK(c.evaluations_per_derivative >= 4);
      CHECK(c.evaluations_per_derivative <= 20);
    }
  }
  CHECK(a.noise_evaluations_f64 >= 16);  // two ECnoise stencils of 8 new points at least
}

TEST_CASE("the relative error is measured against the closed form", "[bench][run]") {
  // With an absurd step every estimator is far off; the statistics must say so
  // (a benchmark that cannot report a bad estimate proves nothing).
  AccuracyOptions o;
  o.points_per_function = 2;
  o.relative_step = 0.5;
  const AccuracyResult r = run_accuracy(o);
  for (const Configuration& c : r.configurations)
    if (c.method == Method::forward) CHECK(c.median_relative_error > 1e-3);
  const auto targets = check_targets(r);
  bool any_missed = false;
  for (const auto& t : targets) any_missed = any_missed || !t.met;
  CHECK(any_missed);
}

namespace {

AccuracyResult synthetic(double richardson64, double complex64, double central64, double central32, double richardson32) {
  AccuracyResult r;
  auto add = [&](Method m, bool sided, Dtype d, double median) {
    Configuration c;
    c.method = m;
    c.sided = sided;
    c.dtype = d;
    c.label = std::string(to_string(m)) + (sided ? " (sided)" : "");
    c.median_relative_error = median;
    r.configurations.push_back(c);
  };
  add(Method::central, false, Dtype::f64, central64);
  add(Method::richardson, false, Dtype::f64, richardson64);
  add(Method::richardson, true, Dtype::f64, richardson64);
  add(Method::complex_step, false, Dtype::f64, complex64);
  add(Method::central, false, Dtype::f32, central32);
  add(Method::richardson, false, Dtype::f32, richardson32);
  add(Method::richardson, true, Dtype::f32, richardson32);
  return r;
}

bool all_met(const std::vector<TargetCheck>& t) {
  for (const auto& x : t)
    if (!x.met) return false;
  return true;
}

}  // namespace

TEST_CASE("check_targets applies the issue's limits", "[bench][targets]") {
  CHECK(all_met(check_targets(synthetic(1e-12, 1e-15, 1e-9, 1e-5, 1e-5))));
  CHECK_FALSE(all_met(check_targets(synthetic(2e-12, 1e-15, 1e-9, 1e-5, 1e-5))));
  CHECK_FALSE(all_met(check_targets(synthetic(1e-12, 2e-15, 1e-9, 1e-5, 1e-5))));
  CHECK_FALSE(all_met(check_targets(synthetic(1e-12, 1e-15, 2e-9, 1e-5, 1e-5))));
  // f32: either central or Richardson may meet it.
  CHECK(all_met(check_targets(synthetic(1e-12, 1e-15, 1e-9, 1e-3, 1e-6))));
  CHECK(all_met(check_targets(synthetic(1e-12, 1e-15, 1e-9, 1e-6, 1e-3))));
  CHECK_FALSE(all_met(check_targets(synthetic(1e-12, 1e-15, 1e-9, 2e-5, 2e-5))));
  // A NaN statistic is a miss, not a pass.
  CHECK_FALSE(all_met(check_targets(synthetic(NAN, 1e-15, 1e-9, 1e-5, 1e-5))));
  const auto t = check_targets(synthetic(2e-12, 1e-15, 1e-9, 1e-5, 1e-5));
  CHECK(render_targets(t).find("MISSED: richardson f64") != std::string::npos);
}

namespace {

template <class S>
S call_fn(const TestFunction& fn, S v) {
  if constexpr (std::is_same_v<S, float>) return fn.f32(v);
  else if constexpr (std::is_same_v<S, double>) return fn.f64(v);
  else if constexpr (std::is_same_v<S, std::complex<float>>) return fn.c32(v);
  else return fn.c64(v);
}

// The checker's numeric derivative and error bound for f at the single point x.
template <class T>
Entry checker_entry(const TestFunction& fn, double x, Method method) {
  Vector<T> v(1);
  v(0) = static_cast<T>(x);
  auto f = [&fn](const auto& z) {
    using S = typename std::decay_t<decltype(z)>::Scalar;
    return call_fn<S>(fn, z(0));
  };
  auto g = [&fn](const Vector<T>& z) {
    Vector<T> r(1);
    r(0) = static_cast<T>(fn.derivative(static_cast<long double>(z(0))));
    return r;
  };
  CheckOptions options;
  options.method = method;
  // The benchmark measures the whole extrapolation table; the checker's early
  // stages (one central difference, then a few rows, when they settle a
  // coordinate) are switched off to compare.
  options.early_rows = 0;
  options.quick_precision = 0;
  const CheckResult r = method == Method::complex_step ? check_gradient<T>(complex_step(f), g, v, {}, options)
                                                        : check_gradient<T>(f, g, v, {}, options);
  REQUIRE(r.blocks.size() == 1);
  REQUIRE(r.blocks[0].worst.size() == 1);
  return r.blocks[0].worst[0];
}

}  // namespace

TEST_CASE("the benchmark measures what the checker computes", "[bench][checker]") {
  // Same steps, same noise estimate, same estimator path: the checker's numeric
  // derivative and error bound for a lone coordinate equal the benchmark's. (A
  // lone coordinate's scale in the checker is max(|x|, 1e-3), the benchmark's
  // max(|x|, 1): they coincide for |x| >= 1, the points compared here.)
  int compared = 0;
  for (const TestFunction& fn : test_functions()) {
    for (int j = 0; j < 4; ++j) {
      const double x = test_point(fn, j, 4);
      if (std::abs(x) < 1) continue;
      for (Method m : {Method::forward, Method::central, Method::richardson, Method::complex_step}) {
        for (Dtype d : {Dtype::f64, Dtype::f32}) {
          const Entry e = d == Dtype::f64 ? checker_entry<double>(fn, x, m) : checker_entry<float>(fn, x, m);
          const CaseError c = measure_one(fn, d, x, m, m == Method::richardson);
          INFO(fn.name << " at x = " << x << ", " << to_string(m) << " " << to_string(d));
          CHECK(e.numeric == c.estimate);
          CHECK(e.error_bound == Approx(c.error_bound).epsilon(1e-12));
          ++compared;
        }
      }
    }
  }
  CHECK(compared >= 200);
}

TEST_CASE("the table's statistics are those of the individual derivatives", "[bench][run]") {
  // One point per function: recompute median, worst and coverage from
  // measure_one and compare with run_accuracy's aggregates.
  AccuracyOptions o;
  o.points_per_function = 1;
  const AccuracyResult r = run_accuracy(o);
  for (const Configuration& c : r.configurations) {
    std::vector<double> rel;
    int covered = 0;
    for (const TestFunction& fn : test_functions()) {
      const CaseError e = measure_one(fn, c.dtype, test_point(fn, 0, 1), c.method, c.sided);
      rel.push_back(e.relative_error);
      covered += e.error <= e.error_bound;
    }
    std::sort(rel.begin(), rel.end());
    const std::size_t n = rel.size();
    const double median = n % 2 == 1 ? rel[n / 2] : 0.5 * (rel[n / 2 - 1] + rel[n / 2]);
    INFO(c.label << " " << to_string(c.dtype));
    CHECK(c.median_relative_error == median);
    CHECK(c.worst_relative_error == rel.back());
    CHECK(c.bound_coverage == Approx(static_cast<double>(covered) / static_cast<double>(n)));
  }
}
