#pragma once
// The tile-scheduling IR: a TileSchedule says how one kernel family tiles the problem. It is plain
// data with a canonical, hashable JSON form; lowering (compiler/lower.hpp) is a pure function of
// (config, schedule, arch). What each family makes of the fields, its validation and its defaults
// live in compiler/families/ (family.hpp: the table); the functions below look the family up there.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "compiler/config.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {

enum class KernelFamily : uint8_t {
  simt,  // CUDA-core FMA; correct for every accepted config, the baseline the others must match
  gemv,  // fp16/bf16 activations, float accumulation: streams the packed weights for small M
  tensor_gemv,  // the same job with mma.sync: weights decoded in pairs, read in the mma_runs layout
  tensor_gemm,  // M >= 16: tiles of A and W staged through a cp.async ring, the tensor_gemv mma per warp tile
  tensor_wgmma,  // sm_90a: the same ring, weights decoded into wgmma's register operand, wgmma per
                 // warpgroup
  tensor_wgmma_ws,  // sm_90a: tensor_wgmma's decode and wgmma (or its W8A8 wgmma), warp-specialized: a
                    // producer warpgroup fills the ring by TMA on mbarriers for consumer warpgroups, on
                    // a persistent grid
};
// The families whose fp16/bf16 kernels read the mma_fragments layout (weights decoded into wgmma's
// register operand).
bool reads_wgmma_fragments(KernelFamily family);
std::string_view to_string(KernelFamily family);

struct TileSchedule {
  KernelFamily family = KernelFamily::simt;
  int threads = 128;     // threads per block (a multiple of 32)
  int block_m = 4;       // rows of C per block
  int block_n = 8;       // columns of C per block
  int block_k = 0;       // K per main-loop step (0: the family streams all of K; no tiling in K);
                         // tensor_gemv: K one warp covers per round of loads (loads in flight);
                         // tensor_gemm: K per pipeline stage
  int warp_m = 1;        // warps along M inside a block
  int warp_n = 4;        // warps along N inside a block
  int stages = 1;        // shared-memory pipeline depth (1: no pipelining)
  int split_k = 1;       // K slices computed by separate blocks and summed
  int swizzle = 1;       // thread-block rasterization group (1: row-major order); tensor_wgmma_ws: row
                         // blocks per group of the persistent grid's tile order
  int vector_bytes = 4;  // bytes of packed W each thread loads at once (1, 2, 4, 8, 16)
  int wgmma_group = 1;   // tensor_wgmma / tensor_wgmma_ws with fp16 / bf16 activations: 16-k steps decoded
                         // first and issued as one wgmma group (1, 2, 4, 8); in the JSON only when not 1
};

// Throws ConfigError naming the field when the schedule cannot run the config on the arch.
void validate_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);
// validate_schedule as a yes / no answer.
bool is_valid_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

nlohmann::json to_json(const TileSchedule& schedule);
TileSchedule schedule_from_json(const nlohmann::json& json);
std::string canonical_form(const TileSchedule& schedule);

// Defined with the selection policy in compiler/families/select.cpp:
// The mma_runs parameters the family's kernels read for this config: fragment_order_layout for
// tensor_wgmma, mma_run_layout for the others; nullopt where they read the general layout.
std::optional<MmaRunLayout> family_layout(const MatmulConfig& config, KernelFamily family);
// The weight layout the family's kernels read (what Matmul::transform_weight must produce).
WeightLayout family_weight_layout(const MatmulConfig& config, KernelFamily family);

// Static shared memory of the schedule's kernel for the config: tables, alignment, barriers, the
// warps' sums (each family's file says which; tests/compiler/test_shared_memory.cpp compares it with
// the compiled kernels').
int static_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule);
// Dynamic shared memory per block of the schedule's kernel (the staged families' ring; 0 for the
// others).
int dynamic_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule);

// The schedule bitjit uses when nothing was tuned: legal for the config, chosen from its shape.
TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch);
// The same for calls of `rows` rows (one bucket of a dynamic M); the weight layout stays the config's.
TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch, int64_t rows);
// The distinct default schedules over the config's M buckets (one for a static M): what Matmul::create
// compiles when nothing was tuned.
std::vector<TileSchedule> default_bucket_schedules(const MatmulConfig& config, const std::string& arch);

}  // namespace bitjit
