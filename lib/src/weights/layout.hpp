#pragma once
// Private: bringing tensors into the one layout statistics read (C order,
// little-endian, contiguous).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace gradcheck::weights::detail {

/// Copies the elements of a strided tensor into C order. `strides` are in
/// elements; the caller has checked that every index stays inside `src`.
inline std::shared_ptr<std::vector<std::uint8_t>> gather_c_order(const std::uint8_t* src, std::size_t element_size,
                                                                 const std::vector<std::int64_t>& shape,
                                                                 const std::vector<std::int64_t>& strides,
                                                                 std::uint64_t numel) {
  auto out = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(numel) * element_size);
  if (numel == 0) return out;
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> index(rank, 0);
  std::uint8_t* dst = out->data();
  std::int64_t offset = 0;
  for (std::uint64_t i = 0; i < numel; ++i) {
    std::memcpy(dst, src + static_cast<std::size_t>(offset) * element_size, element_size);
    dst += element_size;
    // Odometer increment over the C-order index.
    for (std::size_t k = rank; k-- > 0;) {
      if (++index[k] < shape[k]) {
        offset += strides[k];
        break;
      }
      offset -= strides[k] * (shape[k] - 1);
      index[k] = 0;
    }
  }
  return out;
}

/// Reverses the byte order of every element in place.
inline void swap_bytes(std::uint8_t* data, std::size_t element_size, std::uint64_t numel) {
  for (std::uint64_t i = 0; i < numel; ++i, data += element_size)
    for (std::size_t a = 0, b = element_size - 1; a < b; ++a, --b) std::swap(data[a], data[b]);
}

}  // namespace gradcheck::weights::detail
