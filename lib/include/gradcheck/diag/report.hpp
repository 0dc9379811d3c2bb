#pragma once
// What convdiag reports, as data: the diagnoses of its training logs and, with
// --model, the active checks on a plugin model. diagnose_logs makes one from
// the logs, run_active_checks (active.hpp) adds the active part; presentation
// (to_text, to_json, to_html, verdict_line) is in gradcheck/diag/render.hpp.

#include <optional>
#include <string>
#include <vector>

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/logs/run.hpp"

namespace gradcheck::diag {

struct Report {
  std::vector<RunDiagnosis> runs;      ///< one per log, in the order the logs were given
  /// The logs themselves, when kept (matched to `runs` by source): to_html draws
  /// their whole curves; without them, each curve's 48-point Curve::shape.
  std::vector<logs::Run> logs;
  std::optional<ActiveReport> active;  ///< the active checks (--model), when they ran

  /// No run has a symptom, and the active checks, if any, are healthy.
  bool healthy() const noexcept;
  /// The model's own code failed in the active checks (ActiveReport::user_code_failed).
  bool user_code_failed() const noexcept;
};

/// Reads and diagnoses each of `paths` on up to `threads` workers (0: all
/// cores), one log per worker at a time. Report::runs keeps the order of
/// `paths`; when logs cannot be read, the error of the first of them in that
/// order is thrown (InputError naming the file), so the outcome does not depend
/// on the thread count. With `keep_logs`, Report::logs holds the logs read.
/// What the files beside a log say about its model (logs::read_log_context: a
/// Hugging Face checkpoint's config.json and adapter_config.json) fills in what
/// `options` leaves open, for that log: its class count when
/// DiagnoseOptions::classes is 0, and DiagnoseOptions::pretrained for an
/// adapter; the run's notes say what was taken from where.
Report diagnose_logs(const std::vector<std::string>& paths, const logs::ReadOptions& read = {},
                     const DiagnoseOptions& options = {}, int threads = 0, bool keep_logs = false);

/// diagnose_logs of what convdiag takes as its LOG arguments: each path a log
/// file, or a folder logs::expand_log_sources expands (a Hugging Face output
/// folder to its latest checkpoint's trainer_state.json, an MLflow store to
/// one log per run). A run chosen so starts its notes with how it was chosen.
Report diagnose_sources(const std::vector<std::string>& paths, const logs::ReadOptions& read = {},
                        const DiagnoseOptions& options = {}, int threads = 0, bool keep_logs = false);

/// The exit code of convdiag (docs/tools-contract.md): user_code when the
/// model's own code failed in the active checks, problem when anything is
/// unhealthy, ok otherwise.
ExitCode exit_code(const Report& report) noexcept;

}  // namespace gradcheck::diag
