#pragma once
// The estimator accuracy benchmark: measuring (run_accuracy) is separate from
// presenting (render_markdown, render_details) and from judging (check_targets).

#include <cstdint>
#include <string>
#include <vector>

#include "gradcheck/estimators.hpp"

namespace gradcheck::bench {

/// What to measure.
struct AccuracyOptions {
  /// Points per test function (equally spaced in its interval).
  int points_per_function = 9;
  /// Largest step relative to the scale max(|x|, 1); 0 uses the checker's
  /// default for each method and dtype (as gradcheck does).
  double relative_step = 0;
  /// Worst cases kept per configuration (for render_details).
  int worst_kept = 5;

  /// False (with a reason in *error) when the options cannot work.
  bool is_valid(std::string* error) const;
};

/// One measured derivative.
struct CaseError {
  std::string function;
  double x = 0;            ///< the point, as the dtype holds it
  double truth = 0;        ///< f'(x), closed form in long double
  double estimate = 0;
  double error_bound = 0;  ///< the estimator's reported bound
  double error = 0;        ///< |estimate - f'(x)|, against the long-double truth
  double relative_error = 0;
};

/// One estimator in one dtype over every test case. The relative error of a
/// case is |estimate - truth| / max(|truth|, DBL_MIN).
struct Configuration {
  Method method = Method::richardson;
  /// true: Ridders' table through estimate_sided (all rows, no early stop), the
  /// path gradcheck takes for its default method; false: estimate_derivative.
  bool sided = false;
  Dtype dtype = Dtype::f64;
  std::string label;  ///< "richardson", "richardson (sided)", ...
  std::size_t cases = 0;
  double median_relative_error = 0;
  double worst_relative_error = 0;
  /// Fraction of cases with |estimate - truth| <= error_bound.
  double bound_coverage = 0;
  /// Fraction with |estimate - truth| <= safety * error_bound, the checker's
  /// default tolerance (CheckOptions::safety).
  double safety_coverage = 0;
  double safety = 0;
  /// Mean evaluations of f per derivative, the noise estimate excluded.
  double evaluations_per_derivative = 0;
  std::vector<CaseError> worst;  ///< the largest relative errors, largest first
  /// Cases whose error exceeds the bound, largest |estimate - truth| / bound first.
  std::vector<CaseError> bound_misses;
};

struct AccuracyResult {
  AccuracyOptions options;
  std::size_t functions = 0;
  std::vector<Configuration> configurations;  ///< f64 first, then f32
  /// Mean evaluations per point spent estimating the noise level (once per
  /// point, shared by every estimator; the checker pays it once per block).
  double noise_evaluations_f64 = 0;
  double noise_evaluations_f32 = 0;
};

/// Measures every estimator in f64 and f32 over the fixed function set
/// (test_functions()) with the checker's steps and noise estimate. Deterministic.
AccuracyResult run_accuracy(const AccuracyOptions& options);

struct TestFunction;

/// One derivative of `fn` at `x` (rounded to the dtype) with one estimator
/// (`sided`: through estimate_sided), measured exactly as run_accuracy does.
CaseError measure_one(const TestFunction& fn, Dtype dtype, double x, Method method, bool sided,
                      double relative_step = 0);

/// The table, in Markdown: estimator x dtype, median and worst relative error,
/// bound coverage, evaluations per derivative.
std::string render_markdown(const AccuracyResult& result);

/// The worst cases and the bound misses of every configuration, in Markdown.
std::string render_details(const AccuracyResult& result);

/// An accuracy target of issue 2.
struct TargetCheck {
  std::string description;  ///< e.g. "richardson f64 median <= 1e-12"
  double value = 0;         ///< the measured statistic
  double limit = 0;
  bool met = false;
};

/// The targets: richardson f64 median <= 1e-12 (both richardson
/// configurations), complex step f64 median <= 1e-15, central f64 median <=
/// 1e-9, and the better of central and richardson f32 median <= 1e-5.
std::vector<TargetCheck> check_targets(const AccuracyResult& result);

/// The targets as a Markdown list.
std::string render_targets(const std::vector<TargetCheck>& targets);

}  // namespace gradcheck::bench
