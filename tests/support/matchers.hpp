#pragma once
// Catch2 matchers the tests share. With CHECK_THROWS_MATCHES an exception's
// type and message are checked in one assertion, and a failure prints the
// message (Catch2 shows an exception by its what()):
//
//   CHECK_THROWS_MATCHES(read_csv(path), gradcheck::InputError,
//                        MessageMatches(Catch::Contains(path) && Catch::Contains("line 3")));

#include <catch2/catch.hpp>

#include <exception>
#include <string>

#include "gradcheck/utf8.hpp"

namespace gradcheck::test {

/// An exception whose what() satisfies a string matcher.
template <class StringMatcher>
class MessageMatcher : public Catch::MatcherBase<std::exception> {
 public:
  explicit MessageMatcher(const StringMatcher& text) : text_(text) {}
  bool match(const std::exception& e) const override { return text_.match(e.what()); }
  std::string describe() const override { return "has a message that " + text_.describe(); }

 private:
  // A copy; a combined matcher (a && b) refers to its parts, which live until
  // the end of the assertion that builds them, as this matcher does.
  StringMatcher text_;
};

/// An exception whose message satisfies `text` (Catch::Contains, Catch::Equals,
/// their combinations with && || !, IsPrintableUtf8()).
template <class StringMatcher>
MessageMatcher<StringMatcher> MessageMatches(const StringMatcher& text) {
  return MessageMatcher<StringMatcher>(text);
}

/// Text that is valid UTF-8 without control characters (gradcheck::valid_utf8
/// with printable): what every one-line message of the project must be.
inline Catch::Matchers::Generic::PredicateMatcher<std::string> IsPrintableUtf8() {
  return Catch::Predicate<std::string>(
      [](const std::string& s) { return gradcheck::valid_utf8(s, /*printable=*/true); }, "is printable valid UTF-8");
}

}  // namespace gradcheck::test
