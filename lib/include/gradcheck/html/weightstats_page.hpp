#pragma once
// The HTML report of `weightstats --html FILE`.

#include <cstddef>
#include <string>

#include "gradcheck/weights/report.hpp"

namespace gradcheck::html {

/// One self-contained page (page.hpp) for a WeightsReport: the verdict line
/// first; the flags found, each explained with its threshold; the table of
/// tensors (flagged rows highlighted, their evidence under them); the ratio of
/// each matrix's std to the He, Glorot and LeCun initial stds (log bars, with
/// the vanishing/exploding thresholds marked); a histogram per tensor (log
/// counts; the first `max_histograms`); with spectral statistics, the
/// power-law alpha per matrix (2..6 marked, the range of well-trained layers in
/// Martin & Mahoney 2021), a table of the spectral numbers and, per matrix
/// (the first `max_histograms`), its eigenvalue tail against the fitted power
/// law (charts.hpp power_law_tail_chart); with a diff, the
/// relative change ||after - before|| / ||before|| per tensor against the
/// large_update threshold. `thresholds` are the ones the report was made with.
std::string weightstats_page(const weights::WeightsReport& report, const weights::Thresholds& thresholds = {},
                             std::size_t max_histograms = 48);

}  // namespace gradcheck::html
