#include "tools/config_files.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.hpp"
#include "runtime/nvrtc.hpp"
#include "tools/cli.hpp"

namespace bitjit::cli {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw UsageError{"cannot open " + path};
  std::stringstream text;
  text << file.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& error) {
    throw UsageError{path + ": not valid JSON: " + error.what()};
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

}  // namespace bitjit::cli
