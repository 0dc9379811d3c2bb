// Fast mode: random directional checks per group of blocks; on a failure,
// bisection over blocks, then over coordinate ranges, down to the faulty
// coordinates in O(k log n) directional checks, with a Taylor-remainder test
// as tolerance-free evidence.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "../core/format.hpp"
#include "engine_impl.hpp"

namespace gradcheck::detail::impl {

namespace {

struct Range {
  std::int64_t begin, end;
};

struct Test {
  std::vector<Entry> entries;  // one per output
  std::vector<double> d;
  bool failed = false;
  double noise = 0;
  bool noise_estimated = true;
};

struct Fast {
  const Engine& eng;
  const Task& task;
  const CheckOptions& opt;
  const std::vector<BlockPlan>& plans;

  // A seeded direction over `ranges`: each coordinate moves in proportion to
  // its scale, and the whole direction moves f about as much as a single
  // coordinate step would (hence the 1/sqrt(count)).
  std::vector<double> direction(const std::vector<Range>& ranges, std::uint64_t seed) const {
    std::vector<double> d(task.x.size(), 0.0);
    std::int64_t count = 0;
    for (const auto& r : ranges) count += r.end - r.begin;
    std::uint64_t k = 0;
    for (const auto& r : ranges) {
      const auto z = normal_vector(mix_seed(seed, k++), static_cast<std::size_t>(r.end - r.begin));
      const double rms = plans[task.layout.block_of(r.begin)].rms;
      for (std::int64_t j = r.begin; j < r.end; ++j)
        d[static_cast<std::size_t>(j)] = z[static_cast<std::size_t>(j - r.begin)] * eng.scale_of(task.x[j], rms) /
                                         std::sqrt(static_cast<double>(count));
    }
    return d;
  }

  Test test(Evaluator* ev, const std::vector<Range>& ranges, std::uint64_t seed, std::int64_t* evals) const {
    Test t;
    t.d = direction(ranges, seed);
    const std::size_t m = eng.m;
    auto levels = eng.measure_noise(t.d, ev, evals);
    std::vector<double> noise(m);
    for (std::size_t q = 0; q < m; ++q) noise[q] = levels[q].sigma;
    eng.floor_noise(noise);
    for (std::size_t q = 0; q < m; ++q) {
      t.noise = std::max(t.noise, noise[q]);
      t.noise_estimated = t.noise_estimated && levels[q].estimated;
    }
    std::vector<double> a(m);
    task.analytic.along(t.d, a.data());
    const double rel = opt.relative_step > 0 ? opt.relative_step : default_step(opt.method, task.dtype);
    LineFunction phi = eng.direction_line(ev, t.d);
    if (opt.method == Method::richardson) {
      const auto est = estimate_sided(phi, task.f0, rel, noise, eng.settings, evals);
      for (std::size_t q = 0; q < m; ++q) t.entries.push_back(eng.judge(a[q], est.central[q], &est.left[q], &est.right[q]));
    } else {
      const auto est = estimate_derivative(phi, task.f0, rel, noise, eng.settings, evals);
      for (std::size_t q = 0; q < m; ++q) t.entries.push_back(eng.judge(a[q], est[q], nullptr, nullptr));
    }
    for (std::size_t q = 0; q < m; ++q) {
      t.entries[q].directional = true;
      t.entries[q].output = m == 1 ? -1 : static_cast<std::int64_t>(q);
      t.failed = t.failed || t.entries[q].verdict == Verdict::mismatch;
    }
    return t;
  }

  // |f(x + h d) - f(x) - h <g, d>| over h = h0 / 2^k: the slope of its log
  // against log h is 2 for a right gradient and 1 for a wrong one, whatever
  // the tolerance. Returns NaN when the remainder stays in the noise.
  double taylor_slope(Evaluator* ev, const std::vector<double>& d, double a, std::int64_t* evals) const {
    const double rel = default_step(Method::richardson, task.dtype) * 4;
    const auto noise_levels = eng.measure_noise(d, ev, evals);
    const double floor = 30 * std::max(noise_levels[0].sigma, 1e-300);
    std::vector<double> lx, ly;
    std::vector<double> out(eng.m);
    for (int k = 0; k < 12; ++k) {
      const double h = rel * std::ldexp(1.0, -k);
      ev->along(d, h, out.data());
      ++*evals;
      const double r = std::abs(out[0] - task.f0[0] - h * a);
      if (r > floor && std::isfinite(r)) {
        lx.push_back(std::log(h));
        ly.push_back(std::log(r));
      }
    }
    if (lx.size() < 3) return std::nan("");
    // Least-squares slope over the smallest steps that rise above the noise
    // (at large steps higher-order terms bend the curve).
    const std::size_t n = std::min<std::size_t>(lx.size(), 6);
    const std::size_t s0 = lx.size() - n;
    double mx = 0, my = 0;
    for (std::size_t i = s0; i < lx.size(); ++i) mx += lx[i], my += ly[i];
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    double sxy = 0, sxx = 0;
    for (std::size_t i = s0; i < lx.size(); ++i) sxy += (lx[i] - mx) * (ly[i] - my), sxx += (lx[i] - mx) * (lx[i] - mx);
    return sxx > 0 ? sxy / sxx : std::nan("");
  }
};

}  // namespace

CheckResult run_fast(Task task, const std::vector<Evaluator*>& evaluators, const CheckOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  CheckResult result = start_result(task, options, Mode::fast);
  Engine eng = make_engine(task, options, evaluators);
  eng.lenient = true;  // directions and the few localised coordinates are not moved
  const auto& blocks = task.layout.blocks();
  std::vector<BlockPlan> plans(blocks.size());
  std::vector<std::vector<Entry>> entries(blocks.size());
  for (std::size_t b = 0; b < blocks.size(); ++b)
    plans[b].rms = rms_of(task.x, blocks[b].offset, blocks[b].offset + blocks[b].size());
  Fast fast{eng, task, options, plans};
  int test_id = 0;
  auto record = [&](const std::vector<std::size_t>& bs, const Test& t) {
    result.noise = std::max(result.noise, t.noise);
    result.noise_estimated = result.noise_estimated && t.noise_estimated;
    for (std::size_t b : bs) {
      result.blocks[b].checked += 1;
      for (auto e : t.entries) {
        e.position = test_id;
        entries[b].push_back(e);
      }
    }
    ++test_id;
  };
  auto ranges_of = [&](const std::vector<std::size_t>& bs) {
    std::vector<Range> r;
    for (std::size_t b : bs) r.push_back({blocks[b].offset, blocks[b].offset + blocks[b].size()});
    return r;
  };

  if (!task.skip_numeric) {
    // Groups of consecutive non-empty blocks, at most 32 groups, so a model with
    // few tensors gets a test per tensor and a huge one stays cheap.
    std::vector<std::size_t> nonempty;
    for (std::size_t b = 0; b < blocks.size(); ++b)
      if (blocks[b].size() > 0) nonempty.push_back(b);
    const std::size_t groups = std::min<std::size_t>(32, nonempty.size());
    std::vector<std::vector<std::size_t>> group(groups);
    for (std::size_t k = 0; k < nonempty.size(); ++k) group[k * groups / std::max<std::size_t>(nonempty.size(), 1)].push_back(nonempty[k]);

    // Phase 1: `directions` tests per group, in parallel (each test depends only
    // on its seed, so the thread count does not change the result).
    struct Item { std::size_t g; int dir; };
    std::vector<Item> items;
    for (std::size_t g = 0; g < groups; ++g)
      for (int r = 0; r < options.directions; ++r) items.push_back({g, r});
    std::vector<Test> tests(items.size());
    std::vector<std::int64_t> evals(items.size(), 0);
    gradcheck::internal::parallel_for(items.size(), static_cast<int>(evaluators.size()), [&](std::size_t k, std::size_t w) {
      const auto& bs = group[items[k].g];
      tests[k] = fast.test(evaluators[w], ranges_of(bs),
                           mix_seed(mix_seed(options.seed, 0xfa57 + bs.front()), static_cast<std::uint64_t>(items[k].dir)), &evals[k]);
    });
    std::vector<bool> group_failed(groups, false);
    for (std::size_t k = 0; k < items.size(); ++k) {
      result.evaluations += evals[k];
      record(group[items[k].g], tests[k]);
      group_failed[items[k].g] = group_failed[items[k].g] || tests[k].failed;
    }

    // Phase 2: bisect failing groups down to single blocks.
    Evaluator* ev = evaluators[0];
    std::vector<std::size_t> faulty;
    std::uint64_t salt = 1;
    for (std::size_t g = 0; g < groups; ++g) {
      if (!group_failed[g]) continue;
      if (group[g].size() == 1) {
        faulty.push_back(group[g][0]);
        continue;
      }
      std::vector<std::vector<std::size_t>> stack{group[g]};
      std::size_t found_before = faulty.size();
      while (!stack.empty()) {
        auto bs = std::move(stack.back());
        stack.pop_back();
        const std::size_t half = bs.size() / 2;
        for (auto part : {std::vector<std::size_t>(bs.begin(), bs.begin() + static_cast<std::ptrdiff_t>(half)),
                          std::vector<std::size_t>(bs.begin() + static_cast<std::ptrdiff_t>(half), bs.end())}) {
          if (part.empty()) continue;
          const Test t = fast.test(ev, ranges_of(part), mix_seed(options.seed, 0xb15ec7 + salt++), &result.evaluations);
          record(part, t);
          if (!t.failed) continue;
          if (part.size() == 1) faulty.push_back(part[0]);
          else stack.push_back(part);
        }
      }
      if (faulty.size() == found_before)
        result.notes.push_back("a direction across " + blocks[group[g].front()].name + " .. " + blocks[group[g].back()].name +
                               " failed, but no single tensor failed alone");
    }

    // Phase 3: within each faulty block, bisect coordinate ranges down to
    // single coordinates (at most localize_max of them), and measure the
    // Taylor remainder along a failing direction.
    for (std::size_t b : faulty) {
      const Block& blk = blocks[b];
      std::int64_t spent = 0;
      const Test first = fast.test(ev, {{blk.offset, blk.offset + blk.size()}}, mix_seed(options.seed, 0x7a7 + b), &spent);
      record({b}, first);
      if (eng.m == 1 && first.failed) {
        std::vector<double> a(1);
        task.analytic.along(first.d, a.data());
        const double slope = fast.taylor_slope(ev, first.d, a[0], &spent);
        if (std::isfinite(slope))
          result.notes.push_back(blk.name + ": the Taylor remainder |f(x+hd) - f(x) - h<g,d>| shrinks as h^" + internal::fixed(slope, 2) +
                                 (slope < 1.5 ? " (a right gradient gives h^2: the gradient is wrong along d)"
                                              : " (close to h^2: the error is small compared with the curvature)"));
      }
      int leaves = 0;
      std::vector<Range> stack{{blk.offset, blk.offset + blk.size()}};
      std::int64_t tests_run = 1;
      while (!stack.empty() && leaves < options.localize_max) {
        const Range r = stack.back();
        stack.pop_back();
        if (r.end - r.begin == 1) {
          BlockPlan plan = plans[b];
          plan.noise.assign(eng.m, 0.0);
          const auto lv = eng.measure_noise(fast.direction({r}, mix_seed(options.seed, 0x1eaf + static_cast<std::uint64_t>(r.begin))), ev, &spent);
          for (std::size_t q = 0; q < eng.m; ++q) plan.noise[q] = lv[q].sigma;
          eng.floor_noise(plan.noise);
          auto es = eng.check_coordinate(ev, r.begin, plan, &spent);
          for (auto& e : es) {
            e.position = r.begin - blk.offset;
            e.index = blk.index_of(e.position);
            entries[b].push_back(e);
          }
          result.blocks[b].checked += 1;
          ++leaves;
          continue;
        }
        const std::int64_t mid = r.begin + (r.end - r.begin) / 2;
        // Push the right half first so the left is explored first (ascending order).
        std::vector<Range> failing;
        for (Range part : {Range{r.begin, mid}, Range{mid, r.end}}) {
          const Test t = fast.test(ev, {part}, mix_seed(options.seed, 0xc00d + static_cast<std::uint64_t>(part.begin) * 7919 +
                                                                          static_cast<std::uint64_t>(part.end)),
                                   &spent);
          ++tests_run;
          if (t.failed) failing.push_back(part);
        }
        for (auto it = failing.rbegin(); it != failing.rend(); ++it) stack.push_back(*it);
      }
      result.evaluations += spent;
      result.notes.push_back(blk.name + ": localised " + std::to_string(leaves) + " faulty coordinate(s) with " +
                             std::to_string(tests_run) + " directional checks, " + std::to_string(spent) + " evaluations");
    }
  }

  double global_scale = 0;
  for (const auto& es : entries)
    for (const auto& e : es) global_scale = std::max(global_scale, std::abs(e.numeric));
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    summarize_block(result.blocks[b], entries[b], blocks[b], global_scale, options, task.dtype, false,
                    task.x.data() + blocks[b].offset);
    // A few directions cannot average the noise away; every coordinate can.
    if (result.blocks[b].verdict == Verdict::inconclusive)
      result.notes.push_back(blocks[b].name +
                             ": inconclusive along random directions (its derivatives are near the function's "
                             "noise); full mode compares every coordinate and fits the tensor's scale over them, "
                             "which finds a constant factor no single comparison shows");
  }
  finalize(result, start);
  return result;
}

}  // namespace gradcheck::detail::impl
