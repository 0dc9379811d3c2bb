// bench_accuracy: the estimators' accuracy over a fixed set of smooth functions
// (tools/bench/README.md). Prints a Markdown table; exits 1 when one of issue
// 2's accuracy targets is missed, 2 on bad arguments.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"

#include "accuracy.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"

namespace {

struct BenchOptions {
  bool quick = false;
  int points = 9;
  double relative_step = 0;
  bool details = false;
  std::string output;
};

void setup_bench(CLI::App& app, BenchOptions& o) {
  app.add_flag("--quick", o.quick, "3 points per function instead of --points (for the test suite)");
  app.add_option("--points", o.points, "points per test function (default 9)");
  app.add_option("--relative-step", o.relative_step,
                 "initial step relative to max(|x|, 1) for every estimator (default 0: the checker's defaults)");
  app.add_flag("--details", o.details, "also list, per estimator, the largest errors and the errors above the bound");
  app.add_option("--output", o.output, "also write everything printed (Markdown) to FILE, atomically")->type_name("FILE");
  app.set_version_flag("--version", std::string("bench_accuracy ") + gradcheck::version_string);
}

gradcheck::ExitCode run_bench(const BenchOptions& o) {
  namespace b = gradcheck::bench;
  b::AccuracyOptions options;
  options.points_per_function = o.quick ? 3 : o.points;
  options.relative_step = o.relative_step;
  std::string why;
  if (!options.is_valid(&why)) throw gradcheck::InputError("", why);

  const b::AccuracyResult result = b::run_accuracy(options);
  const auto targets = b::check_targets(result);
  std::string text = b::render_markdown(result) + "\nTargets (issue 2):\n\n" + b::render_targets(targets);
  if (o.details) text += b::render_details(result);
  // The file first: when it cannot be written, nothing is printed and the exit is 2.
  if (!o.output.empty()) gradcheck::write_file_atomically(o.output, text);
  std::fputs(text.c_str(), stdout);

  bool all_met = true;
  for (const auto& t : targets) {
    if (t.met) continue;
    all_met = false;
    std::fprintf(stderr, "bench_accuracy: target missed: %s (measured %.2e)\n", t.description.c_str(), t.value);
  }
  return all_met ? gradcheck::ExitCode::ok : gradcheck::ExitCode::problem;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_accuracy: accuracy of the finite-difference estimators on smooth functions"};
  BenchOptions options;
  setup_bench(app, options);
  return gradcheck::tools::tool_main(app, "bench_accuracy", argc, argv, [&] { return run_bench(options); });
}
