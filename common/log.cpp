#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/env.hpp"

namespace bitjit {
namespace {

std::shared_ptr<spdlog::logger> make_logger() {
  auto logger = spdlog::stderr_color_mt("bitjit");
  logger->set_pattern("[bitjit %^%l%$] %v");
  spdlog::level::level_enum level = spdlog::level::warn;
  if (auto name = env::log_level()) {
    level = spdlog::level::from_str(*name);
    // from_str answers "off" for names it does not know; say so rather than go quiet.
    if (level == spdlog::level::off && *name != "off") {
      logger->warn("BITJIT_LOG_LEVEL='{}' is not one of trace, debug, info, warn, error, critical, off; using warn", *name);
      level = spdlog::level::warn;
    }
  }
  logger->set_level(level);
  return logger;
}

}  // namespace

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = make_logger();
  return *logger;
}

}  // namespace bitjit
