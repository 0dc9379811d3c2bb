#pragma once
// The HTML report of `convdiag --html FILE`.

#include <string>
#include <vector>

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::html {

/// One self-contained page (page.hpp) for diagnosed runs: the verdict line
/// first; per run, the loss with the validation loss, the gradient norm and the
/// learning rate, each on its own chart (log y when the curve spans more than
/// two decades; non-finite values marked), every symptom of that curve shaded
/// over its steps and labelled, its evidence and advice beside the chart.
/// `logs`, when given, are the runs that were diagnosed (matched by source):
/// their full curves are drawn; otherwise Curve::shape (up to 48 bucket means)
/// is drawn over the curve's step range. `active`, when given, adds the active
/// checks per model: initial loss against ln(C), the overfit-one-batch loss
/// curves, and the learning-rate range test (log x) with the suggested rate and
/// the rate of the lowest loss marked.
std::string convdiag_page(const std::vector<diag::RunDiagnosis>& runs, const std::vector<logs::Run>& logs = {},
                          const diag::ActiveReport* active = nullptr);

}  // namespace gradcheck::html
