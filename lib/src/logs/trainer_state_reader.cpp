// Hugging Face Trainer's trainer_state.json: the TrainerState dataclass written
// by TrainerState.save_to_json (json.dumps(asdict(state), indent=2,
// sort_keys=True), so NaN and Infinity are bare). Its `log_history` is the list
// of what Trainer.log recorded, each entry a dict with the global `step`:
// training entries ({epoch, grad_norm, learning_rate, loss, step}), evaluation
// entries at the same step ({epoch, eval_loss, eval_runtime, ..., step}) and a
// final summary ({epoch, step, total_flos, train_loss, train_runtime, ...}).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"
#include "json_text.hpp"

namespace gradcheck::logs {
namespace {

using json = nlohmann::json;

// Keys the Trainer itself writes as numbers: anything else there is a broken file.
bool is_trainer_number(const std::string& key) {
  return key == "loss" || key == "eval_loss" || key == "grad_norm" || key == "learning_rate" || key == "epoch" ||
         key == "train_loss";
}

}  // namespace

namespace internal {

bool looks_like_trainer_state(const json& doc) { return doc.is_object() && doc.contains("log_history"); }

Run trainer_state_from_json(const std::string& path, const json& doc, const ReadOptions& options) {
  if (!doc.is_object())
    throw InputError(path, "expected a JSON object with log_history (a trainer_state.json), found " + kind_of(doc));
  const auto history = doc.find("log_history");
  if (history == doc.end()) throw InputError(path, "no log_history: not a Hugging Face trainer_state.json");
  if (!history->is_array()) throw InputError(path, "log_history: expected a list, found " + kind_of(*history));
  const std::string step_key = options.step_column.empty() ? "step" : options.step_column;
  RunBuilder builder(path);
  for (std::size_t i = 0; i < history->size(); ++i) {
    const json& entry = (*history)[i];
    auto at = [&] { return "log_history[" + std::to_string(i) + "]"; };
    if (!entry.is_object()) throw InputError(path, at() + ": expected an object, found " + kind_of(entry));
    const auto s = entry.find(step_key);
    if (s == entry.end() || s->is_null()) throw InputError(path, at() + ": no " + shown_key(step_key));
    std::int64_t step = 0;
    if (!step_of(*s, step))
      throw InputError(path, at() + "." + shown_key(step_key) + ": expected an integer step, found " +
                                 (s->is_number() || s->is_string() ? "'" + s->dump() + "'" : kind_of(*s)));
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      const std::string& key = it.key();
      if (key == step_key || it->is_null()) continue;
      double v = 0;
      if (!number_of(*it, v)) {
        if (is_trainer_number(key))
          throw InputError(path, at() + "." + shown_key(key) + ": expected a number, found " + kind_of(*it));
        continue;  // text or lists a compute_metrics returned: not a curve
      }
      Series& series = builder.series(key);
      // Training and evaluation entries at one step both carry the epoch: once is enough.
      if (key == "epoch" && !series.steps.empty() && series.steps.back() == step && series.values.back() == v)
        continue;
      series.steps.push_back(step);
      series.values.push_back(v);
    }
  }
  Run run = builder.take();
  run.step_name = escape_invalid_utf8(step_key);
  return run;
}

std::optional<std::filesystem::path> trainer_state_in(const std::filesystem::path& dir, std::string* note) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(dir / "trainer_state.json", ec)) return dir / "trainer_state.json";
  // Checkpoints as the Trainer names them (PREFIX_CHECKPOINT_DIR-global_step)
  // and finds the last one (transformers' get_last_checkpoint).
  std::vector<std::pair<std::uint64_t, std::string>> checkpoints;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || name.size() == 11 || name.size() > 30 ||
        name.find_first_not_of("0123456789", 11) != std::string::npos)
      continue;
    std::error_code fec;
    if (!fs::is_regular_file(it->path() / "trainer_state.json", fec)) continue;
    checkpoints.emplace_back(std::stoull(name.substr(11)), name);
  }
  if (checkpoints.empty()) return std::nullopt;
  std::sort(checkpoints.begin(), checkpoints.end());
  const std::string& latest = checkpoints.back().second;
  if (note != nullptr) {
    std::string list;
    for (std::size_t i = 0; i < checkpoints.size(); ++i) {
      if (checkpoints.size() > 6 && i == 3) {
        list += ", ...";
        i = checkpoints.size() - 3;
      }
      list += (list.empty() ? "" : ", ") + checkpoints[i].second;
    }
    *note = checkpoints.size() == 1
                ? latest + " is the only checkpoint in " + dir.string()
                : latest + " is the latest of the " + std::to_string(checkpoints.size()) + " checkpoints in " +
                      dir.string() + " (" + list + ")";
    *note = escape_invalid_utf8(*note);
  }
  return dir / latest / "trainer_state.json";
}

}  // namespace internal

Run read_trainer_state(const std::string& path, const ReadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string file = path;
  if (fs::is_directory(path, ec)) {
    const auto found = internal::trainer_state_in(path, nullptr);
    if (!found) throw InputError(path, "holds no trainer_state.json and no checkpoint-N folder holding one");
    file = found->string();
  }
  Run run = internal::trainer_state_from_json(file, internal::read_json_document(file), options);
  run.source = path;
  return run;
}

}  // namespace gradcheck::logs
