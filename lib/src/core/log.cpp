#include "log.hpp"

#include <mutex>

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace gradcheck::internal {

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  static std::once_flag env_read;
  // Levels set from the environment before a logger exists apply to it when
  // spdlog's registry initialises it.
  std::call_once(env_read, [] { spdlog::cfg::load_env_levels(); });
  static std::mutex made;
  std::lock_guard<std::mutex> lock(made);
  const std::string name = "gradcheck." + module;
  if (auto existing = spdlog::get(name)) return existing;
  return spdlog::stderr_color_mt(name);
}

}  // namespace gradcheck::internal
