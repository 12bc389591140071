#pragma once
// Where compiled kernels come from, cheapest first: this process's cache, the on-disk kernel
// database (tuning_db/), NVRTC. The key hashes everything that changes the binary: the generated
// source (which spells out config and schedule), the canonical config and schedule, the arch with
// its suffix, the NVRTC version, bitjit's version, the template headers and the compile flags.
#include <memory>
#include <string>

#include "compiler/lower.hpp"
#include "runtime/nvrtc.hpp"

namespace bitjit {

// Where generate_kernel found the binary.
enum class KernelSource { process_cache, database, compiled };

struct GeneratedKernel {
  KernelPlan plan;
  std::string source;
  std::string file_name;   // bitjit_<key prefix>.cu, used for dumps and errors
  std::string key;         // the database key (SHA-256, hex)
  std::shared_ptr<const CompiledKernel> binary;
  KernelSource origin = KernelSource::compiled;
};

// Lowers, emits, and finds or compiles the binary (storing a fresh compile in the database).
GeneratedKernel generate_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

// Lowers and emits without compiling (codegen only).
GeneratedKernel emit_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

// SHA-256 of every embedded template header (names and contents), part of every key.
const std::string& templates_sha256();

// Empties this process's cache, so the next generate_kernel goes to the database (benchmarks of
// the warm path; tests).
void forget_process_kernels();

}  // namespace bitjit
