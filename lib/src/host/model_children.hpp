#pragma once
// Running a plugin's models one after another in forked children (private to
// the library: the checks of `gradcheck` and of `convdiag --model` share it).
// When a child dies (a crash, a hang past the time limit, exit()), the model
// it was running is blamed and the others go on in a fresh child.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/host/isolation.hpp"
#include "gradcheck/host/loader.hpp"

namespace gradcheck::host {

/// What to do with each model, in the child and in the parent.
struct ModelChildren {
  /// In each child, after the plugin loaded and before any model runs. The
  /// first child of a run that was given no names appends the names of the
  /// models to run (`first` is true then). May send messages of its own types
  /// (on_message gets them). Returns 0 to go on, or an exit code to stop after
  /// send_input_error.
  std::function<int(const Plugin&, host::Channel&, std::vector<std::string>& names, bool first)> prepare;
  /// In the child: runs the model at `index`; the result, as JSON, goes to on_result.
  std::function<nlohmann::json(const Plugin&, std::size_t index, host::Channel&)> run;
  /// In the parent: a model's result.
  std::function<void(const nlohmann::json& result)> on_result;
  /// In the parent: the model `name` did not finish. `why` is one line naming
  /// the model and what happened; `seconds` the time since it started (0 when
  /// it never did).
  std::function<void(const std::string& name, const std::string& why, double seconds)> on_failure;
  /// In the parent: messages of other types than the runner's own.
  std::function<void(const nlohmann::json& message)> on_message;
};

/// Sends the parent an input error (a file or a name refused), which
/// run_models_in_children throws as InputError once the child has ended.
void send_input_error(host::Channel& ch, const InputError& e);

/// Runs the models named `names` (or, when empty, those prepare names in the
/// first child) in order, each child loading the plugin (InputError naming
/// the file when it refuses). Returns "" when every model ended with
/// on_result or on_failure; otherwise the plugin's code died while loading in
/// the first child, before any model was named, and the return value says so
/// ("PATH: the plugin's code crashed with SIGSEGV ... while loading").
std::string run_models_in_children(const std::string& plugin_path, std::vector<std::string> names,
                                   const ModelChildren& hooks, const host::ChildOptions& options);

}  // namespace gradcheck::host
