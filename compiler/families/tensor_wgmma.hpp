#pragma once
// tensor_wgmma (sm_90a): tensor_gemm's cp.async ring, weights decoded straight into wgmma's register
// operand (the mma_fragments layout), wgmma per warpgroup of 64 channels; W8A8 configs (activations
// and weights of one 8-bit type) run kernels/tensor_wgmma_8bit.cuh instead, both operands from shared memory.
// tensor_wgmma_ws builds on both: the checks and pieces they share are declared here.
#include <optional>
#include <string>
#include <vector>

#include "compiler/arch.hpp"
#include "compiler/families/family.hpp"

namespace bitjit {

extern const KernelTraits kTensorWgmmaKernel;
extern const KernelTraits kTensorWgmma8bitKernel;
extern const KernelTraits kTensorWgmmaW4a8Kernel;  // compiler/families/w4a8.cpp

namespace families {

// The Hopper families' instructions exist only on the archs whose table row has them.
void require_capability(const std::string& arch, bool ArchInfo::*capability, const char* family, const char* what);
// The rows a Hopper kernel's tile may have (wgmma's N): 64, 128 or 256 (W8A8's byte rows also 192);
// the warp-specialized kernel decoding weights for fp16 / bf16 activations also 16 and 32, tiles for
// few rows that multiply no padding rows of a 64-row tile.
enum class WgmmaRows { hopper, also_few };
// The tile every Hopper kernel takes: wgmma's N rows as `rows` allows, 64 channels per (consumer)
// warpgroup.
void validate_wgmma_tile(const MatmulConfig& config, const TileSchedule& s, WgmmaRows rows = WgmmaRows::hopper);
// The warps of a Hopper tile: one warpgroup (4 warps) per 64 channels computes it, each warp 16 of them.
TileSchedule::Warps warpgroup_warps(const TileSchedule& s);
void require_warpgroup_warps(const TileSchedule& s);
// The layout the decoding Hopper kernels read for the config (wgmma_layout: mma_fragments, or
// mma_runs decoded in fragment order), or the reason why they cannot take it.
MmaRunLayout require_wgmma_layout(const MatmulConfig& config, const std::string& family);
// The wgmma group of the decoding Hopper kernels: whole groups per k-block of the weight layout.
void validate_wgmma_group(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout);
// W8A8 operands as both Hopper families multiply them: the accumulator of the type, no scales or
// zeros, K in whole 16-byte rows.
void require_byte_rows_operands(const MatmulConfig& config, const std::string& family);
// The W8A8 tile: 128-byte swizzle atoms of k per stage, fp8's two accumulator sets.
void require_byte_rows_tiles(const MatmulConfig& config, const TileSchedule& s);

// The warpgroup shape both tensor_wgmma kernels share.
void validate_warpgroups(const MatmulConfig& config, const TileSchedule& s);
// 128 k per stage, or one k-block where that is longer: the decoding Hopper defaults' stage.
int wgmma_k_per_stage(const MatmulConfig& config, const MmaRunLayout& layout);
// The schedule the Hopper candidates of a bucket vary: its default, or where that is another family's
// (which reads the same weights) a Hopper tile of the decoding default's stage and load width.
TileSchedule hopper_candidate_base(const MatmulConfig& config, const TileSchedule& fallback);
// tensor_wgmma's candidates around the bucket's Hopper default; split: K split too (float32 sums).
void add_wgmma_candidates(const TileSchedule& fallback, bool split, std::vector<TileSchedule>& out);
void tensor_wgmma_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch,
                            KernelFootprint& f);
// The tile both tensor_wgmma defaults end with (s has its family, rows, k per stage and load width):
// 128 channels on two warpgroups, 4 stages of stage_bytes (3 at 256 rows), fewer where shared memory
// runs out; below 3, k per stage halved down to shortest_k_per_stage (0: never), then rows, then
// channels.
TileSchedule fit_wgmma_tile(const MatmulConfig& config, const std::string& arch, TileSchedule s,
                            int (*stage_bytes)(const MatmulConfig&, const TileSchedule&), int shortest_k_per_stage = 0);
// Each tensor_wgmma entry point's own default (tensor_wgmma_ws's start from them); nullopt where it
// does not take the config.
std::optional<TileSchedule> default_tensor_wgmma_decoding(const MatmulConfig& config, const std::string& arch,
                                                          int64_t rows);
std::optional<TileSchedule> default_tensor_wgmma_8bit(const MatmulConfig& config, const std::string& arch, int64_t rows);
// The pair table, rounded up so the ring after it starts 1024-byte aligned (the 128-byte swizzle's
// atoms); static_shared_bytes adds the 1024 bytes ptxas reserves on sm_90a.
int hopper_static_shared_bytes(const MatmulConfig& config, const TileSchedule& s);
// Static variables of `variables_bytes`, rounded up to the ring's 1024-byte alignment.
int shared_before_aligned_ring(int variables_bytes);
int byte_rows_ring_bytes(const MatmulConfig& config, const TileSchedule& s);
// The share of wgmma's peak a tensor_wgmma_ws tile keeps busy, growing with wgmma N (block_m).
double wgmma_pipe_share(int block_m);
// The decoding kernels' tile constants (WgmmaDecodeWarp): tensor_gemm's, the fragment-order run and
// the stored one, the wgmma group.
std::vector<PlanConstant> wgmma_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
std::vector<PlanStage> tensor_wgmma_stages(const MatmulConfig& config, const TileSchedule& s);
std::vector<PlanConstant> tensor_wgmma_8bit_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
std::vector<PlanStage> tensor_wgmma_8bit_stages(const MatmulConfig& config, const TileSchedule& s);

}  // namespace families
}  // namespace bitjit
