#pragma once
// Presenting a CheckResult: text for people, JSON for scripts (and for
// streaming a result from a child process back to its parent).

#include <string>

#include "gradcheck/result.hpp"

namespace gradcheck {

struct TextOptions {
  bool color = false;     ///< ANSI colour (see use_color in output.hpp)
  int worst_entries = 5;  ///< worst entries listed under a failing tensor
  bool quiet = false;     ///< only the verdict line
};

/// A person's report: the verdict line first, then one line per tensor (name,
/// shape, checked, largest relative error, verdict, hint), then the worst
/// entries of each failing tensor and any problems.
std::string to_text(const CheckResult& result, const TextOptions& options = {});

/// The one-line verdict, e.g. "FAIL mlp (f64): fc1.weight mismatch".
std::string verdict_line(const CheckResult& result, bool color = false);

/// The result as one JSON object: the model object of the gradcheck JSON
/// report in tools-contract.md (name, dtype, passed, mode, evaluations, seconds,
/// problems, tensors[...]), plus verdict, method, noise and per-entry detail.
std::string to_json(const CheckResult& result, int indent = -1);

/// Parses what to_json wrote. Throws std::invalid_argument on malformed input.
CheckResult check_result_from_json(const std::string& json);

/// Parses names written by to_string (verdicts, hint kinds, methods, dtypes).
Verdict verdict_from_string(const std::string& s);
HintKind hint_kind_from_string(const std::string& s);
Method method_from_string(const std::string& s);
Dtype dtype_from_string(const std::string& s);

}  // namespace gradcheck
