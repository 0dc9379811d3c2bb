#pragma once
// Private: nlohmann::json's exceptions said in the project's words. Their
// what() carries the library's tag ("[json.exception.parse_error.101]") and
// echoes the raw bytes it read, which may not be UTF-8; users get what is
// wrong with their file and where, from the exception's fields instead.

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "utf8.hpp"

namespace gradcheck::internal {

/// Where in `text` a parse went wrong, for messages: "byte 4 (line 1, column 4)"
/// (1-based), or only "column 4" with `one_line`.
inline std::string json_position(std::string_view text, std::size_t byte, bool one_line) {
  std::size_t line = 1, column = byte;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i)
    if (text[i] == '\n') {
      ++line;
      column = byte - (i + 1);
    }
  if (one_line) return "column " + std::to_string(column);
  return "byte " + std::to_string(byte) + " (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
}

/// What nlohmann::json found wrong with `text`: "unexpected byte \xff at byte 4
/// (line 1, column 4)", "unexpected '}' at ...", "it ends too early",
/// "a number is out of range". With `one_line` (text is one line of a file whose
/// line the caller names), the position is only the column.
inline std::string json_error_text(std::string_view text, const nlohmann::json::exception& e, bool one_line = false) {
  if (const auto* p = dynamic_cast<const nlohmann::json::parse_error*>(&e)) {
    const std::size_t byte = p->byte;  // 1-based position of the last byte read
    if (byte == 0 || byte > text.size()) return "it ends too early (after byte " + std::to_string(text.size()) + ")";
    const auto c = static_cast<unsigned char>(text[byte - 1]);
    std::string what;
    if (c >= 0x21 && c < 0x7f) what = std::string("unexpected '") + static_cast<char>(c) + "'";
    else if (c == ' ') what = "unexpected space";
    else {
      static constexpr char hex[] = "0123456789abcdef";
      what = std::string("unexpected byte \\x") + hex[c >> 4] + hex[c & 0xF];
    }
    return what + " at " + json_position(text, byte, one_line);
  }
  if (e.id == 406) return "a number is out of range";  // out_of_range: number overflow
  if (e.id == 403) return "a field is missing";        // out_of_range: at() of a missing key
  if (e.id == 401) return "a list is too short";       // out_of_range: at() past an array's end
  if (e.id >= 300 && e.id < 400) return "a value has the wrong type";
  return "it cannot be read as JSON";
}

}  // namespace gradcheck::internal
