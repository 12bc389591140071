#include "compiler/families/simt.hpp"

#include <algorithm>

#include "compiler/families/common.hpp"

namespace bitjit {
namespace families {

void validate_simt_knobs(const MatmulConfig& config, const TileSchedule& s) {
  if (s.threads % 32 != 0 || s.threads < 32 || s.threads > 1024) {
    reject_schedule("threads=" + std::to_string(s.threads) + " must be a multiple of 32 between 32 and 1024");
  }
  if (s.block_m < 1 || s.block_m > 16) reject_schedule("block_m=" + std::to_string(s.block_m) + " must be 1..16");
  if (s.block_n < 1 || s.block_n > 1024) reject_schedule("block_n=" + std::to_string(s.block_n) + " must be 1..1024");
  if (!is_power_of_two(s.vector_bytes) || s.vector_bytes > 16) {
    reject_schedule("vector_bytes=" + std::to_string(s.vector_bytes) + " must be 1, 2, 4, 8 or 16");
  }
  if (weight_row_bytes(config) % s.vector_bytes != 0) {
    reject_schedule("vector_bytes=" + std::to_string(s.vector_bytes) + " does not divide a weight row of " +
                    std::to_string(weight_row_bytes(config)) + " bytes (K=" + std::to_string(config.K) + ")");
  }
  if (s.vector_bytes * 8 < info(config.W_dtype).bits) {
    reject_schedule("vector_bytes=" + std::to_string(s.vector_bytes) + " is narrower than one " +
                    std::string(to_string(config.W_dtype)) + " element");
  }
  // Both families stream K in one pass per warp with no staging: these knobs have one value.
  const auto only = [](const char* field, int value, const char* allowed) {
    reject_schedule(std::string(field) + "=" + std::to_string(value) + ": the simt and gemv families take " + field +
                    "=" + allowed);
  };
  if (s.block_k != 0) only("block_k", s.block_k, "0");
  if (s.stages != 1) only("stages", s.stages, "1");
  if (s.split_k != 1) only("split_k", s.split_k, "1");
  if (s.swizzle != 1) only("swizzle", s.swizzle, "1");
  if (s.warp_m != 1 || s.warp_n * 32 != s.threads) {
    reject_schedule("warp_m=" + std::to_string(s.warp_m) + ", warp_n=" + std::to_string(s.warp_n) +
                    ": the simt and gemv families lay their threads/32 warps along N (warp_m=1, warp_n=threads/32)");
  }
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
  s.threads = 128;
  s.warp_m = 1;
  s.warp_n = 4;
  s.block_n = block_n;
  s.block_m = block_m;
  s.vector_bytes = load_bytes;
  return s;
}

std::vector<PlanConstant> general_tiles(const MatmulConfig&, const TileSchedule& s, const std::string&) {
  return {
      {"int", "kThreads", std::to_string(s.threads), std::to_string(s.threads / 32) + " warps, each owning whole columns"},
      {"int", "kBlockM", std::to_string(s.block_m), "rows of C per block: W is read once per kBlockM rows"},
      {"int", "kBlockN", std::to_string(s.block_n), "columns of C per block"},
      {"int", "kLoadBytes", std::to_string(s.vector_bytes), "bytes of packed W per lane per load"},
  };
}

void add_general_candidates(const MatmulConfig&, const TileSchedule& base, int64_t rows, std::vector<TileSchedule>& out) {
  for (int threads : {128, 256})
    for (int block_m : {1, 2, 4, 8, 16}) {
      if (block_m > std::max<int64_t>(rows, 1) * 2 && block_m > 1) continue;
      for (int vector_bytes : {base.vector_bytes, base.vector_bytes / 2}) {
        if (vector_bytes < 1) continue;
        TileSchedule s = base;
        s.threads = threads;
        s.warp_n = threads / 32;
        s.block_n = base.block_n * threads / base.threads;
        s.block_m = block_m;
        s.vector_bytes = vector_bytes;
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
      {"load W", std::to_string(s.vector_bytes) + "-byte loads per lane, lanes strided along K (" +
                     std::to_string(s.vector_bytes * 8 / w.bits) + " " + std::string(w.name) + " codes each)"},
      {"dequant", config.with_scaling ? "per element: decode, then scale" + zeros : "per element: decode"},
      {"load A", "per element from global memory (cached), " + std::to_string(s.block_m) + " rows"},
      {"multiply-accumulate", config.accum_dtype == DType::int32 ? "int32 multiply-add on CUDA cores"
                                                                 : "float32 FMA on CUDA cores"},
      {"epilogue", "warp-shuffle reduction, " + std::string(config.with_bias ? "bias, " : "") + "cast to " +
                       std::string(to_string(config.out_dtype))},
  };
}

std::array<int, 6> simt_alignment(const MatmulConfig& config, const TileSchedule& s) {
  return families::operand_alignment(config, families::element_alignment(config.A_dtype), s.vector_bytes);
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
