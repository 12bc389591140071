#pragma once
// Compiled kernels kept for the life of the process, keyed by everything that changes the binary
// (source, arch, flags, NVRTC version): the same generated source is compiled once per process.
#include <memory>
#include <string>

#include "compiler/lower.hpp"
#include "runtime/nvrtc.hpp"

namespace bitjit {

struct GeneratedKernel {
  KernelPlan plan;
  std::string source;
  std::string file_name;   // bitjit_<key prefix>.cu, used for dumps and errors
  std::string key;         // SHA-256 over source, arch, flags and NVRTC version
  std::shared_ptr<const CompiledKernel> binary;
};

// Lowers, emits and compiles (or finds the compiled binary in this process's cache).
GeneratedKernel generate_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

// Lowers and emits without compiling (codegen only).
GeneratedKernel emit_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

}  // namespace bitjit
