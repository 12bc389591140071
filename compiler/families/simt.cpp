#include "compiler/families/simt.hpp"

#include <algorithm>

#include "compiler/families/common.hpp"

namespace bitjit {
namespace families {

void validate_simt_knobs(const MatmulConfig& config, const TileSchedule& s) {
  // Both families lay their warps along N, each owning whole columns, and stream K in one pass per
  // warp with no staging: the other knobs have one value.
  if (s.warps.n < 1 || s.warps.n > 32) {
    reject_schedule("warps.n=" + std::to_string(s.warps.n) + " must be 1..32 (32 to 1024 threads)");
  }
  require_unused(s, "warps.m", s.warps.m, 1);
  require_unused(s, "warps.k", s.warps.k, 1);
  if (s.tile.m < 1 || s.tile.m > 16) reject_schedule("tile.m=" + std::to_string(s.tile.m) + " must be 1..16");
  if (s.tile.n < 1 || s.tile.n > 1024) reject_schedule("tile.n=" + std::to_string(s.tile.n) + " must be 1..1024");
  const int vector_bytes = s.pipeline.vector_bytes;
  if (!is_power_of_two(vector_bytes) || vector_bytes > 16) {
    reject_schedule("pipeline.vector_bytes=" + std::to_string(vector_bytes) + " must be 1, 2, 4, 8 or 16");
  }
  if (weight_row_bytes(config) % vector_bytes != 0) {
    reject_schedule("pipeline.vector_bytes=" + std::to_string(vector_bytes) + " does not divide a weight row of " +
                    std::to_string(weight_row_bytes(config)) + " bytes (K=" + std::to_string(config.K) + ")");
  }
  if (vector_bytes * 8 < info(config.W_dtype).bits) {
    reject_schedule("pipeline.vector_bytes=" + std::to_string(vector_bytes) + " is narrower than one " +
                    std::string(to_string(config.W_dtype)) + " element");
  }
  require_unused(s, "pipeline.stages", s.pipeline.stages, 1);
  require_unused(s, "pipeline.k_per_stage", s.pipeline.k_per_stage, 0);
  require_unused(s, "pipeline.k_per_round", s.pipeline.k_per_round, 0);
  require_unused(s, "pipeline.split_k", s.pipeline.split_k, 1);
  require_unused(s, "launch.raster_group", s.launch.raster_group, 1);
}

// Configs laid out for tensor cores (weight_layout.hpp) run only on the family that reads that
// layout, unless it moves no code (fp8).
void require_general_layout(const MatmulConfig& config, const TileSchedule& s) {
  if (const std::optional<MmaRunLayout> layout = mma_run_layout(config); layout && reorders_weights(config, *layout)) {
    reject_schedule("family=" + std::string(to_string(s.family)) +
                    " reads the general weight layout, but this config's weights use the mma_runs layout "
                    "(tensor-core path); use family=tensor_gemv");
  }
}

TileSchedule general_schedule(KernelFamily family, int block_n, int block_m, int load_bytes) {
  TileSchedule s;
  s.family = family;
  s.warps = {.m = 1, .n = 4, .k = 1};
  s.tile.n = block_n;
  s.tile.m = block_m;
  s.pipeline.vector_bytes = load_bytes;
  return s;
}

std::vector<PlanConstant> general_tiles(const MatmulConfig&, const TileSchedule& s, const std::string&) {
  return {
      {"int", "kThreads", std::to_string(block_threads(s)),
       std::to_string(s.warps.n) + " warps, each owning whole columns"},
      {"int", "kBlockM", std::to_string(s.tile.m), "rows of C per block: W is read once per kBlockM rows"},
      {"int", "kBlockN", std::to_string(s.tile.n), "columns of C per block"},
      {"int", "kLoadBytes", std::to_string(s.pipeline.vector_bytes), "bytes of packed W per lane per load"},
  };
}

void add_general_candidates(const MatmulConfig&, const TileSchedule& base, int64_t rows, std::vector<TileSchedule>& out) {
  for (int threads : {128, 256})
    for (int block_m : {1, 2, 4, 8, 16}) {
      if (block_m > std::max<int64_t>(rows, 1) * 2 && block_m > 1) continue;
      for (int vector_bytes : {base.pipeline.vector_bytes, base.pipeline.vector_bytes / 2}) {
        if (vector_bytes < 1) continue;
        TileSchedule s = base;
        s.warps.n = threads / 32;
        s.tile.n = base.tile.n * threads / block_threads(base);
        s.tile.m = block_m;
        s.pipeline.vector_bytes = vector_bytes;
        out.push_back(s);
      }
    }
}

int no_shared_bytes(const MatmulConfig&, const TileSchedule&) { return 0; }

void no_footprint(const MatmulConfig&, const TileSchedule&, const std::string&, KernelFootprint&) {}

}  // namespace families

namespace {

void validate_simt(const MatmulConfig& config, const TileSchedule& s, const std::string&) {
  families::require_general_layout(config, s);
  families::validate_simt_knobs(config, s);
}

// Rows per block trade weight re-reads (M / block_m passes over W) against registers.
std::optional<TileSchedule> default_simt(const MatmulConfig& config, const std::string&, int64_t rows) {
  return families::general_schedule(KernelFamily::simt, 8, int(std::min<int64_t>(rows, 8)),
                                    families::widest_row_load(config));
}

std::vector<PlanStage> simt_stages(const MatmulConfig& config, const TileSchedule& s) {
  const DTypeInfo& w = info(config.W_dtype);
  const std::string zeros = config.with_zeros ? " and zero point (" + std::string(to_string(config.zeros_mode)) + ")" : "";
  return {
      {"load W", std::to_string(s.pipeline.vector_bytes) + "-byte loads per lane, lanes strided along K (" +
                     std::to_string(s.pipeline.vector_bytes * 8 / w.bits) + " " + std::string(w.name) + " codes each)"},
      {"dequant", config.with_scaling ? "per element: decode, then scale" + zeros : "per element: decode"},
      {"load A", "per element from global memory (cached), " + std::to_string(s.tile.m) + " rows"},
      {"multiply-accumulate", config.accum_dtype == DType::int32 ? "int32 multiply-add on CUDA cores"
                                                                 : "float32 FMA on CUDA cores"},
      {"epilogue", "warp-shuffle reduction, " + std::string(config.with_bias ? "bias, " : "") + "cast to " +
                       std::string(to_string(config.out_dtype))},
  };
}

std::array<int, 6> simt_alignment(const MatmulConfig& config, const TileSchedule& s) {
  return families::operand_alignment(config, families::element_alignment(config.A_dtype), s.pipeline.vector_bytes);
}

}  // namespace

const KernelTraits kSimtKernel = {
    .family = KernelFamily::simt,
    .takes = nullptr,
    .header = "bitjit/kernels/simt_matmul.cuh",
    .function = "bitjit::simt_matmul",
    .groups_wgmmas = false,
    .tensor_maps = false,
    .programmatic_launch = false,
    .validate = validate_simt,
    .default_for = default_simt,
    .add_candidates = families::add_general_candidates,
    .footprint = families::no_footprint,
    .static_shared_bytes = families::pair_table_static_bytes,
    .dynamic_shared_bytes = families::no_shared_bytes,
    .tiles = families::general_tiles,
    .stages = simt_stages,
    .alignment = simt_alignment,
    .launch = families::tiled_launch,
    .tma_tensors = nullptr,
};

}  // namespace bitjit
