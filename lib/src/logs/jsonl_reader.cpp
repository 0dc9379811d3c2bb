#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "builder.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"
#include "formats.hpp"
#include "json_text.hpp"

namespace gradcheck::logs {
namespace {

using json = nlohmann::json;

std::string split_prefix(const json& record) {
  for (const char* key : {"split", "phase", "mode", "stage", "subset"}) {
    auto it = record.find(key);
    if (it == record.end() || !it->is_string()) continue;
    return internal::split_prefix(it->get<std::string>());
  }
  return "";
}

// W&B's own bookkeeping beside its `_step`: wall-clock time, not metrics.
bool is_wandb_bookkeeping(const std::string& key) {
  return key == "_runtime" || key == "_timestamp" || key == "_wandb";
}

// `skip_key` (the step key) is skipped at the top level only, and so is W&B's
// bookkeeping when the step is W&B's `_step`. A nested object with a `_type`
// is a W&B media or histogram object, not metrics.
void add_values(internal::RunBuilder& builder, const json& obj, const std::string& prefix, std::int64_t step,
                const std::string& skip_key) {
  const bool wandb = skip_key == "_step";
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!skip_key.empty() && it.key() == skip_key) continue;
    if (wandb && is_wandb_bookkeeping(it.key())) continue;
    const std::string name = prefix + it.key();
    if (it->is_object()) {
      const auto type = it->find("_type");
      if (type == it->end() || !type->is_string()) add_values(builder, *it, name + "/", step, std::string());
      continue;
    }
    double v = 0;
    if (internal::number_of(*it, v)) builder.add(name, step, v);
  }
}

// Where a record is, for messages: "line 3" of a JSONL file, "[2]" of a list.
struct Place {
  bool line;
  std::size_t n;
  std::string str() const { return line ? "line " + std::to_string(n) : "[" + std::to_string(n) + "]"; }
};

// One record (a JSONL line, an element of a list of records): its metrics at
// its step, or at `index` without one.
void add_record(internal::RunBuilder& builder, const json& record, std::int64_t index, const ReadOptions& options,
                std::string& used_step, const std::string& path, Place place) {
  if (!record.is_object())
    throw InputError(path, place.str() + ": expected a JSON object, found " + std::string(record.type_name()));
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
      if (!internal::step_of(*it, step))
        throw InputError(path, place.str() + ": step '" + it->dump() + "' in key '" + step_key + "' is not an integer");
      if (used_step.empty()) used_step = step_key;
    }
  }
  add_values(builder, record, split_prefix(record), step, step_key);
}

Run finish(internal::RunBuilder& builder, const std::string& used_step, const std::string& path,
           const ReadOptions& options) {
  if (!options.step_column.empty() && used_step.empty())
    throw InputError(path, "step key '" + options.step_column + "' is in no record");
  Run run = builder.take();
  run.step_name = used_step;
  return run;
}

}  // namespace

namespace internal {

bool looks_like_records(const json& doc) {
  if (!doc.is_array() || doc.empty()) return false;
  for (const auto& e : doc)
    if (!e.is_object()) return false;
  return true;
}

Run records_from_json(const std::string& path, const json& doc, const ReadOptions& options) {
  if (!doc.is_array()) throw InputError(path, "expected a list of records, found " + internal::kind_of(doc));
  internal::RunBuilder builder(path);
  std::string used_step;
  for (std::size_t i = 0; i < doc.size(); ++i)
    add_record(builder, doc[i], static_cast<std::int64_t>(i), options, used_step, path, Place{false, i});
  return finish(builder, used_step, path, options);
}

}  // namespace internal

Run read_jsonl(const std::string& path, const ReadOptions& options) {
  MappedFile file(path);
  const char* data = reinterpret_cast<const char*>(file.data());
  const std::size_t size = file.size();
  internal::RunBuilder builder(path);
  std::string used_step;
  // A UTF-8 byte order mark opens the file, not its first record (which may
  // start on a later line).
  std::size_t pos = size >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0, line_no = 0;
  std::int64_t index = -1;
  while (pos < size) {
    const void* nl = std::memchr(data + pos, '\n', size - pos);
    const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
    std::string_view line = internal::trim(std::string_view(data + pos, end - pos));
    pos = nl ? end + 1 : size;
    ++line_no;
    if (line.empty()) continue;
    ++index;
    const json record = internal::parse_python_json(path, line, line_no);
    add_record(builder, record, index, options, used_step, path, Place{true, line_no});
  }
  return finish(builder, used_step, path, options);
}

}  // namespace gradcheck::logs
