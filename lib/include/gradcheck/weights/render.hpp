#pragma once
// Presentation of a WeightsReport, in the shape every result type shares
// (gradcheck/report.hpp): to_text for people, to_json for scripts (schema 1
// of the tools' contract), to_html for a self-contained page, verdict_line;
// exit_code is in report.hpp. Pure functions returning strings; the tool
// writes them.

#include <string>

#include "gradcheck/output.hpp"
#include "gradcheck/weights/report.hpp"

namespace gradcheck::weights {

/// A person's report, as weightstats prints it: the verdict line first
/// (bold); then one line per tensor (name, dtype, shape, mean, std, min, max,
/// zeros, flags), flagged lines highlighted and followed by their evidence;
/// then the diff, if any; then the verdict line again, a summary under a long
/// table. `quiet` gives the verdict line only (once); TextOptions::worst_entries
/// does not apply.
std::string to_text(const WeightsReport& report, const TextOptions& options = {});

/// The JSON report: every field the contract names (tool, schema, passed,
/// files, tensors[...], diff[...]) plus additions (version, the library's
/// version_string; finite_count, p1/p50/p99, kurtosis, matrix, evidence, diff
/// norms, tensors on one side only, and per tensor "histogram": {"scale":
/// "log", "mantissa_bits": m, "lower": [...], "upper": [...], "counts": [...]},
/// Histogram::coarsened to at most 256 bins). Undefined numbers (a tensor with
/// no finite value) are null.
std::string to_json(const WeightsReport& report);

/// The self-contained HTML page: the verdict line first; the flags found, each
/// explained with its threshold; the table of tensors (flagged rows
/// highlighted, their evidence under them); each matrix's std against the He,
/// Glorot and LeCun initial stds; a histogram per tensor (the first 48); with
/// spectral statistics, the power-law alpha per matrix and its eigenvalue tail
/// against the fitted power law; with a diff, the relative change per tensor
/// against the large_update threshold. `thresholds` are the ones the report
/// was made with.
std::string to_html(const WeightsReport& report, const Thresholds& thresholds = {});

/// The verdict line: "weightstats: ok, ..." or "weightstats: FLAGGED, ...";
/// `color` paints it green or red.
std::string verdict_line(const WeightsReport& report, bool color = false);

}  // namespace gradcheck::weights
