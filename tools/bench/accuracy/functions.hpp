#pragma once
// The benchmark's test functions: smooth functions of one variable with a
// closed-form derivative, each with the interval its points are taken from.

#include <complex>
#include <string>
#include <vector>

namespace gradcheck::bench {

/// One test function, evaluated in each arithmetic the estimators are measured
/// in. The derivative is computed in long double, so that it is exact to well
/// below double rounding and serves as the truth.
struct TestFunction {
  std::string name;  ///< the formula, e.g. "log(1 + exp(x))"
  /// Points are equally spaced inside [lo, hi]. The interval is where |f'|
  /// stays away from zero: a relative error means nothing where f' vanishes.
  double lo = 0;
  double hi = 0;
  float (*f32)(float) = nullptr;  ///< f in float arithmetic throughout
  double (*f64)(double) = nullptr;
  std::complex<float> (*c32)(std::complex<float>) = nullptr;  ///< for the complex step
  std::complex<double> (*c64)(std::complex<double>) = nullptr;
  long double (*derivative)(long double) = nullptr;  ///< f'(x), closed form
};

/// The fixed function set (documented in tools/bench/README.md).
const std::vector<TestFunction>& test_functions();

/// The j-th of n points of a function: lo + (j + 1/2) (hi - lo) / n, the
/// midpoints of n equal cells, so no point sits on an interval end.
double test_point(const TestFunction& fn, int j, int n);

}  // namespace gradcheck::bench
