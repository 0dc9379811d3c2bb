#pragma once
// Write a gradcheck model plugin as a C++ class (header-only: a plugin needs
// Eigen and this header, never libgradcheck).
//
//   template <typename T>
//   struct Relu {
//     using Scalar = T;                                   // float or double
//     static std::string name() { return "relu"; }        // unique in the plugin
//     static std::vector<gradcheck::sdk::TensorSpec> tensors() { return {{"x", {4, 8}}}; }
//     explicit Relu(std::uint64_t seed);                  // draw data, targets, dy from seed
//     void init(gradcheck::sdk::Tensors<T>& values);      // starting point
//     double loss(const gradcheck::sdk::ConstTensors<T>& values,
//                 gradcheck::sdk::Tensors<T>* grads);      // grads == nullptr: loss only
//   };
//   GRADCHECK_EXPORT_MODELS(Relu<float>, Relu<double>)
//
// `values["x"].mat()` is a row-major Eigen map of a tensor (first extent as
// rows), `.vec()` a flat one. Every exception thrown by the model is caught at
// the C boundary and becomes a nonzero return code with its what() as
// last_error; a constructor that throws makes create() return NULL.

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "gradcheck/plugin.h"

namespace gradcheck::sdk {

/// One differentiable tensor of a model: its name (unique in the model) and its
/// extents (row-major, rank 0 to 8).
struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
};

/// A view of one tensor buffer owned by the host. `Value` is `T` (writable) or
/// `const T`.
template <typename Value>
class TensorRef {
 public:
  using Scalar = std::remove_const_t<Value>;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using VectorMap = Eigen::Map<std::conditional_t<std::is_const_v<Value>, const Vector, Vector>>;
  using MatrixMap = Eigen::Map<std::conditional_t<std::is_const_v<Value>, const Matrix, Matrix>>;

  TensorRef(Value* data, const TensorSpec* spec, Eigen::Index size) : data_(data), spec_(spec), size_(size) {}

  Value* data() const noexcept { return data_; }
  Eigen::Index size() const noexcept { return size_; }
  const std::string& name() const noexcept { return spec_->name; }
  const std::vector<std::int64_t>& shape() const noexcept { return spec_->shape; }
  Value& operator[](Eigen::Index i) const { return data_[i]; }

  /// All elements, flat in row-major order.
  VectorMap vec() const { return VectorMap(data_, size_); }
  /// The first extent as rows and the others flattened as columns (rank 0:
  /// 1x1; rank 1: a column of n rows).
  MatrixMap mat() const {
    const Eigen::Index rows = shape().empty() ? 1 : static_cast<Eigen::Index>(shape()[0]);
    return mat(rows, rows == 0 ? 0 : size_ / rows);
  }
  /// The elements as a rows x cols row-major matrix; rows * cols must equal size().
  MatrixMap mat(Eigen::Index rows, Eigen::Index cols) const {
    if (rows * cols != size_) throw std::invalid_argument("tensor '" + name() + "' viewed with a wrong matrix shape");
    return MatrixMap(data_, rows, cols);
  }

 private:
  Value* data_;
  const TensorSpec* spec_;
  Eigen::Index size_;
};

/// The model's tensors in the order of `tensors()`, by index or by name.
template <typename Value>
class TensorList {
 public:
  explicit TensorList(std::vector<TensorRef<Value>> refs) : refs_(std::move(refs)) {}
  std::size_t size() const noexcept { return refs_.size(); }
  const TensorRef<Value>& operator[](std::size_t i) const { return refs_.at(i); }
  const TensorRef<Value>& operator[](std::string_view name) const {
    for (const auto& r : refs_)
      if (r.name() == name) return r;
    throw std::out_of_range("no tensor named '" + std::string(name) + "'");
  }
  auto begin() const { return refs_.begin(); }
  auto end() const { return refs_.end(); }

 private:
  std::vector<TensorRef<Value>> refs_;
};

template <typename T>
using Tensors = TensorList<T>;
template <typename T>
using ConstTensors = TensorList<const T>;

/// What GRADCHECK_EXPORT_MODELS needs from a model class.
template <typename M>
concept Model =
    (std::is_same_v<typename M::Scalar, float> || std::is_same_v<typename M::Scalar, double>) &&
    std::is_constructible_v<M, std::uint64_t> &&
    requires(M& m, Tensors<typename M::Scalar>& v, const ConstTensors<typename M::Scalar>& cv,
             Tensors<typename M::Scalar>* g) {
      { M::name() } -> std::convertible_to<std::string>;
      { M::tensors() } -> std::convertible_to<std::vector<TensorSpec>>;
      m.init(v);
      { m.loss(cv, g) } -> std::convertible_to<double>;
    };

namespace detail {

// The C descriptor of model M and the storage its pointers refer to; built
// once, lives until the plugin is unloaded.
template <Model M>
struct Descriptor {
  using T = typename M::Scalar;
  std::string name = M::name();
  std::vector<TensorSpec> specs = M::tensors();
  std::vector<Eigen::Index> sizes;
  std::vector<gradcheck_tensor_spec> c_specs;
  gradcheck_model model{};

  Descriptor() {
    for (const auto& s : specs) {
      Eigen::Index n = 1;
      for (auto e : s.shape) n *= static_cast<Eigen::Index>(e);
      sizes.push_back(n);
      c_specs.push_back({s.name.c_str(), static_cast<std::int32_t>(s.shape.size()), s.shape.data()});
    }
    model.abi_version = GRADCHECK_ABI_VERSION;
    model.struct_size = sizeof(gradcheck_model);
    model.name = name.c_str();
    model.dtype = std::is_same_v<T, float> ? GRADCHECK_F32 : GRADCHECK_F64;
    model.num_tensors = static_cast<std::int32_t>(c_specs.size());
    model.tensors = c_specs.data();
    model.create = &create;
    model.destroy = &destroy;
    model.init = &init;
    model.loss = &loss;
    model.last_error = &last_error;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  static const Descriptor& get() {
    static const Descriptor d;
    return d;
  }

  struct Instance {
    std::optional<M> model;
    std::string error;
  };

  template <typename Value, typename Ptr>
  static TensorList<Value> view(Ptr const* buffers) {
    const Descriptor& d = get();
    std::vector<TensorRef<Value>> refs;
    refs.reserve(d.specs.size());
    for (std::size_t i = 0; i < d.specs.size(); ++i)
      refs.emplace_back(static_cast<Value*>(buffers[i]), &d.specs[i], d.sizes[i]);
    return TensorList<Value>(std::move(refs));
  }

  // Runs f, turning any exception into a nonzero code and last_error text.
  template <typename F>
  static int guarded(Instance* inst, F&& f) noexcept {
    try {
      inst->error.clear();
      f();
      return 0;
    } catch (const std::exception& e) {
      inst->error = e.what();
    } catch (...) {
      inst->error = "unknown C++ exception";
    }
    return 1;
  }

  static void* create(std::uint64_t seed) noexcept {
    try {
      auto inst = std::make_unique<Instance>();
      inst->model.emplace(seed);
      return inst.release();
    } catch (...) {
      return nullptr;
    }
  }
  static void destroy(void* p) noexcept { delete static_cast<Instance*>(p); }
  static int init(void* p, void* const* values) noexcept {
    auto* inst = static_cast<Instance*>(p);
    return guarded(inst, [&] {
      Tensors<T> v = view<T>(values);
      inst->model->init(v);
    });
  }
  static int loss(void* p, const void* const* values, double* out, void* const* grads) noexcept {
    auto* inst = static_cast<Instance*>(p);
    return guarded(inst, [&] {
      const ConstTensors<T> v = view<const T>(values);
      if (grads != nullptr) {
        Tensors<T> g = view<T>(grads);
        *out = static_cast<double>(inst->model->loss(v, &g));
      } else {
        *out = static_cast<double>(inst->model->loss(v, nullptr));
      }
    });
  }
  static const char* last_error(void* p) noexcept { return static_cast<Instance*>(p)->error.c_str(); }
};

template <Model... Ms>
const gradcheck_model* const* export_models(std::uint32_t host_abi_version, std::int32_t* count) noexcept {
  *count = 0;
  // A host speaking an older ABI cannot read these descriptors.
  if (host_abi_version < GRADCHECK_ABI_VERSION) return nullptr;
  try {
    static const std::array<const gradcheck_model*, sizeof...(Ms)> models{&Descriptor<Ms>::get().model...};
    *count = static_cast<std::int32_t>(models.size());
    return models.data();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace detail
}  // namespace gradcheck::sdk

/// Exports the listed model classes as this plugin's models (use once per
/// plugin, at namespace scope): GRADCHECK_EXPORT_MODELS(Mlp<float>, Mlp<double>)
#define GRADCHECK_EXPORT_MODELS(...)                                                              \
  extern "C" GRADCHECK_PLUGIN_EXPORT const gradcheck_model* const* gradcheck_plugin_models(      \
      uint32_t host_abi_version, int32_t* count) {                                                \
    return ::gradcheck::sdk::detail::export_models<__VA_ARGS__>(host_abi_version, count);          \
  }
