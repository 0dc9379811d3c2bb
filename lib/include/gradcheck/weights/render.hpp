#pragma once
// Presentation of a WeightsReport: JSON (schema 1 of the tools' contract) and
// a terminal table. Pure functions returning strings; the tool writes them.

#include <string>

#include "gradcheck/output.hpp"
#include "gradcheck/weights/report.hpp"

namespace gradcheck::weights {

/// The JSON report: every field the contract names (tool, schema, passed,
/// files, tensors[...], diff[...]) plus additions (version, finite_count,
/// p1/p50/p99, kurtosis, matrix, evidence, diff norms, tensors on one side
/// only, and per tensor "histogram": {"scale": "log", "mantissa_bits": m,
/// "lower": [...], "upper": [...], "counts": [...]}, Histogram::coarsened to
/// at most 256 bins). Undefined numbers (a tensor with no finite value) are null.
std::string render_json(const WeightsReport& report, const std::string& version);

/// One line per tensor (name, dtype, shape, mean, std, min, max, zeros,
/// flags); flagged lines highlighted and followed by their evidence; then the
/// diff, if any; then the verdict line. `quiet` gives the verdict line only.
std::string render_table(const WeightsReport& report, const Style& style, bool quiet = false);

/// The last line of the table: "weightstats: ok, ..." or "weightstats: FLAGGED, ...".
std::string verdict_line(const WeightsReport& report);

}  // namespace gradcheck::weights
