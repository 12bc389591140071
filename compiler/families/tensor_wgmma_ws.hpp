#pragma once
// tensor_wgmma_ws (sm_90a): tensor_wgmma's decode and wgmma (or its W8A8 wgmma), warp-specialized: a
// producer warpgroup fills the ring by TMA on mbarriers for tile.n / 64 consumer warpgroups, on a
// persistent grid that walks the output tiles (stream-K for a short last wave of 64-row tiles) in
// groups of TileSchedule::Launch::raster_group row blocks.
#include <string>
#include <vector>

#include "compiler/families/family.hpp"
#include "compiler/families/tensor_wgmma.hpp"

namespace bitjit {

extern const KernelTraits kTensorWgmmaWsKernel;
extern const KernelTraits kTensorWgmmaWs8bitKernel;
extern const KernelTraits kTensorWgmmaWsW4a8Kernel;  // compiler/families/w4a8.cpp

// The schedule s as tensor_wgmma_ws runs it: its tile on tile.n / 64 consumer warpgroups plus the
// producer warpgroup, tiles taken in groups of raster_group row blocks.
TileSchedule warp_specialized(TileSchedule s, int raster_group);

// tensor_wgmma_ws's registers per thread on arch: the launch gives every thread the same share of the
// SM's registers (per_thread); the producer warpgroup keeps `producer` and hands the rest to the
// consumer warpgroups (consumer; 0 where the launch's share is already the most a thread may hold).
struct WarpSpecializedRegisters {
  int per_thread = 0, producer = 40, consumer = 0;
};
WarpSpecializedRegisters warp_specialized_registers(const TileSchedule& schedule, const std::string& arch);

namespace families {

// What both entry points check besides their operands: TMA rows, the tile (tile.m as `rows`
// allows), the warpgroups, the registers of a consumer thread (`sums` accumulators and about
// `other_registers` more), the tile order, no split.
void validate_warp_specialized(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int sums,
                               int other_registers, WgmmaRows rows = WgmmaRows::hopper);
// launch.blocks_per_sm 0 or 1: the W8A8 and W4A8 kernels (`kernel` names them in the error), which
// run one block an SM.
void require_one_block_on_sm(const TileSchedule& s, const char* kernel);
// launch.cluster_n for the entry point that pairs blocks (W8A8): 1 or 2, with tile.m / 2 whole
// swizzle atoms.
void validate_block_pairs(const TileSchedule& s);
void add_tensor_wgmma_ws_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                                    std::vector<TileSchedule>& out);
void tensor_wgmma_ws_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch,
                               KernelFootprint& f);
// tensor_wgmma's static shared memory plus the ring's barriers.
int tensor_wgmma_ws_static_shared_bytes(const MatmulConfig& config, const TileSchedule& s);
// An unspecialized kernel's constants as tensor_wgmma_ws takes them.
std::vector<PlanConstant> warp_specialized_tiles(std::vector<PlanConstant> tiles, const TileSchedule& s,
                                                 const std::string& arch);
LaunchShape persistent_launch(const KernelPlan& plan, int64_t M, int multiprocessors);

}  // namespace families
}  // namespace bitjit
