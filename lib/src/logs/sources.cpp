// Which reader a path needs, by name and content, and what a path holds as
// logs (an MLflow store holds many runs; a Hugging Face output folder, the
// state of its latest checkpoint; PyTorch Lightning's CSVLogger folder
// `lightning_logs/`, a `version_N/metrics.csv` for each run).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"
#include "json_text.hpp"

namespace gradcheck::logs {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// A JSON file, looked at for its kind; with `run` given it is read too (a
// document is parsed once). Only reading throws.
LogFormat json_log(const std::string& path, bool jsonl_name, const ReadOptions& options, Run* run) {
  std::optional<MappedFile> file;
  try {
    file.emplace(path);
  } catch (const InputError&) {
    if (run) throw;
    return LogFormat::jsonl;
  }
  const std::string_view all(reinterpret_cast<const char*>(file->data()), file->size());
  const std::string_view text = internal::trim_json_space(all);
  auto jsonl = [&] {
    if (run) *run = read_jsonl(path, options);
    return LogFormat::jsonl;
  };
  auto document = [&](LogFormat format, const json& doc) {
    if (run) {
      if (format == LogFormat::trainer_state) *run = internal::trainer_state_from_json(path, doc, options);
      else if (format == LogFormat::keras_history) *run = internal::keras_history_from_json(path, doc, options);
      else *run = internal::records_from_json(path, doc, options);
    }
    return format;
  };
  if (text.empty() || (text.front() != '{' && text.front() != '[')) return jsonl();  // JSONL says what is wrong
  // The first line: a whole JSON object is a record of JSON Lines, unless it is
  // all the file holds and a document of one of the other kinds.
  const std::size_t eol = text.find('\n');
  const std::string_view first = internal::trim_json_space(text.substr(0, eol));
  if (text.front() == '{') {
    json record;
    try {
      record = internal::parse_python_json(path, first, 1);
    } catch (const InputError&) {
      record = json(json::value_t::discarded);
    }
    if (record.is_object()) {
      if (eol == std::string_view::npos) {
        if (internal::looks_like_trainer_state(record)) return document(LogFormat::trainer_state, record);
        if (internal::looks_like_keras_history(record)) return document(LogFormat::keras_history, record);
      }
      return jsonl();
    }
  }
  // A JSON document over several lines (a pretty-printed trainer_state.json,
  // Keras History or list of records).
  json doc;
  try {
    doc = internal::parse_python_json(path, text);
  } catch (const InputError&) {
    if (jsonl_name || !run) return jsonl();  // a .jsonl file: its lines say what is wrong
    throw;
  }
  if (internal::looks_like_trainer_state(doc)) return document(LogFormat::trainer_state, doc);
  if (internal::looks_like_keras_history(doc)) return document(LogFormat::keras_history, doc);
  if (internal::looks_like_records(doc)) return document(LogFormat::json_records, doc);
  if (run)
    throw InputError(path, "a JSON document that is no training log known here: not a trainer_state.json "
                           "(log_history), a Keras History (a list of values per metric), a list of records, "
                           "nor JSON Lines (one object per line)");
  return LogFormat::jsonl;
}

// Whether the file's first character, after a UTF-8 byte order mark and
// white space, is '{'; false for a file that cannot be opened.
bool starts_with_brace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[4096];
  in.read(buf, sizeof buf);
  const std::string_view head(buf, static_cast<std::size_t>(in.gcount()));
  std::size_t i = head.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (i < head.size() && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) ++i;
  return i < head.size() && head[i] == '{';
}

// Whether the start of the file holds a printed training log
// (internal::looks_like_text_log); false for a file that cannot be opened.
bool printed_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(std::size_t{1} << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return internal::looks_like_text_log(head);
}

// A file's format; with `run` given, the file is read too.
LogFormat file_log(const std::string& path, const ReadOptions& options, Run* run) {
  const fs::path p(path);
  const std::string name = p.filename().string();
  if (name.find("tfevents") != std::string::npos) {
    if (run) *run = read_tfevents(path, options);
    return LogFormat::tfevents;
  }
  if (name == "trainer_state.json") {
    if (run) *run = read_trainer_state(path, options);
    return LogFormat::trainer_state;
  }
  const std::string ext = lower(p.extension().string());
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return json_log(path, ext != ".json", options, run);
  // Under any other name but .csv and .tsv, a file whose first character is
  // '{' holds JSON (DETR's and timm's `log.txt`, one JSON object per epoch): no
  // CSV header starts with a brace.
  if (ext != ".csv" && ext != ".tsv" && starts_with_brace(path)) return json_log(path, true, options, run);
  // Under any other name, a file whose first MiB holds a line with a loss
  // printed as `loss: 0.52` or `loss=0.52` is a training loop's output: no
  // CSV line holds a name, ':' or '=' and a number in one cell.
  if (ext != ".csv" && ext != ".tsv" && printed_log(path)) {
    if (run) *run = read_text_log(path, options);
    return LogFormat::text;
  }
  if (run) {
    try {
      *run = read_csv(path, options);
    } catch (const InputError& e) {
      // A file named otherwise that is no table (a printed log without a
      // loss, a README) says what it was read as.
      if (ext == ".csv" || ext == ".tsv" || e.reason().find("line ") != 0) throw;
      throw InputError(path, e.reason() + " (read as CSV: no line in its first MiB prints a loss as "
                                          "'loss: 0.52' or 'loss=0.52', which a training loop's printed output would)");
    }
  }
  return LogFormat::csv;
}

// PyTorch Lightning's CSVLogger writes <save_dir>/<name>/version_N/metrics.csv.
// A folder holding metrics.csv is that run; otherwise each of its folders
// that holds one (version_2 before version_10), when it holds no TensorBoard
// events of its own (a TensorBoard folder's runs are read together).
struct CsvRuns {
  std::vector<fs::path> files;
  bool own = false;  // the folder's own metrics.csv
};

bool number_order(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    std::size_t k = s.size();
    while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9') --k;
    const std::string digits = s.substr(k).substr(0, 18);
    return std::pair{s.substr(0, k), digits.empty() ? -1LL : std::stoll(digits)};
  };
  const auto [pa, na] = split(a);
  const auto [pb, nb] = split(b);
  return pa != pb ? pa < pb : na != nb ? na < nb : a < b;
}

CsvRuns lightning_csv_runs(const fs::path& dir) {
  CsvRuns out;
  std::error_code ec;
  if (fs::is_regular_file(dir / "metrics.csv", ec)) {
    out.files.push_back(dir / "metrics.csv");
    out.own = true;
    return out;
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code fec;
    const std::string name = it->path().filename().string();
    if (name.find("tfevents") != std::string::npos) return {};
    if (!name.empty() && name[0] != '.' && it->is_directory(fec) && fs::is_regular_file(it->path() / "metrics.csv", fec))
      names.push_back(name);
  }
  std::sort(names.begin(), names.end(), number_order);
  for (const auto& n : names) out.files.push_back(dir / n / "metrics.csv");
  return out;
}

}  // namespace

namespace internal {

std::vector<std::pair<std::string, fs::path>> files_below(const fs::path& dir, const std::string& extension,
                                                          std::size_t limit) {
  std::vector<std::pair<std::string, fs::path>> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end && out.size() < limit; it.increment(ec)) {
    const std::string leaf = it->path().filename().string();
    if (!leaf.empty() && leaf[0] == '.') {  // .DS_Store and the like; a hidden folder is not entered
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    std::error_code fec;
    if (!extension.empty() && it->path().extension() != extension) continue;
    if (!fs::is_regular_file(it->path(), fec)) continue;  // folders, and no FIFO or device is ever opened
    fs::path rel = fs::relative(it->path(), dir, fec);
    if (!extension.empty()) rel.replace_extension();
    std::string name = rel.generic_string();
    if (fec || name.empty()) continue;
    out.emplace_back(std::move(name), it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace internal

const char* format_name(LogFormat format) {
  switch (format) {
    case LogFormat::csv: return "CSV";
    case LogFormat::jsonl: return "JSON Lines";
    case LogFormat::tfevents: return "TensorBoard events";
    case LogFormat::trainer_state: return "Hugging Face trainer_state.json";
    case LogFormat::keras_history: return "Keras History";
    case LogFormat::json_records: return "JSON list of records";
    case LogFormat::mlflow: return "MLflow runs";
    case LogFormat::dvclive: return "DVCLive metrics";
    case LogFormat::text: return "printed training log";
  }
  return "?";
}

LogFormat detect_log_format(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (internal::trainer_state_in(path, nullptr)) return LogFormat::trainer_state;
    if (internal::mlflow_runs(path)) return LogFormat::mlflow;
    if (internal::dvclive_metrics(path)) return LogFormat::dvclive;
    if (const auto csv = lightning_csv_runs(path); !csv.files.empty()) return file_log(csv.files[0].string(), {}, nullptr);
    return LogFormat::tfevents;
  }
  return file_log(path, {}, nullptr);
}

Run read_log(const std::string& path, const ReadOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    Run run;
    file_log(path, options, &run);
    return run;
  }
  if (internal::trainer_state_in(path, nullptr)) return read_trainer_state(path, options);
  if (const auto runs = internal::mlflow_runs(path)) {
    if (runs->size() == 1) {
      Run run = read_mlflow_run((*runs)[0].dir.string(), options);
      run.source = path;
      return run;
    }
    if (runs->empty()) throw InputError(path, "holds no MLflow run with metrics (deleted runs are left out)");
    throw InputError(path, "holds " + std::to_string(runs->size()) +
                               " MLflow runs: give one run's folder (expand_log_sources lists them)");
  }
  if (internal::dvclive_metrics(path)) return read_dvclive(path, options);
  if (const auto csv = lightning_csv_runs(path); !csv.files.empty()) {
    if (csv.files.size() > 1)
      throw InputError(path, "holds " + std::to_string(csv.files.size()) + " CSVLogger runs (" +
                                 csv.files.front().parent_path().filename().string() + " to " +
                                 csv.files.back().parent_path().filename().string() +
                                 "): give one run's folder (expand_log_sources lists them)");
    Run run;
    file_log(csv.files[0].string(), options, &run);
    return run;
  }
  return read_tfevents(path, options);
}

std::vector<LogSource> expand_log_sources(const std::vector<std::string>& paths) {
  std::vector<LogSource> out;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back({path, {}});
      continue;
    }
    std::string note;
    if (const auto state = internal::trainer_state_in(path, &note)) {
      // The folder's own trainer_state.json is read as the folder; a checkpoint's is named.
      if (note.empty()) out.push_back({path, {}});
      else out.push_back({state->string(), note});
      continue;
    }
    if (const auto runs = internal::mlflow_runs(path); runs && !runs->empty()) {
      for (const auto& run : *runs) out.push_back({run.dir.string(), run.note});
      continue;
    }
    if (const auto csv = lightning_csv_runs(path); !csv.files.empty()) {
      // The folder's own metrics.csv is read as the folder; a version's is named.
      if (csv.own) {
        out.push_back({path, {}});
        continue;
      }
      for (const auto& f : csv.files)
        out.push_back({f.string(), csv.files.size() == 1
                                       ? std::string()
                                       : f.parent_path().filename().string() + ", one of " +
                                             std::to_string(csv.files.size()) + " CSVLogger runs in " + path});
      continue;
    }
    out.push_back({path, {}});
  }
  return out;
}

}  // namespace gradcheck::logs
