#pragma once
// Private: JSON as Python's json module writes it, for the log readers. Python
// writes NaN, Infinity and -Infinity bare, which is not JSON; they are quoted
// (outside strings) before parsing, and the value readers take such strings
// back as numbers. Parse errors are reported at their place in the file as
// written, not in the quoted copy.

#include <cstddef>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/json_error.hpp"
#include "builder.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/mapped_file.hpp"

namespace gradcheck::logs::internal {

/// `text` without the JSON whitespace (and UTF-8 byte order mark) around it.
inline std::string_view trim_json_space(std::string_view text) {
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.remove_prefix(3);
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

/// `text` with bare NaN, Infinity and -Infinity outside strings quoted; `buf`
/// holds the copy when one is needed (otherwise `text` itself is returned).
/// `quoted`, when given, receives the offset in the result of each opening
/// quote added and the length of the token it quotes.
inline std::string_view quote_nonfinite(std::string_view text, std::string& buf,
                                        std::vector<std::pair<std::size_t, std::size_t>>* quoted = nullptr) {
  if (quoted) quoted->clear();
  if (text.find("NaN") == std::string_view::npos && text.find("Infinity") == std::string_view::npos) return text;
  buf.clear();
  buf.reserve(text.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      buf += c;
      if (c == '\\' && i + 1 < text.size()) buf += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      buf += c;
      continue;
    }
    bool token = false;
    for (std::string_view tok : {std::string_view("-Infinity"), std::string_view("Infinity"), std::string_view("NaN")}) {
      if (text.compare(i, tok.size(), tok) == 0) {
        if (quoted) quoted->emplace_back(buf.size(), tok.size());
        buf += '"';
        buf += tok;
        buf += '"';
        i += tok.size() - 1;
        token = true;
        break;
      }
    }
    if (!token) buf += c;
  }
  return buf;
}

/// The offset in the original text of offset `at` of the quoted copy.
inline std::size_t original_offset(std::size_t at, const std::vector<std::pair<std::size_t, std::size_t>>& quoted) {
  std::size_t shift = 0;
  for (const auto& [open, len] : quoted) {
    if (at <= open) break;
    if (at <= open + len) {  // inside the quoted token
      shift += 1;
      break;
    }
    shift += 2;
  }
  return at - shift;
}

/// Parses `text` (a whole file, or with `line` > 0 that line of it) as JSON in
/// Python's dialect. A syntax error throws InputError(path, ...) naming where:
/// "line 3: not valid JSON: unexpected '}' at column 5" for one line, "not valid
/// JSON: unexpected '}' at byte 40 (line 3, column 5)" for a whole file.
inline nlohmann::json parse_python_json(const std::string& path, std::string_view text, std::size_t line = 0) {
  std::string buf;
  std::vector<std::pair<std::size_t, std::size_t>> quoted;
  const std::string_view parsed = quote_nonfinite(text, buf, &quoted);
  auto where = [line] { return line > 0 ? "line " + std::to_string(line) + ": " : std::string(); };
  try {
    return nlohmann::json::parse(parsed);
  } catch (const nlohmann::json::parse_error& e) {
    // Positions are those of the text as the file holds it.
    std::size_t byte = e.byte;
    if (byte > 0 && byte <= parsed.size()) byte = original_offset(byte - 1, quoted) + 1;
    std::string message;
    if (byte == 0 || byte > text.size() || e.byte > parsed.size()) {
      message = "it ends too early (after byte " + std::to_string(text.size()) + ")";
    } else {
      const auto c = static_cast<unsigned char>(text[byte - 1]);
      static constexpr char hex[] = "0123456789abcdef";
      if (c >= 0x21 && c < 0x7f) message = std::string("unexpected '") + static_cast<char>(c) + "'";
      else if (c == ' ') message = "unexpected space";
      else message = std::string("unexpected byte \\x") + hex[c >> 4] + hex[c & 0xF];
      message += " at " + gradcheck::internal::json_position(text, byte, /*one_line=*/line > 0);
    }
    throw InputError(path, where() + "not valid JSON: " + message);
  } catch (const nlohmann::json::exception& e) {  // out_of_range: a number too large for a double
    throw InputError(path, where() + "not valid JSON: " + gradcheck::internal::json_error_text(parsed, e));
  } catch (const std::bad_alloc&) {
    throw InputError(path, where() + "too large to read as one JSON document (" + std::to_string(text.size()) + " bytes)");
  }
}

/// Reads a whole file as one JSON document (Python's dialect); errors name the
/// file and the place ("not valid JSON: unexpected '}' at byte 40 (line 3,
/// column 5)").
inline nlohmann::json read_json_document(const std::string& path) {
  MappedFile file(path);
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  if (trim_json_space(text).empty()) throw InputError(path, "empty file: no JSON document");
  return parse_python_json(path, text);
}

/// A number, or a string holding one (the quoted NaN and Infinity among them).
inline bool number_of(const nlohmann::json& v, double& out) {
  if (v.is_number()) {
    out = v.get<double>();
    return true;
  }
  if (v.is_string()) return parse_number(trim(v.get_ref<const std::string&>()), out);
  return false;
}

/// An integer step: an integer, or a number with an integral value, within int64.
inline bool step_of(const nlohmann::json& v, std::int64_t& out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return false;
    out = static_cast<std::int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<std::int64_t>();
    return true;
  }
  double d = 0;
  if (!number_of(v, d) || !(d >= -0x1p63 && d < 0x1p63)) return false;  // NaN and out of range (UB to cast)
  out = static_cast<std::int64_t>(d);
  return static_cast<double>(out) == d;
}

/// What a JSON value is, in words for messages: "a string", "a list", ...
inline std::string kind_of(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "a list";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::binary: return "binary data";
    case nlohmann::json::value_t::discarded: return "nothing";
    default: return "a number";
  }
}

/// A JSON key as messages quote it: short, and its control characters shown
/// (InputError escapes what is not UTF-8).
inline std::string shown_key(const std::string& key) {
  std::string s = key.size() > 80 ? key.substr(0, 80) + "..." : key;
  return s;
}

}  // namespace gradcheck::logs::internal
