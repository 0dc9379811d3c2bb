#pragma once
// Private: the parts a diag::Report's presentation (gradcheck/diag/render.hpp)
// is made of: the logs' part (lib/src/logs/render.cpp) and the active checks'
// part (lib/src/active/render.cpp), and the sparkline both draw. Here, in the
// diag module's own folder, so that the sources can join it without a change
// of includes; tests reach it through their test-only include path.

#include <string>
#include <vector>

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/diagnose.hpp"

namespace gradcheck::diag::internal {

// The logs (logs/render.cpp).

/// The report of logs alone: what to_json writes for a Report without active checks.
std::string runs_json(const std::vector<RunDiagnosis>& runs);
/// The logs' part of to_text: their verdict line first, the runs, the verdict
/// line again with more than one run.
std::string runs_text(const std::vector<RunDiagnosis>& runs, bool color);
/// "convdiag: healthy (2 runs)", "convdiag: 3 symptoms in 1 of 2 runs (nan, divergence)".
std::string runs_verdict_line(const std::vector<RunDiagnosis>& runs, bool color);
/// A sparkline of `values` (NaN/inf drawn as a space) using ▁▂▃▄▅▆▇█.
std::string sparkline(const std::vector<double>& values, bool log_scale = false);

// The active checks (active/render.cpp).

/// One run entry per model, as for a log: source "PLUGIN.so:model", metric
/// "loss", steps = the overfit steps taken, and the model's symptoms and notes,
/// so what reads `runs[].symptoms` of the JSON report sees them.
std::vector<RunDiagnosis> active_runs(const ActiveReport& report);
/// The report of logs and active checks together: runs_json over `runs`
/// followed by active_runs(active), a failed model's run unhealthy with its
/// "failure", plus "plugin", "load_failure" (when set) and "active" (one object
/// per model).
std::string runs_and_active_json(const std::vector<RunDiagnosis>& runs, const ActiveReport& active);
/// The active checks' part of to_text, ending with active_verdict_line.
std::string active_text(const ActiveReport& report, bool color);
/// "convdiag: mlp.so: healthy (2 models)", "convdiag: mlp.so: 1 symptom in 1 of
/// 2 models (cannot_overfit_batch)", or "... model code failed in 1 of 2 models".
std::string active_verdict_line(const ActiveReport& report, bool color);

}  // namespace gradcheck::diag::internal
