#pragma once
// What the compiler needs to know about each supported arch to choose and check tile schedules
// without a GPU (the runtime asks the driver for the rest).
#include <string>

namespace bitjit {

struct ArchLimits {
  int shared_bytes_per_block;  // dynamic + static shared memory one block may use after the opt-in
  int typical_sm_count;        // SMs of the arch's big data-center part, for filling the GPU with blocks
  bool fp8_mma;                // mma.sync on e4m3 / e5m2 operands (sm_89 and newer)
};

// Throws ConfigError naming the allowed archs for any other.
ArchLimits arch_limits(const std::string& arch);

}  // namespace bitjit
