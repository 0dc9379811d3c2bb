#pragma once
// Read-only memory mapping of an input file, so readers never load a whole
// large file into memory: pages are brought in on demand by the kernel.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace gradcheck {

class MappedFile {
 public:
  MappedFile() = default;
  /// Maps `path` read-only. Throws InputError naming the file when it cannot be
  /// opened, is not a regular file, or cannot be mapped. An empty file maps to an
  /// empty span.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::span<const std::uint8_t> bytes() const noexcept { return {data_, size_}; }
  const std::string& path() const noexcept { return path_; }

 private:
  void release() noexcept;
  std::string path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace gradcheck
