#include "compiler/arch.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace bitjit {

// Shared memory and registers: the CUDA programming guide's table of compute capabilities (the
// per-block figure is the opt-in maximum). Instructions: the PTX ISA (fp8 mma.sync from sm_89;
// wgmma and setmaxnreg only in sm_90a code, so no later arch has them; TMA from sm_90). Reference
// parts, measured or datasheet figures: A100 SXM; A10's bandwidth and mma rate with the 84 SMs of
// the big sm_86 part (A40); L40S; H100 SXM, whose mma.sync reaches about 60 % of wgmma's dense peak;
// B200; RTX PRO 6000 Blackwell Server Edition. The two Blackwell rows' L2 and mma.sync rates and
// clocks are estimates, never measured with bitjit: they only order tuning candidates there.
const std::vector<ArchInfo>& arch_table() {
  static const std::vector<ArchInfo> table = {
      // name     cc    smem/block  smem/SM  regs/SM  regs/thread  fp8 mma wgmma  TMA
      //          reference part: name, SMs, DRAM GB/s, L2 GB/s, mma.sync TFLOP/s, wgmma TFLOP/s, GHz
      {"sm_80", 8, 0, 166912, 167936, 65536, 255, false, false, false, {"A100 SXM", 108, 1555, 4000, 312, 0, 1.41}},
      {"sm_86", 8, 6, 101376, 102400, 65536, 255, false, false, false, {"A10 / A40", 84, 600, 1500, 70, 0, 1.70}},
      {"sm_89", 8, 9, 101376, 102400, 65536, 255, true, false, false, {"L40S", 142, 864, 3000, 181, 0, 2.52}},
      {"sm_90a", 9, 0, 232448, 233472, 65536, 255, true, true, true, {"H100 SXM", 132, 3000, 5500, 600, 990, 1.755}},
      {"sm_100a", 10, 0, 232448, 233472, 65536, 255, true, false, true, {"B200", 148, 8000, 10000, 600, 0, 1.9}},
      {"sm_120a", 12, 0, 101376, 102400, 65536, 255, true, false, true,
       {"RTX PRO 6000 Blackwell Server Edition", 188, 1597, 4000, 500, 0, 2.4}},
  };
  return table;
}

const std::vector<std::string>& supported_archs() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const ArchInfo& arch : arch_table()) result.push_back(arch.name);
    return result;
  }();
  return names;
}

std::string archs_with(bool ArchInfo::*capability) {
  std::string names;
  for (const ArchInfo& arch : arch_table()) {
    if (!capability || arch.*capability) names += (names.empty() ? "" : ", ") + std::string(arch.name);
  }
  return names;
}

const ArchInfo& arch_info(const std::string& arch) {
  const std::vector<ArchInfo>& table = arch_table();
  const auto found = std::find_if(table.begin(), table.end(), [&](const ArchInfo& row) { return arch == row.name; });
  if (found != table.end()) return *found;
  throw ConfigError("arch='" + arch + "' is not supported; allowed: " + archs_with(nullptr));
}

void check_arch(const std::string& arch) { (void)arch_info(arch); }

std::string arch_for_compute_capability(int major, int minor) {
  for (const ArchInfo& arch : arch_table()) {
    if (arch.cc_major == major && arch.cc_minor == minor) return arch.name;
  }
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

std::string virtual_arch(const std::string& arch) { return "compute_" + std::string(arch_info(arch).name).substr(3); }

}  // namespace bitjit
