#include "gradcheck/layout.hpp"

#include <algorithm>
#include <stdexcept>

namespace gradcheck {

std::int64_t Block::size() const {
  std::int64_t n = 1;
  for (auto e : shape) n *= e;
  return n;
}

std::vector<std::int64_t> Block::index_of(std::int64_t k) const {
  std::vector<std::int64_t> idx(shape.size(), 0);
  if (order == Order::row_major) {
    for (std::size_t d = shape.size(); d-- > 0;) {
      idx[d] = shape[d] > 0 ? k % shape[d] : 0;
      k = shape[d] > 0 ? k / shape[d] : 0;
    }
  } else {
    for (std::size_t d = 0; d < shape.size(); ++d) {
      idx[d] = shape[d] > 0 ? k % shape[d] : 0;
      k = shape[d] > 0 ? k / shape[d] : 0;
    }
  }
  return idx;
}

std::int64_t Block::position_of(const std::vector<std::int64_t>& index) const {
  std::int64_t k = 0;
  if (order == Order::row_major) {
    for (std::size_t d = 0; d < shape.size(); ++d) k = k * shape[d] + index[d];
  } else {
    for (std::size_t d = shape.size(); d-- > 0;) k = k * shape[d] + index[d];
  }
  return k;
}

std::string Block::label(std::int64_t k) const {
  if (shape.empty()) return name;
  std::string s = name + "[";
  const auto idx = index_of(k);
  for (std::size_t d = 0; d < idx.size(); ++d) {
    if (d > 0) s += ',';
    s += std::to_string(idx[d]);
  }
  s += ']';
  return s;
}

Layout& Layout::add(std::string name, std::vector<std::int64_t> shape, Order order) {
  if (name.empty()) throw std::invalid_argument("gradcheck::Layout: a block needs a name");
  for (const auto& b : blocks_)
    if (b.name == name) throw std::invalid_argument("gradcheck::Layout: duplicate block name '" + name + "'");
  for (auto e : shape)
    if (e < 0) throw std::invalid_argument("gradcheck::Layout: negative extent in block '" + name + "'");
  Block b{std::move(name), std::move(shape), size_, order};
  size_ += b.size();
  blocks_.push_back(std::move(b));
  return *this;
}

Layout Layout::flat(std::int64_t n, std::string name) {
  Layout l;
  l.add(std::move(name), {n});
  return l;
}

const Block& Layout::block(const std::string& name) const {
  for (const auto& b : blocks_)
    if (b.name == name) return b;
  throw std::out_of_range("gradcheck::Layout: no block named '" + name + "'");
}

std::size_t Layout::block_of(std::int64_t i) const {
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), i,
                             [](std::int64_t v, const Block& b) { return v < b.offset; });
  // Empty blocks share offsets with their successor; step back to the one holding i.
  std::size_t k = static_cast<std::size_t>(it - blocks_.begin());
  while (k > 0 && !(blocks_[k - 1].offset <= i && i < blocks_[k - 1].offset + blocks_[k - 1].size())) --k;
  if (k == 0) throw std::out_of_range("gradcheck::Layout: position outside every block");
  return k - 1;
}

std::pair<Eigen::Index, Eigen::Index> Layout::matrix_extents(const Block& b) {
  if (b.shape.size() > 2)
    throw std::invalid_argument("gradcheck::Layout::matrix: block '" + b.name + "' has rank > 2");
  if (b.shape.size() == 2) return {b.shape[0], b.shape[1]};
  return {b.size(), 1};
}

}  // namespace gradcheck
