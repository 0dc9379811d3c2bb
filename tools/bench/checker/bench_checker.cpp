// bench_checker: what checking a plugin costs, measured side by side in one
// run (tools/bench/README.md):
//   overhead  full mode's wall time on one thread / (evaluations x one loss
//             evaluation's time), the loss timed on the same CPU during the run;
//   speed-up  one thread's wall / two threads', beside the model's own scaling;
//   cost      evaluations per checked coordinate of the default method;
//   fast      fast mode on a 200k-value model with one tensor's gradient off by
//             x1.001: is that tensor (and only it) found, and with what share of
//             the evaluations full mode needs (at least 2 per value)?
// Prints Markdown; exits 1 when a target of issue 3 is missed, 2 on bad input.

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"

#include "gradcheck/errors.hpp"
#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/plugin.h"
#include "gradcheck/host/loader.hpp"
#include "gradcheck/version.hpp"

namespace {

// The speed-up of a short check is judged on alternated 1- and 2-thread
// pairs summing at least this much one-thread wall, at most kMaxPairs pairs.
constexpr double kPairSeconds = 4.0;
constexpr int kMaxPairs = 15;

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string plugin = GRADCHECK_BENCH_PLUGIN;
  bool quick = false;  // the test suite's run: the 10k model only, fewer coordinates
  std::int64_t max_per_tensor_100k = 1000;
  int repeats = 5;  // each figure is the median over this many runs
  std::string output;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Times calls of a model's own loss() (no gradient) through the raw ABI in
// this process: the denominator of the overhead ratio.
class LossTimer {
 public:
  LossTimer(const gradcheck::host::Plugin& plugin, const std::string& model) : plugin_(plugin), model_(model) {
    const std::size_t index = plugin.find(model);
    d_ = plugin.descriptor(index);
    const std::size_t width = d_->dtype == GRADCHECK_F32 ? sizeof(float) : sizeof(double);
    for (const auto& t : plugin.models()[index].tensors) {
      storage_.emplace_back(static_cast<std::size_t>(t.count) * width);
      values_.push_back(storage_.back().data());
    }
    instance_ = d_->create(0);
    if (instance_ == nullptr || d_->init(instance_, values_.data()) != 0)
      throw gradcheck::InputError(plugin.path(), "model '" + model + "' failed to create or init");
    cvalues_.assign(values_.begin(), values_.end());
    for (int i = 0; i < 20; ++i) call();  // warm caches and the allocator
  }
  ~LossTimer() {
    if (instance_ != nullptr) d_->destroy(instance_);
  }
  LossTimer(const LossTimer&) = delete;
  LossTimer& operator=(const LossTimer&) = delete;

  /// Seconds per call over one batch of at least 50 ms.
  double batch() {
    const auto t0 = Clock::now();
    std::int64_t calls = 0;
    do {
      for (int i = 0; i < 10; ++i) call();
      calls += 10;
    } while (seconds_since(t0) < 0.05);
    return seconds_since(t0) / static_cast<double>(calls);
  }

 private:
  void call() {
    if (d_->loss(instance_, cvalues_.data(), &loss_, nullptr) != 0)
      throw gradcheck::InputError(plugin_.path(), "model '" + model_ + "' failed in loss()");
  }
  const gradcheck::host::Plugin& plugin_;
  std::string model_;
  const gradcheck_model* d_ = nullptr;
  std::vector<std::vector<unsigned char>> storage_;
  std::vector<void*> values_;
  std::vector<const void*> cvalues_;
  void* instance_ = nullptr;
  double loss_ = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// Pins the calling thread (and what it forks) to one CPU, and restores its
// affinity on destruction.
// Pins the calling thread to `cpu`; false when the system refuses.
bool pin_thread_to(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof one, &one) == 0;
}

class PinnedToOneCpu {
 public:
  PinnedToOneCpu() {
    if (sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
    for (cpu_ = 0; cpu_ < CPU_SETSIZE && !CPU_ISSET(cpu_, &saved_); ++cpu_) {
    }
    pinned_ = pin_thread_to(cpu_);
  }
  ~PinnedToOneCpu() {
    if (pinned_) sched_setaffinity(0, sizeof saved_, &saved_);
  }
  PinnedToOneCpu(const PinnedToOneCpu&) = delete;
  PinnedToOneCpu& operator=(const PinnedToOneCpu&) = delete;
  int cpu() const { return cpu_; }

 private:
  cpu_set_t saved_{};
  int cpu_ = 0;
  bool pinned_ = false;
};

// Runs `work` (a one-thread check, whose child inherits the pinning) and a
// thread timing the loss in batches on the same CPU, and returns the median
// batch (at least 3). Sharing one CPU, both are slowed alike and see the same
// machine: this VM's speed per CPU drifts by up to 50% within seconds (the
// same loop timed at 62 and at 93 us a call), so a loss timed before, after,
// or on the other CPU measures another machine. Both wall times are about
// doubled by the sharing; their ratio is not.
template <class Work>
double time_loss_on_same_cpu(const gradcheck::host::Plugin& plugin, const std::string& model, Work&& work) {
  LossTimer timer(plugin, model);
  PinnedToOneCpu pin;
  std::atomic<bool> done{false};
  std::vector<double> batches;
  std::thread t([&] {
    pin_thread_to(pin.cpu());
    while (!done.load() || batches.size() < 3) batches.push_back(timer.batch());
  });
  try {
    work();
  } catch (...) {
    done = true;
    t.join();
    throw;
  }
  done = true;
  t.join();
  return median(batches);
}

// The model's own scaling on two threads, without the checker: two threads
// calling loss() on instances of their own do 2 x t_alone / t_together times
// the work of one. The ceiling of the checker's speed-up on this machine (two
// CPUs that share caches and memory bandwidth, on a host shared with others);
// alone and together are alternated, and the median ratio kept.
double own_scaling(const gradcheck::host::Plugin& plugin, const std::string& model, int rounds) {
  LossTimer a(plugin, model), b(plugin, model);
  std::vector<double> scaling;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> alone;
    for (int k = 0; k < 3; ++k) alone.push_back(a.batch());
    std::vector<double> ta, tb;
    std::thread other([&] {
      for (int k = 0; k < 3; ++k) tb.push_back(b.batch());
    });
    for (int k = 0; k < 3; ++k) ta.push_back(a.batch());
    other.join();
    scaling.push_back(2 * median(alone) / (0.5 * (median(ta) + median(tb))));
  }
  return median(scaling);
}

// User and system time of the children ended so far (the check's child is
// reaped before check_plugin returns).
double children_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Run {
  gradcheck::CheckResult result;
  double wall = 0;
  double cpu = 0;  // the child's CPU time
  std::int64_t coordinates = 0;
};

Run check(const BenchOptions& o, const std::string& model, gradcheck::host::Mode mode, int threads,
          std::int64_t max_per_tensor) {
  gradcheck::host::PluginCheckOptions options;
  options.models = {model};
  options.mode = mode;
  options.threads = threads;
  options.max_per_tensor = max_per_tensor;
  options.timeout_seconds = 600;
  const double cpu0 = children_cpu_seconds();
  const auto t0 = Clock::now();
  const auto report = gradcheck::host::check_plugin(o.plugin, options);
  Run run;
  run.wall = seconds_since(t0);
  run.cpu = children_cpu_seconds() - cpu0;
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
  bool sampled = false;  // per coordinate of a full check: --quick samples 300 a tensor
};

gradcheck::ExitCode run_bench(const BenchOptions& o) {
  using gradcheck::host::Mode;
  const gradcheck::host::Plugin plugin(o.plugin);
  std::string text;
  std::vector<Target> targets;

  // Overhead and cost: full mode, `repeats` times: the ratio from a one-thread
  // run sharing its CPU with the loss timer (time_loss_on_same_cpu), then the
  // speed-up from a one-thread and a two-thread run next to each other, both
  // unpinned. A check of a fraction of a second is judged on more pairs (at
  // least kPairSeconds of one-thread wall in all, at most kMaxPairs pairs):
  // one stall of the VM of 50 ms is a fifth of a 0.25 s two-thread run. The
  // CPUs kept busy on two threads (the child's CPU time over the wall) say
  // whether a shortfall is the checker's (a serial stretch leaves a CPU idle)
  // or the machine's (both busy, each slower). The table gives the medians
  // and the ranges.
  text += "## Full mode: overhead and cost\n\n"
          "| model | values | coordinates | evaluations | evals/coord | one loss | wall, 1 thread | "
          "ratio (target <= 1.15) | wall, 2 threads | speed-up (target >= 1.8) | CPU time, 2 threads / 1 | "
          "CPUs busy, 2 threads | the model's own 2-thread scaling | verdict |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  struct Case {
    std::string model;
    std::int64_t max_per_tensor;
  };
  std::vector<Case> cases = {{"mlp10k_f64", 0}, {"mlp10k_f32", 0}};
  if (!o.quick) {
    cases.push_back({"mlp100k_f64", o.max_per_tensor_100k});
    // Models of other designs: another activation (ReLU: kinks), another layer type (a convolution).
    for (const char* m : {"relu10k_f64", "relu10k_f32", "conv10k_f64", "conv10k_f32"}) cases.push_back({m, 0});
  }
  if (o.quick) cases = {{"mlp10k_f64", 300}, {"mlp10k_f32", 300}};
  std::string ranges;
  for (const auto& c : cases) {
    Run one, two;
    bool same = true;
    std::vector<double> losses, ratios, speedups, walls1, walls2, cpu_ratios, busy;
    const int repeats = o.quick ? 1 : o.repeats;
    int pairs = repeats;
    for (int r = 0; r < pairs; ++r) {
      if (r < repeats) {
        Run shared;
        const double t_loss = time_loss_on_same_cpu(
            plugin, c.model, [&] { shared = check(o, c.model, Mode::full, 1, c.max_per_tensor); });
        losses.push_back(t_loss);
        ratios.push_back(shared.wall / (static_cast<double>(shared.result.evaluations) * t_loss));
        if (r == 0) one = shared;  // every later run's results are compared with the first's
        same = same && same_results(one.result, shared.result);
      }
      const Run run1 = check(o, c.model, Mode::full, 1, c.max_per_tensor);
      const Run run2 = check(o, c.model, Mode::full, 2, c.max_per_tensor);
      same = same && same_results(one.result, run1.result) && same_results(one.result, run2.result);
      if (r == 0) {
        two = run2;
        if (!o.quick)
          pairs = std::clamp(static_cast<int>(std::ceil(kPairSeconds / std::max(run1.wall, 1e-3))), repeats,
                             std::max(repeats, kMaxPairs));
      }
      walls1.push_back(run1.wall);
      walls2.push_back(run2.wall);
      speedups.push_back(run1.wall / run2.wall);
      cpu_ratios.push_back(run2.cpu / run1.cpu);
      busy.push_back(run2.cpu / run2.wall);
    }
    const double ratio = median(ratios), speedup = median(speedups);
    one.wall = median(walls1);
    two.wall = median(walls2);
    // The loss shown is the median of the shared CPU's timings, halved: about
    // what one call costs on a CPU of its own.
    const double t_loss = median(losses) / 2;
    const double ceiling = own_scaling(plugin, c.model, o.quick ? 1 : o.repeats);
    const double cpu_ratio = median(cpu_ratios);
    ranges += format("- %s: ratio %.3f-%.3f over %zu runs, speed-up %.2f-%.2f over %zu pairs, CPUs busy %.2f-%.2f\n",
                     c.model.c_str(), *std::min_element(ratios.begin(), ratios.end()),
                     *std::max_element(ratios.begin(), ratios.end()), ratios.size(),
                     *std::min_element(speedups.begin(), speedups.end()),
                     *std::max_element(speedups.begin(), speedups.end()), speedups.size(),
                     *std::min_element(busy.begin(), busy.end()), *std::max_element(busy.begin(), busy.end()));
    const double per_coord = static_cast<double>(one.result.evaluations) / static_cast<double>(one.coordinates);
    std::int64_t values = 0;
    for (const auto& b : one.result.blocks) values += b.size;
    text += "| " + c.model + " | " + std::to_string(values) + " | " + std::to_string(one.coordinates) + " | " +
            std::to_string(one.result.evaluations) +
            format(" | %.2f | %.1f us | %.2f s | %.3f | %.2f s | %.2f | %.2f | %.2f | %.2f | ", per_coord, t_loss * 1e6,
                   one.wall, ratio, two.wall, speedup, cpu_ratio, median(busy), ceiling) +
            verdicts(one.result) + " |\n";
    targets.push_back({c.model + ": overhead ratio " + format("%.3f", ratio) + " <= 1.15", ratio <= 1.15, true});
    targets.push_back({c.model + ": 2 threads " + format("%.2f", speedup) + "x faster than 1 (>= 1.8)",
                       speedup >= 1.8, true});
    // Issue 16's cost targets: central differences need 2 evaluations a
    // coordinate, so f64 may spend 5% more (noise levels, host checks); f32's
    // table of up to 4 rows, 8.
    const bool f32 = c.model.ends_with("_f32");
    const double most = f32 ? 8.0 : 2.1;
    targets.push_back({c.model + ": " + format("%.2f", per_coord) + " evaluations a coordinate (<= " +
                           format("%.1f", most) + ")",
                       per_coord <= most, false, true});
    targets.push_back({c.model + ": identical results on 1 and 2 threads, every run", same});
    targets.push_back({c.model + ": a correct model passes", one.result.passed});
  }

  text += "\nRanges (each figure above is the median):\n\n" + ranges;

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
    const bool judged = !(o.quick && (t.timing || t.sampled));
    text += std::string("- ") +
            (t.met      ? "met: "
             : judged   ? "MISSED: "
             : t.timing ? "missed (timing, not judged in --quick): "
                        : "missed (not judged in --quick: its sample spreads the noise levels' fixed cost over fewer "
                          "coordinates): ") +
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
  app.add_option("--repeats", options.repeats,
                 "runs per timing; each figure is the median over them (default 5; --quick runs once)")
      ->check(CLI::Range(1, 100));
  app.add_option("--output", options.output, "also write the Markdown to FILE, atomically")->type_name("FILE");
  app.set_version_flag("--version", std::string("bench_checker ") + gradcheck::version_string);
  return gradcheck::tools::tool_main(app, "bench_checker", argc, argv, [&] { return run_bench(options); });
}
