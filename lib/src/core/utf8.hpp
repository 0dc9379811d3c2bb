#pragma once
// Text read from users' files ends up in one-line messages, text reports and
// JSON, which hold only valid UTF-8; names must also not carry control
// characters (a newline in a name would forge report lines). The functions are
// public (gradcheck/utf8.hpp) so the fuzz targets and tests check with them.

#include "gradcheck/utf8.hpp"

namespace gradcheck::internal {

using gradcheck::escape_invalid_utf8;
using gradcheck::valid_utf8;

}  // namespace gradcheck::internal
