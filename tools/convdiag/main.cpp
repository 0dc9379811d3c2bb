// convdiag: diagnose training runs from their logs, and run active checks on a
// plugin model (--model), see docs/tools-contract.md. Thin: options, parsing,
// the library's calls, its report written and printed as every tool does.

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"
#include "tool_output.hpp"

#include "gradcheck/diag/active.hpp"
#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/render.hpp"
#include "gradcheck/diag/report.hpp"
#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"

namespace {

struct ConvdiagOptions {
  std::vector<std::string> logs;
  std::string loss_col, val_col, step_col, grad_col;
  int classes = 0;
  bool from_scratch = false;
  bool pretrained = false;
  int threads = 0;
  // Active checks (--model).
  std::string model_plugin;
  std::vector<std::string> model_names;
  std::uint64_t seed = 0;
  double timeout = 60;
  gradcheck::tools::OutputOptions output;
};

void setup_convdiag(CLI::App& app, ConvdiagOptions& o) {
  app.add_option("LOG", o.logs,
                 "training logs: CSV, JSON Lines, TensorBoard event files, trainer_state.json, Keras History JSON, "
                 "W&B exports, a training loop's printed output (train.log), or directories (TensorBoard, Hugging Face "
                 "checkpoints, MLflow runs, DVCLive)");
  app.add_option("--loss-col", o.loss_col, "training-loss column (default: recognised by name)");
  app.add_option("--val-col", o.val_col, "validation-loss column");
  app.add_option("--step-col", o.step_col, "step column");
  app.add_option("--grad-col", o.grad_col, "gradient-norm column");
  app.add_option("--classes", o.classes,
                 "number of classes: a loss stuck near ln(N) is a plateau, one starting below 0.8 ln(N) that improves "
                 "little is a trained model's (default: from a Hugging Face checkpoint's config.json, else "
                 "unknown); with --model, the loss at init is checked against ln(N)")
      ->check(CLI::Range(0, 1 << 30));
  auto* scratch = app.add_flag("--from-scratch", o.from_scratch,
               "the logs start from a freshly initialised model: a loss that never falls 10% below its start is a "
               "plateau at any level (default: a loss starting below 0.8 ln 2 (ln N with --classes), or logged from a "
               "later step, that "
               "improves little is read as a model that had learned already)");
  app.add_flag("--pretrained", o.pretrained,
               "the logs continue from a trained model (fine-tuning, an adapter such as LoRA, a resumed run): a loss "
               "that improves little from its start is no plateau at any level (a note says so); read from a Hugging "
               "Face checkpoint's adapter_config.json without this flag")
      ->excludes(scratch);
  auto* model = app.add_option("--model", o.model_plugin,
                               "active checks on a plugin model (.so): loss at init, overfitting its own batch, "
                               "a learning-rate range test");
  app.add_option("-m", o.model_names, "with --model: check only this model (repeatable; default: all)")
      ->needs(model);
  app.add_option("--seed", o.seed, "with --model: seed passed to the model's create()")->needs(model);
  app.add_option("--timeout", o.timeout, "with --model: longest one call into the model's code may take (seconds)")
      ->check(CLI::PositiveNumber)
      ->needs(model);
  app.add_option("--threads", o.threads, "logs read and diagnosed at once (default 0: all cores)")
      ->check(CLI::NonNegativeNumber);
  gradcheck::tools::add_output_options(app, o.output, "convdiag");
}

gradcheck::ExitCode run_convdiag(const ConvdiagOptions& o) {
  namespace d = gradcheck::diag;
  if (o.logs.empty() && o.model_plugin.empty())
    throw gradcheck::InputError("", "nothing to diagnose: give training logs (LOG...) and/or --model PLUGIN.so "
                                    "(see --help)");
  gradcheck::tools::check_output_options(o.output);
  gradcheck::logs::ReadOptions read;
  read.step_column = o.step_col;
  d::DiagnoseOptions diagnose;
  diagnose.columns = {o.loss_col, o.val_col, o.step_col, o.grad_col};
  diagnose.classes = o.classes;
  diagnose.from_scratch = o.from_scratch;
  diagnose.pretrained = o.pretrained;
  // A directory may hold several runs (an MLflow store) or name the log it
  // holds (a Hugging Face output folder's latest checkpoint). The HTML report
  // draws the whole curves, so the logs are kept for it.
  d::Report report = d::diagnose_sources(o.logs, read, diagnose, o.threads, !o.output.html_path.empty());

  // The model runs only in forked children, after the reader threads ended.
  if (!o.model_plugin.empty()) {
    d::ActiveOptions active;
    active.plugin = o.model_plugin;
    active.models = o.model_names;
    active.classes = o.classes;
    active.seed = o.seed;
    active.timeout_seconds = o.timeout;
    report.active = d::run_active_checks(active);
  }
  return gradcheck::tools::write_reports(o.output, report);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"convdiag: why isn't the model converging? Diagnoses training logs and runs active checks on a model."};
  ConvdiagOptions options;
  setup_convdiag(app, options);
  return gradcheck::tools::tool_main(app, "convdiag", argc, argv, [&] { return run_convdiag(options); });
}
