#pragma once
// Bytes and files: the inputs tests generate and the outputs (reports,
// captured streams) they read back.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gradcheck::test {

/// `v` as `n` little-endian bytes (the length fields of binary formats).
inline std::string le(std::uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

/// The bytes of the file at `path`; empty when it cannot be read.
inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Writes `bytes` to the file at `path` (replacing it, creating its folder)
/// and returns the path as a string. Throws when the file cannot be written.
inline std::string write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write the test file " + path.string());
  return path.string();
}

}  // namespace gradcheck::test
