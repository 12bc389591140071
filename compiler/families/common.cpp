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

int pair_table_bytes(const MatmulConfig& config, int copies) {
  // nf4 only: fp4's codes are placed into A's exponent and mantissa bits (PairDecode::fp4_bits).
  return float16_activations(config) && config.W_dtype == DType::nf4 ? 256 * copies * 4 : 0;
}

int hopper_pair_table_copies(int block_m) { return block_m >= 256 ? kWideTilePairTableCopies : kPairTableCopies; }

int pair_table_static_bytes(const MatmulConfig& config, const TileSchedule&) { return pair_table_bytes(config); }

int layout_k_block(const MatmulConfig& config, const MmaRunLayout& layout) {
  return layout.k_block(info(config.W_dtype).bits);
}

PlanConstant channel_tiles_constant(const MmaRunLayout& layout) {
  return {"bool", "kChannelTiles", layout.channel_tiles ? "true" : "false",
          layout.channel_tiles ? "W's k-blocks in tiles of 16 channels (a tile's k-block: its pieces side by side)"
                               : "W's rows whole"};
}

int gemm_stage_bytes(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout) {
  const int activation_bytes = s.tile.m * s.pipeline.k_per_stage * 2;
  const int weight_bytes = s.pipeline.k_per_stage / layout_k_block(config, layout) * s.tile.n * 4 * layout.load_bytes;
  return activation_bytes + weight_bytes;
}

int byte_rows_stage_bytes(const TileSchedule& s) { return (s.tile.m + s.tile.n) * s.pipeline.k_per_stage; }

int64_t gemm_k_tiles(const MatmulConfig& config, const TileSchedule& s) {
  return (config.K + s.pipeline.k_per_stage - 1) / s.pipeline.k_per_stage;
}

int decoding_ring_bytes(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = family_layout(config, s.family);
  if (!layout) return 0;
  return s.pipeline.stages * gemm_stage_bytes(config, s, *layout);
}

void require_shared_fits(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int stage_bytes) {
  const int static_bytes = static_shared_bytes(config, s, arch);
  const int shared = dynamic_shared_bytes(config, s) + static_bytes;
  const int limit = arch_info(arch).shared_bytes_per_block;
  if (shared > limit) {
    reject_schedule(std::to_string(s.pipeline.stages) + " stages of " + std::to_string(stage_bytes) + " bytes (+" +
                    std::to_string(static_bytes) + " static) need " + std::to_string(shared) +
                    " bytes of shared memory; " + arch + " allows " + std::to_string(limit) +
                    " per block: fewer pipeline.stages or a smaller tile.m / pipeline.k_per_stage");
  }
}

void require_unused(const TileSchedule& s, const char* field, int value, int neutral) {
  if (value == neutral) return;
  reject_schedule(std::string(field) + "=" + std::to_string(value) + ": " + std::string(to_string(s.family)) + " takes " +
                  field + "=" + std::to_string(neutral));
}

void require_raster_group(const TileSchedule& s) {
  if (s.launch.raster_group >= 1 && s.launch.raster_group <= 64) return;
  reject_schedule("launch.raster_group=" + std::to_string(s.launch.raster_group) +
                  " must be 1..64 (row blocks per group of the tile order)");
}

void require_layout_loads(const TileSchedule& s, const MmaRunLayout& layout) {
  if (s.pipeline.vector_bytes == layout.load_bytes) return;
  reject_schedule("pipeline.vector_bytes=" + std::to_string(s.pipeline.vector_bytes) + ": the mma_runs layout of this "
                  "config has " + std::to_string(layout.load_bytes) + "-byte loads (fixed by the config, so tuning "
                  "never repacks W)");
}

void validate_ring(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, const MmaRunLayout& layout,
                   bool raster_groups) {
  const TileSchedule::Pipeline& p = s.pipeline;
  const int k_block = layout_k_block(config, layout);
  if (p.k_per_stage % k_block != 0 || !is_power_of_two(p.k_per_stage / k_block) || p.k_per_stage / k_block > 8 ||
      p.k_per_stage % 64 != 0) {
    reject_schedule("pipeline.k_per_stage=" + std::to_string(p.k_per_stage) + " must be 1, 2, 4 or 8 k-blocks of " +
                    std::to_string(k_block) + " and a multiple of 64");
  }
  if (block_threads(s) < p.k_per_stage / 8) {
    reject_schedule(std::to_string(block_threads(s)) + " threads (warps " + std::to_string(s.warps.m) + " x " +
                    std::to_string(s.warps.n) + "): each stage's activation rows are copied in 16-byte chunks, " +
                    std::to_string(p.k_per_stage / 8) + " per row, at least one per thread: threads >= "
                    "pipeline.k_per_stage / 8");
  }
  if (p.stages < 2 || p.stages > 8) {
    reject_schedule("pipeline.stages=" + std::to_string(p.stages) + " must be 2..8 (the ring in shared memory)");
  }
  require_unused(s, "pipeline.k_per_round", p.k_per_round, 0);
  if (!raster_groups) require_unused(s, "launch.raster_group", s.launch.raster_group, 1);
  require_layout_loads(s, layout);
  require_shared_fits(config, s, arch, gemm_stage_bytes(config, s, layout));
}

void validate_split_k(const MatmulConfig& config, const TileSchedule& s) {
  if (s.pipeline.split_k < 1 || s.pipeline.split_k > 16 || s.pipeline.split_k > gemm_k_tiles(config, s)) {
    reject_schedule("pipeline.split_k=" + std::to_string(s.pipeline.split_k) + " must be 1..16 and at most the " +
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

int64_t tiles_of_c(const MatmulConfig& config, const TileSchedule::Tile& tile, int64_t rows) {
  return (config.N + tile.n - 1) / tile.n * ((rows + tile.m - 1) / tile.m);
}

LaunchShape tiled_launch(const KernelPlan& plan, int64_t M, int) {
  const TileSchedule& s = plan.schedule;
  LaunchShape shape;
  shape.grid = {uint32_t((plan.config.N + s.tile.n - 1) / s.tile.n), uint32_t((M + s.tile.m - 1) / s.tile.m),
                uint32_t(s.pipeline.split_k)};
  shape.block = {uint32_t(block_threads(s)), 1, 1};
  return shape;
}

LaunchShape staged_launch(const KernelPlan& plan, int64_t M, int multiprocessors) {
  const TileSchedule& s = plan.schedule;
  LaunchShape shape = tiled_launch(plan, M, multiprocessors);
  shape.shared_bytes = uint32_t(dynamic_shared_bytes(plan.config, s));
  if (s.pipeline.split_k > 1) {
    shape.workspace_bytes = int64_t(s.pipeline.split_k) * M * plan.config.N * 4;
    shape.tile_counters = int64_t(shape.grid[0]) * shape.grid[1];
  }
  return shape;
}

}  // namespace bitjit::families
