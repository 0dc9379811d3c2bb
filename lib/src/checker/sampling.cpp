// Seeded draws and sampling: SplitMix64 for every random choice of the
// checker (samples, directions, upstream gradients), identical on every
// platform.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine_impl.hpp"

namespace gradcheck::detail {

namespace impl {
namespace {

// SplitMix64: small, seedable, identical on every platform (std::normal_distribution is not).
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    state += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
  double normal() {
    // Box-Muller; u1 in (0, 1].
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
};

}  // namespace

std::uint64_t hash_name(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

double rms_of(const std::vector<double>& x, std::int64_t begin, std::int64_t end) {
  if (end <= begin) return 0;
  double s = 0;
  for (std::int64_t i = begin; i < end; ++i) s += x[i] * x[i];
  return std::sqrt(s / static_cast<double>(end - begin));
}

std::vector<std::int64_t> sample_positions(std::int64_t size, std::int64_t max, std::uint64_t seed) {
  std::vector<std::int64_t> pos;
  if (max <= 0 || size <= max) {
    pos.resize(static_cast<std::size_t>(size));
    std::iota(pos.begin(), pos.end(), 0);
    return pos;
  }
  // First and last always (off-by-one bugs live at the edges), the rest by a
  // partial Fisher-Yates shuffle over the interior.
  Rng rng{seed};
  std::vector<std::int64_t> interior(static_cast<std::size_t>(size - 2));
  std::iota(interior.begin(), interior.end(), 1);
  const std::int64_t want = std::max<std::int64_t>(0, max - 2);
  for (std::int64_t k = 0; k < want; ++k) {
    const auto j = k + static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(interior.size() - k));
    std::swap(interior[k], interior[j]);
  }
  pos.assign(interior.begin(), interior.begin() + want);
  pos.push_back(0);
  if (max >= 2) pos.push_back(size - 1);
  std::sort(pos.begin(), pos.end());
  return pos;
}

}  // namespace impl

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<double> normal_vector(std::uint64_t seed, std::size_t n) {
  impl::Rng rng{seed};
  std::vector<double> v(n);
  for (auto& e : v) e = rng.normal();
  return v;
}

}  // namespace gradcheck::detail
