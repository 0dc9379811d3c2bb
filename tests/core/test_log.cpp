// The library's named loggers and SPDLOG_LEVEL (lib/src/core/log.hpp).
#include <cstdlib>

#include <catch2/catch.hpp>

#include "core/log.hpp"

TEST_CASE("the library's loggers are named per module and take their levels from SPDLOG_LEVEL", "[log]") {
  // Read once, before the first logger is made: this test makes the first ones.
  ::setenv("SPDLOG_LEVEL", "gradcheck.monitor=off,gradcheck.active=debug", 1);
  const auto monitor = gradcheck::internal::logger("monitor");
  CHECK(monitor->name() == "gradcheck.monitor");
  CHECK(monitor->level() == spdlog::level::off);
  CHECK(gradcheck::internal::logger("active")->level() == spdlog::level::debug);
  CHECK(gradcheck::internal::logger("monitor") == monitor);
  ::unsetenv("SPDLOG_LEVEL");
}
