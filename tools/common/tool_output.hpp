#pragma once
// What every tool does with its result, the same way (docs/tools-contract.md):
// the report options (--json, --html, --quiet, --no-color, --version), then the
// reports rendered, written and printed, and the exit code. A result is any
// type with the shared presentation shape (to_text, to_json, to_html,
// exit_code: gradcheck/report.hpp), found by argument-dependent lookup.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "gradcheck/errors.hpp"
#include "gradcheck/output.hpp"
#include "gradcheck/version.hpp"

namespace gradcheck::tools {

/// The options of every tool's reports.
struct OutputOptions {
  std::string json_path;  ///< --json FILE; "-" for standard output
  std::string html_path;  ///< --html FILE; "-" for standard output
  bool quiet = false;     ///< --quiet: the verdict line only
  bool no_color = false;  ///< --no-color (use_color also honours NO_COLOR and TERM=dumb)
};

/// Adds --json, --html, --quiet, --no-color and --version (which prints
/// "<tool> <version>") to `app`, bound to `o`.
inline void add_output_options(CLI::App& app, OutputOptions& o, const std::string& tool) {
  app.add_option("--json", o.json_path, "write the JSON report to FILE ('-' for standard output)");
  app.add_option("--html", o.html_path, "write a self-contained HTML report to FILE ('-' for standard output)");
  app.add_flag("--quiet", o.quiet, "print only the verdict line");
  app.add_flag("--no-color", o.no_color, "no ANSI colour (NO_COLOR set does the same)");
  app.set_version_flag("--version", tool + " " + version_string);
}

/// Throws InputError when both reports would go to standard output; called
/// before any work starts.
inline void check_output_options(const OutputOptions& o) {
  if (o.json_path == "-" && o.html_path == "-")
    throw InputError("-", "--json and --html cannot both write to standard output");
}

/// Renders the reports asked for (`html(result)`, to_json), then writes each
/// whole or not at all (write_file_atomically); prints to_text on standard
/// output, or on stderr when a report goes to standard output (so that it stays
/// parseable), in colour only as use_color says; returns exit_code.
template <class Result, class Html>
ExitCode write_reports(const OutputOptions& o, const Result& result, Html&& html) {
  const std::string page = o.html_path.empty() ? std::string() : html(result);
  const std::string json = o.json_path.empty() ? std::string() : to_json(result);
  if (!o.html_path.empty()) write_file_atomically(o.html_path, page);
  if (!o.json_path.empty()) write_file_atomically(o.json_path, json);
  std::FILE* stream = o.json_path == "-" || o.html_path == "-" ? stderr : stdout;
  TextOptions text;
  text.color = use_color(stream, o.no_color);
  text.quiet = o.quiet;
  const std::string out = to_text(result, text);
  std::fwrite(out.data(), 1, out.size(), stream);
  return exit_code(result);
}

/// write_reports with the result's own to_html.
template <class Result>
ExitCode write_reports(const OutputOptions& o, const Result& result) {
  return write_reports(o, result, [](const Result& r) { return to_html(r); });
}

}  // namespace gradcheck::tools
