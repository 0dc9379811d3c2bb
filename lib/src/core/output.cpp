#include "gradcheck/output.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "gradcheck/errors.hpp"
#include "utf8.hpp"

namespace gradcheck {

void write_file_atomically(const std::string& path, std::string_view content) {
  if (path == "-") {
    std::fwrite(content.data(), 1, content.size(), stdout);
    std::fflush(stdout);
    return;
  }
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmpXXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw InputError(path, std::string("cannot create a temporary file: ") + std::strerror(errno));
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmpl.c_str());
      throw InputError(path, std::string("cannot write: ") + std::strerror(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // Reports are readable like any file the user would create.
  ::fchmod(fd, 0644);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw InputError(path, std::string("cannot write: ") + std::strerror(err));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw InputError(path, std::string("cannot write: ") + std::strerror(err));
  }
}

bool use_color(std::FILE* stream, bool no_color_flag) {
  if (no_color_flag) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(::fileno(stream)) != 0;
}

std::string Style::wrap(std::string_view code, std::string_view s) const {
  if (!enabled) return std::string(s);
  std::string out = "\x1b[";
  out += code;
  out += 'm';
  out += s;
  out += "\x1b[0m";
  return out;
}

ProgressBar::ProgressBar(std::FILE* stream) : ProgressBar(stream, Options{}) {}

ProgressBar::ProgressBar(std::FILE* stream, Options options)
    : stream_(stream), options_(options), start_(std::chrono::steady_clock::now()) {
  // TERM=dumb terminals cannot move the cursor back: no bar there either.
  const char* term = std::getenv("TERM");
  const bool dumb = term != nullptr && std::strcmp(term, "dumb") == 0;
  enabled_ = stream_ != nullptr && (options_.force || (::isatty(::fileno(stream_)) != 0 && !dumb));
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::string_view label, double fraction, std::string_view detail) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_start = std::chrono::duration<double>(now - start_).count();
  if (since_start < options_.delay_seconds) return;
  if (drawn_once_ && std::chrono::duration<double>(now - last_draw_).count() < options_.interval_seconds) return;
  std::string line = "\r\x1b[K";
  line += escape_invalid_utf8(label);  // a path or a name: one line of valid UTF-8
  if (fraction >= 0 && std::isfinite(fraction)) {
    const double f = std::clamp(fraction, 0.0, 1.0);
    const int filled = static_cast<int>(std::lround(f * options_.width));
    line += " [";
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(options_.width - filled), '.');
    char pct[16];
    std::snprintf(pct, sizeof pct, "] %3d%%", static_cast<int>(f * 100));
    line += pct;
  }
  if (!detail.empty()) {
    line += "  ";
    line += escape_invalid_utf8(detail);
  }
  if (visible_ && line == last_line_) return;  // nothing new to show
  std::fwrite(line.data(), 1, line.size(), stream_);
  last_line_ = line;
  std::fflush(stream_);
  last_draw_ = now;
  drawn_once_ = true;
  visible_ = true;
}

void ProgressBar::finish() {
  if (!visible_) return;
  std::fputs("\r\x1b[K", stream_);
  std::fflush(stream_);
  visible_ = false;
}

}  // namespace gradcheck
