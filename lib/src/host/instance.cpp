#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "gradcheck/plugin.h"
#include "gradcheck/host/loader.hpp"
#include "gradcheck/utf8.hpp"

namespace gradcheck::host {
namespace {

// Quiet NaNs with a payload no arithmetic produces from finite inputs: an
// element still holding it after a call was never written (or was accumulated
// into with +=, which keeps the first NaN operand's payload).
constexpr std::uint64_t kSentinel64 = 0x7ffdead0beef0badULL;
constexpr std::uint32_t kSentinel32 = 0x7fdead00U;

bool is_sentinel(double v) { return std::bit_cast<std::uint64_t>(v) == kSentinel64; }
bool is_sentinel(float v) { return std::bit_cast<std::uint32_t>(v) == kSentinel32; }

// First offending flat index and how many there are, for one kind of fault.
struct Tally {
  std::size_t first = 0;
  std::size_t count = 0;
  void add(std::size_t i) {
    if (count++ == 0) first = i;
  }
};

}  // namespace

ModelInstance::ModelInstance(const Plugin& plugin, std::size_t model_index, std::uint64_t seed)
    : model_(plugin.descriptor(model_index)), info_(&plugin.models().at(model_index)) {
  const std::size_t n = info_->num_values;
  if (info_->dtype == Dtype::f64) {
    values64_.resize(n);
    grads64_.resize(n);
  } else {
    values32_.resize(n);
    grads32_.resize(n);
  }
  for (const auto& t : info_->tensors) {
    if (info_->dtype == Dtype::f64) {
      value_ptrs_.push_back(values64_.data() + t.offset);
      grad_ptrs_.push_back(grads64_.data() + t.offset);
    } else {
      value_ptrs_.push_back(values32_.data() + t.offset);
      grad_ptrs_.push_back(grads32_.data() + t.offset);
    }
  }
  instance_ = model_->create(seed);
  if (instance_ == nullptr)
    throw ModelError({ProblemKind::model_error, "model '" + info_->name + "': create(seed=" + std::to_string(seed) +
                                             ") returned NULL"});
}

ModelInstance::~ModelInstance() {
  if (instance_ != nullptr) model_->destroy(instance_);
}

std::string ModelInstance::last_error_text() const {
  if (model_->last_error == nullptr) return "no message (last_error is NULL)";
  const char* s = model_->last_error(instance_);
  if (s == nullptr || s[0] == '\0') return "no message";
  return escape_invalid_utf8(s);  // the plugin's bytes go into one-line messages and reports
}

std::string ModelInstance::where(std::size_t i) const { return describe_index(*info_, i); }

void ModelInstance::round_to_dtype(std::span<double> x) const noexcept {
  if (info_->dtype == Dtype::f32)
    for (double& v : x) v = static_cast<double>(static_cast<float>(v));
}

std::vector<double> ModelInstance::init() {
  const std::size_t n = info_->num_values;
  if (info_->dtype == Dtype::f64) std::fill(values64_.begin(), values64_.end(), std::bit_cast<double>(kSentinel64));
  else std::fill(values32_.begin(), values32_.end(), std::bit_cast<float>(kSentinel32));
  const int rc = model_->init(instance_, value_ptrs_.data());
  if (rc != 0)
    throw ModelError({ProblemKind::model_error,
                      "model '" + info_->name + "': init returned " + std::to_string(rc) + ": " + last_error_text()});
  std::vector<double> x(n);
  Tally unwritten, nonfinite;
  for (std::size_t i = 0; i < n; ++i) {
    const bool sentinel = info_->dtype == Dtype::f64 ? is_sentinel(values64_[i]) : is_sentinel(values32_[i]);
    x[i] = info_->dtype == Dtype::f64 ? values64_[i] : static_cast<double>(values32_[i]);
    if (sentinel) unwritten.add(i);
    else if (!std::isfinite(x[i])) nonfinite.add(i);
  }
  if (unwritten.count > 0)
    throw ModelError({ProblemKind::model_error, "model '" + info_->name + "': init did not write " + where(unwritten.first) +
                                             (unwritten.count > 1 ? " and " + std::to_string(unwritten.count - 1) +
                                                                        " more values"
                                                                  : std::string())});
  if (nonfinite.count > 0)
    throw ModelError({ProblemKind::model_error, "model '" + info_->name + "': init set " + where(nonfinite.first) +
                                             " to a non-finite value" +
                                             (nonfinite.count > 1 ? " (and " + std::to_string(nonfinite.count - 1) +
                                                                        " more)"
                                                                  : std::string())});
  return x;
}

std::vector<Problem> ModelInstance::loss(std::span<const double> x, double& loss, std::span<double> grad,
                                        const Changes& changes) {
  return loss_impl(x, loss, grad, changes);
}

std::vector<Problem> ModelInstance::loss(std::span<const float> x, double& loss, std::span<double> grad,
                                        const Changes& changes) {
  return loss_impl(x, loss, grad, changes);
}

namespace {

template <class M>
bool same_bits(M a, M b) {
  if constexpr (sizeof(M) == 8) return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
  else return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Brings the model's value buffer to exactly x (bitwise) and tallies, in
// `stale` when given, the elements that differed. When the caller's type is
// the model's, only the chunks that differ are written: a finite-difference
// caller changes one or two values between calls, so this is one read of each
// array instead of a copy. Whatever the model wrote into the buffer during
// earlier calls differs from x and is overwritten too.
template <class M, class S>
void sync_values(std::vector<M>& buffer, std::span<const S> x, Tally* stale) {
  const std::size_t n = buffer.size();
  if constexpr (std::is_same_v<M, S>) {
    constexpr std::size_t kChunk = 512 / sizeof(M);
    for (std::size_t i = 0; i < n; i += kChunk) {
      const std::size_t len = std::min(kChunk, n - i);
      if (std::memcmp(buffer.data() + i, x.data() + i, len * sizeof(M)) == 0) continue;
      if (stale)
        for (std::size_t k = i; k < i + len; ++k)
          if (!same_bits(buffer[k], x[k])) stale->add(k);
      std::memcpy(buffer.data() + i, x.data() + i, len * sizeof(M));
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const M v = static_cast<M>(x[i]);
      if (stale && !same_bits(buffer[i], v)) stale->add(i);
      buffer[i] = v;
    }
  }
}

// The O(1) update for a caller that says which values changed (Changes);
// false when the hint does not apply, and the caller must sync everything.
template <class M, class S>
bool write_changed(std::vector<M>& buffer, std::span<const S> x, const Changes& changes) {
  if (changes.all) return false;
  for (std::int64_t i : changes.index)
    if (i < -1 || i >= static_cast<std::int64_t>(buffer.size())) return false;
  for (std::int64_t i : changes.index)
    if (i >= 0) buffer[static_cast<std::size_t>(i)] = static_cast<M>(x[static_cast<std::size_t>(i)]);
  return true;
}

}  // namespace

template <class S>
std::vector<Problem> ModelInstance::loss_impl(std::span<const S> x, double& loss, std::span<double> grad,
                                              const Changes& changes) {
  const std::size_t n = info_->num_values;
  const bool f64 = info_->dtype == Dtype::f64;
  const bool want_grad = !grad.empty();
  // Reading the values before and after a call are the host's two passes over
  // them. A model that writes its inputs does so on every call (scratch space,
  // an in-place activation), so a sample of the value-only calls finds it; the
  // others, when the caller says what changed, touch two values.
  const std::uint64_t value_only_calls = evaluations_ - gradient_calls_;
  const bool compare = want_grad || value_only_calls < kComparedFirst || value_only_calls % kCompareEvery == 0;
  if (want_grad) ++gradient_calls_;
  ++evaluations_;
  Tally modified, unwritten, nonfinite;
  // With a hint only the named values are written; a compared call syncs the
  // rest too, and whatever else differs then, the model wrote during an
  // uncompared call.
  auto prepare = [&](auto& values, auto& grads, auto sentinel) {
    const bool hinted = write_changed(values, x, changes);
    if (!hinted || compare) sync_values(values, x, hinted ? &modified : nullptr);
    if (want_grad) std::fill(grads.begin(), grads.end(), sentinel);
  };
  if (f64) prepare(values64_, grads64_, std::bit_cast<double>(kSentinel64));
  else prepare(values32_, grads32_, std::bit_cast<float>(kSentinel32));
  double out = std::numeric_limits<double>::quiet_NaN();
  const int rc = model_->loss(instance_, const_cast<const void* const*>(value_ptrs_.data()), &out,
                              want_grad ? grad_ptrs_.data() : nullptr);
  std::vector<Problem> problems;
  auto model = [&] { return "model '" + info_->name + "': "; };
  if (rc != 0) {
    problems.push_back({ProblemKind::model_error, model() + "loss returned " + std::to_string(rc) + ": " + last_error_text()});
    return problems;
  }
  loss = out;
  // Bitwise, so a NaN value the model leaves alone still compares equal.
  constexpr bool same_type64 = std::is_same_v<S, double>, same_type32 = std::is_same_v<S, float>;
  const bool untouched = !compare || modified.count > 0 ||
                         (f64 && same_type64 && std::memcmp(values64_.data(), x.data(), n * sizeof(double)) == 0) ||
                         (!f64 && same_type32 && std::memcmp(values32_.data(), x.data(), n * sizeof(float)) == 0);
  if (!untouched) {
    if (f64) {
      for (std::size_t i = 0; i < n; ++i)
        if (std::bit_cast<std::uint64_t>(values64_[i]) != std::bit_cast<std::uint64_t>(static_cast<double>(x[i])))
          modified.add(i);
    } else {
      for (std::size_t i = 0; i < n; ++i)
        if (std::bit_cast<std::uint32_t>(values32_[i]) != std::bit_cast<std::uint32_t>(static_cast<float>(x[i])))
          modified.add(i);
    }
  }
  if (modified.count > 0)
    problems.push_back({ProblemKind::values_modified,
                        model() + "loss changed the values it was given, first at " + where(modified.first) +
                            (modified.count > 1 ? " (" + std::to_string(modified.count) + " values changed)"
                                                : std::string())});
  if (!std::isfinite(out))
    problems.push_back({ProblemKind::non_finite, model() + "the loss is " + std::to_string(out)});
  if (want_grad) {
    for (std::size_t i = 0; i < n; ++i) {
      const bool sentinel = f64 ? is_sentinel(grads64_[i]) : is_sentinel(grads32_[i]);
      const double g = f64 ? grads64_[i] : static_cast<double>(grads32_[i]);
      grad[i] = g;
      if (sentinel) unwritten.add(i);
      else if (!std::isfinite(g)) nonfinite.add(i);
    }
    if (unwritten.count > 0)
      problems.push_back({ProblemKind::gradient_not_written,
                          model() + "the gradient of " + where(unwritten.first) +
                              " was not written (or was accumulated into with += without being zeroed)" +
                              (unwritten.count > 1 ? "; " + std::to_string(unwritten.count) + " elements in all"
                                                   : std::string())});
    if (nonfinite.count > 0)
      problems.push_back({ProblemKind::non_finite, model() + "the gradient of " + where(nonfinite.first) + " is " +
                                                std::to_string(grad[nonfinite.first]) +
                                                (nonfinite.count > 1 ? "; " + std::to_string(nonfinite.count) +
                                                                           " non-finite elements in all"
                                                                     : std::string())});
  }
  return problems;
}

template std::vector<Problem> ModelInstance::loss_impl(std::span<const double>, double&, std::span<double>,
                                                      const Changes&);
template std::vector<Problem> ModelInstance::loss_impl(std::span<const float>, double&, std::span<double>,
                                                      const Changes&);

std::vector<Problem> ModelInstance::loss_twice(std::span<const double> x, double& loss, std::span<double> grad) {
  std::vector<Problem> problems = this->loss(x, loss, grad);
  for (const auto& p : problems)
    if (p.kind == ProblemKind::model_error) return problems;
  std::vector<double> grad2(grad.size());
  double loss2 = 0;
  std::vector<Problem> second = this->loss(x, loss2, grad2);
  for (auto& p : second) {
    bool seen = false;
    for (const auto& q : problems) seen = seen || q.kind == p.kind;
    if (!seen) problems.push_back(std::move(p));
  }
  for (const auto& p : problems)
    if (p.kind == ProblemKind::model_error) return problems;
  const std::string model = "model '" + info_->name + "': ";
  if (std::bit_cast<std::uint64_t>(loss) != std::bit_cast<std::uint64_t>(loss2)) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "two calls at the same point gave losses %.17g and %.17g", loss, loss2);
    problems.push_back({ProblemKind::nondeterministic_loss,
                        model + buf + " (random draws per call, such as a dropout mask, or uninitialised memory)"});
  }
  for (std::size_t i = 0; i < grad.size(); ++i) {
    if (std::bit_cast<std::uint64_t>(grad[i]) != std::bit_cast<std::uint64_t>(grad2[i])) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "two calls at the same point gave gradients %.17g and %.17g at ", grad[i],
                    grad2[i]);
      problems.push_back({ProblemKind::stateful_gradient, model + buf + where(i) +
                                                       " (state kept between calls, such as an accumulator "
                                                       "that is never reset)"});
      break;
    }
  }
  return problems;
}

}  // namespace gradcheck::host
