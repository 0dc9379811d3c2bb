#pragma once
// Presentation of what convdiag reports (a diag::Report, report.hpp), shaped
// like every result's (gradcheck/report.hpp, host/plugin_check.hpp,
// weights/render.hpp): to_text for people, to_json for scripts (schema 1 of
// the tools' contract), to_html for a self-contained page, verdict_line for one
// line. Pure functions returning strings; writing them is the caller's
// (write_file_atomically).

#include <string>

#include "gradcheck/diag/report.hpp"
#include "gradcheck/output.hpp"

namespace gradcheck::diag {

/// The one verdict line (what --quiet prints). For logs: "convdiag: healthy
/// (2 runs)" or "convdiag: 3 symptoms in 1 of 2 runs (nan, divergence)"; for
/// the active checks alone: "convdiag: mlp.so: healthy (2 models)",
/// "convdiag: mlp.so: 1 symptom in 1 of 2 models (cannot_overfit_batch)" or
/// "... model code failed in 1 of 2 models"; for both, the logs' line, "; ",
/// then the active checks' line without its "convdiag: ". `color` adds ANSI
/// colour (decide it with gradcheck::use_color).
std::string verdict_line(const Report& report, bool color = false);

/// A person's report, as convdiag prints it, verdict_line first. The logs
/// (when there are any, or when there is nothing else): their verdict line (with
/// active checks too, verdict_line of the whole report) and a blank line; then per
/// run, one line per recognised curve with a unicode sparkline (8 levels; log
/// scale when a positive curve spans more than two decades), first/last/min/max
/// values, then the symptoms under it with evidence and advice; runs are
/// separated by a blank line; with more than one run the verdict line is
/// repeated last as a summary. Then, after a blank line, the active checks: per
/// model the initial loss (against ln C), the overfit result of each optimiser,
/// a sparkline of the learning-rate sweep (log scale) and the suggested rate,
/// the symptoms with evidence and advice, or the failure; then their verdict
/// line. `quiet`: verdict_line only. TextOptions::worst_entries does not apply.
/// Bytes that are not UTF-8 (in paths, names) are written as \xNN.
std::string to_text(const Report& report, const TextOptions& options = {});

/// The JSON report, schema 1: {"tool":"convdiag","schema":1,"version" (the
/// library's version_string),"healthy","runs":[{"source","metrics","steps",
/// "healthy","symptoms":[{"kind","metric","step_start","step_end","severity",
/// "evidence","advice"}], plus "roles" and "notes"}]}. With active checks,
/// "runs" continues with one entry per model (source "PLUGIN.so:model", metric
/// "loss", steps = the overfit steps taken, its symptoms; a model whose code
/// failed is unhealthy and carries a "failure" line), followed by "plugin",
/// "load_failure" (when set) and "active": one object per model with "model",
/// "dtype", "values", "initial_loss", "expected_initial_loss" (null when not
/// checked), "overfit" (attempts with their loss curves), "lr_range" ("points",
/// "suggested_rate", "min_loss_rate", "note"), "symptoms", "failure",
/// "evaluations". Numbers that are not finite are null. Ends with a newline.
std::string to_json(const Report& report);

/// A self-contained HTML page: the verdict line first; per run, the loss with
/// the validation loss, the gradient norm and the learning rate, each on its
/// own chart (log y when the curve spans more than two decades; non-finite
/// values marked), every symptom of that curve shaded over its steps and
/// labelled, its evidence and advice beside the chart (whole curves when
/// Report::logs holds the logs, else each curve's 48-point shape over its step
/// range); with active checks, per model the initial loss against ln(C), the
/// overfit-one-batch loss curves, and the learning-rate range test (log x) with
/// the suggested rate and the rate of the lowest loss marked.
std::string to_html(const Report& report);

}  // namespace gradcheck::diag
