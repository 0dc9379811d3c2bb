// DVCLive's metrics history: `dvclive/plots/metrics/<name>.tsv`, one file per
// metric logged with Live.log_metric (a name with '/' a sub-folder), each a
// tab-separated table `timestamp  step  <last part of the name>` (the
// timestamp column only when it was asked for).

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "builder.hpp"
#include "formats.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"

namespace gradcheck::logs {
namespace fs = std::filesystem;

namespace internal {

std::optional<fs::path> dvclive_metrics(const fs::path& dir) {
  const fs::path plain = dir.filename().empty() ? dir.parent_path() : dir;  // "dvclive/" names "dvclive"
  const bool is_metrics = plain.filename() == "metrics" && plain.parent_path().filename() == "plots";
  for (const fs::path& metrics : {is_metrics ? plain : dir / "plots" / "metrics", dir / "dvclive" / "plots" / "metrics"}) {
    std::error_code ec;
    if (fs::is_directory(metrics, ec) && !files_below(metrics, ".tsv", 1).empty()) return metrics;
  }
  return std::nullopt;
}

}  // namespace internal

Run read_dvclive(const std::string& path, const ReadOptions& options) {
  const auto metrics = internal::dvclive_metrics(path);
  if (!metrics) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw InputError(path, "cannot open: no such file or directory");
    throw InputError(path, "holds no plots/metrics/*.tsv: not a DVCLive folder");
  }
  internal::RunBuilder builder(path);
  ReadOptions one = options;
  one.step_column.clear();  // each table's own `step`; --step-col picks a metric below
  for (const auto& [name, file] : internal::files_below(*metrics, ".tsv")) {
    const Run table = read_csv(file.string(), one);
    if (table.step_name != "step")
      throw InputError(file.string(), "no step column: a DVCLive metrics table has `step` and the metric");
    std::vector<const Series*> values;
    for (const auto& s : table.series)
      if (s.name != "timestamp") values.push_back(&s);
    for (const Series* s : values) {
      // The table's value column is the metric's last name part; the file's
      // path is its whole name.
      const std::string series = values.size() == 1 ? name : name + "/" + s->name;
      for (std::size_t i = 0; i < s->size(); ++i) builder.add(series, s->steps[i], s->values[i]);
    }
  }
  Run run = builder.take();
  run.step_name = "step";
  if (!options.step_column.empty() && !internal::use_series_as_step(run, options.step_column))
    throw InputError(path, "step metric '" + options.step_column + "' is not in the DVCLive folder");
  return run;
}

}  // namespace gradcheck::logs
