// gradcheck: check a model plugin's gradients (see the tools' contract). Thin:
// options, parsing, one call into the library, exit codes.

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"
#include "tool_output.hpp"

#include "gradcheck/errors.hpp"
#include "gradcheck/host/plugin_check.hpp"
#include "gradcheck/output.hpp"

namespace {

namespace gp = gradcheck::host;

struct GradcheckOptions {
  std::string plugin;
  bool list = false;
  std::vector<std::string> models;
  std::uint64_t seed = 0;
  std::string mode = "auto";
  std::int64_t max_per_tensor = 0;
  std::string weights;
  double rtol = -1;
  double atol = -1;
  double timeout = 60;
  int threads = 0;
  std::size_t memory_limit_mb = 0;
  gradcheck::tools::OutputOptions output;
};

void setup_gradcheck(CLI::App& app, GradcheckOptions& o) {
  app.add_option("PLUGIN", o.plugin, "the model plugin (a shared library exporting gradcheck_plugin_models)")
      ->required();
  app.add_flag("--list", o.list, "list the plugin's models (name, dtype, tensors, value count) and exit");
  app.add_option("-m,--model", o.models, "check only this model (repeatable); default: every model");
  app.add_option("--seed", o.seed, "seed passed to create() and of every random draw (default 0)");
  app.add_option("--mode", o.mode, "auto (default): full up to 20000 values, fast above; full: every coordinate; "
                                   "fast: random directional derivatives per tensor")
      ->check(CLI::IsMember({"auto", "full", "fast"}));
  app.add_option("--max-per-tensor", o.max_per_tensor, "full mode: compare a seeded sample of N coordinates per tensor")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--weights", o.weights, "start from these values (tensors matched by name, shapes checked)");
  app.add_option("--rtol", o.rtol, "relative tolerance, replacing the self-calibrated one")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--atol", o.atol, "absolute tolerance, replacing the self-calibrated one")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", o.timeout, "seconds one call into the model may take (default 60)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "worker threads, one model instance each (default: all cores); "
                                         "results do not depend on it")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory-limit", o.memory_limit_mb, "address-space limit of the model's process, in MiB (0: none)");
  gradcheck::tools::add_output_options(app, o.output, "gradcheck");
}

gradcheck::ExitCode run_gradcheck(const GradcheckOptions& o) {
  gradcheck::tools::check_output_options(o.output);
  if (o.list) {
    const auto models = gp::list_models(o.plugin, o.timeout);
    std::fputs(gp::models_listing(models).c_str(), stdout);
    return gradcheck::ExitCode::ok;
  }
  gp::PluginCheckOptions options;
  options.models = o.models;
  options.seed = o.seed;
  options.mode = gp::parse_mode(o.mode);
  options.max_per_tensor = o.max_per_tensor;
  options.weights = o.weights;
  options.rtol = o.rtol;
  options.atol = o.atol;
  options.timeout_seconds = o.timeout;
  options.threads = o.threads;
  options.memory_limit_bytes = o.memory_limit_mb << 20;

  // A progress line on a terminal only, once a check has run for a second;
  // erased before the report is printed. The total work of a model is not
  // known ahead, so the line counts evaluations rather than filling a bar.
  gradcheck::ProgressBar progress;
  if (!o.output.quiet)
    options.progress = [&progress](const std::string& model, std::int64_t evaluations, double seconds) {
      char detail[96];
      std::snprintf(detail, sizeof detail, "%lld evaluations, %.0f s", static_cast<long long>(evaluations), seconds);
      progress.update("checking " + model, -1, detail);
    };
  const gp::PluginReport report = gp::check_plugin(o.plugin, options);
  progress.finish();
  return gradcheck::tools::write_reports(o.output, report);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gradcheck: check a model plugin's gradients against finite differences"};
  GradcheckOptions options;
  setup_gradcheck(app, options);
  return gradcheck::tools::tool_main(app, "gradcheck", argc, argv, [&] {
    try {
      return run_gradcheck(options);
    } catch (const gradcheck::host::ModelError& e) {
      std::fprintf(stderr, "gradcheck: %s\n", gradcheck::escape_invalid_utf8(e.what()).c_str());
      return gradcheck::ExitCode::user_code;
    }
  });
}
