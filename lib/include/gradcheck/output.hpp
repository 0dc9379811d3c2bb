#pragma once
// Writing reports: the options of every text report, whole files or nothing,
// and terminal colour rules.

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace gradcheck {

/// How every result's to_text renders (gradcheck::to_text of a CheckResult,
/// host::to_text of a PluginReport, weights::to_text, diag::to_text): one
/// struct for all; a field a result has no use for is ignored.
struct TextOptions {
  /// ANSI colour, every result (decide it with use_color).
  bool color = false;
  /// Only the verdict line (what --quiet prints), every result.
  bool quiet = false;
  /// Gradient checks only (CheckResult, PluginReport): the worst entries listed
  /// under each failing tensor.
  int worst_entries = 5;
};

/// Writes `content` to `path` atomically: into a temporary file beside it, then
/// renamed over `path`, so a reader never sees a half-written report. `path` "-"
/// writes to standard output. Throws InputError naming the path on failure
/// (nothing is left behind).
void write_file_atomically(const std::string& path, std::string_view content);

/// True when colour should be used on `stream`: it is a terminal, NO_COLOR is
/// unset or empty, TERM is not "dumb", and the caller did not pass --no-color.
bool use_color(std::FILE* stream, bool no_color_flag = false);

/// ANSI styling that collapses to plain text when `enabled` is false.
struct Style {
  bool enabled = false;
  std::string red(std::string_view s) const { return wrap("31", s); }
  std::string green(std::string_view s) const { return wrap("32", s); }
  std::string yellow(std::string_view s) const { return wrap("33", s); }
  std::string bold(std::string_view s) const { return wrap("1", s); }
  std::string dim(std::string_view s) const { return wrap("2", s); }
  std::string wrap(std::string_view code, std::string_view s) const;
};

/// A one-line progress bar for long work, on stderr by default:
///   "checking mlp_f64 [########..........]  42%  1.2e5 evaluations"
/// It draws only when the stream is a terminal (or `force`), only after the
/// work has run for `delay_seconds`, at most once per `interval_seconds`, and
/// erases its line in finish() (or the destructor), so short runs and pipes
/// see nothing and the report that follows starts on a clean line.
class ProgressBar {
 public:
  struct Options {
    double delay_seconds = 1.0;
    double interval_seconds = 0.1;
    int width = 24;      ///< characters of the bar itself
    bool force = false;  ///< draw even when the stream is not a terminal (tests)
  };
  explicit ProgressBar(std::FILE* stream = stderr);
  ProgressBar(std::FILE* stream, Options options);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// Reports progress: `fraction` in [0, 1] draws a bar and a percentage; a
  /// negative fraction (total unknown) draws the label and detail only.
  void update(std::string_view label, double fraction, std::string_view detail = {});
  /// Erases the line if anything was drawn. Idempotent.
  void finish();
  /// True once something has been drawn (and not yet erased).
  bool visible() const noexcept { return visible_; }

 private:
  std::FILE* stream_;
  Options options_;
  bool enabled_ = false;
  bool visible_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_once_ = false;
  std::string last_line_;
};

}  // namespace gradcheck
