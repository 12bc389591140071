#include "common/env.hpp"

#include <cstdlib>

#include "common/error.hpp"

namespace bitjit::env {
namespace {

std::optional<std::string> read(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

}  // namespace

std::optional<std::string> log_level() { return read("BITJIT_LOG_LEVEL"); }
std::optional<std::string> dump_dir() { return read("BITJIT_DUMP_DIR"); }

std::string cache_dir() {
  if (auto dir = read("BITJIT_CACHE_DIR")) return *dir;
  if (auto xdg = read("XDG_CACHE_HOME")) return *xdg + "/bitjit";
  if (auto home = read("HOME")) return *home + "/.cache/bitjit";
  return ".bitjit-cache";
}

std::optional<std::string> cuda_home() {
  if (auto home = read("CUDA_HOME")) return home;
  return read("CUDA_PATH");
}

std::optional<std::string> nvrtc_library() { return read("BITJIT_NVRTC_LIBRARY"); }

int device_ordinal() {
  auto value = read("BITJIT_DEVICE");
  if (!value) return 0;
  try {
    size_t used = 0;
    int ordinal = std::stoi(*value, &used);
    if (used == value->size() && ordinal >= 0) return ordinal;
  } catch (const std::exception&) {
  }
  throw ConfigError("BITJIT_DEVICE='" + *value + "' is not a device ordinal (0, 1, ...)");
}

}  // namespace bitjit::env
