// The stages of tensor_gemv's entry point for int8 and fp8 activations (kernels/tensor_gemv_8bit.cuh):
// m16n8k32 on bytes, the weight codes (or their e4m3 bytes) as the 16-row operand.
#include "compiler/families/tensor_gemv.hpp"

namespace bitjit::families {

std::vector<PlanStage> tensor_gemv_8bit_stages(const MatmulConfig& config, const TileSchedule& s) {
  const DTypeInfo& w = info(config.W_dtype);
  const MmaRunLayout layout = *mma_run_layout(config);
  const int codes = layout.codes_per_load(w.bits);
  const bool fp8 = fp8_activations(config);
  const bool table = fp8 && w.bits == 4;  // 4-bit codes to e4m3 bytes
  const std::string a_name(to_string(config.A_dtype));
  std::string sums = config.accum_dtype == DType::int32 ? "int32 sums over all of K"
                     : fp8 ? "float32 sums per run of " + std::to_string(layout.run) + " k, added to float32"
                           : "int32 sums per run of " + std::to_string(layout.run) + " k, converted to float32";
  if (config.with_scaling) sums += " and scaled";
  if (config.with_zeros) sums += ", zero points through sum(A)";
  const std::string w_bytes = table ? "float8_e4m3" : std::string(w.name);
  // Signed integer formats are offset binary or int8's flipped bytes: their offset goes through sum(A).
  const std::string offset = table && w.is_integer() && w.is_signed
                                 ? "the format's offset through sum(A) (one mma against ones); " : "";
  const std::string mma = fp8 ? "mma.sync m16n8k32 " + w_bytes + " x " + a_name + " -> f32 (weights as the 16-row "
                                "operand); " + offset
                              : "mma.sync m16n8k32 u8 x s8 -> s32 (weight codes as the 16-row operand); the format's "
                                "offset through sum(A) (one mma against ones); ";
  const std::string dequant =
      table        ? std::string("e4m3 of each ") + (w.is_integer() ? "code" : "fp4 value") +
                         " by PRMT byte tables, the codes as selectors"
      : w.bits == 8 ? "none: the code bytes are the mma operand"
                    : "one shift and AND per four codes into bytes";
  return {
      tensor_gemv_load_stage(config, s, codes),
      {"dequant", dequant},
      {"load A", "8-byte " + a_name + " fragment loads from global memory (cached), " + std::to_string(s.tile.m) +
                     " rows"},
      {"multiply-accumulate", mma + sums},
      tensor_gemv_epilogue_stage(config, s),
  };
}

}  // namespace bitjit::families
