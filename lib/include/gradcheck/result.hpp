#pragma once
// What a check found, as plain data. Rendering (text, JSON, HTML) is separate:
// see report.hpp.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gradcheck/estimators.hpp"
#include "gradcheck/options.hpp"

namespace gradcheck {

/// The verdict on one coordinate, one block, or a whole check.
enum class Verdict {
  ok,            ///< the analytic derivative agrees with the numeric one within the error bound
  mismatch,      ///< it disagrees beyond the error bound: a bug
  kink,          ///< not differentiable here; the analytic value lies between the one-sided derivatives
  inconclusive,  ///< the error bound is too wide to tell, or the check could not run
};
/// The names reports use (the tools' contract), one per Verdict in the enum's order.
inline constexpr const char* verdict_names[] = {"ok", "mismatch", "kink", "inconclusive"};
/// verdict_names[v]; verdict_from_string reads one back (std::invalid_argument otherwise).
const char* to_string(Verdict v);
Verdict verdict_from_string(const std::string& s);

/// One compared derivative. For a gradient, `output` is -1; for a Jacobian it is
/// the output row.
struct Entry {
  std::int64_t position = 0;          ///< flat position within the block
  std::vector<std::int64_t> index;    ///< multi-index within the block
  std::int64_t output = -1;
  double analytic = 0;
  double numeric = 0;
  double error_bound = 0;  ///< the estimator's bound on |numeric - true|
  double rounding = 0;     ///< the part of error_bound due to rounding in the function (the rest is truncation)
  double tolerance = 0;    ///< what |analytic - numeric| was judged against
  double rel_error = 0;    ///< |analytic - numeric| / max(|analytic|, |numeric|, block scale)
  double left = 0, right = 0;  ///< one-sided derivatives, when a kink analysis ran
  Verdict verdict = Verdict::ok;
  /// Decided at a nearby generic point (CheckOptions::recheck_kinks): the
  /// point given was at or next to a kink for this coordinate. A kink keeps
  /// the values found at the point given; any other verdict shows the values
  /// found at the nearby point.
  bool rechecked = false;
  /// A directional comparison (fast mode, JVP checks): `position` numbers the
  /// direction, `index` is empty, and analytic/numeric are derivatives along it.
  bool directional = false;
  /// Settled by one central difference that agreed to CheckOptions::quick_precision
  /// (f64): its error bound is that agreement itself, not an independent bound.
  bool quick = false;
};

/// The kinds of bug pattern a mismatching block can show (see hints.hpp).
enum class HintKind {
  none,
  constant_ratio,     ///< analytic = r * numeric for one r (x2, x0.5, x-1, x batch)
  missing_term,       ///< analytic zero where numeric is not: a term or path missing
  transposed,         ///< analytic matches the numeric transposed
  confined,           ///< errors confined to some rows, columns or one element
  approximate,        ///< a small steady relative error: an approximate derivative
  varying,            ///< no simple pattern: a per-entry factor (activation derivative, mask) is wrong
  constant_offset,    ///< analytic - numeric is one constant: a term missing or extra (one-hot target)
  constant_per_line,  ///< analytic - numeric is constant along each row (or column): a mean or sum term missing
  two_constants,      ///< analytic - numeric takes two values: a target term off (label smoothing)
  proportional,       ///< analytic - numeric = c x the tensor's values: a weight decay or regulariser factor
};
/// The names reports use, one per HintKind in the enum's order.
inline constexpr const char* hint_kind_names[] = {"none",          "constant_ratio",    "missing_term",
                                                  "transposed",    "confined",          "approximate",
                                                  "varying",       "constant_offset",   "constant_per_line",
                                                  "two_constants", "proportional"};
/// hint_kind_names[k]; hint_kind_from_string reads one back (std::invalid_argument otherwise).
const char* to_string(HintKind k);
HintKind hint_kind_from_string(const std::string& s);

/// Result for one block (tensor).
struct BlockResult {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t size = 0;        ///< elements in the block
  std::int64_t checked = 0;     ///< coordinates (or directions) compared
  std::int64_t mismatches = 0;
  std::int64_t kinks = 0;
  std::int64_t inconclusive = 0;
  std::int64_t rechecked = 0;   ///< coordinates decided at a nearby generic point (Entry::rechecked)
  double max_rel_error = 0;     ///< largest Entry::rel_error over the checked entries
  double max_error_bound = 0;   ///< largest relative error bound (bound / scale) over the entries
  Verdict verdict = Verdict::ok;
  std::vector<Entry> worst;     ///< the worst entries, most suspicious first
  HintKind hint_kind = HintKind::none;
  std::string hint;             ///< one sentence for a person; empty when none
  /// The least-squares scale of the coordinate entries, numeric ~ scale x analytic
  /// (see CheckOptions::scale_sigmas); NaN with fewer than 2 usable entries.
  double scale = std::numeric_limits<double>::quiet_NaN();
  double scale_error = std::numeric_limits<double>::quiet_NaN();  ///< its standard error
  std::int64_t scale_entries = 0;  ///< entries in the fit
  /// The second opinion when the fit deviates: the same fit over up to
  /// CheckOptions::scale_check_entries coordinates re-estimated at 4x larger
  /// steps (NaN when it did not run).
  double scale_check = std::numeric_limits<double>::quiet_NaN();
  double scale_check_error = std::numeric_limits<double>::quiet_NaN();
  /// The consistency test (see CheckOptions::consistency_sd): the root mean
  /// square of (numeric - analytic) / error_bound over the entries that take
  /// part, their count, and the root mean square above which the block is a
  /// mismatch for that count (NaN when too few entries take part).
  double consistency = std::numeric_limits<double>::quiet_NaN();
  std::int64_t consistency_entries = 0;
  double consistency_limit = std::numeric_limits<double>::quiet_NaN();
};

/// What is wrong with a function itself rather than with its derivative,
/// reported beside (not as) gradient mismatches.
enum class ProblemKind {
  nondeterministic_loss,  ///< two evaluations at the same point differ
  stateful_gradient,      ///< two gradient calls at the same point differ (an accumulator never reset)
  gradient_not_written,   ///< a plugin's loss left gradient entries unwritten
  values_modified,        ///< a plugin's loss changed the values it was given
  non_finite,             ///< the value or a derivative is NaN or infinite
  model_error,            ///< the model's own code failed (error return, crash, time-out)
};
/// The names reports use (the tools' contract), one per ProblemKind in the enum's order.
inline constexpr const char* problem_kind_names[] = {"nondeterministic_loss", "stateful_gradient",
                                                     "gradient_not_written",  "values_modified",
                                                     "non_finite",            "model_error"};
/// problem_kind_names[k]; problem_kind_from_string reads one back (std::invalid_argument otherwise).
const char* to_string(ProblemKind k);
ProblemKind problem_kind_from_string(const std::string& s);

/// A problem of the function itself rather than of its derivative.
struct Problem {
  ProblemKind kind = ProblemKind::model_error;
  std::string message;  ///< one line for a person
};

/// The result of one check.
struct CheckResult {
  std::string name;               ///< what was checked (a model name, or "function")
  Dtype dtype = Dtype::f64;
  Mode mode = Mode::full;         ///< full (coordinates) or fast (directions); never automatic
  Method method = Method::richardson;
  Verdict verdict = Verdict::ok;  ///< mismatch > inconclusive-only > kink > ok, over the blocks
  bool passed = true;             ///< no block mismatches and no problems
  std::vector<BlockResult> blocks;
  std::vector<Problem> problems;
  std::int64_t evaluations = 0;   ///< function evaluations spent
  double seconds = 0;
  double noise = 0;               ///< largest estimated noise level of the function
  bool noise_estimated = true;    ///< false when a fallback noise level was used
  std::vector<std::string> notes; ///< extra evidence, e.g. a localisation trace
};

}  // namespace gradcheck
