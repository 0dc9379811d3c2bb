#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "gradcheck/errors.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"
#include "st_writer.hpp"

using namespace gradcheck::weights;
using namespace st_test;

namespace {

const std::string kData = std::string(GRADCHECK_REAL_DATA_DIR) + "/weights/";

std::vector<float> he_init(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, float(scale * std::sqrt(2.0 / double(cols))));
  std::vector<float> v(std::size_t(rows * cols));
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<std::string> flags_of(const TensorReport& t) {
  std::vector<std::string> out;
  for (Flag f : t.flags) out.emplace_back(to_string(f));
  return out;
}

WeightsReport report_of(const std::vector<Tensor>& tensors, const std::string& name) {
  const fs::path dir = temp_dir("flags_" + name);
  write_safetensors(dir / "m.safetensors", tensors);
  return report_checkpoint(open_checkpoint((dir / "m.safetensors").string()));
}

const TensorReport& tensor(const WeightsReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  throw;
}

}  // namespace

TEST_CASE("healthy tensors raise no flag: zero bias, LayerNorm ones, He-initialised layers", "[flags]") {
  const auto r = report_of({f32("fc.bias", {64}, std::vector<float>(64, 0.0f)),
                            f32("ln.weight", {64}, std::vector<float>(64, 1.0f)),
                            f32("fc.weight", {64, 128}, he_init(64, 128, 1)),
                            f32("conv.weight", {16, 8, 3, 3}, he_init(16, 72, 2)),
                            {"steps", "I64", {}, bytes_of(std::vector<std::int64_t>{0})},
                            {"mask", "U8", {4, 4}, std::string(16, '\1')}},
                           "healthy");
  CHECK(r.passed());
  for (const auto& t : r.tensors) CHECK(flags_of(t).empty());
}

TEST_CASE("trained layers in real checkpoints raise no flag", "[flags][real]") {
  for (const char* f : {"dfdx-mnist.safetensors", "burn-multi-layer.safetensors", "mlx-lora-adapters.safetensors",
                        "hf-samples-overall.safetensors", "candle-csm-voices.safetensors", "fluent-mnist.safetensors",
                        "bogoai-model.safetensors", "burn-boolean.safetensors"}) {
    INFO(f);
    const auto r = report_checkpoint(open_checkpoint(kData + f));
    CHECK(r.passed());
  }
}

TEST_CASE("each flag fires on its case", "[flags]") {
  auto with_nan = he_init(8, 16, 3);
  with_nan[5] = NAN;
  auto with_inf = he_init(8, 16, 4);
  with_inf[7] = -INFINITY;
  auto rows = he_init(8, 16, 5);
  std::copy(rows.begin() + 16, rows.begin() + 32, rows.begin() + 6 * 16);
  auto big = he_init(8, 16, 6);
  big[3] = 1e5f;
  const auto r = report_of({f32("nan", {8, 16}, with_nan), f32("inf", {8, 16}, with_inf),
                            f32("zero", {8, 16}, std::vector<float>(128, 0.0f)),
                            f32("const", {8, 16}, std::vector<float>(128, 0.5f)),
                            f32("rows", {8, 16}, rows), f32("big", {8, 16}, big),
                            f32("hot", {8, 16}, he_init(8, 16, 7, 150.0)),
                            f32("tiny", {8, 16}, he_init(8, 16, 8, 1e-3)),
                            f32("nan_bias", {3}, {1.0f, NAN, 0.0f})},
                           "each");
  CHECK_FALSE(r.passed());
  CHECK(flags_of(tensor(r, "nan")) == std::vector<std::string>{"nan"});
  CHECK(flags_of(tensor(r, "inf")) == std::vector<std::string>{"inf"});
  CHECK(flags_of(tensor(r, "zero")) == std::vector<std::string>{"all_zero"});
  CHECK(flags_of(tensor(r, "const")) == std::vector<std::string>{"constant"});
  CHECK(flags_of(tensor(r, "rows")) == std::vector<std::string>{"identical_rows"});
  CHECK(tensor(r, "rows").evidence[0].find("rows 1 and 6") != std::string::npos);
  CHECK(flags_of(tensor(r, "big")) == std::vector<std::string>{"exploding"});
  CHECK(flags_of(tensor(r, "hot")) == std::vector<std::string>{"exploding"});
  CHECK(flags_of(tensor(r, "tiny")) == std::vector<std::string>{"vanishing_init_scale"});
  CHECK(flags_of(tensor(r, "nan_bias")) == std::vector<std::string>{"nan"});
  for (const auto& t : r.tensors) CHECK(t.evidence.size() == t.flags.size());
}

TEST_CASE("near-threshold scales do not flag, and short rows may repeat", "[flags]") {
  const auto r = report_of({f32("x10", {32, 64}, he_init(32, 64, 9, 10.0)),
                            f32("x005", {32, 64}, he_init(32, 64, 10, 0.05)),
                            f32("short", {4, 2}, {1, 2, 1, 2, 3, 4, 5, 6})},
                           "near");
  CHECK(r.passed());
}

TEST_CASE("the name filter keeps matching tensors and refuses a bad regex", "[flags][filter]") {
  const fs::path dir = temp_dir("filter");
  write_safetensors(dir / "m.safetensors", {f32("a.weight", {2}, {1, 2}), f32("a.bias", {2}, {1, 2}),
                                            f32("b.weight", {2}, {1, 2})});
  const Checkpoint ck = open_checkpoint((dir / "m.safetensors").string());
  ReportOptions o;
  o.filter = "weight$";
  CHECK(report_checkpoint(ck, o).tensors.size() == 2);
  o.filter = "(";
  REQUIRE_THROWS_AS(report_checkpoint(ck, o), gradcheck::InputError);
}

TEST_CASE("diff flags unchanged and large updates, and lists one-sided tensors", "[flags][diff]") {
  const fs::path dir = temp_dir("diff");
  const auto w = he_init(16, 32, 11);
  auto small = w;
  for (auto& x : small) x *= 1.01f;
  auto large = w;
  for (auto& x : large) x = -2.0f * x;
  write_safetensors(dir / "before.safetensors",
                    {f32("same", {16, 32}, w), f32("small", {16, 32}, w), f32("large", {16, 32}, w),
                     f32("gone", {2}, {1, 2}), f32("reshaped", {2, 2}, {1, 2, 3, 4}),
                     {"ids", "I64", {2}, bytes_of(std::vector<std::int64_t>{0, 1})}});
  write_safetensors(dir / "after.safetensors",
                    {f32("same", {16, 32}, w), f32("small", {16, 32}, small), f32("large", {16, 32}, large),
                     f32("new", {2}, {1, 2}), f32("reshaped", {4}, {1, 2, 3, 4}),
                     {"ids", "I64", {2}, bytes_of(std::vector<std::int64_t>{0, 1})}});
  const Checkpoint before = open_checkpoint((dir / "before.safetensors").string());
  const Checkpoint after = open_checkpoint((dir / "after.safetensors").string());
  WeightsReport r;
  add_diff(r, before, after);
  REQUIRE(r.diff.size() == 4);
  auto entry = [&](const std::string& n) -> const DiffEntry& {
    for (const auto& d : r.diff)
      if (d.name == n) return d;
    FAIL("no diff entry " << n);
    throw;
  };
  CHECK(entry("same").flags == std::vector<Flag>{Flag::unchanged});
  CHECK(entry("small").flags.empty());
  CHECK(entry("small").stats.rel_change == Approx(0.01).epsilon(1e-4));
  CHECK(entry("large").flags == std::vector<Flag>{Flag::large_update});
  CHECK(entry("large").stats.rel_change == Approx(3.0).epsilon(1e-6));
  CHECK(entry("ids").flags.empty());  // integer buffers are not trained
  CHECK(r.only_in_before == std::vector<std::string>{"gone"});
  CHECK(r.only_in_after == std::vector<std::string>{"new"});
  REQUIRE(r.shape_changed.size() == 1);
  CHECK(r.shape_changed[0].name == "reshaped");
  CHECK_FALSE(r.passed());
}

TEST_CASE("every flag round-trips through its name, and the names are the tools' contract's", "[flags]") {
  const std::vector<std::pair<Flag, std::string>> contract = {
      {Flag::nan, "nan"},
      {Flag::inf, "inf"},
      {Flag::all_zero, "all_zero"},
      {Flag::constant, "constant"},
      {Flag::identical_rows, "identical_rows"},
      {Flag::exploding, "exploding"},
      {Flag::vanishing_init_scale, "vanishing_init_scale"},
      {Flag::unchanged, "unchanged"},
      {Flag::large_update, "large_update"},
  };
  for (const auto& [flag, name] : contract) {
    CHECK(to_string(flag) == name);
    CHECK(flag_from_string(name) == flag);
    CHECK(flag_from_string(to_string(flag)) == flag);
  }
  CHECK_THROWS_AS(flag_from_string("NaN"), std::invalid_argument);
  CHECK_THROWS_AS(flag_from_string(""), std::invalid_argument);
  CHECK_THROWS_AS(flag_from_string("vanishing"), std::invalid_argument);
}

TEST_CASE("to_text gives the verdict line first and last, exit_code follows the flags", "[flags][render]") {
  const auto ok = report_of({f32("fc.weight", {64, 128}, he_init(64, 128, 1))}, "text_ok");
  const auto bad = report_of({f32("zero", {4, 4}, std::vector<float>(16, 0.0f))}, "text_bad");
  CHECK(exit_code(ok) == gradcheck::ExitCode::ok);
  CHECK(exit_code(bad) == gradcheck::ExitCode::problem);
  for (const auto* r : {&ok, &bad}) {
    const std::string verdict = verdict_line(*r);
    gradcheck::TextOptions quiet;
    quiet.quiet = true;
    CHECK(to_text(*r, quiet) == verdict + "\n");
    const std::string text = to_text(*r);
    CHECK(text.rfind(verdict + "\n", 0) == 0);
    CHECK(text.size() > 2 * verdict.size() + 2);
    CHECK(text.substr(text.size() - verdict.size() - 1) == verdict + "\n");
    CHECK(text.find('\x1b') == std::string::npos);
    gradcheck::TextOptions color;
    color.color = true;
    CHECK(to_text(*r, color).find('\x1b') != std::string::npos);
    // The coloured verdict line opens (in bold) and closes the coloured text.
    const std::string painted = verdict_line(*r, true);
    CHECK(painted != verdict);
    CHECK(to_text(*r, color).substr(to_text(*r, color).size() - painted.size() - 1) == painted + "\n");
  }
  CHECK(to_text(bad).find("all_zero: all 16 values are 0") != std::string::npos);
}

TEST_CASE("tensor_role: torch.optim's state.<index>.<key>, saved alone, under a key or by Lightning", "[flags][optimizer]") {
  for (const char* name : {"state.0.exp_avg", "optimizer.state.3.exp_avg_sq", "optimizer_states.0.state.12.momentum_buffer",
                           "opt.state.1.step", "state.0.max_exp_avg_sq", "state.7.square_avg"})
    CHECK(tensor_role(name) == TensorRole::optimizer_state);
  for (const char* name : {"fc1.weight", "state.0.weight", "encoder.state.x.exp_avg", "state.exp_avg", "exp_avg",
                           "model.state.0", "layers.0.step"})
    CHECK(tensor_role(name) == TensorRole::weight);
  CHECK(std::string(to_string(TensorRole::optimizer_state)) == "optimizer_state");
}

TEST_CASE("a training checkpoint written by torch.save: the optimizer's state is not a weight", "[flags][optimizer][real]") {
  for (const char* file : {"adam.pt", "sgd_momentum.pt"}) {
    INFO(file);
    const WeightsReport r =
        report_checkpoint(open_checkpoint(std::string(GRADCHECK_REAL_DATA_DIR) + "/torch_training/" + file));
    std::size_t weights = 0, state = 0;
    for (const auto& t : r.tensors) {
      INFO(t.name);
      const bool optimizer = t.name.rfind("optimizer.state.", 0) == 0;
      CHECK(t.role == (optimizer ? TensorRole::optimizer_state : TensorRole::weight));
      CHECK(t.flags.empty());
      (optimizer ? state : weights) += 1;
    }
    CHECK(weights == 4);
    CHECK(state == (std::string(file) == "adam.pt" ? 12u : 4u));
    CHECK(r.passed());
    const bool noted = to_text(r).find("12 tensors are an optimizer's state") != std::string::npos;
    CHECK(noted == (std::string(file) == "adam.pt"));
  }
}

TEST_CASE("a checkpoint alone says whether the learning rate is sane: the optimizer's last step over each weight",
          "[flags][optimizer][real]") {
  const std::string dir = std::string(GRADCHECK_REAL_DATA_DIR) + "/torch_training/";
  // Ratios recomputed independently with python3-torch from the same files
  // (torch.load, then lr * m_hat / (sqrt(v_hat) + eps), or lr * momentum_buffer).
  struct Case {
    const char* file;
    const char* kind;
    std::vector<double> ratios;
    std::optional<Flag> flag;
  };
  const Case cases[] = {
      {"adam.pt", "Adam", {0.0067, 0.0073, 0.0091, 0.012}, std::nullopt},
      {"sgd_momentum.pt", "SGD with momentum", {0.0083, 0.0069, 0.028, 0.017}, std::nullopt},
      {"adam_lr1.pt", "Adam", {}, Flag::update_ratio_high},
      {"sgd_lr1e-7.pt", "SGD with momentum", {}, Flag::update_ratio_low},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    const WeightsReport r = report_checkpoint(open_checkpoint(dir + c.file));
    REQUIRE(r.optimizers.size() == 1);
    const OptimizerReport& o = r.optimizers[0];
    CHECK(o.prefix == "optimizer");
    CHECK(o.kind == c.kind);
    REQUIRE(o.steps.size() == 4);
    const char* params[] = {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"};
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(o.steps[k].parameter == params[k]);
      CHECK(o.steps[k].state == "optimizer.state." + std::to_string(k));
      if (!c.ratios.empty()) CHECK(o.steps[k].update_ratio == Approx(c.ratios[k]).epsilon(0.08));
    }
    CHECK(r.passed() == !c.flag.has_value());
    for (const auto& t : r.tensors) {
      if (t.role != TensorRole::weight) {
        CHECK(t.flags.empty());
        continue;
      }
      INFO(t.name);
      if (c.flag) {
        REQUIRE(t.flags.size() == 1);
        CHECK(t.flags[0] == *c.flag);
        CHECK_THAT(t.evidence[0], Catch::Contains("last step, recomputed from optimizer.state."));
      } else {
        CHECK(t.flags.empty());
      }
    }
    const std::string text = to_text(r);
    CHECK_THAT(text, Catch::Contains(std::string("optimizer optimizer (") + c.kind));
    const auto j = nlohmann::json::parse(to_json(r));
    CHECK(j["optimizers"][0]["parameters"].size() == 4);
  }
  // A Lightning checkpoint: the optimizer under optimizer_states.0, the model under state_dict.
  const WeightsReport l = report_checkpoint(open_checkpoint(std::string(GRADCHECK_REAL_DATA_DIR) + "/torch_pickles/lightning.ckpt"));
  REQUIRE(l.optimizers.size() == 1);
  CHECK(l.optimizers[0].prefix == "optimizer_states.0");
  REQUIRE(l.optimizers[0].steps.size() == 4);
  CHECK(l.optimizers[0].steps[0].parameter == "state_dict.model.fc.weight");  // the buffer before it is skipped
  CHECK(l.optimizers[0].steps[3].parameter == "state_dict.model.head.1.bias");
}

TEST_CASE("optimizer state keeps the nan and inf flags, and only them", "[flags][optimizer]") {
  TensorReport t;
  t.name = "optimizer.state.0.exp_avg_sq";
  t.role = TensorRole::optimizer_state;
  t.shape = {32, 16};
  t.stats.count = 512;
  t.stats.finite_count = 511;
  t.stats.nan_count = 1;
  t.stats.std = 1e-7;
  t.stats.abs_max = 1e9;  // far beyond any weight's scale: not a weight flag here
  assign_flags(t, Thresholds{});
  REQUIRE(t.flags.size() == 1);
  CHECK(t.flags[0] == Flag::nan);
  t.role = TensorRole::weight;
  assign_flags(t, Thresholds{});
  CHECK(std::find(t.flags.begin(), t.flags.end(), Flag::exploding) != t.flags.end());
}
