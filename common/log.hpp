#pragma once
// bitjit's logger: spdlog, level from BITJIT_LOG_LEVEL (default warn), messages on stderr.
#include <spdlog/spdlog.h>

namespace bitjit {

spdlog::logger& log();

}  // namespace bitjit
