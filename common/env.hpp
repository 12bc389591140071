#pragma once
// Every environment variable bitjit reads is read here, and listed in docs/environment.md.
#include <optional>
#include <string>

namespace bitjit::env {

// BITJIT_LOG_LEVEL: trace, debug, info, warn (default), error, critical, off.
std::optional<std::string> log_level();
// BITJIT_DUMP_DIR: when set, every generated source, its flags and its compile log go there.
std::optional<std::string> dump_dir();
// BITJIT_CACHE_DIR, else $XDG_CACHE_HOME/bitjit, else $HOME/.cache/bitjit.
std::string cache_dir();
// CUDA_HOME, else CUDA_PATH: the toolkit root, one of the places NVRTC is looked for (lib64/, lib/).
std::optional<std::string> cuda_home();
// BITJIT_NVRTC_LIBRARY: the NVRTC library to load, tried before any other place.
std::optional<std::string> nvrtc_library();
// BITJIT_DEVICE: the CUDA device ordinal bitjit runs on when no context is current (default 0).
int device_ordinal();

}  // namespace bitjit::env
