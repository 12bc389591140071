#include "compiler/families/common.hpp"

#include "common/error.hpp"
#include "compiler/arch.hpp"

namespace bitjit::families {

void reject_schedule(const std::string& message) { throw ConfigError("invalid TileSchedule: " + message); }

bool is_power_of_two(int value) { return value > 0 && (value & (value - 1)) == 0; }

int64_t weight_row_bytes(const MatmulConfig& config) { return config.K * info(config.W_dtype).bits / 8; }

int widest_row_load(const MatmulConfig& config) {
  int bytes = 16;
  while (weight_row_bytes(config) % bytes != 0) bytes /= 2;
  return bytes;
}

int pair_table_bytes(const MatmulConfig& config) {
  const DTypeInfo& w = info(config.W_dtype);
  return float16_activations(config) && w.bits == 4 && !w.is_integer() ? 256 * 32 * 4 : 0;
}

int pair_table_static_bytes(const MatmulConfig& config, const TileSchedule&) { return pair_table_bytes(config); }

int layout_k_block(const MatmulConfig& config, const MmaRunLayout& layout) {
  return layout.k_block(info(config.W_dtype).bits);
}

int gemm_stage_bytes(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout) {
  const int activation_bytes = s.block_m * s.block_k * 2;
  const int weight_bytes = s.block_k / layout_k_block(config, layout) * s.block_n * 4 * layout.load_bytes;
  return activation_bytes + weight_bytes;
}

int byte_rows_stage_bytes(const TileSchedule& s) { return (s.block_m + s.block_n) * s.block_k; }

int64_t gemm_k_tiles(const MatmulConfig& config, const TileSchedule& s) { return (config.K + s.block_k - 1) / s.block_k; }

int decoding_ring_bytes(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = family_layout(config, s.family);
  if (!layout) return 0;
  return s.stages * gemm_stage_bytes(config, s, *layout);
}

void require_shared_fits(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int stage_bytes) {
  const int shared = dynamic_shared_bytes(config, s) + static_shared_bytes(config, s);
  const int limit = arch_info(arch).shared_bytes_per_block;
  if (shared > limit) {
    reject_schedule(std::to_string(s.stages) + " stages of " + std::to_string(stage_bytes) + " bytes (+" +
                    std::to_string(static_shared_bytes(config, s)) + " static) need " + std::to_string(shared) +
                    " bytes of shared memory; " + arch + " allows " + std::to_string(limit) +
                    " per block: fewer stages or a smaller block_m / block_k");
  }
}

void validate_ring(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, const MmaRunLayout& layout,
                   bool swizzle_is_raster_group) {
  const std::string family(to_string(s.family));
  const int k_block = layout_k_block(config, layout);
  if (s.block_k % k_block != 0 || !is_power_of_two(s.block_k / k_block) || s.block_k / k_block > 8 ||
      s.block_k % 64 != 0) {
    reject_schedule("block_k=" + std::to_string(s.block_k) + " must be 1, 2, 4 or 8 k-blocks of " +
                    std::to_string(k_block) + " and a multiple of 64");
  }
  if (s.threads < s.block_k / 8) {
    reject_schedule("threads=" + std::to_string(s.threads) + ": each stage's activation rows are copied in 16-byte "
                    "chunks, " + std::to_string(s.block_k / 8) + " per row, at least one per thread: threads >= block_k / 8");
  }
  if (s.stages < 2 || s.stages > 8) {
    reject_schedule("stages=" + std::to_string(s.stages) + " must be 2..8 (the ring in shared memory)");
  }
  if (!swizzle_is_raster_group && s.swizzle != 1) {
    reject_schedule("swizzle=" + std::to_string(s.swizzle) + ": " + family + " takes swizzle=1");
  }
  if (s.vector_bytes != layout.load_bytes) {
    reject_schedule("vector_bytes=" + std::to_string(s.vector_bytes) + ": the mma_runs layout of this config has " +
                    std::to_string(layout.load_bytes) + "-byte loads (fixed by the config, so tuning never repacks W)");
  }
  require_shared_fits(config, s, arch, gemm_stage_bytes(config, s, layout));
}

void validate_split_k(const MatmulConfig& config, const TileSchedule& s) {
  if (s.split_k < 1 || s.split_k > 16 || s.split_k > gemm_k_tiles(config, s)) {
    reject_schedule("split_k=" + std::to_string(s.split_k) + " must be 1..16 and at most the " +
                    std::to_string(gemm_k_tiles(config, s)) + " stages of K");
  }
}

int element_alignment(DType dtype) { return info(dtype).storage_bytes(); }  // packed formats: 1 byte

std::array<int, 6> operand_alignment(const MatmulConfig& config, int a_bytes, int w_bytes) {
  const int scale = element_alignment(scale_dtype(config));
  return {a_bytes, w_bytes, scale, config.zeros_mode == ZerosMode::quantized ? 1 : scale,
          element_alignment(bias_dtype(config)), element_alignment(config.out_dtype)};
}

std::array<int, 6> sixteen_byte_alignment(const MatmulConfig& config, const TileSchedule&) {
  return operand_alignment(config, 16, 16);
}

LaunchShape tiled_launch(const KernelPlan& plan, int64_t M, int) {
  const TileSchedule& s = plan.schedule;
  LaunchShape shape;
  shape.grid = {uint32_t((plan.config.N + s.block_n - 1) / s.block_n), uint32_t((M + s.block_m - 1) / s.block_m),
                uint32_t(s.split_k)};
  shape.block = {uint32_t(s.threads), 1, 1};
  return shape;
}

LaunchShape staged_launch(const KernelPlan& plan, int64_t M, int multiprocessors) {
  const TileSchedule& s = plan.schedule;
  LaunchShape shape = tiled_launch(plan, M, multiprocessors);
  shape.shared_bytes = uint32_t(dynamic_shared_bytes(plan.config, s));
  if (s.split_k > 1) {
    shape.workspace_bytes = int64_t(s.split_k) * M * plan.config.N * 4;
    shape.tile_counters = int64_t(shape.grid[0]) * shape.grid[1];
  }
  return shape;
}

}  // namespace bitjit::families
