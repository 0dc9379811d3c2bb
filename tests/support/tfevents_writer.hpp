#pragma once
// Writes TensorBoard event files byte by byte for the tests: TFRecord framing
// (lengths and masked CRC-32C, computed here independently of the reader) around
// Event protobufs.

#include <cstdint>
#include <cstring>
#include <string>

#include "support/files.hpp"

namespace gradcheck::test::tfevents {

/// CRC-32C (Castagnoli), bitwise, no table.
inline std::uint32_t crc32c(const std::string& s) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

/// TFRecord's masked CRC of `s`, as its four bytes.
inline std::string masked_crc(const std::string& s) {
  const std::uint32_t c = crc32c(s);
  return le(((c >> 15) | (c << 17)) + 0xa282ead8u, 4);
}

/// One TFRecord: length, its masked CRC, the payload, its masked CRC.
inline std::string record(const std::string& payload) {
  const std::string len = le(payload.size(), 8);
  return len + masked_crc(len) + payload + masked_crc(payload);
}

// Protobuf fields.
inline std::string varint(std::uint64_t v) {
  std::string s;
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    s += static_cast<char>(v ? (b | 0x80) : b);
  } while (v);
  return s;
}
inline std::string field_bytes(int f, const std::string& b) {
  return varint(static_cast<std::uint64_t>(f) << 3 | 2) + varint(b.size()) + b;
}
inline std::string field_varint(int f, std::uint64_t v) {
  return varint(static_cast<std::uint64_t>(f) << 3) + varint(v);
}
inline std::string field_float(int f, float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return varint(static_cast<std::uint64_t>(f) << 3 | 5) + le(u, 4);
}

/// Event{step, summary{value{tag, simple_value}}}: a TF1 scalar.
inline std::string simple_event(std::int64_t step, const std::string& tag, float v) {
  std::string value = field_bytes(1, tag) + field_float(2, v);
  return field_varint(2, static_cast<std::uint64_t>(step)) + field_bytes(5, field_bytes(1, value));
}

/// Event{step, summary{value{tag, tensor{dtype=DT_FLOAT, shape{dims...}, tensor_content}}}}:
/// a TF2 scalar (rank0) or a one-element vector.
inline std::string tensor_event(std::int64_t step, const std::string& tag, float v, bool rank0) {
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  std::string shape = rank0 ? "" : field_bytes(2, field_varint(1, 1));
  std::string tensor = field_varint(1, 1) + field_bytes(2, shape) + field_bytes(4, le(u, 4));
  std::string value = field_bytes(1, tag) + field_bytes(8, tensor);
  return field_varint(2, static_cast<std::uint64_t>(step)) + field_bytes(5, field_bytes(1, value));
}

/// Event{step, summary{value{tag, tensor{dtype=DT_STRING, shape{dim{size 1}}, string_val}}}}: a text
/// summary as SummaryWriter.add_text writes it (its tag is `<name>/text_summary`).
inline std::string text_event(std::int64_t step, const std::string& tag, const std::string& text) {
  std::string tensor = field_varint(1, 7) + field_bytes(2, field_bytes(2, field_varint(1, 1))) + field_bytes(8, text);
  std::string value = field_bytes(1, tag) + field_bytes(8, tensor);
  return field_varint(2, static_cast<std::uint64_t>(step)) + field_bytes(5, field_bytes(1, value));
}

}  // namespace gradcheck::test::tfevents
