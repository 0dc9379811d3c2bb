#include "utf8.hpp"

#include <cstddef>
#include <cstdint>

namespace gradcheck {

namespace {

/// Length of the valid UTF-8 sequence at s[i] (1 to 4), or 0 when the byte at
/// s[i] does not start one. Sets `cp` to the code point.
std::size_t sequence_at(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
  else return 0;
  if (s.size() - i <= n) return 0;
  for (std::size_t k = 1; k <= n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n + 1;
}

bool control(std::uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp < 0xA0); }

}  // namespace

bool valid_utf8(std::string_view s, bool printable) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::uint32_t cp = 0;
    const std::size_t n = sequence_at(s, i, cp);
    if (n == 0 || (printable && control(cp))) return false;
    i += n;
  }
  return true;
}

std::string escape_invalid_utf8(std::string_view s, bool printable) {
  if (valid_utf8(s, printable)) return std::string(s);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t i = 0;
  while (i < s.size()) {
    std::uint32_t cp = 0;
    const std::size_t n = sequence_at(s, i, cp);
    if (n != 0 && !(printable && control(cp))) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    // One byte at a time: what follows a bad lead byte may start a valid sequence.
    const std::size_t bytes = n == 0 ? 1 : n;  // a control keeps its whole (valid) sequence, escaped
    for (std::size_t k = 0; k < bytes; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
    i += bytes;
  }
  return out;
}

}  // namespace gradcheck
