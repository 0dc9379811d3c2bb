#pragma once
// Private helpers shared by the log readers.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gradcheck/logs/run.hpp"
#include "gradcheck/utf8.hpp"

namespace gradcheck::logs::internal {

/// Collects points into series by name, keeping first-appearance order.
class RunBuilder {
 public:
  explicit RunBuilder(std::string source) { run_.source = std::move(source); }
  Series& series(std::string_view name) {
    auto it = index_.find(std::string(name));
    if (it != index_.end()) return run_.series[it->second];
    index_.emplace(std::string(name), run_.series.size());
    // The name as reports show it: a control character (a newline or an escape
    // sequence in a JSON key or an events tag) would forge report lines.
    run_.series.push_back(Series{escape_invalid_utf8(name), {}, {}});
    return run_.series.back();
  }
  void add(std::string_view name, std::int64_t step, double value) {
    Series& s = series(name);
    s.steps.push_back(step);
    s.values.push_back(value);
  }
  Run& run() { return run_; }
  Run take() { return std::move(run_); }

 private:
  Run run_;
  std::unordered_map<std::string, std::size_t> index_;
};

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// Cells that mean "no value here".
inline bool is_missing(std::string_view s) {
  return s.empty() || iequals(s, "na") || iequals(s, "n/a") || iequals(s, "null") || iequals(s, "none");
}

/// Parses a whole cell as a number (nan/inf in any case and sign accepted).
/// from_chars is locale-free and does not allocate, which is what makes the CSV
/// reader fast; it rejects a leading '+', so that is skipped here.
inline bool parse_number(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto r = std::from_chars(s.data(), end, out);
  return r.ec == std::errc() && r.ptr == end;
}

/// Parses a step: an integer, or a number with an integral value.
inline bool parse_step(std::string_view s, std::int64_t& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  auto r = std::from_chars(s.data(), end, out);
  if (r.ec == std::errc() && r.ptr == end) return true;
  double d = 0;
  if (!parse_number(s, d) || !(d == d) || d < -9.2e18 || d > 9.2e18) return false;
  out = static_cast<std::int64_t>(d);
  return static_cast<double>(out) == d;
}

/// A step cell that repeats its column's name before the number, as some
/// hand-made loggers write it: `Epoch 3` in a column `epoch` (any case), with
/// spaces, `:` or `=` between them, and optionally the total after a slash as
/// Keras prints it (`Epoch 3/50`). Only an integer step is one.
inline bool parse_named_step(std::string_view s, std::string_view name, std::int64_t& out) {
  if (name.empty() || s.size() <= name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(name[i]))) return false;
  s.remove_prefix(name.size());
  std::size_t k = 0;
  while (k < s.size() && (s[k] == ' ' || s[k] == '\t' || s[k] == ':' || s[k] == '=')) ++k;
  if (k == 0) return false;
  s.remove_prefix(k);
  auto integer = [](std::string_view t, std::int64_t& v) {
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    return !t.empty() && r.ec == std::errc() && r.ptr == t.data() + t.size();
  };
  const std::size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    std::int64_t total = 0;
    if (!integer(s.substr(slash + 1), total) || total <= 0) return false;
    s = s.substr(0, slash);
  }
  return integer(s, out);
}

/// The prefix of a validation or test split's metrics (a JSON Lines record's
/// `split`, a long table's split column): `val_` for `val`, `valid`,
/// `validation`, `eval`, `evaluation`, `dev`; `test_` for `test`; else none.
inline std::string split_prefix(std::string_view split) {
  for (std::string_view v : {"val", "valid", "validation", "eval", "evaluation", "dev"})
    if (iequals(split, v)) return "val_";
  return iequals(split, "test") ? "test_" : "";
}

/// Step-column names in order of preference (`_step` is W&B's, `current_steps`
/// LLaMA-Factory's `trainer_log.jsonl`, whose `epoch` is fractional;
/// `time/total_timesteps` Stable-Baselines3's `progress.csv`, `timesteps_total`
/// RLlib's: the environment steps, as their TensorBoard events count them).
inline constexpr std::string_view kStepNames[] = {"step",      "global_step", "_step",
                                                  "current_steps", "time/total_timesteps", "timesteps_total",
                                                  "iteration", "iter",        "epoch"};

/// Makes the series `name` the step of the others, for formats that carry a
/// step of their own (TensorBoard events, MLflow metrics, a Keras History):
/// each point of another series at step s moves to the value the series
/// `name` has at s (its points at steps it lacks keep s), and `name` is no
/// longer a series. Returns false when the run has no series `name`.
inline bool use_series_as_step(Run& run, const std::string& name) {
  const Series* s = run.find(name);
  if (s == nullptr) return false;
  std::vector<std::pair<std::int64_t, std::int64_t>> map;
  for (std::size_t i = 0; i < s->size(); ++i) {
    const double v = s->values[i];
    // A value that is no step (NaN, out of range) leaves the points at that step alone.
    if (!(v >= -0x1p63 && v < 0x1p63)) continue;
    map.emplace_back(s->steps[i], static_cast<std::int64_t>(v));
  }
  std::sort(map.begin(), map.end());
  const std::string step_name = s->name;
  std::vector<Series> kept;
  for (auto& ser : run.series) {
    if (ser.name == step_name) continue;
    for (auto& st : ser.steps) {
      auto it = std::lower_bound(map.begin(), map.end(), std::make_pair(st, std::numeric_limits<std::int64_t>::min()));
      if (it != map.end() && it->first == st) st = it->second;
    }
    kept.push_back(std::move(ser));
  }
  run.series = std::move(kept);
  run.step_name = step_name;
  return true;
}

}  // namespace gradcheck::logs::internal
