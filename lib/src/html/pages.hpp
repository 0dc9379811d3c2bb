#pragma once
// Private: the HTML page of each result type, behind its public to_html
// (gradcheck::to_html of a CheckResult, host::to_html, weights::to_html,
// diag::to_html). Each is one self-contained page (page.hpp) with inline SVG
// charts (charts.hpp).

#include <cstddef>
#include <string>

#include "gradcheck/diag/report.hpp"
#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/result.hpp"
#include "gradcheck/weights/report.hpp"

namespace gradcheck::html {

/// The page of `gradcheck --html FILE`, for a PluginReport: the plugin's verdict
/// line first; a table of the models; per model (check_section) its verdict, a
/// log-scale bar per tensor of the largest relative error (|analytic - numeric|
/// / scale) against the tensor's largest relative error bound, a scatter of
/// analytic against numeric derivatives for the entries the checker kept
/// (BlockResult::worst, the most suspicious ones, coloured by verdict, with the
/// y = x diagonal: a mismatch sits off it), the worst-entry table and hint of
/// each tensor that is not ok, problems and notes; or the load failure.
std::string gradcheck_page(const host::PluginReport& report);

/// The page of one check (a CheckResult of check_loss and its kin): its
/// verdict line first, then what gradcheck_page shows for one model.
std::string check_page(const CheckResult& result);

/// The page of `weightstats --html FILE`, for a WeightsReport: the verdict line
/// first; the flags found, each explained with its threshold; the table of
/// tensors (flagged rows highlighted, their evidence under them); the ratio of
/// each matrix's std to the He, Glorot and LeCun initial stds (log bars, with
/// the vanishing/exploding thresholds marked); a histogram per tensor (log
/// counts; the first `max_histograms`); with spectral statistics, the
/// power-law alpha per matrix (2..6 marked, the range of well-trained layers in
/// Martin & Mahoney 2021), a table of the spectral numbers and, per matrix (the
/// first `max_histograms`), its eigenvalue tail against the fitted power law
/// (charts.hpp power_law_tail_chart); with a diff, the relative change
/// ||after - before|| / ||before|| per tensor against the large_update
/// threshold. `thresholds` are the ones the report was made with.
std::string weightstats_page(const weights::WeightsReport& report, const weights::Thresholds& thresholds = {},
                             std::size_t max_histograms = 48);

/// The page of `convdiag --html FILE`, for a diag::Report: the logs' verdict
/// line first; per run, the loss with the validation loss, the gradient norm
/// and the learning rate, each on its own chart (log y when the curve spans
/// more than two decades; non-finite values marked), every symptom of that
/// curve shaded over its steps and labelled, its evidence and advice beside the
/// chart. The logs of Report::logs (matched by source) are drawn whole;
/// otherwise Curve::shape (up to 48 bucket means) is drawn over the curve's
/// step range. With active checks, per model: initial loss against ln(C), the
/// overfit-one-batch loss curves, and the learning-rate range test (log x) with
/// the suggested rate and the rate of the lowest loss marked.
std::string convdiag_page(const diag::Report& report);

}  // namespace gradcheck::html
