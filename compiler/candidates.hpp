#pragma once
// Tuning candidates: every legal TileSchedule worth timing for a config, ranked by a cost model, so
// that hardware_aware_finetune times only the top few and the default is the model's first choice
// among the hand-set shapes. The model is deliberately simple (it only has to order candidates):
//   time = max(DRAM bytes / DRAM bandwidth, L2 bytes / L2 bandwidth, tensor work / issue rate)
//          / wave efficiency
// with the tensor-core issue rate scaled by the warps an SM keeps resident and by the decode and
// shared-memory instructions each mma needs (fewer per mma with larger warp tiles).
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/config.hpp"
#include "compiler/schedule.hpp"

namespace bitjit {

// What the cost model needs to know about the GPU. from_arch fills them from the arch table's
// reference part (compiler/arch.hpp); the runtime fills what the driver knows (runtime/tuning.cpp).
struct TargetDevice {
  std::string arch;
  int sm_count = 0;
  int shared_bytes_per_sm = 0;
  int shared_bytes_per_block = 0;
  int registers_per_sm = 0;
  double dram_gbps = 0.0;        // bytes per ns
  double l2_gbps = 0.0;
  double mma_tflops = 0.0;       // dense fp16 mma.sync, float32 accumulation
  double wgmma_tflops = 0.0;     // dense fp16 wgmma (0 without it)
  double clock_ghz = 0.0;
  static TargetDevice from_arch(const std::string& arch);
};

struct RankedSchedule {
  TileSchedule schedule;
  double predicted_us = 0.0;
};

// The legal schedules of every family that serves the config, for calls of `rows` rows, best
// predicted first. Never empty for a valid config (the simt family serves every config).
std::vector<RankedSchedule> candidate_schedules(const MatmulConfig& config, const TargetDevice& device, int64_t rows);

// The ranked schedules in the order the tuner times them: the best of each tile geometry (family,
// tile, warps, slices of K) first, in the model's order, then the second best of each, and so on;
// within a geometry the model's order stays. The model scores schedules that differ only in stages,
// k per stage or round, or tile order alike or nearly so, so its plain order would spend a small top k
// on one geometry's variants (70B gate_up at 256 rows: its first 30 are two tiles).
std::vector<RankedSchedule> timing_order(const std::vector<RankedSchedule>& ranked);

// The model's estimate for one schedule (microseconds).
double predicted_microseconds(const MatmulConfig& config, const TileSchedule& schedule, const TargetDevice& device,
                              int64_t rows);

}  // namespace bitjit
