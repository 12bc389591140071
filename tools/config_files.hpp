#pragma once
// Reading configs and schedules from JSON files; every error names the file (and entry).
#include <optional>
#include <string>
#include <vector>

#include "compiler/config.hpp"
#include "compiler/schedule.hpp"

namespace bitjit::cli {

// A file holding one config object.
MatmulConfig read_single_config(const std::string& path);
// A file holding a list of configs ([...] or {"configs": [...]}) or a single config object.
std::vector<MatmulConfig> read_config_list(const std::string& path);
TileSchedule read_schedule(const std::string& path);
// Reports a bad --arch as a usage error (exit 2).
void check_arch_for_cli(const std::string& arch);
// --arch values, checked; without any, the current GPU's arch (a usage error without a GPU).
std::vector<std::string> arches_or_current_gpu(const std::vector<std::string>& named);
// --cache-dir DIR: the kernel database the command works on (it sets BITJIT_CACHE_DIR).
void use_cache_dir(const std::optional<std::string>& dir);

}  // namespace bitjit::cli
