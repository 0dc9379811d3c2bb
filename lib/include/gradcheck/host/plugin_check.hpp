#pragma once
// Checking every model of a plugin, isolated: what `gradcheck PLUGIN.so` does,
// as a library call whose result is data (PluginReport), rendered separately.
//
// The plugin is loaded and run only inside forked children
// (isolation.hpp), never in the caller: a model that crashes, aborts, calls
// exit(), throws through the C boundary or hangs past the per-call time limit
// ends as a model_error problem of that model naming what happened, and the
// remaining models are checked in a fresh child.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/host/loader.hpp"
#include "gradcheck/report.hpp"
#include "gradcheck/result.hpp"

namespace gradcheck::host {

/// The checker's Mode (options.hpp), named here too for the plugin API:
/// automatic is full up to PluginCheckOptions::fast_above values, fast above;
/// full compares every coordinate (or max_per_tensor of each tensor), fast
/// random directional derivatives per tensor.
using Mode = gradcheck::Mode;
/// mode_from_string ("auto", "full", "fast"), throwing InputError("", reason)
/// on anything else.
Mode parse_mode(const std::string& s);

struct PluginCheckOptions {
  /// Models to check, by name; empty checks every model of the plugin.
  std::vector<std::string> models;
  /// Passed to create(seed) of every instance and seeds every draw of the checker.
  std::uint64_t seed = 0;
  Mode mode = Mode::automatic;
  /// Mode::automatic checks models with more values than this in fast mode
  /// (full mode costs at least 2 evaluations per value).
  std::int64_t fast_above = 20000;
  /// Full mode: coordinates compared per tensor (a seeded sample); 0 = all.
  std::int64_t max_per_tensor = 0;
  /// Tolerance overrides (CheckOptions::rtol/atol); < 0 keeps the self-calibrated one.
  double rtol = -1;
  double atol = -1;
  /// Longest a single call into the model's code (create, init, loss) may take.
  double timeout_seconds = 60;
  /// Worker threads (0: all cores); each has its own instance, create(seed)
  /// with the same seed, so results do not depend on the count.
  int threads = 1;
  /// Starting values from a checkpoint (safetensors, ...): tensors matched by
  /// name, shapes must agree; tensors the file lacks keep init's values. Empty:
  /// init's values.
  std::string weights;
  /// Address-space limit of the child in bytes; 0: none.
  std::size_t memory_limit_bytes = 0;
  /// Worst entries kept per tensor.
  int worst_entries = 5;
  /// Called in the caller's process while a model is checked, a few times a
  /// second (model name, evaluations so far, seconds so far); empty: none.
  std::function<void(const std::string&, std::int64_t, double)> progress;

  /// False, with the reason, for values that cannot work (threads < 1, ...).
  bool is_valid(std::string* error) const;
};

/// What checking a plugin found.
struct PluginReport {
  std::string plugin;               ///< the path as given
  std::vector<CheckResult> models;  ///< one per checked model, in the plugin's order
  /// Set when the plugin's code failed before any model could be named (a crash
  /// while loading); `models` is then empty.
  std::string load_failure;

  /// No model failed and nothing failed while loading.
  bool passed() const;
  /// Passed, but some model has a tensor left inconclusive (its derivatives
  /// within the function's noise, even after auto mode's full follow-up).
  bool inconclusive() const;
  /// Some model's own code failed (error return, crash, exception, time-out):
  /// a model_error problem, or a load failure.
  bool user_code_failed() const;
};

/// True when `result` has a model_error problem.
bool user_code_failed(const CheckResult& result);

/// The plugin's validated models, read in a child process. Throws InputError
/// (refusals, unreadable file) and ModelError when the plugin's code crashes or
/// hangs while loading.
std::vector<ModelInfo> list_models(const std::string& plugin_path, double timeout_seconds = 60);

/// Checks the selected models (options.models; all when empty). Throws
/// InputError for a plugin that is refused, an unknown model name, invalid
/// options or an unusable weights file; every failure of the plugin's own code
/// is part of the report.
PluginReport check_plugin(const std::string& plugin_path, const PluginCheckOptions& options = {});

/// user_code (3) when a model's code failed, problem (1) when a model failed,
/// inconclusive (4) when one passed with a tensor nobody could judge, else ok (0).
ExitCode exit_code(const PluginReport& report);

// Presentation, in the shape every result type shares (gradcheck/report.hpp):
// pure functions returning strings.

/// The plugin's verdict line: "PASS model.so: 2 models checked, gradients
/// agree", "FAIL model.so: 1 of 2 models failed" (plus " (the model's code
/// failed)" when it did), or "ERROR model.so: <load failure>".
std::string verdict_line(const PluginReport& report, bool color = false);
/// The contract's JSON report: {"tool": "gradcheck", "schema": 1, "version",
/// "plugin", "passed", "models": [...]} (plus "load_failure" when set).
std::string to_json(const PluginReport& report, int indent = 2);
/// The terminal report: the plugin's verdict line, then each model's report
/// (gradcheck::to_text of its CheckResult). `quiet`: the verdict line only.
std::string to_text(const PluginReport& report, const TextOptions& options = {});
/// The self-contained HTML page of `gradcheck --html`: the plugin's verdict
/// line first; a table of the models; per model what gradcheck::to_html of its
/// CheckResult shows; or the load failure.
std::string to_html(const PluginReport& report);
/// `--list`: one line per model (name, dtype, tensors, values), then its tensors.
std::string models_listing(const std::vector<ModelInfo>& models);

}  // namespace gradcheck::host
