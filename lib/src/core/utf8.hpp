#pragma once
// Text read from users' files ends up in one-line messages, text reports and
// JSON, which hold only valid UTF-8; names must also not carry control
// characters (a newline in a name would forge report lines).

#include <string_view>

namespace gradcheck::internal {

/// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
/// With `printable`, also no C0 controls, DEL or C1 controls (U+0080..U+009F).
bool valid_utf8(std::string_view s, bool printable = false);

}  // namespace gradcheck::internal
