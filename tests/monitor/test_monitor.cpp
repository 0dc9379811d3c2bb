#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <unistd.h>

#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/monitor.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using namespace gradcheck::diag;

namespace {

std::string temp_path(const std::string& name) {
  return (gradcheck::test::scratch_root() / name).string();
}

// A seeded synthetic run: loss decays with multiplicative noise; update/weight
// ratio `ratio`; `tweak` may change a step's numbers.
template <class Tweak>
void feed(TrainingMonitor& m, int steps, double ratio, Tweak tweak) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> z;
  for (int i = 0; i < steps; ++i) {
    StepStats s;
    s.step = i;
    s.loss = (0.1 + 2.2 * std::exp(-i / 60.0)) * std::exp(0.1 * z(rng));
    if (i % 25 == 24) s.val_loss = 0.2 + 2.1 * std::exp(-i / 60.0);
    s.grad_norm = 1.0 * std::exp(0.2 * z(rng));
    s.lr = 0.01;
    s.tensors.push_back({"fc1.weight", 10.0, 10.0 * ratio * std::exp(0.1 * z(rng)), 0.5, std::numeric_limits<double>::quiet_NaN()});
    s.tensors.push_back({"fc2.weight", 5.0, 5.0 * ratio, 0.8, std::numeric_limits<double>::quiet_NaN()});
    // A bias that starts at zero: a huge ratio early on that must not alarm.
    s.tensors.push_back({"fc2.bias", 1e-3 * (i + 1), 1e-3, 0.1, std::numeric_limits<double>::quiet_NaN()});
    tweak(i, s);
    m.record(s);
  }
}

auto no_tweak = [](int, StepStats&) {};

std::string kinds(const TrainingMonitor& m) {
  std::string s;
  for (const auto& a : m.alerts()) s += a.kind + " " + a.subject + " @" + std::to_string(a.step) + ": " + a.message + "\n";
  return s;
}

}  // namespace

TEST_CASE("monitor: a healthy run raises nothing and its log reads back as a healthy run", "[monitor]") {
  const std::string log = temp_path("healthy.jsonl");
  {
    MonitorOptions o;
    o.log_path = log;
    TrainingMonitor m(o);
    feed(m, 400, 1e-3, no_tweak);
    INFO(kinds(m));
    CHECK(m.alerts().empty());
  }
  const auto run = gradcheck::logs::read_log(log);
  REQUIRE(run.find("loss") != nullptr);
  CHECK(run.find("loss")->size() == 400);
  CHECK(run.find("val_loss")->size() == 16);
  CHECK(run.find("update_ratio/fc1.weight") != nullptr);
  CHECK(run.find("grad_norm/fc2.weight") != nullptr);
  const auto d = diagnose(run);
  CHECK(d.roles.grad_norm == "grad_norm");
  CHECK(d.roles.tensor_grad_norms.size() == 3);
  INFO((d.symptoms.empty() ? std::string() : std::string(to_string(d.symptoms[0].kind)) + ": " + d.symptoms[0].evidence));
  CHECK(d.healthy());
}

TEST_CASE("monitor: NaN loss is reported at its step, once, and logged as a value", "[monitor]") {
  const std::string log = temp_path("nan.jsonl");
  {
    MonitorOptions o;
    o.log_path = log;
    o.warn = false;
    TrainingMonitor m(o);
    feed(m, 200, 1e-3, [](int i, StepStats& s) {
      if (i >= 150) s.loss = std::numeric_limits<double>::quiet_NaN();
    });
    REQUIRE(m.alerts().size() == 1);
    CHECK(m.alerts()[0].kind == "nan");
    CHECK(m.alerts()[0].step == 150);
  }
  const auto d = diagnose(gradcheck::logs::read_log(log));
  REQUIRE_FALSE(d.healthy());
  CHECK(d.symptoms[0].kind == gradcheck::diag::SymptomKind::nan);
  CHECK(d.symptoms[0].step_start == 150);
}

TEST_CASE("monitor: update/weight ratio far from 1e-3 either way", "[monitor]") {
  MonitorOptions o;
  o.warn = false;
  TrainingMonitor high(o);
  feed(high, 100, 0.5, no_tweak);
  INFO(kinds(high));
  REQUIRE(high.alerts().size() == 2);
  CHECK(high.alerts()[0].kind == "update_ratio_high");
  CHECK(high.alerts()[0].step == static_cast<std::int64_t>(o.ratio_window) - 1);
  TrainingMonitor low(o);
  feed(low, 100, 1e-7, no_tweak);
  CHECK(low.alerts().size() == 2);
  CHECK(low.alerts()[0].kind == "update_ratio_low");
}

TEST_CASE("monitor: divergence, exploding gradient and dead units", "[monitor]") {
  MonitorOptions o;
  o.warn = false;
  TrainingMonitor m(o);
  feed(m, 300, 1e-3, [](int i, StepStats& s) {
    if (i >= 200) s.loss = 0.5 * std::exp((i - 200) / 10.0);
    if (i == 250) s.grad_norm = 1e4;
    if (i >= 100) s.tensors[0].dead_fraction = 0.9;
  });
  INFO(kinds(m));
  REQUIRE(m.alerts().size() == 3);
  CHECK(m.alerts()[0].kind == "dead_units");
  CHECK(m.alerts()[0].step == 100);
  CHECK(m.alerts()[1].kind == "divergence");
  CHECK(m.alerts()[1].step > 200);
  CHECK(m.alerts()[1].step < 240);
  CHECK(m.alerts()[2].kind == "exploding_gradient");
  CHECK(m.alerts()[2].step == 250);
}

TEST_CASE("monitor: a log that cannot be created is an InputError naming it", "[monitor][errors]") {
  MonitorOptions o;
  o.log_path = "/nonexistent-dir/x.jsonl";
  REQUIRE_THROWS_AS(TrainingMonitor(o), gradcheck::InputError);
}

TEST_CASE("monitor: zero updates after a 100x learning rate killed the ReLUs are explained as dead units",
          "[monitor][update_ratio_low]") {
  // Steps 0-99 healthy; at step 100 the rate is raised 100x: two huge updates,
  // then the first layer's ReLUs are dead (its activations never positive), so
  // fc1 and fc2 get exactly zero gradient and stop moving; only the output bias
  // still learns.
  MonitorOptions o;
  o.warn = false;
  TrainingMonitor m(o);
  feed(m, 300, 1e-3, [](int i, StepStats& s) {
    s.tensors.push_back({"act1", std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::quiet_NaN(), i < 102 ? 0.05 : 1.0});
    if (i < 100) return;
    s.lr = 1.0;
    for (auto& t : s.tensors) {
      if (t.name == "act1" || t.name == "fc2.bias") continue;
      if (i < 102) {
        t.update_norm *= 100;
      } else {
        t.grad_norm = 0;
        t.update_norm = 0;
      }
    }
    s.loss = 1.0986 * (1 + 0.05 * std::sin(i));
  });
  INFO(kinds(m));
  bool explained = false;
  for (const auto& a : m.alerts()) {
    if (a.kind != "update_ratio_low") continue;
    CHECK(a.message.find("learning rate is probably too low") == std::string::npos);
    CHECK(a.message.find("it gets no gradient (its gradient norm is 0") != std::string::npos);
    CHECK(a.message.find("100% of the units of act1 are dead") != std::string::npos);
    CHECK(a.message.find("lower it, use LeakyReLU") != std::string::npos);
    explained = true;
  }
  CHECK(explained);
}

TEST_CASE("monitor: a tiny update ratio with healthy gradients is a learning rate too low, with vanished gradients "
          "it is not",
          "[monitor][update_ratio_low]") {
  MonitorOptions o;
  o.warn = false;
  TrainingMonitor low(o);
  feed(low, 100, 1e-7, no_tweak);
  INFO(kinds(low));
  REQUIRE_FALSE(low.alerts().empty());
  for (const auto& a : low.alerts()) {
    CHECK(a.kind == "update_ratio_low");
    CHECK(a.message.find("while its gradient is healthy") != std::string::npos);
    CHECK(a.message.find("the learning rate is probably too low") != std::string::npos);
  }
  // A deep sigmoid stack: fc1's gradient decays to 1e-6 of its start and its
  // updates with it; fc2's stays.
  TrainingMonitor vanishing(o);
  feed(vanishing, 200, 1e-3, [](int i, StepStats& s) {
    const double fade = std::pow(10.0, -6.0 * std::min(1.0, i / 100.0));
    s.tensors[0].grad_norm *= fade;
    s.tensors[0].update_norm *= fade;
  });
  INFO(kinds(vanishing));
  REQUIRE(vanishing.alerts().size() == 1);
  const auto& a = vanishing.alerts()[0];
  CHECK(a.subject == "fc1.weight");
  CHECK(a.message.find("its gradient vanished") != std::string::npos);
  CHECK(a.message.find("a larger learning rate cannot fix") != std::string::npos);
  CHECK(a.message.find("probably too low") == std::string::npos);
}
