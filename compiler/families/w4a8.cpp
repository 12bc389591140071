// The W4A8 entry points: 8-bit activations (int8 with sub-byte integer weights, fp8 with int4, uint4
// or fp4 weights; w4a8_operands), the weights read from tensor_gemv_8bit's mma_runs layout and
// decoded into the 8-bit tensor-core operand, sums per scale group (int8: int32; fp8: float32, per
// stage) scaled into float32. tensor_wgmma_w4a8 (sm_90a: wgmma) and tensor_gemm_w4a8 (sm_80 and
// newer: mma.sync m16n8k32) share their block (mma/w4a8_block.cuh), tensor_wgmma_ws_w4a8 their warp
// on tensor_wgmma_ws's roles, so their sizes, checks and plans are one set here, told apart by the
// schedule's family.
#include <algorithm>

#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/simt.hpp"  // no_shared_bytes
#include "compiler/families/tensor_gemm.hpp"  // kTensorGemmW4a8Kernel
#include "compiler/families/tensor_wgmma.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {
namespace families {
namespace {

bool is_w4a8_family_schedule(const TileSchedule& s) {
  return s.family == KernelFamily::tensor_wgmma || s.family == KernelFamily::tensor_wgmma_ws ||
         s.family == KernelFamily::tensor_gemm;
}

// A group's int32 sum is exact while |sum| < 2^31: at most group_size products of an int8 activation
// (|a| <= 128) and a weight byte (|b| <= 128), so at most 2^16 k per group.
constexpr int64_t kLargestW4a8Group = int64_t(1) << 16;

// Row blocks per group of the tile order by default: with 128 x 128 tiles a wave of 132 blocks then
// covers 8 row blocks x ~16 channel blocks instead of 1-2 row blocks x every channel block, so the
// weights a wave streams are about an eighth of W (the W8A8 kernel's default, tensor_wgmma_ws).
constexpr int kDefaultRasterGroup = 8;

bool is_wgmma(const TileSchedule& s) { return s.family != KernelFamily::tensor_gemm; }
bool is_warp_specialized(const TileSchedule& s) { return s.family == KernelFamily::tensor_wgmma_ws; }
std::string family_name(const TileSchedule& s) { return std::string(to_string(s.family)); }
bool int8_sums(const MatmulConfig& config) { return config.A_dtype == DType::int8; }

// "int8 activations and int4 weights", for the errors.
std::string operands_named(const MatmulConfig& config) {
  return std::string(to_string(config.A_dtype)) + " activations and " + std::string(to_string(config.W_dtype)) + " weights";
}

MmaRunLayout require_w4a8_layout(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = w4a8_layout(config);
  if (!layout) {
    reject_schedule("family=" + family_name(s) + " with " + operands_named(config) + " needs 16-byte loads of runs of at least 32 k (K divisible by 4 x 16-byte loads' codes and "
                    "a group size divisible by 128); use family=tensor_gemv");
  }
  return *layout;
}

int w4a8_stage_bytes(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = w4a8_layout(config);
  const int k_block = layout ? layout_k_block(config, *layout) : s.pipeline.k_per_stage;
  return s.tile.m * s.pipeline.k_per_stage + s.pipeline.k_per_stage / k_block * s.tile.n * 64;
}

// k per stage: whole k-blocks and 128-byte swizzle atoms, and whole scale groups per stage or whole
// stages per group (the kernels convert each group's int32 sums where the group ends).
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
  if (int8_sums(config) && group > kLargestW4a8Group) {
    reject_schedule("family=" + family_name(s) + " sums each scale group in int32: a group of " + std::to_string(group) +
                    " k could overflow it; at most " + std::to_string(kLargestW4a8Group) + " (use family=tensor_gemv)");
  }
}

void validate_w4a8(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  if (is_wgmma(s)) require_capability(arch, &ArchInfo::has_wgmma, family_name(s).c_str(), "wgmma");
  if (is_warp_specialized(s)) require_capability(arch, &ArchInfo::has_tma, family_name(s).c_str(), "TMA");
  if (fp8_activations(config)) require_capability(arch, &ArchInfo::has_fp8_mma, family_name(s).c_str(), "the fp8 mma");
  const MmaRunLayout layout = require_w4a8_layout(config, s);
  validate_warpgroups(config, s);  // every kernel: 16 channels a warp, whole warpgroups of 64 channels
  if (s.tile.m > 128) {
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + " must be 64 or 128 with " + operands_named(config) +
                    ": the group sums and the float32 sums take tile.m registers");
  }
  require_w4a8_stage(config, s, layout);
  require_layout_loads(s, layout);
  require_unused(s, "pipeline.k_per_round", s.pipeline.k_per_round, 0);
  require_unused(s, "pipeline.split_k", s.pipeline.split_k, 1);
  require_unused(s, "pipeline.wgmma_group", s.pipeline.wgmma_group, 1);
  if (is_warp_specialized(s)) {
    // The consumer's tile.m / 2 int32 group sums and tile.m / 2 float32 sums, and about 70 registers
    // besides (the fragments, the scales of two stages, addresses): 195 in all at 128 rows as
    // tensor_wgmma_w4a8 compiles.
    require_one_block_on_sm(s, "W4A8");
    validate_warp_specialized(config, s, arch, s.tile.m, 70);
    if (s.pipeline.stages < 2 || s.pipeline.stages > 8) {
      reject_schedule("pipeline.stages=" + std::to_string(s.pipeline.stages) + " must be 2..8 (the ring's barriers)");
    }
  }
  require_raster_group(s);
  require_shared_fits(config, s, arch, w4a8_stage_bytes(config, s));
}

// 64 rows up to M = 64, else 128; 128 k per stage (or one k-block where that is longer); 128
// channels on two warpgroups (eight warps), as many stages as fit (fit_wgmma_tile); tiles in raster
// groups. tensor_wgmma on sm_90a, measured on the H200: 0.54-0.93x cuBLAS fp16 at 256 rows,
// 0.84-0.92x at 4096 (docs/performance.md); tensor_gemm on the archs without wgmma not yet measured
// there (on the H200, where a schedule names it, 0.36-0.62x).
std::optional<TileSchedule> default_w4a8(KernelFamily family, const MatmulConfig& config, const std::string& arch,
                                         int64_t rows) {
  const std::optional<MmaRunLayout> layout = w4a8_layout(config);
  if (!layout || (family == KernelFamily::tensor_wgmma) != arch_info(arch).has_wgmma) return std::nullopt;
  TileSchedule s;
  s.family = family;
  s.tile.m = rows <= 64 ? 64 : 128;
  s.pipeline.k_per_stage = wgmma_k_per_stage(config, *layout);
  s.pipeline.vector_bytes = layout->load_bytes;
  s.launch.raster_group = kDefaultRasterGroup;
  s = fit_wgmma_tile(config, arch, s, w4a8_stage_bytes);
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;  // e.g. a group size the stages cannot take
  return s;
}

std::optional<TileSchedule> default_tensor_wgmma_w4a8(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  return default_w4a8(KernelFamily::tensor_wgmma, config, arch, rows);
}

std::optional<TileSchedule> default_tensor_gemm_w4a8(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  return default_w4a8(KernelFamily::tensor_gemm, config, arch, rows);
}

// tensor_wgmma_w4a8's tile on a producer warpgroup and two consumer warpgroups, as many stages as
// fit besides the ring's barriers: the Hopper default for W4A8 (compiler/families/select.cpp).
std::optional<TileSchedule> default_tensor_wgmma_ws_w4a8(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  const std::optional<TileSchedule> unspecialized = default_w4a8(KernelFamily::tensor_wgmma, config, arch, rows);
  if (!unspecialized) return std::nullopt;
  TileSchedule s = warp_specialized(*unspecialized, kDefaultRasterGroup);
  const int budget = arch_info(arch).shared_bytes_per_block - static_shared_bytes(config, s, arch);
  s.pipeline.stages = std::min(s.pipeline.stages, budget / w4a8_stage_bytes(config, s));
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  return s;
}

// tensor_wgmma's tiles, stages and k per stage without a split (sums of 8-bit products per group),
// each in row-major order and in groups of 8 row blocks, for `family`.
void add_w4a8_candidates(KernelFamily family, const MatmulConfig& config, const TileSchedule& fallback,
                         std::vector<TileSchedule>& out) {
  TileSchedule base = fallback;
  if (!is_w4a8_family_schedule(base)) {
    const std::optional<MmaRunLayout> layout = w4a8_layout(config);
    if (!layout) return;
    base = TileSchedule{};
    base.tile = {.m = 64, .n = 128};
    base.warps = warpgroup_warps(base);
    base.pipeline.stages = 4;
    base.pipeline.k_per_stage = wgmma_k_per_stage(config, *layout);
    base.pipeline.vector_bytes = layout->load_bytes;
  }
  std::vector<TileSchedule> tiles;
  add_wgmma_candidates(base, false, tiles);
  for (TileSchedule s : tiles)
    for (int raster_group : {1, kDefaultRasterGroup}) {
      s.family = family;
      s.launch.raster_group = raster_group;
      out.push_back(s);
    }
}

void add_tensor_wgmma_w4a8_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t,
                                      std::vector<TileSchedule>& out) {
  add_w4a8_candidates(KernelFamily::tensor_wgmma, config, fallback, out);
}

void add_tensor_gemm_w4a8_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t,
                                     std::vector<TileSchedule>& out) {
  add_w4a8_candidates(KernelFamily::tensor_gemm, config, fallback, out);
}

// tensor_wgmma_w4a8's candidates, warp-specialized.
void add_tensor_wgmma_ws_w4a8_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t,
                                         std::vector<TileSchedule>& out) {
  std::vector<TileSchedule> unspecialized;
  add_w4a8_candidates(KernelFamily::tensor_wgmma, config, fallback, unspecialized);
  for (const TileSchedule& s : unspecialized) out.push_back(warp_specialized(s, s.launch.raster_group));
}

// Per warp and 32-k step: 16 channels x tile.m rows of 8-bit products (tile.m / 8 m16n8k32 tiles'
// work; one wgmma, or tile.m / 8 mma.sync and tile.m / 16 ldmatrix), four shared loads and eight
// decode instructions, and per scale group tile.m / 2 conversions and multiply-adds; int32 and
// float32 sums tile.m registers. Estimates until measured.
void w4a8_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, KernelFootprint& f) {
  const double most_registers = arch_info(arch).max_registers_per_thread;
  const double mma_tiles = s.tile.m / 8.0;
  const double group_steps = double(std::min<int64_t>(effective_group_size(config), config.K)) / 32.0;
  const double issue = is_wgmma(s) ? 1 : mma_tiles * 1.5;
  f.registers = int(std::min(most_registers, 64.0 + s.tile.m));
  f.instructions_per_mma = (issue + 12 + s.tile.m / group_steps) / mma_tiles;
  if (is_wgmma(s)) f.pipe_share = wgmma_pipe_share(s.tile.m) * 0.5 / 0.7;
  if (is_warp_specialized(s)) {
    f.registers = warp_specialized_registers(s, arch).per_thread;
    f.stream_k = true;
  }
}

int w4a8_ring_bytes(const MatmulConfig& config, const TileSchedule& s) {
  return s.pipeline.stages * w4a8_stage_bytes(config, s);
}

std::vector<PlanConstant> w4a8_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const int run = w4a8_layout(config)->run;
  const std::string steps = std::to_string(s.pipeline.k_per_stage / 32) + (is_wgmma(s) ? " wgmma" : " mma.sync");
  std::vector<PlanConstant> tiles = {
      {"int", "kThreads", std::to_string(block_threads(s)), std::to_string(block_threads(s) / 32) + " warps of 16 channels"},
      {"int", "kBlockM", std::to_string(s.tile.m), is_wgmma(s) ? "rows of C per block (wgmma N)" : "rows of C per block"},
      {"int", "kBlockN", std::to_string(s.tile.n), "channels of C per block, 64 per warpgroup"},
      {"int", "kBlockK", std::to_string(s.pipeline.k_per_stage), steps + " steps of 32 k per stage"},
      {"int", "kStages", std::to_string(s.pipeline.stages), "depth of the cp.async ring in shared memory"},
      {"int", "kStoredRun", std::to_string(run), "the mma_runs layout's run: each 32-k step lies in one lane's load"},
      channel_tiles_constant(*w4a8_layout(config)),
  };
  if (is_warp_specialized(s)) return warp_specialized_tiles(tiles, s, arch);  // adds kRasterGroup
  tiles.push_back({"int", "kRasterGroup", std::to_string(s.launch.raster_group), "row blocks per group of the tile order"});
  return tiles;
}

// The weights' decode and the sums, as the plan tells them: int8 activations take the codes' values
// as bytes and sum in int32 per group; fp8 activations take e4m3 bytes and sum in float32 per stage.
std::string w4a8_decode_text(const MatmulConfig& config) {
  if (!int8_sums(config)) {
    return "per 32-k step, each warp's 16 channels: one shared load and byte-table permutes (PRMT) per four codes "
           "into the e4m3 register operand (the codes' values, exact)";
  }
  const bool unsigned_codes = !info(config.W_dtype).is_signed;
  return std::string("per 32-k step, each warp's 16 channels: one shared load, shift and LOP3 per four codes into the "
                     "int8 register operand (") +
         (unsigned_codes ? "the codes as u8" : "the value times a power of two as s8") + ")";
}

std::vector<PlanStage> w4a8_stages(const MatmulConfig& config, const TileSchedule& s) {
  const std::string rows = std::to_string(s.tile.m), channels = std::to_string(s.tile.n);
  const std::string k = std::to_string(s.pipeline.k_per_stage), w(to_string(config.W_dtype));
  const std::string a(to_string(config.A_dtype));
  const std::string multiply =
      is_wgmma(s) ? "wgmma m64n" + rows + "k32 per warpgroup (64 channels), weights from "
                    "registers, activations from shared memory"
                  : "mma.sync m16n8k32 per warp (16 channels) and 8 rows, weights from registers, activations by ldmatrix";
  const std::string sums = int8_sums(config) ? "int32 sums per scale group, each converted where its group ends, "
                                             : "float32 sums per scale group and stage, each added where it ends, ";
  if (is_warp_specialized(s)) {
    return {
        {"load W", "TMA boxes of each k-block's 64 bytes x " + channels + " channels of packed " + w +
                       " (the mma_runs layout) in the 64-byte swizzle, issued by a producer warpgroup into a " +
                       std::to_string(s.pipeline.stages) + "-stage ring on mbarriers"},
        {"dequant", w4a8_decode_text(config)},
        {"load A", "TMA boxes of 128 k x " + rows + " " + a + " rows in the 128-byte swizzle, by the same producer"},
        {"multiply-accumulate", multiply + ", " + sums + std::string(config.with_scaling ? "scaled " : "") +
                                    "and added into float32; " + std::to_string(s.warps.n / 4) +
                                    " consumer warpgroups, each freeing a stage when its wgmmas are done; a persistent grid "
                                    "walks the output tiles"},
        {"epilogue", std::string(config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))},
    };
  }
  return {
      {"load W", "cp.async 16-byte copies of " + channels + " channels x " + k + " k of packed " + w + " (the mma_runs layout, " +
                     (int8_sums(config) ? "byte lanes" : "whole-load runs") + ") into a " + std::to_string(s.pipeline.stages) +
                     "-stage ring, each channel's chunks swizzled"},
      {"dequant", w4a8_decode_text(config)},
      {"load A", "cp.async 16-byte copies of " + rows + " " + a + " rows x " + k + " k into the ring in the 128-byte swizzle"},
      {"multiply-accumulate", multiply + ", " + sums + std::string(config.with_scaling ? "scaled " : "") + "and added into float32"},
      {"epilogue", std::string(config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))},
  };
}

}  // namespace
}  // namespace families

namespace {

// A: rows of K bytes, 128 of them one 128-byte swizzle atom wide (the warp's SwizzledAtoms). W: each
// channel's row of the mma_runs layout, a k-block's 64 bytes (four lanes' loads) per box row, in the
// 64-byte swizzle SwizzledPieces' copies apply (chunk c of channel n at c ^ (n / 2 % 4)).
std::array<TmaTensor, 2> tensor_wgmma_ws_w4a8_tma_tensors(const KernelPlan& plan, int64_t M) {
  const MatmulConfig& config = plan.config;
  const TileSchedule& s = plan.schedule;
  const uint64_t row_bytes = uint64_t(config.K) * info(config.W_dtype).bits / 8;
  const bool channel_tiles = family_layout(config, s.family)->channel_tiles;
  return {TmaTensor{"A", 1, uint64_t(config.K), uint64_t(M), 128, uint32_t(s.tile.m), TmaSwizzle::bytes128},
          TmaTensor{"W", 1, row_bytes, uint64_t(config.N), 64, uint32_t(s.tile.n), TmaSwizzle::bytes64, channel_tiles}};
}

// The W4A8 entry points differ in family, header, function, default and candidates only (and the
// warp-specialized one in its launch and TMA tensors).
constexpr KernelTraits w4a8_traits(KernelFamily family, const char* header, const char* function,
                                   decltype(KernelTraits::default_for) default_for,
                                   decltype(KernelTraits::add_candidates) add_candidates,
                                   decltype(KernelTraits::static_shared_bytes) static_shared_bytes) {
  return {
      .family = family,
      .takes = w4a8_operands,
      .header = header,
      .function = function,
      .groups_wgmmas = false,
      .tensor_maps = false,
      .programmatic_launch = false,
      .validate = families::validate_w4a8,
      .default_for = default_for,
      .add_candidates = add_candidates,
      .footprint = families::w4a8_footprint,
      .static_shared_bytes = static_shared_bytes,
      .dynamic_shared_bytes = families::w4a8_ring_bytes,
      .tiles = families::w4a8_tiles,
      .stages = families::w4a8_stages,
      .alignment = families::sixteen_byte_alignment,  // 16-byte cp.async copies
      .launch = families::staged_launch,
      .tma_tensors = nullptr,
  };
}

}  // namespace

const KernelTraits kTensorWgmmaW4a8Kernel =
    w4a8_traits(KernelFamily::tensor_wgmma, "bitjit/kernels/tensor_wgmma_w4a8.cuh", "bitjit::tensor_wgmma_w4a8",
                families::default_tensor_wgmma_w4a8, families::add_tensor_wgmma_w4a8_candidates,
                families::hopper_static_shared_bytes);  // the ring's 1024-byte alignment

const KernelTraits kTensorWgmmaWsW4a8Kernel = []() constexpr {
  KernelTraits traits = w4a8_traits(KernelFamily::tensor_wgmma_ws, "bitjit/kernels/tensor_wgmma_ws_w4a8.cuh",
                                    "bitjit::tensor_wgmma_ws_w4a8", families::default_tensor_wgmma_ws_w4a8,
                                    families::add_tensor_wgmma_ws_w4a8_candidates,
                                    families::tensor_wgmma_ws_static_shared_bytes);  // the ring's barriers
  traits.tensor_maps = true;
  traits.programmatic_launch = true;
  traits.launch = families::persistent_launch;
  traits.tma_tensors = tensor_wgmma_ws_w4a8_tma_tensors;
  return traits;
}();

const KernelTraits kTensorGemmW4a8Kernel =
    w4a8_traits(KernelFamily::tensor_gemm, "bitjit/kernels/tensor_gemm_w4a8.cuh", "bitjit::tensor_gemm_w4a8",
                families::default_tensor_gemm_w4a8, families::add_tensor_gemm_w4a8_candidates,
                families::no_shared_bytes);  // no variables (static_shared_bytes adds sm_90's reserve)

}  // namespace bitjit
