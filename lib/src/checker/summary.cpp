// A block's summary: the scale fit and its second opinion, the verdict,
// counts, worst entries and hint; and the result's start and finish.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine_impl.hpp"
#include "gradcheck/report.hpp"
#include "hints.hpp"

namespace gradcheck::detail::impl {

ScaleFit fit_scale(const std::vector<Entry>& entries) {
  ScaleFit fit;
  // 1/error_bound^2 for an entry that takes part, 0 for one that does not.
  auto weight = [](const Entry& e) {
    const bool usable = !e.directional && (e.verdict == Verdict::ok || e.verdict == Verdict::inconclusive) &&
                        e.error_bound > 0 && std::isfinite(e.analytic) && std::isfinite(e.numeric);
    const double w = usable ? 1 / (e.error_bound * e.error_bound) : 0.0;
    return std::isfinite(w) ? w : 0.0;
  };
  double swan = 0, swaa = 0;
  std::int64_t count = 0;
  for (const auto& e : entries) {
    const double w = weight(e);
    if (w == 0) continue;
    swan += w * e.analytic * e.numeric;
    swaa += w * e.analytic * e.analytic;
    ++count;
  }
  if (count < 2 || !(swaa > 0) || !std::isfinite(swaa) || !std::isfinite(swan)) return fit;
  const double k = swan / swaa;
  double ss = 0;  // a second pass: sum(w n^2) - k^2 sum(w a^2) would cancel
  for (const auto& e : entries) {
    const double r = e.numeric - k * e.analytic;
    if (const double w = weight(e); w != 0) ss += w * r * r;
  }
  fit.scale = k;
  fit.error = std::sqrt(ss / (static_cast<double>(count - 1) * swaa));
  fit.entries = count;
  return fit;
}

ConsistencyTest consistency_test(const std::vector<Entry>& entries, const CheckOptions& opt) {
  ConsistencyTest t;
  if (opt.consistency_sd <= 0 || opt.rtol >= 0 || opt.atol >= 0) return t;
  std::vector<double> z2;
  for (const auto& e : entries) {
    // Only bounds that are mostly rounding: a truncation estimate can be
    // tight, a rounding bound is a worst case.
    const bool usable = !e.directional && !e.quick && (e.verdict == Verdict::ok || e.verdict == Verdict::inconclusive) &&
                        e.error_bound > 0 && std::isfinite(e.error_bound) && e.rounding >= 0.8 * e.error_bound &&
                        std::isfinite(e.analytic) && std::isfinite(e.numeric);
    if (!usable) continue;
    const double z = (e.numeric - e.analytic) / e.error_bound;
    if (std::isfinite(z)) z2.push_back(z * z);
  }
  const auto n = static_cast<std::int64_t>(z2.size());
  if (n < opt.consistency_min_entries) return t;
  // The largest twentieth is left out: a step that reaches a kink of the
  // derivative nearby (ReLU(x)^2, ELU) spoils a few central estimates by
  // more than their tables can tell; an error in the derivative is spread
  // over the tensor.
  const std::int64_t kept = n - (n + 19) / 20;
  std::sort(z2.begin(), z2.end());
  double sum = 0;
  for (std::int64_t k = 0; k < kept; ++k) sum += z2[static_cast<std::size_t>(k)];
  // The 1 - 1e-6 quantile of a chi-square with n degrees of freedom, by the
  // Wilson-Hilferty cube (at most 3% above the exact quantile at n = 8, 1% at
  // n = 20, and closer beyond). The smallest `kept` of n squares sum to less
  // than all n: both err on the side of no alarm.
  const double dn = static_cast<double>(n), zq = 4.7534;
  const double q = dn * std::pow(1 - 2 / (9 * dn) + zq * std::sqrt(2 / (9 * dn)), 3);
  t.entries = kept;
  t.rms = std::sqrt(sum / static_cast<double>(kept));
  t.limit = opt.consistency_sd * std::sqrt(q / static_cast<double>(kept));
  return t;
}

namespace {

// The hint of a tensor that fails the consistency test alone.
std::string consistency_hint(const BlockResult& br) {
  return consistency_text(br) +
         ", though each entry is within its own error bound: the derivative is slightly off throughout (an approximate "
         "derivative, e.g. GELU's erf form under a tanh forward pass, a constant rounded in the backward pass, a float32 "
         "intermediate)";
}

}  // namespace

// Whether the scale fit shows a constant factor no entry shows alone (before
// the second opinion of scale_confirmed).
bool scale_is_off(const BlockResult& br, const CheckOptions& opt, Dtype dtype) {
  if (opt.scale_sigmas <= 0 || opt.rtol >= 0 || opt.atol >= 0) return false;
  if (br.scale_entries < opt.scale_min_entries || !std::isfinite(br.scale) || !std::isfinite(br.scale_error))
    return false;
  const double off = std::abs(br.scale - 1);
  return off > opt.scale_sigmas * br.scale_error && off > 2 * std::sqrt(unit_roundoff(dtype));
}

// The second opinion on a scale deviation d1 = k - 1, from k2 fitted to
// estimates at 4x larger steps: rounding in the function (a large sum in f32)
// makes a deviation that shrinks as 1/step, to about d1 / 4; a constant factor
// in the gradient stays d1. Confirmed when d2 is nearer d1 than d1 / 4 and
// itself more than 3 standard errors from 0.
bool scale_confirmed(const BlockResult& br) {
  const double d1 = br.scale - 1, d2 = br.scale_check - 1;
  if (!std::isfinite(d2) || !std::isfinite(br.scale_check_error)) return false;
  return std::abs(d2 - d1) <= std::abs(d2 - d1 / 4) && std::abs(d2) > 3 * br.scale_check_error;
}

std::string scale_hint(const BlockResult& br) {
  return scale_fit_text(br) +
         ", though each entry is within its own noise: a constant factor is slightly off (a scale, a temperature "
         "or a mean over the wrong count, a constant rounded in the backward pass)";
}

// Whether the scale fit deviates and still waits for its second opinion (the
// caller re-estimates at larger steps, sets scale_check and summarizes again;
// summarize_block calls a deviation a mismatch only once scale_confirmed).
bool scale_pending(const BlockResult& br, const CheckOptions& opt, Dtype dtype) {
  return br.mismatches == 0 && scale_is_off(br, opt, dtype) && !std::isfinite(br.scale_check);
}

// The block's verdict, counts, worst entries, hint and scale fit from its
// entries; may be called again (everything it sets is reset first).
void summarize_block(BlockResult& br, std::vector<Entry>& entries, const Block& block, double global_scale,
                            const CheckOptions& opt, Dtype dtype, bool full_coverage, const double* values) {
  br.mismatches = br.kinks = br.inconclusive = br.rechecked = 0;
  br.max_rel_error = br.max_error_bound = 0;
  br.worst.clear();
  br.hint_kind = HintKind::none;
  br.hint.clear();
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
    br.rechecked += e.rechecked && e.output <= 0;  // per coordinate, not per output
  }
  const ScaleFit fit = fit_scale(entries);
  br.scale = fit.scale;
  br.scale_error = fit.error;
  br.scale_entries = fit.entries;
  const bool scale_off = br.mismatches == 0 && scale_is_off(br, opt, dtype) && scale_confirmed(br);
  const ConsistencyTest consistency = consistency_test(entries, opt);
  br.consistency = consistency.rms;
  br.consistency_entries = consistency.entries;
  br.consistency_limit = consistency.limit;
  const bool inconsistent = br.mismatches == 0 && !scale_off && consistency.rms > consistency.limit;
  if (br.mismatches > 0 || scale_off || inconsistent) br.verdict = Verdict::mismatch;
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
  if (scale_off) {
    br.hint_kind = HintKind::constant_ratio;
    br.hint = scale_hint(br);
  } else if (inconsistent) {
    br.hint_kind = HintKind::approximate;
    br.hint = consistency_hint(br);
  } else if (br.verdict == Verdict::mismatch) {
    // Patterns are read from coordinate entries only (not directions).
    std::vector<Entry> coords;
    for (const auto& e : entries)
      if (!e.directional) coords.push_back(e);
    auto hint = coords.empty() ? Hint{} : analyze_hint(block, coords, opt.batch_size, full_coverage, values);
    br.hint_kind = hint.kind;
    br.hint = hint.text;
  }
}


// A result with the task's identity and one empty BlockResult per block.
CheckResult start_result(const Task& task, const CheckOptions& options, Mode mode) {
  CheckResult result;
  result.name = task.name;
  result.dtype = task.dtype;
  result.method = options.method;
  result.mode = mode;
  result.problems = task.problems;
  result.evaluations = task.evaluations;
  for (const auto& blk : task.layout.blocks()) {
    BlockResult br;
    br.name = blk.name;
    br.shape = blk.shape;
    br.size = blk.size();
    result.blocks.push_back(std::move(br));
  }
  return result;
}

// Overall verdict, passed and timing from the block results.
void settle_verdict(CheckResult& result) {
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
}

void finalize(CheckResult& result, std::chrono::steady_clock::time_point start) {
  settle_verdict(result);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace gradcheck::detail::impl
