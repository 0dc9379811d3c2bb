#pragma once
// Active checks on a plugin model (`convdiag --model PLUGIN.so`): experiments
// on the model itself rather than on a log. Results are data, the active part
// of a diag::Report (report.hpp); its text, JSON and HTML are in render.hpp.
//
// - Initial loss: at init's values, against ln(classes) when the number of
//   classes is known (a softmax classifier with small logits starts at the loss
//   of a uniform guess, -ln(1/C) = ln C); averaged over a few seeds' batches.
// - Overfit one batch: the plugin's loss is on a fixed batch, so a correct
//   model, loss and gradient can drive it to (near) zero. Gradient descent and
//   Adam are tried; neither reducing the loss by `overfit_reduction` is
//   `cannot_overfit_batch`.
// - Learning-rate range test (Smith 2017, "Cyclical learning rates"): from
//   init's values, rates grow geometrically each step; the loss is recorded and
//   the suggested rate is the one of steepest smoothed descent, capped at a
//   tenth of the rate where the loss was lowest.
//
// The plugin runs only in forked children (gradcheck/host/isolation.hpp): a
// crash, abort, exit(), exception or time-out in the model's code ends as a
// `failure` of that model, never of the caller.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradcheck/diag/diagnose.hpp"

namespace gradcheck::diag {

struct ActiveOptions {
  std::string plugin;               ///< path of the plugin (.so)
  std::vector<std::string> models;  ///< -m; empty: every model of the plugin
  int classes = 0;                  ///< --classes; 0: no initial-loss check
  std::uint64_t seed = 0;           ///< create(seed); every draw
  double timeout_seconds = 60;      ///< per call into the model's code
  /// initial_loss_mismatch when |mean initial loss - ln C| exceeds both this
  /// fraction of ln C and `initial_loss_tolerance_nats`.
  double initial_loss_tolerance = 0.25;
  /// Logits drawn with standard deviation s at init raise the expected loss
  /// by about s^2 / 2 over ln C: 1 nat accepts s up to ~1.4 (a plain Xavier or
  /// He final layer) and still flags logits several times too large, a loss
  /// summed over the batch instead of averaged, or a wrong --classes.
  double initial_loss_tolerance_nats = 1.0;
  /// The loss at init compared with ln C is the mean over instances made with
  /// seeds seed, seed+1, ...: one small batch's loss is noisy (an 8-example
  /// batch moves it by ~15%). The optimisers start from `seed`'s instance.
  int initial_loss_seeds = 8;
  /// Steps of each optimiser when overfitting the batch.
  int overfit_steps = 500;
  /// cannot_overfit_batch unless some optimiser ends at or below
  /// (1 - overfit_reduction) x the initial loss, or below `overfit_floor`
  /// (a loss that starts at or below zero, such as a layer's sum(dy * y), must
  /// reach initial - overfit_reduction x |initial|). A run stops early at the
  /// goal, and as diverged once its loss is non-finite or above
  /// initial + 10 x |initial|.
  double overfit_reduction = 0.99;
  double overfit_floor = 1e-3;
  /// Learning-rate range test: geometric sweep from lr_min to lr_max.
  double lr_min = 1e-6;
  double lr_max = 10.0;
  int lr_steps = 100;
  /// The sweep stops at a non-finite loss or once the loss exceeds
  /// lowest + (lr_stop_factor - 1) x |lowest| (4x the lowest so far for a
  /// positive loss; |lowest| is at least 1e-3 x |initial|).
  double lr_stop_factor = 4.0;
  /// Rates tried when overfitting, in order; each optimiser stops at the first
  /// rate that reaches the goal. Gradient descent also tries the range test's
  /// suggested rate first, when there is one. At most
  /// (1 + gd_rates + adam_rates) x overfit_steps + lr_steps + initial_loss_seeds
  /// loss evaluations per model (5,608 with the defaults and --classes).
  std::vector<double> gd_rates = {1.0, 0.3, 0.1, 0.03, 0.01};
  std::vector<double> adam_rates = {0.1, 0.03, 0.01, 0.003, 0.001};

  /// False, with the reason, for values that cannot work.
  bool is_valid(std::string* error) const;
};

/// One optimiser's attempt at overfitting the batch.
struct OverfitAttempt {
  std::string optimizer;       ///< "gd" or "adam"
  double learning_rate = 0;    ///< the rate used (the best of those tried)
  int steps = 0;               ///< steps taken (fewer when it stopped early)
  double initial_loss = 0;
  double final_loss = 0;       ///< the lowest loss reached
  std::vector<double> losses;  ///< the loss after every `loss_stride`-th step (at most 250 points, the last step always)
  int loss_stride = 1;
  double goal = 0;             ///< the loss to reach: initial - overfit_reduction x |initial| (or overfit_floor)
  bool reached = false;        ///< final_loss reached the goal
  bool diverged = false;       ///< the best rate's run ended non-finite or far above its start
  std::vector<double> rates_tried;  ///< in the order tried
};

struct LrPoint {
  double learning_rate = 0;
  double loss = 0;  ///< may be non-finite once the sweep diverges
};

struct LrRangeTest {
  std::vector<LrPoint> points;
  /// The suggested rate; empty when the loss never decreased.
  std::optional<double> suggested_rate;
  std::optional<double> min_loss_rate;  ///< the rate of the lowest loss
  std::string note;                     ///< why no rate could be suggested, if so
};

/// Everything learned about one model.
struct ModelActive {
  std::string model;
  std::string dtype;  ///< "f32" or "f64"
  std::int64_t values = 0;
  double initial_loss = 0;  ///< at init's values of create(seed)
  std::optional<double> expected_initial_loss;  ///< ln(classes) when --classes was given
  /// With --classes: the mean loss at init over initial_loss_seeds instances,
  /// the value compared with ln(classes).
  std::optional<double> mean_initial_loss;
  std::vector<OverfitAttempt> overfit;          ///< gd, then adam
  LrRangeTest lr_range;
  /// initial_loss_mismatch, cannot_overfit_batch (metric "loss", steps are
  /// optimiser steps), with evidence and advice as for log symptoms.
  std::vector<Symptom> symptoms;
  /// Non-empty when the model's own code failed (error return, crash,
  /// exception, time-out): one line naming the model and what happened. The
  /// checks that did not run are then absent.
  std::string failure;
  /// Host-check findings met on the way (gradient_not_written, values_modified:
  /// they explain a model that cannot overfit) and why a check did not run.
  std::vector<std::string> notes;
  std::int64_t evaluations = 0;  ///< loss-and-gradient calls made
  double seconds = 0;

  bool healthy() const noexcept { return symptoms.empty() && failure.empty(); }
};

struct ActiveReport {
  std::string plugin;
  std::vector<ModelActive> models;
  /// Set when the plugin's code failed while loading (before any model could be
  /// named): a crash or hang in its static initialisers or its entry point.
  std::string load_failure;
  bool healthy() const noexcept {
    if (!load_failure.empty()) return false;
    for (const auto& m : models)
      if (!m.healthy()) return false;
    return true;
  }
  bool user_code_failed() const noexcept {
    if (!load_failure.empty()) return true;
    for (const auto& m : models)
      if (!m.failure.empty()) return true;
    return false;
  }
};

/// Runs the active checks on the selected models. Throws InputError for a
/// plugin that is refused, an unknown model or invalid options; failures of
/// the model's own code are part of the report.
ActiveReport run_active_checks(const ActiveOptions& options);

}  // namespace gradcheck::diag
