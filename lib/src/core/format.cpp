#include "format.hpp"

#include <array>
#include <charconv>
#include <vector>

namespace gradcheck::internal {
namespace {

// std::to_chars with a precision writes what printf writes in the "C" locale.
std::string to_text(double v, std::chars_format format, int precision) {
  std::array<char, 64> small;
  auto r = std::to_chars(small.data(), small.data() + small.size(), v, format, precision);
  if (r.ec == std::errc()) return std::string(small.data(), r.ptr);
  // Fixed notation of a large number: up to 309 digits before the point.
  std::vector<char> large(400 + static_cast<std::size_t>(precision));
  r = std::to_chars(large.data(), large.data() + large.size(), v, format, precision);
  return std::string(large.data(), r.ptr);
}

}  // namespace

std::string general(double v, int digits) { return to_text(v, std::chars_format::general, digits); }
std::string fixed(double v, int decimals) { return to_text(v, std::chars_format::fixed, decimals); }
std::string scientific(double v, int decimals) { return to_text(v, std::chars_format::scientific, decimals); }
std::string percent(double fraction, int decimals) { return fixed(100 * fraction, decimals) + "%"; }

std::string shape_text(const std::vector<std::int64_t>& shape, char separator) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += separator;
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace gradcheck::internal
