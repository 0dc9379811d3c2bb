// convdiag: diagnose training runs from their logs, and run active checks on a
// plugin model (--model), see docs/tools-contract.md.

#include <CLI/CLI.hpp>

#include "tool_main.hpp"
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/render.hpp"
#include "gradcheck/diag/report.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"

namespace {

struct ConvdiagOptions {
  std::vector<std::string> logs;
  std::string loss_col, val_col, step_col, grad_col;
  int classes = 0;
  std::string json_path, html_path;
  bool quiet = false;
  bool no_color = false;
  int threads = 0;
  // Active checks (--model).
  std::string model_plugin;
  std::vector<std::string> model_names;
  std::uint64_t seed = 0;
  double timeout = 60;
};

void setup_convdiag(CLI::App& app, ConvdiagOptions& o) {
  app.add_option("LOG", o.logs, "Training logs: CSV, JSON Lines, TensorBoard event files or directories");
  app.add_option("--loss-col", o.loss_col, "Training-loss column (default: recognised by name)");
  app.add_option("--val-col", o.val_col, "Validation-loss column");
  app.add_option("--step-col", o.step_col, "Step column");
  app.add_option("--grad-col", o.grad_col, "Gradient-norm column");
  app.add_option("--classes", o.classes,
                 "Number of classes: a loss stuck near ln(N) is a plateau; with --model, the loss at init is "
                 "checked against ln(N)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--json", o.json_path, "Write the JSON report to FILE ('-' for standard output)");
  app.add_option("--html", o.html_path,
                 "Write a self-contained HTML report with the curves and the active checks to FILE ('-' for "
                 "standard output)");
  auto* model = app.add_option("--model", o.model_plugin,
                               "Active checks on a plugin model (.so): loss at init, overfitting its own batch, "
                               "a learning-rate range test");
  app.add_option("-m", o.model_names, "With --model: check only this model (repeatable; default: all)")
      ->needs(model);
  app.add_option("--seed", o.seed, "With --model: seed passed to the model's create()")->needs(model);
  app.add_option("--timeout", o.timeout, "With --model: longest one call into the model's code may take (seconds)")
      ->check(CLI::PositiveNumber)
      ->needs(model);
  app.add_flag("--quiet", o.quiet, "Print only the verdict line");
  app.add_flag("--no-color", o.no_color, "No ANSI colour");
  app.add_option("--threads", o.threads, "Logs read and diagnosed at once (default 0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.set_version_flag("--version", std::string("convdiag ") + gradcheck::version_string);
}

gradcheck::ExitCode run_convdiag(const ConvdiagOptions& o) {
  if (o.logs.empty() && o.model_plugin.empty())
    throw gradcheck::InputError("", "nothing to diagnose: give training logs (LOG...) and/or --model PLUGIN.so "
                                    "(see --help)");
  if (o.json_path == "-" && o.html_path == "-")
    throw gradcheck::InputError("-", "--json and --html cannot both write to standard output");
  gradcheck::logs::ReadOptions read;
  read.step_column = o.step_col;
  gradcheck::diag::DiagnoseOptions diag;
  diag.columns = {o.loss_col, o.val_col, o.step_col, o.grad_col};
  diag.classes = o.classes;
  // The HTML report draws the whole curves, so the logs are kept for it.
  gradcheck::diag::Report report = gradcheck::diag::diagnose_logs(o.logs, read, diag, o.threads, !o.html_path.empty());

  // The model runs only in forked children, after the reader threads ended.
  if (!o.model_plugin.empty()) {
    gradcheck::diag::ActiveOptions ao;
    ao.plugin = o.model_plugin;
    ao.models = o.model_names;
    ao.classes = o.classes;
    ao.seed = o.seed;
    ao.timeout_seconds = o.timeout;
    report.active = gradcheck::diag::run_active_checks(ao);
  }

  // Both reports are rendered before either is written.
  const std::string json = o.json_path.empty() ? std::string() : gradcheck::diag::to_json(report);
  const std::string html = o.html_path.empty() ? std::string() : gradcheck::diag::to_html(report);
  if (!o.json_path.empty()) gradcheck::write_file_atomically(o.json_path, json);
  if (!o.html_path.empty()) gradcheck::write_file_atomically(o.html_path, html);
  // With a report on standard output, the text goes to stderr so the report stays parseable.
  std::FILE* text_stream = o.json_path == "-" || o.html_path == "-" ? stderr : stdout;
  gradcheck::TextOptions text;
  text.color = gradcheck::use_color(text_stream, o.no_color);
  text.quiet = o.quiet;
  const std::string out = gradcheck::diag::to_text(report, text);
  std::fwrite(out.data(), 1, out.size(), text_stream);
  return gradcheck::diag::exit_code(report);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"convdiag: why isn't the model converging? Diagnoses training logs and runs active checks on a model."};
  ConvdiagOptions options;
  setup_convdiag(app, options);
  return gradcheck::tools::tool_main(app, "convdiag", argc, argv, [&] { return run_convdiag(options); });
}
