// The comparison engine behind every check: chooses coordinates and steps,
// measures noise, estimates derivatives, judges each entry and sums up blocks.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "gradcheck/check.hpp"
#include "hints.hpp"

namespace gradcheck {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::mismatch: return "mismatch";
    case Verdict::kink: return "kink";
    case Verdict::inconclusive: return "inconclusive";
  }
  return "?";
}

bool CheckOptions::is_valid(std::string* error) const {
  auto fail = [&](const char* why) {
    if (error != nullptr) *error = why;
    return false;
  };
  if (!(safety > 0)) return fail("safety must be positive");
  if (relative_step < 0) return fail("relative_step must be >= 0 (0 picks the default)");
  if (max_per_block < 0) return fail("max_per_block must be >= 0 (0 checks every coordinate)");
  if (threads < 1) return fail("threads must be >= 1");
  if (directions < 1) return fail("directions must be >= 1");
  if (worst_entries < 0) return fail("worst_entries must be >= 0");
  if (!(inconclusive_ratio > 0)) return fail("inconclusive_ratio must be positive");
  return true;
}

namespace detail {

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

// SplitMix64: small, seedable, identical on every platform (std::normal_distribution is not).
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
  double normal() {
    // Box-Muller; u1 in (0, 1].
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};

std::uint64_t hash_name(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

std::vector<double> normal_vector(std::uint64_t seed, std::size_t n) {
  Rng rng{seed};
  std::vector<double> v(n);
  for (auto& e : v) e = rng.normal();
  return v;
}

void check_reentrant_value(const std::vector<double>& a, const std::vector<double>& b, Task& task) {
  bool same = a.size() == b.size();
  for (std::size_t k = 0; same && k < a.size(); ++k)
    same = (a[k] == b[k]) || (std::isnan(a[k]) && std::isnan(b[k]));
  if (!same) {
    std::size_t k = 0;
    while (k + 1 < std::min(a.size(), b.size()) && a[k] == b[k]) ++k;
    char buf[200];
    std::snprintf(buf, sizeof buf, "two evaluations at the same point gave %.17g and %.17g", a.empty() ? 0.0 : a[k],
                  b.empty() ? 0.0 : b[k]);
    task.problems.push_back({"nondeterministic_loss", buf});
    task.skip_numeric = true;
  }
}

void check_reentrant_gradient(const std::vector<double>& a, const std::vector<double>& b, Task& task) {
  std::size_t differ = 0, first = a.size();
  for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    if (!(a[k] == b[k] || (std::isnan(a[k]) && std::isnan(b[k])))) {
      if (first == a.size()) first = k;
      ++differ;
    }
  }
  if (differ > 0 || a.size() != b.size()) {
    char buf[300];
    if (first < a.size()) {
      std::snprintf(buf, sizeof buf,
                    "two gradient calls at the same point differ in %zu of %zu values (first at %s: %.9g then %.9g): "
                    "is an accumulator never reset?",
                    differ, a.size(), task.layout.blocks()[task.layout.block_of(static_cast<std::int64_t>(first))]
                                          .label(static_cast<std::int64_t>(first) -
                                                 task.layout.blocks()[task.layout.block_of(static_cast<std::int64_t>(first))].offset)
                                          .c_str(),
                    a[first], b[first]);
    } else {
      std::snprintf(buf, sizeof buf, "two gradient calls returned different sizes");
    }
    task.problems.push_back({"stateful_gradient", buf});
  }
}

void check_finite(const std::vector<double>& f0, const std::vector<double>& derivative, Task& task) {
  if (!all_finite(f0)) {
    task.problems.push_back({"non_finite", "the function value is not finite at the point checked"});
    task.skip_numeric = true;
    return;
  }
  std::size_t bad = 0, first = 0;
  for (std::size_t k = 0; k < derivative.size(); ++k)
    if (!std::isfinite(derivative[k])) {
      if (bad == 0) first = k;
      ++bad;
    }
  if (bad > 0) {
    std::string where;
    if (derivative.size() == task.x.size()) {
      const auto& b = task.layout.blocks()[task.layout.block_of(static_cast<std::int64_t>(first))];
      where = " (first at " + b.label(static_cast<std::int64_t>(first) - b.offset) + ")";
    }
    task.problems.push_back({"non_finite", std::to_string(bad) + " analytic derivative value(s) are NaN or infinite" + where});
  }
}

namespace {

double default_step(Method method, Dtype dtype) {
  const double u = unit_roundoff(dtype);
  switch (method) {
    case Method::richardson: return dtype == Dtype::f32 ? 0.05 : 1e-2;
    case Method::central: return std::cbrt(3 * u);
    case Method::forward: return std::sqrt(4 * u);
    case Method::complex_step: return dtype == Dtype::f32 ? 1e-10 : 1e-20;
  }
  return 1e-3;
}

// The step (x_i + t) - x_i actually applied in the dtype.
double applied(Dtype dtype, double xi, double t) {
  if (dtype == Dtype::f32) {
    const float xf = static_cast<float>(xi);
    const float moved = xf + static_cast<float>(t);
    return static_cast<double>(moved) - static_cast<double>(xf);
  }
  const double moved = xi + t;
  return moved - xi;
}

struct BlockPlan {
  std::vector<std::int64_t> positions;  // within the block, ascending
  std::vector<double> noise;            // per output
  bool noise_estimated = true;
  double rms = 0;
};

double rms_of(const std::vector<double>& x, std::int64_t begin, std::int64_t end) {
  if (end <= begin) return 0;
  double s = 0;
  for (std::int64_t i = begin; i < end; ++i) s += x[i] * x[i];
  return std::sqrt(s / static_cast<double>(end - begin));
}

std::vector<std::int64_t> sample_positions(std::int64_t size, std::int64_t max, std::uint64_t seed) {
  std::vector<std::int64_t> pos;
  if (max <= 0 || size <= max) {
    pos.resize(static_cast<std::size_t>(size));
    std::iota(pos.begin(), pos.end(), 0);
    return pos;
  }
  // First and last always (off-by-one bugs live at the edges), the rest by a
  // partial Fisher-Yates shuffle over the interior.
  Rng rng{seed};
  std::vector<std::int64_t> interior(static_cast<std::size_t>(size - 2));
  std::iota(interior.begin(), interior.end(), 1);
  const std::int64_t want = std::max<std::int64_t>(0, max - 2);
  for (std::int64_t k = 0; k < want; ++k) {
    const auto j = k + static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(interior.size() - k));
    std::swap(interior[k], interior[j]);
  }
  pos.assign(interior.begin(), interior.begin() + want);
  pos.push_back(0);
  if (max >= 2) pos.push_back(size - 1);
  std::sort(pos.begin(), pos.end());
  return pos;
}

struct Engine {
  const Task& task;
  const CheckOptions& opt;
  const std::vector<Evaluator*>& evaluators;
  std::size_t m;
  double global_rms;
  EstimatorSettings settings;

  double scale_of(double xi, double block_rms) const {
    return std::max({std::abs(xi), block_rms, global_rms, 1e-3});
  }

  LineFunction coordinate_line(Evaluator* ev, std::int64_t i) const {
    LineFunction phi;
    phi.outputs = m;
    const double xi = task.x[static_cast<std::size_t>(i)];
    const Dtype dt = task.dtype;
    phi.applied_step = [xi, dt](double t) { return applied(dt, xi, t); };
    phi.eval = [ev, i](double t, double* out) { ev->at_coordinate(i, t, out); };
    if (ev->complex())
      phi.eval_complex_imag = [ev, i](double t, double* out) { ev->complex_at_coordinate(i, t, out); };
    return phi;
  }

  LineFunction direction_line(Evaluator* ev, const std::vector<double>& d) const {
    LineFunction phi;
    phi.outputs = m;
    phi.applied_step = [](double t) { return t; };
    phi.eval = [ev, &d](double t, double* out) { ev->along(d, t, out); };
    if (ev->complex()) phi.eval_complex_imag = [ev, &d](double t, double* out) { ev->complex_along(d, t, out); };
    return phi;
  }

  std::vector<double> fallback_noise() const {
    std::vector<double> fb(m);
    for (std::size_t k = 0; k < m; ++k)
      fb[k] = 64 * unit_roundoff(task.dtype) * std::max(std::abs(task.f0[k]), 1e-300);
    return fb;
  }

  // The noise floor: a double result is at least rounded to double.
  void floor_noise(std::vector<double>& sigma) const {
    for (std::size_t k = 0; k < m; ++k)
      sigma[k] = std::max(sigma[k], 0.5 * std::numeric_limits<double>::epsilon() * std::abs(task.f0[k]));
  }

  // A random direction supported on [begin, end), each coordinate scaled by its
  // step scale so every coordinate moves in proportion.
  std::vector<double> block_direction(std::int64_t begin, std::int64_t end, double block_rms, std::uint64_t seed) const {
    std::vector<double> d(task.x.size(), 0.0);
    auto z = normal_vector(seed, static_cast<std::size_t>(end - begin));
    for (std::int64_t i = begin; i < end; ++i)
      d[static_cast<std::size_t>(i)] = z[static_cast<std::size_t>(i - begin)] * scale_of(task.x[i], block_rms);
    return d;
  }

  // The noise level along `d` (rescaled to the length of a typical coordinate
  // scale), measured at two spacings. A kink inside the stencil inflates an
  // estimate and never deflates it, so when the two disagree by more than 10x
  // the smaller is kept; otherwise the larger, to stay conservative.
  std::vector<NoiseLevel> measure_noise(std::vector<double> d, Evaluator* ev, std::int64_t* evals) const {
    double norm = 0, scale2 = 0;
    std::size_t support = 0;
    for (std::size_t j = 0; j < d.size(); ++j) {
      if (d[j] == 0) continue;
      norm += d[j] * d[j];
      scale2 += std::pow(scale_of(task.x[j], 0), 2);
      ++support;
    }
    if (norm > 0) {
      const double target = std::sqrt(scale2 / static_cast<double>(support));
      for (double& v : d) v *= target / std::sqrt(norm);
    }
    const double delta = task.dtype == Dtype::f32 ? 1e-3 : 1e-6;
    const LineFunction line = direction_line(ev, d);
    auto a = estimate_noise(line, task.f0, delta, fallback_noise(), evals);
    auto b = estimate_noise(line, task.f0, delta / 10, fallback_noise(), evals);
    for (std::size_t k = 0; k < m; ++k) {
      if (!a[k].estimated || !b[k].estimated) {
        if (b[k].estimated) a[k] = b[k];
        continue;
      }
      const double lo = std::min(a[k].sigma, b[k].sigma), hi = std::max(a[k].sigma, b[k].sigma);
      a[k].sigma = hi > 10 * lo ? lo : hi;
    }
    return a;
  }

  // Judges one output of one coordinate (or direction).
  Entry judge(double a, const Estimate& c, const Estimate* left, const Estimate* right) const {
    Entry e;
    e.analytic = a;
    e.numeric = c.value;
    e.error_bound = c.error_bound;
    const bool user_tol = opt.rtol >= 0 || opt.atol >= 0;
    auto tol_for = [&](double bound, double n) {
      return user_tol ? std::max(opt.atol, 0.0) + std::max(opt.rtol, 0.0) * std::abs(n) : opt.safety * bound;
    };
    e.tolerance = tol_for(c.error_bound, c.value);
    const double diff = std::abs(a - c.value);
    if (!std::isfinite(c.value) || !std::isfinite(c.error_bound)) {
      e.verdict = std::isfinite(a) ? Verdict::inconclusive : Verdict::mismatch;
      return e;
    }
    if (!std::isfinite(a)) {
      e.verdict = Verdict::mismatch;
      return e;
    }
    const bool ok = diff <= e.tolerance;
    const bool sided = left != nullptr && right != nullptr && std::isfinite(left->value) && std::isfinite(right->value);
    if (!sided) {
      e.verdict = ok ? Verdict::ok : Verdict::mismatch;
      return e;
    }
    e.left = left->value;
    e.right = right->value;
    const double gap = std::abs(right->value - left->value);
    const double lo = std::min(left->value, right->value);
    const double hi = std::max(left->value, right->value);
    const double bound_sum = left->error_bound + right->error_bound;
    // A kink needs the two sides to disagree well beyond both bounds (twice the
    // safety), so that smooth functions are not called kinks.
    const double gap_tol = 2 * opt.safety * bound_sum +
                           8 * unit_roundoff(task.dtype) * std::max(std::abs(lo), std::abs(hi));
    const double slack = opt.safety * std::max(left->error_bound, right->error_bound) +
                         (user_tol ? tol_for(0, std::max(std::abs(lo), std::abs(hi))) : 0.0);
    const bool between = a >= lo - slack && a <= hi + slack;
    if (gap > gap_tol) {
      e.verdict = between ? Verdict::kink : Verdict::mismatch;
    } else if (ok) {
      e.verdict = Verdict::ok;
    } else {
      // The central estimate disagrees, but a one-sided one may agree: the step
      // straddled a kink near the point, so one side is clean.
      auto agrees = [&](const Estimate& s) {
        return std::abs(a - s.value) <= (user_tol ? tol_for(s.error_bound, s.value) : opt.safety * s.error_bound);
      };
      const Estimate* match = agrees(*left) ? left : agrees(*right) ? right : nullptr;
      if (match != nullptr) {
        e.verdict = gap > opt.safety * bound_sum ? Verdict::kink : Verdict::ok;
        if (e.verdict == Verdict::ok) {
          e.numeric = match->value;
          e.error_bound = match->error_bound;
          e.tolerance = tol_for(match->error_bound, match->value);
        }
        return e;
      }
      e.verdict = Verdict::mismatch;
    }
    if (e.verdict == Verdict::mismatch && gap > gap_tol) {
      // Report the one-sided value nearest the analytic one as the numeric.
      const Estimate& near = std::abs(a - left->value) < std::abs(a - right->value) ? *left : *right;
      e.numeric = near.value;
      e.error_bound = near.error_bound;
      e.tolerance = tol_for(near.error_bound, near.value);
    }
    return e;
  }

  // Compares every output of coordinate i.
  std::vector<Entry> check_coordinate(Evaluator* ev, std::int64_t i, const BlockPlan& plan, std::int64_t* evals) const {
    const double xi = task.x[static_cast<std::size_t>(i)];
    const double rel = opt.relative_step > 0 ? opt.relative_step : default_step(opt.method, task.dtype);
    const double h = rel * scale_of(xi, plan.rms);
    LineFunction phi = coordinate_line(ev, i);
    std::vector<double> a(m);
    task.analytic.column(i, a.data());
    std::vector<Entry> out(m);
    if (opt.method == Method::richardson) {
      const SidedEstimates est = estimate_sided(phi, task.f0, h, plan.noise, settings, evals);
      for (std::size_t k = 0; k < m; ++k) out[k] = judge(a[k], est.central[k], &est.left[k], &est.right[k]);
    } else {
      const auto est = estimate_derivative(phi, task.f0, h, plan.noise, settings, evals);
      for (std::size_t k = 0; k < m; ++k) out[k] = judge(a[k], est[k], nullptr, nullptr);
      bool any_bad = false;
      for (auto& e : out) any_bad = any_bad || e.verdict == Verdict::mismatch;
      if (any_bad) {
        // Second opinion: is this a kink? One-sided tables from the real line.
        const double hs = default_step(Method::richardson, task.dtype) * scale_of(xi, plan.rms);
        const auto sided = estimate_sided(phi, task.f0, hs, plan.noise, settings, evals);
        for (std::size_t k = 0; k < m; ++k)
          if (out[k].verdict == Verdict::mismatch) {
            Entry e2 = judge(a[k], est[k], &sided.left[k], &sided.right[k]);
            if (e2.verdict == Verdict::kink) out[k] = e2;
          }
      }
    }
    for (std::size_t k = 0; k < m; ++k) out[k].output = m == 1 ? -1 : static_cast<std::int64_t>(k);
    return out;
  }
};

// Runs fn(worker, item) for items [0, count) on the evaluators' threads. Each
// item's result depends only on the item, so any thread count gives the same.
template <class Fn>
void parallel_for(std::size_t workers, std::size_t count, Fn&& fn) {
  if (workers <= 1 || count <= 1) {
    for (std::size_t i = 0; i < count; ++i) fn(0, i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  std::vector<std::thread> pool;
  for (std::size_t w = 0; w < std::min(workers, count); ++w) {
    pool.emplace_back([&, w] {
      for (;;) {
        const std::size_t i = next.fetch_add(1);
        if (i >= count) return;
        try {
          fn(w, i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          next = count;
          return;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

void summarize_block(BlockResult& br, std::vector<Entry>& entries, const Block& block, double global_scale,
                     const CheckOptions& opt, bool full_coverage) {
  double scale = 0;
  for (const auto& e : entries) scale = std::max(scale, std::abs(e.numeric));
  const double floor = std::max(1e-3 * scale, 1e-300);
  for (auto& e : entries) {
    const double mag = std::max({std::abs(e.analytic), std::abs(e.numeric), floor});
    e.rel_error = std::abs(e.analytic - e.numeric) / mag;
    // Both exactly zero is evidence, not doubt: the function did not move at
    // all along the coordinate (a dead unit) and the analytic derivative agrees.
    const bool exact_zero = e.analytic == 0 && e.numeric == 0;
    if (e.verdict == Verdict::ok && !exact_zero &&
        e.tolerance > opt.inconclusive_ratio * std::max(std::abs(e.analytic), std::abs(e.numeric)) &&
        e.tolerance > opt.negligible * global_scale)
      e.verdict = Verdict::inconclusive;
    br.max_rel_error = std::max(br.max_rel_error, e.rel_error);
    br.max_error_bound = std::max(br.max_error_bound, e.error_bound / mag);
    br.mismatches += e.verdict == Verdict::mismatch;
    br.kinks += e.verdict == Verdict::kink;
    br.inconclusive += e.verdict == Verdict::inconclusive;
  }
  if (br.mismatches > 0) br.verdict = Verdict::mismatch;
  else if (br.checked == 0 && br.size > 0) br.verdict = Verdict::inconclusive;
  else if (static_cast<double>(br.inconclusive) > opt.inconclusive_block_fraction * static_cast<double>(entries.size()))
    br.verdict = Verdict::inconclusive;
  else if (br.kinks > 0) br.verdict = Verdict::kink;
  else br.verdict = Verdict::ok;

  // Worst first: mismatches by how many tolerances off, then the rest by relative error.
  std::vector<std::size_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  auto badness = [&](const Entry& e) {
    const double d = std::abs(e.analytic - e.numeric);
    return e.verdict == Verdict::mismatch ? 1.0 + d / std::max(e.tolerance, 1e-300) : 0.0;
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t p, std::size_t q) {
    const double bp = badness(entries[p]), bq = badness(entries[q]);
    if (bp != bq) return bp > bq;
    return entries[p].rel_error > entries[q].rel_error;
  });
  for (std::size_t k = 0; k < order.size() && static_cast<int>(k) < opt.worst_entries; ++k)
    br.worst.push_back(entries[order[k]]);
  if (br.verdict == Verdict::mismatch) {
    auto hint = analyze_hint(block, entries, opt.batch_size, full_coverage);
    br.hint_kind = hint.kind;
    br.hint = hint.text;
  }
}

}  // namespace

CheckResult run_check(Task task, const std::vector<Evaluator*>& evaluators, const CheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string why;
  if (!options.is_valid(&why)) throw std::invalid_argument("gradcheck: invalid options: " + why);
  if (evaluators.empty()) throw std::invalid_argument("gradcheck: no evaluator");
  if (options.method == Method::complex_step && !evaluators[0]->complex())
    throw std::invalid_argument("gradcheck: Method::complex_step needs a callable wrapped with complex_step()");
  if (!task.directional && !task.analytic.column)
    throw std::invalid_argument("gradcheck: a coordinate check needs analytic columns");

  CheckResult result;
  result.name = task.name;
  result.dtype = task.dtype;
  result.method = options.method;
  result.mode = task.directional ? "fast" : "full";
  result.problems = task.problems;
  result.evaluations = task.evaluations;

  Engine eng{task, options, evaluators, task.f0.size(), rms_of(task.x, 0, static_cast<std::int64_t>(task.x.size())), {}};
  eng.settings.method = options.method;
  eng.settings.roundoff = unit_roundoff(task.dtype);

  const auto& blocks = task.layout.blocks();
  std::vector<BlockPlan> plans(blocks.size());
  std::vector<std::vector<Entry>> entries(blocks.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    BlockResult br;
    br.name = blocks[b].name;
    br.shape = blocks[b].shape;
    br.size = blocks[b].size();
    result.blocks.push_back(std::move(br));
  }

  if (!task.skip_numeric) {
    // Plans: sampled positions and the noise level along a random direction
    // inside each block.
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const Block& blk = blocks[b];
      const std::uint64_t bseed = mix_seed(options.seed, hash_name(blk.name));
      BlockPlan& plan = plans[b];
      plan.rms = rms_of(task.x, blk.offset, blk.offset + blk.size());
      if (blk.size() == 0) continue;
      if (!task.directional) plan.positions = sample_positions(blk.size(), options.max_per_block, bseed);
      const auto d = eng.block_direction(blk.offset, blk.offset + blk.size(), plan.rms, mix_seed(bseed, 1));
      const auto levels = eng.measure_noise(d, evaluators[0], &result.evaluations);
      plan.noise.resize(eng.m);
      for (std::size_t k = 0; k < eng.m; ++k) {
        plan.noise[k] = levels[k].sigma;
        plan.noise_estimated = plan.noise_estimated && levels[k].estimated;
      }
      eng.floor_noise(plan.noise);
      result.noise = std::max(result.noise, *std::max_element(plan.noise.begin(), plan.noise.end()));
      result.noise_estimated = result.noise_estimated && plan.noise_estimated;
    }

    if (!task.directional) {
      struct Item { std::size_t block; std::int64_t pos; };
      std::vector<Item> items;
      for (std::size_t b = 0; b < blocks.size(); ++b)
        for (auto p : plans[b].positions) items.push_back({b, p});
      std::vector<std::vector<Entry>> per_item(items.size());
      std::vector<std::int64_t> item_evals(items.size(), 0);
      parallel_for(evaluators.size(), items.size(), [&](std::size_t w, std::size_t k) {
        const Item& it = items[k];
        const Block& blk = blocks[it.block];
        per_item[k] = eng.check_coordinate(evaluators[w], blk.offset + it.pos, plans[it.block], &item_evals[k]);
        for (auto& e : per_item[k]) {
          e.position = it.pos;
          e.index = blk.index_of(it.pos);
        }
      });
      for (std::size_t k = 0; k < items.size(); ++k) {
        result.evaluations += item_evals[k];
        for (auto& e : per_item[k]) entries[items[k].block].push_back(std::move(e));
        result.blocks[items[k].block].checked += 1;
      }
    } else {
      // Directional: seeded random directions inside each block.
      struct Item { std::size_t block; int dir; };
      std::vector<Item> items;
      for (std::size_t b = 0; b < blocks.size(); ++b)
        if (blocks[b].size() > 0)
          for (int r = 0; r < options.directions; ++r) items.push_back({b, r});
      std::vector<std::vector<Entry>> per_item(items.size());
      std::vector<std::int64_t> item_evals(items.size(), 0);
      parallel_for(evaluators.size(), items.size(), [&](std::size_t w, std::size_t k) {
        const Item& it = items[k];
        const Block& blk = blocks[it.block];
        const std::uint64_t dseed = mix_seed(mix_seed(options.seed, hash_name(blk.name)), 100 + static_cast<std::uint64_t>(it.dir));
        std::vector<double> d = eng.block_direction(blk.offset, blk.offset + blk.size(), plans[it.block].rms, dseed);
        // Normalise so the step is relative to a unit of the coordinates' scale.
        double norm = 0;
        for (double v : d) norm += v * v;
        norm = std::sqrt(norm);
        const double scale = norm / std::sqrt(static_cast<double>(blk.size()));
        for (double& v : d) v /= norm;
        // The noise along this very line (it includes the rounding of x + t d).
        auto noise_levels = eng.measure_noise(d, evaluators[w], &item_evals[k]);
        std::vector<double> noise(eng.m);
        for (std::size_t q = 0; q < eng.m; ++q) noise[q] = std::max(noise_levels[q].sigma, plans[it.block].noise[q]);
        const double rel = options.relative_step > 0 ? options.relative_step : default_step(options.method, task.dtype);
        LineFunction phi = eng.direction_line(evaluators[w], d);
        std::vector<double> a(eng.m);
        task.analytic.along(d, a.data());
        if (options.method == Method::richardson) {
          const auto est = estimate_sided(phi, task.f0, rel * scale, noise, eng.settings, &item_evals[k]);
          for (std::size_t q = 0; q < eng.m; ++q) per_item[k].push_back(eng.judge(a[q], est.central[q], &est.left[q], &est.right[q]));
        } else {
          const auto est = estimate_derivative(phi, task.f0, rel * scale, noise, eng.settings, &item_evals[k]);
          for (std::size_t q = 0; q < eng.m; ++q) per_item[k].push_back(eng.judge(a[q], est[q], nullptr, nullptr));
        }
        for (std::size_t q = 0; q < eng.m; ++q) {
          per_item[k][q].position = it.dir;
          per_item[k][q].index = {it.dir};
          per_item[k][q].output = eng.m == 1 ? -1 : static_cast<std::int64_t>(q);
        }
      });
      for (std::size_t k = 0; k < items.size(); ++k) {
        result.evaluations += item_evals[k];
        for (auto& e : per_item[k]) entries[items[k].block].push_back(std::move(e));
        result.blocks[items[k].block].checked += 1;
      }
    }
  }

  double global_scale = 0;
  for (const auto& es : entries)
    for (const auto& e : es) global_scale = std::max(global_scale, std::abs(e.numeric));
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const bool full = !task.directional && static_cast<std::int64_t>(plans[b].positions.size()) == blocks[b].size();
    summarize_block(result.blocks[b], entries[b], blocks[b], global_scale, options, full);
  }

  bool any_mismatch = false, any_inconclusive = false, any_kink = false;
  for (const auto& br : result.blocks) {
    any_mismatch = any_mismatch || br.verdict == Verdict::mismatch;
    any_inconclusive = any_inconclusive || br.verdict == Verdict::inconclusive;
    any_kink = any_kink || br.verdict == Verdict::kink;
  }
  result.verdict = any_mismatch ? Verdict::mismatch
                   : any_inconclusive ? Verdict::inconclusive
                   : any_kink ? Verdict::kink
                              : Verdict::ok;
  result.passed = !any_mismatch && result.problems.empty();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace detail
}  // namespace gradcheck
