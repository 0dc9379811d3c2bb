// The three tools behave alike (docs/tools-contract.md, the conventions all
// three share): --version, --quiet, --json -, --html -, both on standard
// output, and colour (a terminal only; never with --no-color or NO_COLOR).
// Every case runs each tool on a healthy input with the same assertions.
#include <catch2/catch.hpp>

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "gradcheck/version.hpp"
#include "support/run_tool.hpp"

namespace {

using gradcheck::test::quote;
using gradcheck::test::run_tool;
using gradcheck::test::ToolRun;

struct Tool {
  std::string name;   ///< what it calls itself
  std::string exe;
  std::string input;  ///< a healthy input: the tool exits 0 on it
  std::string args() const { return quote(input); }
};

std::vector<Tool> tools() {
  const std::string src = GRADCHECK_SOURCE_DIR;
  return {{"gradcheck", GRADCHECK_TOOL, std::string(HARDENING_PLUGIN_DIR) + "/healthy.so"},
          {"weightstats", WEIGHTSTATS_TOOL, src + "/samples/checkpoints/tiny_mlp.safetensors"},
          {"convdiag", CONVDIAG_TOOL, src + "/tests/logs/data/healthy.csv"}};
}

// The text report without its wall time (gradcheck's "in 0.01 s;").
std::string without_time(const std::string& text) {
  static const std::regex seconds(" in [0-9]+\\.[0-9]+ s;");
  return std::regex_replace(text, seconds, " in N s;");
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n') + 1); }

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// An ANSI colour (SGR) sequence; the progress line's "erase line" is not one.
bool has_colour(const std::string& s) {
  static const std::regex sgr("\x1b\\[[0-9;]*m");
  return std::regex_search(s, sgr);
}

// Runs `argv` on a pseudo-terminal (its stdout and stderr both on it) with
// TERM=xterm, and NO_COLOR set to `no_color` (unset when null); returns what it
// printed and its exit code.
ToolRun run_on_terminal(const std::vector<std::string>& argv, const char* no_color) {
  int terminal = -1;
  const pid_t pid = ::forkpty(&terminal, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::setenv("TERM", "xterm", 1);
    if (no_color != nullptr) ::setenv("NO_COLOR", no_color, 1);
    else ::unsetenv("NO_COLOR");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ToolRun r;
  REQUIRE(pid > 0);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(terminal, buf, sizeof buf);
    if (n > 0) r.out.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO once the tool has exited and its side of the terminal is closed
  }
  ::close(terminal);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs a shell command with its stdout and stderr on a pipe, NO_COLOR unset.
std::string run_on_pipe(const std::string& command) {
  const std::string cmd = "env -u NO_COLOR TERM=xterm " + command + " 2>&1";
  std::FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

}  // namespace

TEST_CASE("every tool: --version prints '<tool> <version>'", "[tools]") {
  for (const auto& t : tools()) {
    INFO(t.name);
    const ToolRun r = run_tool(t.exe, "--version");
    CHECK(r.exit_code == 0);
    CHECK(r.out == t.name + " " + gradcheck::version_string + "\n");
    CHECK(r.err.empty());
  }
}

TEST_CASE("every tool: --quiet prints the verdict line only, the first line of its report", "[tools]") {
  for (const auto& t : tools()) {
    INFO(t.name);
    const ToolRun full = run_tool(t.exe, t.args());
    const ToolRun quiet = run_tool(t.exe, t.args() + " --quiet");
    CHECK(full.exit_code == 0);
    CHECK(quiet.exit_code == 0);
    CHECK(lines(full.out) > 1);
    CHECK(lines(quiet.out) == 1);
    CHECK(quiet.out == first_line(full.out));
    CHECK(full.err.empty());
    CHECK(quiet.err.empty());
  }
}

TEST_CASE("every tool: --json - writes the report alone on stdout, the text report on stderr", "[tools]") {
  for (const auto& t : tools()) {
    INFO(t.name);
    const ToolRun full = run_tool(t.exe, t.args());
    const ToolRun r = run_tool(t.exe, t.args() + " --json -");
    CHECK(r.exit_code == full.exit_code);
    nlohmann::json report;
    REQUIRE_NOTHROW(report = nlohmann::json::parse(r.out));
    CHECK(report.at("tool") == t.name);
    CHECK(report.at("schema") == 1);
    CHECK(report.at("version") == gradcheck::version_string);
    CHECK(without_time(r.err) == without_time(full.out));
    // With --quiet, the verdict line alone goes to stderr.
    const ToolRun quiet = run_tool(t.exe, t.args() + " --json - --quiet");
    CHECK_NOTHROW(nlohmann::json::parse(quiet.out));
    CHECK(quiet.err == first_line(full.out));
  }
}

TEST_CASE("every tool: --html - writes the page alone on stdout, the text report on stderr", "[tools]") {
  for (const auto& t : tools()) {
    INFO(t.name);
    const ToolRun full = run_tool(t.exe, t.args());
    const ToolRun r = run_tool(t.exe, t.args() + " --html -");
    CHECK(r.exit_code == full.exit_code);
    CHECK(r.out.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(r.out.size() > 7);
    CHECK(r.out.substr(r.out.size() - 8) == "</html>\n");
    CHECK(without_time(r.err) == without_time(full.out));
  }
}

TEST_CASE("every tool: --json - with --html - is a usage error, before any work", "[tools]") {
  for (const auto& t : tools()) {
    INFO(t.name);
    const ToolRun r = run_tool(t.exe, t.args() + " --json - --html -");
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == t.name + ": -: --json and --html cannot both write to standard output\n");
  }
}

TEST_CASE("every tool: colour on a terminal only, never with --no-color or NO_COLOR", "[tools]") {
  for (const auto& t : tools()) {
    INFO(t.name);
    CHECK_FALSE(has_colour(run_on_pipe(t.exe + " " + t.args())));
    const ToolRun terminal = run_on_terminal({t.exe, t.input}, nullptr);
    CHECK(terminal.exit_code == 0);
    CHECK(has_colour(terminal.out));
    const ToolRun flag = run_on_terminal({t.exe, t.input, "--no-color"}, nullptr);
    CHECK(flag.exit_code == 0);
    CHECK_FALSE(has_colour(flag.out));
    const ToolRun env = run_on_terminal({t.exe, t.input}, "1");
    CHECK(env.exit_code == 0);
    CHECK_FALSE(has_colour(env.out));
  }
}
