#pragma once
// The HTML report of `gradcheck --html FILE`.

#include <string>

#include "gradcheck/host/plugin_check.hpp"

namespace gradcheck::html {

/// One self-contained page (page.hpp) for a PluginReport: the plugin's verdict
/// line first; a table of the models; per model its verdict, a log-scale bar per
/// tensor of the largest relative error (|analytic - numeric| / scale) against
/// the tensor's largest relative error bound, a scatter of analytic against
/// numeric derivatives for the entries the checker kept (BlockResult::worst,
/// the most suspicious ones, coloured by verdict, with the y = x diagonal: a
/// mismatch sits off it), the worst-entry table and hint of each tensor that is
/// not ok, problems and notes; or the load failure.
std::string gradcheck_page(const host::PluginReport& report);

}  // namespace gradcheck::html
