#pragma once
// The reference the plugin tests compare a model's gradient with: a central
// difference through the host alone (no checker).

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

namespace gradcheck::test {

/// (loss(x + h e_i) - loss(x - h e_i)) / (the step truly taken), through a
/// host model instance `m` (its round_to_dtype and loss): both points are
/// rounded to the model's dtype first. Requires both calls to report no problem.
template <class ModelInstance>
double central_difference(ModelInstance& m, const std::vector<double>& x, std::size_t i, double h) {
  std::vector<double> xp = x, xm = x;
  xp[i] += h;
  xm[i] -= h;
  m.round_to_dtype(xp);
  m.round_to_dtype(xm);
  double lp = 0, lm = 0;
  REQUIRE(m.loss(xp, lp, {}).empty());
  REQUIRE(m.loss(xm, lm, {}).empty());
  return (lp - lm) / (xp[i] - xm[i]);
}

}  // namespace gradcheck::test
