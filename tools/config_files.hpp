#pragma once
// Reading configs and schedules from JSON files; every error names the file (and entry).
#include <string>
#include <vector>

#include "compiler/config.hpp"
#include "compiler/schedule.hpp"

namespace bitjit::cli {

// A file holding one config object.
MatmulConfig read_single_config(const std::string& path);
TileSchedule read_schedule(const std::string& path);
// Reports a bad --arch as a usage error (exit 2).
void check_arch_for_cli(const std::string& arch);

}  // namespace bitjit::cli
