#pragma once
// Active checks on a plugin model (`convdiag --model PLUGIN.so`): experiments
// on the model itself rather than on a log. Results are data; text, JSON and
// HTML presentation are separate.
//
// - Initial loss: at init's values, against ln(classes) when the number of
//   classes is known (a softmax classifier with small logits starts at the loss
//   of a uniform guess, -ln(1/C) = ln C).
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
  /// initial_loss_mismatch when |initial - ln C| > this fraction of ln C.
  double initial_loss_tolerance = 0.25;
  /// Steps of each optimiser when overfitting the batch.
  int overfit_steps = 500;
  /// cannot_overfit_batch unless some optimiser ends at or below
  /// (1 - overfit_reduction) x the initial loss, or below `overfit_floor`.
  double overfit_reduction = 0.99;
  double overfit_floor = 1e-3;
  /// Learning-rate range test: geometric sweep from lr_min to lr_max.
  double lr_min = 1e-6;
  double lr_max = 10.0;
  int lr_steps = 100;
};

/// One optimiser's attempt at overfitting the batch.
struct OverfitAttempt {
  std::string optimizer;       ///< "gd" or "adam"
  double learning_rate = 0;    ///< the rate used (the best of those tried)
  int steps = 0;               ///< steps taken (fewer when it stopped early)
  double initial_loss = 0;
  double final_loss = 0;       ///< the lowest loss reached
  std::vector<double> losses;  ///< the loss after each step (at most a few hundred points)
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
  double initial_loss = 0;
  std::optional<double> expected_initial_loss;  ///< ln(classes) when --classes was given
  std::vector<OverfitAttempt> overfit;          ///< gd, then adam
  LrRangeTest lr_range;
  /// initial_loss_mismatch, cannot_overfit_batch (metric "loss", steps are
  /// optimiser steps), with evidence and advice as for log symptoms.
  std::vector<Symptom> symptoms;
  /// Non-empty when the model's own code failed (error return, crash,
  /// exception, time-out): one line naming the model and what happened. The
  /// checks that did not run are then absent.
  std::string failure;

  bool healthy() const noexcept { return symptoms.empty() && failure.empty(); }
};

struct ActiveReport {
  std::string plugin;
  std::vector<ModelActive> models;
  bool healthy() const noexcept {
    for (const auto& m : models)
      if (!m.healthy()) return false;
    return true;
  }
  bool user_code_failed() const noexcept {
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
