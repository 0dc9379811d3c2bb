#pragma once
// The library's loggers: one named spdlog logger per module ("gradcheck.<module>"),
// writing to stderr, with levels from the environment as spdlog reads them:
// SPDLOG_LEVEL=debug, or per logger, SPDLOG_LEVEL=gradcheck.monitor=off,warn.

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace gradcheck::internal {

/// The logger "gradcheck.<module>", made on first use; SPDLOG_LEVEL is read
/// once, before the first of them is made.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

}  // namespace gradcheck::internal
