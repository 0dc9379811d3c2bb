#pragma once
// Private: numbers as text, in one place for every report (text, HTML,
// evidence and hints). Each function writes what std::printf would with the
// format named beside it, but through std::to_chars, so the bytes never depend
// on the locale a program that links the library may have set. JSON numbers
// (null when not finite) are json_number in json_out.hpp.

#include <cstdint>
#include <string>
#include <vector>

namespace gradcheck::internal {

/// printf("%.*g", digits, v): up to `digits` significant digits (1 when 0),
/// "inf", "-inf", "nan" as printf spells them.
std::string general(double v, int digits);
/// printf("%.*f", decimals, v).
std::string fixed(double v, int decimals);
/// printf("%.*e", decimals, v).
std::string scientific(double v, int decimals);
/// A fraction as a percentage: fixed(100 * fraction, decimals) + "%".
std::string percent(double fraction, int decimals);
/// A tensor's shape in brackets, its sizes joined by `separator`: "[3x4]" with
/// 'x', "[3,4]" with ','; "[]" for a scalar.
std::string shape_text(const std::vector<std::int64_t>& shape, char separator);

}  // namespace gradcheck::internal
