#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "../core/json_error.hpp"
#include "builder.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"

namespace gradcheck::logs {
namespace {

using internal::iequals;
using json = nlohmann::json;

// Python's json module writes NaN, Infinity and -Infinity bare, which is not
// JSON; quote them (outside strings) so the parser accepts the line and the
// values survive as strings that parse_number reads back.
std::string_view quote_nonfinite(std::string_view line, std::string& buf) {
  if (line.find("NaN") == std::string_view::npos && line.find("Infinity") == std::string_view::npos) return line;
  buf.clear();
  bool in_string = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      buf += c;
      if (c == '\\' && i + 1 < line.size()) buf += line[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      buf += c;
      continue;
    }
    for (std::string_view tok : {std::string_view("-Infinity"), std::string_view("Infinity"), std::string_view("NaN")}) {
      if (line.compare(i, tok.size(), tok) == 0) {
        buf += '"';
        buf += tok;
        buf += '"';
        i += tok.size() - 1;
        goto next;
      }
    }
    buf += c;
  next:;
  }
  return buf;
}

std::string split_prefix(const json& record) {
  for (const char* key : {"split", "phase", "mode", "stage", "subset"}) {
    auto it = record.find(key);
    if (it == record.end() || !it->is_string()) continue;
    const std::string v = it->get<std::string>();
    if (iequals(v, "val") || iequals(v, "valid") || iequals(v, "validation") || iequals(v, "eval") ||
        iequals(v, "evaluation") || iequals(v, "dev"))
      return "val_";
    if (iequals(v, "test")) return "test_";
    return "";
  }
  return "";
}

bool value_of(const json& v, double& out) {
  if (v.is_number()) {
    out = v.get<double>();
    return true;
  }
  if (v.is_string()) return internal::parse_number(internal::trim(v.get_ref<const std::string&>()), out);
  return false;
}

// `skip_key` (the step key) is skipped at the top level only.
void add_values(internal::RunBuilder& builder, const json& obj, const std::string& prefix, std::int64_t step,
                const std::string& skip_key) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!skip_key.empty() && it.key() == skip_key) continue;
    const std::string name = prefix + it.key();
    if (it->is_object()) {
      add_values(builder, *it, name + "/", step, std::string());
      continue;
    }
    double v = 0;
    if (value_of(*it, v)) builder.add(name, step, v);
  }
}

}  // namespace

Run read_jsonl(const std::string& path, const ReadOptions& options) {
  MappedFile file(path);
  const char* data = reinterpret_cast<const char*>(file.data());
  const std::size_t size = file.size();
  internal::RunBuilder builder(path);
  std::string buf;
  std::string used_step;
  std::size_t pos = 0, line_no = 0;
  std::int64_t index = -1;
  while (pos < size) {
    const void* nl = std::memchr(data + pos, '\n', size - pos);
    const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
    std::string_view line = internal::trim(std::string_view(data + pos, end - pos));
    pos = nl ? end + 1 : size;
    ++line_no;
    if (line.empty()) continue;
    ++index;
    json record;
    std::string_view parsed;
    try {
      parsed = quote_nonfinite(line, buf);
      record = json::parse(parsed);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for a number overflow
      throw InputError(path, "line " + std::to_string(line_no) + ": not valid JSON: " +
                                 gradcheck::internal::json_error_text(parsed, e, /*one_line=*/true));
    }
    if (!record.is_object())
      throw InputError(path, "line " + std::to_string(line_no) + ": expected a JSON object, found " +
                                 std::string(record.type_name()));
    std::string step_key;
    if (!options.step_column.empty()) {
      step_key = options.step_column;
    } else {
      for (auto name : internal::kStepNames)
        if (record.contains(std::string(name))) {
          step_key = name;
          break;
        }
    }
    std::int64_t step = index;
    if (!step_key.empty()) {
      auto it = record.find(step_key);
      if (it != record.end() && !it->is_null()) {
        double d = 0;
        if (it->is_number_integer()) {
          step = it->get<std::int64_t>();
        } else if (!value_of(*it, d) || !(d >= -0x1p63 && d < 0x1p63) ||  // NaN and out of range (UB to cast)
                   d != static_cast<double>(static_cast<std::int64_t>(d))) {
          throw InputError(path, "line " + std::to_string(line_no) + ": step '" + it->dump() + "' in key '" +
                                     step_key + "' is not an integer");
        } else {
          step = static_cast<std::int64_t>(d);
        }
        if (used_step.empty()) used_step = step_key;
      }
    }
    add_values(builder, record, split_prefix(record), step, step_key);
  }
  if (!options.step_column.empty() && used_step.empty())
    throw InputError(path, "step key '" + options.step_column + "' is in no record");
  Run run = builder.take();
  run.step_name = used_step;
  return run;
}

}  // namespace gradcheck::logs
