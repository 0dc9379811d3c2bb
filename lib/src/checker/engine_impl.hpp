#pragma once
// Internals shared by the coordinate engine (engine.cpp) and fast mode
// (fast.cpp): step choice, sampling, noise measurement, per-entry judgement
// and block summaries. Declarations (and the one template) only; the
// definitions live in sampling.cpp, coordinate.cpp and summary.cpp.

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gradcheck/check.hpp"
#include "../core/parallel.hpp"

namespace gradcheck::detail::impl {

// --- sampling.cpp ---

// FNV-1a of a block name: the block's stream of seeded draws.
std::uint64_t hash_name(const std::string& s);

// Root mean square of x[begin, end); 0 when the range is empty.
double rms_of(const std::vector<double>& x, std::int64_t begin, std::int64_t end);

// Positions 0..size-1 when max is 0 or size <= max; otherwise a seeded sample
// of max positions (always the first, and the last when max >= 2), ascending.
std::vector<std::int64_t> sample_positions(std::int64_t size, std::int64_t max, std::uint64_t seed);

// --- coordinate.cpp ---

double default_step(Method method, Dtype dtype);

// The step (x_i + t) - x_i actually applied in the dtype.
double applied(Dtype dtype, double xi, double t);

struct BlockPlan {
  std::vector<std::int64_t> positions;  // within the block, ascending
  std::vector<double> noise;            // per output
  bool noise_estimated = true;
  double rms = 0;
  // Multiplies the largest step; other than 1, every coordinate gets the
  // whole table at it (the scale fit's second opinion).
  double step_factor = 1;
  // Per output: the RMS of the analytic derivatives over the block's compared
  // coordinates, the magnitude below which quick_central asks for no more
  // relative precision (empty: none).
  std::vector<double> derivative_rms;
};

// Why an entry is decided again at a nearby generic point.
enum class NearKink : char {
  no,
  kink,  // the one-sided derivatives differ beyond their bounds: a kink (or kinks that coincide)
  side,  // only a one-sided estimate agrees, and it cannot know better than the central one
};

struct Engine {
  const Task& task;
  const CheckOptions& opt;
  const std::vector<Evaluator*>& evaluators;
  std::size_t m;
  double global_rms;
  EstimatorSettings settings;

  double scale_of(double xi, double block_rms) const;

  LineFunction coordinate_line(Evaluator* ev, std::int64_t i) const;

  LineFunction direction_line(Evaluator* ev, const std::vector<double>& d) const;

  // The noise floor: a double result is at least rounded to double.
  void floor_noise(std::vector<double>& sigma) const;

  // A random direction supported on [begin, end), each coordinate scaled by its
  // step scale so every coordinate moves in proportion.
  std::vector<double> block_direction(std::int64_t begin, std::int64_t end, double block_rms, std::uint64_t seed) const;

  // The noise level along `d`, rescaled to the length of a typical
  // coordinate scale (see checker_noise).
  std::vector<NoiseLevel> measure_noise(std::vector<double> d, Evaluator* ev, std::int64_t* evals) const;

  // Where a one-sided agreement may be trusted without a re-check (see
  // judge): fast mode's directions, and checks that cannot move the point.
  bool lenient = false;

  // Judges one output of one coordinate (or direction). When the central
  // estimate disagrees and the one-sided ones do not differ beyond their
  // bounds (no kink found), a one-sided estimate that agrees may overrule the
  // central one only where it can know better: when the sides differ by more
  // than the tighter of the two bounds (a kink within the step spoils one side
  // and the central estimate), or when its own bound is no wider than the
  // central one (or with `lenient`). Otherwise a wider, less accurate estimate
  // would hide a mismatch the tighter one found. *near (when given) says
  // whether the entry should be decided at a nearby generic point.
  Entry judge(double a, const Estimate& c, const Estimate* left, const Estimate* right, NearKink* near = nullptr) const;

  // Compares every output of coordinate i; *near (when given) gets one flag
  // per output (see judge).
  std::vector<Entry> check_coordinate(Evaluator* ev, std::int64_t i, const BlockPlan& plan, std::int64_t* evals,
                                      std::vector<NearKink>* near = nullptr) const;

  // Stage 0 of Richardson in f64: one central difference c (2 evaluations) at
  // the step u^(1/4) x scale (1.2e-4: its truncation, about h^2/6 = 2e-9 of
  // the scale, sits below p for ordinary curvature, and its rounding is 60x
  // smaller than at the error-optimal step cbrt(3u)), with rounding bound
  // r = 2 kappa sigma / width + 4u|c|. It settles the coordinate (every output)
  // only when
  //   |a - c| <= p max(|a|, |c|, rho)  and  r <= p max(|a|, |c|, rho)
  // with p = CheckOptions::quick_precision and rho the RMS of the block's
  // analytic derivatives (plan.derivative_rms): a wrong derivative would then
  // have to be cancelled by this one step's truncation error to within p of
  // itself or of its block's typical derivative, a coincidence rather than a
  // risk, and p is below any bug worth reporting. Without rho, a derivative
  // 1e-3 of its neighbours would need a precision that the step's rounding
  // alone denies it (r is about 1e-10 absolute on a typical loss), and took
  // the whole table (4% of a 10k MLP's coordinates, 12 evaluations each).
  // Both exactly zero does not settle: |x| at 0 with sign(0) = 0 looks like
  // that, and only the one-sided tables tell it is a kink. Not in f32: there
  // r alone is 1e-3 of a typical gradient entry or more.
  bool quick_central(const LineFunction& phi, const std::vector<double>& a, double scale, const BlockPlan& plan,
                     std::vector<Entry>& out, std::int64_t* evals) const;

  std::vector<Entry> finish(std::vector<Entry>& out) const;

  bool user_tolerance() const;

  // Settled by the first rows: ok, and verified to a relative precision that
  // no bug worth reporting fits in (1e-7), or exactly zero on both sides.
  // Anything else gets the whole table.
  bool settled_early(const Entry& e) const;
};

Engine make_engine(const Task& task, const CheckOptions& options, const std::vector<Evaluator*>& evaluators);

// Checks `count` coordinates in parallel, worker w with evaluators[w]; at(k)
// gives item k's flat index and plan. Entries come back per item, and their
// evaluations are added to *evaluations in item order.
template <class At>
std::vector<std::vector<Entry>> check_coordinates(const Engine& eng, const std::vector<Evaluator*>& evaluators,
                                                  std::size_t count, At&& at, std::int64_t* evaluations,
                                                  std::vector<std::vector<NearKink>>* near = nullptr) {
  std::vector<std::vector<Entry>> per_item(count);
  std::vector<std::int64_t> item_evals(count, 0);
  if (near != nullptr) near->assign(count, {});
  // Each item's result depends only on the item, so any thread count gives the same.
  gradcheck::internal::parallel_for(count, static_cast<int>(evaluators.size()), [&](std::size_t k, std::size_t w) {
    const auto [index, plan] = at(k);
    per_item[k] = eng.check_coordinate(evaluators[w], index, *plan, &item_evals[k],
                                       near != nullptr ? &(*near)[k] : nullptr);
  });
  for (std::int64_t e : item_evals) *evaluations += e;
  return per_item;
}

// --- summary.cpp ---

// numeric ~ k x analytic over the coordinate entries that are not kinks or
// mismatches, weighted by 1/error_bound^2. The bounds are worst cases, so the
// standard error of k comes from the scatter about the fit:
//   k = sum(w a n) / sum(w a^2),  se^2 = sum(w (n - k a)^2) / ((N - 1) sum(w a^2)).
struct ScaleFit {
  double scale = std::numeric_limits<double>::quiet_NaN();
  double error = std::numeric_limits<double>::quiet_NaN();
  std::int64_t entries = 0;
};
ScaleFit fit_scale(const std::vector<Entry>& entries);

// The consistency test (CheckOptions::consistency_sd): the RMS of
// (numeric - analytic) / error_bound over the coordinate entries compared on a
// table whose bound is mostly rounding, the largest twentieth left out; their
// count; and the RMS above which noise of spread consistency_sd bounds is
// ruled out (at a false-alarm rate of 1e-6). NaN with too few entries or the
// test off.
struct ConsistencyTest {
  double rms = std::numeric_limits<double>::quiet_NaN();
  double limit = std::numeric_limits<double>::quiet_NaN();
  std::int64_t entries = 0;
};
ConsistencyTest consistency_test(const std::vector<Entry>& entries, const CheckOptions& opt);

// Whether the scale fit shows a constant factor no entry shows alone (before
// the second opinion of scale_confirmed).
bool scale_is_off(const BlockResult& br, const CheckOptions& opt, Dtype dtype);

// The second opinion on a scale deviation d1 = k - 1, from k2 fitted to
// estimates at 4x larger steps: rounding in the function (a large sum in f32)
// makes a deviation that shrinks as 1/step, to about d1 / 4; a constant factor
// in the gradient stays d1. Confirmed when d2 is nearer d1 than d1 / 4 and
// itself more than 3 standard errors from 0.
bool scale_confirmed(const BlockResult& br);

// The hint of a confirmed scale deviation: the fit in words and its usual causes.
std::string scale_hint(const BlockResult& br);

// Whether the scale fit deviates and still waits for its second opinion (the
// caller re-estimates at larger steps, sets scale_check and summarizes again;
// summarize_block calls a deviation a mismatch only once scale_confirmed).
bool scale_pending(const BlockResult& br, const CheckOptions& opt, Dtype dtype);

// The block's verdict, counts, worst entries, hint and scale fit from its
// entries; may be called again (everything it sets is reset first).
// `values`: the block's values at the point (for hints), or null.
void summarize_block(BlockResult& br, std::vector<Entry>& entries, const Block& block, double global_scale,
                            const CheckOptions& opt, Dtype dtype, bool full_coverage, const double* values);

// A result with the task's identity and one empty BlockResult per block.
CheckResult start_result(const Task& task, const CheckOptions& options, Mode mode);

// Overall verdict and passed from the block results and problems.
void settle_verdict(CheckResult& result);

// settle_verdict, and the timing.
void finalize(CheckResult& result, std::chrono::steady_clock::time_point start);

/// Fast mode (fast.cpp): directional checks per group of blocks, then
/// bisection down to faulty blocks and coordinates.
CheckResult run_fast(Task task, const std::vector<Evaluator*>& evaluators, const CheckOptions& options);

}  // namespace gradcheck::detail::impl
