#pragma once
// Reads the pattern of a mismatching block and names the kind of bug it looks like.

#include <string>
#include <vector>

#include "gradcheck/layout.hpp"
#include "gradcheck/result.hpp"

namespace gradcheck::detail {

struct Hint {
  HintKind kind = HintKind::none;
  std::string text;
};

/// `entries`: every compared entry of the block (verdicts final). `full`: every
/// coordinate was compared (needed to recognise a transpose). `values`: the
/// block's values at the point (block.size() of them), or null.
Hint analyze_hint(const Block& block, const std::vector<Entry>& entries, std::int64_t batch_size, bool full,
                  const double* values = nullptr);

}  // namespace gradcheck::detail
