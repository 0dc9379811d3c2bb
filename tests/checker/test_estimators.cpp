// The estimators themselves, on lines whose arithmetic is float or double.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gradcheck/gradcheck.hpp"

using namespace gradcheck;

namespace {

// phi(t) = sum_j w_j act_j(a_j + b_j (x + t)) for two outputs, in T's
// arithmetic, at a point x; `kinked` adds |c + (x + t)| terms whose kink may
// sit inside the table's steps; `in_a_model` makes it one coordinate of a
// larger model: a thousandth of it added to a loss of about 10 that it does
// not move (whose rounding then dominates the small steps, as for most
// coordinates of a network).
template <class T>
struct RandomLine {
  std::vector<T> w, a, b;
  std::vector<int> act;
  T x;
  bool kinked, in_a_model;
  T rest = 0;

  RandomLine(std::uint64_t seed, bool kinked_, bool in_a_model_ = false) : kinked(kinked_), in_a_model(in_a_model_) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.5, 1.5);
    const int terms = 3 + static_cast<int>(seed % 5);
    for (int j = 0; j < terms; ++j) {
      w.push_back(static_cast<T>(u(rng)));
      a.push_back(static_cast<T>(u(rng)));
      b.push_back(static_cast<T>(u(rng)));
      act.push_back(static_cast<int>(rng() % 4));
    }
    x = static_cast<T>(u(rng));
    for (int j = 0; j < 64; ++j) rest += static_cast<T>(0.16) + std::tanh(static_cast<T>(u(rng)));
  }

  void eval(double t, double* out) const {
    const T xt = static_cast<T>(x + static_cast<T>(t));
    T s0 = 0, s1 = 0;
    for (std::size_t j = 0; j < w.size(); ++j) {
      const T z = a[j] + b[j] * xt;
      const T v = act[j] == 0 ? std::tanh(z) : act[j] == 1 ? std::sin(z) : act[j] == 2 ? z * z * z : std::exp(z / 4);
      s0 += w[j] * v;
      s1 += w[j] * z * v;
      if (kinked) s1 += std::abs(a[j] / 64 + xt);
    }
    if (in_a_model) {
      s0 = rest + s0 / 1000;
      s1 = rest + s1 / 1000;
    }
    out[0] = static_cast<double>(s0);
    out[1] = static_cast<double>(s1);
  }

  LineFunction line() const {
    LineFunction phi;
    phi.outputs = 2;
    phi.applied_step = [this](double t) { return static_cast<double>(static_cast<T>(x + static_cast<T>(t)) - x); };
    phi.eval = [this](double t, double* out) { eval(t, out); };
    return phi;
  }
};

bool same(const Estimate& p, const Estimate& q) {
  return p.value == q.value && p.error_bound == q.error_bound && p.truncation == q.truncation &&
         p.rounding == q.rounding && p.step == q.step;
}

struct Tally {
  int lines = 0, shorter = 0;
  std::int64_t evals_all = 0, evals_skip = 0;
};

template <class T>
Tally compare_skipping(Dtype dtype, int rows, bool kinked, bool in_a_model) {
  Tally tally;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    const RandomLine<T> fn(seed, kinked, in_a_model);
    const LineFunction phi = fn.line();
    std::vector<double> f0(2);
    fn.eval(0, f0.data());
    const double scale = std::max<double>(std::abs(fn.x), 1e-3);
    std::int64_t noise_evals = 0;
    const auto levels = checker_noise(phi, f0, dtype, scale, &noise_evals);
    std::vector<double> noise;
    for (const auto& l : levels) noise.push_back(l.sigma);
    EstimatorSettings s;
    s.ridders_rows = rows;
    s.roundoff = unit_roundoff(dtype);
    const double h = default_relative_step(Method::richardson, dtype) * scale * (1.0 + 0.02 * static_cast<double>(seed % 7));
    s.skip_useless_rows = false;
    std::int64_t all = 0, skip = 0;
    const SidedEstimates every = estimate_sided(phi, f0, h, noise, s, &all);
    s.skip_useless_rows = true;
    const SidedEstimates some = estimate_sided(phi, f0, h, noise, s, &skip);
    INFO("seed " << seed << " rows " << rows << " kinked " << kinked << " in a model " << in_a_model);
    CHECK(all == 2 * rows);
    CHECK(skip <= all);
    CHECK(skip >= 4);
    for (std::size_t k = 0; k < 2; ++k) {
      INFO("output " << k);
      CHECK(same(every.central[k], some.central[k]));
      CHECK(same(every.left[k], some.left[k]));
      CHECK(same(every.right[k], some.right[k]));
    }
    ++tally.lines;
    tally.shorter += skip < all;
    tally.evals_all += all;
    tally.evals_skip += skip;
  }
  return tally;
}

}  // namespace

TEST_CASE("estimate_sided skips only rows that cannot change any of its three estimates", "[checker][estimators]") {
  // Skipping must give the whole table's estimates bit for bit: on smooth
  // lines and on lines with kinks within the steps, alone or inside a larger
  // loss, in both precisions (in f64 with 10 rows the later rows are chosen
  // on many lines, so a floor set too high would show here). And it must
  // skip where the function's rounding dominates, or the test would pass on
  // a rule that never fires: a coordinate of a model in f32 (on the f32
  // benchmark MLPs it stops after 2 rows on nearly every coordinate).
  for (bool kinked : {false, true}) {
    for (bool in_a_model : {false, true}) {
      const Tally f32 = compare_skipping<float>(Dtype::f32, 4, kinked, in_a_model);
      const Tally f32_long = compare_skipping<float>(Dtype::f32, 10, kinked, in_a_model);
      const Tally f64 = compare_skipping<double>(Dtype::f64, 10, kinked, in_a_model);
      INFO("kinked " << kinked << ", in a model " << in_a_model << ": f32 " << f32.shorter << " of " << f32.lines
                     << " lines shorter, " << f32.evals_skip << " of " << f32.evals_all << " evaluations; 10 rows "
                     << f32_long.evals_skip << " of " << f32_long.evals_all << "; f64 " << f64.evals_skip << " of "
                     << f64.evals_all);
      if (in_a_model) {
        CHECK(f32.shorter * 6 > f32.lines);                         // 32 and 43 of 150 when written
        CHECK(f32_long.evals_skip * 5 < f32_long.evals_all * 4);  // 2,216 and 2,098 of 3,000
      }
    }
  }
}

TEST_CASE("estimate_sided evaluates every row when nothing is known of the noise", "[checker][estimators]") {
  // A zero noise level gives a rounding floor of zero: no row can be ruled out.
  const RandomLine<float> fn(3, false);
  const LineFunction phi = fn.line();
  std::vector<double> f0(2);
  fn.eval(0, f0.data());
  EstimatorSettings s;
  s.ridders_rows = 4;
  std::int64_t evals = 0;
  estimate_sided(phi, f0, 0.05, {0.0, 0.0}, s, &evals);
  CHECK(evals == 8);
}

TEST_CASE("a coordinate that goes on to the whole table is not evaluated again at the early rows' steps",
          "[checker][estimators]") {
  // f64, gradient off by 0.1% everywhere: every coordinate passes through the
  // quick central difference (2 evaluations) and the early rows (3 rows, 6)
  // to the whole table of 10 rows (20), whose first 3 rows take the early
  // rows' steps: 2 + 20 a coordinate, not 2 + 6 + 20.
  const int n = 40;
  auto f = [](const Vector<double>& v) {
    double s = 0;
    for (int i = 0; i < v.size(); ++i) s += std::tanh(0.3 * (i + 1) * v(i)) + 0.1 * v(i) * v(i) * v(i);
    return s;
  };
  auto g = [](const Vector<double>& v) {
    Vector<double> r(v.size());
    for (int i = 0; i < v.size(); ++i) {
      const double t = std::tanh(0.3 * (i + 1) * v(i));
      r(i) = 1.001 * (0.3 * (i + 1) * (1 - t * t) + 0.3 * v(i) * v(i));
    }
    return r;
  };
  Vector<double> x(n);
  for (int i = 0; i < n; ++i) x(i) = 0.05 * (i % 7) - 0.1;
  const CheckResult r = check_gradient<double>(f, g, x);
  INFO(to_text(r));
  CHECK(r.verdict == Verdict::mismatch);
  CHECK(r.evaluations <= 22 * n + 50);  // 896 when written: 22 a coordinate and 16 for the noise level
  CHECK(r.evaluations > 20 * n);
}
