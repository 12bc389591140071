#include "compiler/arch.hpp"

#include "common/error.hpp"

namespace bitjit {

ArchLimits arch_limits(const std::string& arch) {
  // Opt-in shared memory per block from the CUDA programming guide's compute-capability table;
  // SM counts of A100, A10 / RTX 3090-class (sm_86), L40S (sm_89), H100 SXM; fp8 mma.sync from
  // sm_89 (PTX ISA).
  if (arch == "sm_80") return {166912, 108, false};
  if (arch == "sm_86") return {101376, 84, false};
  if (arch == "sm_89") return {101376, 142, true};
  if (arch == "sm_90a") return {232448, 132, true};
  throw ConfigError("arch='" + arch + "' is not supported; allowed: sm_80, sm_86, sm_89, sm_90a");
}

}  // namespace bitjit
