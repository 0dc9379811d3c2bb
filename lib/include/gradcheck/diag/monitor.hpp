#pragma once
// The training-loop monitor: the loop feeds it each step's numbers; it warns
// (spdlog logger "gradcheck.monitor", level from SPDLOG_LEVEL) as soon as a
// symptom is clear, and writes a JSON Lines log that convdiag reads.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gradcheck/diag/diagnose.hpp"

namespace gradcheck::diag {

/// Per-tensor numbers of one step; NaN means "not measured".
struct TensorStep {
  std::string name;
  double weight_norm = std::numeric_limits<double>::quiet_NaN();  ///< ||w|| after the update
  double update_norm = std::numeric_limits<double>::quiet_NaN();  ///< ||w_after - w_before||
  double grad_norm = std::numeric_limits<double>::quiet_NaN();    ///< ||dL/dw||
  /// For an activation: the fraction of units that were zero over the whole
  /// batch (dead ReLUs).
  double dead_fraction = std::numeric_limits<double>::quiet_NaN();
};

struct StepStats {
  std::int64_t step = 0;
  double loss = std::numeric_limits<double>::quiet_NaN();
  std::optional<double> val_loss;
  double grad_norm = std::numeric_limits<double>::quiet_NaN();  ///< global gradient norm
  double lr = std::numeric_limits<double>::quiet_NaN();
  std::vector<TensorStep> tensors;
};

struct MonitorOptions {
  /// JSON Lines log to write ("" = none). Non-finite numbers are written as
  /// the strings "NaN", "Infinity", "-Infinity" (valid JSON; convdiag reads them).
  std::string log_path;
  /// Update/weight ratio ||dw||/||w|| is about 1e-3 in healthy SGD training
  /// (CS231n); a median over `ratio_window` steps outside [low, high] (100x
  /// either way) is reported. Tensors named `*bias` or `*.b` are not judged:
  /// the rule is about weight matrices, and biases often start at zero.
  double update_ratio_low = 1e-5;
  double update_ratio_high = 1e-1;
  std::size_t ratio_window = 20;
  /// Divergence: the loss EMA (alpha 0.1) stays, for `patience` consecutive
  /// steps after `warmup` steps, above its best by divergence_rise times
  /// max(|best|, first - best) (as convdiag's detector).
  double divergence_rise = 1.0;
  std::size_t warmup = 20;
  std::size_t patience = 5;
  /// Exploding gradient: the global gradient norm exceeds this multiple of the
  /// median of its first `warmup` values.
  double exploding_factor = 100.0;
  /// Dead units: a tensor's dead_fraction above this is reported.
  double dead_fraction = 0.5;
  /// Why an update ratio is low: a tensor's gradient norm (median over the
  /// last `ratio_window` steps) that is 0, below this fraction of its own early
  /// median (first `warmup` values) ...
  double gradient_faded = 0.1;
  /// ... or below this fraction of the step's largest tensor gradient has
  /// vanished: the tensor does not learn because no gradient reaches it (dead
  /// units, saturated activations), which a larger learning rate cannot fix.
  /// A gradient above both is healthy: then the learning rate is too low.
  double vanishing_gradient = 1e-3;
  /// Write warnings through spdlog (alerts are collected either way).
  bool warn = true;
};

/// A warning raised during training. `kind` is a convdiag symptom kind (`nan`,
/// `divergence`, `exploding_gradient`) or a monitor-only kind
/// (`update_ratio_high`, `update_ratio_low`, `dead_units`). An
/// `update_ratio_low` message says which cause the numbers show: no gradient
/// reaches the tensor (zero or vanished gradient, dead units) or a healthy
/// gradient with a learning rate too low.
struct Alert {
  std::string kind;
  std::string subject;  ///< the metric or tensor
  std::int64_t step = 0;
  std::string message;
};

/// Each kind is reported once per subject, so a broken run does not flood the
/// log. Not thread-safe: feed it from the training loop's thread.
class TrainingMonitor {
 public:
  /// Opens the log (throws InputError naming it when it cannot be created).
  explicit TrainingMonitor(MonitorOptions options = {});
  ~TrainingMonitor();
  TrainingMonitor(const TrainingMonitor&) = delete;
  TrainingMonitor& operator=(const TrainingMonitor&) = delete;

  /// Records one step: appends a log line, then checks for symptoms.
  void record(const StepStats& stats);
  /// Alerts so far, in the order they were raised.
  const std::vector<Alert>& alerts() const noexcept { return alerts_; }
  /// Flushes the log to the file.
  void flush();

 private:
  void alert(const std::string& kind, const std::string& subject, std::int64_t step, const std::string& message);
  void write_line(const StepStats& s);

  MonitorOptions options_;
  std::FILE* log_ = nullptr;
  std::vector<Alert> alerts_;
  std::map<std::string, bool> raised_;  // kind + '\n' + subject
  std::size_t steps_ = 0;
  double ema_ = 0, first_ema_ = 0, best_ema_ = 0;
  bool have_ema_ = false;
  std::size_t above_ = 0;
  std::vector<double> early_grad_;
  std::map<std::string, std::vector<double>> ratios_;
  // Per tensor: its first `warmup` gradient norms, and its last `ratio_window`
  // gradient norms and dead fractions (what explains an update ratio).
  struct History {
    std::vector<double> early_grad, recent_grad, recent_dead;
  };
  std::map<std::string, History> history_;
  std::string low_ratio_cause(const TensorStep& t, const StepStats& s) const;
};

}  // namespace gradcheck::diag
