#include "zip.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "gradcheck/errors.hpp"
#include "../core/utf8.hpp"

namespace gradcheck::weights::detail {

namespace {

std::uint64_t le(const std::uint8_t* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

constexpr std::uint32_t kEocd = 0x06054b50, kZip64Locator = 0x07064b50, kZip64Eocd = 0x06064b50,
                        kCentral = 0x02014b50, kLocal = 0x04034b50;

}  // namespace

std::vector<ZipMember> read_zip_directory(const MappedFile& file) {
  const std::string& path = file.path();
  const std::uint8_t* d = file.data();
  const std::uint64_t size = file.size();
  auto need = [&](std::uint64_t offset, std::uint64_t n, const char* what) {
    if (offset > size || n > size - offset)
      throw InputError(path, std::string("zip: ") + what + " runs past the end of the file");
  };
  if (size < 22) throw InputError(path, "not a zip archive (too short)");
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  std::uint64_t eocd = size;
  const std::uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (std::uint64_t p = size - 22 + 1; p-- > lowest;) {
    if (le(d + p, 4) == kEocd && p + 22 + le(d + p + 20, 2) <= size) {
      eocd = p;
      break;
    }
  }
  if (eocd == size) throw InputError(path, "not a zip archive (no end of central directory)");
  std::uint64_t entries = le(d + eocd + 10, 2);
  std::uint64_t cd_size = le(d + eocd + 12, 4);
  std::uint64_t cd_offset = le(d + eocd + 16, 4);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd < 20 || le(d + eocd - 20, 4) != kZip64Locator)
      throw InputError(path, "zip: zip64 sizes without a zip64 locator");
    const std::uint64_t z = le(d + eocd - 20 + 8, 8);
    need(z, 56, "zip64 end of central directory");
    if (le(d + z, 4) != kZip64Eocd) throw InputError(path, "zip: bad zip64 end of central directory");
    entries = le(d + z + 32, 8);
    cd_size = le(d + z + 40, 8);
    cd_offset = le(d + z + 48, 8);
  }
  need(cd_offset, cd_size, "central directory");
  std::vector<ZipMember> members;
  std::uint64_t p = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (p + 46 > cd_end || le(d + p, 4) != kCentral) throw InputError(path, "zip: corrupt central directory");
    ZipMember m;
    const auto flags = le(d + p + 8, 2);
    m.method = static_cast<std::uint16_t>(le(d + p + 10, 2));
    m.crc32 = static_cast<std::uint32_t>(le(d + p + 16, 4));
    m.compressed_size = le(d + p + 20, 4);
    m.size = le(d + p + 24, 4);
    const auto name_len = le(d + p + 28, 2), extra_len = le(d + p + 30, 2), comment_len = le(d + p + 32, 2);
    std::uint64_t local = le(d + p + 42, 4);
    if (p + 46 + name_len + extra_len + comment_len > cd_end) throw InputError(path, "zip: corrupt central directory");
    m.name.assign(reinterpret_cast<const char*>(d + p + 46), name_len);
    // Member names become tensor names in reports (JSON: UTF-8 only) and are
    // quoted in one-line messages.
    if (!gradcheck::internal::valid_utf8(m.name, /*printable=*/true))
      throw InputError(path, "zip: the name of member " + std::to_string(i + 1) +
                                 " is not printable UTF-8 (control characters or bad bytes)");
    if (flags & 1u) throw InputError(path, "zip member '" + m.name + "' is encrypted");
    // zip64 extra field: the 64-bit values of the fields saturated above, in order.
    for (std::uint64_t e = p + 46 + name_len; e + 4 <= p + 46 + name_len + extra_len;) {
      const auto id = le(d + e, 2), len = le(d + e + 2, 2);
      if (e + 4 + len > p + 46 + name_len + extra_len) throw InputError(path, "zip: corrupt extra field");
      if (id == 1) {
        std::uint64_t q = e + 4;
        auto take = [&](std::uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          if (q + 8 > e + 4 + len) throw InputError(path, "zip: short zip64 extra field");
          field = le(d + q, 8);
          q += 8;
        };
        take(m.size);
        take(m.compressed_size);
        take(local);
      }
      e += 4 + len;
    }
    need(local, 30, "local file header");
    if (le(d + local, 4) != kLocal) throw InputError(path, "zip: bad local header for member '" + m.name + "'");
    m.data_offset = local + 30 + le(d + local + 26, 2) + le(d + local + 28, 2);
    need(m.data_offset, m.compressed_size, ("member '" + m.name + "'").c_str());
    members.push_back(std::move(m));
    p += 46 + name_len + extra_len + comment_len;
  }
  std::vector<const ZipMember*> sorted;
  for (const auto& m : members) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->data_offset < b->data_offset; });
  for (std::size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i - 1]->data_offset + sorted[i - 1]->compressed_size > sorted[i]->data_offset)
      throw InputError(path, "zip members '" + sorted[i - 1]->name + "' and '" + sorted[i]->name + "' overlap");
  return members;
}

std::span<const std::uint8_t> zip_member_bytes(const MappedFile& file, const ZipMember& m,
                                               std::shared_ptr<const void>& owner) {
  const std::string& path = file.path();
  const std::uint8_t* src = file.data() + m.data_offset;
  if (m.method == 0) {
    if (m.compressed_size != m.size)
      throw InputError(path, "zip member '" + m.name + "' is stored but its two sizes differ");
    return {src, static_cast<std::size_t>(m.size)};
  }
  if (m.method != 8)
    throw InputError(path, "zip member '" + m.name + "' uses compression method " + std::to_string(m.method) +
                               " (only stored and deflated are read)");
  // Deflate expands at most 1032:1; a larger claim is a lie that would have
  // the reader allocate gigabytes for a file of a few bytes.
  if (m.size / 1032 > m.compressed_size + 1)
    throw InputError(path, "zip member '" + m.name + "' claims " + std::to_string(m.size) + " bytes from " +
                               std::to_string(m.compressed_size) + " compressed: more than deflate can produce");
  auto buffer = std::make_shared<std::vector<std::uint8_t>>();
  try {
    buffer->resize(static_cast<std::size_t>(m.size));
  } catch (const std::exception&) {
    throw InputError(path, "zip member '" + m.name + "' claims " + std::to_string(m.size) + " bytes: too large");
  }
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw InputError(path, "zlib: cannot initialise inflate");
  std::uint64_t in_left = m.compressed_size, out_given = 0;
  const std::uint8_t* in = src;
  int rc = Z_OK;
  // zlib counts in uInt: feed and drain in pieces below 4 GiB.
  constexpr std::uint64_t kStep = std::uint64_t(1) << 30;
  std::uint8_t none = 0;
  z.next_out = &none;
  for (;;) {
    if (z.avail_in == 0 && in_left > 0) {
      const auto n = std::min(in_left, kStep);
      z.next_in = const_cast<Bytef*>(in);
      z.avail_in = static_cast<uInt>(n);
      in += n;
      in_left -= n;
    }
    if (z.avail_out == 0 && out_given < m.size) {
      const auto n = std::min(m.size - out_given, kStep);
      z.next_out = buffer->data() + out_given;
      z.avail_out = static_cast<uInt>(n);
      out_given += n;
    }
    const uLong in_before = z.total_in, out_before = z.total_out;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR)) break;
    // No progress: the input ended early, or there is more output than recorded.
    if (z.total_in == in_before && z.total_out == out_before) break;
  }
  const std::uint64_t out_done = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || out_done != m.size)
    throw InputError(path, "zip member '" + m.name + "' does not inflate to its recorded " + std::to_string(m.size) +
                               " bytes (corrupt or truncated)");
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::uint64_t off = 0; off < m.size; off += kStep)
    crc = crc32(crc, buffer->data() + off, static_cast<uInt>(std::min(kStep, m.size - off)));
  if (crc != m.crc32) throw InputError(path, "zip member '" + m.name + "' fails its CRC-32 check");
  std::span<const std::uint8_t> out(buffer->data(), buffer->size());
  owner = std::move(buffer);
  return out;
}

}  // namespace gradcheck::weights::detail
