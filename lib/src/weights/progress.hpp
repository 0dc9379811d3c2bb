#pragma once
// Private to the library: progress over tensors worked on by parallel_for
// (core/parallel.hpp), reported from the calling thread only.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "gradcheck/weights/statistics.hpp"

namespace gradcheck::weights::detail {

/// Progress of analyse_tensors or diff_tensors: tensors (or pairs) finished
/// so far and their total. Empty: none.
using ProgressFn = std::function<void(std::int64_t done, std::int64_t total)>;

/// analyse_tensors and diff_tensors (statistics.hpp) with `progress` called
/// as TensorProgress does: from the calling thread only, at most once per
/// finished tensor, the last call with done == total. Same results.
std::vector<TensorAnalysis> analyse_tensors(const std::vector<TensorView>& views, const StatsOptions& options,
                                            const ProgressFn& progress);
std::vector<DiffStats> diff_tensors(const std::vector<std::pair<TensorView, TensorView>>& pairs,
                                    const StatsOptions& options, const ProgressFn& progress);

/// Counts finished tensors (from any worker) and passes the count to
/// `callback` from worker 0 only, the thread that called parallel_for, when it
/// grew: never concurrently, at most once per finished tensor, `done` never
/// decreasing. report() after parallel_for gives the last call, done == total
/// (no call at all when total is 0). An empty callback makes it a no-op.
class TensorProgress {
 public:
  TensorProgress(const ProgressFn& callback, std::int64_t total)
      : callback_(callback), total_(total) {}
  TensorProgress(const TensorProgress&) = delete;
  TensorProgress& operator=(const TensorProgress&) = delete;

  /// A tensor is finished (any thread).
  void finished() noexcept { done_.fetch_add(1, std::memory_order_relaxed); }
  /// Inside parallel_for: reports the count if `worker` is 0 and it grew.
  void poll(std::size_t worker) {
    if (worker == 0) report();
  }
  /// Reports the count if it grew (calling thread only).
  void report() {
    if (!callback_) return;
    const std::int64_t done = done_.load(std::memory_order_relaxed);
    if (done <= reported_) return;
    reported_ = done;
    callback_(done, total_);
  }

 private:
  const ProgressFn& callback_;
  const std::int64_t total_;
  std::atomic<std::int64_t> done_{0};
  std::int64_t reported_ = 0;
};

}  // namespace gradcheck::weights::detail
