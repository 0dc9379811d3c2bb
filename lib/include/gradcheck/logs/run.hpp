#pragma once
// A training run as data: named series of (step, value) points read from a log
// file, and the recognition of which series is the loss, the validation loss,
// the gradient norm and the learning rate.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gradcheck::logs {

/// One metric over a run. `steps` and `values` have the same length; points are
/// in the order the log wrote them. Non-finite values (NaN, +-inf) are kept:
/// they are evidence, not errors. A missing cell (empty, `NA`, JSON null) is no
/// point at all.
struct Series {
  std::string name;
  std::vector<std::int64_t> steps;
  std::vector<double> values;

  std::size_t size() const noexcept { return values.size(); }
};

/// Every numeric series of one log (a file, or a directory of TensorBoard files).
struct Run {
  std::string source;          ///< the path it was read from
  std::string step_name;       ///< the column/key used as step ("" = record index)
  std::vector<Series> series;  ///< in order of first appearance in the log

  /// The series called `name`, or nullptr.
  const Series* find(std::string_view name) const noexcept;
  /// Names of all series, in order.
  std::vector<std::string> metric_names() const;
  /// Number of distinct steps over all series.
  std::int64_t distinct_steps() const;
};

/// User choices that override name recognition (convdiag's --*-col options).
/// Empty means "recognise by the usual names".
struct ColumnOverrides {
  std::string loss;  ///< --loss-col
  std::string val;   ///< --val-col
  std::string step;  ///< --step-col (used by the readers)
  std::string grad;  ///< --grad-col
};

/// The role each recognised series plays; empty when the run has none.
struct Roles {
  std::string loss;       ///< training loss
  std::string val_loss;   ///< validation loss
  std::string grad_norm;  ///< global gradient norm
  std::string lr;         ///< learning rate
  /// Per-layer (per-tensor) gradient norms, in the log's order: series named
  /// in the usual ways, `grad_norm/<layer>` (as the monitor writes them),
  /// `grad_norm_<layer>` (`grad_norm_layer0`), `gradients/<layer>`,
  /// `grads/<layer>`, `gradient_norm/<layer>`, Lightning's
  /// `grad_2.0_norm/<layer>`, `<layer>_grad_norm`, `<layer>/grad_norm`, with any
  /// directory prefix (TensorBoard's `train/grad_norm/fc1.weight`). Aggregates
  /// (`grad_norm_total`, `grad_norm/max`, `grad_norm_clipped`, ...) and the global
  /// gradient norm are not layers.
  std::vector<std::string> tensor_grad_norms;
  /// The layer each entry of tensor_grad_norms names (`fc1.weight`, `layer0`,
  /// `layer.0`), in the same order.
  std::vector<std::string> tensor_names;
  /// Reinforcement learning. A log with a critic's loss (a value or
  /// Q-function loss: Spinning Up's `LossV`, `LossQ`, `LossQ1`;
  /// Stable-Baselines3's `train/value_loss`, `train/critic_loss`; CleanRL's
  /// `losses/value_loss`, `losses/qf1_loss`; RLlib's `vf_loss`) beside a
  /// policy's loss or an episode return is read as one: its training loss is
  /// the critic's (a regression to its targets; the first of two Q losses),
  /// unless --loss-col names another. A policy's loss has no floor to converge
  /// to (minus a Q-value, or a clipped surrogate of normalised advantages near
  /// zero) and is not judged.
  bool critic = false;
  /// The policy's (actor's) loss of a reinforcement-learning log (`LossPi`,
  /// `train/policy_gradient_loss`, `train/actor_loss`, `losses/policy_loss`).
  std::string policy_loss;
  /// The mean episode return (`AverageEpRet`, `rollout/ep_rew_mean`,
  /// `episode_reward_mean`, `charts/episodic_return`; an evaluation's
  /// `AverageTestEpRet` or `eval/mean_reward` without one): what the agent
  /// achieved, the context of the critic's loss.
  std::string episode_return;
  /// Generative adversarial networks. A log with a generator's loss beside a
  /// discriminator's (or a critic's) is read as one: `loss_G` and `loss_D`,
  /// `g_loss` and `d_loss`, `errG` and `errD`, `Loss/Generator` and
  /// `Loss/Discriminator`, StyleGAN's `Loss/G/loss` and `Loss/D/loss`,
  /// pix2pix's `G_GAN` with `D_real`, CycleGAN's `G_A` with `D_A`. Its training
  /// loss is the generator's adversarial loss (the first logged), unless
  /// --loss-col names another; this is the discriminator's (the first
  /// logged). Neither loss has a floor to converge to: the two play a game.
  std::string discriminator_loss;
};

/// Whether `name` is a GAN generator's adversarial loss, or a discriminator's
/// (critic's), in the namings Roles::discriminator_loss lists (separators and
/// case aside).
bool is_generator_loss(std::string_view name);
bool is_discriminator_loss(std::string_view name);

/// Recognises roles by their usual names: loss (`loss`, `train_loss`,
/// `training_loss`, `train/loss`, `train_loss_step`, `epoch_loss`, ... then any
/// name containing "loss" that is not validation/test), validation loss
/// (`val_loss`, `validation_loss`, `valid_loss`, `eval_loss`, `val/loss`,
/// `validation/epoch_loss`, ..., then a name containing "loss" that starts
/// with `val`, `valid`, `eval`, `dev`, or holds `val`, `valid`, `validation`,
/// `eval`, `evaluation` or `dev` as a word between '/', '_', '-', '.' or
/// spaces without `train`: `Loss/Evaluation`; without one, a `test_loss`
/// logged more than once), gradient norm (`grad_norm`, `gradient_norm`,
/// `grad_2.0_norm_total`, ..., also under a `train/` or `training/` prefix),
/// learning rate (`lr`, `learning_rate`, `lr-Adam`,
/// ...), per-layer gradient norms (see Roles::tensor_grad_norms), and in a
/// reinforcement-learning log the critic's loss as the training loss (see
/// Roles::critic). Matching ignores case. An override naming a series the run does not
/// have throws InputError(run.source, ...) listing the series it has.
Roles recognise_roles(const Run& run, const ColumnOverrides& overrides = {});

/// The layer a per-layer gradient-norm series names (`grad_norm_layer0` ->
/// `layer0`, `train/gradients/fc1.weight` -> `fc1.weight`, `fc1_grad_norm` ->
/// `fc1`), or "" when `name` is not one (a global or aggregate norm, another
/// metric).
std::string gradient_layer(std::string_view name);

}  // namespace gradcheck::logs
