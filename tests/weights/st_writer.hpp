#pragma once
// Test helper: writes checkpoint files, valid or deliberately malformed, so
// every reader rule is exercised by generated files.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoint_writer.hpp"
#include "support/files.hpp"
#include "support/scratch.hpp"

namespace st_test {

namespace fs = std::filesystem;
using checkpoint_writer::bytes_of;
using gradcheck::test::write_bytes;
using Tensor = checkpoint_writer::SafeTensor;

inline fs::path temp_dir(const std::string& name) { return gradcheck::test::scratch_dir("weights_" + name); }

inline std::string le64(std::uint64_t v) { return checkpoint_writer::le(v, 8); }

/// A file: 8-byte header length, the header text, the data bytes.
inline void write_raw(const fs::path& path, const std::string& header, const std::string& data) {
  write_bytes(path, le64(header.size()) + header + data);
}

inline void write_safetensors(const fs::path& path, const std::vector<Tensor>& tensors) {
  write_bytes(path, checkpoint_writer::safetensors(tensors));
}

inline Tensor f32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v) {
  return {name, "F32", std::move(shape), bytes_of(v)};
}

}  // namespace st_test
