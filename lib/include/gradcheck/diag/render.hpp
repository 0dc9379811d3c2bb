#pragma once
// Presentation of diagnoses: the contract's JSON report and a terminal summary.
// Both return strings; writing them is the caller's (write_file_atomically).

#include <string>
#include <string_view>
#include <vector>

#include "gradcheck/diag/diagnose.hpp"

namespace gradcheck::diag {

/// The convdiag JSON report, schema 1: {"tool":"convdiag","schema":1,
/// "version","healthy","runs":[{"source","metrics","steps","healthy",
/// "symptoms":[{"kind","metric","step_start","step_end","severity","evidence",
/// "advice"}], plus "roles" and "notes"}]}. Non-finite numbers never appear
/// (evidence is text). Ends with a newline.
std::string render_json(const std::vector<RunDiagnosis>& runs, std::string_view version);

/// A terminal summary: the verdict line first (verdict_line) and a blank line;
/// then per run, one line per recognised curve with a unicode sparkline
/// (8 levels; log scale when a positive curve spans more than two decades),
/// first/last/min values, then the symptoms under it with evidence and advice;
/// runs are separated by a blank line; with more than one run the verdict line
/// is repeated last as a summary. `color` adds ANSI colour (decide it with
/// gradcheck::use_color).
std::string render_terminal(const std::vector<RunDiagnosis>& runs, bool color);

/// The one verdict line (what --quiet prints), e.g. "convdiag: healthy (2 runs)"
/// or "convdiag: 3 symptoms in 1 of 2 runs (nan, divergence)".
std::string verdict_line(const std::vector<RunDiagnosis>& runs, bool color);

/// A sparkline of `values` (NaN/inf drawn as a space) using ▁▂▃▄▅▆▇█.
std::string sparkline(const std::vector<double>& values, bool log_scale = false);

}  // namespace gradcheck::diag
