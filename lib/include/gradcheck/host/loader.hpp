#pragma once
// Loading model plugins (gradcheck/plugin.h) and calling their code with the
// host checks of the ABI page. Plugin code may crash or hang: run it inside
// gradcheck::host::run_in_child (gradcheck/host/isolation.hpp) when the
// caller must survive that.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gradcheck/changes.hpp"
#include "gradcheck/result.hpp"

struct gradcheck_model;

namespace gradcheck::host {

/// A problem found in a model's behaviour: a ProblemKind (result.hpp: the
/// tools' contract) and one line for a person; the checker's Problem, so host
/// findings and the checker's own go into one CheckResult::problems list.
using Problem = gradcheck::Problem;

struct TensorInfo {
  std::string name;
  std::vector<std::int64_t> shape;
  std::size_t count = 0;   ///< product of the extents
  std::size_t offset = 0;  ///< first index of this tensor in the model's flat vector
};

/// A validated model descriptor. The flat vector of a model is its tensors
/// concatenated in declaration order, each row-major.
struct ModelInfo {
  std::string name;
  Dtype dtype = Dtype::f64;  ///< gradcheck::Dtype (estimators.hpp), named by to_string
  std::vector<TensorInfo> tensors;
  std::size_t num_values = 0;  ///< sum of the tensors' counts
};

/// The user's code failed (an error return, create() returning NULL). `problem`
/// says what, as data, with kind model_error.
class ModelError : public std::runtime_error {
 public:
  explicit ModelError(Problem p) : std::runtime_error(p.message), problem_(std::move(p)) {}
  const Problem& problem() const noexcept { return problem_; }

 private:
  Problem problem_;
};

/// Checks one descriptor as the ABI page requires, before any of its code is
/// called: abi_version, struct_size, non-null name and functions (last_error may
/// be NULL), known dtype, 0 <= num_tensors, non-null tensor names, unique tensor
/// names, rank 0..8, non-negative extents whose product (and the model's total)
/// fits in int64. Returns the model's description, or throws InputError naming
/// `plugin_path`, the model (or its index when the name is unusable) and the
/// field.
ModelInfo validate_model(const gradcheck_model* model, std::size_t index, const std::string& plugin_path);

/// A loaded plugin: dlopen(RTLD_NOW | RTLD_LOCAL), the entry point
/// gradcheck_plugin_models called with GRADCHECK_ABI_VERSION, every model
/// validated. Unloaded (dlclose) on destruction; ModelInstances must not outlive
/// it.
class Plugin {
 public:
  /// Throws InputError naming the file when it cannot be loaded, lacks the
  /// symbol, refuses the host's ABI version, lists no models, repeats a model
  /// name, or any model fails validate_model.
  explicit Plugin(const std::string& path);
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const std::string& path() const noexcept { return path_; }
  const std::vector<ModelInfo>& models() const noexcept { return infos_; }
  /// Index of the model named `name`, or throws InputError naming the plugin and
  /// listing the names it has.
  std::size_t find(std::string_view name) const;
  const gradcheck_model* descriptor(std::size_t index) const { return raw_.at(index); }

 private:
  std::string path_;
  void* handle_ = nullptr;
  std::vector<const gradcheck_model*> raw_;
  std::vector<ModelInfo> infos_;
};

/// One instance of a model (create/destroy), called through flat double
/// vectors: values are converted to the model's dtype for each call and
/// gradients back to double. Not thread-safe; make one per thread.
class ModelInstance {
 public:
  /// create(seed); throws ModelError (kind model_error) when it returns NULL.
  ModelInstance(const Plugin& plugin, std::size_t model_index, std::uint64_t seed);
  ~ModelInstance();
  ModelInstance(const ModelInstance&) = delete;
  ModelInstance& operator=(const ModelInstance&) = delete;

  const ModelInfo& info() const noexcept { return *info_; }

  /// The starting point (init), as doubles. Throws ModelError on an error
  /// return (with last_error text) or when init leaves a value non-finite.
  std::vector<double> init();

  /// Rounds x to the model's dtype in place (the point actually evaluated for
  /// an f32 model), so finite-difference steps can use the step truly applied.
  void round_to_dtype(std::span<double> x) const noexcept;

  /// The loss at x (x.size() == num_values) and, when `grad` is not empty (same
  /// size), its gradient. Host checks, returned as problems: every gradient
  /// element is preset to a NaN sentinel and one still holding it is
  /// gradient_not_written; values changed by the call are values_modified; a
  /// non-finite loss or gradient element is non_finite; a nonzero return is
  /// model_error (with last_error text) and leaves `loss`/`grad` unspecified.
  /// Problems name the model, the tensor and the first offending index.
  ///
  /// `changes` is the caller's promise about x against the x of this
  /// instance's previous call (Changes, gradcheck/changes.hpp). With "all" the
  /// model's buffer is brought to x by comparing the two (one read of each);
  /// with at most two indices only those are written, O(1).
  /// values_modified is looked for after every gradient call, the first
  /// kComparedFirst value-only calls and every kCompareEvery-th after them. A
  /// compared call also rereads the whole buffer before the call, so values a
  /// model wrote in an uncompared call are reported (and undone) there. Every
  /// call starts from x exactly, except the fewer than kCompareEvery hinted
  /// calls after such a write.
  std::vector<Problem> loss(std::span<const double> x, double& loss, std::span<double> grad,
                            const Changes& changes = {});
  /// The same with the values as floats (exact for an f32 model: no
  /// conversion through double).
  std::vector<Problem> loss(std::span<const float> x, double& loss, std::span<double> grad,
                            const Changes& changes = {});

  /// Calls loss with gradients twice at x: a different loss is
  /// nondeterministic_loss, a different gradient stateful_gradient (bitwise
  /// comparison: the same code on the same inputs must give the same bits).
  /// Also returns the problems of either call. `loss`/`grad` get the first call's.
  std::vector<Problem> loss_twice(std::span<const double> x, double& loss, std::span<double> grad);

  /// Number of loss calls made through this instance.
  std::uint64_t evaluations() const noexcept { return evaluations_; }

  static constexpr std::uint64_t kComparedFirst = 16, kCompareEvery = 64;

 private:
  template <class S>
  std::vector<Problem> loss_impl(std::span<const S> x, double& loss, std::span<double> grad, const Changes& changes);
  std::string where(std::size_t flat_index) const;
  std::string last_error_text() const;
  const gradcheck_model* model_;
  const ModelInfo* info_;
  void* instance_ = nullptr;
  std::vector<double> values64_, grads64_;
  std::vector<float> values32_, grads32_;
  std::vector<void*> value_ptrs_, grad_ptrs_;
  std::uint64_t evaluations_ = 0;
  std::uint64_t gradient_calls_ = 0;
};

/// "fc1.weight[2, 3]": the tensor and the multi-index of flat index `i` of a
/// model's flat vector.
std::string describe_index(const ModelInfo& info, std::size_t i);
/// The multi-index of element `i` (row-major) within a tensor of `shape`.
std::vector<std::int64_t> unravel_index(std::span<const std::int64_t> shape, std::size_t i);

}  // namespace gradcheck::host
