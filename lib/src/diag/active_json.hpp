#pragma once
// ModelActive as JSON text: how a child process hands its results to the
// parent, and the objects of the report's "active" array. Private to the
// active module (nlohmann_json stays out of public headers).

#include <string>
#include <string_view>

#include "gradcheck/diag/active.hpp"

namespace gradcheck::diag::detail {

/// Non-finite numbers become null; model_from_json reads null back as NaN.
std::string model_to_json(const ModelActive& m);
ModelActive model_from_json(std::string_view text);

}  // namespace gradcheck::diag::detail
