// tensor_wgmma's entry point for W8A8 (kernels/tensor_wgmma_8bit.cuh): activations and weights of one 8-bit
// type (int8, float8_e4m3, float8_e5m2), no decoding, both operands' rows staged as they are and
// multiplied by wgmma from shared memory. tensor_wgmma_ws's W8A8 entry point shares its checks.
#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/tensor_wgmma.hpp"

namespace bitjit {
namespace families {

void require_byte_rows_operands(const MatmulConfig& config, const std::string& family) {
  const DType integer_sums = config.A_dtype == DType::int8 ? DType::int32 : DType::float32;
  if (config.accum_dtype != integer_sums) {
    reject_schedule("family=" + family + " with " + std::string(to_string(config.A_dtype)) + " operands needs "
                    "accum_dtype=" + std::string(to_string(integer_sums)) + ", got " +
                    std::string(to_string(config.accum_dtype)));
  }
  if (config.with_scaling || config.with_zeros) {
    reject_schedule("family=" + family + " multiplies 8-bit activations and weights without scales or zeros "
                    "(with_scaling=false, with_zeros=false); use family=tensor_gemv or simt");
  }
  if (config.K % 16 != 0) {
    reject_schedule("family=" + family + " with 8-bit operands needs K divisible by 16, got " + std::to_string(config.K));
  }
}

void require_byte_rows_tiles(const MatmulConfig& config, const TileSchedule& s) {
  if (s.pipeline.k_per_stage != 128 && s.pipeline.k_per_stage != 256) {
    reject_schedule("pipeline.k_per_stage=" + std::to_string(s.pipeline.k_per_stage) +
                    " must be 128 or 256 (whole 128-byte swizzle atoms of k)");
  }
  if (config.A_dtype != DType::int8 && s.tile.m > 192) {
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + " must be 64, 128 or 192 with " +
                    std::string(to_string(config.A_dtype)) + " operands: each stage's fp8 sums are kept apart before "
                    "they are added in float32, which doubles the accumulator registers");
  }
  if (s.pipeline.vector_bytes != 16) {
    reject_schedule("pipeline.vector_bytes=" + std::to_string(s.pipeline.vector_bytes) +
                    ": 8-bit rows are moved 16 bytes at a time");
  }
  require_unused(s, "pipeline.k_per_round", s.pipeline.k_per_round, 0);
}

int byte_rows_ring_bytes(const MatmulConfig&, const TileSchedule& s) {
  return s.pipeline.stages * byte_rows_stage_bytes(s);
}

// 128 k per stage; int8 256 rows above M = 256 (1.39x the 128-row block at 70B gate_up, M = 4096),
// fp8 at most 128 (its two accumulator sets); no split. Nullopt where the family does not take the
// config (e.g. with scales).
std::optional<TileSchedule> default_tensor_wgmma_8bit(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  if (!arch_info(arch).has_wgmma) return std::nullopt;
  TileSchedule s;
  s.family = KernelFamily::tensor_wgmma;
  s.tile.m = rows <= 64 ? 64 : rows <= 256 || config.A_dtype != DType::int8 ? 128 : 256;
  s.pipeline.k_per_stage = 128;
  s.pipeline.vector_bytes = 16;
  s = fit_wgmma_tile(config, arch, s, [](const MatmulConfig&, const TileSchedule& t) { return byte_rows_stage_bytes(t); });
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  return s;
}

std::vector<PlanConstant> tensor_wgmma_8bit_tiles(const MatmulConfig&, const TileSchedule& s, const std::string&) {
  return {
      {"int", "kThreads", std::to_string(block_threads(s)), std::to_string(block_threads(s) / 128) + " warpgroups"},
      {"int", "kBlockM", std::to_string(s.tile.m), "rows of C per block (wgmma N)"},
      {"int", "kBlockN", std::to_string(s.tile.n), "channels of C per block, 64 per warpgroup"},
      {"int", "kBlockK", std::to_string(s.pipeline.k_per_stage),
       std::to_string(s.pipeline.k_per_stage / 32) + " wgmma steps of 32 k per stage"},
      {"int", "kStages", std::to_string(s.pipeline.stages), "depth of the cp.async ring in shared memory"},
  };
}

std::vector<PlanStage> tensor_wgmma_8bit_stages(const MatmulConfig& config, const TileSchedule& s) {
  const std::string rows = std::to_string(s.tile.m), channels = std::to_string(s.tile.n);
  const std::string k = std::to_string(s.pipeline.k_per_stage);
  const bool integer = config.A_dtype == DType::int8;
  return {
      {"load W", "cp.async 16-byte copies of " + channels + " channels x " + k + " k (plain rows of bytes) into a " +
                     std::to_string(s.pipeline.stages) + "-stage ring as wgmma K-major core matrices"},
      {"dequant", "none: activations and weights are both " + std::string(to_string(config.A_dtype))},
      {"load A", "cp.async 16-byte copies of " + rows + " rows x " + k + " k into the same ring, the same way"},
      {"multiply-accumulate", "wgmma m64n" + rows + "k32 per warpgroup (64 channels), both operands from shared memory, " +
                                  (integer ? "int32" : "float32") + " accumulation in registers"},
      {"epilogue", std::string(config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))},
  };
}

}  // namespace families

namespace {

using families::reject_schedule;

void validate_tensor_wgmma_8bit(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  families::require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma", "wgmma");
  families::require_byte_rows_operands(config, "tensor_wgmma");
  families::validate_warpgroups(config, s);
  families::require_byte_rows_tiles(config, s);
  families::require_unused(s, "launch.raster_group", s.launch.raster_group, 1);
  if (s.pipeline.split_k != 1) {
    reject_schedule("pipeline.split_k=" + std::to_string(s.pipeline.split_k) +
                    ": tensor_wgmma with 8-bit operands takes pipeline.split_k=1");
  }
  families::require_shared_fits(config, s, arch, families::byte_rows_stage_bytes(s));
}

// Sums of 8-bit products are not split: pipeline.split_k=1.
void add_tensor_wgmma_8bit_candidates(const MatmulConfig&, const TileSchedule& fallback, int64_t,
                                      std::vector<TileSchedule>& out) {
  families::add_wgmma_candidates(fallback, false, out);
}

}  // namespace

const KernelTraits kTensorWgmma8bitKernel = {
    .family = KernelFamily::tensor_wgmma,
    .takes = same_8bit_operands,
    .header = "bitjit/kernels/tensor_wgmma_8bit.cuh",
    .function = "bitjit::tensor_wgmma_8bit",
    .groups_wgmmas = false,
    .tensor_maps = false,
    .programmatic_launch = false,
    .validate = validate_tensor_wgmma_8bit,
    .default_for = families::default_tensor_wgmma_8bit,
    .add_candidates = add_tensor_wgmma_8bit_candidates,
    .footprint = families::tensor_wgmma_footprint,
    .static_shared_bytes = families::hopper_static_shared_bytes,
    .dynamic_shared_bytes = families::byte_rows_ring_bytes,
    .tiles = families::tensor_wgmma_8bit_tiles,
    .stages = families::tensor_wgmma_8bit_stages,
    .alignment = families::sixteen_byte_alignment,  // 16-byte cp.async copies
    .launch = families::staged_launch,
    .tma_tensors = nullptr,
};

}  // namespace bitjit
