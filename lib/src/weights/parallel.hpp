#pragma once
// Private: a fixed pool of threads claiming task indices in order.

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace gradcheck::weights::detail {

inline int resolve_threads(int requested) {
  if (requested > 0) return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

/// Runs fn(task, worker) for task in [0, tasks) on `threads` workers. Tasks
/// are claimed in increasing order; which worker runs which task varies, so
/// callers must make results independent of that. Each worker then calls
/// done(worker) once, when no task is left for it (workers hold per-worker
/// state across tasks and publish it there). The first exception thrown by
/// any call is rethrown here after all workers stop.
template <class Fn, class Done>
void parallel_for(std::size_t tasks, int threads, Fn&& fn, Done&& done) {
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(threads)),
                                                    tasks == 0 ? 1 : tasks);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto fail = [&] {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = std::current_exception();
    failed = true;
  };
  auto work = [&](std::size_t worker) {
    for (;;) {
      const std::size_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks || failed.load(std::memory_order_relaxed)) break;
      try {
        fn(t, worker);
      } catch (...) {
        fail();
      }
    }
    try {
      done(worker);
    } catch (...) {
      fail();
    }
  };
  if (workers <= 1) {
    work(0);
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(workers - 1);
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
  }
  if (error) std::rethrow_exception(error);
}

template <class Fn>
void parallel_for(std::size_t tasks, int threads, Fn&& fn) {
  parallel_for(tasks, threads, std::forward<Fn>(fn), [](std::size_t) {});
}

}  // namespace gradcheck::weights::detail
