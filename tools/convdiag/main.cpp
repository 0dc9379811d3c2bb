// convdiag: diagnose training runs from their logs (see tools-contract.md).

#include <CLI/CLI.hpp>

#include "tool_main.hpp"
#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "gradcheck/diag/diagnose.hpp"
#include "gradcheck/diag/render.hpp"
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
};

void setup_convdiag(CLI::App& app, ConvdiagOptions& o) {
  app.add_option("LOG", o.logs, "Training logs: CSV, JSON Lines, TensorBoard event files or directories")
      ->required();
  app.add_option("--loss-col", o.loss_col, "Training-loss column (default: recognised by name)");
  app.add_option("--val-col", o.val_col, "Validation-loss column");
  app.add_option("--step-col", o.step_col, "Step column");
  app.add_option("--grad-col", o.grad_col, "Gradient-norm column");
  app.add_option("--classes", o.classes, "Number of classes: a loss stuck near ln(N) is a plateau")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--json", o.json_path, "Write the JSON report to FILE ('-' for standard output)");
  app.add_option("--html", o.html_path, "Write a self-contained HTML report (not yet supported)");
  app.add_flag("--quiet", o.quiet, "Print only the verdict line");
  app.add_flag("--no-color", o.no_color, "No ANSI colour");
  app.add_option("--threads", o.threads, "Logs read and diagnosed at once (default 0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.set_version_flag("--version", std::string(gradcheck::version_string));
}

gradcheck::ExitCode run_convdiag(const ConvdiagOptions& o) {
  if (!o.html_path.empty()) throw gradcheck::InputError(o.html_path, "--html is not yet supported by convdiag");
  gradcheck::logs::ReadOptions read;
  read.step_column = o.step_col;
  gradcheck::diag::DiagnoseOptions diag;
  diag.columns = {o.loss_col, o.val_col, o.step_col, o.grad_col};
  diag.classes = o.classes;
  // Each log is read and diagnosed on its own; results keep the command-line
  // order and the first failing log (in that order) is the one reported, so
  // the output does not depend on the thread count.
  const std::size_t n = o.logs.size();
  std::vector<gradcheck::diag::RunDiagnosis> results(n);
  std::vector<std::exception_ptr> errors(n);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        results[i] = gradcheck::diag::diagnose(gradcheck::logs::read_log(o.logs[i], read), diag);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads = std::min<std::size_t>(n, o.threads > 0 ? static_cast<std::size_t>(o.threads) : cores);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);

  if (!o.json_path.empty())
    gradcheck::write_file_atomically(o.json_path, gradcheck::diag::render_json(results, gradcheck::version_string));
  if (o.json_path != "-") {
    const bool color = gradcheck::use_color(stdout, o.no_color);
    const std::string text = o.quiet ? gradcheck::diag::verdict_line(results, color) + "\n"
                                     : gradcheck::diag::render_terminal(results, color);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  for (const auto& r : results)
    if (!r.healthy()) return gradcheck::ExitCode::problem;
  return gradcheck::ExitCode::ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"convdiag: why isn't the model converging? Diagnoses training logs."};
  ConvdiagOptions options;
  setup_convdiag(app, options);
  return gradcheck::tools::tool_main(app, "convdiag", argc, argv, [&] { return run_convdiag(options); });
}
