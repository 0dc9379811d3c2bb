#include "hints.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "../core/format.hpp"

namespace gradcheck {

namespace detail {
namespace {

using internal::fixed;
using internal::general;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

bool near(double r, double target, double rel) { return std::abs(r - target) <= rel * std::abs(target); }

std::string list_indices(const std::set<std::int64_t>& s) {
  std::string out;
  int n = 0;
  for (auto v : s) {
    if (n == 6) {
      out += ", ...";
      break;
    }
    if (n++ > 0) out += ", ";
    out += std::to_string(v);
  }
  return out;
}

// Entries whose numeric derivative is well determined: clearly non-zero
// against its own tolerance.
bool determined(const Entry& e) { return std::abs(e.numeric) > 4 * e.tolerance && e.numeric != 0; }

// analytic - numeric of every entry, against what its comparison could
// resolve: an error "equals" another when they differ by no more than both
// tolerances and 2% of their size.
bool same_error(double d1, double t1, double d2, double t2) {
  return std::abs(d1 - d2) <= t1 + t2 + 0.02 * std::max(std::abs(d1), std::abs(d2));
}

// Whether the mismatching entries' errors are constant along lines of `axis`
// (0: each row, 1: each column) of a matrix block, with at least two lines and
// different constants on different lines (one constant everywhere is a
// constant offset). Every compared entry takes part: an entry of a mismatching
// line whose error is small can still carry its line's constant.
bool constant_per_line(const std::vector<Entry>& entries, std::size_t axis, std::int64_t* lines) {
  std::map<std::int64_t, std::vector<const Entry*>> by_line;
  for (const auto& e : entries)
    if (e.index.size() == 2 && e.output < 0) by_line[e.index[axis]].push_back(&e);
  std::vector<double> constants;
  std::int64_t bad_lines = 0;
  for (const auto& [line, es] : by_line) {
    bool any_bad = false;
    for (auto* e : es) any_bad = any_bad || e->verdict == Verdict::mismatch;
    if (!any_bad) continue;
    if (es.size() < 3) return false;
    std::vector<double> d;
    for (auto* e : es) d.push_back(e->analytic - e->numeric);
    const double med = median(d);
    for (auto* e : es)
      if (!same_error(e->analytic - e->numeric, e->tolerance, med, 0)) return false;
    constants.push_back(med);
    ++bad_lines;
  }
  if (bad_lines < 2) return false;
  const auto [lo, hi] = std::minmax_element(constants.begin(), constants.end());
  *lines = bad_lines;
  return !same_error(*lo, 0, *hi, 0);
}

}  // namespace

Hint analyze_hint(const Block& block, const std::vector<Entry>& entries, std::int64_t batch_size, bool full,
                  const double* values) {
  std::vector<const Entry*> bad;
  for (const auto& e : entries)
    if (e.verdict == Verdict::mismatch) bad.push_back(&e);
  if (bad.empty()) return {};

  // 1. Analytic zero where the numeric derivative is not.
  std::size_t zeros = 0;
  for (auto* e : bad) zeros += (e->analytic == 0 || std::abs(e->analytic) < 1e-9 * std::abs(e->numeric));
  if (2 * zeros >= bad.size() + 1 && zeros > 0) {
    const bool all_zero = zeros == bad.size();
    return {HintKind::missing_term,
            std::to_string(zeros) + " of " + std::to_string(bad.size()) +
                " mismatching entries have an analytic derivative of 0 where the numeric one is not: a term or a path "
                "of the chain rule is missing" +
                (all_zero ? std::string(" (or these elements are never written)") : std::string())};
  }

  // 2. Analytic non-zero where the function does not move: a mask left out.
  std::size_t flat = 0;
  for (auto* e : bad) flat += std::abs(e->numeric) <= e->tolerance && std::abs(e->analytic) > e->tolerance;
  if (flat * 10 >= bad.size() * 3 && flat > 0)
    return {HintKind::missing_term,
            std::to_string(flat) + " of " + std::to_string(bad.size()) +
                " mismatching entries have a non-zero analytic derivative where the function does not change: a mask "
                "(ReLU, max, dropout) or a stop-gradient is missing"};

  // 3. The transpose: analytic laid out as the numeric's transpose.
  if (full && block.shape.size() == 2 && block.shape[0] > 1 && block.shape[1] > 1) {
    const std::int64_t r = block.shape[0], c = block.shape[1];
    std::map<std::int64_t, const Entry*> by_pos;
    for (const auto& e : entries)
      if (e.output < 0) by_pos[e.position] = &e;
    if (static_cast<std::int64_t>(by_pos.size()) == r * c) {
      std::int64_t agree = 0, informative = 0;
      for (std::int64_t p = 0; p < r; ++p)
        for (std::int64_t q = 0; q < c; ++q) {
          const Entry* n = by_pos[block.position_of({p, q})];
          // The analytic buffer read as a (c x r) matrix in the same order.
          Block t = block;
          t.shape = {c, r};
          const Entry* a = by_pos[t.position_of({q, p})];
          if (std::abs(n->numeric) <= n->tolerance) continue;
          ++informative;
          agree += std::abs(a->analytic - n->numeric) <= std::max(n->tolerance, 1e-6 * std::abs(n->numeric));
        }
      if (informative > 0 && agree * 20 >= informative * 19)
        return {HintKind::transposed, "the analytic gradient matches the numeric one transposed (" +
                                          std::to_string(r) + "x" + std::to_string(c) +
                                          " read as its transpose): swap the operands' order or transpose the product"};
    }
  }

  // 4. An off-by-one index: the analytic matches the numeric shifted by one
  // along an axis (edges excluded, where the shift wraps or reads outside).
  if (full && !block.shape.empty()) {
    std::map<std::int64_t, const Entry*> by_pos;
    for (const auto& e : entries)
      if (e.output < 0) by_pos[e.position] = &e;
    if (static_cast<std::int64_t>(by_pos.size()) == block.size()) {
      for (std::size_t axis = block.shape.size(); axis-- > 0;) {
        if (block.shape[axis] < 3) continue;
        for (int shift : {+1, -1}) {
          std::int64_t agree = 0, informative = 0;
          for (const auto& [pos, e] : by_pos) {
            auto idx = e->index;
            idx[axis] += shift;
            if (idx[axis] < 0 || idx[axis] >= block.shape[axis]) continue;
            const Entry* n = by_pos[block.position_of(idx)];
            if (std::abs(n->numeric) <= n->tolerance) continue;
            ++informative;
            agree += std::abs(e->analytic - n->numeric) <= std::max(n->tolerance, 1e-6 * std::abs(n->numeric));
          }
          if (informative >= 3 && agree * 10 >= informative * 9)
            return {HintKind::confined, "the analytic gradient matches the numeric one shifted by " +
                                            std::string(shift > 0 ? "+1" : "-1") + " along axis " + std::to_string(axis) +
                                            ": an off-by-one index"};
        }
      }
    }
  }

  // 5. One ratio for every well-determined entry.
  std::vector<double> ratios;
  for (const auto& e : entries)
    if (determined(e)) ratios.push_back(e.analytic / e.numeric);
  // Three entries at least (fewer only when the block is that small): one
  // localised coordinate says nothing about "every entry".
  if (!ratios.empty() && static_cast<std::int64_t>(ratios.size()) >= std::min<std::int64_t>(3, block.size())) {
    const double med = median(ratios);
    std::vector<double> dev;
    for (double q : ratios) dev.push_back(std::abs(q - med));
    const double spread = median(dev) / std::max(std::abs(med), 1e-300);
    std::size_t within = 0;
    for (double q : ratios) within += std::abs(q - med) <= 0.02 * std::abs(med);
    if (spread < 0.01 && within * 10 >= ratios.size() * 9 && med != 0) {
      const double b = static_cast<double>(batch_size);
      if (near(med, -1, 0.02)) return {HintKind::constant_ratio, "analytic = -1 x numeric: a sign error (d(a - b) taken as d(b - a), or a minus sign dropped)"};
      if (near(med, 2, 0.02)) return {HintKind::constant_ratio, "analytic = 2 x numeric: a factor 2 too many (a term counted twice, or d(x^2) = 2x applied where the loss already has 1/2)"};
      if (near(med, 0.5, 0.02)) return {HintKind::constant_ratio, "analytic = 0.5 x numeric: a factor 2 missing (d(x^2) = 2x, or a symmetric term counted once)"};
      if (batch_size > 1 && near(med, b, 0.02))
        return {HintKind::constant_ratio, "analytic = " + std::to_string(batch_size) + " x numeric (the batch size): the 1/batch factor of a mean is missing from the gradient"};
      if (batch_size > 1 && near(med, 1.0 / b, 0.02))
        return {HintKind::constant_ratio, "analytic = numeric / " + std::to_string(batch_size) + " (the batch size): the gradient averages over the batch where the loss sums, or divides twice"};
      const double rounded = std::round(med), inv = std::round(1.0 / med);
      if (rounded >= 3 && near(med, rounded, 0.01))
        return {HintKind::constant_ratio, "analytic = " + fixed(rounded, 0) + " x numeric for every entry: the 1/N of a mean over N items is missing (is " +
                                              fixed(rounded, 0) + " the batch size?)"};
      if (inv >= 3 && near(1.0 / med, inv, 0.01))
        return {HintKind::constant_ratio, "analytic = numeric / " + fixed(inv, 0) + " for every entry: divided by N once too often (is " +
                                              fixed(inv, 0) + " the batch size?), or the loss sums where the gradient averages"};
      if (std::abs(med - 1) < 0.05)
        return {HintKind::approximate, "a small steady relative error (" + general(std::abs(med - 1) * 100, 2) +
                                           "%): an approximate derivative, e.g. of an activation (tanh, sigmoid, GELU) or a constant slightly off"};
      return {HintKind::constant_ratio, "analytic = " + general(med, 4) + " x numeric for every entry: a constant factor is wrong (a scale, a learning-rate or temperature factor, a mean over the wrong count)"};
    }
  }

  // 6. The same difference at every mismatching entry: a constant term.
  if (bad.size() >= 2) {
    std::vector<double> diffs;
    for (auto* e : bad) diffs.push_back(e->analytic - e->numeric);
    const double med = median(diffs);
    std::size_t same = 0;
    for (double d : diffs) same += std::abs(d - med) <= 0.01 * std::abs(med) + bad[0]->tolerance;
    if (med != 0 && same == diffs.size()) {
      std::string where;
      if (block.shape.size() >= 2) {
        std::map<std::int64_t, int> per_row;
        for (auto* e : bad) per_row[e->index[0]]++;
        bool one_each = true;
        for (auto& [row, n] : per_row) one_each = one_each && n == 1;
        if (one_each) where = ", one entry per row (a per-sample target?)";
      }
      return {HintKind::constant_offset, "analytic - numeric = " + general(med, 4) + " at every mismatching entry" + where +
                                             ": a constant term is missing or extra, e.g. the one-hot target not subtracted in softmax cross-entropy"};
    }
  }

  // 6b. Constant along each row (or column), another constant on another:
  // a term that depends on the row only, such as the mean of dy over a
  // LayerNorm row or softmax's sum, is missing or extra.
  if (block.shape.size() == 2) {
    std::int64_t lines = 0;
    if (constant_per_line(entries, 0, &lines))
      return {HintKind::constant_per_line,
              "analytic - numeric is one constant along each row, a different one per row (" + std::to_string(lines) +
                  " rows): a term that depends on the row only is missing or extra, such as the mean (or sum) over "
                  "the row of the upstream gradient (LayerNorm's mean of dy, softmax's sum of p * dy)"};
    if (constant_per_line(entries, 1, &lines))
      return {HintKind::constant_per_line,
              "analytic - numeric is one constant down each column, a different one per column (" +
                  std::to_string(lines) + " columns): a term that depends on the column only is missing or extra, "
                  "such as a mean or sum over the rows (the batch) of the upstream gradient"};
  }

  // 6c. Two values of the error over the whole block, the rarer one at most
  // once per row: a target term is off where the target is and elsewhere
  // (cross-entropy's gradient p - onehot where the loss uses a smoothed target).
  if (bad.size() >= 4) {
    std::vector<double> d;
    for (const auto& e : entries) d.push_back(e.analytic - e.numeric);
    std::vector<double> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    // Two clusters: split at the largest gap.
    std::size_t cut = 0;
    double gap = 0;
    for (std::size_t k = 1; k < sorted.size(); ++k)
      if (sorted[k] - sorted[k - 1] > gap) gap = sorted[k] - sorted[k - 1], cut = k;
    if (cut > 0) {
      const std::vector<double> a(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(cut));
      const std::vector<double> b(sorted.begin() + static_cast<std::ptrdiff_t>(cut), sorted.end());
      const double ma = median(a), mb = median(b);
      bool tight = ma != 0 && mb != 0;
      for (const auto& e : entries) {
        const double de = e.analytic - e.numeric;
        tight = tight && (same_error(de, e.tolerance, ma, 0) || same_error(de, e.tolerance, mb, 0));
      }
      if (tight) {
        const bool a_rare = a.size() <= b.size();
        const double rare = a_rare ? ma : mb, common = a_rare ? mb : ma;
        const std::size_t n_rare = a_rare ? a.size() : b.size();
        return {HintKind::two_constants,
                "analytic - numeric takes two values: " + general(rare, 4) + " at " + std::to_string(n_rare) +
                    " entries and " + general(common, 4) + " at the other " + std::to_string(entries.size() - n_rare) +
                    ": a target term is off where the target is and elsewhere, e.g. label smoothing left out of the "
                    "cross-entropy gradient (p - onehot instead of p - the smoothed target)"};
      }
    }
  }

  // 6d. The error is proportional to the tensor's own values: a weight decay
  // or regulariser term with the wrong factor (d(lambda ||w||^2) = 2 lambda w).
  if (values != nullptr && bad.size() >= 3) {
    double sxx = 0, sxd = 0, sdd = 0;
    std::size_t n = 0;
    for (const auto& e : entries) {
      if (e.output >= 0 || e.position < 0 || e.position >= block.size()) continue;
      const double v = values[e.position], d = e.analytic - e.numeric;
      sxx += v * v, sxd += v * d, sdd += d * d;
      ++n;
    }
    if (n >= 3 && sxx > 0 && sdd > 0) {
      const double c = sxd / sxx;
      // Share of the error's energy the fit explains.
      const double explained = c * sxd / sdd;
      bool tight = explained > 0.98;
      for (const auto& e : entries) {
        if (!tight) break;
        if (e.output >= 0 || e.position < 0 || e.position >= block.size()) continue;
        tight = same_error(e.analytic - e.numeric, e.tolerance, c * values[e.position], 0);
      }
      if (tight)
        return {HintKind::proportional,
                "analytic - numeric = " + general(c, 4) +
                    " x the tensor's own values: a weight-decay or regulariser term has the wrong factor (the "
                    "gradient of lambda ||w||^2 is 2 lambda w; a missing 2, or lambda applied twice, gives exactly "
                    "this)"};
    }
  }

  // 7. Errors confined to some rows, columns or one element.
  if (bad.size() == 1) {
    return {HintKind::confined, "only " + block.label(bad[0]->position) +
                                    " mismatches: an off-by-one index or a single element written wrongly"};
  }
  if (block.shape.size() >= 2) {
    std::set<std::int64_t> rows_bad, cols_bad, rows_all, cols_all;
    for (const auto& e : entries) {
      rows_all.insert(e.index[0]);
      cols_all.insert(e.index.back());
    }
    for (auto* e : bad) {
      rows_bad.insert(e->index[0]);
      cols_bad.insert(e->index.back());
    }
    if (rows_bad.size() * 2 <= rows_all.size() && rows_bad.size() < rows_all.size())
      return {HintKind::confined, "mismatches confined to row(s) " + list_indices(rows_bad) + " of " +
                                      std::to_string(block.shape[0]) + ": an indexing error (row offset, loop bound)"};
    if (cols_bad.size() * 2 <= cols_all.size() && cols_bad.size() < cols_all.size())
      return {HintKind::confined, "mismatches confined to column(s) " + list_indices(cols_bad) + " of " +
                                      std::to_string(block.shape.back()) + ": an indexing error (column offset, loop bound)"};
  } else if (block.shape.size() == 1) {
    std::set<std::int64_t> pos;
    for (auto* e : bad) pos.insert(e->position);
    if (pos.size() * 4 <= entries.size())
      return {HintKind::confined, "mismatches confined to element(s) " + list_indices(pos) + " of " +
                                      std::to_string(block.shape[0]) + ": an indexing error (offset, loop bound)"};
  }

  // 8. Small, steady relative errors of one sign.
  std::size_t small = 0, positive = 0;
  for (auto* e : bad) {
    const double rel = (e->analytic - e->numeric) / std::max(std::abs(e->numeric), 1e-300);
    small += std::abs(rel) < 0.1;
    positive += rel * (e->numeric >= 0 ? 1 : -1) > 0;
  }
  if (small == bad.size() && (positive == bad.size() || positive == 0))
    return {HintKind::approximate, "small relative errors of one sign in every mismatch: an approximate derivative, e.g. of an activation"};
  // 9. No simple pattern: ratios that vary entry to entry.
  return {HintKind::varying, std::to_string(bad.size()) + " of " + std::to_string(entries.size()) +
                                 " entries mismatch with no single ratio between analytic and numeric: a factor that "
                                 "varies per entry is missing or wrong (an activation's derivative, a mask, a term of the "
                                 "product rule), or the backward pass reads the wrong elements (a stride, a row pitch or "
                                 "an offset in its index arithmetic)"};
}

}  // namespace detail
}  // namespace gradcheck
