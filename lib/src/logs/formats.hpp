#pragma once
// Private: the JSON-document log formats, read from a parsed document, so that
// a file whose kind is found by looking at its content is parsed once.

#include <cstdint>
#include <cstddef>
#include <utility>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gradcheck/logs/readers.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::logs::internal {

/// Whether `doc` is a Hugging Face TrainerState: an object with `log_history`.
bool looks_like_trainer_state(const nlohmann::json& doc);

/// Whether `doc` is a Keras History dict: a non-empty object whose every value
/// is a list (one value per epoch), or an object keyed by epoch numbers (the
/// same dict saved through pandas' DataFrame.to_json).
bool looks_like_keras_history(const nlohmann::json& doc);

/// Whether `doc` is a list of records: a non-empty array of objects (a
/// trainer's log_history saved on its own, pandas' to_json(orient="records")).
bool looks_like_records(const nlohmann::json& doc);

/// The readers behind read_trainer_state, read_keras_history and
/// read_json_records; errors name `path` and the place in the document.
Run trainer_state_from_json(const std::string& path, const nlohmann::json& doc, const ReadOptions& options);
Run keras_history_from_json(const std::string& path, const nlohmann::json& doc, const ReadOptions& options);
Run records_from_json(const std::string& path, const nlohmann::json& doc, const ReadOptions& options);

/// The trainer_state.json a directory holds: its own, else that of its
/// `checkpoint-N` directory with the highest N (then `note` says which of how
/// many). nullopt when it holds neither.
std::optional<std::filesystem::path> trainer_state_in(const std::filesystem::path& dir, std::string* note);

/// An MLflow run a directory holds or is.
struct MlflowRun {
  std::filesystem::path dir;
  std::string note;  ///< "MLflow run 'name' of experiment 'name'" (names as far as known)
};

/// The MLflow runs of `dir`: itself when it is a run (`meta.yaml` and
/// `metrics/`); the runs of an experiment directory, or of every experiment
/// of a store, in order of experiment and start time, leaving out runs marked
/// deleted and runs without any metric file. nullopt when `dir` is none of
/// these (an experiment or store whose runs are all left out gives an empty
/// list).
std::optional<std::vector<MlflowRun>> mlflow_runs(const std::filesystem::path& dir);

/// The regular files below `dir` (recursively), as (name, path) sorted by
/// name, the name being the path relative to `dir` ('/'-separated) without
/// `extension`; when `extension` is given ("" for any), only files with it.
/// Hidden files are left out and hidden folders not entered; at most `limit`.
std::vector<std::pair<std::string, std::filesystem::path>> files_below(const std::filesystem::path& dir,
                                                                      const std::string& extension = "",
                                                                      std::size_t limit = SIZE_MAX);

/// The DVCLive metrics folder of `dir`: `dir` itself when it is a
/// `plots/metrics` folder, `dir/plots/metrics` (a DVCLive output folder) or
/// `dir/dvclive/plots/metrics` (the project holding it), when it holds a
/// `.tsv` file; nullopt otherwise.
std::optional<std::filesystem::path> dvclive_metrics(const std::filesystem::path& dir);

/// The text of the first text summary tagged `tag` (as `SummaryWriter.add_text`
/// writes it: `<name>/text_summary`, a string tensor) written at step 0,
/// before a file's first event past it, in a TensorBoard event file, or in
/// the event files of a directory in name order; nullopt when there is none,
/// or the files cannot be read (tfevents_reader.cpp).
std::optional<std::string> tfevents_text(const std::string& path, std::string_view tag);

/// Whether `head` (the start of a file) holds a printed training log: a line
/// with a loss as `name: number`, `name=number` or `... loss number`
/// (text_reader.cpp).
bool looks_like_text_log(std::string_view head);

}  // namespace gradcheck::logs::internal
