#pragma once
// Realistic training logs for the detector tests: runs made the way real runs
// make them (logistic regression trained by gradient descent, with the loss
// logged in float32 as frameworks compute it), noisy curves with the shapes
// of minibatch training, and a CSV round trip so that column names reach the
// detectors as a user's file would bring them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gradcheck/logs/readers.hpp"
#include "gradcheck/logs/run.hpp"
#include "support/scratch.hpp"

namespace realistic {

/// A value as a framework logs it: computed in float32.
inline double f32(double v) { return static_cast<double>(static_cast<float>(v)); }

/// Two overlapping Gaussian classes in `d` dimensions (the class shifts the
/// first three features by +-shift), feature j scaled by spread^(j/(d-1)) (an
/// ill-conditioned problem when spread > 1), every flip_every-th label flipped
/// (10%; none when 0).
struct Dataset {
  std::vector<std::vector<double>> x;
  std::vector<int> y;
};

inline Dataset two_blobs(std::uint64_t seed, int n = 400, int d = 10, double spread = 3.0, double shift = 0.5,
                         int flip_every = 10) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  Dataset data;
  data.x.assign(static_cast<std::size_t>(n), std::vector<double>(static_cast<std::size_t>(d)));
  data.y.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const int label = i % 2;
    for (int j = 0; j < d; ++j)
      data.x[i][j] = std::pow(spread, static_cast<double>(j) / (d - 1)) * (z(rng) + (j < 3 ? (label ? shift : -shift) : 0.0));
    data.y[i] = flip_every > 0 && i % flip_every == 0 ? 1 - label : label;
  }
  return data;
}

/// What a training loop logs per step: the loss on the step's batch and the
/// gradient norm, in float32.
struct Trace {
  std::vector<double> loss, grad_norm;
  std::vector<double> whole;  // the whole data's loss after each step (when asked for)
};

/// Logistic regression (weights and bias from zero, or drawn from N(0, init^2)
/// when init > 0) trained by gradient descent: full batch when batch == 0,
/// else minibatches drawn in shuffled epochs. `lr_at(step)` is the learning
/// rate schedule; `whole` also records the whole data's loss after each step,
/// as a validation on fixed data sees it.
template <class Schedule>
Trace logistic_regression(const Dataset& data, int steps, int batch, std::uint64_t seed, Schedule lr_at,
                          bool whole = false, double init = 0) {
  const std::size_t n = data.y.size(), d = data.x[0].size();
  std::vector<double> w(d, 0.0), g(d);
  double b = 0;
  std::mt19937_64 rng(seed);
  if (init > 0) {
    std::normal_distribution<double> z(0.0, init);
    for (double& x : w) x = z(rng);
    b = z(rng);
  }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::size_t cursor = n;
  const std::size_t bs = batch == 0 ? n : static_cast<std::size_t>(batch);
  // log(1 + e^x), as frameworks compute it without overflow (x for x > 700)
  auto softplus = [](double x) { return x > 700 ? x : std::log1p(std::exp(x)); };
  Trace t;
  for (int s = 0; s < steps; ++s) {
    if (batch != 0 && cursor + bs > n) {
      std::shuffle(order.begin(), order.end(), rng);
      cursor = 0;
    }
    std::fill(g.begin(), g.end(), 0.0);
    double gb = 0, loss = 0;
    for (std::size_t k = 0; k < bs; ++k) {
      const std::size_t i = batch == 0 ? k : order[cursor + k];
      double a = b;
      for (std::size_t j = 0; j < d; ++j) a += w[j] * data.x[i][j];
      const double p = 1 / (1 + std::exp(-a));
      loss += data.y[i] ? softplus(-a) : softplus(a);
      for (std::size_t j = 0; j < d; ++j) g[j] += (p - data.y[i]) * data.x[i][j];
      gb += p - data.y[i];
    }
    if (batch != 0) cursor += bs;
    double norm = gb * gb;
    for (std::size_t j = 0; j < d; ++j) norm += g[j] * g[j];
    t.loss.push_back(f32(loss / static_cast<double>(bs)));
    t.grad_norm.push_back(f32(std::sqrt(norm) / static_cast<double>(bs)));
    const double lr = lr_at(s);
    for (std::size_t j = 0; j < d; ++j) w[j] -= lr * g[j] / static_cast<double>(bs);
    b -= lr * gb / static_cast<double>(bs);
    if (whole) {
      double all = 0;
      for (std::size_t i = 0; i < n; ++i) {
        double a = b;
        for (std::size_t j = 0; j < d; ++j) a += w[j] * data.x[i][j];
        all += data.y[i] ? softplus(-a) : softplus(a);
      }
      t.whole.push_back(f32(all / static_cast<double>(n)));
    }
  }
  return t;
}

/// A run holding `columns` (name -> values at steps 0, every, 2 every, ...).
inline gradcheck::logs::Run run_of(const std::vector<std::pair<std::string, std::vector<double>>>& columns,
                                   std::int64_t every = 1) {
  gradcheck::logs::Run run;
  run.source = "realistic";
  run.step_name = "step";
  for (const auto& [name, values] : columns) {
    gradcheck::logs::Series s{name, {}, {}};
    for (std::size_t i = 0; i < values.size(); ++i) {
      s.steps.push_back(static_cast<std::int64_t>(i) * every);
      s.values.push_back(values[i]);
    }
    run.series.push_back(std::move(s));
  }
  return run;
}

/// Writes `run` as a CSV file (a `step` column, then one column per series,
/// empty cells where a series has no point; numbers as "%.9g") in the scratch
/// directory and reads it back as convdiag would.
inline gradcheck::logs::Run via_csv(const gradcheck::logs::Run& run, const std::string& file) {
  std::map<std::int64_t, std::vector<std::string>> rows;
  for (std::size_t c = 0; c < run.series.size(); ++c)
    for (std::size_t i = 0; i < run.series[c].size(); ++i) {
      auto& row = rows[run.series[c].steps[i]];
      row.resize(run.series.size());
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.9g", run.series[c].values[i]);
      row[c] = buf;
    }
  const std::string path = (gradcheck::test::scratch_root() / file).string();
  {
    std::ofstream out(path);
    out << "step";
    for (const auto& s : run.series) out << "," << s.name;
    out << "\n";
    for (auto& [step, row] : rows) {
      row.resize(run.series.size());
      out << step;
      for (const auto& cell : row) out << "," << cell;
      out << "\n";
    }
  }
  return gradcheck::logs::read_log(path);
}

}  // namespace realistic
