#pragma once
// Finite-difference derivative estimators along a line, each returning an
// estimate with an error bound, and the noise-level estimator they rely on.
//
// Every estimator works on phi(t) = f(x + t d) for a fixed point x and direction
// d (a unit coordinate vector for a partial derivative), possibly vector-valued
// (m outputs, one estimate each). The error bound is
//     bound = truncation + rounding,
// truncation estimated from how the estimates change as the step shrinks (an
// extrapolation table), rounding = 2 * kappa * sigma / (h+ + h-) propagated
// through the table, where sigma is the function's noise level (see
// estimate_noise) and kappa = 3 (three standard deviations).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gradcheck {

/// The floating-point type a function computes in (a checked callable's, a
/// plugin model's: gradcheck_model::dtype GRADCHECK_F32 / GRADCHECK_F64).
enum class Dtype { f32, f64 };
/// The names reports use, one per Dtype in the enum's order.
inline constexpr const char* dtype_names[] = {"f32", "f64"};
/// dtype_names[dtype]; dtype_from_string reads one back (std::invalid_argument
/// for any other name).
const char* to_string(Dtype dtype);
Dtype dtype_from_string(const std::string& s);

/// Unit roundoff of the dtype (2^-24 for f32, 2^-53 for f64).
double unit_roundoff(Dtype dtype);

/// How a derivative is estimated.
enum class Method {
  forward,       ///< (phi(h) - phi(0)) / h; truncation from the step 2h
  central,       ///< (phi(h) - phi(-h)) / 2h; truncation from the step 2h
  richardson,    ///< Ridders' extrapolation of central differences (default)
  complex_step,  ///< Im phi(i h) / h: no cancellation; needs complex evaluation
};
/// The names reports use, one per Method in the enum's order.
inline constexpr const char* method_names[] = {"forward", "central", "richardson", "complex_step"};
/// method_names[method]; method_from_string reads one back (std::invalid_argument otherwise).
const char* to_string(Method method);
Method method_from_string(const std::string& s);

/// A derivative estimate with its error bound (for one output).
struct Estimate {
  double value = 0;        ///< the estimated derivative
  double error_bound = 0;  ///< truncation + rounding: |value - true| <= error_bound, barring bad luck
  double truncation = 0;   ///< estimated truncation error
  double rounding = 0;     ///< rounding error bound from the noise level
  double step = 0;         ///< the step actually applied for the chosen estimate
};

/// The line phi(t) = f(x + t d) that the estimators sample.
struct LineFunction {
  std::size_t outputs = 1;
  /// The step actually applied when `t` is asked for, e.g. (x_i + t) - x_i in the
  /// dtype. Estimators only evaluate at steps this returns.
  std::function<double(double t)> applied_step;
  /// Writes phi(t) (m values) to out.
  std::function<void(double t, double* out)> eval;
  /// Writes Im phi(i t) (m values) to out, evaluating f at x + i t d; empty when
  /// the function cannot take complex arguments.
  std::function<void(double t, double* out)> eval_complex_imag;
};

/// The checker's default initial step for a method and dtype, relative to the
/// coordinate's scale: richardson 0.05 (f32) / 1e-2 (f64), central cbrt(3u),
/// forward sqrt(4u), complex step 1e-10 (f32) / 1e-20 (f64).
double default_relative_step(Method method, Dtype dtype);

/// Settings of the estimators. Defaults suit smooth functions; `initial_step`
/// is relative to the scale of the coordinate (chosen by the caller).
struct EstimatorSettings {
  Method method = Method::richardson;
  /// Ridders: step ratio between table rows, number of rows, and the factor by
  /// which the error may grow before the table stops (Numerical Recipes' CON,
  /// NTAB, SAFE).
  double ridders_ratio = 1.4;
  int ridders_rows = 10;
  double ridders_safe = 2.0;
  /// estimate_sided: evaluate a row only while it can still change what one of
  /// its three tables chooses (see there). The result is the same, bit for bit,
  /// as with every row evaluated; false evaluates every row.
  bool skip_useless_rows = true;
  /// Multiples of the noise standard deviation counted as rounding error.
  double noise_kappa = 3.0;
  /// Unit roundoff of the function's arithmetic; bounds the complex step's
  /// rounding (relative to the derivative, as it has no cancellation).
  double roundoff = 0x1p-53;
};

/// Every estimate's rounding term also carries 4 u |value| (u =
/// EstimatorSettings::roundoff): the rounding of the quotient and of the
/// extrapolation themselves, which noise alone misses where phi(0) = 0.
///
/// Estimates phi'(0) for each of the m outputs with the method in `settings`.
/// `h` is the initial (largest) step; `f0` = phi(0); `noise[k]` the noise level
/// (standard deviation) of output k. Adds the number of evaluations of phi to
/// `*evaluations`.
std::vector<Estimate> estimate_derivative(const LineFunction& phi, const std::vector<double>& f0,
                                          double h, const std::vector<double>& noise,
                                          const EstimatorSettings& settings, std::int64_t* evaluations);

/// One-sided derivative, from the right (side = +1) or the left (side = -1):
/// Richardson extrapolation of one-sided differences (every power of h
/// eliminated in turn), with the same error bound as above. Used to tell kinks
/// from bugs: at a kink the two sides converge to different values.
std::vector<Estimate> estimate_one_sided(const LineFunction& phi, const std::vector<double>& f0,
                                         double h, int side, const std::vector<double>& noise,
                                         const EstimatorSettings& settings, std::int64_t* evaluations);

/// Central, left and right derivatives from one set of evaluations.
struct SidedEstimates {
  std::vector<Estimate> central;  ///< Ridders' extrapolation of central differences
  std::vector<Estimate> left;     ///< Richardson extrapolation of backward differences
  std::vector<Estimate> right;    ///< Richardson extrapolation of forward differences
};

/// Evaluates phi at +-h, +-h/r, ... (up to `ridders_rows` rows, 2 evaluations a
/// row) and extrapolates three tables from the same values: central (powers h^2,
/// h^4, ... eliminated) and both one-sided ones (h, h^2, ...). Comparing left and
/// right tells a kink from a smooth point at no extra cost.
///
/// Rows past the second are evaluated only while they can matter: each table
/// keeps the entry with the smallest truncation + rounding, and an entry of row
/// i carries at least the rounding of its first extrapolation,
/// (r_i f + r_(i-1)) / (f - 1), where r_i = 2 kappa sigma / step_i grows as the
/// steps shrink (f = ratio^2 centrally, ratio one-sided). Once that floor of
/// every remaining row exceeds the chosen error of all three tables for every
/// output, no later entry can be chosen, and the rows are not evaluated: the
/// estimates are those of the whole table. In f32 the function's rounding
/// reaches that point after 2 or 3 rows on nearly every coordinate.
SidedEstimates estimate_sided(const LineFunction& phi, const std::vector<double>& f0, double h,
                              const std::vector<double>& noise, const EstimatorSettings& settings,
                              std::int64_t* evaluations);

/// The noise level of one output of a function along a line.
struct NoiseLevel {
  double sigma = 0;         ///< standard deviation of the rounding noise in phi
  bool estimated = false;   ///< false: the estimate failed, sigma is a conservative fallback
  double step = 0;          ///< the spacing that gave the estimate
};

/// Estimates the noise of phi near 0 by Moré and Wild's ECnoise (2011): phi at
/// 9 equally spaced points t_j = (j - 4) * delta; the k-th differences of a
/// smooth function vanish like delta^k while noise gives
///     sigma_k = sqrt(gamma_k * mean_j (Delta^k phi_j)^2),  gamma_k = (k!)^2 / (2k)!,
/// and the first k whose sigma_k..sigma_{k+2} agree within a factor 4 and whose
/// differences change sign gives sigma. `delta` is retried 100x larger when phi
/// barely changes and 100x smaller when it is not smooth enough; on failure,
/// sigma = fallback[k] and `estimated` is false.
std::vector<NoiseLevel> estimate_noise(const LineFunction& phi, const std::vector<double>& f0,
                                       double delta, const std::vector<double>& fallback,
                                       std::int64_t* evaluations);

/// The noise level the checker uses along a line whose steps are relative to
/// `scale`: estimate_noise at the spacings delta, delta/10 and delta/100
/// (delta = 1e-3 scale for f32, 1e-6 scale for f64). A kink inside the stencil
/// inflates an estimate and a periodic rounding pattern can deflate one, so of
/// several successful estimates the median is kept (of two, the larger: the
/// safe side). The fallback is 64 u |phi(0)|.
std::vector<NoiseLevel> checker_noise(const LineFunction& phi, const std::vector<double>& f0, Dtype dtype,
                                      double scale, std::int64_t* evaluations);

}  // namespace gradcheck
