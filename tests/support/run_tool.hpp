#pragma once
// Runs an executable as a user would (a shell command line) and collects its
// exit code, stdout, stderr, the time taken and, when asked for, its --json
// report. Every test that runs a tool or a program does it through run_tool.
// Needs nlohmann/json (link nlohmann_json::nlohmann_json).
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/files.hpp"
#include "support/scratch.hpp"

namespace gradcheck::test {

struct ToolRun {
  int exit_code = -1;  ///< -1: the shell itself did not end normally
  int signal = 0;      ///< the signal that killed the program (the shell reports 128 + n), else 0
  std::string out, err;
  double seconds = 0;
  nlohmann::json report;    ///< the --json report (with RunOptions::json), else null
  bool has_report = false;  ///< whether the program wrote one
};

struct RunOptions {
  bool no_color = true;  ///< add --no-color (every gradcheck tool takes it)
  bool json = false;     ///< add --json FILE (a fresh scratch file) and parse what it holds into report
};

/// `s` as one shell word.
inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs `exe` with `args` (shell words, already quoted where needed), stdin
/// inherited, stdout and stderr captured in scratch files.
inline ToolRun run_tool(const std::string& exe, const std::string& args, const RunOptions& options = {}) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const std::string tag = std::to_string(counter++);
  const fs::path dir = scratch_root();
  const fs::path out = dir / ("run" + tag + ".out"), err = dir / ("run" + tag + ".err"),
                 json = dir / ("run" + tag + ".json");
  std::string cmd = quote(exe) + " " + args;
  if (options.no_color) cmd += " --no-color";
  if (options.json) cmd += " --json " + quote(json.string());
  cmd += " > " + quote(out.string()) + " 2> " + quote(err.string());
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(cmd.c_str());
  ToolRun r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    if (r.exit_code > 128) r.signal = r.exit_code - 128;
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  if (options.json && fs::exists(json)) {
    r.report = nlohmann::json::parse(read_bytes(json));
    r.has_report = true;
  }
  return r;
}

}  // namespace gradcheck::test
