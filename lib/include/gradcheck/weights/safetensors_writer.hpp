#pragma once
// Writing `.safetensors` files (the format read_safetensors reads): an 8-byte
// little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [..],
//    "data_offsets": [begin, end]}, ...}
// padded with spaces (0x20) so the data section starts at a multiple of 8, then
// the tensors' bytes, little-endian and row-major, back to back. Tensors are
// laid out by element size, largest first, then by name (as the reference
// implementation does), so every tensor starts at a multiple of its element
// size and a reader may map it in place.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "gradcheck/weights/dtype.hpp"

namespace gradcheck::weights {

class SafetensorsWriter {
 public:
  /// Adds a tensor (its values are copied). Throws std::invalid_argument for an
  /// empty or repeated name, "__metadata__", a negative extent, or a shape whose
  /// product differs from values.size().
  void add(const std::string& name, const std::vector<std::int64_t>& shape, std::span<const float> values);
  void add(const std::string& name, const std::vector<std::int64_t>& shape, std::span<const double> values);
  /// A `__metadata__` entry (string to string, as the format requires).
  void add_metadata(const std::string& key, const std::string& value);

  /// The whole file.
  std::string bytes() const;
  /// Writes bytes() to `path` atomically (gradcheck::write_file_atomically):
  /// a reader sees the previous file or the complete new one. Throws
  /// InputError naming the path when it cannot be written.
  void write(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string data;  ///< little-endian bytes
  };
  void check_new(const std::string& name, const std::vector<std::int64_t>& shape, std::size_t count) const;
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace gradcheck::weights
