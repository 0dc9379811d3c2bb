// bench_checker: what checking a plugin costs, measured side by side in one
// run (tools/bench/README.md):
//   overhead  full mode's wall time / (evaluations x one loss evaluation's time),
//             on one thread and on two (the speed-up of two threads);
//   cost      evaluations per checked coordinate of the default method;
//   fast      fast mode on a 200k-value model with one tensor's gradient off by
//             x1.001: is that tensor (and only it) found, and with what share of
//             the evaluations full mode needs (at least 2 per value)?
// Prints Markdown; exits 1 when a target of issue 3 is missed, 2 on bad input.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"

#include "gradcheck/errors.hpp"
#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/plugin.h"
#include "gradcheck/plugin_host.hpp"
#include "gradcheck/version.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string plugin = GRADCHECK_BENCH_PLUGIN;
  bool quick = false;  // the test suite's run: the 10k model only, fewer coordinates
  std::int64_t max_per_tensor_100k = 1000;
  int repeats = 3;  // each timing is the fastest of this many runs
  std::string output;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The time of one call of the model's own loss() (no gradient), through the
// raw ABI in this process: the denominator of the overhead ratio. The median
// of 7 batches, each at least 50 ms long.
double time_one_loss(const gradcheck::plugin::Plugin& plugin, const std::string& model) {
  const std::size_t index = plugin.find(model);
  const gradcheck_model* d = plugin.descriptor(index);
  const auto& info = plugin.models()[index];
  const std::size_t width = d->dtype == GRADCHECK_F32 ? sizeof(float) : sizeof(double);
  std::vector<std::vector<unsigned char>> storage;
  std::vector<void*> values;
  for (const auto& t : info.tensors) {
    storage.emplace_back(static_cast<std::size_t>(t.count) * width);
    values.push_back(storage.back().data());
  }
  void* instance = d->create(0);
  if (instance == nullptr || d->init(instance, values.data()) != 0)
    throw gradcheck::InputError(plugin.path(), "model '" + model + "' failed to create or init");
  const std::vector<const void*> cvalues(values.begin(), values.end());
  double loss = 0;
  auto call = [&] {
    if (d->loss(instance, cvalues.data(), &loss, nullptr) != 0)
      throw gradcheck::InputError(plugin.path(), "model '" + model + "' failed in loss()");
  };
  for (int i = 0; i < 20; ++i) call();  // warm caches and the allocator
  std::vector<double> per_call;
  for (int batch = 0; batch < 7; ++batch) {
    const auto t0 = Clock::now();
    std::int64_t calls = 0;
    do {
      for (int i = 0; i < 10; ++i) call();
      calls += 10;
    } while (seconds_since(t0) < 0.05);
    per_call.push_back(seconds_since(t0) / static_cast<double>(calls));
  }
  d->destroy(instance);
  std::nth_element(per_call.begin(), per_call.begin() + 3, per_call.end());
  return per_call[3];
}

struct Run {
  gradcheck::CheckResult result;
  double wall = 0;
  std::int64_t coordinates = 0;
};

Run check(const BenchOptions& o, const std::string& model, gradcheck::plugin::Mode mode, int threads,
          std::int64_t max_per_tensor) {
  gradcheck::plugin::PluginCheckOptions options;
  options.models = {model};
  options.mode = mode;
  options.threads = threads;
  options.max_per_tensor = max_per_tensor;
  options.timeout_seconds = 600;
  const auto t0 = Clock::now();
  const auto report = gradcheck::plugin::check_plugin(o.plugin, options);
  Run run;
  run.wall = seconds_since(t0);
  if (report.models.size() != 1 || report.user_code_failed())
    throw gradcheck::InputError(o.plugin, "model '" + model + "' could not be checked");
  run.result = report.models[0];
  for (const auto& b : run.result.blocks) run.coordinates += b.checked;
  return run;
}

std::string verdicts(const gradcheck::CheckResult& r) {
  std::string s;
  for (const auto& b : r.blocks) {
    if (b.verdict == gradcheck::Verdict::ok) continue;
    s += (s.empty() ? "" : ", ") + b.name + " " + gradcheck::to_string(b.verdict);
  }
  return s.empty() ? std::string("all ok") : s;
}

bool same_results(const gradcheck::CheckResult& a, const gradcheck::CheckResult& b) {
  if (a.evaluations != b.evaluations || a.blocks.size() != b.blocks.size()) return false;
  for (std::size_t i = 0; i < a.blocks.size(); ++i)
    if (a.blocks[i].verdict != b.blocks[i].verdict || a.blocks[i].max_rel_error != b.blocks[i].max_rel_error)
      return false;
  return true;
}

template <class... Args>
std::string format(const char* fmt, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

struct Target {
  std::string what;
  bool met;
  bool timing = false;  // a ratio of times: judged only in a full run (see --quick)
};

gradcheck::ExitCode run_bench(const BenchOptions& o) {
  using gradcheck::plugin::Mode;
  const gradcheck::plugin::Plugin plugin(o.plugin);
  std::string text;
  std::vector<Target> targets;

  // Overhead and cost: full mode, one thread then two, repeated; the loss is
  // timed before and after each repeat. Every figure is the fastest of its
  // runs: on a shared machine, interference only ever adds time. Taking the
  // fastest loss too is the conservative choice: it makes the ratio larger.
  text += "## Full mode: overhead and cost\n\n"
          "| model | values | coordinates | evaluations | evals/coord | one loss | wall, 1 thread | "
          "ratio (target <= 1.15) | wall, 2 threads | speed-up (target >= 1.8) | verdict |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  struct Case {
    std::string model;
    std::int64_t max_per_tensor;
  };
  std::vector<Case> cases = {{"mlp10k_f64", 0}, {"mlp10k_f32", 0}};
  if (!o.quick) cases.push_back({"mlp100k_f64", o.max_per_tensor_100k});
  if (o.quick) cases = {{"mlp10k_f64", 300}, {"mlp10k_f32", 300}};
  for (const auto& c : cases) {
    double t_loss = time_one_loss(plugin, c.model);
    Run one = check(o, c.model, Mode::full, 1, c.max_per_tensor);
    Run two = check(o, c.model, Mode::full, 2, c.max_per_tensor);
    bool same = same_results(one.result, two.result);
    for (int r = 1; r < (o.quick ? 1 : o.repeats); ++r) {
      t_loss = std::min(t_loss, time_one_loss(plugin, c.model));
      const Run again1 = check(o, c.model, Mode::full, 1, c.max_per_tensor);
      const Run again2 = check(o, c.model, Mode::full, 2, c.max_per_tensor);
      same = same && same_results(one.result, again1.result) && same_results(one.result, again2.result);
      one.wall = std::min(one.wall, again1.wall);
      two.wall = std::min(two.wall, again2.wall);
    }
    t_loss = std::min(t_loss, time_one_loss(plugin, c.model));
    const double ratio = one.wall / (static_cast<double>(one.result.evaluations) * t_loss);
    const double speedup = one.wall / two.wall;
    const double per_coord = static_cast<double>(one.result.evaluations) / static_cast<double>(one.coordinates);
    std::int64_t values = 0;
    for (const auto& b : one.result.blocks) values += b.size;
    text += "| " + c.model + " | " + std::to_string(values) + " | " + std::to_string(one.coordinates) + " | " +
            std::to_string(one.result.evaluations) + format(" | %.2f | %.1f us | %.2f s | %.3f | %.2f s | %.2f | ",
                                                            per_coord, t_loss * 1e6, one.wall, ratio, two.wall,
                                                            speedup) +
            verdicts(one.result) + " |\n";
    targets.push_back({c.model + ": overhead ratio " + format("%.3f", ratio) + " <= 1.15", ratio <= 1.15, true});
    targets.push_back({c.model + ": 2 threads " + format("%.2f", speedup) + "x faster than 1 (>= 1.8)",
                       speedup >= 1.8, true});
    targets.push_back({c.model + ": identical results on 1 and 2 threads, every run", same});
    targets.push_back({c.model + ": a correct model passes", one.result.passed});
  }

  // Fast mode on the 200k models: the planted x1.001 is found in fc1.weight
  // alone; the correct twin passes.
  if (!o.quick) {
    text += "\n## Fast mode on 200k values\n\n"
            "| model | values | evaluations | share of full mode's 2 per value (target <= 1%) | wall | verdict |\n"
            "|---|---:|---:|---:|---:|---|\n";
    for (const std::string model : {"mlp200k_fc1_weight_x1.001_f64", "mlp200k_f64"}) {
      const Run fast = check(o, model, Mode::fast, 1, 0);
      std::int64_t values = 0;
      for (const auto& b : fast.result.blocks) values += b.size;
      const double share = static_cast<double>(fast.result.evaluations) / (2.0 * static_cast<double>(values));
      text += "| " + model + " | " + std::to_string(values) + " | " + std::to_string(fast.result.evaluations) +
              format(" | %.3f%% | %.2f s | ", 100 * share, fast.wall) + verdicts(fast.result) + " |\n";
      const bool bugged = model.find("x1.001") != std::string::npos;
      if (bugged) {
        bool only_fc1 = true;
        for (const auto& b : fast.result.blocks)
          only_fc1 = only_fc1 && ((b.name == "fc1.weight") == (b.verdict == gradcheck::Verdict::mismatch));
        targets.push_back({model + ": fc1.weight, and only it, is a mismatch", only_fc1});
        targets.push_back({model + ": " + format("%.3f%%", 100 * share) + " of full mode's evaluations (<= 1%)",
                           share <= 0.01});
      } else {
        targets.push_back({model + ": the correct model passes in fast mode", fast.result.passed});
      }
    }
  }

  text += "\nTargets (issue 3):\n\n";
  bool all_met = true;
  for (const auto& t : targets) {
    const bool judged = !(o.quick && t.timing);
    text += std::string("- ") + (t.met ? "met: " : judged ? "MISSED: " : "missed (timing, not judged in --quick): ") +
            t.what + "\n";
    all_met = all_met && (t.met || !judged);
  }
  if (!o.output.empty()) gradcheck::write_file_atomically(o.output, text);
  std::fputs(text.c_str(), stdout);
  return all_met ? gradcheck::ExitCode::ok : gradcheck::ExitCode::problem;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_checker: overhead, cost per coordinate and fast-mode localisation of gradcheck"};
  BenchOptions options;
  app.add_option("--plugin", options.plugin, "the benchmark plugin (default: the one built with this program)");
  app.add_flag("--quick", options.quick,
               "the 10k models only, 300 coordinates per tensor, timing targets reported but not judged "
               "(for the test suite, which shares the machine)");
  app.add_option("--max-per-tensor-100k", options.max_per_tensor_100k,
                 "coordinates checked per tensor of the 100k model (default 1000; 0: all)");
  app.add_option("--repeats", options.repeats, "runs per timing; each figure is the fastest (default 3; --quick runs once)")
      ->check(CLI::Range(1, 100));
  app.add_option("--output", options.output, "also write the Markdown to FILE, atomically")->type_name("FILE");
  app.set_version_flag("--version", std::string("bench_checker ") + gradcheck::version_string);
  return gradcheck::tools::tool_main(app, "bench_checker", argc, argv, [&] { return run_bench(options); });
}
