#pragma once
// Presenting a CheckResult, in the shape every result type shares (to_text,
// to_json, to_html, verdict_line, exit_code): text for people, JSON for
// scripts (and for streaming a result from a child process back to its
// parent), a self-contained HTML page. Pure functions returning strings.

#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/result.hpp"

namespace gradcheck {

/// A person's report: the verdict line first, then one line per tensor (name,
/// shape, checked, largest relative error, verdict, hint), then the worst
/// entries of each failing tensor (TextOptions::worst_entries of them) and any
/// problems. `quiet`: the verdict line only.
std::string to_text(const CheckResult& result, const TextOptions& options = {});

/// A block's scale fit in words, e.g. "as a whole, analytic = 1.00101 x numeric
/// (+-3.5e-05) over 8192 coordinates; 1.0011 at 4x larger steps", with the
/// analytic/numeric ratio 1/k and its standard error se/k^2 (the fit gives k =
/// numeric/analytic). Empty when the block has no fit (fewer than 2 entries).
std::string scale_fit_text(const BlockResult& block);

/// A block's consistency test in words (see CheckOptions::consistency_sd), e.g.
/// "as a whole, (numeric - analytic) / error bound has an RMS of 1.06 over 20
/// coordinates (noise stays below 0.546)". Empty when the test did not run.
std::string consistency_text(const BlockResult& block);

/// The one-line verdict, e.g. "FAIL mlp (f64, full): 1 of 3 tensors mismatch:
/// fc1.weight" or "PASS mlp (f64, full): all 3 tensors agree".
std::string verdict_line(const CheckResult& result, bool color = false);

/// The result as one JSON object: the model object of the gradcheck JSON
/// report in tools-contract.md (name, dtype, passed, mode, evaluations, seconds,
/// problems, tensors[...]), plus verdict, method, noise and per-entry detail.
/// `indent` as nlohmann's dump: -1 (the default) writes one line.
std::string to_json(const CheckResult& result, int indent = -1);

/// A self-contained HTML page: the verdict line first; a log-scale bar per
/// tensor of its largest relative error against its largest relative error
/// bound; analytic against numeric derivatives of the entries kept (y = x
/// drawn: a mismatch sits off it); the worst-entry table and hint of each tensor
/// that is not ok; problems and notes. What `gradcheck --html` shows per model.
std::string to_html(const CheckResult& result);

/// user_code when the function's own code failed (a model_error problem),
/// problem when the check failed, inconclusive when it passed with a tensor
/// that could not be judged, ok otherwise: the tools' contract's exit codes.
ExitCode exit_code(const CheckResult& result) noexcept;

/// Parses what to_json wrote. Throws std::invalid_argument on malformed input.
CheckResult check_result_from_json(const std::string& json);

}  // namespace gradcheck
