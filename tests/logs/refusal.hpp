#pragma once
// Checks shared by the log reader tests: a refusal names the file and the
// reason, in one line of valid UTF-8 in the project's words.

#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/utf8.hpp"

namespace logs_test {

// Expects `read` to throw an InputError naming `file` whose message holds
// `reason`: one line of valid UTF-8 without control characters or the JSON
// library's tag.
inline void expect_refused(const std::function<void()>& read, const std::string& file, const std::string& reason) {
  INFO("file " << file << ", expected reason containing: " << reason);
  try {
    read();
    FAIL("the log was accepted");
  } catch (const gradcheck::InputError& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(e.file() == gradcheck::escape_invalid_utf8(file));
    CHECK(what.find(reason) != std::string::npos);
    CHECK(gradcheck::valid_utf8(what, /*printable=*/true));
    CHECK(what.find("json.exception") == std::string::npos);
  }
}

// Expects read_log(path) to refuse the file with `reason`.
inline void expect_refused(const std::string& path, const std::string& reason) {
  expect_refused([&] { (void)gradcheck::logs::read_log(path); }, path, reason);
}

}  // namespace logs_test
