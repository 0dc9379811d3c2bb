#pragma once
// Private: writing JSON reports. Numbers that are not finite are written as
// null (json_number). nlohmann's dump() throws on a string that is not UTF-8
// (a path given on the command line, a name from a file), and its
// error_handler_t::replace would lose the bytes; the project's rule is that
// they are shown as `\xNN` (escape_invalid_utf8), in JSON as in text.

#include <cmath>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "utf8.hpp"

namespace gradcheck::internal {

/// Rewrites, in place, every string value and object key of `j` that is not
/// valid UTF-8 with its bytes escaped. Control characters are left to JSON's
/// own escapes.
template <class Json>
void escape_json_strings(Json& j) {
  if (j.is_string()) {
    auto& s = j.template get_ref<typename Json::string_t&>();
    if (!valid_utf8(s)) s = escape_invalid_utf8(s, /*printable=*/false);
  } else if (j.is_array()) {
    for (auto& v : j) escape_json_strings(v);
  } else if (j.is_object()) {
    bool bad_key = false;
    for (auto it = j.begin(); it != j.end(); ++it) {
      escape_json_strings(it.value());
      bad_key = bad_key || !valid_utf8(it.key());
    }
    if (bad_key) {  // keys cannot be renamed in place: rebuild, keeping the order
      Json fixed = Json::object();
      for (auto it = j.begin(); it != j.end(); ++it)
        fixed[escape_invalid_utf8(it.key(), /*printable=*/false)] = std::move(it.value());
      j = std::move(fixed);
    }
  }
}

/// A number of a report: JSON has no NaN or infinity, so a value that is not
/// finite is written as null (readers take null back as NaN). `Json` is the
/// report's type (nlohmann::json or nlohmann::ordered_json).
template <class Json = nlohmann::json>
Json json_number(double v) {
  return std::isfinite(v) ? Json(v) : Json(nullptr);
}

/// j.dump(indent), never throwing on text that is not UTF-8.
template <class Json>
std::string dump_utf8(Json j, int indent = -1) {
  escape_json_strings(j);
  return j.dump(indent);
}

}  // namespace gradcheck::internal
