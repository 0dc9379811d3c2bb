// Test helper for the HTML tests: how often a marker occurs in a page.
#pragma once

#include <cstddef>
#include <string>

namespace gradcheck::html::test {

// Non-overlapping occurrences of `what` in `s`.
inline std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

}  // namespace gradcheck::html::test
