#pragma once
// Machinery behind the checks of gradcheck/check.hpp: how a callable becomes
// an Evaluator, how the point, the claimed derivatives and the early problems
// become a Task, and the engine entry point run_check. Installed because the
// check_* templates need it; not an interface of its own (it may change
// between versions). Read check.hpp for what the checks do.

#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "gradcheck/changes.hpp"
#include "gradcheck/estimators.hpp"
#include "gradcheck/layout.hpp"
#include "gradcheck/options.hpp"
#include "gradcheck/result.hpp"

namespace gradcheck {

// Defined in check.hpp.
template <class F>
struct ComplexStep;
template <class Factory>
struct PerThread;

namespace detail {

/// gradcheck::Vector<T> (check.hpp), named here before check.hpp defines it.
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// One thread's access to the function: evaluates it at perturbed points.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  /// f(x + t e_i), m outputs; `t` is a step for which x_i + t is exact in the dtype.
  virtual void at_coordinate(std::int64_t i, double t, double* out) = 0;
  /// f(round(x + t d)), rounding to the dtype.
  virtual void along(const std::vector<double>& d, double t, double* out) = 0;
  /// Im f(x + i t e_i) and Im f(x + i t d); only when complex() is true.
  virtual bool complex() const { return false; }
  virtual void complex_at_coordinate(std::int64_t, double, double*) {}
  virtual void complex_along(const std::vector<double>&, double, double*) {}
  /// Makes `x` (exact values of the dtype) the point that steps are taken from:
  /// the re-check of kinks at a nearby point, and back.
  virtual void move_to(const std::vector<double>& x) = 0;
};

/// The claimed derivatives.
struct Analytic {
  /// Column i of the Jacobian (m values); empty for directional-only checks.
  std::function<void(std::int64_t i, double* out)> column;
  /// J v (m values).
  std::function<void(const std::vector<double>& v, double* out)> along;
};

/// Everything the engine needs besides the evaluators.
struct Task {
  std::string name = "function";
  Dtype dtype = Dtype::f64;
  Layout layout;
  std::vector<double> x;     ///< the point (exact copies of the dtype's values)
  std::vector<double> f0;    ///< f(x), m outputs
  Analytic analytic;
  std::vector<Problem> problems;  ///< found before the comparison (reentrancy, non-finite)
  bool skip_numeric = false;      ///< the function cannot be compared (e.g. nondeterministic)
  bool directional = false;       ///< random directions per block instead of coordinates
  std::int64_t evaluations = 0;   ///< evaluations already spent by the adapter
  /// The value and the claimed derivatives at another point `x` (exact values
  /// of the dtype), for re-checking kinks at a nearby generic point; false when
  /// they are not finite there. Empty when the adapter cannot move (JVP checks).
  std::function<bool(const std::vector<double>& x, std::vector<double>* f0, Analytic* analytic)> at_point;
};

CheckResult run_check(Task task, const std::vector<Evaluator*>& evaluators, const CheckOptions& options);

/// Deterministic generator for the seeded draws (SplitMix64).
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream);
std::vector<double> normal_vector(std::uint64_t seed, std::size_t n);

template <class T>
constexpr Dtype dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "gradcheck checks float or double");
  return std::is_same_v<T, float> ? Dtype::f32 : Dtype::f64;
}

template <class F>
struct is_complex_step : std::false_type {};
template <class F>
struct is_complex_step<ComplexStep<F>> : std::true_type {};
template <class F>
struct is_per_thread : std::false_type {};
template <class F>
struct is_per_thread<PerThread<F>> : std::true_type {};

inline void to_outputs(double v, std::vector<double>& out) { out.assign(1, v); }
template <class Derived>
void to_outputs(const Eigen::MatrixBase<Derived>& v, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(v.size()));
  for (Eigen::Index k = 0; k < v.size(); ++k) out[static_cast<std::size_t>(k)] = static_cast<double>(v(k));
}
template <class S>
double imag_of(const std::complex<S>& v) { return static_cast<double>(v.imag()); }
template <class Derived>
void imag_outputs(const Eigen::MatrixBase<Derived>& v, double* out) {
  for (Eigen::Index k = 0; k < v.size(); ++k) out[k] = static_cast<double>(v(k).imag());
}
template <class S>
void imag_outputs(const std::complex<S>& v, double* out) { out[0] = static_cast<double>(v.imag()); }

/// Adapts a callable `value(x)` (scalar or vector result) to an Evaluator.
template <class T, class F>
class FunctionEvaluator final : public Evaluator {
 public:
  FunctionEvaluator(F f, const Vec<T>& x) : f_(std::move(f)), x_(x), base_(x) {}
  void at_coordinate(std::int64_t i, double t, double* out) override {
    x_(i) = static_cast<T>(static_cast<double>(base_(i)) + t);
    write(call(x_, last_ >= 0 ? Changes::at(last_, i) : Changes{}), out);
    x_(i) = base_(i);
    last_ = i;
  }
  void along(const std::vector<double>& d, double t, double* out) override {
    for (Eigen::Index j = 0; j < x_.size(); ++j) x_(j) = static_cast<T>(static_cast<double>(base_(j)) + t * d[j]);
    write(call(x_, Changes{}), out);
    x_ = base_;
    last_ = -1;
  }
  bool complex() const override { return is_complex_step<F>::value; }
  void move_to(const std::vector<double>& x) override {
    for (Eigen::Index j = 0; j < base_.size(); ++j) base_(j) = static_cast<T>(x[static_cast<std::size_t>(j)]);
    x_ = base_;
    last_ = -1;
  }
  void complex_at_coordinate(std::int64_t i, double t, double* out) override {
    if constexpr (is_complex_step<F>::value) {
      Vec<std::complex<T>> z = base_.template cast<std::complex<T>>();
      z(i) += std::complex<T>(T(0), static_cast<T>(t));
      imag_outputs(f_.f(z), out);
    }
  }
  void complex_along(const std::vector<double>& d, double t, double* out) override {
    if constexpr (is_complex_step<F>::value) {
      Vec<std::complex<T>> z = base_.template cast<std::complex<T>>();
      for (Eigen::Index j = 0; j < z.size(); ++j) z(j) += std::complex<T>(T(0), static_cast<T>(t * d[j]));
      imag_outputs(f_.f(z), out);
    }
  }
  auto call(const Vec<T>& x, const Changes& changes) {
    if constexpr (is_complex_step<F>::value) return f_.f(x);
    else if constexpr (std::is_invocable_v<F&, const Vec<T>&, const Changes&>) return f_(x, changes);
    else return f_(x);
  }

 private:
  template <class R>
  static void write(const R& r, double* out) {
    if constexpr (std::is_arithmetic_v<R>) out[0] = static_cast<double>(r);
    else for (Eigen::Index k = 0; k < r.size(); ++k) out[k] = static_cast<double>(r(k));
  }
  F f_;
  Vec<T> x_;
  Vec<T> base_;
  std::int64_t last_ = -1;  // the coordinate the previous call stepped, -1 after a direction or none
};

template <class T, class F>
std::vector<double> evaluate_once(F& f, const Vec<T>& x) {
  std::vector<double> out;
  if constexpr (is_complex_step<F>::value) to_outputs(f.f(x), out);
  else if constexpr (is_per_thread<F>::value) to_outputs(f.make(0)(x), out);
  else to_outputs(f(x), out);
  return out;
}

inline bool all_finite(const std::vector<double>& v) {
  for (double d : v)
    if (!(d - d == 0)) return false;
  return true;
}

/// Evaluators for every thread: one per thread from a per_thread() factory;
/// a plain callable is never shared between threads (it may hold state), so it
/// gets a single evaluator whatever CheckOptions::threads says.
template <class T, class F, class Wrap>
std::vector<std::unique_ptr<Evaluator>> make_evaluators(F& f, const Vec<T>& x, int threads, Wrap&& wrap) {
  std::vector<std::unique_ptr<Evaluator>> ev;
  if constexpr (is_per_thread<F>::value) {
    for (int t = 0; t < (threads < 1 ? 1 : threads); ++t) {
      auto fn = wrap(f.make(t));
      ev.push_back(std::make_unique<FunctionEvaluator<T, decltype(fn)>>(std::move(fn), x));
    }
  } else if constexpr (is_complex_step<F>::value) {
    auto fn = wrap(f);
    ev.push_back(std::make_unique<FunctionEvaluator<T, decltype(fn)>>(std::move(fn), x));
  } else {
    auto fn = wrap(std::ref(f));
    ev.push_back(std::make_unique<FunctionEvaluator<T, decltype(fn)>>(std::move(fn), x));
  }
  return ev;
}

inline std::vector<Evaluator*> raw(const std::vector<std::unique_ptr<Evaluator>>& v) {
  std::vector<Evaluator*> r;
  for (auto& p : v) r.push_back(p.get());
  return r;
}

template <class T>
std::vector<double> to_std(const Vec<T>& v) {
  std::vector<double> r(static_cast<std::size_t>(v.size()));
  for (Eigen::Index k = 0; k < v.size(); ++k) r[static_cast<std::size_t>(k)] = static_cast<double>(v(k));
  return r;
}

void check_reentrant_value(const std::vector<double>& a, const std::vector<double>& b, Task& task);
void check_reentrant_gradient(const std::vector<double>& a, const std::vector<double>& b, Task& task);
void check_finite(const std::vector<double>& f0, const std::vector<double>& derivative, Task& task);

/// A task over x with `layout` (a single block "x" when empty).
template <class T>
Task make_task(const Vec<T>& x, const Layout& layout) {
  Task task;
  task.dtype = dtype_of<T>();
  task.layout = layout.empty() ? Layout::flat(x.size()) : layout;
  if (task.layout.size() != x.size()) throw std::invalid_argument("gradcheck: layout size differs from x");
  task.x = to_std(x);
  return task;
}

/// A scalar function's claimed gradient as analytic derivatives.
inline Analytic gradient_analytic(std::vector<double> grad) {
  auto shared = std::make_shared<const std::vector<double>>(std::move(grad));
  Analytic an;
  an.column = [shared](std::int64_t i, double* out) { out[0] = (*shared)[static_cast<std::size_t>(i)]; };
  an.along = [shared](const std::vector<double>& v, double* out) {
    double s = 0;
    for (std::size_t j = 0; j < v.size(); ++j) s += (*shared)[j] * v[j];
    out[0] = s;
  };
  return an;
}

/// A Jacobian (m x n) as analytic derivatives.
inline Analytic jacobian_analytic(Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic> jac) {
  auto shared = std::make_shared<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>>(std::move(jac));
  Analytic an;
  an.column = [shared](std::int64_t i, double* out) {
    for (Eigen::Index k = 0; k < shared->rows(); ++k) out[k] = (*shared)(k, static_cast<Eigen::Index>(i));
  };
  an.along = [shared](const std::vector<double>& v, double* out) {
    Eigen::Map<const Vec<double>> vm(v.data(), static_cast<Eigen::Index>(v.size()));
    Vec<double> r = (*shared) * vm;
    for (Eigen::Index k = 0; k < r.size(); ++k) out[k] = r(k);
  };
  return an;
}

/// Sets a scalar function's claimed gradient as the analytic derivatives.
inline void set_gradient(Task& task, std::vector<double> grad) { task.analytic = gradient_analytic(std::move(grad)); }

/// x as the dtype's values.
template <class T>
Vec<T> from_std(const std::vector<double>& x) {
  Vec<T> v(static_cast<Eigen::Index>(x.size()));
  for (Eigen::Index j = 0; j < v.size(); ++j) v(j) = static_cast<T>(x[static_cast<std::size_t>(j)]);
  return v;
}

/// A loss callable's value at v (no gradient), given the Changes hint when it takes one.
template <class T, class FG>
double value_only_call(FG& fg, const Vec<T>& v, const Changes& changes) {
  if constexpr (std::is_invocable_v<FG&, const Vec<T>&, Vec<T>*, const Changes&>)
    return static_cast<double>(fg(v, nullptr, changes));
  else
    return static_cast<double>(fg(v, nullptr));
}

/// The identity wrap for callables used as they are.
struct Same {
  template <class F>
  F operator()(F f) const { return f; }
};

}  // namespace detail

}  // namespace gradcheck
