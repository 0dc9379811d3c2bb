// A Keras History saved as JSON: `model.fit` returns a History whose
// `history` dict maps each metric to its list of per-epoch values ("loss",
// "accuracy", "val_loss", "val_accuracy", "learning_rate"/"lr", ...), which
// people save with json.dump (floats converted from NumPy's), or through
// pandas (pd.DataFrame(history.history).to_json(): each metric an object keyed
// by the epoch index as a string). Hand-made training loops save the same
// shape with an epoch's several metrics as one object ({"train_loss": [...],
// "train_metrics": [{"mse": ..., "mae": ...}, ...]}): each of its numbers is a
// metric of its own, `train_metrics/mse`.
// They also save what describes the run beside the lists ({"backbone":
// "EfficientNet-B0", "classes": ["angry", ...], "test_acc": 72.7,
// "train_loss": [...], ...}): scalars and lists without numbers are left out
// when at least two lists of per-epoch values are there.

#include <nlohmann/json.hpp>
#include <string>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "json_text.hpp"

namespace gradcheck::logs {
namespace {

using json = nlohmann::json;

bool epoch_key(const std::string& key, std::int64_t& epoch) {
  return !key.empty() && key.size() <= 19 && key.find_first_not_of("0123456789") == std::string::npos &&
         internal::parse_step(key, epoch);
}

bool epoch_keyed(const json& v) {
  if (!v.is_object() || v.empty()) return false;
  std::int64_t e = 0;
  for (auto it = v.begin(); it != v.end(); ++it)
    if (!epoch_key(it.key(), e)) return false;
  return true;
}

// Per-epoch values: a list holding a number (or an epoch's metrics as an
// object), or an object keyed by epoch.
bool per_epoch(const json& v) {
  if (epoch_keyed(v)) return true;
  if (!v.is_array()) return false;
  for (const auto& e : v)
    if (e.is_number() || e.is_object()) return true;
  return false;
}

// What a hand-made history saves beside its per-epoch lists: a scalar (the
// backbone, a time stamp, the test accuracy) or a list without numbers (the
// class names). Such a history is one when it holds at least two lists of two
// or more per-epoch values.
bool metadata(const json& v) { return v.is_primitive() || (v.is_array() && !per_epoch(v)); }

bool history_with_metadata(const json& doc) {
  std::size_t lists = 0;
  for (const auto& v : doc) {
    if (per_epoch(v)) lists += v.size() >= 2 ? 1 : 0;
    else if (!metadata(v)) return false;
  }
  return lists >= 2;
}

}  // namespace

namespace internal {

bool looks_like_keras_history(const json& doc) {
  if (!doc.is_object() || doc.empty()) return false;
  bool lists = true;
  for (const auto& v : doc) lists = lists && (v.is_array() || epoch_keyed(v));
  return lists || history_with_metadata(doc);
}

Run keras_history_from_json(const std::string& path, const json& doc, const ReadOptions& options) {
  if (!doc.is_object())
    throw InputError(path, "expected a JSON object of metrics (a Keras History), found " + kind_of(doc));
  RunBuilder builder(path);
  const bool skip_metadata = history_with_metadata(doc);
  for (auto m = doc.begin(); m != doc.end(); ++m) {
    const std::string& name = m.key();
    if (skip_metadata && metadata(*m)) continue;
    // An epoch's metrics as one object: its numbers (nested objects by path),
    // other values (a name, a list) are no metrics.
    auto add_object = [&](auto& self, const json& obj, const std::string& prefix, std::int64_t epoch) -> void {
      for (auto it = obj.begin(); it != obj.end(); ++it) {
        double x = 0;
        if (it->is_object()) self(self, *it, prefix + it.key() + "/", epoch);
        else if (!it->is_boolean() && number_of(*it, x)) builder.add(prefix + it.key(), epoch, x);
      }
    };
    auto add = [&](const json& v, std::int64_t epoch, const std::string& place) {
      if (v.is_null()) return;  // pandas writes a missing value (NaN in its frame) as null
      if (v.is_object()) return add_object(add_object, v, name + "/", epoch);
      double x = 0;
      if (!number_of(v, x)) throw InputError(path, place + ": expected a number, found " + kind_of(v));
      builder.add(name, epoch, x);
    };
    if (m->is_array()) {
      for (std::size_t i = 0; i < m->size(); ++i)
        add((*m)[i], static_cast<std::int64_t>(i), shown_key(name) + "[" + std::to_string(i) + "]");
    } else if (m->is_object()) {
      for (auto e = m->begin(); e != m->end(); ++e) {
        std::int64_t epoch = 0;
        if (!epoch_key(e.key(), epoch))
          throw InputError(path, shown_key(name) + ": key '" + shown_key(e.key()) + "' is not an epoch number");
        add(*e, epoch, shown_key(name) + "[\"" + shown_key(e.key()) + "\"]");
      }
    } else {
      throw InputError(path, shown_key(name) + ": expected a list of per-epoch values, found " + kind_of(*m));
    }
  }
  Run run = builder.take();
  run.step_name = "epoch";
  if (!options.step_column.empty() && !use_series_as_step(run, options.step_column))
    throw InputError(path, "step metric '" + options.step_column + "' is not in the history");
  return run;
}

}  // namespace internal

Run read_keras_history(const std::string& path, const ReadOptions& options) {
  return internal::keras_history_from_json(path, internal::read_json_document(path), options);
}

}  // namespace gradcheck::logs
