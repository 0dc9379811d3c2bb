#pragma once
// Health report on checkpoints: statistics per tensor, the flags the tools'
// contract names, each with its evidence, and a diff of two checkpoints.
// Results are data; render.hpp turns them into text, JSON or HTML.

#include <cstdint>
#include <functional>
#include <optional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/spectral.hpp"
#include "gradcheck/weights/statistics.hpp"

namespace gradcheck::weights {

/// What a checkpoint's tensor holds. An optimizer's state (Adam's moments,
/// a momentum buffer, a step count) is not a weight: its scale says nothing of
/// initialisation, so it gets statistics and the nan and inf flags only.
enum class TensorRole { weight, optimizer_state };
/// "weight" or "optimizer_state", as reports spell it.
const char* to_string(TensorRole role) noexcept;
/// The role a tensor's name shows: optimizer_state when it ends in
/// `state.<index>.<key>` with a key torch.optim writes (exp_avg, exp_avg_sq,
/// max_exp_avg_sq, momentum_buffer, step, square_avg, acc_delta, sum, mu, eta,
/// ax, prev, step_size): an optimizer's state_dict saved alone (`state.0.exp_avg`),
/// under a key (`optimizer.state.0.exp_avg`), or by Lightning
/// (`optimizer_states.0.state.0.exp_avg`); and Keras's optimizer variables,
/// named `optimizer_weights/...` (Keras 2) or `optimizer/vars/...` (Keras 3) by
/// read_keras_h5. Every other name is a weight.
TensorRole tensor_role(std::string_view name);

/// Health flags, spelled in reports exactly as to_string returns them: the
/// tools' contract's names, "nan", "inf", "all_zero", "constant",
/// "identical_rows", "exploding", "vanishing_init_scale", "unchanged" and
/// "large_update".
enum class Flag {
  nan,                   ///< a NaN value
  inf,                   ///< an infinite value
  all_zero,              ///< rank >= 2, every value zero
  constant,              ///< rank >= 2, every value equal and non-zero
  identical_rows,        ///< rank >= 2, two non-zero rows bit-for-bit equal
  exploding,             ///< values far beyond any sane scale (see Thresholds)
  vanishing_init_scale,  ///< std far below every initialisation scheme's
  unchanged,             ///< diff: no value changed
  large_update,          ///< diff: the change is larger than the weights
  unsafe_pickle,         ///< a file: its pickle would run code on torch.load (WeightsReport::unsafe_pickle)
  update_ratio_high,     ///< the optimizer's step is a large fraction of the weight (OptimizerReport)
  update_ratio_low,      ///< the optimizer's step is a vanishing fraction of the weight
  degenerate_blocks,     ///< a quantized tensor: blocks with NaN or infinite scales, or many zero scales (QuantHealth)
};
/// The flag's name in reports (one table for JSON, text and HTML).
const char* to_string(Flag f) noexcept;
/// The flag `to_string` spells `name`. Throws std::invalid_argument for any other string.
Flag flag_from_string(std::string_view name);

/// Where each flag fires. The defaults are documented in docs/weightstats.md with
/// their source; each is a field so callers can tune them.
struct Thresholds {
  /// `exploding` when a finite |value| exceeds this: 65504 is the largest
  /// float16, so such a weight cannot even be stored in half precision.
  double exploding_abs = 65504.0;
  /// `exploding` when, for rank >= 2, the std exceeds this multiple of the
  /// largest of the He, Glorot and LeCun initial stds (every scheme agrees the
  /// layer is at least 100x too large: activations grow ~100x per layer).
  double exploding_init_ratio = 100.0;
  /// `vanishing_init_scale` when, for rank >= 2, the std is below this fraction
  /// of the smallest of the He, Glorot and LeCun initial stds (every scheme
  /// agrees the layer is at least 100x too small: signals shrink ~100x per layer).
  double vanishing_init_ratio = 0.01;
  /// `identical_rows` only for rows of at least this many values: shorter rows
  /// of low-precision values repeat by chance (birthday collisions).
  std::int64_t identical_rows_min_cols = 8;
  /// `large_update` when ||after - before|| / ||before|| exceeds this: the
  /// update is larger than the weights themselves (typical per-step ratios are
  /// ~1e-3, and a whole run rarely moves trained layers by more than their norm).
  double large_update = 1.0;
  /// `update_ratio_high` / `update_ratio_low` when the step an optimizer saved
  /// beside the weights implies for a parameter, over the parameter's norm,
  /// is above / below these. Healthy training moves weights by about 1e-3 of
  /// their scale per step (CS231n, "ratio of weights:updates"); 1e-1 rewrites
  /// a layer in ten steps, 1e-5 leaves it where it is.
  double update_ratio_high = 1e-1;
  double update_ratio_low = 1e-5;
  /// `degenerate_blocks` when a quantized tensor has a block whose scale is
  /// NaN or infinite (its values are), or when more than this fraction of its
  /// blocks have scale 0 while it is not all zero: a block of 32 or 256
  /// trained weights that are all exactly 0 is rare, and a quantizer that
  /// underflowed its float16 scales (weights below ~6e-8 x 127) leaves them so.
  double degenerate_zero_scale_fraction = 0.01;
};

/// The phases ReportOptions::progress names.
namespace progress_phase {
inline constexpr std::string_view analysing = "analysing tensors";  ///< report_checkpoint: statistics and flags
inline constexpr std::string_view spectral = "spectral analysis";   ///< report_checkpoint with `spectral`
inline constexpr std::string_view comparing = "comparing tensors";  ///< add_diff
}  // namespace progress_phase

struct ReportOptions {
  int threads = 0;             ///< 0: all cores; results do not depend on it
  std::string filter;          ///< ECMAScript regex; a tensor is kept when it matches part of its name
  Thresholds thresholds;
  bool spectral = false;       ///< spectral analysis of floating tensors of rank >= 2
  SpectralOptions spectral_options;
  /// Progress of report_checkpoint and add_diff, phase by phase (see
  /// progress_phase): `done` of `total` tensors finished. Called from the
  /// calling thread only (never concurrently), at most once per finished
  /// tensor, `done` never decreasing within a phase, each phase's last call
  /// with done == total (no call for a phase with no tensor). Empty: none.
  /// Results do not depend on it.
  std::function<void(std::string_view phase, std::int64_t done, std::int64_t total)> progress;
};

struct TensorReport {
  std::string name;
  std::string file;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  TensorStats stats;
  std::optional<MatrixStats> matrix;
  std::optional<SpectralStats> spectral;  ///< with ReportOptions::spectral
  std::optional<QuantHealth> quant;       ///< block-quantized tensors (GGUF)
  TensorRole role = TensorRole::weight;
  std::vector<Flag> flags;
  std::vector<std::string> evidence;  ///< one line per flag, same order
};

struct DiffEntry {
  std::string name;
  std::string after_name;  ///< the matched tensor's name when a name mapping matched it (llama_cpp_name), else empty
  DType before_dtype = DType::F32, after_dtype = DType::F32;
  DiffStats stats;
  std::vector<Flag> flags;
  std::vector<std::string> evidence;
};

struct ShapeChange {
  std::string name;
  std::vector<std::int64_t> before, after;
};

/// One parameter's step as its optimizer's saved state implies it: the step
/// the optimizer last took, recomputed from its state.
///   Adam (and AdamW, without its decay term): lr * m_hat / (sqrt(v_hat) + eps),
///     m_hat = exp_avg / (1 - beta1^t), v_hat = exp_avg_sq / (1 - beta2^t)
///     (max_exp_avg_sq with amsgrad), t the saved step count;
///   SGD with momentum: lr * momentum_buffer.
struct ParameterStep {
  std::string parameter;  ///< the weight tensor it updates
  std::string state;      ///< its state's prefix, e.g. "optimizer.state.0"
  double step_norm = std::numeric_limits<double>::quiet_NaN();
  double weight_norm = std::numeric_limits<double>::quiet_NaN();
  double update_ratio = std::numeric_limits<double>::quiet_NaN();  ///< step_norm / weight_norm
};

/// A torch.optim state dict saved beside the weights (`<prefix>.state.<i>.<key>`
/// and `<prefix>.param_groups.<g>.{lr, betas, eps, momentum, params}`), its
/// parameters matched to the file's weight tensors by order and shape: the
/// i-th parameter of the groups is the i-th weight (buffers such as
/// running_mean skipped) whose shape is that of its state.
struct OptimizerReport {
  std::string prefix;  ///< where its state dict is: "optimizer", "optimizer_states.0"
  std::string kind;    ///< "Adam" or "SGD with momentum"
  double lr = std::numeric_limits<double>::quiet_NaN();  ///< of its first group
  std::vector<ParameterStep> steps;  ///< empty when the parameters could not be matched
  std::string note;    ///< why not, or empty
};

struct WeightsReport {
  std::vector<std::string> files;
  std::vector<TensorReport> tensors;
  bool has_diff = false;
  /// A quantization diff: one side has block-quantized tensors. Its entries
  /// are ranked by rel_change (the error quantization introduced), largest
  /// first, and `unchanged` is not flagged (kept tensors are expected).
  bool diff_quantization = false;
  std::string diff_before, diff_after;
  std::vector<DiffEntry> diff;
  std::vector<std::string> only_in_before, only_in_after;
  std::vector<ShapeChange> shape_changed;
  /// File-level findings: globals of a pickle that torch.load would call to run
  /// code or touch the system (Flag::unsafe_pickle). The tensors are still read.
  std::vector<PickleFinding> unsafe_pickle;
  /// Per file, the pickled classes read as inert placeholders (not a finding).
  std::vector<Uninterpreted> uninterpreted;
  /// Optimizers saved beside the weights, with the steps they imply.
  std::vector<OptimizerReport> optimizers;
  /// The files' own metadata (GGUF headers), in file order.
  std::vector<MetadataEntry> metadata;
  /// Tensors found but not read (GGUF types without a dequantizer here): not
  /// judged, listed so that a report never looks complete when it is not.
  std::vector<SkippedTensor> skipped;

  /// No flag on any tensor or diff entry, and no unsafe pickle.
  bool passed() const noexcept;
};

/// Flags for one tensor's analysis (pure: no I/O). Integer and bool tensors
/// (counters, token ids, masks) get statistics but no flags.
void assign_flags(TensorReport& tensor, const Thresholds& thresholds);

/// Statistics and flags for every tensor of `checkpoint` whose name matches
/// the filter. Throws InputError when the filter is not a valid regex.
WeightsReport report_checkpoint(const Checkpoint& checkpoint, const ReportOptions& options = {});

/// llama.cpp's name for a Hugging Face Llama-family tensor name (Llama,
/// Mistral, Qwen2/3, Gemma and others converted by convert_hf_to_gguf.py):
/// "model.embed_tokens.weight" -> "token_embd.weight",
/// "model.layers.N.self_attn.{q,k,v,o}_proj" -> "blk.N.attn_{q,k,v,output}",
/// "model.layers.N.mlp.{gate,up,down}_proj" -> "blk.N.ffn_{gate,up,down}",
/// "model.layers.N.input_layernorm" -> "blk.N.attn_norm",
/// "model.layers.N.post_attention_layernorm" -> "blk.N.ffn_norm",
/// "model.layers.N.self_attn.{q,k}_norm" -> "blk.N.attn_{q,k}_norm",
/// "model.norm" -> "output_norm", "lm_head" -> "output" (each with .weight or
/// .bias). nullopt for any other name.
std::optional<std::string> llama_cpp_name(std::string_view name);

/// Adds to `report` the diff of two checkpoints, tensor by tensor by name:
/// rel_change = ||after - before|| / ||before||, `unchanged` when no value
/// changed, `large_update` above Thresholds::large_update. Tensors on one
/// side only, or whose shapes differ, are listed apart. Names match exactly,
/// or through llama_cpp_name (a safetensors checkpoint against its GGUF
/// conversion). Against a GGUF file whose general.architecture is "llama"
/// (convert_hf_to_gguf.py reorders the rows of attn_q and attn_k within each
/// head for its rotary embedding), those rows are put back in the Hugging
/// Face order before comparing, using llama.attention.head_count and
/// head_count_kv.
void add_diff(WeightsReport& report, const Checkpoint& before, const Checkpoint& after,
              const ReportOptions& options = {});

/// The tools' contract's exit code for a report: ok when it passed, problem
/// when a tensor or diff entry is flagged.
ExitCode exit_code(const WeightsReport& report) noexcept;

}  // namespace gradcheck::weights
