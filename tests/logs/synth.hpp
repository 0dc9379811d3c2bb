#pragma once
// Seeded synthetic training curves for the detector tests.

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "gradcheck/logs/run.hpp"

namespace synth {

// A run with a training loss of `n` steps: value(i) times lognormal noise of
// relative size `noise`, drawn from `seed`.
inline gradcheck::logs::Run make_run(std::uint64_t seed, int n, double noise,
                                     const std::function<double(int)>& value, const std::string& name = "loss") {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  gradcheck::logs::Run run;
  run.source = "synthetic-" + std::to_string(seed);
  run.step_name = "step";
  gradcheck::logs::Series s{name, {}, {}};
  for (int i = 0; i < n; ++i) {
    s.steps.push_back(i * 10);
    s.values.push_back(value(i) * std::exp(noise * z(rng)));
  }
  run.series.push_back(std::move(s));
  return run;
}

inline void add_series(gradcheck::logs::Run& run, std::uint64_t seed, const std::string& name, int n, int every,
                       double noise, const std::function<double(int)>& value) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  gradcheck::logs::Series s{name, {}, {}};
  for (int i = 0; i < n; i += every) {
    s.steps.push_back(i * 10);
    s.values.push_back(value(i) * std::exp(noise * z(rng)));
  }
  run.series.push_back(std::move(s));
}

// A healthy classifier run: loss decays from ~2.3 towards 0.1, validation loss
// decays and levels off above it, gradient norm drifts down gently.
inline gradcheck::logs::Run healthy(std::uint64_t seed, int n = 2000, double noise = 0.15) {
  auto loss = [n](int i) { return 0.1 + 2.2 * std::exp(-6.0 * i / n); };
  auto run = make_run(seed, n, noise, loss);
  add_series(run, seed + 1, "val_loss", n, n / 20, 0.03, [n](int i) { return 0.2 + 2.1 * std::exp(-6.0 * i / n); });
  add_series(run, seed + 2, "grad_norm", n, 1, 0.3, [n](int i) { return 1.0 + 2.0 * std::exp(-3.0 * i / n); });
  add_series(run, seed + 3, "lr", n, 1, 0.0, [](int) { return 1e-3; });
  return run;
}

}  // namespace synth
