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
  if (!(recheck_distance > 0 && recheck_distance < 1)) return fail("recheck_distance must be in (0, 1)");
  if (recheck_max < 0) return fail("recheck_max must be >= 0");
  if (!(scale_sigmas >= 0)) return fail("scale_sigmas must be >= 0 (0 switches the scale test off)");
  if (scale_min_entries < 2) return fail("scale_min_entries must be >= 2");
  if (scale_check_entries < scale_min_entries) return fail("scale_check_entries must be >= scale_min_entries");
  if (!(consistency_sd >= 0)) return fail("consistency_sd must be >= 0 (0 switches the consistency test off)");
  if (consistency_min_entries < 2) return fail("consistency_min_entries must be >= 2");
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

namespace {

// The coordinates of `items` (flat indices, with their plans) flagged near a
// kink, decided again at up to two nearby generic points (see
// CheckOptions::recheck_kinks). per_item[k] is replaced in place; returns the
// notes, one per block that had coordinates moved.
struct Recheck {
  std::int64_t index;
  const BlockPlan* plan;
  std::size_t item;
};

std::vector<double> nearby_point(const Engine& eng, const std::vector<BlockPlan>& plans, std::uint64_t seed) {
  const Task& task = eng.task;
  const auto z = normal_vector(seed, task.x.size());
  std::vector<double> moved(task.x.size());
  for (std::size_t j = 0; j < moved.size(); ++j) {
    const double rms = plans[task.layout.block_of(static_cast<std::int64_t>(j))].rms;
    double v = task.x[j] + eng.opt.recheck_distance * eng.scale_of(task.x[j], rms) * z[j];
    if (task.dtype == Dtype::f32) v = static_cast<double>(static_cast<float>(v));
    moved[j] = v;
  }
  return moved;
}

void recheck_near_kinks(const Engine& eng, const std::vector<Evaluator*>& evaluators, const std::vector<BlockPlan>& plans,
                        std::vector<Recheck> todo, std::vector<std::vector<Entry>>& per_item,
                        const std::vector<std::vector<NearKink>>& why, CheckResult& result) {
  const Task& task = eng.task;
  const CheckOptions& opt = eng.opt;
  if (static_cast<std::int64_t>(todo.size()) > opt.recheck_max) {
    const auto keep = sample_positions(static_cast<std::int64_t>(todo.size()), opt.recheck_max, mix_seed(opt.seed, 0x6b1));
    std::vector<Recheck> kept;
    for (auto k : keep) kept.push_back(todo[static_cast<std::size_t>(k)]);
    todo = std::move(kept);
  }
  // still[k][q]: output q of todo[k] not yet decided (a mismatch at every point so far).
  std::vector<std::vector<bool>> still(todo.size(), std::vector<bool>(eng.m, true));
  std::vector<std::vector<Entry>> found(todo.size());
  bool moved_ok = true;
  // Attempts 0 and 1 at two nearby points; attempt 2 at the second point again
  // with 10x smaller steps: where several kinks lie within the usual step (a
  // weight that moves many units' pre-activations, in f32 whose steps are 5%
  // of the scale), both one-sided tables reach one and no estimate at that
  // step is clean.
  for (int attempt = 0; attempt < 3 && !todo.empty(); ++attempt) {
    std::vector<std::size_t> now;
    for (std::size_t k = 0; k < todo.size(); ++k)
      for (std::size_t q = 0; q < eng.m; ++q)
        if (still[k][q] && why[todo[k].item][q] != NearKink::no) {
          now.push_back(k);
          break;
        }
    if (now.empty()) break;
    Task at = task;
    at.x = nearby_point(eng, plans, mix_seed(opt.seed, 0x6b696e6b + static_cast<std::uint64_t>(std::min(attempt, 1))));
    if (!task.at_point(at.x, &at.f0, &at.analytic) || at.f0.size() != eng.m) {
      moved_ok = false;
      break;
    }
    Engine there = make_engine(at, opt, evaluators);
    std::vector<BlockPlan> smaller;
    if (attempt == 2) {
      smaller = plans;
      for (auto& p : smaller) p.step_factor = 0.1;
    }
    for (Evaluator* ev : evaluators) ev->move_to(at.x);
    const auto entries = check_coordinates(
        there, evaluators, now.size(),
        [&](std::size_t n) {
          const BlockPlan* plan = todo[now[n]].plan;
          if (attempt == 2) plan = &smaller[static_cast<std::size_t>(plan - plans.data())];
          return std::pair{todo[now[n]].index, plan};
        },
        &result.evaluations);
    for (Evaluator* ev : evaluators) ev->move_to(task.x);
    for (std::size_t n = 0; n < now.size(); ++n) {
      const std::size_t k = now[n];
      for (std::size_t q = 0; q < eng.m; ++q) {
        if (!still[k][q]) continue;
        if (found[k].empty()) found[k].resize(eng.m);
        // A smaller step's estimate is the less precise one where no kink
        // spoils the usual step (rounding grows as the step shrinks): it may
        // clear a mismatch only with a bound no wider than the usual step's.
        if (attempt == 2 && entries[n][q].verdict != Verdict::mismatch &&
            !(entries[n][q].error_bound <= found[k][q].error_bound))
          continue;
        found[k][q] = entries[n][q];
        still[k][q] = entries[n][q].verdict == Verdict::mismatch;
      }
    }
  }
  if (!moved_ok) {
    result.notes.push_back("coordinates at or next to kinks could not be decided at a nearby point: the value or the "
                           "derivatives are not finite there; their verdicts are those at the point given");
    return;
  }
  // Per block: moved, and how many of them disagree there.
  std::vector<std::int64_t> moved(task.layout.blocks().size(), 0), bad(moved.size(), 0), kinks(moved.size(), 0),
      outside(moved.size(), 0);
  for (std::size_t k = 0; k < todo.size(); ++k) {
    if (found[k].empty()) continue;
    auto& given = per_item[todo[k].item];
    const std::size_t b = task.layout.block_of(todo[k].index);
    bool any_bad = false, any_kink = false;
    for (std::size_t q = 0; q < eng.m; ++q) {
      const NearKink w = why[todo[k].item][q];
      if (w == NearKink::no) continue;
      Entry e = found[k][q];
      if (e.verdict == Verdict::mismatch) {
        // Wrong at every point: the values at the point given, so that the
        // block's pattern (its hint) is read from one point.
        e = given[q];
        e.verdict = Verdict::mismatch;
      } else if (w == NearKink::kink) {
        // The point given is a kink; the analytic value is right nearby.
        e = given[q];
        if (e.verdict == Verdict::mismatch) ++outside[b];
        e.verdict = Verdict::kink;
        any_kink = true;
      }
      e.rechecked = true;
      e.output = given[q].output;
      any_bad = any_bad || e.verdict == Verdict::mismatch;
      given[q] = e;
    }
    ++moved[b];
    bad[b] += any_bad;
    kinks[b] += any_kink;
  }
  char buf[160];
  for (std::size_t b = 0; b < moved.size(); ++b) {
    if (moved[b] == 0) continue;
    std::snprintf(buf, sizeof buf, "%.3g", opt.recheck_distance);
    std::string note = task.layout.blocks()[b].name + ": " + std::to_string(moved[b]) +
                       " coordinate(s) at or next to a kink at the point given (" + std::to_string(kinks[b]) +
                       " with one-sided derivatives that differ) were compared again at a nearby point (every value "
                       "moved by a seeded " + buf + " of its scale): ";
    if (bad[b] == 0) note += "all agree there";
    else note += std::to_string(bad[b]) + " disagree there, at a second such point and there with 10x smaller steps";
    if (outside[b] > 0)
      note += "; at the point given, " + std::to_string(outside[b]) +
              " had the analytic value outside [left, right]: kinks that coincide do this (several ReLUs at exactly "
              "0), and so does a value at a kink that neither side supports (recheck_kinks off calls those "
              "mismatches)";
    result.notes.push_back(note);
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
  if (!task.directional && options.mode == Mode::full && !task.analytic.column)
    throw std::invalid_argument("gradcheck: a coordinate check needs analytic columns");
  if (task.directional || options.mode == Mode::fast) return run_fast(std::move(task), evaluators, options);

  CheckResult result = start_result(task, options, Mode::full);
  Engine eng = make_engine(task, options, evaluators);
  const bool recheck = options.recheck_kinks && static_cast<bool>(task.at_point);
  eng.lenient = !recheck;
  const auto& blocks = task.layout.blocks();
  std::vector<BlockPlan> plans(blocks.size());
  std::vector<std::vector<Entry>> entries(blocks.size());

  if (!task.skip_numeric) {
    // Plans: sampled positions and the noise level along a random direction
    // inside each block.
    std::vector<std::pair<std::size_t, std::uint64_t>> noisy;  // the blocks checked (and their seeds): noise to measure
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const Block& blk = blocks[b];
      const std::uint64_t bseed = mix_seed(options.seed, hash_name(blk.name));
      BlockPlan& plan = plans[b];
      plan.rms = rms_of(task.x, blk.offset, blk.offset + blk.size());
      if (blk.size() == 0) continue;
      if (!options.only_blocks.empty() &&
          std::find(options.only_blocks.begin(), options.only_blocks.end(), blk.name) == options.only_blocks.end())
        continue;
      plan.positions = sample_positions(blk.size(), options.max_per_block, bseed);
      if (task.analytic.column) {
        // The block's typical derivative per output (the quick stage's floor).
        std::vector<double> col(eng.m), sum(eng.m, 0.0);
        for (auto p : plan.positions) {
          task.analytic.column(blk.offset + p, col.data());
          for (std::size_t k = 0; k < eng.m; ++k)
            if (std::isfinite(col[k])) sum[k] += col[k] * col[k];
        }
        plan.derivative_rms.resize(eng.m);
        for (std::size_t k = 0; k < eng.m; ++k)
          plan.derivative_rms[k] = std::sqrt(sum[k] / static_cast<double>(plan.positions.size()));
      }
      noisy.emplace_back(b, bseed);
    }
    // The noise level along a seeded direction inside each block, the blocks
    // shared among the evaluators (each block's level depends only on the
    // block, so any thread count gives the same).
    std::vector<std::vector<NoiseLevel>> levels(noisy.size());
    std::vector<std::int64_t> noise_evals(noisy.size(), 0);
    gradcheck::internal::parallel_for(noisy.size(), static_cast<int>(evaluators.size()), [&](std::size_t k, std::size_t w) {
      const auto [b, bseed] = noisy[k];
      const Block& blk = blocks[b];
      const auto d = eng.block_direction(blk.offset, blk.offset + blk.size(), plans[b].rms, mix_seed(bseed, 1));
      levels[k] = eng.measure_noise(d, evaluators[w], &noise_evals[k]);
    });
    for (std::size_t k = 0; k < noisy.size(); ++k) {
      BlockPlan& plan = plans[noisy[k].first];
      result.evaluations += noise_evals[k];
      plan.noise.resize(eng.m);
      for (std::size_t q = 0; q < eng.m; ++q) {
        plan.noise[q] = levels[k][q].sigma;
        plan.noise_estimated = plan.noise_estimated && levels[k][q].estimated;
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
      std::vector<std::vector<NearKink>> why;
      auto per_item = check_coordinates(
          eng, evaluators, items.size(),
          [&](std::size_t k) { return std::pair{blocks[items[k].block].offset + items[k].pos, &plans[items[k].block]}; },
          &result.evaluations, &why);
      if (recheck) {
        // Mismatches next to kinks are moved too: kinks that coincide can even
        // give equal one-sided derivatives that the convention at the kink
        // (relu'(0) = 0) does not match.
        std::vector<bool> kinked(blocks.size(), false);
        for (std::size_t k = 0; k < items.size(); ++k)
          for (NearKink w : why[k]) kinked[items[k].block] = kinked[items[k].block] || w == NearKink::kink;
        for (std::size_t k = 0; k < items.size(); ++k)
          if (kinked[items[k].block])
            for (std::size_t q = 0; q < why[k].size(); ++q)
              if (why[k][q] == NearKink::no && per_item[k][q].verdict == Verdict::mismatch) why[k][q] = NearKink::kink;
        std::vector<Recheck> todo;
        for (std::size_t k = 0; k < items.size(); ++k)
          for (NearKink w : why[k])
            if (w != NearKink::no) {
              todo.push_back({blocks[items[k].block].offset + items[k].pos, &plans[items[k].block], k});
              break;
            }
        if (!todo.empty()) recheck_near_kinks(eng, evaluators, plans, std::move(todo), per_item, why, result);
      }
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
    summarize_block(result.blocks[b], entries[b], blocks[b], global_scale, options, task.dtype, full,
                    task.x.data() + blocks[b].offset);
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
    summarize_block(result.blocks[b], entries[b], blocks[b], global_scale, options, task.dtype, full,
                    task.x.data() + blocks[b].offset);
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
