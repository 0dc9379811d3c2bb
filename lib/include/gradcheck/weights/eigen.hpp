#pragma once
// Weight statistics of an Eigen matrix, for logging from a training loop
// every N steps. Kept apart from statistics.hpp so only callers that use Eigen
// pay for its headers.

#include <Eigen/Core>

#include "gradcheck/weights/statistics.hpp"

namespace gradcheck::weights {

/// Statistics of a matrix, rows as rows (the shape is {rows, cols}): a layer's
/// weight W of shape out x in gives fan_in = cols, fan_out = rows. Any storage
/// order or block is accepted; non-row-major data is copied into row order.
template <class Derived>
TensorAnalysis statistics(const Eigen::DenseBase<Derived>& m, const StatsOptions& options = {}) {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "weight statistics are defined for float and double matrices");
  const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = m;
  return statistics(std::span<const Scalar>(row_major.data(), static_cast<std::size_t>(row_major.size())),
                    {static_cast<std::int64_t>(row_major.rows()), static_cast<std::int64_t>(row_major.cols())},
                    options);
}

}  // namespace gradcheck::weights
