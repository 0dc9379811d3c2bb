// weightstats: statistics and health flags for saved weights (see the tools'
// contract). Thin: options, parsing, one call into the library, exit codes.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"
#include "tool_output.hpp"

#include "gradcheck/errors.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"

namespace {

struct WeightstatsOptions {
  std::vector<std::string> files;
  std::vector<std::string> diff;  // BEFORE AFTER
  std::string filter;
  bool spectral = false;
  int threads = 0;
  gradcheck::tools::OutputOptions output;
};

void setup_weightstats(CLI::App& app, WeightstatsOptions& o) {
  app.add_option("FILE", o.files, "checkpoints: .safetensors, *.safetensors.index.json, .npy, .npz, torch.save zips (.pt, .pth, .bin, .ckpt), .onnx, Keras .h5 and .keras, .gguf");
  app.add_option("--diff", o.diff, "compare two checkpoints tensor by tensor")->expected(2)->type_name("BEFORE AFTER");
  app.add_option("--filter", o.filter, "only tensors whose name matches this regular expression (ECMAScript)");
  app.add_flag("--spectral", o.spectral, "spectral norm, stable rank, condition number, power-law alpha (rank >= 2)");
  app.add_option("--threads", o.threads, "worker threads (default: all cores); results do not depend on it")
      ->check(CLI::NonNegativeNumber);
  gradcheck::tools::add_output_options(app, o.output, "weightstats");
}

gradcheck::ExitCode run_weightstats(const WeightstatsOptions& o) {
  namespace w = gradcheck::weights;
  if (o.files.empty() && o.diff.empty())
    throw gradcheck::InputError("", "no checkpoint given (weightstats FILE... or --diff BEFORE AFTER)");
  gradcheck::tools::check_output_options(o.output);
  w::ReportOptions options;
  options.threads = o.threads;
  options.filter = o.filter;
  options.spectral = o.spectral;

  // The progress line (gradcheck::ProgressBar: terminal only, after a second),
  // drawn from the library's progress hook and erased before the report.
  gradcheck::ProgressBar bar;
  if (!o.output.quiet)
    options.progress = [&](std::string_view phase, std::int64_t done, std::int64_t total) {
      const std::string label =
          phase == w::progress_phase::comparing ? "comparing " + o.diff[0] + " and " + o.diff[1] : std::string(phase);
      bar.update(label, double(done) / double(total), std::to_string(done) + "/" + std::to_string(total) + " tensors");
    };
  auto open = [&](const std::string& path) {
    if (!o.output.quiet) bar.update("reading " + path, -1.0);
    return w::open_checkpoint(path);
  };
  w::Checkpoint all;
  for (const auto& f : o.files) all.append(open(f));
  w::Checkpoint before, after;
  if (!o.diff.empty()) {
    before = open(o.diff[0]);
    after = open(o.diff[1]);
  }
  // Without FILEs, the diff's AFTER checkpoint is the one described.
  w::WeightsReport report = w::report_checkpoint(o.files.empty() ? after : all, options);
  if (!o.diff.empty()) w::add_diff(report, before, after, options);
  bar.finish();
  // The page explains each flag with the thresholds the report was made with.
  return gradcheck::tools::write_reports(
      o.output, report, [&](const w::WeightsReport& r) { return w::to_html(r, options.thresholds); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weightstats: statistics and health flags for saved weights"};
  WeightstatsOptions options;
  setup_weightstats(app, options);
  return gradcheck::tools::tool_main(app, "weightstats", argc, argv, [&] { return run_weightstats(options); });
}
