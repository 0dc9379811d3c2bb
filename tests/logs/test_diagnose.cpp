#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "gradcheck/diag/diagnose.hpp"
#include "diag/stats.hpp"
#include "gradcheck/errors.hpp"
#include "support/matchers.hpp"
#include "synth.hpp"

using gradcheck::diag::diagnose;
using gradcheck::diag::RunDiagnosis;
using gradcheck::test::MessageMatches;

namespace {

std::string kinds(const RunDiagnosis& d) {
  std::string s;
  for (const auto& x : d.symptoms) s += x.kind + "(" + x.metric + "): " + x.evidence + "\n";
  return s;
}

bool has(const RunDiagnosis& d, const std::string& kind) {
  return std::any_of(d.symptoms.begin(), d.symptoms.end(), [&](const auto& s) { return s.kind == kind; });
}

const gradcheck::diag::Symptom& get(const RunDiagnosis& d, const std::string& kind) {
  for (const auto& s : d.symptoms)
    if (s.kind == kind) return s;
  FAIL("no symptom " << kind << " in:\n" << kinds(d));
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("Mann-Kendall and Theil-Sen on known series", "[stats]") {
  std::vector<double> up{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  auto t = gradcheck::diag::mann_kendall(up);
  CHECK(t.s == 45);
  CHECK(t.p_increasing < 1e-4);
  CHECK(t.p_decreasing > 0.99);
  std::vector<double> x{0, 1, 2, 3, 4, 5};
  std::vector<double> y{1, 3, 5, 100, 9, 11};  // slope 2 with one outlier
  CHECK(gradcheck::diag::theil_sen_slope(x, y) == Approx(2.0));
  CHECK(gradcheck::diag::median({3, 1, 2}) == 2);
  CHECK(gradcheck::diag::median({4, 1, 2, 3}) == 2.5);
  auto rm = gradcheck::diag::running_median(std::vector<double>{1, 1, 50, 1, 1}, 3);
  CHECK(rm[2] == 1);
}

TEST_CASE("healthy noisy runs are called healthy (60 seeds, three noise levels)", "[diagnose][healthy]") {
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 20; ++seed)
    for (double noise : {0.05, 0.15, 0.3}) {
      const auto d = diagnose(synth::healthy(seed * 7919, 2000, noise));
      if (!d.healthy()) {
        ++alarms;
        if (first.empty()) first = "seed " + std::to_string(seed) + " noise " + std::to_string(noise) + ":\n" + kinds(d);
      }
    }
  INFO(first);
  CHECK(alarms == 0);
}

TEST_CASE("healthy short epoch-level runs are called healthy", "[diagnose][healthy]") {
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    auto run = synth::make_run(seed, 30, 0.05, [](int i) { return 0.3 + 1.5 * std::exp(-i / 6.0); });
    synth::add_series(run, seed + 100, "val_loss", 30, 1, 0.05, [](int i) { return 0.4 + 1.4 * std::exp(-i / 6.0); });
    const auto d = diagnose(run);
    if (!d.healthy()) {
      ++alarms;
      if (first.empty()) first = kinds(d);
    }
  }
  INFO(first);
  CHECK(alarms == 0);
}

TEST_CASE("nan: first non-finite loss is reported with its step", "[diagnose][nan]") {
  auto run = synth::healthy(3);
  auto& loss = run.series[0];
  for (std::size_t i = 1200; i < loss.size(); ++i) loss.values[i] = std::numeric_limits<double>::quiet_NaN();
  const auto d = diagnose(run);
  const auto& s = get(d, "nan");
  CHECK(s.metric == "loss");
  CHECK(s.step_start == 12000);
  CHECK(s.severity == gradcheck::diag::Severity::error);
  CHECK(s.evidence.find("800 of 2000") != std::string::npos);
}

TEST_CASE("nan: infinity in the gradient norm", "[diagnose][nan]") {
  auto run = synth::healthy(4);
  run.series[2].values[500] = std::numeric_limits<double>::infinity();
  const auto d = diagnose(run);
  CHECK(get(d, "nan").metric == "grad_norm");
}

TEST_CASE("divergence: loss falls then climbs back above its start", "[diagnose][divergence]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto run = synth::make_run(seed, 1000, 0.15, [](int i) {
      return i < 400 ? 0.5 + 1.8 * std::exp(-i / 80.0) : 0.5 * std::exp((i - 400) / 150.0);
    });
    const auto d = diagnose(run);
    INFO(kinds(d));
    const auto& s = get(d, "divergence");
    CHECK(s.step_start >= 3000);
    CHECK(s.step_start <= 4500);
    CHECK(s.severity == gradcheck::diag::Severity::error);
    CHECK(s.advice.find("10x") != std::string::npos);
  }
}

TEST_CASE("oscillation: large swings without progress", "[diagnose][oscillation]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.6, 3.0);
    std::vector<double> draws(1000);
    for (auto& v : draws) v = u(rng);
    auto run = synth::make_run(seed, 1000, 0.0, [&](int i) { return draws[static_cast<std::size_t>(i)]; });
    const auto d = diagnose(run);
    INFO(kinds(d));
    CHECK(has(d, "oscillation"));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("plateau: the loss never moves from its start", "[diagnose][plateau]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto run = synth::make_run(seed, 1000, 0.02, [](int i) { return 2.302 - 0.00005 * i; });
    const auto d = diagnose(run);
    INFO(kinds(d));
    CHECK(has(d, "plateau"));
    CHECK_FALSE(has(d, "oscillation"));
  }
}

TEST_CASE("plateau: near ln(classes) with --classes", "[diagnose][plateau]") {
  // Falls 30% early (so no plain plateau) but ends at chance level for 10 classes.
  auto run = synth::make_run(9, 500, 0.02, [](int i) { return std::log(10.0) * (1.0 + 0.5 * std::exp(-i / 20.0)); });
  gradcheck::diag::DiagnoseOptions o;
  CHECK(diagnose(run, o).healthy());
  o.classes = 10;
  const auto d = diagnose(run, o);
  INFO(kinds(d));
  CHECK(get(d, "plateau").evidence.find("ln(10)") != std::string::npos);
}

TEST_CASE("overfitting: validation loss turns up while training loss keeps falling", "[diagnose][overfitting]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto run = synth::make_run(seed, 50, 0.03, [](int i) { return 0.05 + 2.0 * std::exp(-i / 8.0); });
    synth::add_series(run, seed + 9, "val_loss", 50, 1, 0.03,
                      [](int i) { return 0.5 + 1.6 * std::exp(-i / 8.0) + 0.02 * std::max(0, i - 15); });
    const auto d = diagnose(run);
    INFO(kinds(d));
    const auto& s = get(d, "overfitting");
    CHECK(s.metric == "val_loss");
    CHECK(s.step_start >= 100);
    CHECK(s.step_start <= 300);
    CHECK(s.evidence.find("best checkpoint") != std::string::npos);
    CHECK_FALSE(has(d, "divergence"));
  }
}

TEST_CASE("exploding gradient: the gradient norm grows by orders of magnitude", "[diagnose][exploding_gradient]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto run = synth::healthy(seed);
    run.series[2] = gradcheck::logs::Series{"grad_norm", {}, {}};
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    for (int i = 0; i < 2000; ++i) {
      run.series[2].steps.push_back(i * 10);
      run.series[2].values.push_back(std::pow(10.0, 3.0 * i / 2000.0) * std::exp(0.3 * z(rng)));
    }
    const auto d = diagnose(run);
    INFO(kinds(d));
    CHECK(get(d, "exploding_gradient").severity == gradcheck::diag::Severity::error);
  }
}

TEST_CASE("vanishing gradient: gradient norm collapses while the loss is stuck", "[diagnose][vanishing_gradient]") {
  auto run = synth::make_run(5, 1000, 0.02, [](int i) { return 0.69 * (1.0 + 0.2 * std::exp(-i / 30.0)); });
  synth::add_series(run, 6, "grad_norm", 1000, 1, 0.2, [](int i) { return std::pow(10.0, -5.0 * i / 1000.0); });
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(has(d, "vanishing_gradient"));
}

TEST_CASE("vanishing gradient: first layer's gradient is 1e-5 of the last layer's", "[diagnose][vanishing_gradient]") {
  auto run = synth::make_run(5, 400, 0.02, [](int) { return 0.69; });
  synth::add_series(run, 6, "grad_norm/fc1.weight", 400, 1, 0.2, [](int) { return 1e-6; });
  synth::add_series(run, 7, "grad_norm/fc1.bias", 400, 1, 0.2, [](int) { return 1e-7; });
  synth::add_series(run, 8, "grad_norm/fc4.weight", 400, 1, 0.2, [](int) { return 0.1; });
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(get(d, "vanishing_gradient").metric == "grad_norm/fc1.weight");
}

TEST_CASE("spike: isolated loss spikes that recover", "[diagnose][spike]") {
  auto run = synth::healthy(11);
  run.series[0].values[700] *= 12;
  run.series[0].values[1500] *= 8;
  const auto d = diagnose(run);
  INFO(kinds(d));
  const auto& s = get(d, "spike");
  CHECK(s.step_start == 7000);
  CHECK(s.step_end == 15000);
  CHECK(s.evidence.find("2 spikes") != std::string::npos);
  CHECK_FALSE(has(d, "divergence"));
}

TEST_CASE("too few points: only a note, and healthy", "[diagnose]") {
  auto run = synth::make_run(1, 3, 0.0, [](int i) { return 1.0 / (i + 1); });
  const auto d = diagnose(run);
  CHECK(d.healthy());
  REQUIRE(d.notes.size() == 1);
  CHECK(d.notes[0].find("too few") != std::string::npos);
}

TEST_CASE("no recognisable loss, or a wrong override, is an InputError listing the series", "[diagnose][errors]") {
  auto run = synth::make_run(1, 30, 0.0, [](int) { return 1.0; }, "accuracy");
  CHECK_THROWS_MATCHES(diagnose(run), gradcheck::InputError, MessageMatches(Catch::Contains("accuracy")));
  gradcheck::diag::DiagnoseOptions o;
  o.columns.loss = "accuracy";
  CHECK_NOTHROW(diagnose(run, o));
  o.columns.val = "nope";
  REQUIRE_THROWS_AS(diagnose(run, o), gradcheck::InputError);
}
