#pragma once
// The shared main() of the tools: parse with CLI11, run, and map what escapes to
// the contract's exit codes, with a one-line message on stderr.

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "gradcheck/errors.hpp"
#include "gradcheck/utf8.hpp"

namespace gradcheck::tools {

/// Parses argv into `app` (whose options are already bound), then returns
/// run()'s ExitCode. --help and --version exit 0; a parse error, an InputError or
/// any other exception prints "<tool>: <reason>" and exits 2 (bad input). What
/// is printed is one line of valid UTF-8 whatever the message holds (CLI11 echoes
/// argv; other exceptions may carry a library's raw bytes): see escape_invalid_utf8.
template <class Run>
int tool_main(CLI::App& app, const char* tool, int argc, char** argv, Run&& run) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\n", tool, escape_invalid_utf8(e.what()).c_str());
    return static_cast<int>(ExitCode::bad_input);
  }
  try {
    return static_cast<int>(run());
  } catch (const InputError& e) {
    std::fprintf(stderr, "%s: %s\n", tool, e.what());  // already escaped
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", tool, escape_invalid_utf8(e.what()).c_str());
  }
  return static_cast<int>(ExitCode::bad_input);
}

}  // namespace gradcheck::tools
