#pragma once
// Test helper: writes safetensors files byte by byte, valid or deliberately
// malformed, so every reader rule is exercised by generated files.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace st_test {

namespace fs = std::filesystem;

inline fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("gradcheck_weights_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[std::size_t(i)] = char((v >> (8 * i)) & 0xFF);
  return s;
}

/// A file: 8-byte header length, the header text, the data bytes.
inline void write_raw(const fs::path& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << le64(header.size()) << header << data;
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

struct Tensor {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

inline std::string shape_json(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

/// A valid file holding `tensors` in order, with no header padding (so data
/// may start at any alignment, as real writers do).
inline void write_safetensors(const fs::path& path, const std::vector<Tensor>& tensors) {
  std::string header = "{";
  std::string data;
  for (const auto& t : tensors) {
    if (header.size() > 1) header += ",";
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + shape_json(t.shape) +
              ",\"data_offsets\":[" + std::to_string(data.size()) + "," + std::to_string(data.size() + t.bytes.size()) + "]}";
    data += t.bytes;
  }
  header += "}";
  write_raw(path, header, data);
}

inline Tensor f32(const std::string& name, std::vector<std::int64_t> shape, const std::vector<float>& v) {
  return {name, "F32", std::move(shape), bytes_of(v)};
}

}  // namespace st_test
