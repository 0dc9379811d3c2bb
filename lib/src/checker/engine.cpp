// The comparison engine behind every check: chooses coordinates and steps,
// measures noise, estimates derivatives, judges each entry and sums up blocks.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "gradcheck/check.hpp"
#include "engine_impl.hpp"

namespace gradcheck {

bool CheckOptions::is_valid(std::string* error) const {
  auto fail = [&](const char* why) {
    if (error != nullptr) *error = why;
    return false;
  };
  if (mode == Mode::automatic) return fail("mode automatic is resolved by the host (check_plugin): choose full or fast");
  if (!(safety > 0)) return fail("safety must be positive");
  if (relative_step < 0) return fail("relative_step must be >= 0 (0 picks the default)");
  if (max_per_block < 0) return fail("max_per_block must be >= 0 (0 checks every coordinate)");
  if (threads < 1) return fail("threads must be >= 1");
  if (directions < 1) return fail("directions must be >= 1");
  if (early_rows < 0) return fail("early_rows must be >= 0 (0 uses every row)");
  if (!(quick_precision >= 0 && quick_precision < 1)) return fail("quick_precision must be in [0, 1)");
  if (worst_entries < 0) return fail("worst_entries must be >= 0");
  if (!(inconclusive_ratio > 0)) return fail("inconclusive_ratio must be positive");
  if (!(scale_sigmas >= 0)) return fail("scale_sigmas must be >= 0 (0 switches the scale test off)");
  if (scale_min_entries < 2) return fail("scale_min_entries must be >= 2");
  if (scale_check_entries < scale_min_entries) return fail("scale_check_entries must be >= scale_min_entries");
  return true;
}

namespace detail {

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
    task.problems.push_back({ProblemKind::nondeterministic_loss, buf});
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
    task.problems.push_back({ProblemKind::stateful_gradient, buf});
  }
}

void check_finite(const std::vector<double>& f0, const std::vector<double>& derivative, Task& task) {
  if (!all_finite(f0)) {
    // GCC 12 misreads the inlined std::string copy as out of bounds (-Warray-bounds, -Wstringop-overread).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
    task.problems.push_back({ProblemKind::non_finite, "the function value is not finite at the point checked"});
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
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
    task.problems.push_back({ProblemKind::non_finite, std::to_string(bad) + " analytic derivative value(s) are NaN or infinite" + where});
  }
}


using namespace impl;

CheckResult run_check(Task task, const std::vector<Evaluator*>& evaluators, const CheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string why;
  if (!options.is_valid(&why)) throw std::invalid_argument("gradcheck: invalid options: " + why);
  if (evaluators.empty()) throw std::invalid_argument("gradcheck: no evaluator");
  if (options.method == Method::complex_step && !evaluators[0]->complex())
    throw std::invalid_argument("gradcheck: Method::complex_step needs a callable wrapped with complex_step()");
  if (!task.directional && options.mode == Mode::full && !task.analytic.column)
    throw std::invalid_argument("gradcheck: a coordinate check needs analytic columns");
  if (task.directional || options.mode == Mode::fast) return run_fast(std::move(task), evaluators, options);

  CheckResult result = start_result(task, options, Mode::full);
  const Engine eng = make_engine(task, options, evaluators);
  const auto& blocks = task.layout.blocks();
  std::vector<BlockPlan> plans(blocks.size());
  std::vector<std::vector<Entry>> entries(blocks.size());

  if (!task.skip_numeric) {
    // Plans: sampled positions and the noise level along a random direction
    // inside each block.
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const Block& blk = blocks[b];
      const std::uint64_t bseed = mix_seed(options.seed, hash_name(blk.name));
      BlockPlan& plan = plans[b];
      plan.rms = rms_of(task.x, blk.offset, blk.offset + blk.size());
      if (blk.size() == 0) continue;
      plan.positions = sample_positions(blk.size(), options.max_per_block, bseed);
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

    {
      struct Item { std::size_t block; std::int64_t pos; };
      std::vector<Item> items;
      for (std::size_t b = 0; b < blocks.size(); ++b)
        for (auto p : plans[b].positions) items.push_back({b, p});
      auto per_item = check_coordinates(
          eng, evaluators, items.size(),
          [&](std::size_t k) { return std::pair{blocks[items[k].block].offset + items[k].pos, &plans[items[k].block]}; },
          &result.evaluations);
      for (std::size_t k = 0; k < items.size(); ++k) {
        const Item& it = items[k];
        for (auto& e : per_item[k]) {
          e.position = it.pos;
          e.index = blocks[it.block].index_of(it.pos);
          entries[it.block].push_back(std::move(e));
        }
        result.blocks[it.block].checked += 1;
      }
    }
  }
  double global_scale = 0;
  for (const auto& es : entries)
    for (const auto& e : es) global_scale = std::max(global_scale, std::abs(e.numeric));
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const bool full = static_cast<std::int64_t>(plans[b].positions.size()) == blocks[b].size();
    summarize_block(result.blocks[b], entries[b], blocks[b], global_scale, options, task.dtype, full);
    if (!scale_pending(result.blocks[b], options, task.dtype)) continue;
    // The scale fit deviates: a second opinion at 4x larger steps, over a
    // seeded sample of the coordinates already compared.
    BlockPlan again = plans[b];
    again.step_factor = 4;
    const auto pick = sample_positions(static_cast<std::int64_t>(plans[b].positions.size()),
                                       options.scale_check_entries, mix_seed(options.seed, 0x5ca1e + b));
    const auto per_item = check_coordinates(
        eng, evaluators, pick.size(),
        [&](std::size_t k) {
          return std::pair{blocks[b].offset + plans[b].positions[static_cast<std::size_t>(pick[k])], &again};
        },
        &result.evaluations);
    std::vector<Entry> second;
    for (const auto& es : per_item) second.insert(second.end(), es.begin(), es.end());
    const ScaleFit fit = fit_scale(second);
    result.blocks[b].scale_check = fit.scale;
    result.blocks[b].scale_check_error = fit.error;
    summarize_block(result.blocks[b], entries[b], blocks[b], global_scale, options, task.dtype, full);
    if (result.blocks[b].verdict != Verdict::mismatch) {
      char note[300];
      std::snprintf(note, sizeof note,
                    ": on average numeric = %.6g x analytic, but %.6g with 4x larger steps: a deviation that "
                    "shrinks with the step is rounding in the function, not the gradient",
                    result.blocks[b].scale, fit.scale);
      result.notes.push_back(blocks[b].name + note);
    }
  }

  finalize(result, start);
  return result;
}

}  // namespace detail
}  // namespace gradcheck
