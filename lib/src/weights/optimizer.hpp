#pragma once
// Optimizers saved beside the weights (torch.optim state dicts): which
// parameter each state belongs to, and the step it implies.

#include <vector>

#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/report.hpp"

namespace gradcheck::weights::detail {

/// The optimizers of `checkpoint` (see OptimizerReport), and the
/// update_ratio_high / update_ratio_low flags on the parameters in `tensors`
/// (those the report holds; a filtered-out parameter is still measured).
std::vector<OptimizerReport> analyse_optimizers(const Checkpoint& checkpoint, std::vector<TensorReport>& tensors,
                                                const Thresholds& thresholds);

}  // namespace gradcheck::weights::detail
