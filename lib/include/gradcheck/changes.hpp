#pragma once
// A hint from the checker to a function that keeps its own copy of x.

#include <cstdint>

namespace gradcheck {

/// Which coordinates of x may differ from the x that the same callable was
/// given on its previous call. Either all of them (the default: a first call, or
/// a step along a direction), or at most the two in `index`, -1 where unused:
/// a step at coordinate i that follows one at coordinate j gives {j, i}.
///
/// A function that copies x into buffers of its own (a plugin host, a GPU
/// upload) can then write 2 values per evaluation instead of n. Ignoring the
/// hint is always correct. check_loss passes it to a callable that takes it as
/// a third argument (see check.hpp).
struct Changes {
  bool all = true;
  std::int64_t index[2] = {-1, -1};

  /// The hint for a call that differs from the previous one at most at j and i.
  static constexpr Changes at(std::int64_t j, std::int64_t i) { return {false, {j, i}}; }
};

}  // namespace gradcheck
