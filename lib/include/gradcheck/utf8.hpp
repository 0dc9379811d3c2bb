#pragma once
// Text read from users' files (tensor and column names, JSON keys, paths,
// plugins' strings) and messages of third-party libraries end up in one-line
// messages, text reports, JSON and HTML, which hold only valid UTF-8; names
// must also not carry control characters (a newline in a name would forge
// report lines).

#include <string>
#include <string_view>

namespace gradcheck {

/// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
/// With `printable`, also no C0 controls, DEL or C1 controls (U+0080..U+009F).
bool valid_utf8(std::string_view s, bool printable = false);

/// `s` with valid UTF-8 kept and every byte that is not part of a valid
/// sequence written as `\xNN` (two lowercase hex digits). With `printable`
/// (the default: one-line messages and names), C0 controls, DEL and C1 controls
/// are written that way too, byte by byte (a newline becomes `\x0a`). The
/// result always passes valid_utf8(result, printable); text that already does
/// is returned unchanged.
std::string escape_invalid_utf8(std::string_view s, bool printable = true);

}  // namespace gradcheck
