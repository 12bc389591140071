// tensor_wgmma's entry point for W4A8 (kernels/tensor_wgmma_w4a8.cuh): int8 activations, sub-byte
// integer weights decoded into the int8 wgmma's register operand from tensor_gemv_8bit's mma_runs
// layout, int32 sums per scale group scaled into float32.
#include <algorithm>

#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/tensor_wgmma.hpp"

namespace bitjit {
namespace families {
namespace {

// A group's int32 sum is exact while |sum| < 2^31: at most group_size products of an int8 activation
// (|a| <= 128) and a weight byte (|b| <= 128), so at most 2^16 k per group.
constexpr int64_t kLargestW4a8Group = int64_t(1) << 16;

// Row blocks per group of the tile order by default: with 128 x 128 tiles a wave of 132 blocks then
// covers 8 row blocks x ~16 channel blocks instead of 1-2 row blocks x every channel block, so the
// weights a wave streams are about an eighth of W (the W8A8 kernel's default, tensor_wgmma_ws).
constexpr int kDefaultRasterGroup = 8;

MmaRunLayout require_w4a8_layout(const MatmulConfig& config) {
  const std::optional<MmaRunLayout> layout = family_layout(config, KernelFamily::tensor_wgmma);
  if (!layout) {
    reject_schedule("family=tensor_wgmma with int8 activations and " + std::string(to_string(config.W_dtype)) +
                    " weights needs 16-byte loads of runs of at least 32 k (K divisible by 4 x 16-byte loads' codes and "
                    "a group size divisible by 128); use family=tensor_gemv");
  }
  return *layout;
}

int w4a8_stage_bytes(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = family_layout(config, KernelFamily::tensor_wgmma);
  const int k_block = layout ? layout_k_block(config, *layout) : s.pipeline.k_per_stage;
  return s.tile.m * s.pipeline.k_per_stage + s.pipeline.k_per_stage / k_block * s.tile.n * 64;
}

// k per stage: whole k-blocks and 128-byte swizzle atoms, and whole scale groups per stage or whole
// stages per group (the kernel converts each group's int32 sums where the group ends).
void require_w4a8_stage(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout) {
  const int k = s.pipeline.k_per_stage, k_block = layout_k_block(config, layout);
  if (k % k_block != 0 || k % 128 != 0 || k / k_block > 8) {
    reject_schedule("pipeline.k_per_stage=" + std::to_string(k) + " must be 1 to 8 k-blocks of " +
                    std::to_string(k_block) + " and a multiple of 128");
  }
  const int64_t group = effective_group_size(config);
  if (k % group != 0 && group % k != 0) {
    reject_schedule("pipeline.k_per_stage=" + std::to_string(k) + " must divide the group size " +
                    std::to_string(group) + " or be a multiple of it");
  }
  if (group > kLargestW4a8Group) {
    reject_schedule("family=tensor_wgmma sums each scale group in int32: a group of " + std::to_string(group) +
                    " k could overflow it; at most " + std::to_string(kLargestW4a8Group) + " (use family=tensor_gemv)");
  }
}

void validate_tensor_wgmma_w4a8(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma", "wgmma");
  const MmaRunLayout layout = require_w4a8_layout(config);
  validate_warpgroups(s);
  if (s.tile.m > 128) {
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + " must be 64 or 128 with int8 activations and " +
                    std::string(to_string(config.W_dtype)) + " weights: the int32 group sums and the float32 sums "
                    "take tile.m registers");
  }
  require_w4a8_stage(config, s, layout);
  require_layout_loads(s, layout);
  require_unused(s, "pipeline.k_per_round", s.pipeline.k_per_round, 0);
  require_unused(s, "pipeline.split_k", s.pipeline.split_k, 1);
  require_unused(s, "pipeline.wgmma_group", s.pipeline.wgmma_group, 1);
  require_raster_group(s);
  require_shared_fits(config, s, arch, w4a8_stage_bytes(config, s));
}

// 64 rows up to M = 64, else 128; 128 k per stage (or one k-block where that is longer); 128
// channels on two warpgroups, as many stages as fit (fit_wgmma_tile). On the H200 0.52-0.88x cuBLAS fp16
// from 256 to 4096 rows (docs/performance.md): each group's conversion waits for its wgmmas.
std::optional<TileSchedule> default_tensor_wgmma_w4a8(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  const std::optional<MmaRunLayout> layout = family_layout(config, KernelFamily::tensor_wgmma);
  if (!arch_info(arch).has_wgmma || !layout || !w4a8_operands(config)) return std::nullopt;
  TileSchedule s;
  s.family = KernelFamily::tensor_wgmma;
  s.tile.m = rows <= 64 ? 64 : 128;
  s.pipeline.k_per_stage = wgmma_k_per_stage(config, *layout);
  s.pipeline.vector_bytes = layout->load_bytes;
  s.launch.raster_group = kDefaultRasterGroup;
  s = fit_wgmma_tile(config, arch, s, w4a8_stage_bytes);
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;  // e.g. a group size the stages cannot take
  return s;
}

// tensor_wgmma's tiles, stages and k per stage without a split (sums of int8 products per group),
// each in row-major order and in groups of 8 row blocks.
void add_tensor_wgmma_w4a8_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t,
                                      std::vector<TileSchedule>& out) {
  std::vector<TileSchedule> tiles;
  add_wgmma_candidates(hopper_candidate_base(config, fallback), false, tiles);
  for (TileSchedule s : tiles)
    for (int raster_group : {1, kDefaultRasterGroup}) {
      s.launch.raster_group = raster_group;
      out.push_back(s);
    }
}

// Per warp and 32-k step: one wgmma of 16 channels x tile.m rows (tile.m / 8 m16n8k32 tiles' work),
// four shared loads and eight decode instructions, and per scale group tile.m / 2 conversions and
// multiply-adds; int32 and float32 sums tile.m registers. Estimates until measured.
void tensor_wgmma_w4a8_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch,
                                 KernelFootprint& f) {
  const double most_registers = arch_info(arch).max_registers_per_thread;
  const double mma_tiles = s.tile.m / 8.0;
  const double group_steps = double(std::min<int64_t>(effective_group_size(config), config.K)) / 32.0;
  f.registers = int(std::min(most_registers, 64.0 + s.tile.m));
  f.instructions_per_mma = (1 + 12 + s.tile.m / group_steps) / mma_tiles;
  f.pipe_share = wgmma_pipe_share(s.tile.m) * 0.5 / 0.7;
}

int w4a8_ring_bytes(const MatmulConfig& config, const TileSchedule& s) {
  return s.pipeline.stages * w4a8_stage_bytes(config, s);
}

std::vector<PlanConstant> tensor_wgmma_w4a8_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string&) {
  const int run = family_layout(config, s.family)->run;
  return {
      {"int", "kThreads", std::to_string(block_threads(s)), std::to_string(block_threads(s) / 128) + " warpgroups"},
      {"int", "kBlockM", std::to_string(s.tile.m), "rows of C per block (wgmma N)"},
      {"int", "kBlockN", std::to_string(s.tile.n), "channels of C per block, 64 per warpgroup"},
      {"int", "kBlockK", std::to_string(s.pipeline.k_per_stage),
       std::to_string(s.pipeline.k_per_stage / 32) + " wgmma steps of 32 k per stage"},
      {"int", "kStages", std::to_string(s.pipeline.stages), "depth of the cp.async ring in shared memory"},
      {"int", "kStoredRun", std::to_string(run), "the mma_runs layout's run: each 32-k step lies in one lane's load"},
      {"int", "kRasterGroup", std::to_string(s.launch.raster_group), "row blocks per group of the tile order"},
  };
}

std::vector<PlanStage> tensor_wgmma_w4a8_stages(const MatmulConfig& config, const TileSchedule& s) {
  const std::string rows = std::to_string(s.tile.m), channels = std::to_string(s.tile.n);
  const std::string k = std::to_string(s.pipeline.k_per_stage), w(to_string(config.W_dtype));
  const bool unsigned_codes = !info(config.W_dtype).is_signed;
  return {
      {"load W", "cp.async 16-byte copies of " + channels + " channels x " + k + " k of packed " + w +
                     " (the mma_runs layout, byte lanes) into a " + std::to_string(s.pipeline.stages) +
                     "-stage ring, each channel's chunks swizzled"},
      {"dequant", std::string("per 32-k step, each warp's 16 channels: one shared load, shift and LOP3 per four codes "
                              "into the int8 wgmma's register operand (") +
                      (unsigned_codes ? "the codes as u8" : "the value times a power of two as s8") + ")"},
      {"load A", "cp.async 16-byte copies of " + rows + " int8 rows x " + k + " k into the ring as wgmma K-major tiles"},
      {"multiply-accumulate", "wgmma m64n" + rows + "k32 per warpgroup (64 channels), weights from registers, "
                              "activations from shared memory, int32 sums per scale group, "
                              "each converted where its group ends, " + std::string(config.with_scaling ? "scaled " : "") +
                              "and added into float32"},
      {"epilogue", std::string(config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))},
  };
}

}  // namespace
}  // namespace families

const KernelTraits kTensorWgmmaW4a8Kernel = {
    .family = KernelFamily::tensor_wgmma,
    .takes = w4a8_operands,
    .header = "bitjit/kernels/tensor_wgmma_w4a8.cuh",
    .function = "bitjit::tensor_wgmma_w4a8",
    .groups_wgmmas = false,
    .tensor_maps = false,
    .programmatic_launch = false,
    .validate = families::validate_tensor_wgmma_w4a8,
    .default_for = families::default_tensor_wgmma_w4a8,
    .add_candidates = families::add_tensor_wgmma_w4a8_candidates,
    .footprint = families::tensor_wgmma_w4a8_footprint,
    .static_shared_bytes = families::hopper_static_shared_bytes,
    .dynamic_shared_bytes = families::w4a8_ring_bytes,
    .tiles = families::tensor_wgmma_w4a8_tiles,
    .stages = families::tensor_wgmma_w4a8_stages,
    .alignment = families::sixteen_byte_alignment,  // 16-byte cp.async copies
    .launch = families::staged_launch,
    .tma_tensors = nullptr,
};

}  // namespace bitjit
