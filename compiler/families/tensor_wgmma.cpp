#include "compiler/families/tensor_wgmma.hpp"

#include <algorithm>

#include "compiler/families/common.hpp"
#include "compiler/families/tensor_gemm.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"

namespace bitjit {
namespace families {

void require_capability(const std::string& arch, bool ArchInfo::*capability, const char* family, const char* what) {
  if (arch_info(arch).*capability) return;
  reject_schedule("family=" + std::string(family) + " needs " + what + " (archs with it: " + archs_with(capability) +
                  "), got arch=" + arch);
}

// 192 rows only for W8A8, whose wgmma reads both operands from shared memory: fp8's two accumulator
// sets fit in a consumer thread's registers at 192 rows but not at 256, and a taller tile reads
// fewer L2 bytes per product (8-bit operands at the fp8 tensor cores' rate are L2-bound on
// 128-row tiles). The decoding kernels' register-operand wgmma shapes stop at 64, 128 and 256, and
// the warp-specialized one's also at 16 and 32 (its activation boxes of 16 or 32 rows are whole
// 8-row swizzle atoms; tensor_wgmma's cp.async loader is not written for them).
void validate_wgmma_tile(const MatmulConfig& config, const TileSchedule& s, WgmmaRows rows) {
  const bool byte_rows = same_8bit_operands(config);
  const bool few = rows == WgmmaRows::also_few;
  if (s.tile.m != 64 && s.tile.m != 128 && s.tile.m != 256 && !(byte_rows && s.tile.m == 192) &&
      !(few && (s.tile.m == 16 || s.tile.m == 32))) {
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + " must be " + (few ? "16, 32, " : "") + "64, 128" +
                    (byte_rows ? ", 192" : "") + " or 256 (wgmma N)" +
                    (few || byte_rows ? "" : "; 16 and 32: family=tensor_wgmma_ws with fp16 or bf16 activations"));
  }
  if (s.tile.n < 64 || s.tile.n > 256 || s.tile.n % 64 != 0) {
    reject_schedule("tile.n=" + std::to_string(s.tile.n) + " must be 64, 128, 192 or 256 (64 channels per warpgroup)");
  }
}

TileSchedule::Warps warpgroup_warps(const TileSchedule& s) { return {.m = 1, .n = s.tile.n / 16, .k = 1}; }

void require_warpgroup_warps(const TileSchedule& s) {
  const TileSchedule::Warps warps = warpgroup_warps(s);
  if (s.warps.m != warps.m || s.warps.n != warps.n || s.warps.k != warps.k) {
    reject_schedule("warps.m=" + std::to_string(s.warps.m) + ", warps.n=" + std::to_string(s.warps.n) + ", warps.k=" +
                    std::to_string(s.warps.k) + ": " + std::string(to_string(s.family)) + " runs one warpgroup (4 warps) "
                    "per 64 channels: warps.m=1, warps.n=tile.n/16=" + std::to_string(warps.n) + ", warps.k=1");
  }
}

MmaRunLayout require_wgmma_layout(const MatmulConfig& config, const std::string& family) {
  const std::optional<MmaRunLayout> layout = wgmma_layout(config);
  if (!layout || !float16_activations(config)) {
    reject_schedule("family=" + family + " needs A_dtype float16 or bfloat16 with float accumulation, weights exact "
                    "in A's type (or nf4), a group size divisible by 16 and K divisible into k-blocks" +
                    (family == "tensor_wgmma" ? ", or activations and weights of one 8-bit type (int8, float8_e4m3, "
                                                "float8_e5m2); use family=tensor_gemm"
                                              : "; use family=tensor_wgmma or tensor_gemm"));
  }
  return *layout;
}

void validate_wgmma_group(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout) {
  const int steps = layout_k_block(config, layout) / 16, group = s.pipeline.wgmma_group;
  if ((group != 1 && group != 2 && group != 4 && group != 8) || steps % group != 0) {
    reject_schedule("pipeline.wgmma_group=" + std::to_string(group) + " must be 1, 2, 4 or 8 and divide the " +
                    std::to_string(steps) + " steps of 16 k in a k-block of " + std::string(to_string(config.W_dtype)) +
                    " weights with pipeline.vector_bytes=" + std::to_string(s.pipeline.vector_bytes));
  }
}

TileSchedule fit_wgmma_tile(const MatmulConfig& config, const std::string& arch, TileSchedule s,
                            int (*stage_bytes)(const MatmulConfig&, const TileSchedule&), int shortest_k_per_stage) {
  s.tile.n = 128;
  const int budget = arch_info(arch).shared_bytes_per_block - static_shared_bytes(config, s, arch);
  const auto stages_that_fit = [&] { return std::min(s.tile.m == 256 ? 3 : 4, budget / stage_bytes(config, s)); };
  s.pipeline.stages = stages_that_fit();
  while (s.pipeline.stages < 3 && s.tile.m > 64) {
    if (shortest_k_per_stage > 0 && s.pipeline.k_per_stage / 2 >= shortest_k_per_stage) {
      s.pipeline.k_per_stage /= 2;
    } else {
      s.tile.m /= 2;
    }
    s.pipeline.stages = stages_that_fit();
  }
  while (s.pipeline.stages < 3 && s.tile.n > 64) s.tile.n /= 2, s.pipeline.stages = stages_that_fit();
  s.warps = warpgroup_warps(s);
  return s;
}

int decoding_stage_bytes(const MatmulConfig& config, const TileSchedule& s) {
  return gemm_stage_bytes(config, s, *family_layout(config, s.family));
}

// 128 k per stage, or one k-block where that is longer (1- and 2-bit codes).
int wgmma_k_per_stage(const MatmulConfig& config, const MmaRunLayout& layout) {
  const int k_block = layout_k_block(config, layout);
  return std::max(k_block, 128 / k_block * k_block);
}

// The schedule the Hopper candidates vary: the bucket's default where that is a Hopper schedule; else
// (the bucket's default is another family reading the same weights, e.g. tensor_gemv's at 16 rows of
// a dynamic M) a 64 x 128 tile with the decoding default's k per stage and load width.
TileSchedule hopper_candidate_base(const MatmulConfig& config, const TileSchedule& fallback) {
  if (is_hopper_family(fallback.family)) return fallback;
  const std::optional<MmaRunLayout> layout = family_layout(config, KernelFamily::tensor_wgmma);
  if (!layout) return fallback;  // no Hopper layout: its candidates fail validation and drop out
  TileSchedule base;
  base.family = KernelFamily::tensor_wgmma;
  base.tile = {.m = 64, .n = 128};
  base.warps = warpgroup_warps(base);
  base.pipeline.stages = 4;
  base.pipeline.k_per_stage = wgmma_k_per_stage(config, *layout);
  base.pipeline.vector_bytes = layout->load_bytes;
  return base;
}

// Rows per block: 64 up to M = 64, 128 up to 256, then 256 (m64n256k16: each decoded fragment feeds
// 256 rows); K split in two while the doubled blocks still fit in one wave. Measured on the H100:
// docs/performance.md. The default where tensor_wgmma_ws does not take the config.
std::optional<TileSchedule> default_tensor_wgmma_decoding(const MatmulConfig& config, const std::string& arch,
                                                          int64_t rows) {
  const std::optional<MmaRunLayout> layout = family_layout(config, KernelFamily::tensor_wgmma);
  if (!arch_info(arch).has_wgmma || !layout || !float16_activations(config)) return std::nullopt;
  TileSchedule s;
  s.family = KernelFamily::tensor_wgmma;
  s.tile.m = rows <= 64 ? 64 : rows <= 256 ? 128 : 256;
  s.pipeline.k_per_stage = wgmma_k_per_stage(config, *layout);
  s.pipeline.vector_bytes = layout->load_bytes;
  // Shorter stages before fewer rows: 8-bit codes and the nf4 table leave a 256 x 128 tile of 128 k
  // two stages; 64 k a stage keeps 256 rows (W8A16 at M = 4096: bench/results/2026-11-29-h200-tiles-w8a16-8b).
  s = fit_wgmma_tile(config, arch, s, decoding_stage_bytes, std::max(64, layout_k_block(config, *layout)));
  const int64_t sms = arch_info(arch).reference.sm_count;
  const int64_t blocks = (config.N + s.tile.n - 1) / s.tile.n * ((rows + s.tile.m - 1) / s.tile.m);
  const int64_t weight_bytes = config.N * config.K * info(config.W_dtype).bits / 8;
  const auto partial_bytes = [&](int split) { return int64_t(split) * rows * config.N * 4 * 2; };  // written, read
  int& split_k = s.pipeline.split_k;
  while (2 * blocks * split_k <= sms && split_k < 4 && 4 * split_k <= gemm_k_tiles(config, s) &&
         partial_bytes(2 * split_k) <= weight_bytes) {
    split_k *= 2;
  }
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;  // e.g. K not whole 16-k steps
  return s;
}

int hopper_static_shared_bytes(const MatmulConfig& config, const TileSchedule& s) {
  return shared_before_aligned_ring(pair_table_bytes(config, hopper_pair_table_copies(s.tile.m)));
}

// The static shared memory of a kernel whose dynamic ring is 1024-byte aligned (the 128-byte
// swizzle's atoms): its own variables rounded up to 1024, so the ring after them is aligned (with
// the 1024 bytes ptxas reserves on sm_90a, static_shared_bytes: .nv.shared int4 1024 for
// tensor_wgmma, 2048 for tensor_wgmma_ws with its barriers; nf4 33792 and 34816;
// tests/compiler/test_shared_memory.cpp).
int shared_before_aligned_ring(int variables_bytes) {
  constexpr int kRingAlignment = 1024;
  return (variables_bytes + kRingAlignment - 1) / kRingAlignment * kRingAlignment;
}

// 683 TFLOP/s of 990 at 70B gate_up, M = 4096 with 256 rows, 0.88 of that with 128 rows
// (bench/results/2026-11-27-h100-wgmma-ws); 64 rows, not measured at many rows, taken lower.
double wgmma_pipe_share(int block_m) { return block_m >= 256 ? 0.7 : block_m >= 128 ? 0.62 : 0.45; }

namespace {

PlanConstant wgmma_group_constant(const TileSchedule& s) {
  return {"int", "kWgmmaGroup", std::to_string(s.pipeline.wgmma_group),
          s.pipeline.wgmma_group == 1 ? "one wgmma per group: each 16-k step waits for the step before"
                             : "16-k steps decoded first, then issued as one wgmma group"};
}

}  // namespace

// The kernels' math runs in fragment order (kRun 2) whichever layout the weights lie in; kStoredRun
// says which: 2 (mma_fragments) or 8 (mma_runs, each lane decoding its fragment order from its quad's loads).
std::vector<PlanConstant> wgmma_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  std::vector<PlanConstant> tiles = tensor_gemm_tiles(config, s, arch);  // kRun 2: fragment order
  const int stored_run = family_layout(config, s.family)->run;
  tiles.push_back({"int", "kStoredRun", std::to_string(stored_run),
                   stored_run == 2 ? "the weights lie in fragment order (mma_fragments layout)"
                                   : "the weights lie in runs of " + std::to_string(stored_run) +
                                         " k (mma_runs layout): each lane decodes its fragment order from its quad's loads"});
  tiles.push_back(wgmma_group_constant(s));
  return tiles;
}

std::vector<PlanStage> tensor_wgmma_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = tensor_gemm_stages(config, s);
  stages[1].detail += family_layout(config, s.family)->run == 2
                          ? "; the mma_fragments layout (runs of 2 k): each warp decodes"
                          : "; the mma_runs layout (runs of 8 k), each lane decoding its fragment-order pairs from its "
                            "quad's four loads: each warp decodes";
  stages[1].detail += " its 16 channels step by step straight into wgmma's A fragments, one step ahead of the wgmma "
                      "that reads them";
  stages[2] = {"load A", "cp.async 16-byte copies of " + std::to_string(s.tile.m) + " rows x " +
                             std::to_string(s.pipeline.k_per_stage) +
                             " k into the ring as wgmma K-major core matrices (one copy, one core-matrix row)"};
  stages[3] = {"multiply-accumulate", "wgmma m64n" + std::to_string(s.tile.m) +
                                          "k16 per warpgroup (64 channels), weights from registers, activations from "
                                          "shared memory by descriptor, float32 accumulation in registers"};
  return stages;
}

// The warpgroup shape both tensor_wgmma kernels share.
void validate_warpgroups(const MatmulConfig& config, const TileSchedule& s) {
  validate_wgmma_tile(config, s);
  require_warpgroup_warps(s);
  if (s.pipeline.stages < 3 || s.pipeline.stages > 8) {
    reject_schedule("pipeline.stages=" + std::to_string(s.pipeline.stages) + " must be 3..8: tensor_wgmma keeps one stage "
                    "loading, one multiplied and one whose last wgmma may still run");
  }
}

// 64 channels per warpgroup, wgmma N = 64 / 128 / 256 rows; split K only where partial sums are
// float32 (not W8A8). A tuned schedule keeps the default's weight layout, so a config the family
// serves is tuned within it.
void add_wgmma_candidates(const TileSchedule& fallback, bool split, std::vector<TileSchedule>& out) {
  TileSchedule base = fallback;  // hopper_candidate_base's
  base.family = KernelFamily::tensor_wgmma;
  base.launch.raster_group = 1;  // tensor_wgmma takes its tiles in row-major order
  base.launch.cluster_n = 1;     // and no clusters
  for (int block_m : {64, 128, 192, 256})  // 192: W8A8 only (validation)
    for (int block_n : {64, 128, 192, 256})
      for (int stages : {3, 4, 5})
        for (int k_factor : {1, 2})
          for (int split_k : {1, 2, 4}) {
            if (!split && split_k > 1) continue;
            TileSchedule s = base;
            s.tile.m = block_m;
            s.tile.n = block_n;
            s.warps = warpgroup_warps(s);
            s.pipeline.stages = stages;
            s.pipeline.k_per_stage = base.pipeline.k_per_stage * k_factor;
            s.pipeline.split_k = split_k;
            out.push_back(s);
          }
}

// Per warp and 16-k step: one wgmma of 16 channels x block_m rows (block_m / 8 mma.sync tiles' work)
// and ~30 instructions of decoding, scaling and bookkeeping (the sm_90a SASS of the int4 kernel: ~300
// per 128-k stage of 8 steps); accumulators block_m / 2 floats. Its tensor pipe keeps 0.5 / 0.7 of
// tensor_wgmma_ws's share (49 % busy at 256 rows, Nsight Compute), every warp waiting on its own
// wgmmas at each stage's block-wide barrier.
void tensor_wgmma_footprint(const MatmulConfig&, const TileSchedule& s, const std::string& arch, KernelFootprint& f) {
  const double most_registers = arch_info(arch).max_registers_per_thread;
  const double mma_tiles = s.tile.m / 8.0;
  f.registers = int(std::min(most_registers, 72 + s.tile.m / 2.0));
  f.instructions_per_mma = (1 + 30) / mma_tiles;
  f.pipe_share = wgmma_pipe_share(s.tile.m) * 0.5 / 0.7;
}

}  // namespace families

namespace {

using families::reject_schedule;

void validate_tensor_wgmma(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  families::require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma", "wgmma");
  const MmaRunLayout layout = families::require_wgmma_layout(config, "tensor_wgmma");
  families::validate_wgmma_group(config, s, layout);
  families::validate_warpgroups(config, s);
  families::validate_ring(config, s, arch, layout);
  families::validate_split_k(config, s);
}

void add_tensor_wgmma_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t,
                                 std::vector<TileSchedule>& out) {
  families::add_wgmma_candidates(families::hopper_candidate_base(config, fallback), true, out);
}

}  // namespace

const KernelTraits kTensorWgmmaKernel = {
    .family = KernelFamily::tensor_wgmma,
    .takes = nullptr,  // what kTensorWgmma8bitKernel leaves: weights decoded for fp16 / bf16 activations
    .header = "bitjit/kernels/tensor_wgmma.cuh",
    .function = "bitjit::tensor_wgmma",
    .groups_wgmmas = true,
    .tensor_maps = false,
    .programmatic_launch = false,
    .validate = validate_tensor_wgmma,
    .default_for = families::default_tensor_wgmma_decoding,
    .add_candidates = add_tensor_wgmma_candidates,
    .footprint = families::tensor_wgmma_footprint,
    .static_shared_bytes = families::hopper_static_shared_bytes,
    .dynamic_shared_bytes = families::decoding_ring_bytes,
    .tiles = families::wgmma_tiles,
    .stages = families::tensor_wgmma_stages,
    .alignment = families::sixteen_byte_alignment,  // 16-byte cp.async copies
    .launch = families::staged_launch,
    .tma_tensors = nullptr,
};

}  // namespace bitjit
