#include "tools/config_files.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/arch.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/nvrtc.hpp"
#include "tools/cli.hpp"

namespace bitjit::cli {
namespace {

// A user's file: bounded in size and depth, duplicate keys refused; every error is exit 2 naming it.
nlohmann::json read_json(const std::string& path) {
  try {
    return read_json_file(path);
  } catch (const ConfigError& error) {
    throw UsageError{error.what()};
  }
}

}  // namespace

MatmulConfig read_single_config(const std::string& path) {
  const nlohmann::json json = read_json(path);
  if (json.is_array()) throw UsageError{path + ": holds a list of configs; this command takes one config object"};
  try {
    return config_from_json(json);
  } catch (const ConfigError& error) {
    throw UsageError{path + ": " + error.what()};
  }
}

std::vector<MatmulConfig> read_config_list(const std::string& path) {
  const nlohmann::json json = read_json(path);
  const nlohmann::json* list = &json;
  if (json.is_object() && json.contains("configs")) list = &json["configs"];
  if (!list->is_array()) return {read_single_config(path)};
  if (list->empty()) throw UsageError{path + ": the list of configs is empty"};
  std::vector<MatmulConfig> configs;
  for (size_t i = 0; i < list->size(); ++i) {
    try {
      configs.push_back(config_from_json((*list)[i]));
    } catch (const ConfigError& error) {
      throw UsageError{path + ": config #" + std::to_string(i) + " (counting from 0): " + error.what()};
    }
  }
  return configs;
}

TileSchedule read_schedule(const std::string& path) {
  try {
    return schedule_from_json(read_json(path));
  } catch (const ConfigError& error) {
    throw UsageError{path + ": " + error.what()};
  }
}

void check_arch_for_cli(const std::string& arch) {
  try {
    check_arch(arch);
  } catch (const ConfigError& error) {
    throw UsageError{error.what()};
  }
}

std::vector<std::string> arches_or_current_gpu(const std::vector<std::string>& named) {
  for (const std::string& arch : named) check_arch_for_cli(arch);
  if (!named.empty()) return named;
  if (!Driver::get().available()) {
    throw UsageError{"--arch is required on a machine without a GPU (" + Driver::get().unavailable_reason() + ")"};
  }
  ensure_context();
  return {current_device_info().arch()};
}

void use_cache_dir(const std::optional<std::string>& dir) {
  if (!dir) return;
  if (dir->empty()) throw UsageError{"--cache-dir needs a directory"};
  setenv("BITJIT_CACHE_DIR", dir->c_str(), 1);
}

}  // namespace bitjit::cli
