#pragma once
// Writing reports: whole or not at all, and terminal colour rules.

#include <cstdio>
#include <string>
#include <string_view>

namespace gradcheck {

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

}  // namespace gradcheck
