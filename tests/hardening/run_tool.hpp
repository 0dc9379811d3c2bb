#pragma once
// Runs a tool executable as a user would (a shell command line) and collects
// its exit code, stdout, stderr and time taken.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include "support/scratch.hpp"

namespace hardening {

namespace fs = std::filesystem;

struct ToolRun {
  int exit_code = -1;  ///< -1: killed by a signal
  int signal = 0;
  std::string out, err;
  double seconds = 0;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh folder per test process.
inline const fs::path& scratch() { return gradcheck::test::scratch_root(); }

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `args` are shell words, already quoted where needed.
inline ToolRun run_tool(const std::string& exe, const std::string& args) {
  static int counter = 0;
  const std::string tag = std::to_string(counter++);
  const fs::path out = scratch() / ("stdout" + tag), err = scratch() / ("stderr" + tag);
  const std::string cmd = quote(exe) + " " + args + " --no-color > " + quote(out) + " 2> " + quote(err);
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(cmd.c_str());
  ToolRun r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    // The shell reports a signal-killed child as 128 + signal.
    if (r.exit_code > 128) r.signal = r.exit_code - 128;
  }
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace hardening
