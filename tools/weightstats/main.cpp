// weightstats: statistics and health flags for saved weights (see the tools'
// contract). Thin: options, parsing, one call into the library, exit codes.

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "tool_main.hpp"

#include "gradcheck/errors.hpp"
#include "gradcheck/html/weightstats_page.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"
#include "gradcheck/weights/checkpoint.hpp"
#include "gradcheck/weights/render.hpp"
#include "gradcheck/weights/report.hpp"

namespace {

// Draws the progress line (gradcheck::ProgressBar: terminal only, after a
// second, erased at the end) from its own thread while the main thread is
// inside one long library call.
class Ticker {
 public:
  explicit Ticker(bool enabled) {
    if (!enabled) return;
    thread_ = std::jthread([this](std::stop_token stop) {
      const auto start = std::chrono::steady_clock::now();
      while (!stop.stop_requested()) {
        std::string label;
        {
          std::lock_guard lock(mutex_);
          label = phase_;
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        char detail[32];
        std::snprintf(detail, sizeof detail, "%.0f s", s);
        bar_.update(label, -1, detail);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      bar_.finish();
    });
  }
  ~Ticker() { stop(); }
  void phase(std::string text) {
    std::lock_guard lock(mutex_);
    phase_ = std::move(text);
  }
  /// Stops the thread and erases the line (joined before returning).
  void stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

 private:
  gradcheck::ProgressBar bar_;
  std::mutex mutex_;
  std::string phase_;
  std::jthread thread_;
};

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
  if (o.json_path == "-" && o.html_path == "-")
    throw gradcheck::InputError("-", "--json and --html cannot both write to standard output");
  w::ReportOptions options;
  options.threads = o.threads;
  options.filter = o.filter;
  options.spectral = o.spectral;

  // The library has no progress hook inside a checkpoint's analysis, so the
  // line names the phase and the time spent, refreshed by a ticker thread.
  Ticker ticker(!o.quiet);
  w::Checkpoint all;
  for (const auto& f : o.files) {
    ticker.phase("reading " + f);
    all.append(w::open_checkpoint(f));
  }
  w::Checkpoint before, after;
  if (!o.diff.empty()) {
    ticker.phase("reading " + o.diff[0]);
    before = w::open_checkpoint(o.diff[0]);
    ticker.phase("reading " + o.diff[1]);
    after = w::open_checkpoint(o.diff[1]);
  }
  // Without FILEs, the diff's AFTER checkpoint is the one described.
  ticker.phase(o.spectral ? "analysing tensors (with spectra)" : "analysing tensors");
  w::WeightsReport report = w::report_checkpoint(o.files.empty() ? after : all, options);
  if (!o.diff.empty()) {
    ticker.phase("comparing " + o.diff[0] + " and " + o.diff[1]);
    w::add_diff(report, before, after, options);
  }
  ticker.stop();

  // Both reports are rendered before either is written, and each is written
  // whole or not at all.
  const std::string html = o.html_path.empty() ? std::string() : gradcheck::html::weightstats_page(report, options.thresholds);
  const std::string json = o.json_path.empty() ? std::string() : w::render_json(report, gradcheck::version_string);
  if (!o.html_path.empty()) gradcheck::write_file_atomically(o.html_path, html);
  if (!o.json_path.empty()) gradcheck::write_file_atomically(o.json_path, json);
  // With a report on standard output, the table goes to stderr so the report stays parseable.
  std::FILE* table_stream = o.json_path == "-" || o.html_path == "-" ? stderr : stdout;
  const gradcheck::Style style{gradcheck::use_color(table_stream, o.no_color)};
  // The verdict first; the table ends with it again as a summary under a long table.
  if (!o.quiet) {
    const std::string line = w::verdict_line(report);
    std::fputs((style.bold(report.passed() ? style.green(line) : style.red(line)) + "\n").c_str(), table_stream);
  }
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
