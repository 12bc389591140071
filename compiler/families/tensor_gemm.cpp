#include "compiler/families/tensor_gemm.hpp"

#include <algorithm>

#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/tensor_gemv.hpp"

namespace bitjit {
namespace families {

std::vector<PlanConstant> tensor_gemm_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string&) {
  const MmaRunLayout layout = *family_layout(config, s.family);
  const int block = layout_k_block(config, layout);
  // The Hopper families decode in fragment order (runs of 2) whichever layout the weights lie in
  // (their kStoredRun says which); tensor_gemm reads the layout's runs as they are.
  const bool hopper = is_hopper_family(s.family);
  const int warp_rows = s.tile.m / s.warps.m, warp_channels = s.tile.n / s.warps.n;
  const TileSchedule::Pipeline& p = s.pipeline;
  return {
      {"int", "kThreads", std::to_string(block_threads(s)), std::to_string(s.warps.m * s.warps.n) + " warps"},
      {"int", "kBlockM", std::to_string(s.tile.m), "rows of C per block"},
      {"int", "kBlockN", std::to_string(s.tile.n), "channels of C per block"},
      {"int", "kBlockK", std::to_string(p.k_per_stage),
       std::to_string(p.k_per_stage / block) + " k-block(s) of " + std::to_string(block) + " per pipeline stage"},
      {"int", "kWarpsM", std::to_string(s.warps.m), "warps along M: warp tile " + std::to_string(warp_rows) + " rows"},
      {"int", "kWarpsN", std::to_string(s.warps.n),
       "warps along N: warp tile " + std::to_string(warp_channels) + " channels"},
      {"int", "kStages", std::to_string(p.stages), "depth of the cp.async ring in shared memory"},
      {"int", "kSplitK", std::to_string(p.split_k),
       p.split_k > 1 ? "slices of K summed through the workspace" : "K in one block"},
      {"int", "kLoadBytes", std::to_string(p.vector_bytes), "bytes of packed W per lane per k-block (mma_runs layout)"},
      {"int", "kRun", hopper ? "2" : std::to_string(layout.run),
       hopper ? "k per lane per run once loaded: the wgmma fragment order"
              : "consecutive k per lane per run (" + std::string(to_string(family_weight_layout(config, s.family))) +
                    " layout)"},
      channel_tiles_constant(layout),
  };
}

std::vector<PlanStage> tensor_gemm_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = tensor_gemv_16bit_stages(config, s);  // same decode and mma; other data movement
  const MmaRunLayout layout = *mma_run_layout(config);
  const TileSchedule::Pipeline& p = s.pipeline;
  stages[0] = {"load W", "cp.async 16-byte copies of the block's " + std::to_string(s.tile.n) + " channels x " +
                             std::to_string(p.k_per_stage) + " k into a " + std::to_string(p.stages) +
                             "-stage shared-memory ring; each lane then reads its " + std::to_string(p.vector_bytes) +
                             " bytes per k-block from shared memory"};
  stages[2] = {"load A", "cp.async 16-byte copies of " + std::to_string(s.tile.m) + " rows x " +
                             std::to_string(p.k_per_stage) + " k into the same ring (XOR-swizzled chunks); " +
                             (layout.run % 8 == 0 ? "16-byte shared loads (two mma steps' fragments)"
                                                  : "8-byte shared loads (one mma step's fragment)")};
  stages[3] = {"multiply-accumulate", "mma.sync m16n8k16 per warp tile (weights as the 16-row operand), float32 "
                                      "accumulation; scales and zeros applied to the decoded pairs in A's type"};
  stages[4] = {"epilogue", std::string(p.split_k > 1 ? "float32 slice sums through the workspace, added in slice order "
                                                       "by the last slice of each tile; "
                                                     : "straight from the accumulators; ") +
                               (config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))};
  return stages;
}

}  // namespace families

namespace {

using families::reject_schedule;

void validate_tensor_gemm(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout || !float16_activations(config)) {
    reject_schedule("family=tensor_gemm needs A_dtype float16 or bfloat16 with float accumulation, weights exact in "
                    "A's type (or nf4), a group size divisible by 16 and K divisible into k-blocks; use "
                    "family=tensor_gemv, gemv or simt");
  }
  if (layout->run != 4 && layout->run != 8) {
    reject_schedule("family=tensor_gemm reads runs of 4 or 8 k, but this config's mma_runs layout has runs of " +
                    std::to_string(layout->run) + " (whole loads, a layout of at most 8 rows); use family=tensor_gemv");
  }
  // A warps.m x warps.n grid of warps, each with its own warp tile; none split K.
  const bool powers_of_two = families::is_power_of_two(s.warps.m) && families::is_power_of_two(s.warps.n);
  if (!powers_of_two || s.warps.m * int64_t(s.warps.n) > 16) {
    reject_schedule("warps.m=" + std::to_string(s.warps.m) + ", warps.n=" + std::to_string(s.warps.n) +
                    ": tensor_gemm runs a warps.m x warps.n grid of warps (powers of two), at most 16 (512 threads)");
  }
  families::require_unused(s, "warps.k", s.warps.k, 1);
  if (s.tile.m < 8 || s.tile.m > 256 || s.tile.m % (8 * s.warps.m) != 0) {
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + " must be 8..256 and a multiple of 8 * warps.m = " +
                    std::to_string(8 * s.warps.m) + " (8 rows per mma)");
  }
  if (s.tile.n < 16 || s.tile.n > 256 || s.tile.n % (16 * s.warps.n) != 0) {
    reject_schedule("tile.n=" + std::to_string(s.tile.n) + " must be 16..256 and a multiple of 16 * warps.n = " +
                    std::to_string(16 * s.warps.n) + " (16 channels per mma)");
  }
  const int warp_mma_tiles = (s.tile.m / s.warps.m / 8) * (s.tile.n / s.warps.n / 16);
  if (warp_mma_tiles > 32) {
    reject_schedule("a warp tile of " + std::to_string(s.tile.m / s.warps.m) + " rows x " +
                    std::to_string(s.tile.n / s.warps.n) + " channels is " + std::to_string(warp_mma_tiles) +
                    " mma tiles; at most 32 (128 float accumulators per thread)");
  }
  families::validate_ring(config, s, arch, *layout);  // first: k_per_stage is checked there, split_k divides by it
  families::validate_split_k(config, s);
}

// Hand-set from `bitjit tune` runs on an H100 (docs/tuning.md), where the same choices won across the
// 70B shapes: enough 128 x 128 blocks on 4 warps (1 x 4: warp tiles of 128 rows x 32 channels,
// which amortize each decoded weight over 16 mmas) to give every SM two, with 2 stages; otherwise
// 32- or 64-row blocks of 128 channels (64 where that alone fills the SMs) with 4 stages, K split
// until there are two blocks per SM while the float32 partial sums stay within the weights' size.
// Stages: as many as the arch's shared memory holds, up to those. Tuning searches beyond this.
std::optional<TileSchedule> default_tensor_gemm(const MatmulConfig& config, const std::string& arch, int64_t M) {
  const std::optional<MmaRunLayout> found = mma_run_layout(config);
  if (!found || !float16_activations(config)) return std::nullopt;
  const MmaRunLayout& layout = *found;
  const ArchInfo& target = arch_info(arch);
  const int64_t sms = target.reference.sm_count;
  auto blocks_of = [&](int block_m, int block_n) {
    return families::tiles_of_c(config, {.m = block_m, .n = block_n}, M);
  };
  TileSchedule s;
  s.family = KernelFamily::tensor_gemm;
  s.pipeline.vector_bytes = layout.load_bytes;
  s.warps = {.m = 1, .n = 4, .k = 1};
  s.tile.n = 128;
  const bool many_rows = M > 64 && blocks_of(128, 128) >= 2 * sms;
  s.tile.m = many_rows ? 128 : M <= 32 ? 32 : 64;
  if (!many_rows && blocks_of(s.tile.m, 128) < sms && blocks_of(s.tile.m, 64) >= sms) s.tile.n = 64;
  const int k_block = families::layout_k_block(config, layout);
  s.pipeline.k_per_stage = std::max(k_block, 128 / k_block * k_block);
  const int64_t weight_bytes = config.N * config.K * info(config.W_dtype).bits / 8;
  const int64_t k_tiles = families::gemm_k_tiles(config, s);
  auto partial_bytes = [&](int split) { return int64_t(split) * M * config.N * 4 * 2; };  // written, then read
  const int64_t blocks = blocks_of(s.tile.m, s.tile.n);
  int& split_k = s.pipeline.split_k;
  while (blocks < sms && blocks * split_k < 2 * sms && split_k < 4 && 4 * split_k <= k_tiles &&
         partial_bytes(2 * split_k) <= weight_bytes) {
    split_k *= 2;
  }
  const int most_stages = many_rows || s.pipeline.split_k > 1 ? 2 : 4;
  const int budget = target.shared_bytes_per_block - static_shared_bytes(config, s, arch);
  const auto stages_that_fit = [&] { return std::min(most_stages, budget / families::gemm_stage_bytes(config, s, layout)); };
  s.pipeline.stages = stages_that_fit();
  while (s.pipeline.stages < 2 && s.tile.m > 32) {  // int1 / int2: long k-blocks; fewer rows per block
    s.tile.m /= 2;
    s.pipeline.stages = stages_that_fit();
  }
  while (s.pipeline.stages < 2 && s.tile.n > 64) {  // and fewer channels
    s.tile.n /= 2;
    s.pipeline.stages = stages_that_fit();
  }
  return s;
}

void add_tensor_gemm_candidates(const MatmulConfig& config, const TileSchedule&, int64_t, std::vector<TileSchedule>& out) {
  const MmaRunLayout layout = *mma_run_layout(config);
  const int k_block = families::layout_k_block(config, layout);
  const std::pair<int, int> warp_grids[] = {{1, 2}, {1, 4}, {2, 2}, {2, 4}, {4, 2}};
  for (int block_m : {32, 64, 128, 256})
    for (int block_n : {64, 128, 256})
      for (auto [warp_m, warp_n] : warp_grids)
        for (int stages : {2, 3, 4})
          for (int blocks_k : {1, 2, 4})
            for (int split_k : {1, 2, 4}) {
              TileSchedule s;
              s.family = KernelFamily::tensor_gemm;
              s.warps = {.m = warp_m, .n = warp_n, .k = 1};
              s.tile.m = block_m;
              s.tile.n = block_n;
              s.pipeline.k_per_stage = blocks_k * k_block;
              s.pipeline.stages = stages;
              s.pipeline.split_k = split_k;
              s.pipeline.vector_bytes = layout.load_bytes;
              out.push_back(s);
            }
}

void tensor_gemm_footprint(const MatmulConfig&, const TileSchedule& s, const std::string& arch, KernelFootprint& f) {
  const double most_registers = arch_info(arch).max_registers_per_thread;
  const double m_tiles = s.tile.m / s.warps.m / 8.0, n_tiles = s.tile.n / s.warps.n / 16.0;
  f.registers = int(std::min(most_registers, 48 + 4 * m_tiles * n_tiles + 4 * m_tiles + 8 * n_tiles));
  // Per k16 step of a warp: m x n mmas, 16 instructions of decode and scaling per channel tile,
  // half a 16-byte shared load per row tile, ~24 of copies and bookkeeping (measured on sm_90a:
  // 4.4 instructions per mma with 8 x 2 tiles).
  f.instructions_per_mma = (m_tiles * n_tiles + 16 * n_tiles + m_tiles / 2 + 24) / (m_tiles * n_tiles);
}

}  // namespace

const KernelTraits kTensorGemmKernel = {
    .family = KernelFamily::tensor_gemm,
    .takes = nullptr,
    .header = "bitjit/kernels/tensor_gemm.cuh",
    .function = "bitjit::tensor_gemm",
    .groups_wgmmas = false,
    .tensor_maps = false,
    .programmatic_launch = false,
    .validate = validate_tensor_gemm,
    .default_for = default_tensor_gemm,
    .add_candidates = add_tensor_gemm_candidates,
    .footprint = tensor_gemm_footprint,
    .static_shared_bytes = families::pair_table_static_bytes,
    .dynamic_shared_bytes = families::decoding_ring_bytes,
    .tiles = families::tensor_gemm_tiles,
    .stages = families::tensor_gemm_stages,
    .alignment = families::sixteen_byte_alignment,  // 16-byte cp.async copies
    .launch = families::staged_launch,
    .tma_tensors = nullptr,
};

}  // namespace bitjit
