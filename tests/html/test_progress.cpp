// gradcheck::ProgressBar: silent when not a terminal or before the delay,
// throttled, and erased at the end.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "gradcheck/output.hpp"

namespace {

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

}  // namespace

TEST_CASE("the progress bar draws nothing on a file that is not a terminal", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    gradcheck::ProgressBar bar(f, {0.0, 0.0, 10, false});
    bar.update("checking", 0.5, "detail");
    CHECK_FALSE(bar.visible());
  }
  CHECK(contents(f).empty());
  std::fclose(f);
}

TEST_CASE("the progress bar waits for its delay, draws a bar, and erases its line", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  gradcheck::ProgressBar bar(f, {0.05, 0.0, 10, true});
  bar.update("checking", 0.5);
  CHECK(contents(f).empty());  // before the delay: short work shows nothing
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  bar.update("checking", 0.5, "7 evaluations");
  CHECK(bar.visible());
  CHECK(contents(f) == "\r\x1b[Kchecking [#####.....]  50%  7 evaluations");
  bar.update("model b", -1, "12 s");  // total unknown: no bar, just the text
  CHECK(contents(f).ends_with("\r\x1b[Kmodel b  12 s"));
  bar.finish();
  CHECK_FALSE(bar.visible());
  CHECK(contents(f).ends_with("\r\x1b[K"));
  bar.finish();  // idempotent: nothing more written
  CHECK(contents(f).ends_with("12 s\r\x1b[K"));
  std::fclose(f);
}

TEST_CASE("the progress bar is throttled", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    gradcheck::ProgressBar bar(f, {0.0, 10.0, 10, true});
    for (int i = 0; i < 1000; ++i) bar.update("x", i / 1000.0);
  }
  const std::string s = contents(f);
  // One draw (then nothing for 10 s), then the erase from the destructor.
  CHECK(s == "\r\x1b[Kx [..........]   0%\r\x1b[K");
  std::fclose(f);
}
