#pragma once
// Private: strict JSON parsing for readers (nlohmann_json stays out of public headers).

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/json_error.hpp"
#include "gradcheck/errors.hpp"

namespace gradcheck::weights {

/// Parses `text` as JSON, refusing invalid UTF-8, trailing garbage and duplicate
/// keys (a duplicate would let two readers see two different tensors).
/// `what` names the part of `file` in messages ("header", "index").
inline nlohmann::json parse_json_strict(const std::string& file, std::string_view text, const char* what) {
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) keys.emplace_back();
    else if (event == E::object_end) keys.pop_back();
    else if (event == E::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
             duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file, std::string("the ") + what + " is not valid JSON: " + internal::json_error_text(text, e));
  }
  if (!duplicate.empty()) throw InputError(file, std::string("the ") + what + " has the key \"" + duplicate + "\" twice");
  return j;
}

}  // namespace gradcheck::weights
