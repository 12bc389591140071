#pragma once
// The one table of GPU architecture facts. Validation, the default schedules, the tuner's cost model,
// NVRTC's target and the device-to-target mapping all read a row of it, so supporting another arch
// is adding a row; its capabilities decide which kernel families it gets (docs/architecture.md).
#include <string>
#include <vector>

namespace bitjit {

// Figures of the arch's reference part: the default schedules and the cost model use them when no
// device is asked (the runtime replaces the SM count and shared memory with the driver's).
struct ReferencePart {
  const char* name;
  int sm_count;
  double dram_gbps;     // bytes per ns
  double l2_gbps;
  double mma_tflops;    // dense fp16 mma.sync, float32 accumulation
  double wgmma_tflops;  // dense fp16 wgmma; 0 without wgmma
  double clock_ghz;
};

struct ArchInfo {
  const char* name;  // the NVRTC target, and what users pass as `arch`: "sm_90a"
  // The compute capability of the devices that run the target's cubins. A target with the "a"
  // suffix (arch-specific: it enables the instructions of that arch alone) runs on exactly this one.
  int cc_major;
  int cc_minor;
  int shared_bytes_per_block;  // dynamic + static shared memory one block may use after the opt-in
  int shared_bytes_per_sm;
  int registers_per_sm;        // 32-bit registers
  int max_registers_per_thread;
  bool has_fp8_mma;  // mma.sync on e4m3 / e5m2 operands
  bool has_wgmma;    // wgmma.mma_async and setmaxnreg (sm_90a code only)
  bool has_tma;      // cp.async.bulk.tensor and mbarrier transaction counts
  ReferencePart reference;
};

// Every row, in the order error messages list them.
const std::vector<ArchInfo>& arch_table();
// The rows' names: {"sm_80", "sm_86", ...}.
const std::vector<std::string>& supported_archs();
// The row of `arch`. Throws ConfigError "arch='sm_75' is not supported; allowed: sm_80, ..." for a
// name not in the table.
const ArchInfo& arch_info(const std::string& arch);
// Throws as arch_info does.
void check_arch(const std::string& arch);
// The names of the rows that have a capability, comma-separated, for error messages:
// archs_with(&ArchInfo::has_wgmma) == "sm_90a"; every row's with nullptr.
std::string archs_with(bool ArchInfo::*capability);
// The target for a device of compute capability major.minor: its row's name, or "sm_<major><minor>"
// (which check_arch rejects, naming the supported ones) for a capability not in the table.
std::string arch_for_compute_capability(int major, int minor);
// The virtual arch whose PTX the target assembles: "sm_90a" -> "compute_90a".
std::string virtual_arch(const std::string& arch);

}  // namespace bitjit
