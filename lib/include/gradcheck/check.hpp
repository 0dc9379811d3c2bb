#pragma once
// Checking derivatives against finite differences.
//
// Each check compares claimed (analytic) derivatives with numeric estimates
// from estimators.hpp, coordinate by coordinate (or along random directions),
// and judges every difference against that estimate's own error bound:
//     ok        |analytic - numeric| <= safety * error_bound
//     kink      the one-sided derivatives D- and D+ differ by more than their
//               bounds, and analytic lies in [min(D-,D+), max(D-,D+)] (up to the
//               bounds): a valid subgradient, as for ReLU at 0
//     mismatch  otherwise
//     inconclusive  passed only because the bound is wider than half the
//               derivative (see CheckOptions::inconclusive_ratio)
// The noise level behind the rounding part of the bound is measured by
// evaluating the function (estimate_noise), per block.
//
// Values live in one flat Eigen vector of float or double; a Layout names its
// blocks (tensors) so results say `fc1.weight[3,7]`. A mismatch is a result, not
// an exception; misuse (wrong sizes, invalid options) throws std::invalid_argument.

#include <complex>
#include <cstdint>
#include <functional>
#include <limits>
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

template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

/// Marks a callable that also accepts std::complex<T> vectors (a generic lambda
/// does), enabling Method::complex_step.
template <class F>
struct ComplexStep {
  F f;
};
template <class F>
ComplexStep<std::decay_t<F>> complex_step(F&& f) {
  return {std::forward<F>(f)};
}

/// Marks a factory: `factory(thread_index)` returns a fresh callable for each
/// worker thread (for callables that are not safe to share).
template <class Factory>
struct PerThread {
  Factory make;
};
template <class Factory>
PerThread<std::decay_t<Factory>> per_thread(Factory&& f) {
  return {std::forward<Factory>(f)};
}

namespace detail {

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
  FunctionEvaluator(F f, const Vector<T>& x) : f_(std::move(f)), x_(x), base_(x) {}
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
  void complex_at_coordinate(std::int64_t i, double t, double* out) override {
    if constexpr (is_complex_step<F>::value) {
      Vector<std::complex<T>> z = base_.template cast<std::complex<T>>();
      z(i) += std::complex<T>(T(0), static_cast<T>(t));
      imag_outputs(f_.f(z), out);
    }
  }
  void complex_along(const std::vector<double>& d, double t, double* out) override {
    if constexpr (is_complex_step<F>::value) {
      Vector<std::complex<T>> z = base_.template cast<std::complex<T>>();
      for (Eigen::Index j = 0; j < z.size(); ++j) z(j) += std::complex<T>(T(0), static_cast<T>(t * d[j]));
      imag_outputs(f_.f(z), out);
    }
  }
  auto call(const Vector<T>& x, const Changes& changes) {
    if constexpr (is_complex_step<F>::value) return f_.f(x);
    else if constexpr (std::is_invocable_v<F&, const Vector<T>&, const Changes&>) return f_(x, changes);
    else return f_(x);
  }

 private:
  template <class R>
  static void write(const R& r, double* out) {
    if constexpr (std::is_arithmetic_v<R>) out[0] = static_cast<double>(r);
    else for (Eigen::Index k = 0; k < r.size(); ++k) out[k] = static_cast<double>(r(k));
  }
  F f_;
  Vector<T> x_;
  Vector<T> base_;
  std::int64_t last_ = -1;  // the coordinate the previous call stepped, -1 after a direction or none
};

template <class T, class F>
std::vector<double> evaluate_once(F& f, const Vector<T>& x) {
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
std::vector<std::unique_ptr<Evaluator>> make_evaluators(F& f, const Vector<T>& x, int threads, Wrap&& wrap) {
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
std::vector<double> to_std(const Vector<T>& v) {
  std::vector<double> r(static_cast<std::size_t>(v.size()));
  for (Eigen::Index k = 0; k < v.size(); ++k) r[static_cast<std::size_t>(k)] = static_cast<double>(v(k));
  return r;
}

void check_reentrant_value(const std::vector<double>& a, const std::vector<double>& b, Task& task);
void check_reentrant_gradient(const std::vector<double>& a, const std::vector<double>& b, Task& task);
void check_finite(const std::vector<double>& f0, const std::vector<double>& derivative, Task& task);

/// A task over x with `layout` (a single block "x" when empty).
template <class T>
Task make_task(const Vector<T>& x, const Layout& layout) {
  Task task;
  task.dtype = dtype_of<T>();
  task.layout = layout.empty() ? Layout::flat(x.size()) : layout;
  if (task.layout.size() != x.size()) throw std::invalid_argument("gradcheck: layout size differs from x");
  task.x = to_std(x);
  return task;
}

/// Sets a scalar function's claimed gradient as the analytic derivatives.
inline void set_gradient(Task& task, std::vector<double> grad) {
  auto shared = std::make_shared<const std::vector<double>>(std::move(grad));
  task.analytic.column = [shared](std::int64_t i, double* out) { out[0] = (*shared)[static_cast<std::size_t>(i)]; };
  task.analytic.along = [shared](const std::vector<double>& v, double* out) {
    double s = 0;
    for (std::size_t j = 0; j < v.size(); ++j) s += (*shared)[j] * v[j];
    out[0] = s;
  };
}

/// A loss callable's value at v (no gradient), given the Changes hint when it takes one.
template <class T, class FG>
double value_only_call(FG& fg, const Vector<T>& v, const Changes& changes) {
  if constexpr (std::is_invocable_v<FG&, const Vector<T>&, Vector<T>*, const Changes&>)
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

/// Checks the gradient of a scalar function f: R^n -> R at x.
///   f(const Vector<T>&) -> T or double (wrap with complex_step(f) for Method::complex_step)
///   g(const Vector<T>&) -> Vector<T> of size n, the claimed gradient
/// Every coordinate is compared (or a sample: CheckOptions::max_per_block).
template <class T, class F, class G>
CheckResult check_gradient(F&& f, G&& g, const Vector<T>& x, const Layout& layout = {},
                           const CheckOptions& options = {}) {
  detail::Task task = detail::make_task<T>(x, layout);
  auto evaluators = detail::make_evaluators<T>(f, x, options.threads, detail::Same{});
  task.f0 = detail::evaluate_once<T>(f, x);
  if (task.f0.size() != 1) throw std::invalid_argument("gradcheck::check_gradient: f must return a scalar");
  std::vector<double> grad = detail::to_std<T>(g(x));
  task.evaluations = 1;
  if (static_cast<Eigen::Index>(grad.size()) != x.size())
    throw std::invalid_argument("gradcheck::check_gradient: gradient size differs from x");
  if (options.check_reentrancy) {
    detail::check_reentrant_value(task.f0, detail::evaluate_once<T>(f, x), task);
    detail::check_reentrant_gradient(grad, detail::to_std<T>(g(x)), task);
    ++task.evaluations;
  }
  detail::check_finite(task.f0, grad, task);
  detail::set_gradient(task, std::move(grad));
  return detail::run_check(std::move(task), detail::raw(evaluators), options);
}

/// Checks a function that returns its loss and, when `grad` is not null, writes
/// the gradient: fg(const Vector<T>& x, Vector<T>* grad) -> double. The usual
/// shape of a training loop's loss; wrap with per_thread(factory) for threads.
/// fg may take a third argument, const Changes& (changes.hpp): on value-only
/// calls it says which coordinates may differ from that callable's previous
/// call; calls without it (those with a gradient) mean "all".
template <class T, class FG>
CheckResult check_loss(FG&& fg, const Vector<T>& x, const Layout& layout = {}, const CheckOptions& options = {}) {
  detail::Task task = detail::make_task<T>(x, layout);
  using FGT = std::decay_t<FG>;
  auto value_only = [](auto inner) {
    return [inner](const Vector<T>& v, const Changes& changes) mutable -> double {
      return detail::value_only_call<T>(inner, v, changes);
    };
  };
  auto evaluators = detail::make_evaluators<T>(fg, x, options.threads, value_only);
  // The base point's loss and gradient come from one more instance (a factory's
  // first) or from the callable itself.
  auto main = [&] {
    if constexpr (detail::is_per_thread<FGT>::value) return fg.make(0);
    else return std::ref(fg);
  }();
  auto call = [&](Vector<T>* grad) -> double { return static_cast<double>(main(x, grad)); };
  Vector<T> g1 = Vector<T>::Constant(x.size(), std::numeric_limits<T>::quiet_NaN());
  task.f0 = {call(&g1)};
  task.evaluations = 1;
  std::vector<double> grad = detail::to_std<T>(g1);
  if (options.check_reentrancy) {
    Vector<T> g2 = Vector<T>::Constant(x.size(), std::numeric_limits<T>::quiet_NaN());
    detail::check_reentrant_value(task.f0, {call(&g2)}, task);
    detail::check_reentrant_gradient(grad, detail::to_std<T>(g2), task);
    ++task.evaluations;
  }
  detail::check_finite(task.f0, grad, task);
  detail::set_gradient(task, std::move(grad));
  return detail::run_check(std::move(task), detail::raw(evaluators), options);
}

/// Checks the Jacobian of a vector function f: R^n -> R^m at x.
///   f(const Vector<T>&) -> Vector<T> (m), jacobian(const Vector<T>&) -> Matrix<T> (m x n)
/// Entries are reported per (output row, input coordinate).
template <class T, class F, class J>
CheckResult check_jacobian(F&& f, J&& jacobian, const Vector<T>& x, const Layout& layout = {},
                           const CheckOptions& options = {}) {
  detail::Task task = detail::make_task<T>(x, layout);
  auto evaluators = detail::make_evaluators<T>(f, x, options.threads, detail::Same{});
  task.f0 = detail::evaluate_once<T>(f, x);
  Matrix<double> jac = jacobian(x).template cast<double>();
  task.evaluations = 1;
  if (jac.rows() != static_cast<Eigen::Index>(task.f0.size()) || jac.cols() != x.size())
    throw std::invalid_argument("gradcheck::check_jacobian: the Jacobian must be m x n");
  if (options.check_reentrancy) {
    detail::check_reentrant_value(task.f0, detail::evaluate_once<T>(f, x), task);
    Matrix<double> jac2 = jacobian(x).template cast<double>();
    detail::check_reentrant_gradient(std::vector<double>(jac.data(), jac.data() + jac.size()),
                                     std::vector<double>(jac2.data(), jac2.data() + jac2.size()), task);
    ++task.evaluations;
  }
  detail::check_finite(task.f0, std::vector<double>(jac.data(), jac.data() + jac.size()), task);
  task.analytic.column = [jac](std::int64_t i, double* out) {
    for (Eigen::Index k = 0; k < jac.rows(); ++k) out[k] = jac(k, static_cast<Eigen::Index>(i));
  };
  task.analytic.along = [jac](const std::vector<double>& v, double* out) {
    Eigen::Map<const Vector<double>> vm(v.data(), static_cast<Eigen::Index>(v.size()));
    Vector<double> r = jac * vm;
    for (Eigen::Index k = 0; k < r.size(); ++k) out[k] = r(k);
  };
  return detail::run_check(std::move(task), detail::raw(evaluators), options);
}

/// Checks a layer's backward pass (a vector-Jacobian product). The layer maps
/// x (inputs and parameters, named by `layout`) to y:
///   forward(const Vector<T>& x) -> Vector<T> y
///   backward(const Vector<T>& x, const Vector<T>& dy) -> Vector<T> dx  (size n)
/// with a fixed random upstream gradient dy (standard normal, from the seed), it
/// checks the scalar L(x) = sum(dy * y(x)) whose gradient is exactly backward(x, dy).
template <class T, class Fwd, class Bwd>
CheckResult check_layer(Fwd&& forward, Bwd&& backward, const Vector<T>& x, const Layout& layout = {},
                        const CheckOptions& options = {}) {
  const Vector<T> y = forward(x);
  const std::vector<double> dyd = detail::normal_vector(detail::mix_seed(options.seed, 0x6c61796572ULL),
                                                        static_cast<std::size_t>(y.size()));
  Vector<T> dy(y.size());
  for (Eigen::Index k = 0; k < y.size(); ++k) dy(k) = static_cast<T>(dyd[static_cast<std::size_t>(k)]);
  auto loss = [forward, dy](const Vector<T>& v) mutable -> double {
    const Vector<T> out = forward(v);
    double s = 0;
    for (Eigen::Index k = 0; k < out.size(); ++k) s += static_cast<double>(dy(k)) * static_cast<double>(out(k));
    return s;
  };
  auto grad = [backward, dy](const Vector<T>& v) mutable -> Vector<T> { return backward(v, dy); };
  return check_gradient<T>(loss, grad, x, layout, options);
}

/// Checks Jacobian-vector products (directional derivatives) of f: R^n -> R^m:
///   f(const Vector<T>&) -> Vector<T> or scalar,
///   jvp(const Vector<T>& x, const Vector<T>& v) -> Vector<T> (m) = J(x) v
/// along CheckOptions::directions seeded random directions per block.
template <class T, class F, class JVP>
CheckResult check_jvp(F&& f, JVP&& jvp, const Vector<T>& x, const Layout& layout = {},
                      const CheckOptions& options = {}) {
  detail::Task task = detail::make_task<T>(x, layout);
  task.directional = true;
  auto evaluators = detail::make_evaluators<T>(f, x, options.threads, detail::Same{});
  task.f0 = detail::evaluate_once<T>(f, x);
  task.evaluations = 1;
  if (options.check_reentrancy) {
    detail::check_reentrant_value(task.f0, detail::evaluate_once<T>(f, x), task);
    ++task.evaluations;
  }
  detail::check_finite(task.f0, {}, task);
  const std::size_t m = task.f0.size();
  task.analytic.along = [jvp, x, m](const std::vector<double>& v, double* out) mutable {
    Vector<T> vt(x.size());
    for (Eigen::Index j = 0; j < x.size(); ++j) vt(j) = static_cast<T>(v[static_cast<std::size_t>(j)]);
    std::vector<double> r;
    detail::to_outputs(jvp(x, vt), r);
    if (r.size() != m) throw std::invalid_argument("gradcheck::check_jvp: jvp must return m values");
    for (std::size_t k = 0; k < m; ++k) out[k] = r[k];
  };
  return detail::run_check(std::move(task), detail::raw(evaluators), options);
}

}  // namespace gradcheck
