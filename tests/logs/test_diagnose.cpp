#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include <random>
#include <numeric>
#include "gradcheck/diag/diagnose.hpp"
#include "diag/stats.hpp"
#include "gradcheck/errors.hpp"
#include "realistic.hpp"
#include "support/matchers.hpp"
#include "synth.hpp"

using gradcheck::diag::diagnose;
using gradcheck::diag::RunDiagnosis;
using gradcheck::test::MessageMatches;

namespace {

std::string kinds(const RunDiagnosis& d) {
  std::string s;
  for (const auto& x : d.symptoms) s += std::string(to_string(x.kind)) + "(" + x.metric + "): " + x.evidence + "\n";
  return s;
}

bool has(const RunDiagnosis& d, const std::string& kind) {
  return std::any_of(d.symptoms.begin(), d.symptoms.end(), [&](const auto& s) { return to_string(s.kind) == kind; });
}

const gradcheck::diag::Symptom& get(const RunDiagnosis& d, const std::string& kind) {
  for (const auto& s : d.symptoms)
    if (to_string(s.kind) == kind) return s;
  FAIL("no symptom " << kind << " in:\n" << kinds(d));
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("symptom kinds are spelled as the tools' contract names them, and read back", "[diagnose]") {
  using gradcheck::diag::SymptomKind;
  const std::vector<std::string> contract = {"nan",         "divergence",         "oscillation",
                                             "plateau",     "overfitting",        "exploding_gradient",
                                             "vanishing_gradient", "spike",       "initial_loss_mismatch",
                                             "cannot_overfit_batch"};
  for (std::size_t i = 0; i < contract.size(); ++i) {
    const auto k = static_cast<SymptomKind>(i);
    CHECK(to_string(k) == contract[i]);
    CHECK(gradcheck::diag::symptom_kind_from_string(contract[i]) == k);
  }
  CHECK_THROWS_MATCHES(gradcheck::diag::symptom_kind_from_string("plateaus"), std::invalid_argument,
                       MessageMatches(Catch::Contains("plateaus")));
}

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

TEST_CASE("change points, persistence and lag-1 autocorrelation on known series", "[stats]") {
  using gradcheck::diag::lag1_autocorrelation;
  using gradcheck::diag::persistent_onset;
  using gradcheck::diag::rise_onset;
  // Flat, then a ramp from index 30; flat, then a step at 25; a straight rise
  // from the start; a rise from the bottom of a V, flat for 5 points, and the
  // whole V (the flat shapes fit its falling side worst: a later onset).
  std::vector<double> ramp(60), step(50), line(40), vee(40);
  for (int i = 0; i < 60; ++i) ramp[i] = i < 30 ? 1.0 + 0.01 * (i % 3) : 1.0 + 0.2 * (i - 30);
  for (int i = 0; i < 50; ++i) step[i] = i < 25 ? 0.0 + 0.01 * (i % 2) : 5.0;
  for (int i = 0; i < 40; ++i) line[i] = 0.5 * i;
  for (int i = 0; i < 40; ++i) vee[i] = std::max(0.0, std::abs(i - 15.0) - 2.5);
  CHECK(rise_onset(ramp) >= 28);
  CHECK(rise_onset(ramp) <= 31);
  CHECK(rise_onset(step) == 25);
  CHECK(rise_onset(line) <= 1);
  const std::span<const double> bottom = std::span<const double>(vee).subspan(13);
  CHECK(rise_onset(bottom) >= 4);
  CHECK(rise_onset(bottom) <= 6);
  CHECK(rise_onset(std::vector<double>{3, 2, 1}) == 0);  // no rise
  const std::vector<std::uint8_t> flags{0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};
  CHECK(persistent_onset(flags, 0.8) == 4);
  CHECK(persistent_onset(flags, 1.0) == 8);
  CHECK(persistent_onset(std::vector<std::uint8_t>{0, 0}, 0.5) == 2);
  CHECK(lag1_autocorrelation(std::vector<double>{1, -1, 1, -1, 1, -1, 1, -1}) < -0.8);
  CHECK(lag1_autocorrelation(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}) > 0.6);
  CHECK(lag1_autocorrelation(std::vector<double>{2, 2, 2}) == 0);
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
    // It starts where the curve leaves its bottom for good (the last point
    // within 10% of the rise above its lowest level): for this slow
    // exponential climb from step 4000, about 2,400 steps later.
    const auto& s = get(d, "divergence");
    CHECK(s.step_start >= 3000);
    CHECK(s.step_start <= 7000);
    CHECK(s.severity == gradcheck::diag::Severity::error);
    CHECK(s.advice.find("10x") != std::string::npos);
  }
}

TEST_CASE("independent scatter without structure is not oscillation", "[diagnose][oscillation]") {
  // Draws between 0.6 and 3.0 without any structure, as a small-batch run
  // scatters around a level it reached: averaged over enough points that a
  // mean's noise is small (the log does not say where its epochs are), the
  // loss does not swing. (Whether this run made progress depends on where the
  // noise put its first points.)
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.6, 3.0);
    std::vector<double> draws(1000);
    for (auto& v : draws) v = u(rng);
    auto run = synth::make_run(seed, 1000, 0.0, [&](int i) { return draws[static_cast<std::size_t>(i)]; });
    const auto d = diagnose(run);
    INFO(kinds(d));
    CHECK_FALSE(has(d, "oscillation"));
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

TEST_CASE("plateau: a loss thrown low once in its first points that then sticks above its start is a plateau",
          "[diagnose][plateau]") {
  // A 10-class MLP at a momentum rate far too high, logged every 10 steps
  // (57 points): in its first five points the loss bounces (2.07, 0.66, 1.2,
  // 2.5, 12.4), then its units are dead and it sits at 2.33, near ln 10, for
  // the rest of the run. The one low point while it was thrown about is no
  // progress: the loss never got below its start again.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const double first[] = {2.068, 0.6595, 1.205, 2.515, 12.36};
    auto run = synth::make_run(seed, 57, 0.03, [&](int i) { return i < 5 ? first[i] : 2.33; });
    for (int i = 0; i < 5; ++i) run.series[0].values[static_cast<std::size_t>(i)] = first[i];
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "plateau"));
  }
}

namespace {

// A per-epoch log of 60 epochs: `loss(i)` with relative noise `noise`, seeds
// 1-3; how many of the three diagnoses report a plateau, and what they say.
struct Plateaus {
  int found = 0;
  std::string said;
};

template <class Loss>
Plateaus plateaus_per_epoch(double noise, Loss loss) {
  Plateaus p;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto run = synth::make_run(seed, 60, noise, loss);
    run.step_name = "epoch";
    const auto d = diagnose(run);
    p.said += "seed " + std::to_string(seed) + ":\n" + kinds(d) + "\n";
    p.found += has(d, "plateau") ? 1 : 0;
  }
  return p;
}

}  // namespace

TEST_CASE("plateau: a first epoch blown up by unscaled features, then the class frequencies' loss held to the end",
          "[diagnose][plateau]") {
  // A per-epoch log of 60 epochs (3 classes, unscaled features, a rate too
  // low to learn more): the first epoch's mean is 15, inflated by its first
  // batches, and from the second epoch the model predicts the class
  // frequencies, a loss of 1.08, wandering by 0.5% to the end. The fall from
  // the first value is not progress: nothing falls after it.
  {
    const auto p = plateaus_per_epoch(0.005, [](int i) { return i == 0 ? 15.25 : 1.08; });
    INFO(p.said);
    CHECK(p.found == 3);
  }
  // The same first epoch followed by a loss that keeps falling: progress.
  {
    const auto p = plateaus_per_epoch(0.005, [](int i) { return i == 0 ? 15.25 : 0.3 + 0.78 * std::exp(-i / 15.0); });
    INFO(p.said);
    CHECK(p.found == 0);
  }
}

TEST_CASE("plateau: a first epoch blown up, then a uniform guess that drifts by 0.2% to the end, is a plateau",
          "[diagnose][plateau]") {
  // A per-epoch log of 60 epochs (3 classes, unscaled features, a rate too
  // high for them): the first epoch's mean is 8.7, then every ReLU is dead and
  // the model outputs a uniform guess, ln 3 = 1.0986, its bias drifting it
  // down by 0.2% over the run. The drift is a significant trend but no
  // progress: the loss never left the guess.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto run = synth::make_run(seed, 60, 0.0003, [](int i) { return i == 0 ? 8.711 : std::log(3.0) - 0.00004 * i; });
    run.step_name = "epoch";
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& s = get(d, "plateau");
    CHECK(s.step_start == 10);  // the second epoch
  }
  // The same first epoch, then a loss that falls from the guess: progress.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto run = synth::make_run(seed, 60, 0.0003,
                               [](int i) { return i == 0 ? 8.711 : 0.3 + (std::log(3.0) - 0.3) * std::exp(-i / 15.0); });
    run.step_name = "epoch";
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("plateau: a first epoch blown up, then a level that drifts down 3%, is no progress, whatever the trend test says",
          "[diagnose][plateau][regression]") {
  // A regression's per-epoch log of 60 epochs: the first epoch's mean is 12,
  // inflated by its first batches; from the second epoch the loss holds about
  // 3.2 (no class count's ln C), drifting down by 3% over the run with little
  // noise. The drift is a significant downward trend, but the points after
  // the first never fall 10% below their own start: the run made no progress
  // after its first epoch (as one run of the calibration sets, 25.8 then 1.10
  // to 1.04).
  {
    const auto p = plateaus_per_epoch(0.003, [](int i) { return i == 0 ? 12.0 : 3.2 * (1 - 0.0005 * i); });
    INFO(p.said);
    CHECK(p.found == 3);
  }
  // The same first epoch, then a loss that falls from 3.2 to 2: progress.
  {
    const auto p = plateaus_per_epoch(0.003, [](int i) { return i == 0 ? 12.0 : 2.0 + 1.2 * std::exp(-i / 15.0); });
    INFO(p.said);
    CHECK(p.found == 0);
  }
}

TEST_CASE("plateau: a resumed run that starts from a trained model and improves little is not a plateau",
          "[diagnose][plateau][healthy]") {
  // Logistic regression on separable-enough classes (shift 1) trained with
  // minibatches of 16 for 2,000 steps; the log of a run resumed at step 1,500
  // holds the last 500: it starts below 0.5, well below ln 2, where a fresh
  // classifier starts, and stays there (no chance level is known without
  // --classes). Where it improves by less than 10% from the median of its
  // first 5% (3 of the 8 seeds), a note says why that is not a plateau.
  int resumed_flat = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 1.0, 1.0);
    const auto t = realistic::logistic_regression(data, 2000, 16, seed, [](int) { return 0.1; });
    const std::vector<double> resumed(t.loss.begin() + 1500, t.loss.end());
    const auto d = diagnose(realistic::run_of({{"loss", resumed}}));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(gradcheck::diag::median(std::vector<double>(resumed.begin(), resumed.begin() + 20)) < 0.5);
    CHECK_FALSE(has(d, "plateau"));
    resumed_flat += std::any_of(d.notes.begin(), d.notes.end(), [](const std::string& n) {
      return n.find("had learned already") != std::string::npos;
    });
  }
  CHECK(resumed_flat >= 3);
  // A fresh binary classifier that cannot learn (a rate of 1e-6) starts at
  // ln 2 and stays: still a plateau.
  const auto data = realistic::two_blobs(1, 400, 10, 1.0, 1.0);
  const auto t = realistic::logistic_regression(data, 500, 16, 1, [](int) { return 1e-6; });
  const auto d = diagnose(realistic::run_of({{"loss", t.loss}}));
  INFO(kinds(d));
  CHECK(has(d, "plateau"));
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

TEST_CASE("exploding gradient: a run that blows up to NaN within a few logged points", "[diagnose][exploding_gradient]") {
  // A learning rate warming up without end, logged every 10 steps: the
  // gradient norm wanders around 1-4, then grows by orders of magnitude for
  // three points and turns NaN with the loss at step 79. Seven finite points
  // are too few for the trend rules, not for orders of magnitude before a NaN.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> grad{2.64, 1.06, 1.77, 3.92, 14.9, 6.97e4, 8.21e16, nan};
  const std::vector<double> loss{0.883, 0.604, 0.681, 1.10, 1.65, 3.55e6, 2.87e23, nan};
  const auto d = diagnose(realistic::via_csv(realistic::run_of({{"loss", loss}, {"grad_norm", grad}}, 10), "short.csv"));
  INFO(kinds(d));
  CHECK(has(d, "nan"));
  const auto& s = get(d, "exploding_gradient");
  CHECK(s.step_start == 50);
  CHECK(s.evidence.find("before the first non-finite value at step 70") != std::string::npos);
  // Not without orders of magnitude (a NaN from a log(0) in the loss), nor
  // without a non-finite value while the loss stays calm (a short log that is
  // judged no further); ending finite, a loss that climbed two decades beside
  // it is evidence enough.
  const std::vector<double> steady{2.64, 1.06, 1.77, 3.92, 2.9, 3.1, 2.2, nan};
  const auto quiet = diagnose(realistic::run_of({{"loss", loss}, {"grad_norm", steady}}, 10));
  INFO(kinds(quiet));
  CHECK_FALSE(has(quiet, "exploding_gradient"));
  const std::vector<double> finite_grad(grad.begin(), grad.end() - 1), finite_loss(loss.begin(), loss.end() - 1);
  const std::vector<double> calm_loss{0.883, 0.604, 0.681, 0.62, 0.57, 0.55, 0.51};
  const auto calm = diagnose(realistic::run_of({{"loss", calm_loss}, {"grad_norm", finite_grad}}, 10));
  INFO(kinds(calm));
  CHECK_FALSE(has(calm, "exploding_gradient"));
  const auto climbed = diagnose(realistic::run_of({{"loss", finite_loss}, {"grad_norm", finite_grad}}, 10));
  INFO(kinds(climbed));
  CHECK(has(climbed, "exploding_gradient"));
  CHECK(has(climbed, "divergence"));
}

TEST_CASE("divergence and exploding gradient: a run stopped after 7 logged points while its loss climbed 28 decades "
          "and its gradient norm 15",
          "[diagnose][divergence][exploding_gradient]") {
  // A warm-up to a rate 7x too high, logged every 10 steps, stopped by hand
  // before anything overflowed: too few points for the trend rules, not for a
  // climb by orders of magnitude. A short healthy log and a short noisy one
  // that doubles are left alone.
  const std::vector<double> loss{1.609, 1.611, 1.62, 1.9, 2.1e3, 3.3e11, 1.55e28};
  const std::vector<double> grad{0.71, 0.086, 0.4, 2.3, 1.9e3, 2.2e7, 7.7e14};
  const auto d = diagnose(realistic::via_csv(realistic::run_of({{"loss", loss}, {"grad_norm", grad}}, 10), "stopped.csv"));
  INFO(kinds(d));
  CHECK_FALSE(has(d, "nan"));
  const auto& s = get(d, "divergence");
  CHECK(s.step_start == 30);
  CHECK(s.evidence.find("non-finite") == std::string::npos);
  CHECK(has(d, "exploding_gradient"));
  for (const auto& calm : {std::vector<double>{0.026, 0.013, 0.025, 0.055}, std::vector<double>{2.3, 1.1, 0.7, 0.5, 0.45}}) {
    const auto c = diagnose(realistic::run_of({{"loss", calm}, {"grad_norm", {0.5, 0.4, 0.6, 0.5, 0.5}}}, 10));
    INFO(kinds(c));
    CHECK_FALSE(has(c, "divergence"));
    CHECK_FALSE(has(c, "exploding_gradient"));
  }
}

TEST_CASE("divergence: a loss that climbs for a few logged points and turns NaN", "[diagnose][divergence]") {
  // Unscaled regression targets, logged every 10 steps: the loss climbs by
  // orders of magnitude from step 30 and overflows at step 80. Seven finite
  // points are too few for the trend rules, not for a climb into a NaN.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> loss{1.97, 2.14, 17.0, 5.49e4, 1.57e10, 2.93e20, 1.98e33, inf, inf, nan};
  const auto d = diagnose(realistic::via_csv(realistic::run_of({{"loss", loss}}, 10), "short.csv"));
  INFO(kinds(d));
  CHECK(has(d, "nan"));
  const auto& s = get(d, "divergence");
  CHECK(s.step_start == 20);
  CHECK(s.evidence.find("turned non-finite at step 70") != std::string::npos);
  // A loss that was falling when a log(0) made it NaN did not diverge.
  const std::vector<double> falling{0.69, 0.52, 0.41, 0.35, 0.37, 0.31, nan, nan, nan};
  const auto f = diagnose(realistic::run_of({{"loss", falling}}, 10));
  INFO(kinds(f));
  CHECK(has(f, "nan"));
  CHECK_FALSE(has(f, "divergence"));
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

TEST_CASE("a log whose points are out of step order is diagnosed as the same log in order", "[diagnose]") {
  // Falls, then climbs for the last third (divergence), ends in a NaN.
  auto run = synth::make_run(7, 900, 0.05, [](int i) { return i < 600 ? 2.0 * std::exp(-i / 150.0) + 0.1 : 0.1 + 0.01 * (i - 600); });
  run.series[0].values.back() = std::nan("");
  synth::add_series(run, 8, "grad_norm", 900, 1, 0.2, [](int i) { return i < 600 ? 1.0 : 1.0 + 0.2 * (i - 600); });
  const RunDiagnosis ordered = diagnose(run);
  REQUIRE(has(ordered, "divergence"));
  REQUIRE(has(ordered, "nan"));
  std::mt19937_64 rng(11);
  for (auto& series : run.series) {
    std::vector<std::size_t> perm(series.size());
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    std::shuffle(perm.begin(), perm.end(), rng);
    gradcheck::logs::Series shuffled = series;
    for (std::size_t k = 0; k < perm.size(); ++k) {
      shuffled.steps[k] = series.steps[perm[k]];
      shuffled.values[k] = series.values[perm[k]];
    }
    series = std::move(shuffled);
  }
  REQUIRE_FALSE(std::is_sorted(run.series[0].steps.begin(), run.series[0].steps.end()));
  const RunDiagnosis unordered = diagnose(run);
  REQUIRE(unordered.symptoms.size() == ordered.symptoms.size());
  for (std::size_t i = 0; i < ordered.symptoms.size(); ++i) {
    CHECK(unordered.symptoms[i].kind == ordered.symptoms[i].kind);
    CHECK(unordered.symptoms[i].step_start == ordered.symptoms[i].step_start);
    CHECK(unordered.symptoms[i].step_end == ordered.symptoms[i].step_end);
    CHECK(unordered.symptoms[i].evidence == ordered.symptoms[i].evidence);
  }
  REQUIRE(unordered.curves.size() == ordered.curves.size());
  for (std::size_t i = 0; i < ordered.curves.size(); ++i) {
    CHECK(unordered.curves[i].first_step == ordered.curves[i].first_step);
    CHECK(unordered.curves[i].last_step == ordered.curves[i].last_step);
    CHECK(unordered.curves[i].first == ordered.curves[i].first);
    CHECK(unordered.curves[i].last == ordered.curves[i].last);
    CHECK(unordered.curves[i].shape == ordered.curves[i].shape);
    CHECK(unordered.curves[i].non_finite == ordered.curves[i].non_finite);
  }
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

// ---------------------------------------------------------------------------
// Issue 15's patterns, each on a realistic log: real gradient descent where a
// model is cheap enough to train here, else curves with the shapes and the
// noise of minibatch training.

namespace {

// A lognormal noise source for curve shapes.
struct Noise {
  std::mt19937_64 rng;
  std::normal_distribution<double> z{0.0, 1.0};
  explicit Noise(std::uint64_t seed) : rng(seed) {}
  double operator()(double sigma) { return std::exp(sigma * z(rng)); }
};

// n points of level(i) times lognormal noise of `sigma`, seeded.
template <class Level>
std::vector<double> noisy(std::uint64_t seed, int n, double sigma, Level level) {
  Noise noise(seed);
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(level(i) * noise(sigma));
  return v;
}

// |a - b| within `tolerance` of `span` (the run's length in steps).
bool near(std::int64_t a, std::int64_t b, double tolerance, std::int64_t span) {
  return std::abs(static_cast<double>(a - b)) <= tolerance * static_cast<double>(span);
}

// A per-epoch log as Lightning writes it: one point an epoch of 50 steps, at
// the epoch's last step (49, 99, ...).
gradcheck::logs::Run lightning_epochs(const std::string& name, const std::vector<double>& values) {
  auto run = realistic::run_of({{name, values}}, 50);
  for (auto& step : run.series[0].steps) step += 49;
  return run;
}

// A deep sigmoid network whose gradient shrinks ~200x per layer on its way
// back: per-step logs of the minibatch loss (stuck near ln 2), the global
// gradient norm and one norm per layer (layer 0 first), `steps` steps.
struct LayerLog {
  std::vector<double> loss, total;
  std::vector<std::vector<double>> layers;
};

LayerLog deep_sigmoid_log(std::uint64_t seed, int steps, int depth, double shrink) {
  Noise noise(seed);
  LayerLog log;
  log.layers.resize(static_cast<std::size_t>(depth));
  for (int i = 0; i < steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    log.loss.push_back(realistic::f32((0.6931 + 0.02 * std::exp(-t * 8)) * noise(0.04)));
    const double last = 0.25 * (1 + 0.5 * std::exp(-t * 5)) * noise(0.3);
    double total2 = 0;
    for (int l = depth; l-- > 0;) {
      const double v = realistic::f32(last * std::pow(shrink, depth - 1 - l) * noise(0.25));
      log.layers[static_cast<std::size_t>(l)].push_back(v);
      total2 += v * v;
    }
    log.total.push_back(realistic::f32(std::sqrt(total2)));
  }
  return log;
}

}  // namespace

TEST_CASE("roles: per-layer gradient norms in the usual namings", "[roles][vanishing_gradient]") {
  using gradcheck::logs::gradient_layer;
  CHECK(gradient_layer("grad_norm_layer0") == "layer0");
  CHECK(gradient_layer("grad_norm/fc1.weight") == "fc1.weight");
  CHECK(gradient_layer("grad_norm/layer.0") == "layer.0");
  CHECK(gradient_layer("gradients/encoder.layer.0.weight") == "encoder.layer.0.weight");
  CHECK(gradient_layer("grads/conv1") == "conv1");
  CHECK(gradient_layer("fc1.weight_grad_norm") == "fc1.weight");
  CHECK(gradient_layer("conv1/grad_norm") == "conv1");
  CHECK(gradient_layer("train/grad_norm/layer.0") == "layer.0");  // a TensorBoard sub-directory's prefix
  CHECK(gradient_layer("train/Gradients/fc2") == "fc2");
  CHECK(gradient_layer("grad_2.0_norm/l1.weight") == "l1.weight");  // Lightning's grad_norm()
  CHECK(gradient_layer("Grad_Norm_Layer3") == "Layer3");
  CHECK(gradient_layer("grad_provenance/embedding_grad_l2_norm") == "embedding");  // as OLMo prints them
  CHECK(gradient_layer("grad_provenance/output_proj_grad_l2_norm") == "output_proj");
  // Global and aggregate norms, other metrics.
  for (const char* name : {"grad_norm", "grad_norm_total", "total_grad_norm", "grad_2.0_norm_total", "train/grad_norm",
                           "grad_norm/total", "grad_norm_clipped", "grad_norm_step", "global_grad_norm", "grads/norm",
                           "gradnorm", "weight_norm/fc1.weight", "update_ratio/fc1.weight", "grad_scale",
                           "max_grad_norm", "val_loss", "loss", "lr", "grad_provenance/embedding_grad_l2_norm_effective",
                           "grad_provenance/output_proj_grad_l2_norm_post_clip", "embedding_grad_l1_norm"})
    CHECK(gradient_layer(name).empty());

  const auto run = realistic::run_of({{"loss", {1, 0.9, 0.8}},
                                      {"grad_norm", {1, 1, 1}},
                                      {"grad_norm_layer0", {1e-8, 1e-8, 1e-8}},
                                      {"grad_norm_layer1", {1e-3, 1e-3, 1e-3}},
                                      {"weight_norm/fc1", {3, 3, 3}}});
  const auto roles = gradcheck::logs::recognise_roles(run);
  CHECK(roles.grad_norm == "grad_norm");
  CHECK(roles.tensor_grad_norms == std::vector<std::string>{"grad_norm_layer0", "grad_norm_layer1"});
  CHECK(roles.tensor_names == std::vector<std::string>{"layer0", "layer1"});
}

TEST_CASE("roles: a validation loss named with an evaluation word after the loss (TensorBoard's Loss/Evaluation)",
          "[diagnose][roles]") {
  using gradcheck::logs::recognise_roles;
  for (const char* val : {"Loss/Evaluation", "loss/validation", "Loss/Val", "loss_eval", "total_loss/dev"}) {
    INFO(val);
    // The validation loss first in the log: it is neither taken for the training loss nor missed.
    const auto run = realistic::run_of({{val, {2, 1.5, 1.6}}, {"Loss/Training", {2, 1, 0.5}}});
    const auto roles = recognise_roles(run);
    CHECK(roles.loss == "Loss/Training");
    CHECK(roles.val_loss == val);
  }
  // Words inside other words are no evaluation: `interval_loss` is a training loss.
  const auto interval = realistic::run_of({{"interval_loss", {2, 1, 0.5}}, {"loss/deviation", {1, 1, 1}}});
  CHECK(recognise_roles(interval).loss == "interval_loss");
  CHECK(recognise_roles(interval).val_loss.empty());
}

TEST_CASE("vanishing gradient: the first layer gets 1e-8 of the gradient while the loss stalls, in every naming",
          "[diagnose][vanishing_gradient]") {
  // {first layer's name pattern with %d, global norm column or ""}
  const std::vector<std::pair<std::string, std::string>> namings = {
      {"grad_norm_layer%d", "grad_norm"},       {"grad_norm/fc%d.weight", "grad_norm"},
      {"grad_norm/layer.%d", "grad_norm"},     {"gradients/fc%d.weight", "total_grad_norm"},
      {"fc%d_grad_norm", "grad_norm"},         {"train/grad_norm/layer.%d", "train/grad_norm"},
      {"grad_2.0_norm/net.%d.weight", "grad_2.0_norm_total"}, {"grad_norm_layer%d", ""},
      // A nested JSON record's names ({"train": {"grad_2.0_norm_total": ...}}).
      {"train/grad_2.0_norm/net.%d.weight", "train/grad_2.0_norm_total"}};
  std::uint64_t seed = 40;
  for (const auto& [pattern, global] : namings) {
    const LayerLog log = deep_sigmoid_log(++seed, 3000, 4, 2.2e-3);
    std::vector<std::pair<std::string, std::vector<double>>> cols = {{"loss", log.loss}};
    if (!global.empty()) cols.emplace_back(global, log.total);
    std::vector<std::string> names;
    for (int l = 0; l < 4; ++l) {
      char buf[64];
      std::snprintf(buf, sizeof buf, pattern.c_str(), l);
      names.emplace_back(buf);
      cols.emplace_back(buf, log.layers[static_cast<std::size_t>(l)]);
    }
    const auto run = realistic::via_csv(realistic::run_of(cols, 10), "layers.csv");
    const auto d = diagnose(run);
    INFO(pattern << " / " << global << ":\n" << kinds(d));
    REQUIRE(d.roles.tensor_grad_norms.size() == 4);
    const auto& s = get(d, "vanishing_gradient");
    CHECK(s.metric == names[0]);
    CHECK(s.step_start <= 3000);  // the whole run: within 10% of its start
    // The numbers: the first layer against the global norm (about 1e-8) and
    // against the last layer.
    if (!global.empty()) CHECK(s.evidence.find("e-08 of the global gradient norm") != std::string::npos);
    CHECK(s.evidence.find("of the largest layer's") != std::string::npos);
  }
}

TEST_CASE("vanishing gradient: a layer that gets no gradient at all (dead units upstream)",
          "[diagnose][vanishing_gradient]") {
  // A learning rate spike at step 300 kills the first layer's ReLUs: its
  // gradient is exactly 0 from then on and the loss stops improving.
  Noise noise(11);
  std::vector<double> loss, total, l0, l1;
  for (int i = 0; i < 1500; ++i) {
    loss.push_back((i < 300 ? 1.1 - 0.1 * i / 300.0 : 1.0) * noise(0.05));
    const double g = 0.4 * noise(0.3);
    l0.push_back(i < 300 ? 0.2 * g : 0.0);
    l1.push_back(0.6 * g);
    total.push_back(g);
  }
  const auto d = diagnose(realistic::run_of(
      {{"loss", loss}, {"grad_norm", total}, {"grad_norm/fc1.weight", l0}, {"grad_norm/fc2.weight", l1}}));
  INFO(kinds(d));
  const auto& s = get(d, "vanishing_gradient");
  CHECK(s.metric == "grad_norm/fc1.weight");
  CHECK(s.step_start == 300);
  CHECK(s.evidence.find("gets no gradient at all") != std::string::npos);
  CHECK(s.evidence.find("dead units") != std::string::npos);
}

TEST_CASE("vanishing gradient: a healthy deep network's layers are within a few decades: not flagged",
          "[diagnose][vanishing_gradient][healthy]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Noise noise(seed);
    std::vector<double> loss, total, l0, l1, l2, b0;
    for (int i = 0; i < 2000; ++i) {
      const double t = i / 2000.0;
      loss.push_back((0.15 + 2.1 * std::exp(-5 * t)) * noise(0.15));
      const double g = (0.5 + std::exp(-3 * t)) * noise(0.3);
      l0.push_back(0.02 * g * noise(0.2));  // the first layer gets less, as in real nets
      l1.push_back(0.2 * g * noise(0.2));
      l2.push_back(0.9 * g * noise(0.2));
      b0.push_back(1e-5 * g * noise(0.2));  // a bias: small by nature
      total.push_back(g);
    }
    const auto d = diagnose(realistic::run_of(
        {{"loss", loss}, {"grad_norm", total}, {"grad_norm/fc1.weight", l0}, {"grad_norm/fc1.bias", b0},
         {"grad_norm/fc2.weight", l1}, {"grad_norm/fc3.weight", l2}}, 10));
    INFO(kinds(d));
    CHECK(d.healthy());
  }
}

TEST_CASE("vanishing gradient: a layer that saturates mid-run is reported from when it did",
          "[diagnose][vanishing_gradient][onset]") {
  Noise noise(7);
  std::vector<double> loss, total, l0, l1;
  for (int i = 0; i < 2000; ++i) {
    const double t = i / 2000.0;
    // The loss falls a little, then stalls once the first layer saturates at 40%.
    loss.push_back((t < 0.4 ? 1.05 - 0.3 * t : 0.93) * noise(0.05));
    const double g = 0.3 * noise(0.3);
    l1.push_back(0.8 * g * noise(0.2));
    l0.push_back((t < 0.4 ? 0.1 * g : 0.1 * g * std::pow(10.0, -6 * std::min(1.0, (t - 0.4) / 0.05))) * noise(0.2));
    total.push_back(g);
  }
  const auto d = diagnose(realistic::run_of({{"loss", loss}, {"grad_norm", total}, {"grad_norm_layer0", l0},
                                             {"grad_norm_layer1", l1}}, 10));
  INFO(kinds(d));
  const auto& s = get(d, "vanishing_gradient");
  CHECK(s.metric == "grad_norm_layer0");
  CHECK(near(s.step_start, 8300, 0.1, 20000));  // below 1e-3 of the total from ~42% of the run
}

TEST_CASE("exploding gradient: 18 ordinary points, then a last finite norm 1e12 times them before the NaN",
          "[diagnose][exploding_gradient]") {
  // A warm-up to a rate 20x too high, logged every 10 steps: the gradient
  // norm wanders around 0.3 for 18 points, the 19th is 3.8e11 and the next
  // ones are NaN with the loss. One point of twelve decades before a NaN is
  // no noise; an ordinary last point before a NaN of the loss (a log(0)) is
  // no explosion.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Noise noise(3);
  std::vector<double> grad, loss, calm;
  for (int i = 0; i < 18; ++i) {
    grad.push_back(0.3 * noise(0.5));
    loss.push_back(0.02 + 0.4 * std::exp(-i / 4.0));
  }
  calm = grad;
  grad.push_back(3.8e11);
  calm.push_back(0.29);
  loss.push_back(1.1e20);
  for (int i = 0; i < 5; ++i) grad.push_back(nan), calm.push_back(nan), loss.push_back(nan);
  const auto d = diagnose(realistic::run_of({{"loss", loss}, {"grad_norm", grad}}, 10));
  INFO(kinds(d));
  const auto& s = get(d, "exploding_gradient");
  CHECK(s.step_start == 180);
  const auto c = diagnose(realistic::run_of({{"loss", loss}, {"grad_norm", calm}}, 10));
  INFO(kinds(c));
  CHECK_FALSE(has(c, "exploding_gradient"));
}

TEST_CASE("exploding gradient: one layer's gradient takes off with no global norm logged",
          "[diagnose][exploding_gradient][onset]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> loss, l0, l1, l2;
    for (int i = 0; i < 3000; ++i) {
      const double t = i / 3000.0;
      loss.push_back((0.4 + 1.9 * std::exp(-6 * t)) * noise(0.15));
      const double boom = t < 0.6 ? 1.0 : std::pow(10.0, std::min(4.0, 4.0 * (t - 0.6) / 0.1));  // 1e4x within 10% of the run
      l0.push_back(0.05 * noise(0.3));
      l1.push_back(0.2 * noise(0.3));
      l2.push_back(0.5 * boom * noise(0.3));
    }
    const auto d = diagnose(realistic::run_of(
        {{"loss", loss}, {"conv1_grad_norm", l0}, {"conv2_grad_norm", l1}, {"fc_grad_norm", l2}}, 10));
    INFO(kinds(d));
    const auto& s = get(d, "exploding_gradient");
    CHECK(s.metric == "fc_grad_norm");
    CHECK(near(s.step_start, 18000, 0.1, 30000));
  }
}

TEST_CASE("exploding gradient: a small layer's norm that jumps tenfold while the global norm holds is not an "
          "explosion, one that dominates the global norm is",
          "[diagnose][exploding_gradient][healthy]") {
  // A 6-layer sigmoid network with a small initialisation (a log with the
  // total and per-layer norms): the first layer's norm is 1e-4, under 1e-3 of
  // the last layer's, and the second's, 0.002, jumps 15-18x on a few batches
  // (to a fifth of the last layer's level) while the total stays at 0.1-0.3
  // and the loss stalls. The vanishing gradient is the finding; no layer
  // explodes.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> loss, total, l0, l1, l5;
    for (int i = 0; i < 400; ++i) {
      loss.push_back(0.69 * noise(0.02));
      l0.push_back(0.0001 * noise(0.3));
      l1.push_back(0.002 * (i % 37 == 20 ? 15.0 + i % 4 : 1.0) * noise(0.1));
      l5.push_back(0.15 * noise(0.3));
      total.push_back(std::sqrt(l0.back() * l0.back() + l1.back() * l1.back() + l5.back() * l5.back()));
    }
    const auto d = diagnose(realistic::run_of(
        {{"loss", loss}, {"grad_norm", total}, {"grad_norm_layer0", l0}, {"grad_norm_layer1", l1}, {"grad_norm_layer5", l5}}, 2));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "exploding_gradient"));
    CHECK(has(d, "vanishing_gradient"));
  }
  // The last layer's norm takes off 1e3-fold for the last 30% of the run: it
  // dominates the total, which shows the explosion.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> loss, total, l0, l5;
    for (int i = 0; i < 400; ++i) {
      const double t = i / 400.0;
      loss.push_back((0.3 + 0.4 * std::exp(-5 * t)) * noise(0.05));
      l0.push_back(0.05 * noise(0.3));
      l5.push_back(0.15 * (t < 0.7 ? 1.0 : 1000.0) * noise(0.3));
      total.push_back(std::sqrt(l0.back() * l0.back() + l5.back() * l5.back()));
    }
    const auto d = diagnose(
        realistic::run_of({{"loss", loss}, {"grad_norm", total}, {"grad_norm_layer0", l0}, {"grad_norm_layer5", l5}}, 2));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(get(d, "exploding_gradient").metric == "grad_norm");
  }
}

TEST_CASE("exploding gradient: the global norm's onset is where it took off, not the first step",
          "[diagnose][exploding_gradient][onset]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto run = synth::healthy(seed);
    Noise noise(seed + 50);
    auto& g = run.series[2];
    for (std::size_t i = 0; i < g.size(); ++i) {
      const double t = static_cast<double>(i) / static_cast<double>(g.size());
      g.values[i] = 1.5 * (t < 0.55 ? 1.0 : std::exp(std::min(9.0, 60 * (t - 0.55)))) * noise(0.3);
    }
    const auto d = diagnose(run);
    INFO(kinds(d));
    const auto& s = get(d, "exploding_gradient");
    CHECK(near(s.step_start, 11000, 0.1, 20000));
  }
}

TEST_CASE("vanishing gradient: a learning-rate step blows the gradient norm up and kills every unit: exploding, then "
          "no gradient at all",
          "[diagnose][vanishing_gradient][exploding_gradient]") {
  // A ReLU network with a ReLU output and a hinge-like loss that barely
  // learns (1 to 0.9987) at a small gradient norm; a 100x rate for 50 steps
  // from step 192 throws the norm up 1000-fold, then every unit is dead: the
  // loss sits at exactly 1 and the gradient norm is 0 from step 243 to the end.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> loss, grad;
    for (int i = 0; i < 800; ++i) {
      if (i < 192) {
        loss.push_back(realistic::f32((1.0 - 0.0013 * i / 192.0) * noise(0.002)));
        grad.push_back(realistic::f32(0.0037 * noise(0.3)));
      } else if (i < 243) {
        loss.push_back(realistic::f32(1.0 + 0.5 * std::exp(-(i - 192) / 15.0) * noise(0.2)));
        grad.push_back(realistic::f32(2.0 * std::exp(-(i - 192) / 20.0) * noise(0.5)));
      } else {
        loss.push_back(1.0);
        grad.push_back(0.0);
      }
    }
    const auto d = diagnose(realistic::run_of({{"train_loss", loss}, {"grad_norm", grad}}));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "exploding_gradient"));
    const auto& v = get(d, "vanishing_gradient");
    CHECK(near(v.step_start, 243, 0.1, 800));
  }
}

TEST_CASE("vanishing gradient: the global norm's onset is where it began to fall", "[diagnose][vanishing_gradient][onset]") {
  auto run = synth::make_run(5, 1000, 0.02, [](int i) { return 0.69 * (1.0 + 0.1 * std::exp(-i / 30.0)); });
  synth::add_series(run, 6, "grad_norm", 1000, 1, 0.2,
                    [](int i) { return i < 300 ? 0.5 : 0.5 * std::pow(10.0, -5.0 * std::min(1.0, (i - 300) / 400.0)); });
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(near(get(d, "vanishing_gradient").step_start, 3000, 0.1, 10000));
}

namespace {

// A full-batch run's log: one step per epoch, as its loggers write it.
gradcheck::logs::Run full_batch_log(const realistic::Trace& t, std::int64_t every = 1) {
  std::vector<double> epoch;
  for (std::size_t i = 0; i < t.loss.size(); ++i) epoch.push_back(static_cast<double>(i));
  return realistic::run_of({{"loss", t.loss}, {"epoch", epoch}, {"grad_norm", t.grad_norm}}, every);
}

}  // namespace

TEST_CASE("oscillation: full-batch logistic regression with too large a learning rate never settles",
          "[diagnose][oscillation]") {
  // Real gradient descent on a well-conditioned problem at rates 12-20: the
  // loss bounces by 30-200% of its level, in cycles of 4-10 steps or
  // chaotically, from the first steps to the end.
  // (At a rate of 12, seed 3 settles into a cycle of 17%: accepted by the
  // rules, not required, and left out.)
  int found = 0, runs = 0;
  std::string missed;
  for (const double lr : {12.0, 15.0, 20.0})
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      if (lr == 12.0 && seed == 3) continue;
      const auto data = realistic::two_blobs(seed, 400, 10, 1.0);
      const auto t = realistic::logistic_regression(data, 600, 0, seed, [&](int) { return lr; });
      const auto d = diagnose(full_batch_log(t));
      ++runs;
      if (!has(d, "oscillation")) {
        missed += "lr " + std::to_string(lr) + " seed " + std::to_string(seed) + ":\n" + kinds(d);
        continue;
      }
      ++found;
      CHECK(get(d, "oscillation").step_start <= 60);  // from the first steps: within 10% of the run
    }
  INFO(missed);
  CHECK(found == runs);
}

namespace {

// PyTorch Lightning's log of `self.log("train_loss", loss, on_step=True,
// on_epoch=True)` with one point an epoch (log_every_n_steps above the
// epoch's length): at each epoch's last step, `train_loss_step` is that one
// batch's loss and `train_loss_epoch` the epoch's mean.
gradcheck::logs::Run lightning_step_and_epoch(const realistic::Trace& t, std::size_t steps_per_epoch) {
  gradcheck::logs::Run run;
  run.source = "metrics.csv";
  run.step_name = "step";
  gradcheck::logs::Series epoch{"epoch", {}, {}}, step{"train_loss_step", {}, {}}, mean{"train_loss_epoch", {}, {}};
  for (std::size_t e = 0; (e + 1) * steps_per_epoch <= t.loss.size(); ++e) {
    const std::size_t last = (e + 1) * steps_per_epoch - 1;
    double sum = 0;
    for (std::size_t i = e * steps_per_epoch; i <= last; ++i) sum += t.loss[i];
    const auto at = static_cast<std::int64_t>(last);
    epoch.steps.push_back(at), epoch.values.push_back(static_cast<double>(e));
    step.steps.push_back(at), step.values.push_back(t.loss[last]);
    mean.steps.push_back(at), mean.values.push_back(sum / static_cast<double>(steps_per_epoch));
  }
  run.series = {epoch, step, mean};
  return run;
}

}  // namespace

TEST_CASE("plateau: a log that starts after more steps than it covers continues a trained run",
          "[diagnose][plateau][regression]") {
  // Found on a public log: a fine-tune logged from step 32,950 to 34,650
  // (the Trainer's step count carried over) whose loss scatters around 3.9
  // was called a plateau. Here: logistic regression on noisy labels (a third
  // flipped: the loss settles near 0.64, above where the trained-start rule
  // applies), minibatches of 16; the log holds the means of 50 steps from
  // step 3,000 on, after the loss had settled.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 3.0, 0.5, 3);
    const auto t = realistic::logistic_regression(data, 4500, 16, seed, [](int) { return 0.05; });
    auto log_from = [&](std::int64_t first) {
      gradcheck::logs::Run run;
      run.source = "train_log.jsonl";
      run.step_name = "step";
      gradcheck::logs::Series loss{"loss", {}, {}};
      for (std::size_t i = 3000; i + 50 <= t.loss.size(); i += 50) {
        double sum = 0;
        for (std::size_t j = i; j < i + 50; ++j) sum += t.loss[j];
        loss.steps.push_back(first + static_cast<std::int64_t>(i - 3000) + 49);
        loss.values.push_back(sum / 50);
      }
      run.series = {loss};
      return run;
    };
    const auto resumed = diagnose(log_from(3000));
    INFO("seed " << seed << "\n" << kinds(resumed));
    CHECK(t.loss.back() > 0.8 * std::log(2.0));
    CHECK_FALSE(has(resumed, "plateau"));
    CHECK(std::any_of(resumed.notes.begin(), resumed.notes.end(),
                      [](const std::string& n) { return n.find("continues earlier training") != std::string::npos; }));
    // The same curve logged from the first steps says nothing of earlier
    // training: a loss that never falls is a plateau there.
    const auto fresh = diagnose(log_from(0));
    INFO(kinds(fresh));
    CHECK(has(fresh, "plateau"));
  }
}

TEST_CASE("oscillation: in a Lightning log with train_loss_step and train_loss_epoch, it is judged on the epoch means",
          "[diagnose][oscillation][regression]") {
  // Found on public logs: one single batch's loss logged an epoch scatters by
  // far more than 30% while the epoch means fall smoothly (a healthy run was
  // called oscillating). Minibatches of 8 from 400 examples: 50 steps an
  // epoch, 60 epochs.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const auto data = realistic::two_blobs(seed);
    const auto t = realistic::logistic_regression(data, 3000, 8, seed, [](int) { return 0.05; });
    const auto run = lightning_step_and_epoch(t, 50);
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "oscillation"));
    // The single batches do swing: judged alone (no epoch column), they are
    // taken for oscillation, as the step column alone would be.
    auto alone = run;
    alone.series.pop_back();
    CHECK(has(diagnose(alone), "oscillation"));
  }
  // A run that does oscillate (full batch at too large a rate: one step an
  // epoch, both columns the same curve) is still found, on the epoch column.
  const auto data = realistic::two_blobs(2, 400, 10, 1.0);
  const auto t = realistic::logistic_regression(data, 600, 0, 2, [](int) { return 15.0; });
  const auto d = diagnose(lightning_step_and_epoch(t, 1));
  INFO(kinds(d));
  CHECK(get(d, "oscillation").metric == "train_loss_epoch");
}

TEST_CASE("spike: a bad batch between the batches a per-step column samples shows in its epoch's mean",
          "[diagnose][spike][regression]") {
  // Found on public logs (PINNs logged with Lightning): a one-epoch jump of the
  // epoch mean to 8x its level, which the step column, one batch an epoch,
  // never held. Minibatches of 8 from 400 examples: 50 steps an epoch, 60
  // epochs; one batch in the middle of epoch 40 has a loss of 250.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const auto data = realistic::two_blobs(seed);
    auto t = realistic::logistic_regression(data, 3000, 8, seed, [](int) { return 0.05; });
    const auto clean = diagnose(lightning_step_and_epoch(t, 50));
    INFO("seed " << seed << "\n" << kinds(clean));
    CHECK_FALSE(has(clean, "spike"));
    t.loss[40 * 50 + 20] = 250;  // the epoch's mean: about 10x its level
    const auto run = lightning_step_and_epoch(t, 50);
    const auto d = diagnose(run);
    INFO(kinds(d));
    REQUIRE(has(d, "spike"));
    CHECK(get(d, "spike").metric == "train_loss_epoch");
    CHECK(get(d, "spike").step_start == 40 * 50 + 49);
    // The step column alone never held that batch.
    auto alone = run;
    alone.series.pop_back();
    CHECK_FALSE(has(diagnose(alone), "spike"));
  }
}

TEST_CASE("oscillation: a Hugging Face Trainer log every few steps, its epoch fractional, is judged on means of its "
          "points",
          "[diagnose][oscillation][healthy]") {
  // A fine-tune logged every 10 steps of 8-example batches for 3 epochs (128
  // points, the Trainer's `epoch` 0.0234, 0.0469, ...): each point is the mean
  // of 10 batches and scatters by 30% around a slowly falling level. The
  // scatter is not the model swinging: means of 10 points are the curve. The
  // same swings logged once an epoch (integer epochs) are the curve itself.
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> loss, epoch;
    for (int i = 0; i < 128; ++i) {
      loss.push_back((0.6 + 0.4 * std::exp(-i / 30.0)) * std::exp(0.3 * z(rng)));
      epoch.push_back(3.0 * (i + 1) / 128.0);
    }
    auto run = realistic::run_of({{"loss", loss}, {"epoch", epoch}}, 10);
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "oscillation"));
  }
  std::vector<double> swinging, whole;
  for (int e = 0; e < 40; ++e) {
    swinging.push_back((e % 2 == 0 ? 0.5 : 0.9) * (1 + 0.5 * std::exp(-e / 10.0)));
    whole.push_back(e + 1);
  }
  auto per_epoch = realistic::run_of({{"loss", swinging}, {"epoch", whole}}, 25);
  const auto d = diagnose(per_epoch);
  INFO(kinds(d));
  CHECK(has(d, "oscillation"));
}

TEST_CASE("oscillation: a limit cycle of a few percent is not oscillation, one of 40% beside a divergence is",
          "[diagnose][oscillation][divergence]") {
  // An ill-conditioned problem at rates 2-3: the loss settles into a cycle of
  // two levels a few percent apart, above where it started. Swings that small
  // are not oscillation (30% of the level); the run made no progress.
  for (const double lr : {2.0, 3.0}) {
    const auto data = realistic::two_blobs(2, 400, 10, 3.0);
    const auto t = realistic::logistic_regression(data, 600, 0, 2, [&](int) { return lr; });
    const auto d = diagnose(full_batch_log(t));
    INFO("lr " << lr << "\n" << kinds(d));
    CHECK_FALSE(has(d, "oscillation"));
    CHECK((has(d, "plateau") || has(d, "divergence")));
  }
  // At a rate of 8 the loss jumps to 5x where it started and cycles between
  // 2.8 and 4.0 there: divergence, and oscillation with it.
  const auto data = realistic::two_blobs(2, 400, 10, 3.0);
  const auto t = realistic::logistic_regression(data, 600, 0, 2, [](int) { return 8.0; });
  const auto d = diagnose(full_batch_log(t));
  INFO(kinds(d));
  CHECK(has(d, "divergence"));
  CHECK(get(d, "oscillation").evidence.find("repeats a cycle of 2 steps") != std::string::npos);
}

TEST_CASE("oscillation: a loss that blew up in its first steps, came back down far below that peak and bounces there",
          "[diagnose][oscillation]") {
  // Separable classes (shift 1.5, no flipped labels) on unscaled features
  // (spread 30): at rates of 3-20 full-batch descent throws the loss from
  // 0.69 to hundreds within the first steps, then it comes back down and
  // bounces by 30-100% around 0.3 until the end (the labelling rules on the
  // logged points: oscillation required). The bounce is far below 1% of that
  // early peak but not close to zero: it is judged against where the loss
  // started (0.69), not against the blow-up.
  for (const double lr : {3.0, 8.0, 20.0}) {
    const auto data = realistic::two_blobs(4, 400, 10, 30.0, 1.5, 0);
    const auto t = realistic::logistic_regression(data, 600, 0, 4, [&](int) { return lr; });
    const auto d = diagnose(full_batch_log(t));
    INFO("lr " << lr << "\n" << kinds(d));
    CHECK(*std::max_element(t.loss.begin(), t.loss.end()) > 100);
    CHECK(has(d, "oscillation"));
  }
}

TEST_CASE("oscillation: the last half's swings are counted on that half, a rise from its first point included",
          "[diagnose][oscillation]") {
  // A 20-epoch Keras log of Adam warmed up to too high a rate: the loss falls
  // to 0.044, climbs back to 1.05 by epoch 9, then bounces by 40-130% to the
  // end. Read on the last half alone (epochs 10-19) it swings up three times:
  // from 0.82 to 1.19, from 0.66 to 1.17 and from 0.74 to 1.68. The first of
  // them starts where that half starts; counted from the whole curve, its
  // trough was the first half's bottom and only two swings were left.
  auto run = realistic::run_of({{"loss", {2.10, 0.52, 0.15, 0.061, 0.044, 0.058, 0.16, 0.39, 0.71, 1.05, 0.82, 1.19,
                                          0.86, 0.93, 0.66, 0.81, 1.17, 0.74, 1.02, 1.68}}});
  run.step_name = "epoch";
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(has(d, "divergence"));
  const auto& s = get(d, "oscillation");
  CHECK(s.evidence.find("3 up-swings over the last half") != std::string::npos);
  CHECK(s.evidence.find("judged on its logged points") != std::string::npos);
}

TEST_CASE("oscillation: a validation every few hundred steps is not an epoch, the bounce is judged on means chosen "
          "from the noise",
          "[diagnose][oscillation]") {
  // A loss that bounces between 0.5 and 1.0 with a period of 150 steps (too
  // high a rate with momentum) under minibatch scatter of 30%, 1,200 steps,
  // a validation every 300 steps (an evaluation interval; the log does not
  // say its epochs). Means over 300 points would leave 4 values and hide it;
  // means over as many points as the noise needs (36) show it.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto run = synth::make_run(seed, 1200, 0.3, [](int i) { return 0.75 + 0.25 * std::sin(2 * M_PI * i / 150.0); });
    synth::add_series(run, seed + 7, "val_loss", 1200, 300, 0.02, [](int) { return 0.8; });
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "oscillation"));
  }
  // The same scatter around a level that does not bounce: not oscillation.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto run = synth::make_run(seed, 1200, 0.3, [](int i) { return 0.5 + 0.5 * std::exp(-i / 300.0); });
    synth::add_series(run, seed + 7, "val_loss", 1200, 300, 0.02, [](int) { return 0.8; });
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "oscillation"));
  }
}

TEST_CASE("oscillation: onset where a schedule raised the rate too far", "[diagnose][oscillation][onset]") {
  const auto data = realistic::two_blobs(4, 400, 10, 1.0);
  // A constant 1.0 (converged within 60 steps), then from step 400 a rate of
  // 15 (a restart to a peak that is too high), logged every 5 steps.
  const auto t = realistic::logistic_regression(data, 1000, 0, 4, [](int s) { return s < 400 ? 1.0 : 15.0; });
  const auto d = diagnose(full_batch_log(t, 5));
  INFO(kinds(d));
  CHECK(near(get(d, "oscillation").step_start, 2000, 0.1, 5000));
}

TEST_CASE("oscillation: the chain of swings starts where they come close together, not at an earlier slow wave",
          "[diagnose][oscillation][onset]") {
  // A 60-epoch log: for 30 epochs the loss follows a cyclic rate
  // of 11 epochs (0.55 to 1.43 and back), then a rate too high makes it
  // bounce between 0.70 and 1.15 every 3 epochs to the end. The waves' troughs
  // are 11 epochs apart, more than 10% of the run; the bounce's 3: the
  // unbroken chain of swings starts at the last wave's trough, epoch 27.
  std::vector<double> loss;
  for (int i = 0; i < 60; ++i)
    loss.push_back(i < 30 ? 1.0 + 0.45 * std::sin(2 * M_PI * (i - 5) / 11.0 - M_PI / 2)
                          : std::array<double, 3>{0.70, 1.15, 0.95}[static_cast<std::size_t>(i % 3)]);
  auto run = realistic::run_of({{"loss", loss}});
  run.step_name = "epoch";
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(get(d, "oscillation").step_start == 27);
}

TEST_CASE("healthy full-batch and small-batch logistic regression: no oscillation, no plateau",
          "[diagnose][oscillation][healthy]") {
  // Full batch at stable rates converges into a fixed point within a few
  // steps (a note, not a plateau); minibatches of 1 to 64 scatter widely
  // around a level they reached (not oscillation). (Rates that leave a batch
  // of 16-64 at a noise floor 10-20% above that level, 0.5 and 1, are not
  // clearly healthy and are left out.)
  struct Case {
    double lr;
    int batch;
  };
  int alarms = 0;
  std::string first;
  for (const Case c : {Case{0.1, 0}, Case{0.5, 0}, Case{1, 0}, Case{0.05, 1}, Case{0.02, 1}, Case{0.1, 4},
                       Case{0.05, 4}, Case{0.2, 16}, Case{0.1, 16}, Case{0.3, 64}, Case{0.05, 64}})
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      const auto data = realistic::two_blobs(seed, 400, 10, 3.0);
      const auto t = realistic::logistic_regression(data, 2000, c.batch, seed, [&](int) { return c.lr; });
      // A batch of one is logged as loggers do: the mean of every 20 steps.
      std::vector<double> loss;
      for (std::size_t i = 0; i < t.loss.size(); i += c.batch == 1 ? 20 : 1) {
        const std::size_t k = c.batch == 1 ? 20 : 1;
        double sum = 0;
        for (std::size_t j = i; j < i + k; ++j) sum += t.loss[j];
        loss.push_back(sum / static_cast<double>(k));
      }
      const auto d = diagnose(c.batch == 0 ? full_batch_log(t) : realistic::run_of({{"loss", loss}}));
      if (!d.healthy()) {
        ++alarms;
        if (first.empty())
          first = "lr " + std::to_string(c.lr) + " batch " + std::to_string(c.batch) + " seed " +
                  std::to_string(seed) + ":\n" + kinds(d);
      }
    }
  INFO(first);
  CHECK(alarms == 0);
}

namespace {

// A minibatch run whose loss falls from `start` with noise, then from index
// `freeze` on repeats `stuck` in float32 (what a model that predicts a
// constant logs, batch after batch), to `n` points.
std::vector<double> freezing_loss(std::uint64_t seed, int n, int freeze, double start, double stuck) {
  Noise noise(seed);
  std::vector<double> y;
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / freeze;
    y.push_back(i < freeze ? realistic::f32((0.32 + (start - 0.32) * std::exp(-4 * t)) * noise(0.08))
                           : realistic::f32(stuck));
  }
  return y;
}

}  // namespace

TEST_CASE("stuck loss: bit-identical for 10,000 steps after falling is a plateau with dead-unit advice",
          "[diagnose][plateau][stuck]") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    // 0.2500045: a constant prediction of ~0.5 on 0/1 targets; the loss stops
    // dead at step 30,000 (index 3,000) while it was still moving.
    const auto loss = freezing_loss(seed, 13000, 3000, 1.75, 0.2500045);
    const auto d = diagnose(realistic::via_csv(realistic::run_of({{"loss", loss}}, 10), "stuck.csv"));
    INFO(kinds(d));
    const auto& s = get(d, "plateau");
    CHECK(s.step_start == 30000);
    CHECK(s.evidence.find("bit-identical (0.2500045) for 10000 points") != std::string::npos);
    CHECK(s.evidence.find("after falling from") != std::string::npos);
    CHECK(s.evidence.find("the squared error of predicting 0.5") != std::string::npos);
    CHECK(s.advice.find("dead ReLUs") != std::string::npos);
    CHECK(s.advice.find("zero gradients") != std::string::npos);
  }
  // Not at a landmark level: the sudden stop is the evidence.
  const auto loss = freezing_loss(9, 8000, 2000, 2.3, 0.4183);
  const auto d = diagnose(realistic::run_of({{"loss", loss}}));
  INFO(kinds(d));
  CHECK(get(d, "plateau").evidence.find("it froze") != std::string::npos);
}

TEST_CASE("stuck loss: a blow-up that kills the units freezes the loss above where it had converged: a plateau",
          "[diagnose][plateau][stuck]") {
  // A hinge-loss MLP trained full batch, logged every 10 steps: the loss
  // creeps down to ~0.49 (by ~3e-4 a step, too slowly for "still moving"),
  // a 100x learning-rate step blows it up to ~50 and kills every ReLU, and
  // from then on the output is 0 and the hinge loss exactly 1. Not a landmark
  // level and no dead-unit series: the evidence is that it froze twice as
  // high as it had been, which no descent into a fixed point does.
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Noise noise(seed);
    std::vector<double> loss;
    for (int i = 0; i < 15; ++i) loss.push_back(realistic::f32((0.488 + 0.46 * std::exp(-i / 2.5)) * noise(1e-4)));
    loss.push_back(realistic::f32(49.57 * noise(0.2)));
    for (int i = 0; i < 34; ++i) loss.push_back(1.0);
    const auto d = diagnose(realistic::via_csv(realistic::run_of({{"loss", loss}}, 10), "hinge.csv"));
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& s = get(d, "plateau");
    CHECK(s.step_start == 160);
    CHECK(s.evidence.find("bit-identical (1) for 34 points") != std::string::npos);
    CHECK(s.evidence.find("x the level") != std::string::npos);
    CHECK(s.advice.find("dead ReLUs") != std::string::npos);
  }
}

TEST_CASE("stuck loss: within float rounding, and dead units logged by the monitor", "[diagnose][plateau][stuck]") {
  // The frozen value differs in the last float32 bit (a mean over a batch
  // summed in another order), and a dead-unit series says why.
  Noise noise(3);
  auto loss = freezing_loss(3, 6000, 1500, 1.1, 0.6012345);
  std::vector<double> dead;
  for (std::size_t i = 0; i < loss.size(); ++i) {
    if (i >= 1500 && i % 3 == 0) loss[i] = realistic::f32(std::nextafter(static_cast<float>(loss[i]), 1.0f));
    dead.push_back(i < 1450 ? 0.1 * noise(0.3) : 1.0);
  }
  const auto d = diagnose(realistic::run_of({{"loss", loss}, {"dead_fraction/act1", dead}}));
  INFO(kinds(d));
  const auto& s = get(d, "plateau");
  CHECK(s.step_start == 1500);
  CHECK(s.evidence.find("identical to 7 significant digits (0.601234") != std::string::npos);
  CHECK(s.evidence.find("dead_fraction/act1 is 100.0% there: those units are dead") != std::string::npos);
}

TEST_CASE("stuck loss: dead from initialisation, it drifts by 1e-4 near ln 3 and freezes: a plateau, and the "
          "gradient that vanished is judged to the end",
          "[diagnose][plateau][stuck][vanishing_gradient]") {
  // A ReLU MLP whose biases start at -4 on 3 imbalanced classes, full batch,
  // logged every 10 steps: every unit is dead from the start, the output bias
  // alone drifts the loss from 1.09840 to 1.098231 (0.03% below ln 3: the
  // class frequencies' pull) and then it is bit-identical; the gradient norm
  // falls from 5e-3 to 3e-8. Frozen without ever learning is no fixed point
  // of training: the gradients are judged over the whole run.
  std::vector<double> loss, grad;
  for (int i = 0; i < 30; ++i) {
    loss.push_back(realistic::f32(i < 8 ? 1.098231 + 0.000169 * std::exp(-i / 2.0) : 1.098231));
    grad.push_back(realistic::f32(0.005 * std::pow(6e-6, i / 29.0)));
  }
  const auto d = diagnose(realistic::run_of({{"loss", loss}, {"grad_norm", grad}}, 10));
  INFO(kinds(d));
  CHECK(has(d, "plateau"));
  CHECK(has(d, "vanishing_gradient"));
}

TEST_CASE("stuck loss: full-batch training that converged to a fixed point is healthy (a note)",
          "[diagnose][plateau][stuck][healthy]") {
  for (std::uint64_t seed = 1; seed <= 4; ++seed)
    for (double lr : {0.3, 1.0}) {
      const auto data = realistic::two_blobs(seed, 400, 10, 3.0);
      const auto t = realistic::logistic_regression(data, 3000, 0, seed, [&](int) { return lr; });
      const auto d = diagnose(realistic::run_of({{"loss", t.loss}, {"grad_norm", t.grad_norm}}));
      INFO("seed " << seed << " lr " << lr << "\n" << kinds(d));
      CHECK(d.healthy());
      REQUIRE_FALSE(d.notes.empty());
      CHECK(d.notes.back().find("converged to a fixed point") != std::string::npos);
    }
  // A log that rounds the loss to 4 decimals repeats values near convergence.
  Noise noise(5);
  std::vector<double> rounded;
  for (int i = 0; i < 3000; ++i)
    rounded.push_back(std::round((0.0312 + 0.9 * std::exp(-i / 200.0)) * noise(0.0005) * 1e4) / 1e4);
  const auto d = diagnose(realistic::run_of({{"loss", rounded}}));
  INFO(kinds(d));
  CHECK(d.healthy());
}

TEST_CASE("divergence: a short log's late rise starts at its minimum", "[diagnose][divergence][onset]") {
  // 19 epochs: the loss falls to ~0.07 by epoch 11, then climbs ~1.45x per
  // epoch with the validation loss (a learning rate schedule gone wrong).
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    Noise noise(seed);
    std::vector<double> train, val;
    for (int e = 0; e < 19; ++e) {
      const double base = e <= 11 ? 0.06 + 1.9 * std::exp(-e / 2.2) : 0.07 * std::pow(1.45, e - 11);
      train.push_back(base * noise(0.04));
      val.push_back((base * 1.1 + 0.01) * noise(0.08));
    }
    gradcheck::logs::Run run = realistic::run_of({{"train_loss", train}, {"val_loss", val}});
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& s = get(d, "divergence");
    CHECK(s.metric == "train_loss");
    CHECK(near(s.step_start, 11, 0.1, 18));
    CHECK_FALSE(has(d, "overfitting"));  // the training loss rises too
  }
}

TEST_CASE("divergence: a loss that fell 100-fold in its first points and then rose 2.5x is judged on a log scale, "
          "single batches that scatter over two decades are not judged by their last few",
          "[diagnose][divergence]") {
  // 40 points: the loss falls from 0.69 to 0.006 within its first 12, holds
  // there, and from point 25 climbs to 2.5x that level, scattering by 5%: a
  // rise invisible on a linear plot of the whole run, plain on the log plot
  // its values call for (they span more than two decades; the running median
  // over 10% of the points, which cuts off the first fall, spans less).
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> loss;
    for (int i = 0; i < 40; ++i) {
      const double base = 0.006 + 0.684 * std::exp(-i / 2.5);
      loss.push_back((i < 25 ? base : base * std::pow(2.5, (i - 25) / 14.0)) * noise(0.05));
    }
    const auto d = diagnose(realistic::run_of({{"loss", loss}}, 10));
    INFO("seed " << seed << "\n" << kinds(d));
    REQUIRE(has(d, "divergence"));
    CHECK(near(get(d, "divergence").step_start, 250, 0.1, 390));
  }
  // Logistic regression on separable classes (shift 1.5, no flipped labels),
  // minibatches of 16, a learning rate that keeps rising from 0.3 to 3,
  // every 10th step's batch logged: the loss falls from 0.69 towards zero
  // while single batches scatter over two decades (0.0001 to 0.07 late in
  // the run). Its last four points' median is 2-3x the lowest running median,
  // less than one standard error of the two: no rise a plot shows.
  for (std::uint64_t seed = 1; seed <= 2; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 1.0, 1.5, 0);
    const auto t = realistic::logistic_regression(data, 400, 16, seed,
                                                  [](int s) { return 0.3 * std::pow(10.0, s / 400.0); });
    std::vector<double> logged;
    for (std::size_t i = 9; i < t.loss.size(); i += 10) logged.push_back(t.loss[i]);
    const auto d = diagnose(realistic::run_of({{"loss", logged}}, 10));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(*std::max_element(logged.begin(), logged.end()) / *std::min_element(logged.begin(), logged.end()) > 100);
    CHECK_FALSE(has(d, "divergence"));
  }
}

TEST_CASE("divergence: short healthy logs and a restart that recovers are not divergence",
          "[diagnose][divergence][healthy]") {
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    Noise noise(seed);
    std::vector<double> train, val, restart;
    for (int e = 0; e < 19; ++e) {
      train.push_back((0.05 + 1.9 * std::exp(-e / 3.0)) * noise(0.1));
      val.push_back((0.12 + 1.8 * std::exp(-e / 3.0)) * noise(0.03));
    }
    // Warm restarts: the loss jumps at epochs 10 and 20 and falls back lower.
    for (int e = 0; e < 30; ++e) {
      const int cycle = e / 10, into = e % 10;
      restart.push_back((0.05 + (0.8 / (cycle + 1)) * std::exp(-into / 2.5) + 0.02 * std::exp(-e / 5.0)) * noise(0.05));
    }
    for (const auto& run : {realistic::run_of({{"train_loss", train}, {"val_loss", val}}),
                            realistic::run_of({{"loss", restart}})}) {
      const auto d = diagnose(run);
      if (has(d, "divergence")) {
        ++alarms;
        if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
      }
    }
  }
  INFO(first);
  CHECK(alarms == 0);
}

TEST_CASE("divergence: single batches sampled 39 times scatter by 2x, two low batches near the end and a return to "
          "the scatter are not divergence",
          "[diagnose][divergence][healthy]") {
  // Each point is one batch's loss (Lightning's "last" every 10 steps): the
  // scatter is as wide as the level. Two batches near the end come out low by
  // chance and the last ones are back in the scatter. The lowest level and the
  // end level are medians of at least 10% of the points (4 of 39, not 3), as
  // a person reads them; over 3 points the chance low would count as the
  // bottom and the scatter after it as a doubling.
  Noise noise(7);
  std::vector<double> loss, val;
  for (int i = 0; i < 32; ++i) loss.push_back((0.095 + 0.45 * std::exp(-i / 4.0)) * noise(0.3));
  for (double v : {0.131, 0.072, 0.036, 0.051, 0.081, 0.117, 0.124}) loss.push_back(v);
  for (int e = 0; e < 57; ++e) val.push_back((0.09 + 0.5 * std::exp(-e / 6.0)) * noise(0.01));
  const auto d = diagnose(realistic::run_of({{"loss", loss}, {"val_loss", val}}));
  INFO(kinds(d));
  CHECK_FALSE(has(d, "divergence"));
}

TEST_CASE("divergence: a warm-up that takes the rate too high makes the loss climb from its first epochs to 1.7x "
          "with no progress to give back: divergence, not a plateau",
          "[diagnose][divergence][plateau]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Noise noise(seed);
    std::vector<double> loss, lr;
    for (int e = 0; e < 25; ++e) {
      const double rate = std::min(3.0, 0.2 * std::exp(e * std::log(15.0) / 14.0));  // warm-up to 3 at epoch 14
      lr.push_back(rate);
      loss.push_back((0.95 + 0.7 / (1 + std::exp(-(e - 8) / 2.5))) * noise(0.05));  // epoch means
    }
    const auto d = diagnose(realistic::run_of({{"loss", loss}, {"lr", lr}}));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "divergence"));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("divergence: 15 epochs that fall to 0.44 and climb back to 0.71 give back half their progress, the lowest "
          "is a single epoch",
          "[diagnose][divergence][onset]") {
  // A per-epoch log (each point an epoch's mean): the loss falls for 9 epochs,
  // then a learning rate stepped up makes it climb for 5. A running median
  // over 3 epochs would fill in the bottom of the V (0.46 instead of 0.44) and
  // leave the end at 1.45x it; read from single epochs it is 1.5x, half the
  // progress given back.
  const std::vector<double> loss{0.98, 0.80, 0.71, 0.65, 0.58, 0.53, 0.47, 0.51, 0.46, 0.44, 0.61, 0.58, 0.63, 0.66, 0.71};
  const std::vector<double> val{0.81, 0.73, 0.69, 0.65, 0.62, 0.6, 0.58, 0.6, 0.59, 0.58, 0.7, 0.69, 0.74, 0.78, 0.84};
  auto run = realistic::run_of({{"loss", loss}, {"val_loss", val}});
  run.step_name = "epoch";
  const auto d = diagnose(run);
  INFO(kinds(d));
  const auto& s = get(d, "divergence");
  CHECK(s.step_start == 9);
}

TEST_CASE("divergence: a short log that falls 50-fold in its first two points and wanders near its bottom is not "
          "divergence: the first drop is the progress",
          "[diagnose][divergence][healthy]") {
  // 19 points logged every 10 steps: 0.41, then 0.03 and the bottom, where the
  // loss wanders between 0.006 and 0.013. Its end, 0.012, is 1.9x its lowest
  // point, a twentieth of the way back to where it started, not a giving back
  // of the progress (the start is the first 5% of the points: the first one).
  const std::vector<double> loss{0.41,   0.031,  0.017,  0.0105, 0.0089, 0.0121, 0.0097, 0.0083, 0.0071, 0.0076,
                                 0.0063, 0.0081, 0.0094, 0.0127, 0.0109, 0.0088, 0.0116, 0.0124, 0.0119};
  const auto d = diagnose(realistic::run_of({{"loss", loss}}, 10));
  INFO(kinds(d));
  CHECK_FALSE(has(d, "divergence"));
}

TEST_CASE("divergence: a loss that falls until step 120 then climbs above its start is reported from ~120",
          "[diagnose][divergence][onset]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> loss;
    for (int i = 0; i < 300; ++i)
      loss.push_back((i < 120 ? 0.45 + 1.9 * std::exp(-i / 30.0) : 0.47 * std::exp((i - 120) / 15.0)) * noise(0.1));
    const auto d = diagnose(realistic::run_of({{"loss", loss}}));
    INFO(kinds(d));
    CHECK(near(get(d, "divergence").step_start, 120, 0.1, 300));
  }
}

TEST_CASE("spike: a loss spanning 14 decades with jumps of orders of magnitude is judged on a log scale",
          "[diagnose][spike]") {
  // A physics-informed network's loss: from 1e8 to 1e-6 over 20,000 steps,
  // with jumps of 2 to 7 decades that decay back over tens to hundreds of
  // steps (an Adam step into a steep region, then recovery).
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    Noise noise(seed);
    std::mt19937_64 rng(seed + 100);
    std::uniform_real_distribution<double> u(0, 1);
    const int n = 20000;
    std::vector<double> excess(n, 0.0);  // decades above the trend
    std::vector<int> at;
    for (int k = 0; k < 8; ++k) {
      const int start = static_cast<int>((0.1 + 0.85 * (k + u(rng)) / 8) * n);
      const double height = 2 + 5 * u(rng), decay = 10 + 100 * u(rng);
      at.push_back(start);
      for (int i = start; i < n && i < start + 2000; ++i) excess[i] = std::max(excess[i], height * std::exp(-(i - start) / decay));
    }
    std::vector<double> loss;
    for (int i = 0; i < n; ++i) {
      const double t = static_cast<double>(i) / n;
      const double decades = 8 - 14 * (1 - std::exp(-3 * t)) / (1 - std::exp(-3.0));
      loss.push_back(std::pow(10.0, decades + excess[i]) * noise(0.1));
    }
    const auto d = diagnose(realistic::run_of({{"train_loss_step", loss}}, 5));
    INFO(kinds(d));
    const auto& s = get(d, "spike");
    // Spikes closer than the band before a spike (5% of the run) are one.
    CHECK(std::stoi(s.evidence) >= 6);
    CHECK(s.evidence.find("spikes") != std::string::npos);
    CHECK(s.evidence.find("log scale") != std::string::npos);
    CHECK(s.evidence.find("(transient)") != std::string::npos);
    CHECK(s.step_start == 5 * at.front());
    CHECK_FALSE(has(d, "divergence"));
  }
}

TEST_CASE("spike: a jump back down within 10% of the run after its peak is a spike, a bump that takes longer to "
          "settle is not",
          "[diagnose][spike]") {
  // 200 logged batches at a level of 0.01; at point 120 the loss jumps 8-fold
  // and decays back with time constant tau (points). Back down means a median
  // of 5 points within 20 points (10% of the run) after the peak at most a
  // quarter of the jump above the level (on a log scale: 8^0.25 = 1.68x), which
  // a decay reaches after 2.33 tau: tau = 4 is a spike, tau = 9.5 settles later.
  for (const double tau : {4.0, 9.5}) {
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      Noise noise(seed);
      std::vector<double> loss;
      for (int i = 0; i < 200; ++i) {
        const double start = 0.01 * (1 + 300 * std::exp(-i / 6.0));  // 300x the level at first: a log scale
        const double bump = i < 120 ? 1.0 : 1 + 7 * std::exp(-(i - 120) / tau);
        loss.push_back(start * bump * noise(0.05));
      }
      const auto d = diagnose(realistic::run_of({{"loss", loss}}));
      INFO("tau " << tau << ", seed " << seed << "\n" << kinds(d));
      CHECK(has(d, "spike") == (tau < 5));
    }
  }
}

TEST_CASE("spike: a few transient spikes in the first 3% of a healthy run are a note, not a symptom",
          "[diagnose][spike][healthy]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    auto run = synth::healthy(seed);
    auto& loss = run.series[0].values;
    // Warm-up instability: spikes of 6-20x in the first 60 steps, gone in a step or two.
    loss[12] *= 6;
    loss[30] *= 20;
    loss[31] *= 8;
    loss[55] *= 10;
    const auto d = diagnose(run);
    INFO(kinds(d));
    CHECK(d.healthy());
    bool noted = false;
    for (const auto& note : d.notes) noted = noted || note.find("transient spikes") != std::string::npos;
    CHECK(noted);
    // The same spikes later in the run are a symptom.
    loss[1012] *= 6;
    CHECK(has(diagnose(run), "spike"));
  }
}

TEST_CASE("overfitting: a sparse noisy training loss beside a validation loss that keeps improving or stays within "
          "its noise is not overfitting",
          "[diagnose][overfitting][healthy]") {
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    Noise noise(seed);
    std::vector<double> train, improving, flat, bottom;
    for (int e = 0; e < 19; ++e) {
      train.push_back((0.25 + 1.5 * std::exp(-e / 4.0)) * noise(0.2));  // 19 noisy epoch losses
      improving.push_back((0.3 + 1.4 * std::exp(-e / 6.0)) * noise(0.01));  // smooth, still falling
      flat.push_back((e < 8 ? 0.35 + 1.4 * std::exp(-e / 2.0) : 0.35 + 0.0015 * (e - 8)) * noise(0.04));
      bottom.push_back((0.06 + 2.6 * std::exp(-e / 1.6) + 0.0008 * std::max(0, e - 10)) * noise(0.03));
    }
    for (const auto& val : {improving, flat, bottom}) {
      const auto d = diagnose(realistic::run_of({{"train_loss", train}, {"val_loss", val}}));
      if (has(d, "overfitting")) {
        ++alarms;
        if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
      }
    }
  }
  INFO(first);
  CHECK(alarms == 0);
}

TEST_CASE("overfitting: 12 evaluations, a steep fall then a rise of a third above the scatter after the best",
          "[diagnose][overfitting]") {
  // A small GRU on a synthetic sequence task, evaluated 12 times: the
  // validation loss falls from 0.31 to about 0.026 by the seventh evaluation,
  // then ends a third above it (0.035 over its last three) while the training
  // loss keeps falling. Twelve points are too few for a noise estimate: their
  // second differences are mostly the steep fall's bend, which puts the rise
  // at about one standard error. The rise stands above the band the
  // evaluations from the best on scatter in, and it is 35%: overfitting.
  const std::vector<double> val{0.31, 0.14, 0.052, 0.041, 0.027, 0.031, 0.024, 0.029, 0.026, 0.036, 0.031, 0.035};
  const std::vector<double> train{0.52, 0.19, 0.085, 0.052, 0.036, 0.027, 0.021, 0.017, 0.014, 0.012, 0.0105, 0.0093};
  const auto d = diagnose(realistic::run_of({{"train_loss", train}, {"val_loss", val}}, 50));
  INFO(kinds(d));
  const auto& s = get(d, "overfitting");
  CHECK(s.evidence.find("above the interquartile range") != std::string::npos);
  CHECK(near(s.step_start, 350, 0.1, 550));
}

TEST_CASE("overfitting: five evaluations, the best the third, then a rise of over 20% while the training loss "
          "keeps falling",
          "[diagnose][overfitting]") {
  // A regression MLP trained for 5 epochs of 100 steps, evaluated after each:
  // the validation loss falls to 0.026 at the third evaluation, then climbs
  // to 0.033 and 0.048 while the training loss keeps falling. The three
  // evaluations from the best on are too few for a scatter band (their
  // quartiles are the rise itself): a rise of over 20% of the best counts.
  // A rise of 12% does not; nor does one beside a training loss that climbs
  // to twice its level over the same steps (divergence, not overfitting).
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    auto run_with = [&](std::vector<double> val, double train_climb) {
      Noise noise(seed);
      std::vector<double> train;
      for (int k = 0; k < 500; ++k)
        train.push_back((0.02 + 0.6 * std::exp(-k / 60.0)) * (1 + train_climb * std::max(0, k - 300) / 200.0) *
                        noise(0.3));
      auto run = realistic::run_of({{"loss", train}});
      gradcheck::logs::Series v{"val_loss", {}, {}};
      for (std::size_t e = 0; e < val.size(); ++e)
        v.steps.push_back(static_cast<std::int64_t>(e) * 100 + 99), v.values.push_back(val[e] * noise(0.01));
      run.series.push_back(v);
      return diagnose(run);
    };
    const auto d = run_with({0.314, 0.047, 0.026, 0.033, 0.048}, 0.0);
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& s = get(d, "overfitting");
    CHECK(s.evidence.find("too few for their scatter") != std::string::npos);
    CHECK(near(s.step_start, 299, 0.1, 499));
    CHECK_FALSE(has(run_with({0.314, 0.047, 0.026, 0.027, 0.029}, 0.0), "overfitting"));
    CHECK_FALSE(has(run_with({0.314, 0.047, 0.026, 0.033, 0.048}, 1.0), "overfitting"));
  }
}

namespace {

// Eight evaluations every 180 steps (`val`), beside a training loss logged
// every 10 steps that falls a thousandfold (0.8 to 2e-5, minibatch noise).
gradcheck::logs::Run memorising_run(const std::vector<double>& val, Noise& noise) {
  std::vector<double> train;
  for (int k = 0; k < 8 * 18; ++k) train.push_back(0.8 * std::exp(-k / 15.0) * noise(0.3) + 2e-5);
  gradcheck::logs::Run run = realistic::run_of({{"train_loss", train}}, 10);
  gradcheck::logs::Series v{"val_loss", {}, {}};
  for (std::size_t e = 0; e < val.size(); ++e)
    v.steps.push_back(static_cast<std::int64_t>(e) * 180 + 170), v.values.push_back(val[e]);
  run.series.push_back(v);
  return run;
}

}  // namespace

TEST_CASE("overfitting: 8 evaluations standing 15% above their best while the training loss falls a thousandfold "
          "is memorising",
          "[diagnose][overfitting]") {
  // An MLP on a small tabular set, evaluated every 180 steps: the validation
  // loss reaches about 0.046-0.049 by the fourth evaluation and then stands
  // about 15% higher while the training loss falls from 0.09 to 1e-4. Eight
  // evaluations give no noise estimate worth the name, and the rise is short
  // of 20%; but a model whose training loss falls a thousandfold while its
  // validation loss stands well above the scatter after its best is
  // memorising its training set. One evaluation after the best scatters high
  // (0.058), which makes the curve's noise estimate as large as the rise.
  constexpr std::array<double, 8> kVal{0.302, 0.0458, 0.058, 0.049, 0.0558, 0.0557, 0.0569, 0.0585};
  int found = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Noise noise(seed);
    std::vector<double> val;
    for (double x : kVal) val.push_back(x * noise(0.01));
    const auto d = diagnose(memorising_run(val, noise));
    if (!has(d, "overfitting")) continue;
    ++found;
    const auto& s = get(d, "overfitting");
    INFO(s.evidence);
    CHECK(s.evidence.find("memorising") != std::string::npos);
    CHECK((near(s.step_start, 350, 0.1, 1430) || near(s.step_start, 530, 0.1, 1430)));
  }
  CHECK(found >= 18);
}

TEST_CASE("overfitting: a validation loss scattering flat after its best is not overfitting, even while the "
          "training loss falls a thousandfold",
          "[diagnose][overfitting][healthy]") {
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    Noise noise(seed);
    std::vector<double> scatter;
    for (int e = 0; e < 8; ++e) scatter.push_back((0.045 + 0.26 * std::exp(-3.0 * e)) * noise(0.05));
    const auto d = diagnose(memorising_run(scatter, noise));
    if (has(d, "overfitting")) {
      ++alarms;
      if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
    }
  }
  INFO(first);
  CHECK(alarms <= 1);
}

TEST_CASE("overfitting: 30 evaluations with occasional jumps that climb 17% from their best: a trend, not scatter",
          "[diagnose][overfitting]") {
  // A small MLP evaluated every 50 steps: the validation loss reaches ~0.127
  // by the 11th evaluation and then climbs slowly (+17% by the end), with a
  // few evaluations jumping 20-30% (small validation batches). The jumps make
  // the noise estimate as large as the rise and the interquartile range of the
  // evaluations from the best on covers it, but the evaluations climb.
  auto curves = [](std::uint64_t seed, double climb) {
    Noise noise(seed);
    std::mt19937_64 jumps(seed + 100);
    std::vector<double> train, val;
    for (int e = 0; e < 30; ++e) {
      const double base = 0.125 + 0.13 * std::exp(-e / 2.5) + climb * std::max(0, e - 10);
      val.push_back(base * noise(0.02) * (jumps() % 7 == 0 ? 1.25 : 1.0));
      train.push_back((0.105 + 0.24 * std::exp(-e / 3.0)) * noise(0.01));
    }
    return realistic::run_of({{"train_loss", train}, {"val_loss", val}}, 50);
  };
  int found = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = diagnose(curves(seed, 0.0012));
    if (!has(d, "overfitting")) continue;
    ++found;
    INFO(get(d, "overfitting").evidence);
    CHECK(near(get(d, "overfitting").step_start, 500, 0.12, 1450));  // the bottom is flat from 400 to 650
  }
  CHECK(found >= 18);
  // The same jumps over a flat level are not overfitting.
  int alarms = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) alarms += has(diagnose(curves(seed, 0.0)), "overfitting") ? 1 : 0;
  CHECK(alarms <= 1);
}

TEST_CASE("overfitting: a short run whose validation loss climbs while training improves", "[diagnose][overfitting]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Noise noise(seed);
    std::vector<double> train, val;
    for (int e = 0; e < 19; ++e) {
      train.push_back((0.05 + 1.5 * std::exp(-e / 4.0)) * noise(0.2));
      val.push_back((0.4 + 1.2 * std::exp(-e / 2.5) + 0.04 * std::max(0, e - 8)) * noise(0.03));
    }
    const auto d = diagnose(realistic::run_of({{"train_loss", train}, {"val_loss", val}}));
    INFO(kinds(d));
    const auto& s = get(d, "overfitting");
    CHECK(near(s.step_start, 8, 0.1, 18));
  }
}

namespace {

// A minibatch run logged as a Lightning or JSON Lines logger does: the loss
// of every `every`-th step (that step's batch) with its epoch, and the
// validation loss at the last step of each epoch.
gradcheck::logs::Run sampled_log(const realistic::Trace& t, int steps_per_epoch, int every, double val_level) {
  gradcheck::logs::Run run;
  run.source = "sampled";
  run.step_name = "step";
  gradcheck::logs::Series loss{"train_loss", {}, {}}, epoch{"epoch", {}, {}}, val{"val_loss", {}, {}};
  const int steps = static_cast<int>(t.loss.size());
  for (int s = 0; s < steps; ++s) {
    const int e = s / steps_per_epoch;
    if ((s + 1) % every == 0) {
      loss.steps.push_back(s), loss.values.push_back(t.loss[s]);
      epoch.steps.push_back(s), epoch.values.push_back(e);
    }
    if ((s + 1) % steps_per_epoch == 0) {
      val.steps.push_back(s), val.values.push_back(val_level * (1 + 0.5 / (1 + e)));
      epoch.steps.push_back(s), epoch.values.push_back(e);
    }
  }
  run.series = {std::move(epoch), std::move(loss), std::move(val)};
  return run;
}

}  // namespace

TEST_CASE("oscillation: a loss logged every N steps of minibatch training is single batches, judged on means, a "
          "per-epoch log is judged point by point",
          "[diagnose][oscillation][healthy]") {
  // Logistic regression on 400 examples in batches of 16 (25 steps an
  // epoch) at a stable rate, its loss logged every 50 steps (each point one
  // batch, two epochs apart): the points scatter by 30-60% around a level
  // the run reached. Taken as one point per epoch they would be read as a
  // loss that swings and does not settle.
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 3.0, 0.5, 10);
    const auto t = realistic::logistic_regression(data, 5000, 16, seed, [](int) { return 0.1; });
    for (const int every : {50, 30}) {
      const auto d = diagnose(sampled_log(t, 25, every, 0.5));
      if (has(d, "oscillation")) {
        ++alarms;
        if (first.empty()) first = "seed " + std::to_string(seed) + ", every " + std::to_string(every) + ":\n" + kinds(d);
      }
    }
  }
  INFO(first);
  CHECK(alarms == 0);
  // An epoch column with a missing (NaN) cell reads the same.
  {
    const auto data = realistic::two_blobs(1, 400, 10, 3.0, 0.5, 10);
    const auto t = realistic::logistic_regression(data, 5000, 16, 1, [](int) { return 0.1; });
    auto run = sampled_log(t, 25, 50, 0.5);
    run.series[0].values[7] = std::numeric_limits<double>::quiet_NaN();
    CHECK_FALSE(has(diagnose(run), "oscillation"));
  }
  // Full-batch training (one step an epoch) logged every second step skips
  // epochs, but each point is the whole data's loss: judged point by point, a
  // loss bouncing between 0.4 and 1.0 every 3 steps is found. (The model
  // itself swings, so its validation loss swings with it: a smooth one beside
  // it would say the points were batches.)
  {
    realistic::Trace full_batch;
    std::mt19937_64 rng(3);
    std::normal_distribution<double> z;
    for (int s = 0; s < 600; ++s) full_batch.loss.push_back((s % 6 < 3 ? 0.4 : 1.0) * (1 + 0.03 * z(rng)));
    auto run = sampled_log(full_batch, 1, 2, 0.5);
    auto& val = run.series[2];
    for (std::size_t i = 0; i < val.size(); ++i)
      val.values[i] = 1.1 * full_batch.loss[static_cast<std::size_t>(val.steps[i])] * (1 + 0.02 * z(rng));
    const auto d = diagnose(run);
    INFO(kinds(d));
    CHECK(get(d, "oscillation").evidence.find("judged on its logged points") != std::string::npos);
  }
  // A per-epoch log (one point at each epoch's last step) of a loss that
  // swings between 0.4 and 1.0 and does not settle, its validation loss with
  // it, is judged on its points.
  std::vector<double> swinging;
  for (int e = 0; e < 120; ++e) swinging.push_back(e % 6 < 3 ? 0.4 + 0.01 * (e % 3) : 1.0 - 0.01 * (e % 3));
  realistic::Trace per_epoch;
  for (int s = 0; s < 120 * 25; ++s) per_epoch.loss.push_back(swinging[s / 25]);
  auto run = sampled_log(per_epoch, 25, 25, 0.5);
  auto& val = run.series[2];
  for (std::size_t i = 0; i < val.size(); ++i) val.values[i] = 1.1 * swinging[static_cast<std::size_t>(val.steps[i] / 25)];
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(has(d, "oscillation"));
}

TEST_CASE("oscillation: single batches logged about once an epoch scatter where the validation loss beside them does "
          "not: judged on means, a loss that swings with its validation loss is oscillation",
          "[diagnose][oscillation][healthy]") {
  // Logistic regression on 400 examples in batches of 16 (25 steps an
  // epoch) at a stable rate, written as a hand-made JSON Lines loop writes
  // it: every 20 steps the step's batch loss, the epoch, and the whole data's
  // loss as the validation. About one point an epoch, no epoch skipped, so
  // the epoch column alone reads as a per-epoch log; but the points scatter
  // by 30-60% while the validation loss at the same steps stays smooth: the
  // batches move, not the model.
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 3.0, 0.5, 10);
    const auto t = realistic::logistic_regression(data, 1500, 16, seed, [](int) { return 0.1; }, true);
    gradcheck::logs::Run run;
    run.source = "jsonl";
    run.step_name = "step";
    gradcheck::logs::Series loss{"loss", {}, {}}, epoch{"epoch", {}, {}}, val{"val_loss", {}, {}};
    for (int s = 19; s < 1500; s += 20) {
      loss.steps.push_back(s), loss.values.push_back(t.loss[s]);
      epoch.steps.push_back(s), epoch.values.push_back(s / 25);
      val.steps.push_back(s), val.values.push_back(t.whole[s]);
    }
    run.series = {std::move(loss), std::move(epoch), std::move(val)};
    const auto d = diagnose(run);
    if (has(d, "oscillation")) {
      ++alarms;
      if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
    }
  }
  INFO(first);
  CHECK(alarms == 0);
  // A per-epoch log whose training loss swings between 0.4 and 1.0 and whose
  // validation loss swings with it (the model itself overshoots): judged on
  // its points, oscillation.
  std::vector<double> train, held;
  std::mt19937_64 rng(4);
  std::normal_distribution<double> z;
  for (int e = 0; e < 120; ++e) {
    const double level = e % 6 < 3 ? 0.4 : 1.0;
    train.push_back(level * (1 + 0.02 * z(rng)));
    held.push_back(1.1 * level * (1 + 0.02 * z(rng)));
  }
  const auto d = diagnose(realistic::run_of({{"loss", train}, {"val_loss", held}}, 25));
  INFO(kinds(d));
  CHECK(get(d, "oscillation").evidence.find("judged on its logged points") != std::string::npos);
}

TEST_CASE("plateau: minibatches that go from blown-up first steps straight to a constant prediction's loss, 0.8% "
          "below ln 3, and stay there: the model predicts a constant",
          "[diagnose][plateau]") {
  // A per-step log of 540 minibatches of 16 (3 imbalanced classes, unscaled
  // features, a rate too low): the first three batches are blown up, then the
  // model's constant output sits between the uniform guess (ln 3 = 1.0986)
  // and the class frequencies (their entropy, 1.0788) at 1.09, settling by
  // 0.5%, and the batches scatter around it by 1% (their class mix). Not
  // within 0.5% of ln 3, but a constant prediction's loss all the same.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss = noisy(seed, 540, 0.012, [](int i) {
      return i == 0 ? 27.6 : i == 1 ? 49.1 : i == 2 ? 173.4 : 1.0895 + 0.005 * std::exp(-i / 150.0);
    });
    const auto d = diagnose(realistic::run_of({{"loss", loss}}));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "plateau"));
  }
}

TEST_CASE("plateau: after a blown-up first value, a constant prediction drifts 2.5% into place near ln 3 over the "
          "first 20% of the run: it never learned",
          "[diagnose][plateau]") {
  // 108 points, one every 5 steps of 16-sample batches (3 classes, unscaled
  // features, a rate too low): the first is 46, then the model's constant
  // output is fitted from 1.12 to 1.092 over the first 20% of the run, its
  // batches scattering by 0.8%: a significant fall after the first value, but
  // no learning. Not flat within 2% from the first 5%, but moving by less than
  // 5% of its level after them.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss =
        noisy(seed, 108, 0.008, [](int i) { return i == 0 ? 46.1 : 1.092 + 0.03 * std::max(0.0, 1 - i / 20.0); });
    auto run = realistic::run_of({{"loss", loss}}, 5);
    for (auto& step : run.series[0].steps) step += 4;
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "plateau"));
  }
}

TEST_CASE("plateau: a deep sigmoid network whose loss falls from 0.84 onto ln 2 and sits there for 80% of the run "
          "predicts a constant",
          "[diagnose][plateau]") {
  // 12 sigmoid layers, 250 points: the first outputs are confident and
  // wrong (0.84), within 20% of the run they are uniform, ln 2 = 0.6931, and
  // stay so, the batches scattering by 1% (the outputs are not quite
  // constant). The loss never got below the guess: it fell onto it.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss = noisy(seed, 250, 0.01, [](int i) { return std::log(2.0) + 0.15 * std::exp(-i / 12.0); });
    const auto d = diagnose(realistic::run_of({{"loss", loss}}, 10));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "plateau"));
  }
}

TEST_CASE("plateau: a loss that sits at ln 4 for 60% of the run before it falls is a slow start, a trained model's "
          "slow fine-tuning is not",
          "[diagnose][plateau]") {
  // 48 points, one every 50 steps of minibatch training of a 4-class MLP: the
  // loss stays at the uniform guess, ln 4 = 1.386, for the first 60% of the run
  // (a rate too low at first), then falls by a fifth. Reported from the first
  // step to where it began to fall.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss = noisy(seed, 48, 0.02, [](int i) {
      const double t = i / 47.0;
      return t < 0.6 ? std::log(4.0) : 1.08 + (std::log(4.0) - 1.08) * std::exp(-(t - 0.6) / 0.1);
    });
    const auto d = diagnose(lightning_epochs("loss", loss));
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& s = get(d, "plateau");
    CHECK(s.step_start == 49);
    CHECK(near(s.step_end, 49 + 50 * 28, 0.1, 50 * 47));
  }
  // A model that had learned already (it starts at 0.45, below 0.8 ln 2) and
  // improves slowly, then faster once the rate warms up: fine-tuning.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss = noisy(seed, 48, 0.02, [](int i) {
      const double t = i / 47.0;
      return t < 0.6 ? 0.45 : 0.33 + 0.12 * std::exp(-(t - 0.6) / 0.1);
    });
    const auto d = diagnose(realistic::run_of({{"loss", loss}}));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("plateau: a first epoch inflated by its first batches, then a loss that creeps 10% down over most of the "
          "run, is a slow start from the level after it",
          "[diagnose][plateau]") {
  // 120 epochs of a regression model, one mean training loss an epoch (as
  // Lightning logs it, at step 49 of each 50): the first epoch's mean stands
  // 13% above the level the next epochs hold (7.1), from which the loss
  // creeps down, crossing 90% of it at 84% of the run. Judged from the first
  // value the loss fell 24%; from the first 5% of the run, as a person reads
  // the curve, it stayed flat for most of it.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss = noisy(seed, 120, 0.01, [](int e) {
      const double t = e / 119.0;
      return e == 0 ? 8.0 : 7.1 - 1.0 * t * t;
    });
    const auto d = diagnose(lightning_epochs("train_loss", loss));
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& s = get(d, "plateau");
    CHECK(s.step_start == 49);
    CHECK(near(s.step_end, 49 + 50 * 100, 0.1, 50 * 119));
  }
  // The same first epoch before a loss that falls by half within its first
  // epochs: progress, as before. And a 20-epoch log, whose first 5% is its
  // first value alone, that learned in its first epoch (2.3, then 0.5) and
  // improves a little after: no plateau, the start is that first value.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto fast = noisy(seed, 120, 0.01, [](int e) { return e == 0 ? 8.0 : 3.5 + 3.6 * std::exp(-e / 6.0); });
    const auto d = diagnose(realistic::run_of({{"train_loss", fast}}, 50));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
    const auto short_log = noisy(seed, 20, 0.01, [](int e) { return e == 0 ? 2.3 : 0.46 + 0.04 * std::exp(-e / 5.0); });
    auto epochs = realistic::run_of({{"loss", short_log}});
    epochs.step_name = "epoch";
    const auto e = diagnose(epochs);
    INFO(kinds(e));
    CHECK_FALSE(has(e, "plateau"));
  }
}

TEST_CASE("a log holding runs appended one after another is diagnosed on the last run, with a note",
          "[diagnose]") {
  // DETR appends each run's epochs to output/log.txt: a first try at a rate
  // too high climbs for 8 epochs and is stopped, a second stops after its
  // first epoch, then a third from epoch 0 learns for 30 epochs. Sorted by
  // epoch they interleave into a curve that jumps between them; the last run
  // alone is healthy.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    gradcheck::logs::Run run;
    run.source = "output/log.txt";
    run.step_name = "epoch";
    gradcheck::logs::Series train{"train_loss", {}, {}}, test{"test_loss", {}, {}};
    for (int e = 0; e < 8; ++e) {
      train.steps.push_back(e), train.values.push_back(20.0 * (1 + 0.2 * e) * noise(0.02));
      test.steps.push_back(e), test.values.push_back(19.0 * (1 + 0.2 * e) * noise(0.02));
    }
    train.steps.push_back(0), train.values.push_back(21.0 * noise(0.02));
    test.steps.push_back(0), test.values.push_back(20.0 * noise(0.02));
    for (int e = 0; e < 30; ++e) {
      train.steps.push_back(e), train.values.push_back((4.0 + 16.0 * std::exp(-e / 6.0)) * noise(0.02));
      test.steps.push_back(e), test.values.push_back((5.0 + 14.0 * std::exp(-e / 6.0)) * noise(0.02));
    }
    run.series = {train, test};
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(d.healthy());
    REQUIRE_FALSE(d.notes.empty());
    CHECK(d.notes.front().find("holds 3 runs one after another") != std::string::npos);
    CHECK(d.steps == 30);
  }
  // A log whose first point is logged twice at its step is one run.
  gradcheck::logs::Run twice;
  twice.source = "twice.csv";
  gradcheck::logs::Series first{"loss", {0, 0}, {1.0, 1.0}};
  for (int k = 1; k < 30; ++k) first.steps.push_back(k), first.values.push_back(1.0 / (1 + 0.1 * k));
  twice.series = {first};
  for (const auto& n : diagnose(twice).notes) CHECK(n.find("one after another") == std::string::npos);
  // A step that restarts every epoch (an iteration counter within 20 epochs)
  // is no set of appended runs: no such note.
  gradcheck::logs::Run epochs;
  epochs.source = "iterations.csv";
  gradcheck::logs::Series loss{"loss", {}, {}};
  for (int e = 0; e < 20; ++e)
    for (int i = 0; i < 10; ++i) loss.steps.push_back(i), loss.values.push_back(1.0 / (1 + e + 0.1 * i));
  epochs.series = {loss};
  const auto d = diagnose(epochs);
  for (const auto& n : d.notes) CHECK(n.find("one after another") == std::string::npos);
}

TEST_CASE("plateau: --from-scratch judges a small regression loss that never falls", "[diagnose][plateau]") {
  // A forecaster of scaled daily returns whose loss (mean squared error)
  // starts at the targets' variance, 0.10, and stays there for 10-46 epochs:
  // the model predicts about their mean. From the log alone that is a trained
  // model improving little (0.10 < 0.8 ln 2): a note naming --from-scratch.
  // With it, a plateau from the first epoch; a loss of the same level that
  // does fall 30% stays healthy.
  for (int epochs : {10, 32, 46}) {
    const auto flat = noisy(static_cast<std::uint64_t>(epochs), epochs, 0.01, [](int) { return 0.1015; });
    auto run = realistic::run_of({{"loss", flat}});
    run.step_name = "epoch";
    const auto by_default = diagnose(run);
    INFO(epochs << " epochs\n" << kinds(by_default));
    CHECK_FALSE(has(by_default, "plateau"));
    CHECK(std::any_of(by_default.notes.begin(), by_default.notes.end(), [](const std::string& n) {
      return n.find("--from-scratch") != std::string::npos;
    }));
    gradcheck::diag::DiagnoseOptions o;
    o.from_scratch = true;
    const auto d = diagnose(run, o);
    INFO(kinds(d));
    CHECK(get(d, "plateau").step_start == run.series[0].steps.front());
    const auto falls = noisy(static_cast<std::uint64_t>(epochs), epochs, 0.01,
                             [&](int e) { return 0.07 + 0.03 * std::exp(-e / (epochs / 4.0)); });
    auto learning = realistic::run_of({{"loss", falls}});
    learning.step_name = "epoch";
    CHECK_FALSE(has(diagnose(learning, o), "plateau"));
  }
}

TEST_CASE("plateau: with --classes, a loss that ends near ln(classes) while it still swings is no plateau, one that "
          "sits there is",
          "[diagnose][plateau]") {
  // A binary classifier with unscaled inputs, logged every 15 steps: the loss
  // falls from 12 to about ln 2 and keeps swinging by 35% either way from
  // point to point (a rate too high for the scale): its end level, a median,
  // lies within 10% of ln 2, but the loss never sits there. The same fall
  // onto a loss that stays within 1% of 0.70 for the last 40% of the run is
  // a model stuck at a constant guess.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Noise noise(seed);
    std::vector<double> swinging, sitting;
    for (int i = 0; i < 60; ++i) {
      const double fall = 0.72 + 11.3 * std::exp(-i / 4.0);
      swinging.push_back(fall * (i % 2 ? 1.35 : 0.65) * noise(0.05));
      sitting.push_back((i < 36 ? fall : 0.70) * noise(0.003));
    }
    gradcheck::diag::DiagnoseOptions o;
    o.classes = 2;
    const auto d = diagnose(realistic::run_of({{"loss", swinging}}, 15), o);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
    const auto stuck = diagnose(realistic::run_of({{"loss", sitting}}, 15), o);
    INFO(kinds(stuck));
    CHECK(get(stuck, "plateau").evidence.find("ln(2)") != std::string::npos);
  }
}

TEST_CASE("plateau: with --classes, a loss that starts well below ln(classes) and improves little is a trained "
          "model's",
          "[diagnose][plateau]") {
  // A LoRA fine-tune of a pretrained 1,024-token model: its loss starts at 2.6
  // (a fresh model starts near ln 1024 = 6.9) and falls 4% over 30 epochs.
  // Without --classes, 2.6 could be a fresh model stuck (13 classes): a
  // plateau. With --classes 1024: a note, not a plateau. A fresh 10-class model
  // held at ln 10 stays a plateau with --classes 10.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto tuned = noisy(seed, 30, 0.005, [](int e) { return 2.6 - 0.1 * (1 - std::exp(-e / 10.0)); });
    auto run = realistic::run_of({{"loss", tuned}});
    run.step_name = "epoch";
    INFO("seed " << seed);
    CHECK(has(diagnose(run), "plateau"));
    gradcheck::diag::DiagnoseOptions o;
    o.classes = 1024;
    const auto d = diagnose(run, o);
    INFO(kinds(d));
    CHECK_FALSE(has(d, "plateau"));
    CHECK(std::any_of(d.notes.begin(), d.notes.end(), [](const std::string& n) {
      return n.find("of ln 1024, where a freshly initialised classifier of 1024 classes starts") != std::string::npos;
    }));
    const auto stuck = noisy(seed, 30, 0.005, [](int) { return std::log(10.0); });
    auto fresh = realistic::run_of({{"loss", stuck}});
    fresh.step_name = "epoch";
    o.classes = 10;
    CHECK(has(diagnose(fresh, o), "plateau"));
  }
}

TEST_CASE("plateau: a 3-class model that starts at 1.23 and learns to 0.684, 1.3% below ln 2, is no constant "
          "prediction",
          "[diagnose][plateau][healthy]") {
  // 150 epochs of a linear 3-class model: the first epoch's mean is 1.23 (a
  // fresh model, near ln 3), the loss falls to 0.70 within the second epoch
  // and creeps to 0.684. It passes near ln 2 = 0.693 by coincidence: only a
  // first value blown up far above the level (3x or more) says the model went
  // straight to a constant prediction.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto loss = noisy(seed, 150, 0.003, [](int e) { return e == 0 ? 1.233 : 0.684 + 0.016 * std::exp(-e / 20.0); });
    auto run = realistic::run_of({{"loss", loss}});
    run.step_name = "epoch";
    const auto d = diagnose(run);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("plateau: a loss that learned, came back up to ln(C) and stays there is a collapse to a constant "
          "prediction, without --classes",
          "[diagnose][plateau]") {
  // 10 classes: the loss falls from ln 10 to about 0.3 by step 300, blows up
  // (a learning-rate spike) and settles at ln 10 to 4 digits, as a network
  // whose units died predicts the class frequencies, for the last 400 steps.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> loss;
    for (int s = 0; s < 300; ++s) loss.push_back((0.3 + 2.0 * std::exp(-s / 60.0)) * std::exp(0.1 * z(rng)));
    for (int s = 300; s < 310; ++s) loss.push_back(std::exp(3.0 * (s - 299)));
    for (int s = 310; s < 700; ++s) loss.push_back(realistic::f32(std::log(10.0) * (1 + 2e-4 * z(rng))));
    const auto d = diagnose(realistic::run_of({{"loss", loss}}));
    INFO("seed " << seed << "\n" << kinds(d));
    const auto& p = get(d, "plateau");
    CHECK(p.evidence.find("ln(10)") != std::string::npos);
    CHECK(near(p.step_start, 310, 0.1, 700));
    CHECK(has(d, "divergence"));
  }
  // Not a collapse: a loss that converges to about ln 3 from above (it never
  // was below it), and one that rose after a blow-up to a level near ln 9 but
  // keeps bouncing there (divergence, not a frozen output).
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> from_above, bouncing;
    for (int s = 0; s < 600; ++s) from_above.push_back((std::log(3.0) + 1.5 * std::exp(-s / 80.0)) * (1 + 0.002 * z(rng)));
    for (int s = 0; s < 20; ++s) bouncing.push_back(0.02 + 1.1 * std::exp(-s / 2.0));
    for (int s = 20; s < 30; ++s) bouncing.push_back(std::log(9.0) * (1 + 0.15 * z(rng)));
    const auto a = diagnose(realistic::run_of({{"loss", from_above}}));
    INFO("seed " << seed << "\n" << kinds(a));
    CHECK_FALSE(has(a, "plateau"));
    const auto b = diagnose(realistic::run_of({{"loss", bouncing}}));
    INFO(kinds(b));
    CHECK_FALSE(has(b, "plateau"));
  }
}

TEST_CASE("plateau: a loss that learned, blew up and came back to a constant prediction's loss a little off ln(C) "
          "is a collapse too",
          "[diagnose][plateau]") {
  // 30 epochs of a 10-class MLP (a Keras log): the loss falls from 2.2 to 1.3
  // in 4 epochs, a 100x learning rate for a few steps blows it up to 120, and
  // it comes back to 2.33, 1.2% above ln 10, creeping down by 0.5% as the
  // output bias, all that still learns once the units died, fits the class
  // frequencies. And a 2-class model whose loss after the blow-up sits at
  // 0.665, 4% below ln 2: the entropy of its class frequencies, about 62/38.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> ten, two;
    for (int e = 0; e < 5; ++e) ten.push_back(1.3 + 0.9 * std::exp(-e / 1.5) + 0.01 * z(rng));
    ten.push_back(120.0);
    for (int e = 6; e < 30; ++e) ten.push_back(2.318 + 0.012 * std::exp(-(e - 6) / 8.0) + 0.003 * z(rng));
    for (int e = 0; e < 5; ++e) two.push_back(0.35 + 0.33 * std::exp(-e / 1.5) + 0.005 * z(rng));
    two.push_back(40.0);
    for (int e = 6; e < 30; ++e) two.push_back(0.665 + 0.002 * z(rng));
    for (auto* loss : {&ten, &two}) {
      auto run = realistic::run_of({{"loss", *loss}});
      run.step_name = "epoch";
      const auto d = diagnose(run);
      INFO("seed " << seed << "\n" << kinds(d));
      const auto& p = get(d, "plateau");
      CHECK(p.evidence.find(loss == &ten ? "ln(10)" : "ln(2)") != std::string::npos);
      CHECK(p.step_start >= 5);  // the blow-up's epoch, or after it
      CHECK(p.step_start <= 9);
      CHECK(has(d, "divergence"));
    }
  }
}

TEST_CASE("plateau: a validation loss that scatters, one evaluation low, does not say the model learned",
          "[diagnose][plateau]") {
  // A recurrent forecaster whose training loss sits at 1.2 for 46 epochs
  // while its validation loss scatters between 0.75 and 1.6 around 1.2: its
  // lowest evaluations fall well below the training loss by chance, but the
  // last quarter of the evaluations is no lower than the first: no progress.
  // A validation loss that falls steadily to 0.8 beside the same training
  // loss does say it (a note; the written rules accept a plateau there).
  int scatter_plateaus = 0, steady_notes = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> train, scatter, steady;
    for (int e = 0; e < 46; ++e) {
      train.push_back(1.2 * (1 + 0.03 * z(rng)));
      scatter.push_back(std::clamp(1.2 * (1 + 0.2 * z(rng)), 0.75, 1.6));
      steady.push_back((0.8 + 0.4 * std::exp(-e / 10.0)) * (1 + 0.01 * z(rng)));
    }
    for (const auto* val : {&scatter, &steady}) {
      auto run = realistic::run_of({{"train_loss", train}, {"val_loss", *val}});
      run.step_name = "epoch";
      const auto d = diagnose(run);
      INFO("seed " << seed << (val == &scatter ? " scatter\n" : " steady\n") << kinds(d));
      if (val == &scatter) {
        scatter_plateaus += has(d, "plateau");
      } else {
        CHECK_FALSE(has(d, "plateau"));
        for (const auto& note : d.notes) steady_notes += note.find("the model learned") != std::string::npos;
      }
    }
  }
  CHECK(scatter_plateaus == 10);
  CHECK(steady_notes == 10);
}

TEST_CASE("plateau: sampled training batches that show no progress beside a validation loss that fell well below "
          "them are a note, a validation loss falling to where the training loss sits is no progress",
          "[diagnose][plateau][healthy]") {
  // 6 epochs of 15 steps with 30% of the labels flipped, the loss of every
  // 10th step logged (9 single batches, scattering by 15%), a validation
  // after each epoch: it falls from 0.56 to 0.44, below every batch.
  int alarms = 0, noted = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> train, val;
    for (int i = 0; i < 9; ++i) train.push_back(0.65 * std::exp(0.15 * z(rng)));
    for (int e = 0; e < 6; ++e) val.push_back((0.44 + 0.12 * std::exp(-e / 1.2)) * (1 + 0.01 * z(rng)));
    auto run = realistic::run_of({{"train_loss", train}}, 10);
    gradcheck::logs::Series v{"val_loss", {}, {}};
    for (int e = 0; e < 6; ++e) v.steps.push_back(15 * e + 14), v.values.push_back(val[e]);
    run.series.push_back(v);
    const auto d = diagnose(run);
    for (const auto& note : d.notes) noted += note.find("the model learned") != std::string::npos ? 1 : 0;
    if (has(d, "plateau")) {
      ++alarms;
      if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
    }
  }
  INFO(first);
  CHECK(alarms == 0);
  CHECK(noted >= 5);  // the runs whose batches alone look flat say why they are not a plateau
  // A deep sigmoid network whose gradients vanished: the training loss sits
  // at ln 3 from the start, the validation loss falls from 1.33 at its first
  // evaluation to ln 3 too. No progress: a plateau.
  std::vector<double> train, val;
  for (int i = 0; i < 160; ++i) train.push_back(std::log(3.0) * (1 + 0.05 * std::exp(-i / 10.0)) + 0.002 * (i % 3));
  for (int e = 0; e < 16; ++e) val.push_back(std::log(3.0) + 0.23 * std::exp(-e / 0.7));
  auto run = realistic::run_of({{"loss", train}});
  gradcheck::logs::Series v{"val_loss", {}, {}};
  for (int e = 0; e < 16; ++e) v.steps.push_back(10 * e + 9), v.values.push_back(val[e]);
  run.series.push_back(v);
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(has(d, "plateau"));
}

namespace {

// A per-step log of minibatch logistic regression as a hand-made loop
// writes it: each step's batch loss, and the whole data's loss once an epoch
// as the validation; no epoch column.
gradcheck::logs::Run per_step_with_epoch_validation(const realistic::Trace& t, int steps_per_epoch) {
  gradcheck::logs::Run run;
  run.source = "per-step";
  run.step_name = "step";
  gradcheck::logs::Series loss{"loss", {}, {}}, val{"val_loss", {}, {}};
  for (int s = 0; s < static_cast<int>(t.loss.size()); ++s) {
    loss.steps.push_back(s), loss.values.push_back(t.loss[s]);
    if ((s + 1) % steps_per_epoch == 0) val.steps.push_back(s), val.values.push_back(t.whole[s]);
  }
  run.series = {std::move(loss), std::move(val)};
  return run;
}

}  // namespace

TEST_CASE("oscillation: a per-step log whose epochs it does not say, the validation loss swinging with it, is judged "
          "on means of 10 batches",
          "[diagnose][oscillation]") {
  // Logistic regression on unscaled features (the last of 10 spread 30x) in
  // batches of 8 (50 steps an epoch), every step logged, the whole data's
  // loss once an epoch. At a rate too high for the widest feature the weights
  // overshoot from batch to batch: the validation loss, on fixed data, jumps
  // by 2x and more between epochs, and the means of 10 batches swing with it.
  // Means over as many batches as their scatter asks for (a fortieth of the
  // run here) would smooth the swings away.
  int found = 0;
  std::string missed;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 30.0, 0.5, 10);
    const auto t = realistic::logistic_regression(data, 2000, 8, seed, [](int) { return 0.05; }, true);
    const auto d = diagnose(per_step_with_epoch_validation(t, 50));
    if (has(d, "oscillation")) {
      ++found;
      CHECK_THAT(get(d, "oscillation").evidence, Catch::Contains("val_loss swings too"));
    } else if (missed.empty()) {
      missed = "seed " + std::to_string(seed) + ":\n" + kinds(d);
    }
  }
  INFO(missed);
  CHECK(found == 6);
  // The same runs at a rate they take: the batches scatter, the validation
  // loss falls and settles; no oscillation.
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const auto data = realistic::two_blobs(seed, 400, 10, 30.0, 0.5, 10);
    const auto t = realistic::logistic_regression(data, 2000, 8, seed, [](int) { return 0.0005; }, true);
    const auto d = diagnose(per_step_with_epoch_validation(t, 50));
    if (has(d, "oscillation")) {
      ++alarms;
      if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
    }
  }
  INFO(first);
  CHECK(alarms == 0);
}

namespace {

// A linear regression trained with minibatch SGD from a random start (as a
// framework's default initialisation leaves it), the squared error of every
// 5th step's batch of 16 logged (the loss of one batch: it scatters by about
// a third, a chi-square of 16 residuals), and the error over 200 held-out
// points after every 12th step, as a validation loop computes it.
gradcheck::logs::Run minibatch_regression(std::uint64_t seed, double lr, int steps) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  constexpr int d = 8, batch = 16;
  std::vector<double> truth(d), w(d);
  for (int j = 0; j < d; ++j) truth[j] = z(rng), w[j] = 0.5 * z(rng);
  const auto sample = [&](std::vector<double>& x) {
    for (double& v : x) v = z(rng);
    double y = 0.5 * z(rng);
    for (int j = 0; j < d; ++j) y += truth[j] * x[j];
    return y;
  };
  std::vector<std::vector<double>> vx(200, std::vector<double>(d));
  std::vector<double> vy(200);
  for (std::size_t i = 0; i < vx.size(); ++i) vy[i] = sample(vx[i]);
  const auto error = [&](const std::vector<double>& x, double y) {
    double e = -y;
    for (int j = 0; j < d; ++j) e += w[j] * x[j];
    return e;
  };
  gradcheck::logs::Series train{"train_loss", {}, {}}, val{"val_loss", {}, {}};
  std::vector<double> x(d), g(d);
  for (int s = 0; s < steps; ++s) {
    std::fill(g.begin(), g.end(), 0.0);
    double loss = 0;
    for (int k = 0; k < batch; ++k) {
      const double y = sample(x);
      const double e = error(x, y);
      loss += e * e / batch;
      for (int j = 0; j < d; ++j) g[j] += 2 * e * x[j] / batch;
    }
    for (int j = 0; j < d; ++j) w[j] -= lr * g[j];
    if (s % 5 == 4) train.steps.push_back(s), train.values.push_back(realistic::f32(loss));
    if (s % 12 == 11) {
      double all = 0;
      for (std::size_t i = 0; i < vx.size(); ++i) all += error(vx[i], vy[i]) * error(vx[i], vy[i]);
      val.steps.push_back(s), val.values.push_back(realistic::f32(all / static_cast<double>(vx.size())));
    }
  }
  gradcheck::logs::Run run;
  run.source = "minibatch regression";
  run.step_name = "step";
  run.series = {train, val};
  return run;
}

}  // namespace

TEST_CASE("divergence: single batches that scatter by a third around a level held at a rate too low to learn are "
          "no divergence, the same runs at a rate past the stable one are",
          "[diagnose][divergence]") {
  // 240 steps at a rate of 1e-5: the weights hardly move and the validation
  // error drifts by well under 1%. The medians of a few batches differ by
  // 1.5-2x by chance (a chi-square of 16 residuals scatters by a third, with a
  // long upper tail): no rise that stands out of the noise, no divergence
  // (judged without the noise, 11 of these 20 runs were reported diverging;
  // one chance cluster of three high batches at the very end, 2x the lowest
  // median, still is).
  int alarms = 0;
  std::string first;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = diagnose(minibatch_regression(seed, 1e-5, 240));
    if (has(d, "divergence")) {
      ++alarms;
      if (first.empty()) first = "seed " + std::to_string(seed) + ":\n" + kinds(d);
    }
  }
  INFO(first);
  CHECK(alarms <= 1);
  // Past the stable rate (2 / the largest curvature, 1 here) the error grows
  // geometrically: a divergence in every run, from the start.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = diagnose(minibatch_regression(seed, 1.05, 240));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK(has(d, "divergence"));
  }
}

namespace {
// 48 points logged every 5 steps, scattering by 5% (a log-normal factor)
// around 1.0, those in [dip_from, dip_to) around 0.8: a loss held at one
// level by a rate too low to learn, with one stretch lower.
gradcheck::logs::Run held_with_dip(std::uint64_t seed, int dip_from, int dip_to) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  std::vector<double> loss;
  for (int i = 0; i < 48; ++i) loss.push_back((i >= dip_from && i < dip_to ? 0.8 : 1.0) * std::exp(0.05 * z(rng)));
  return realistic::run_of({{"train_loss", loss}}, 5);
}
}  // namespace

TEST_CASE("plateau: a loss held at one level whose only dip below 90% of its start is a passing one late in the run "
          "made no progress, a loss that falls slowly under the same noise did",
          "[diagnose][plateau]") {
  // 48 points logged every 5 steps, scattering by 5% around 1.0 (a rate too
  // low to learn), five of them from 60% of the run on around 0.8 before the
  // loss is back at 1.0: the smoothed loss stays within 10% of its start for
  // 60% of the run, and what follows its dip does not stand below the flat
  // stretch. Judged by its lowest smoothed level alone, it fell 20%:
  // progress.
  // Found in 17 of these 20 runs (none before the dip was judged against the
  // noise). Two whose noise happens to make a weak downward trend (Mann-
  // Kendall p < 0.05) are given the benefit of the doubt, progress, and in
  // one the smoothed loss dips 10% below its start by chance at 40% of the
  // run, too early for a flat start.
  int plateaus = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = diagnose(held_with_dip(seed, 29, 34));
    INFO("seed " << seed << "\n" << kinds(d));
    if (!has(d, "plateau")) continue;
    ++plateaus;
    CHECK(get(d, "plateau").step_start == 0);
    CHECK_THAT(get(d, "plateau").evidence, Catch::Contains("does not stand out of its noise"));
  }
  CHECK(plateaus >= 17);
  // The same noise around a level that falls steadily from 1.0 to 0.6: a
  // downward trend, progress.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z;
    std::vector<double> loss;
    for (int i = 0; i < 48; ++i) loss.push_back((1.0 - 0.4 * i / 47.0) * std::exp(0.1 * z(rng)));
    const auto d = diagnose(realistic::run_of({{"train_loss", loss}}, 5));
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("roles: a reinforcement-learning log's training loss is its critic's, in the usual namings",
          "[diagnose][roles]") {
  using gradcheck::logs::recognise_roles;
  const std::vector<double> v{1, 2, 3};
  struct Case {
    std::vector<std::string> columns;
    std::string critic, policy, ret;
  };
  const std::vector<Case> cases = {
      // Spinning Up: PPO, SAC (two Q-functions and a value function), DDPG.
      {{"Epoch", "AverageEpRet", "AverageVVals", "LossPi", "LossV", "DeltaLossPi"}, "LossV", "LossPi", "AverageEpRet"},
      {{"AverageEpRet", "AverageTestEpRet", "LossPi", "LossQ1", "LossQ2", "LossV"}, "LossQ1", "LossPi", "AverageEpRet"},
      {{"AverageTestEpRet", "LossPi", "LossQ"}, "LossQ", "LossPi", "AverageTestEpRet"},
      // Stable-Baselines3: PPO writes a total loss too; SAC an entropy coefficient's loss.
      {{"rollout/ep_rew_mean", "train/loss", "train/entropy_loss", "train/policy_gradient_loss", "train/value_loss"},
       "train/value_loss", "train/policy_gradient_loss", "rollout/ep_rew_mean"},
      {{"train/ent_coef_loss", "train/actor_loss", "train/critic_loss"}, "train/critic_loss", "train/actor_loss", ""},
      // CleanRL's TensorBoard tags.
      {{"charts/episodic_return", "losses/qf1_values", "losses/qf1_loss", "losses/qf2_loss", "losses/actor_loss"},
       "losses/qf1_loss", "losses/actor_loss", "charts/episodic_return"},
      {{"charts/episodic_return", "losses/value_loss", "losses/policy_loss", "losses/entropy"}, "losses/value_loss",
       "losses/policy_loss", "charts/episodic_return"},
      // RLlib's progress.csv.
      {{"episode_reward_mean", "info/learner/default_policy/learner_stats/total_loss",
        "info/learner/default_policy/learner_stats/policy_loss", "info/learner/default_policy/learner_stats/vf_loss"},
       "info/learner/default_policy/learner_stats/vf_loss", "info/learner/default_policy/learner_stats/policy_loss",
       "episode_reward_mean"},
  };
  for (const auto& c : cases) {
    std::vector<std::pair<std::string, std::vector<double>>> cols;
    for (const auto& name : c.columns) cols.emplace_back(name, v);
    const auto roles = recognise_roles(realistic::run_of(cols));
    INFO(c.critic);
    CHECK(roles.critic);
    CHECK(roles.loss == c.critic);
    CHECK(roles.policy_loss == c.policy);
    CHECK(roles.episode_return == c.ret);
  }
  // A value loss with neither a policy's loss nor a return is no critic (a
  // model with a value head): the training loss is found as before.
  const auto heads = recognise_roles(realistic::run_of({{"loss", v}, {"value_loss", v}, {"val_loss", v}}));
  CHECK_FALSE(heads.critic);
  CHECK(heads.loss == "loss");
  CHECK(heads.val_loss == "val_loss");
  CHECK(heads.policy_loss.empty());
  // ... and `value` is no evaluation word: a value head's loss is no validation loss.
  CHECK(recognise_roles(realistic::run_of({{"loss", v}, {"value_loss", v}})).val_loss.empty());
  // A return and a policy's loss without a critic (REINFORCE): no critic either.
  const auto reinforce = recognise_roles(realistic::run_of({{"AverageEpRet", v}, {"LossPi", v}}));
  CHECK_FALSE(reinforce.critic);
  CHECK(reinforce.loss == "LossPi");
  CHECK(reinforce.episode_return.empty());
}

TEST_CASE("a critic's loss that climbs while the returns fall is an error, with advice for the critic",
          "[diagnose][divergence][roles]") {
  std::vector<double> q, ret, pi;
  for (int i = 0; i < 100; ++i) {
    q.push_back(0.5 * std::exp(0.05 * i));  // 0.5 to 70
    ret.push_back(-100.0 - 2.0 * i);         // the agent gets worse
    pi.push_back(-1.0 * i);
  }
  const auto d = diagnose(realistic::run_of({{"AverageEpRet", ret}, {"LossPi", pi}, {"LossQ", q}}));
  REQUIRE_FALSE(d.symptoms.empty());
  const auto& s = d.symptoms[0];
  CHECK(s.kind == gradcheck::diag::SymptomKind::divergence);
  CHECK(s.metric == "LossQ");
  CHECK(s.severity == gradcheck::diag::Severity::error);
  CHECK_THAT(s.evidence, Catch::Contains("(falling: the policy got worse)"));
  CHECK_THAT(s.advice, Catch::Contains("the critic is diverging while the returns do not improve"));

  // Returns that rose to a peak after the critic began to climb, then
  // collapsed: the peak is named.
  std::vector<double> peaked;
  for (int i = 0; i < 100; ++i) peaked.push_back(i < 40 ? 20.0 * i : std::max(20.0, 800.0 - 40.0 * (i - 40)));
  const auto c = diagnose(realistic::run_of({{"AverageEpRet", peaked}, {"LossPi", pi}, {"LossQ", q}}));
  REQUIRE_FALSE(c.symptoms.empty());
  CHECK_THAT(c.symptoms[0].evidence, Catch::Contains("after a peak of") && Catch::Contains("(the policy got worse)"));
  CHECK(c.symptoms[0].severity == gradcheck::diag::Severity::error);
}

TEST_CASE("a critic's loss is not judged against its first value, which its near-zero first targets make tiny",
          "[diagnose][divergence][roles]") {
  // SAC's Q loss: 0.4 on the first epoch (no returns yet), 31 as the returns
  // come in, then down to 1.6, four times its first value, while the agent
  // learns. A supervised loss that ends 4x above its first value is a
  // divergence (a rate that blew it up in the first steps); a critic's is not.
  std::vector<double> q{0.4, 12, 25, 31, 24}, ret, pi;
  while (q.size() < 120) q.push_back(std::max(1.6 + 0.1 * std::sin(static_cast<double>(q.size())), q.back() * 0.93));
  for (std::size_t i = 0; i < q.size(); ++i) {
    ret.push_back(700.0 * (1 - std::exp(-static_cast<double>(i) / 20)));
    pi.push_back(-ret.back() / 10);
  }
  const auto critic = diagnose(realistic::run_of({{"AverageEpRet", ret}, {"LossPi", pi}, {"LossQ", q}}));
  CHECK(critic.roles.critic);
  CHECK(critic.symptoms.empty());
  const auto supervised = diagnose(realistic::run_of({{"loss", q}}));
  REQUIRE_FALSE(supervised.symptoms.empty());
  CHECK(supervised.symptoms[0].kind == gradcheck::diag::SymptomKind::divergence);
}

TEST_CASE("vanishing gradient: a ratio that scatters across the line is dated from where most points fall below it",
          "[diagnose][vanishing_gradient]") {
  // Mini-batch norms: the first layer's norm is a median 2e-4 of the global
  // norm from the first step, scattering by a factor e^1.5 either way, so one
  // point in seven lands above 1e-3. The stretch is the whole run.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> loss, total, first, last;
  for (int i = 0; i < 400; ++i) {
    loss.push_back(0.69 + 0.05 * z(rng));
    total.push_back(0.05 * std::exp(0.5 * z(rng)));
    first.push_back(total.back() * 2e-4 * std::exp(1.5 * z(rng)));
    last.push_back(total.back() * 0.1);
  }
  const auto d = diagnose(realistic::run_of(
      {{"train/loss", loss}, {"train/grad_2.0_norm_total", total}, {"train/grad_2.0_norm/fc1.weight", first},
       {"train/grad_2.0_norm/out.weight", last}}));
  CHECK(d.roles.grad_norm == "train/grad_2.0_norm_total");
  const auto& s = get(d, "vanishing_gradient");
  CHECK(s.metric == "train/grad_2.0_norm/fc1.weight");
  CHECK(s.step_start <= 40);
}

TEST_CASE("overfitting: the training loss at the best validation step is its level there, not a wider window's",
          "[diagnose][overfitting]") {
  // The validation loss is best at step 299 and climbs from there (+260%).
  // The training loss stands at 0.024 around step 299 (from 280 to 320, a
  // bump between 0.015 before and 0.012 after) and ends at 0.025: no rise
  // (1.04x its level at the best). Its median over the evaluations either
  // side of the best (steps 199-399) is the 0.015 and 0.012 around the bump
  // and would call it rising (1.7x).
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(0.0, 1.0);
  auto level = [](int i) {
    if (i < 199) return 0.015 + 0.685 * std::exp(-i / 30.0);
    if (i < 280) return 0.015;
    if (i < 320) return 0.024;
    if (i < 420) return 0.012;
    if (i < 500) return 0.012 + 0.010 * (i - 420) / 80.0;
    return 0.022 + 0.003 * std::min(1.0, (i - 500) / 100.0);
  };
  std::vector<double> train;
  for (int i = 0; i < 800; ++i) train.push_back(level(i) * std::exp(0.1 * z(rng)));
  gradcheck::logs::Run run = realistic::run_of({{"loss", train}});
  gradcheck::logs::Series val{"val_loss", {}, {}};
  const std::vector<double> evals{0.30, 0.033, 0.024, 0.024, 0.031, 0.041, 0.052, 0.088};
  for (std::size_t k = 0; k < evals.size(); ++k) {
    val.steps.push_back(99 + 100 * static_cast<std::int64_t>(k));
    val.values.push_back(evals[k]);
  }
  run.series.push_back(val);
  const auto d = diagnose(run);
  const auto& s = get(d, "overfitting");
  CHECK(s.step_start == 299);
  CHECK_THAT(s.evidence, Catch::Contains("while the training loss went from"));
}

TEST_CASE("spike: a loss whose first point lies below all the rest still has its later spikes found",
          "[diagnose][spike]") {
  // A critic's loss starts at 0.4 (no returns yet), jumps to 31 in its first
  // epochs, settles near 2, and jumps 10x for eight epochs at 183. The early
  // jump's band is that first point alone: every later point stands above it,
  // which must not make the rest of the run one jump.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> loss{0.4, 8, 20, 31, 12};
  for (int i = 5; i < 250; ++i) {
    const double base = 2.0 + 8.0 * std::exp(-(i - 5) / 8.0);
    const double jump = i >= 183 && i < 191 ? 9.0 : 1.0;
    loss.push_back(base * jump * std::exp(0.08 * z(rng)));
  }
  const auto d = diagnose(realistic::run_of({{"loss", loss}}));
  const auto& s = get(d, "spike");
  CHECK(s.step_start == 183);
  CHECK_THAT(s.evidence, Catch::Contains("1 spike") && Catch::Contains("1 more in the first 5.0%"));
}

TEST_CASE("vanishing gradient: a layer that dies late in a run that blew up is the blow-up's consequence",
          "[diagnose][vanishing_gradient]") {
  // A learning rate raised until the loss blows up: the first layer's
  // gradient becomes exactly zero from 60% of the run on (dead units), under
  // half of the logged points. Dying from 40% on, it is over half of them.
  auto run_dying_at = [](int dies) {
    std::vector<double> loss, total, first, last;
    for (int i = 0; i < 400; ++i) {
      loss.push_back(i < 200 ? 1.0 - 0.001 * i : 0.8 * std::exp(0.03 * (i - 200)));
      total.push_back(0.5 + 0.001 * i);
      first.push_back(i < dies ? 0.05 : 0.0);
      last.push_back(0.3);
    }
    return diagnose(realistic::run_of(
        {{"loss", loss}, {"grad_norm", total}, {"grad_norm_layer0", first}, {"grad_norm_layer1", last}}));
  };
  const auto late = run_dying_at(240);
  CHECK(has(late, "divergence"));
  CHECK_FALSE(has(late, "vanishing_gradient"));
  const auto early = run_dying_at(160);
  CHECK(has(early, "vanishing_gradient"));
}

TEST_CASE("plateau: minibatch losses that scatter widely around a level they never leave are judged from the "
          "median of the run's first 5%, not of its first few batches",
          "[diagnose][plateau]") {
  // Logistic regression from a random initialisation, batches of 4, a rate
  // (1e-5) far too low to move it in 360 steps: the batch losses scatter over
  // an order of magnitude around one level. The median of the first 7 of them
  // (2% of the run) lies as often among the highs as among the lows; from a
  // high one the smoothed loss seems to fall 10%. Found in 17 of these 20
  // runs (10 when the start was the first 2%'s median).
  auto at_rate = [](std::uint64_t seed, double rate) {
    const auto data = realistic::two_blobs(seed);
    const auto t = realistic::logistic_regression(data, 360, 16, seed, [rate](int) { return rate; }, false, 0.3);
    return diagnose(realistic::run_of({{"train_loss", t.loss}}));
  };
  int plateaus = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = at_rate(seed, 1e-5);
    INFO("seed " << seed << "\n" << kinds(d));
    if (has(d, "plateau")) {
      ++plateaus;
      CHECK(get(d, "plateau").step_start == 0);
    }
  }
  CHECK(plateaus >= 16);
  // The same runs at a rate that learns (0.05): the loss falls over the first
  // tenth of the run, a trend in its first 5%, and the start stays the
  // first batches' level.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = at_rate(seed, 0.05);
    INFO("seed " << seed << "\n" << kinds(d));
    CHECK_FALSE(has(d, "plateau"));
  }
}

TEST_CASE("plateau: a loss held at one level for the whole run but its last few points made no progress, whatever "
          "the trend test makes of that last drop",
          "[diagnose][plateau]") {
  // 48 points scattering by 5% around 1.0, the last 3 around 0.8: the
  // smoothed loss ends 10% below its start only in those 3 points, which tip
  // Mann-Kendall's test over the whole run towards a downward trend. Found in
  // 19 of these 20 runs (13 when the trend test had the last word).
  int plateaus = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const auto d = diagnose(held_with_dip(seed, 45, 48));
    INFO("seed " << seed << "\n" << kinds(d));
    if (has(d, "plateau")) ++plateaus;
  }
  CHECK(plateaus >= 18);
}

TEST_CASE("roles: a GAN's generator and discriminator losses, in the usual namings", "[diagnose][roles][gan]") {
  using gradcheck::logs::recognise_roles;
  const std::vector<double> v{1, 2, 3};
  struct Case {
    std::vector<std::string> columns;
    std::string generator, discriminator;
  };
  const std::vector<Case> cases = {
      {{"d_a", "g_a", "cycle_a", "idt_a", "d_b", "g_b", "cycle_b", "idt_b"}, "g_a", "d_a"},  // CycleGAN
      {{"g_gan", "g_l1", "d_real", "d_fake"}, "g_gan", "d_real"},                              // pix2pix
      {{"loss_d", "loss_g"}, "loss_g", "loss_d"},                    // the DCGAN example, printed
      {{"errD", "errG", "D_x", "D_G_z1"}, "errG", "errD"},
      {{"epoch", "d_loss", "acc.", "g_loss"}, "g_loss", "d_loss"},  // Keras-GAN, printed
      {{"Loss/G/loss", "Loss/D/loss", "Loss/G/reg"}, "Loss/G/loss", "Loss/D/loss"},  // StyleGAN stats.jsonl
      {{"Loss/Generator", "Loss/Discriminator"}, "Loss/Generator", "Loss/Discriminator"},
      {{"generator_loss", "critic_loss", "gradient_penalty"}, "generator_loss", "critic_loss"},  // WGAN-GP
  };
  for (const auto& c : cases) {
    gradcheck::logs::Run run;
    for (const auto& name : c.columns) run.series.push_back({name, {0, 1, 2}, v});
    const auto roles = recognise_roles(run);
    INFO(c.columns.front());
    CHECK(roles.loss == c.generator);
    CHECK(roles.discriminator_loss == c.discriminator);
    CHECK_FALSE(roles.critic);
  }
  // A reinforcement-learning log's critic stays a critic; a plain loss beside
  // a series named `d` is no GAN.
  gradcheck::logs::Run rl;
  for (const char* name : {"train/actor_loss", "train/critic_loss", "rollout/ep_rew_mean"}) rl.series.push_back({name, {0, 1, 2}, v});
  CHECK(recognise_roles(rl).critic);
  CHECK(recognise_roles(rl).discriminator_loss.empty());
  gradcheck::logs::Run plain;
  for (const char* name : {"loss", "d", "val_loss"}) plain.series.push_back({name, {0, 1, 2}, v});
  CHECK(recognise_roles(plain).loss == "loss");
  CHECK(recognise_roles(plain).discriminator_loss.empty());
}

TEST_CASE("GAN: a balanced run is healthy, a discriminator that wins is divergence on the generator's loss, a "
          "blow-up and NaN are reported",
          "[diagnose][gan]") {
  const std::string data = std::string(GRADCHECK_SOURCE_DIR) + "/tests/logs/data/gan/";
  // Balanced Adam rates: the losses hover (the generator's drifts up from
  // 0.68 to 0.85 as its discriminator learns): healthy, with a note on how a
  // GAN is read. Judged as a plain training loss, the generator's climb was
  // a divergence.
  {
    const auto d = diagnose(gradcheck::logs::read_log(data + "pix2pix_loss_log.txt"));
    INFO(kinds(d));
    CHECK(d.symptoms.empty());
    CHECK(std::any_of(d.notes.begin(), d.notes.end(),
                      [](const std::string& n) { return n.find("generative adversarial network") != std::string::npos; }));
    CHECK(std::any_of(d.curves.begin(), d.curves.end(), [](const auto& c) { return c.role == "discriminator_loss"; }));
  }
  // The discriminator at 10x the rate with 5 steps a generator step: its
  // loss goes from 1.27 to about 0 within the first points while the
  // generator's climbs to 20.
  {
    const auto d = diagnose(gradcheck::logs::read_log(data + "dcgan_d_wins.log"));
    INFO(kinds(d));
    REQUIRE(d.symptoms.size() == 1);
    CHECK(get(d, "divergence").metric == "loss_g");
    CHECK(get(d, "divergence").severity == gradcheck::diag::Severity::error);
    CHECK(get(d, "divergence").step_start <= 10);
    CHECK_THAT(get(d, "divergence").evidence, Catch::Contains("the discriminator won"));
    CHECK_THAT(get(d, "divergence").advice, Catch::Contains("discriminator"));
  }
  // SGD at a rate of 1.0: the losses climb by orders of magnitude and turn NaN.
  {
    const auto d = diagnose(gradcheck::logs::read_log(data + "gan_nan.csv"));
    INFO(kinds(d));
    CHECK(get(d, "nan").step_start == 13);
    CHECK_THAT(get(d, "divergence").evidence, Catch::Contains("blew up"));
  }
  // A generator's loss that drifts up 2.5x while its discriminator's falls
  // to 30% of its start (it learns; it does not win): no symptom. The same
  // generator's loss climbing 30x: a blow-up. Minibatch noise of 10%.
  for (const double climb : {2.5, 30.0}) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> z;
    std::vector<double> g, dl;
    for (int i = 0; i < 400; ++i) {
      const double t = i / 399.0;
      g.push_back(0.7 * std::pow(climb, t) * std::exp(0.1 * z(rng)));
      dl.push_back(1.38 * (1 - 0.7 * t) * std::exp(0.1 * z(rng)));
    }
    const auto d = diagnose(realistic::run_of({{"loss_G", g}, {"loss_D", dl}}, 10));
    INFO("climb " << climb << "\n" << kinds(d));
    if (climb < 10) {
      CHECK(d.symptoms.empty());
    } else {
      REQUIRE(d.symptoms.size() == 1);
      CHECK_THAT(get(d, "divergence").evidence, Catch::Contains("loss_G blew up"));
      // (2x its start from about a fifth of the run: 30^t = 2 at t = 0.2)
      CHECK(std::abs(static_cast<double>(get(d, "divergence").step_start) - 0.2 * 3990) <= 0.1 * 3990);
    }
  }
}

TEST_CASE("divergence: the onset is where the curve as a person sees it leaves its bottom for good, not where a "
          "wider running median blurs it",
          "[diagnose][divergence][onset]") {
  // A learning rate warmed up past what the model takes, logged once an
  // epoch (24 epochs of 25 steps; the generated corpus's divergence-6017):
  // the loss falls to 0.18-0.24, bumps up to 0.39-0.58, is back at 0.32 at
  // step 524 and then blows up to 2.1. The curve as seen (a running median
  // over 5% of the points: the points themselves here) last touches its
  // bottom at step 524; a running median over 10% of them (3 points) hid
  // that return and put the onset at step 299.
  const std::vector<double> loss{0.436,  0.3804, 0.3281, 0.2996, 0.2329, 0.2526, 0.1777, 0.2276,
                                 0.237,  0.2214, 0.2004, 0.2231, 0.3902, 0.4899, 0.4453, 0.2807,
                                 0.4608, 0.5822, 0.3861, 0.4244, 0.3158, 0.668,  1.477,  2.115};
  gradcheck::logs::Run run;
  gradcheck::logs::Series s{"loss", {}, loss};
  for (std::size_t i = 0; i < loss.size(); ++i) s.steps.push_back(24 + 25 * static_cast<std::int64_t>(i));
  run.series.push_back(s);
  const auto d = diagnose(run);
  INFO(kinds(d));
  CHECK(get(d, "divergence").step_start == 524);
}

TEST_CASE("GAN: the rules read the points as logged, not the buckets of a long log's trend view",
          "[diagnose][gan]") {
  // A real pix2pix log (the benchmark's public logs, BSD-2-Clause:
  // tools/bench/convdiag/public/SOURCES.md), 630 lines: D_real's first value
  // 0.209, then 0.02-0.05 with spikes to 4.3, ending near 0.003 while G_GAN
  // doubles. Its start is that first value; on buckets of two lines (a
  // 400-point trend view) the first bucket's median hid it, and spikes
  // averaged into their buckets lifted the curve: no win was seen.
  const auto d = diagnose(gradcheck::logs::read_log(std::string(GRADCHECK_SOURCE_DIR) +
                                                    "/tools/bench/convdiag/public/mmpoke-clean/loss_log.txt"));
  INFO(kinds(d));
  CHECK_THAT(get(d, "divergence").evidence, Catch::Contains("the discriminator won"));
  CHECK(std::abs(get(d, "divergence").step_start - 366) <= 63);  // the labelled onset, within 10% of the run
}
