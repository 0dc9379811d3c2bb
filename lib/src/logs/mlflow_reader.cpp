// MLflow's file store (mlflow.store.tracking.file_store.FileStore, the
// `mlruns/` folder of a local tracking URI):
//
//   mlruns/<experiment_id>/meta.yaml             name: Default, lifecycle_stage, ...
//   mlruns/<experiment_id>/<run_id>/meta.yaml    run_name, start_time, lifecycle_stage, ...
//   mlruns/<experiment_id>/<run_id>/metrics/<metric name>
//   mlruns/<experiment_id>/<run_id>/tags/mlflow.runName
//
// A metric's file gets one line per logged value, "<timestamp ms> <value>
// <step>\n" (FileStore._log_run_metric); a name holding '/' is a path below
// metrics/. Early MLflow wrote "<timestamp> <value>", which MLflow reads as
// step 0. Deleted experiments move to mlruns/.trash/; a deleted run stays with
// lifecycle_stage: deleted.

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/mapped_file.hpp"

namespace gradcheck::logs {
namespace {

namespace fs = std::filesystem;

// File text quoted in a message: short, with control characters shown
// (InputError escapes them and what is not UTF-8).
std::string shown(std::string_view s) {
  return std::string(s.substr(0, 40)) + (s.size() > 40 ? "..." : "");
}

void read_metric_file(const fs::path& file, const std::string& name, internal::RunBuilder& builder) {
  const std::string path = file.string();
  MappedFile mapped(path);
  const char* data = reinterpret_cast<const char*>(mapped.data());
  const std::size_t size = mapped.size();
  Series* series = nullptr;  // created at the first point, as the other readers do
  std::size_t pos = 0, line_no = 0;
  std::string_view fields[4];
  while (pos < size) {
    const void* nl = std::memchr(data + pos, '\n', size - pos);
    const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data) : size;
    const std::string_view line = internal::trim(std::string_view(data + pos, end - pos));
    pos = nl ? end + 1 : size;
    ++line_no;
    if (line.empty()) continue;
    // Fields are separated by one space as MLflow writes them; runs of blanks are accepted.
    std::size_t n = 0, i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (n < 4) fields[n] = line.substr(start, i - start);
      ++n;
    }
    auto fail = [&](const std::string& why) {
      throw InputError(path, "line " + std::to_string(line_no) + ": " + why);
    };
    if (n != 2 && n != 3)
      fail("expected 'timestamp value step', found " + std::to_string(n) + (n == 1 ? " field" : " fields"));
    std::int64_t timestamp = 0, step = 0;
    double value = 0;
    if (!internal::parse_step(fields[0], timestamp)) fail("timestamp '" + shown(fields[0]) + "' is not an integer");
    if (!internal::parse_number(fields[1], value)) fail("value '" + shown(fields[1]) + "' is not a number");
    if (n == 3 && !internal::parse_step(fields[2], step)) fail("step '" + shown(fields[2]) + "' is not an integer");
    if (series == nullptr) series = &builder.series(name);
    series->steps.push_back(step);
    series->values.push_back(value);
  }
}


// `key: value` lines of a meta.yaml as MLflow writes them (yaml.safe_dump of
// a flat dict): the value of `key`, unquoted, or nullopt.
struct Meta {
  std::string name, run_name, lifecycle_stage;
  std::int64_t start_time = 0;
};

std::string unquote(std::string_view v) {
  v = internal::trim(v);
  if (v.size() >= 2 && ((v.front() == '\'' && v.back() == '\'') || (v.front() == '"' && v.back() == '"'))) {
    std::string out(v.substr(1, v.size() - 2));
    if (v.front() == '\'')  // '' is a quote inside single quotes
      for (std::size_t p = out.find("''"); p != std::string::npos; p = out.find("''", p + 1)) out.erase(p, 1);
    return out;
  }
  return std::string(v);
}

Meta read_meta(const fs::path& file) {
  Meta meta;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (std::size_t{1} << 20) || ec) return meta;
  try {
    MappedFile mapped(file.string());
    const std::string_view text(reinterpret_cast<const char*>(mapped.data()), mapped.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      const std::size_t colon = line.find(": ");
      if (colon == std::string_view::npos || line.empty() || line[0] == ' ') continue;
      const std::string_view key = line.substr(0, colon), value = line.substr(colon + 2);
      if (key == "name") meta.name = unquote(value);
      else if (key == "run_name") meta.run_name = unquote(value);
      else if (key == "lifecycle_stage") meta.lifecycle_stage = unquote(value);
      else if (key == "start_time") (void)internal::parse_step(internal::trim(value), meta.start_time);
    }
  } catch (const InputError&) {
    // An unreadable meta.yaml only costs the names in a note.
  }
  return meta;
}

std::string read_small_text(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > 4096 || ec) return {};
  try {
    MappedFile mapped(file.string());
    return std::string(internal::trim(std::string_view(reinterpret_cast<const char*>(mapped.data()), mapped.size())));
  } catch (const InputError&) {
    return {};
  }
}

bool is_run(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "meta.yaml", ec) && fs::is_directory(dir / "metrics", ec);
}

// The runs directly below `dir`.
std::vector<fs::path> runs_below(const fs::path& dir) {
  std::vector<fs::path> runs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code dec;
    if (it->is_directory(dec) && is_run(it->path())) runs.push_back(it->path());
  }
  return runs;
}

std::string run_note(const Meta& run, const fs::path& run_dir, const std::string& experiment) {
  std::string name = run.run_name.empty() ? read_small_text(run_dir / "tags" / "mlflow.runName") : run.run_name;
  if (name.size() > 200) name = name.substr(0, 200) + "...";
  std::string note = "MLflow run " + (name.empty() ? run_dir.filename().string() : "'" + name + "'");
  if (!experiment.empty()) note += " of experiment '" + experiment.substr(0, 200) + "'";
  return escape_invalid_utf8(note);
}

// Experiments sort by their id, numerically when it is a number.
bool experiment_less(const fs::path& a, const fs::path& b) {
  const std::string x = a.filename().string(), y = b.filename().string();
  const bool nx = !x.empty() && x.find_first_not_of("0123456789") == std::string::npos;
  const bool ny = !y.empty() && y.find_first_not_of("0123456789") == std::string::npos;
  if (nx != ny) return nx;
  if (nx && x.size() != y.size()) return x.size() < y.size();
  return x < y;
}

}  // namespace

namespace internal {

std::optional<std::vector<MlflowRun>> mlflow_runs(const fs::path& given) {
  std::error_code ec;
  if (!fs::is_directory(given, ec)) return std::nullopt;
  const fs::path dir = given.has_filename() ? given : given.parent_path();  // "mlruns/0/" names "mlruns/0"
  if (is_run(dir)) {
    const std::string experiment = read_meta(dir.parent_path() / "meta.yaml").name;
    return std::vector<MlflowRun>{{given, run_note(read_meta(dir / "meta.yaml"), dir, experiment)}};
  }
  // An experiment (runs below it), else a store (experiments below it).
  std::vector<fs::path> experiments;
  if (!runs_below(dir).empty()) {
    experiments.push_back(dir);
  } else {
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code dec;
      if (name.empty() || name[0] == '.' || !it->is_directory(dec)) continue;  // .trash: deleted experiments
      if (!runs_below(it->path()).empty()) experiments.push_back(it->path());
    }
    if (experiments.empty()) return std::nullopt;
    std::sort(experiments.begin(), experiments.end(), experiment_less);
  }
  std::vector<MlflowRun> out;
  for (const auto& experiment : experiments) {
    const Meta exp_meta = read_meta(experiment / "meta.yaml");
    if (exp_meta.lifecycle_stage == "deleted") continue;
    std::vector<std::tuple<std::int64_t, fs::path, std::string>> runs;  // by start time, then id
    for (const auto& run_dir : runs_below(experiment)) {
      const Meta meta = read_meta(run_dir / "meta.yaml");
      if (meta.lifecycle_stage == "deleted" || internal::files_below(run_dir / "metrics", "", 1).empty()) continue;
      runs.emplace_back(meta.start_time, run_dir, run_note(meta, run_dir, exp_meta.name));
    }
    std::sort(runs.begin(), runs.end());
    for (auto& [start, run_dir, note] : runs) out.push_back({run_dir, note});
  }
  return out;
}

}  // namespace internal

Run read_mlflow_run(const std::string& run_dir, const ReadOptions& options) {
  const fs::path metrics = fs::path(run_dir) / "metrics";
  std::error_code ec;
  if (!fs::is_directory(metrics, ec)) {
    if (!fs::exists(run_dir, ec)) throw InputError(run_dir, "cannot open: no such file or directory");
    throw InputError(run_dir, "no metrics folder: not an MLflow run");
  }
  const auto files = internal::files_below(metrics);
  if (files.empty()) throw InputError(run_dir, "metrics/ holds no metric file: the run logged no metric");
  internal::RunBuilder builder(run_dir);
  for (const auto& [name, file] : files) read_metric_file(file, name, builder);
  Run run = builder.take();
  run.step_name = "step";
  if (!options.step_column.empty() && !internal::use_series_as_step(run, options.step_column))
    throw InputError(run_dir, "step metric '" + options.step_column + "' is not in the run");
  return run;
}

}  // namespace gradcheck::logs
