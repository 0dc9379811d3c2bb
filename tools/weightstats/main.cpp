// weightstats: statistics and health flags for saved weights (see the tools'
// contract). Thin: options, parsing, one call into the library, exit codes.

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"

#include "gradcheck/errors.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"
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
  std::string json_path;
  std::string html_path;
  bool quiet = false;
  bool no_color = false;
};

void setup_weightstats(CLI::App& app, WeightstatsOptions& o) {
  app.add_option("FILE", o.files, "checkpoints: .safetensors, *.safetensors.index.json, .npy, .npz, torch.save zips (.pt, .pth, .bin)");
  app.add_option("--diff", o.diff, "compare two checkpoints tensor by tensor")->expected(2)->type_name("BEFORE AFTER");
  app.add_option("--filter", o.filter, "only tensors whose name matches this regular expression (ECMAScript)");
  app.add_flag("--spectral", o.spectral, "spectral norm, stable rank, condition number, power-law alpha (rank >= 2)");
  app.add_option("--threads", o.threads, "worker threads (default: all cores); results do not depend on it")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--json", o.json_path, "write the JSON report to FILE ('-' for standard output)");
  app.add_option("--html", o.html_path, "write a self-contained HTML report to FILE");
  app.add_flag("--quiet", o.quiet, "print only the verdict line");
  app.add_flag("--no-color", o.no_color, "no ANSI colour");
  app.set_version_flag("--version", std::string("weightstats ") + gradcheck::version_string);
}

gradcheck::ExitCode run_weightstats(const WeightstatsOptions& o) {
  namespace w = gradcheck::weights;
  if (o.files.empty() && o.diff.empty())
    throw gradcheck::InputError("", "no checkpoint given (weightstats FILE... or --diff BEFORE AFTER)");
  if (!o.html_path.empty())
    throw gradcheck::InputError(o.html_path, "--html is not yet supported by weightstats (use --json)");
  w::ReportOptions options;
  options.threads = o.threads;
  options.filter = o.filter;
  options.spectral = o.spectral;

  w::Checkpoint all;
  for (const auto& f : o.files) all.append(w::open_checkpoint(f));
  w::Checkpoint before, after;
  if (!o.diff.empty()) {
    before = w::open_checkpoint(o.diff[0]);
    after = w::open_checkpoint(o.diff[1]);
  }
  // Without FILEs, the diff's AFTER checkpoint is the one described.
  w::WeightsReport report = w::report_checkpoint(o.files.empty() ? after : all, options);
  if (!o.diff.empty()) w::add_diff(report, before, after, options);

  if (!o.json_path.empty()) gradcheck::write_file_atomically(o.json_path, w::render_json(report, gradcheck::version_string));
  // With the JSON on standard output, the table goes to stderr so the JSON stays parseable.
  std::FILE* table_stream = o.json_path == "-" ? stderr : stdout;
  const gradcheck::Style style{gradcheck::use_color(table_stream, o.no_color)};
  std::fputs(w::render_table(report, style, o.quiet).c_str(), table_stream);
  return report.passed() ? gradcheck::ExitCode::ok : gradcheck::ExitCode::problem;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weightstats: statistics and health flags for saved weights"};
  WeightstatsOptions options;
  setup_weightstats(app, options);
  return gradcheck::tools::tool_main(app, "weightstats", argc, argv, [&] { return run_weightstats(options); });
}
