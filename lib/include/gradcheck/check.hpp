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

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "gradcheck/changes.hpp"
#include "gradcheck/estimators.hpp"
#include "gradcheck/internal/check_detail.hpp"  // the machinery behind the templates below
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

/// n standard normal draws from `seed`, the same on every platform (SplitMix64
/// and Box-Muller): the draws behind check_layer's upstream gradient and the
/// random directions, for tests and samples that need reproducible data.
inline std::vector<double> normal_vector(std::uint64_t seed, std::size_t n) { return detail::normal_vector(seed, n); }

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
  task.at_point = [&f, &g](const std::vector<double>& xs, std::vector<double>* f0, detail::Analytic* an) {
    const Vector<T> v = detail::from_std<T>(xs);
    *f0 = detail::evaluate_once<T>(f, v);
    std::vector<double> gv = detail::to_std<T>(g(v));
    if (gv.size() != xs.size() || !detail::all_finite(*f0) || !detail::all_finite(gv)) return false;
    *an = detail::gradient_analytic(std::move(gv));
    return true;
  };
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
  task.at_point = [&main](const std::vector<double>& xs, std::vector<double>* f0, detail::Analytic* an) {
    const Vector<T> v = detail::from_std<T>(xs);
    Vector<T> gv = Vector<T>::Constant(v.size(), std::numeric_limits<T>::quiet_NaN());
    *f0 = {static_cast<double>(main(v, &gv))};
    std::vector<double> grad_at = detail::to_std<T>(gv);
    if (!detail::all_finite(*f0) || !detail::all_finite(grad_at)) return false;
    *an = detail::gradient_analytic(std::move(grad_at));
    return true;
  };
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
  task.analytic = detail::jacobian_analytic(std::move(jac));
  const std::size_t m = task.f0.size();
  task.at_point = [&f, &jacobian, m](const std::vector<double>& xs, std::vector<double>* f0, detail::Analytic* an) {
    const Vector<T> v = detail::from_std<T>(xs);
    *f0 = detail::evaluate_once<T>(f, v);
    Matrix<double> j = jacobian(v).template cast<double>();
    if (f0->size() != m || j.rows() != static_cast<Eigen::Index>(m) || j.cols() != v.size() ||
        !detail::all_finite(*f0) || !j.allFinite())
      return false;
    *an = detail::jacobian_analytic(std::move(j));
    return true;
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
