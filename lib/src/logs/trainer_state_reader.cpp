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
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
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

namespace {

// A class name's ending, among `endings`.
bool ends_with_any(const std::string& name, std::initializer_list<std::string_view> endings) {
  return std::any_of(endings.begin(), endings.end(), [&](std::string_view e) {
    return name.size() >= e.size() && std::string_view(name).substr(name.size() - e.size()) == e;
  });
}

// A name from a model file as a note shows it: at most 80 bytes (cut at a
// character), in printable UTF-8.
std::string shown_name(const std::string& name) {
  if (name.size() <= 80) return escape_invalid_utf8(name);
  std::size_t cut = 80;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return escape_invalid_utf8(std::string_view(name).substr(0, cut)) + "...";
}

// A positive integer field of `doc` that fits an int, or 0.
int count_field(const nlohmann::json& doc, const char* key) {
  const auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_integer()) return 0;
  const auto v = it->get<std::int64_t>();
  return v > 0 && v <= (std::int64_t{1} << 30) ? static_cast<int>(v) : 0;
}

// The JSON document of a small file beside the log, or nullopt with a note.
std::optional<nlohmann::json> beside(const std::filesystem::path& file, std::vector<std::string>& notes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  const std::string shown = escape_invalid_utf8(file.string());
  constexpr std::uintmax_t kLargest = std::uintmax_t{16} << 20;  // a model's config is a few kB
  const std::uintmax_t size = fs::file_size(file, ec);
  if (ec || size > kLargest) {
    notes.push_back(shown + " is left out: " + (ec ? "its size cannot be read" : "larger than 16 MiB, no model config"));
    return std::nullopt;
  }
  try {
    nlohmann::json doc = internal::read_json_document(file.string());
    if (doc.is_object()) return doc;
    notes.push_back(shown + " is left out: " + internal::kind_of(doc) + ", not a JSON object");
  } catch (const InputError& e) {
    notes.push_back(shown + " is left out: " + e.reason());
  } catch (const std::exception& e) {
    notes.push_back(shown + " is left out: " + escape_invalid_utf8(e.what()));
  }
  return std::nullopt;
}

// Whether a config's `problem_type` is a single-label classification (or unset).
bool single_label(const nlohmann::json& config) {
  const auto problem = config.find("problem_type");
  return problem == config.end() || problem->is_null() ||
         (problem->is_string() && problem->get_ref<const std::string&>() == "single_label_classification");
}

// A language model's `vocab_size`, or its `text_config.vocab_size`; 0 for none.
int vocabulary(const nlohmann::json& config) {
  int vocab = count_field(config, "vocab_size");
  if (vocab == 0)
    if (const auto t = config.find("text_config"); t != config.end() && t->is_object()) vocab = count_field(*t, "vocab_size");
  return vocab;
}

// A language model (class `arch`) predicts one of its vocabulary's tokens:
// that many classes, when the config gives a vocabulary.
void language_model_classes(const nlohmann::json& config, const std::string& arch, const std::string& shown,
                            LogContext& context) {
  const int vocab = vocabulary(config);
  if (vocab <= 1) return;
  context.classes = vocab;
  context.notes.push_back(shown + ": a language model (" + arch + ") over " + std::to_string(vocab) + " tokens, so " +
                          std::to_string(vocab) + " classes (--classes overrides)");
}

// What a model's config (config.json, or the same JSON elsewhere) says of
// the loss: the classes of a language model or a single-label classifier.
// `shown` names where it came from in the notes.
void from_model_config(const nlohmann::json& config, const std::string& shown, LogContext& context) {
  bool language = false, classifier = false;
  std::string arch;
  if (const auto a = config.find("architectures"); a != config.end() && a->is_array()) {
    for (const auto& name : *a) {
      if (!name.is_string()) continue;
      const std::string& n = name.get_ref<const std::string&>();
      const bool lm = ends_with_any(n, {"ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForMaskedLM"});
      const bool cls = ends_with_any(n, {"ForSequenceClassification", "ForTokenClassification",
                                         "ForImageClassification", "ForAudioClassification",
                                         "ForVideoClassification"});
      language = language || lm;
      classifier = classifier || cls;
      if ((lm || cls) && arch.empty()) arch = shown_name(n);
    }
  }
  if (language && !classifier) {
    language_model_classes(config, arch, shown, context);
  } else if (classifier && !language) {
    int labels = 0;
    if (const auto l = config.find("id2label"); l != config.end() && l->is_object())
      labels = static_cast<int>(std::min<std::size_t>(l->size(), std::size_t{1} << 30));
    if (labels == 0) labels = count_field(config, "num_labels");
    // transformers leaves out what is at its default: 2 labels.
    const bool by_default = labels == 0;
    if (by_default) labels = 2;
    if (single_label(config) && labels > 1) {
      context.classes = labels;
      context.notes.push_back(shown + ": a classifier (" + arch + ") of " + std::to_string(labels) + " labels" +
                              (by_default ? " (transformers' default: the config names none)" : "") + ", so " +
                              std::to_string(labels) + " classes (--classes overrides)");
    }
  }
}

// The model's config as the Trainer wrote it into its TensorBoard events at
// the start of training: `architectures` is then the class the checkpoint was
// saved as, not the one trained (a classifier fine-tuned from a masked
// language model's checkpoint still says ...ForMaskedLM). What is decisive:
// an `id2label` (a classification head's labels, written only when they are
// not transformers' default), else a generative language model's class
// (...ForCausalLM, ...LMHeadModel, ...ForConditionalGeneration: its vocabulary;
// a masked language model's checkpoint is mostly a classifier's backbone, with
// a default two-label head that the config does not write).
void from_events_config(const nlohmann::json& config, const std::string& shown, LogContext& context) {
  if (const auto l = config.find("id2label"); l != config.end() && l->is_object() && l->size() >= 2) {
    if (!single_label(config)) return;
    const int labels = static_cast<int>(std::min<std::size_t>(l->size(), std::size_t{1} << 30));
    context.classes = labels;
    context.notes.push_back(shown + ": a classification head of " + std::to_string(labels) + " labels (its id2label), so " +
                            std::to_string(labels) + " classes (--classes overrides)");
    return;
  }
  if (const auto a = config.find("architectures"); a != config.end() && a->is_array()) {
    for (const auto& name : *a) {
      if (!name.is_string()) continue;
      const std::string& n = name.get_ref<const std::string&>();
      if (!ends_with_any(n, {"ForCausalLM", "LMHeadModel", "ForConditionalGeneration"})) continue;
      language_model_classes(config, shown_name(n), shown, context);
      return;
    }
  }
}

}  // namespace

LogContext read_log_context(const std::string& path) {
  namespace fs = std::filesystem;
  LogContext context;
  std::error_code ec;
  fs::path folder;
  const bool directory = fs::is_directory(path, ec);
  const auto state = directory ? internal::trainer_state_in(path, nullptr) : std::nullopt;
  if (state) {
    folder = state->parent_path();
  } else if (!directory && fs::path(path).filename() == "trainer_state.json") {
    folder = fs::path(path).parent_path();
    if (folder.empty()) folder = ".";
  } else {
    // A TensorBoard log the Hugging Face Trainer wrote (an event file, or a
    // folder read as one): its TensorBoard callback records the model's
    // config as the text summary `model_config`.
    // A file is one by its name, as read_log takes it (no other log's head
    // is read again here); a folder by what read_log would read it as.
    bool events = !directory && fs::path(path).filename().string().find("tfevents") != std::string::npos;
    if (directory) {
      try {
        events = detect_log_format(path) == LogFormat::tfevents;
      } catch (const std::exception&) {
      }
    }
    if (!events) return context;
    if (const auto text = internal::tfevents_text(path, "model_config/text_summary")) {
      const std::string shown = escape_invalid_utf8(path) + " (the model_config the Trainer wrote into its events)";
      try {
        const auto config = nlohmann::json::parse(*text);
        if (config.is_object()) from_events_config(config, shown, context);
        else context.notes.push_back(shown + " is left out: not a JSON object");
      } catch (const nlohmann::json::exception&) {
        context.notes.push_back(shown + " is left out: not JSON");
      }
    }
    return context;
  }
  if (const auto config = beside(folder / "config.json", context.notes))
    from_model_config(*config, escape_invalid_utf8((folder / "config.json").string()), context);
  if (const auto adapter = beside(folder / "adapter_config.json", context.notes)) {
    const std::string shown = escape_invalid_utf8((folder / "adapter_config.json").string());
    std::string base, type, task, head;
    auto text = [&](const char* key, std::string& out) {
      if (const auto v = adapter->find(key); v != adapter->end() && v->is_string())
        out = shown_name(v->get_ref<const std::string&>());
    };
    text("base_model_name_or_path", base);
    text("peft_type", type);
    text("task_type", task);
    // Modules trained in full beside the adapter (PEFT's modules_to_save): a
    // classification head, initialised afresh.
    if (const auto m = adapter->find("modules_to_save"); m != adapter->end() && m->is_array()) {
      std::size_t named = 0;
      for (const auto& name : *m) {
        if (!name.is_string()) continue;
        if (++named > 4) {
          head += ", ...";
          break;
        }
        head += (head.empty() ? "" : ", ") + shown_name(name.get_ref<const std::string&>());
      }
    }
    const bool fresh_head = !head.empty() || task == "SEQ_CLS" || task == "TOKEN_CLS" || task == "QUESTION_ANS";
    const std::string what = (type.empty() ? std::string("an adapter") : "a " + type + " adapter") + " over " +
                             (base.empty() ? std::string("a pretrained model") : base);
    if (base.empty() && type.empty()) {
      // Not PEFT's: nothing said.
    } else if (fresh_head) {
      context.notes.push_back(shown + ": " + what + " with a head trained from scratch (" +
                              (head.empty() ? "task " + task : "modules_to_save: " + head) +
                              "): its loss starts where a fresh model's does");
    } else {
      context.base_model = base.empty() ? "a pretrained model" : base;
      context.notes.push_back(shown + ": " + what + ", so the run starts from a trained model");
    }
  }
  return context;
}

}  // namespace gradcheck::logs
