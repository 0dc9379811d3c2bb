#pragma once
// Private to the library: where mapped bytes come from. Every MappedFile
// registers its range here, so a reader of a large range (the statistics
// pass) can copy it with pread instead of touching the mapping: the bytes are
// the same, the copy goes through the kernel's own mapping of the page cache,
// and first touches of a fresh user mapping, page by page, cost more on some
// machines (measured on a virtual machine: a plain pass over a freshly mapped
// 84 MiB file took 0.02 s, over the same mapping touched before 0.004 s, and a
// pread of the whole file 0.006 s). Or it can have the range's page tables
// filled in one call (populate) and read the mapping in place, which saves
// the copy: for the float statistics pass, whose loop runs at a few GB/s a
// core, the copy was a quarter of its time.

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace gradcheck::internal {

struct MappedSource {
  std::string path;          ///< empty: not in a mapped file
  std::uint64_t offset = 0;  ///< of the first byte in the file
  dev_t device = 0;          ///< the mapped file's identity, to check a reopened path against
  ino_t inode = 0;
};

/// The file and offset holding the `size` bytes at `p`, if all of them lie in
/// one live MappedFile's mapping; else an empty path.
MappedSource mapped_source(const void* p, std::size_t size);

/// Opens `s.path` read-only if it is still the mapped file (the same device
/// and inode); -1 otherwise. The caller closes it.
int open_mapped_source(const MappedSource& s) noexcept;

/// Copies `size` bytes at `offset` of `fd` into `out` (pread, retried on a
/// short read or EINTR); false when the file gives fewer bytes or fails.
bool read_exact(int fd, std::uint64_t offset, std::size_t size, void* out) noexcept;

/// Fills the page tables of the mapped pages holding [p, p + size) in one call
/// (madvise MADV_POPULATE_READ, Linux 5.14 on), so that reading them takes no
/// fault each; does nothing where the kernel cannot (reading still works).
void populate(const void* p, std::size_t size) noexcept;

}  // namespace gradcheck::internal
