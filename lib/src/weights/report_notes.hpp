#pragma once
// Sentences the text and HTML weight reports share.

#include <cstddef>
#include <string>

#include "gradcheck/weights/report.hpp"

namespace gradcheck::internal {

/// Says how many tensors are an optimizer's state and what that means for
/// their flags; empty when there are none.
inline std::string optimizer_state_note(const weights::WeightsReport& report) {
  std::size_t n = 0;
  for (const auto& t : report.tensors) n += t.role == weights::TensorRole::optimizer_state;
  if (n == 0) return {};
  return std::to_string(n) + (n == 1 ? " tensor is" : " tensors are") +
         " an optimizer's state (torch.optim's state.<index>.<key>: Adam's moments, momentum buffers, step "
         "counts): statistics and the nan and inf flags only, no weight flags";
}

}  // namespace gradcheck::internal
