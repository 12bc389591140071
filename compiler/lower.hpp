#pragma once
// Lowering: (MatmulConfig, TileSchedule, arch) -> KernelPlan -> CUDA C. Both steps are pure functions.
// The plan is the kernel described as data (formats bound to roles, compile-time constants, the
// pipeline's stages, launch geometry, pointer alignment); emission only prints it as a small
// translation unit that instantiates one family template from templates/.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/config.hpp"
#include "compiler/schedule.hpp"

namespace bitjit {

// One compile-time constant of the generated Problem or Tiles struct.
struct PlanConstant {
  std::string type;     // C++ type in device code
  std::string name;
  std::string value;
  std::string comment;  // why it has this value, for the reader of the generated code
};

// A stage of the kernel's pipeline (load A, load W, dequant, multiply-accumulate, epilogue), named
// so generated code and logs can say what each step does under this schedule.
struct PlanStage {
  std::string name;
  std::string detail;
};

struct KernelPlan {
  MatmulConfig config;
  TileSchedule schedule;
  std::string arch;
  std::string family_header;                        // e.g. "bitjit/kernels/simt_matmul.cuh"
  std::string family_function;                      // e.g. "bitjit::simt_matmul"
  std::vector<std::pair<std::string, std::string>> formats;  // role alias -> device format / type
  std::vector<PlanConstant> problem_constants;
  std::vector<PlanConstant> tile_constants;
  std::vector<PlanStage> stages;
  int threads_per_block = 0;
  // Byte alignment each operand pointer needs: A, W, scales, zeros, bias, C.
  std::array<int, 6> alignment{};
  // The kernel takes a second parameter, TensorMaps (core/matmul_params.cuh), encoded per launch.
  bool tensor_maps = false;
  // Launched as a programmatic dependent launch: the kernel waits for the grid before it in the
  // stream itself (wait_for_prior_grids, ptx/griddepcontrol.cuh) before touching global memory, so its blocks may
  // start and set up while that grid finishes.
  bool programmatic_launch = false;
};

KernelPlan plan_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

// The name of the kernel function every generated module exports.
inline constexpr const char* kKernelName = "bitjit_matmul";

std::string emit_cuda(const KernelPlan& plan);

struct LaunchShape {
  std::array<uint32_t, 3> grid{1, 1, 1};
  std::array<uint32_t, 3> block{1, 1, 1};
  uint32_t shared_bytes = 0;     // dynamic shared memory
  int64_t workspace_bytes = 0;   // split-K / stream-K: the 32-bit partial sums the launch needs (MatmulParams::workspace)
  int64_t tile_counters = 0;     // split-K / stream-K: zeroed counters it needs (MatmulParams::tile_counters)
  int64_t stream_k_tiles = 0;    // tensor_wgmma_ws: tiles shared out by k-stages (MatmulParams::stream_k_tiles)
  uint32_t cluster = 1;          // blocks per thread-block cluster along x (TileSchedule::Launch::cluster_n)
};
// The tiles of `tiles` tensor_wgmma_ws shares out by k-stages (stream-K) on `multiprocessors` SMs
// rather than giving whole: the launch's LaunchShape::stream_k_tiles (compiler/families/tensor_wgmma_ws.cpp).
int64_t stream_k_tiles(int64_t tiles, int block_m, int multiprocessors);
// The fewest k-stages a stream-K share holds where there are fewer tiles than SMs: a smaller share
// would spend more on adding pieces than it saves.
constexpr int kLeastStreamKShare = 4;

// `multiprocessors`: the GPU's SM count, which sizes the persistent grid of tensor_wgmma_ws (the
// other families' grids follow the problem alone).
LaunchShape launch_shape(const KernelPlan& plan, int64_t M, int multiprocessors = 0);

}  // namespace bitjit
