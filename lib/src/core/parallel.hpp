#pragma once
// The library's one thread pool: items claimed in increasing order by a fixed
// set of workers. Private to the library (machinery, not the manual).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace gradcheck::internal {

/// The number of workers for a `threads` option: the value itself when
/// positive; 0 (or less) means all cores (at least 1).
int resolve_threads(int requested);

/// Runs fn(item, worker) for every item in [0, count) on up to `threads`
/// workers (resolve_threads; never more than `count`), worker 0 being the
/// calling thread. Items are claimed in increasing order; which worker runs
/// which item varies, so callers must make results independent of that
/// (results per item, or per-worker state combined in a fixed order). Each
/// worker then calls done(worker) once, when no item is left for it. After the
/// first exception no further item starts; it is rethrown here once every
/// worker has stopped.
template <class Fn, class Done>
void parallel_for(std::size_t count, int threads, Fn&& fn, Done&& done) {
  const std::size_t workers =
      std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(threads)), count == 0 ? 1 : count);
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
      const std::size_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= count || failed.load(std::memory_order_relaxed)) break;
      try {
        fn(item, worker);
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

/// parallel_for without a per-worker epilogue.
template <class Fn>
void parallel_for(std::size_t count, int threads, Fn&& fn) {
  parallel_for(count, threads, std::forward<Fn>(fn), [](std::size_t) {});
}

}  // namespace gradcheck::internal
