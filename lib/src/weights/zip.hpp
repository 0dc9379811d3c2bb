#pragma once
// Private: the central directory of a zip archive (PKWARE APPNOTE 6.3.x),
// including zip64, validated against the file's size, and member extraction
// (stored: a view into the mapping; deflated: inflated with zlib).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gradcheck/mapped_file.hpp"

namespace gradcheck::weights::detail {

struct ZipMember {
  std::string name;
  std::uint16_t method = 0;  // 0 stored, 8 deflated
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;
  std::uint64_t data_offset = 0;  // of the member's bytes in the file
};

/// Lists the members of a zip archive. Throws InputError(file, reason) when the
/// directory is missing or inconsistent, a member is encrypted, or member data
/// runs past the end of the file or overlaps another member.
std::vector<ZipMember> read_zip_directory(const MappedFile& file);

/// The bytes of a member: a view into `file` when stored; when deflated, a
/// buffer that is inflated, checked against the recorded size and CRC-32, and
/// kept alive through `owner`. Other methods are refused.
std::span<const std::uint8_t> zip_member_bytes(const MappedFile& file, const ZipMember& member,
                                               std::shared_ptr<const void>& owner);

}  // namespace gradcheck::weights::detail
