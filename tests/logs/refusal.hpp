#pragma once
// Checks shared by the log reader tests: a refusal names the file and the
// reason, in one line of valid UTF-8 in the project's words.

#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "gradcheck/errors.hpp"
#include "gradcheck/logs/readers.hpp"
#include "gradcheck/utf8.hpp"
#include "support/matchers.hpp"

namespace logs_test {

// Expects `read` to throw an InputError about `file` whose message holds
// `reason`: one line of valid UTF-8 without control characters or the JSON
// library's tag.
inline void expect_refused(const std::function<void()>& read, const std::string& file, const std::string& reason) {
  using gradcheck::test::IsPrintableUtf8;
  using gradcheck::test::MessageMatches;
  INFO("file " << file << ", expected reason containing: " << reason);
  CHECK_THROWS_MATCHES(read(), gradcheck::InputError,
                       MessageMatches(Catch::StartsWith(gradcheck::escape_invalid_utf8(file) + ": ") &&
                                      Catch::Contains(reason) && IsPrintableUtf8() &&
                                      !Catch::Contains("json.exception")));
}

// Expects read_log(path) to refuse the file with `reason`.
inline void expect_refused(const std::string& path, const std::string& reason) {
  expect_refused([&] { (void)gradcheck::logs::read_log(path); }, path, reason);
}

}  // namespace logs_test
