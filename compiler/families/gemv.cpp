#include "compiler/families/gemv.hpp"

#include <algorithm>

#include "compiler/families/common.hpp"
#include "compiler/families/simt.hpp"

namespace bitjit {
namespace {

// Codes per gemv load: at most 32 (registers), never straddling a group.
int gemv_codes_per_load(const MatmulConfig& config, int vector_bytes) {
  return vector_bytes * 8 / info(config.W_dtype).bits;
}

int widest_gemv_load(const MatmulConfig& config) {
  const int64_t group = config.group_size > 0 ? config.group_size : config.K;
  int bytes = families::widest_row_load(config);
  while (bytes > 1 && (gemv_codes_per_load(config, bytes) > 32 || group % gemv_codes_per_load(config, bytes) != 0)) {
    bytes /= 2;
  }
  return bytes;
}

void validate_gemv(const MatmulConfig& config, const TileSchedule& s, const std::string&) {
  families::require_general_layout(config, s);
  if (!gemv_applies(config)) {
    families::reject_schedule("family=gemv needs A_dtype float16 or bfloat16 and float accumulation (got A_dtype=" +
                              std::string(to_string(config.A_dtype)) + ", accum_dtype=" +
                              std::string(to_string(config.accum_dtype)) + "); use family=simt");
  }
  families::validate_simt_knobs(config, s);
  const int codes = gemv_codes_per_load(config, s.pipeline.vector_bytes);
  const int64_t group = config.group_size > 0 ? config.group_size : config.K;
  if (codes < 1 || codes > 32 || group % codes != 0) {
    families::reject_schedule("pipeline.vector_bytes=" + std::to_string(s.pipeline.vector_bytes) + " loads " +
                              std::to_string(codes) + " " +
                              std::string(to_string(config.W_dtype)) + " codes; gemv takes 1..32 codes per load, "
                              "dividing the group of " + std::to_string(group));
  }
}

// One column per warp; rows per block trade weight re-reads (M / tile.m passes over W) against
// registers.
std::optional<TileSchedule> default_gemv(const MatmulConfig& config, const std::string&, int64_t rows) {
  if (!gemv_applies(config)) return std::nullopt;
  return families::general_schedule(KernelFamily::gemv, 4, int(std::min<int64_t>(rows, 16)), widest_gemv_load(config));
}

std::vector<PlanStage> gemv_stages(const MatmulConfig& config, const TileSchedule& s) {
  const DTypeInfo& w = info(config.W_dtype);
  const int codes = s.pipeline.vector_bytes * 8 / w.bits;
  const std::string scaling =
      config.with_scaling ? "; scale" + std::string(config.with_zeros ? " and zero" : "") + " loaded once per load" +
                                (config.zeros_mode == ZerosMode::rescale && config.with_zeros
                                     ? ", applied per element (rescale)"
                                     : ", scale applied to the load's partial sum")
                          : "";
  return {
      {"load W", std::to_string(s.pipeline.vector_bytes) + "-byte loads per lane, lanes strided along K (" +
                     std::to_string(codes) + " " + std::string(w.name) + " codes each, within one group)"},
      {"dequant", std::string(w.is_integer() ? "codes to float by the 2^23 exponent trick" : "decode per code") + scaling},
      {"load A", "16-byte loads from global memory (cached), " + std::to_string(s.tile.m) + " rows"},
      {"multiply-accumulate", "float32 FMA on CUDA cores"},
      {"epilogue", "warp-shuffle reduction, " + std::string(config.with_bias ? "bias, " : "") + "cast to " +
                       std::string(to_string(config.out_dtype))},
  };
}

// A in 16-byte loads where a load of W holds that many codes' worth of 16-bit activations.
std::array<int, 6> gemv_alignment(const MatmulConfig& config, const TileSchedule& s) {
  const int load_bytes = s.pipeline.vector_bytes;
  return families::operand_alignment(config, std::min(16, 2 * load_bytes * 8 / int(info(config.W_dtype).bits)), load_bytes);
}

}  // namespace

bool gemv_applies(const MatmulConfig& config) {
  return float16_activations(config) && config.accum_dtype != DType::int32;
}

const KernelTraits kGemvKernel = {
    .family = KernelFamily::gemv,
    .takes = nullptr,
    .header = "bitjit/kernels/gemv_matmul.cuh",
    .function = "bitjit::gemv_matmul",
    .groups_wgmmas = false,
    .tensor_maps = false,
    .programmatic_launch = false,
    .validate = validate_gemv,
    .default_for = default_gemv,
    .add_candidates = families::add_general_candidates,
    .footprint = families::no_footprint,
    .static_shared_bytes = families::pair_table_static_bytes,
    .dynamic_shared_bytes = families::no_shared_bytes,
    .tiles = families::general_tiles,
    .stages = gemv_stages,
    .alignment = gemv_alignment,
    .launch = families::tiled_launch,
    .tma_tensors = nullptr,
};

}  // namespace bitjit
