// tensor_wgmma_ws's entry point for W8A8 (bitjit::tensor_wgmma_ws_8bit): tensor_wgmma_8bit's wgmma on
// rows of bytes, both operands loaded by TMA in the 128-byte swizzle.
#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/tensor_wgmma.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"

namespace bitjit {
namespace {

void validate_tensor_wgmma_ws_8bit(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  families::require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma_ws", "wgmma");
  families::require_capability(arch, &ArchInfo::has_tma, "tensor_wgmma_ws", "TMA");
  families::require_byte_rows_operands(config, "tensor_wgmma_ws");
  families::require_byte_rows_tiles(config, s);
  // Each consumer thread keeps tile.m / 2 sums (fp8: two sets) and about 40 registers besides.
  const int sums = config.A_dtype != DType::int8 ? s.tile.m : s.tile.m / 2;
  families::require_one_block_on_sm(s, "W8A8");
  families::validate_warp_specialized(config, s, arch, sums, 40);
  if (s.pipeline.stages < 2 || s.pipeline.stages > 8) {
    families::reject_schedule("pipeline.stages=" + std::to_string(s.pipeline.stages) + " must be 2..8 (the ring in shared "
                              "memory)");
  }
  families::require_shared_fits(config, s, arch, families::byte_rows_stage_bytes(s));
  families::validate_block_pairs(s);
}

// tensor_wgmma's tile (int8 256 x 128, fp8 128 x 128), two consumer warpgroups, 4 stages, tiles in
// groups of 8 row blocks; against cuBLASLt on the H100's 70B shapes at M = 4096 see
// bench/results/2026-11-27-h100-stream-k. fp8 above 256 rows on 192 x 128 tiles (its two accumulator
// sets leave no room for 256 rows; 17 % fewer L2 bytes a product than 128 x 128): on the H200 at
// M = 4096, 0.84-1.01 of the 128-row tiles' time on the eight suite shapes (70B qkv 728 -> 612 us,
// 70B gate_up 4056 -> 3666; bench/results/2026-12-01-h200-fp8-tiles).
// int8 as pairs of blocks (launch.cluster_n 2: the pair reads its activation boxes from L2 once)
// where the tiles make more than two waves (there stream-K shares no tile out, which pairs give up)
// and the weights are read by at least kLeastPairRowBlocks row blocks (the L2 traffic the pairs cut
// then outweighs the DRAM stream they leave as it is). On the H200, graph-timed against single
// blocks in one run (bench/results/2026-12-02-h200-clusters): at 4096 rows (16 row blocks of 256)
// 0.92-0.97 of the time on the eight suite shapes (70B gate_up 2924 -> 2679 us); at 256 rows (2 row
// blocks of 128, gate_up's 3.4 waves) 1.02-1.03, so not there; between them not measured. fp8 on
// pairs was level to 8 % slower at 4096 rows (its promotion's wait holds it: L2 42 % busy with
// pairs), so fp8 stays single.
constexpr int64_t kFp8TallTileRows = 192;
constexpr int64_t kLeastPairRowBlocks = 4;
bool pairs_pay(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int64_t rows) {
  if (config.A_dtype != DType::int8) return false;
  const int64_t row_blocks = (rows + s.tile.m - 1) / s.tile.m;
  const int64_t tiles = (config.N + s.tile.n - 1) / s.tile.n * row_blocks;
  return row_blocks >= kLeastPairRowBlocks && tiles > 2 * int64_t(arch_info(arch).reference.sm_count);
}

std::optional<TileSchedule> default_tensor_wgmma_ws_8bit(const MatmulConfig& config, const std::string& arch,
                                                         int64_t rows) {
  const std::optional<TileSchedule> unspecialized = families::default_tensor_wgmma_8bit(config, arch, rows);
  if (!unspecialized) return std::nullopt;
  TileSchedule s = warp_specialized(*unspecialized, 8);
  s.pipeline.stages = 4;
  if (config.A_dtype != DType::int8 && rows > 256) s.tile.m = kFp8TallTileRows;
  if (pairs_pay(config, s, arch, rows)) s.launch.cluster_n = 2;
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  return s;
}

// tensor_wgmma_ws's candidates, and each tile and tile order at the fallback's ring as pairs of
// blocks sharing the activation boxes (launch.cluster_n 2).
void add_tensor_wgmma_ws_8bit_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                                         std::vector<TileSchedule>& out) {
  const size_t first = out.size();
  families::add_tensor_wgmma_ws_candidates(config, fallback, rows, out);
  const size_t unpaired = out.size();
  for (size_t i = first; i < unpaired; ++i) {
    TileSchedule paired = out[i];
    if (paired.pipeline.stages != fallback.pipeline.stages || paired.pipeline.k_per_stage != fallback.pipeline.k_per_stage)
      continue;
    paired.launch.cluster_n = 2;
    out.push_back(paired);
  }
}

std::vector<PlanConstant> tensor_wgmma_ws_8bit_tiles(const MatmulConfig& config, const TileSchedule& s,
                                                     const std::string& arch) {
  return families::warp_specialized_tiles(families::tensor_wgmma_8bit_tiles(config, s, arch), s, arch);
}

std::vector<PlanStage> tensor_wgmma_ws_8bit_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = families::tensor_wgmma_8bit_stages(config, s);
  stages[0] = {"load W", "TMA boxes of 128 bytes of k x " + std::to_string(s.tile.n) + " channels in the 128-byte "
                             "swizzle, issued by a producer warpgroup into a " + std::to_string(s.pipeline.stages) +
                             "-stage ring on mbarriers"};
  stages[2] = {"load A", "TMA boxes of 128 bytes of k x " + std::to_string(s.tile.m) + " rows, the same way"};
  if (s.launch.cluster_n > 1) {
    stages[2].detail += "; blocks in clusters of " + std::to_string(s.launch.cluster_n) + " along N on the same rows, "
                        "each copying " + std::to_string(s.tile.m / s.launch.cluster_n) + " of the rows into every "
                        "block of its cluster (TMA multicast), a stage freed by all of their consumers";
  }
  stages[3].detail += "; " + std::to_string(s.warps.n / 4) + " consumer warpgroups freeing each stage "
                      "when its wgmmas are done; a persistent grid walks the output tiles";
  return stages;
}

// Both operands are rows of K bytes; 128 of them are one 128-byte swizzle atom wide.
std::array<TmaTensor, 2> tensor_wgmma_ws_8bit_tma_tensors(const KernelPlan& plan, int64_t M) {
  const MatmulConfig& config = plan.config;
  const TileSchedule& s = plan.schedule;
  // A pair of blocks (launch.cluster_n 2) loads the activation box in halves, one a block.
  return {TmaTensor{"A", 1, uint64_t(config.K), uint64_t(M), 128, uint32_t(s.tile.m / s.launch.cluster_n),
                    TmaSwizzle::bytes128},
          TmaTensor{"W", 1, uint64_t(config.K), uint64_t(config.N), 128, uint32_t(s.tile.n), TmaSwizzle::bytes128}};
}

}  // namespace

const KernelTraits kTensorWgmmaWs8bitKernel = {
    .family = KernelFamily::tensor_wgmma_ws,
    .takes = same_8bit_operands,
    .header = "bitjit/kernels/tensor_wgmma_ws.cuh",
    .function = "bitjit::tensor_wgmma_ws_8bit",
    .groups_wgmmas = false,
    .tensor_maps = true,
    .programmatic_launch = true,
    .validate = validate_tensor_wgmma_ws_8bit,
    .default_for = default_tensor_wgmma_ws_8bit,
    .add_candidates = add_tensor_wgmma_ws_8bit_candidates,
    .footprint = families::tensor_wgmma_ws_footprint,
    .static_shared_bytes = families::tensor_wgmma_ws_static_shared_bytes,
    .dynamic_shared_bytes = families::byte_rows_ring_bytes,
    .tiles = tensor_wgmma_ws_8bit_tiles,
    .stages = tensor_wgmma_ws_8bit_stages,
    .alignment = families::sixteen_byte_alignment,  // TMA: 16-byte aligned tensors
    .launch = families::persistent_launch,
    .tma_tensors = tensor_wgmma_ws_8bit_tma_tensors,
    .pairs_blocks = true,
};

}  // namespace bitjit
