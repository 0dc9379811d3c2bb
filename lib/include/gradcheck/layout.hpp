#pragma once
// Named blocks (tensors) of a flat parameter vector, so reports can say
// `fc1.weight[3,7]` instead of `x[1043]`.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

namespace gradcheck {

/// How a block's elements are laid out in the flat vector.
enum class Order {
  row_major,  ///< last index fastest (C, NumPy, PyTorch, the plugin ABI)
  col_major,  ///< first index fastest (Eigen's default matrices, Fortran)
};

/// One named tensor: `size()` consecutive values of the flat vector from `offset`.
struct Block {
  std::string name;
  std::vector<std::int64_t> shape;  ///< empty for a scalar
  std::int64_t offset = 0;
  Order order = Order::row_major;

  /// Number of elements: the product of the extents (1 for a scalar).
  std::int64_t size() const;
  /// The multi-index of flat position `k` (0 <= k < size()) within the block.
  std::vector<std::int64_t> index_of(std::int64_t k) const;
  /// The flat position within the block of a multi-index (inverse of index_of).
  std::int64_t position_of(const std::vector<std::int64_t>& index) const;
  /// "name[i,j]" for flat position `k`; "name" alone for a scalar block.
  std::string label(std::int64_t k) const;
};

/// An ordered list of blocks that tile a flat vector [0, size()).
/// Throws std::invalid_argument on a duplicate or empty name or negative extent.
class Layout {
 public:
  Layout() = default;

  /// Appends a block after the existing ones; returns *this for chaining.
  Layout& add(std::string name, std::vector<std::int64_t> shape, Order order = Order::row_major);
  /// A single block "x" of `n` values (what a check uses when given no layout).
  static Layout flat(std::int64_t n, std::string name = "x");

  const std::vector<Block>& blocks() const { return blocks_; }
  std::int64_t size() const { return size_; }
  bool empty() const { return blocks_.empty(); }
  /// The block with this name; throws std::out_of_range when absent.
  const Block& block(const std::string& name) const;
  /// Index of the block holding flat position `i` of the whole vector.
  std::size_t block_of(std::int64_t i) const;

  /// A view of block `name` in `x` as a matrix: rank-2 blocks as rows x cols in
  /// their order, rank 0/1 as a column. Writes through to `x`.
  template <class Derived>
  auto matrix(Eigen::MatrixBase<Derived>& x, const std::string& name) const {
    using T = typename Derived::Scalar;
    const Block& b = block(name);
    auto [r, c] = matrix_extents(b);
    using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    const bool row = b.order == Order::row_major;
    return Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>, 0, Stride>(
        x.derived().data() + b.offset, r, c, row ? Stride(1, c) : Stride(r, 1));
  }
  template <class Derived>
  auto matrix(const Eigen::MatrixBase<Derived>& x, const std::string& name) const {
    using T = typename Derived::Scalar;
    const Block& b = block(name);
    auto [r, c] = matrix_extents(b);
    using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    const bool row = b.order == Order::row_major;
    return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>, 0, Stride>(
        x.derived().data() + b.offset, r, c, row ? Stride(1, c) : Stride(r, 1));
  }

 private:
  static std::pair<Eigen::Index, Eigen::Index> matrix_extents(const Block& b);
  std::vector<Block> blocks_;
  std::int64_t size_ = 0;
};

}  // namespace gradcheck
