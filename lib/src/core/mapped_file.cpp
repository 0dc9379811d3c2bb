#include "gradcheck/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "gradcheck/errors.hpp"
#include "mapped_source.hpp"

namespace gradcheck {

namespace {

// Live mappings by their first byte.
struct Mapping {
  std::size_t size;
  std::string path;
  dev_t device;
  ino_t inode;
};
struct Registry {
  std::shared_mutex mutex;
  std::map<std::uintptr_t, Mapping> ranges;
};
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

internal::MappedSource internal::mapped_source(const void* p, std::size_t size) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  Registry& r = registry();
  std::shared_lock lock(r.mutex);
  auto it = r.ranges.upper_bound(at);
  if (it == r.ranges.begin()) return {};
  it = std::prev(it);
  const Mapping& m = it->second;
  const std::uintptr_t offset = at - it->first;
  if (offset > m.size || size > m.size - offset) return {};
  return {m.path, offset, m.device, m.inode};
}

int internal::open_mapped_source(const MappedSource& s) noexcept {
  if (s.path.empty()) return -1;
  const int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_dev != s.device || st.st_ino != s.inode) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool internal::read_exact(int fd, std::uint64_t offset, std::size_t size, void* out) noexcept {
  auto* dst = static_cast<std::uint8_t*>(out);
  while (size > 0) {
    const ssize_t got = ::pread(fd, dst, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    dst += got;
    offset += static_cast<std::uint64_t>(got);
    size -= static_cast<std::size_t>(got);
  }
  return true;
}

void internal::populate(const void* p, std::size_t size) noexcept {
#ifdef MADV_POPULATE_READ
  if (size == 0) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(p) + size;
  (void)::madvise(reinterpret_cast<void*>(first), end - first, MADV_POPULATE_READ);
#else
  (void)p;
  (void)size;
#endif
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw InputError(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path, "not a regular file");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw InputError(path, std::string("cannot map: ") + std::strerror(err));
    }
    data_ = static_cast<const std::uint8_t*>(p);
    Registry& r = registry();
    std::unique_lock lock(r.mutex);
    r.ranges[reinterpret_cast<std::uintptr_t>(data_)] = {size_, path_, st.st_dev, st.st_ino};
  }
  ::close(fd);
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) {
    {
      Registry& r = registry();
      std::unique_lock lock(r.mutex);
      r.ranges.erase(reinterpret_cast<std::uintptr_t>(data_));
    }
    ::munmap(const_cast<std::uint8_t*>(data_), size_);
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace gradcheck
