#include "compiler/lower.hpp"

#include <algorithm>
#include <sstream>

#include "common/error.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {
namespace {

std::string device_format(DType dtype) { return std::string(info(dtype).device_format); }

std::string zeros_mode_constant(const MatmulConfig& config) {
  if (!config.with_zeros) return "bitjit::Zeros::none";
  return "bitjit::Zeros::" + std::string(to_string(config.zeros_mode));
}

std::string boolean(bool value) { return value ? "true" : "false"; }

std::vector<std::pair<std::string, std::string>> bind_formats(const MatmulConfig& config) {
  const bool integer_accum = config.accum_dtype == DType::int32;
  return {
      {"A", device_format(config.A_dtype)},
      {"W", device_format(config.W_dtype)},
      {"Scale", device_format(scale_dtype(config))},
      {"Bias", device_format(bias_dtype(config))},
      {"Out", device_format(config.out_dtype)},
      // float16 accumulation is carried out in float32 by this family: never less precise than asked.
      {"Accum", integer_accum ? "int" : "float"},
  };
}

std::vector<PlanConstant> problem_constants(const MatmulConfig& config) {
  return {
      {"long long", "N", std::to_string(config.N), "output columns"},
      {"long long", "K", std::to_string(config.K), "reduction length"},
      {"long long", "kGroups", std::to_string(group_count(config)),
       "scale groups along K (group_size " + std::to_string(effective_group_size(config)) + ")"},
      {"bool", "kScaling", boolean(config.with_scaling), ""},
      {"bitjit::Zeros", "kZerosMode", zeros_mode_constant(config), ""},
      {"bool", "kBias", boolean(config.with_bias), ""},
  };
}

std::vector<PlanConstant> simt_tiles(const TileSchedule& s) {
  return {
      {"int", "kThreads", std::to_string(s.threads), std::to_string(s.threads / 32) + " warps, each owning whole columns"},
      {"int", "kBlockM", std::to_string(s.block_m), "rows of C per block: W is read once per kBlockM rows"},
      {"int", "kBlockN", std::to_string(s.block_n), "columns of C per block"},
      {"int", "kLoadBytes", std::to_string(s.vector_bytes), "bytes of packed W per lane per load"},
  };
}

std::vector<PlanStage> simt_stages(const MatmulConfig& config, const TileSchedule& s) {
  const DTypeInfo& w = info(config.W_dtype);
  std::vector<PlanStage> stages = {
      {"load W", std::to_string(s.vector_bytes) + "-byte loads per lane, lanes strided along K (" +
                     std::to_string(s.vector_bytes * 8 / w.bits) + " " + std::string(w.name) + " codes each)"},
      {"dequant", config.with_scaling ? "per element: decode, then scale" +
                                            std::string(config.with_zeros ? " and zero point (" +
                                                                                std::string(to_string(config.zeros_mode)) + ")"
                                                                          : "")
                                      : "per element: decode"},
      {"load A", "per element from global memory (cached), " + std::to_string(s.block_m) + " rows"},
      {"multiply-accumulate", config.accum_dtype == DType::int32 ? "int32 multiply-add on CUDA cores"
                                                                 : "float32 FMA on CUDA cores"},
      {"epilogue", "warp-shuffle reduction, " + std::string(config.with_bias ? "bias, " : "") + "cast to " +
                       std::string(to_string(config.out_dtype))},
  };
  return stages;
}

std::vector<PlanStage> gemv_stages(const MatmulConfig& config, const TileSchedule& s) {
  const DTypeInfo& w = info(config.W_dtype);
  const int codes = s.vector_bytes * 8 / w.bits;
  return {
      {"load W", std::to_string(s.vector_bytes) + "-byte loads per lane, lanes strided along K (" + std::to_string(codes) +
                     " " + std::string(w.name) + " codes each, within one group)"},
      {"dequant", std::string(w.is_integer() ? "codes to float by the 2^23 exponent trick" : "decode per code") +
                      (config.with_scaling ? "; scale" + std::string(config.with_zeros ? " and zero" : "") +
                                                 " loaded once per load" +
                                                 (config.zeros_mode == ZerosMode::rescale && config.with_zeros
                                                      ? ", applied per element (rescale)"
                                                      : ", scale applied to the load's partial sum")
                                           : "")},
      {"load A", "16-byte loads from global memory (cached), " + std::to_string(s.block_m) + " rows"},
      {"multiply-accumulate", "float32 FMA on CUDA cores"},
      {"epilogue", "warp-shuffle reduction, " + std::string(config.with_bias ? "bias, " : "") + "cast to " +
                       std::string(to_string(config.out_dtype))},
  };
}

std::vector<PlanConstant> tensor_gemv_tiles(const MatmulConfig& config, const TileSchedule& s) {
  const MmaRunLayout layout = *mma_run_layout(config);
  const int block = layout.k_block(info(config.W_dtype).bits);
  return {
      {"int", "kThreads", std::to_string(s.threads), std::to_string(s.threads / 32) + " warps splitting K"},
      {"int", "kBlockM", std::to_string(s.block_m), s.block_m > 8 ? "rows of C per block: two mmas per 16 channels"
                                                                  : "rows of C per block: one mma per 16 channels"},
      {"int", "kBlockN", std::to_string(s.block_n), std::to_string(s.block_n / 16) + " 16-channel mma tile(s) per warp"},
      {"int", "kLoadBytes", std::to_string(s.vector_bytes), "bytes of packed W per lane per load (mma_runs layout)"},
      {"int", "kRun", std::to_string(layout.run), "consecutive k per lane per run (" +
                                                      std::string(to_string(family_weight_layout(config, s.family))) +
                                                      " layout)"},
      {"int", "kUnroll", std::to_string(s.block_k / block), "k-blocks of " + std::to_string(block) +
                                                                " per warp per round: loads in flight per tile"},
  };
}

// The stages both tensor_gemv kernels share: how the weights stream in, and the warps' reduction.
PlanStage tensor_gemv_load_stage(const MatmulConfig& config, const TileSchedule& s, int codes) {
  return {"load W", std::to_string(s.vector_bytes) + "-byte loads per lane (" + std::to_string(codes) + " " +
                        std::string(info(config.W_dtype).name) + " codes) from 2 channels x " +
                        std::to_string(s.block_n / 16) + " tile(s) x " + std::to_string(s.block_k / (4 * codes)) +
                        " k-block(s) per round, the next round in flight"};
}

PlanStage tensor_gemv_epilogue_stage(const MatmulConfig& config) {
  return {"epilogue", "warps' sums added in shared memory, " + std::string(config.with_bias ? "bias, " : "") +
                          "cast to " + std::string(to_string(config.out_dtype))};
}

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
      {"load A", "8-byte " + a_name + " fragment loads from global memory (cached), " + std::to_string(s.block_m) +
                     " rows"},
      {"multiply-accumulate", mma + sums},
      tensor_gemv_epilogue_stage(config),
  };
}

std::vector<PlanStage> tensor_gemv_stages(const MatmulConfig& config, const TileSchedule& s) {
  if (!float16_activations(config)) return tensor_gemv_8bit_stages(config, s);
  const DTypeInfo& w = info(config.W_dtype);
  const MmaRunLayout layout = *mma_run_layout(config);
  const int codes = layout.codes_per_load(w.bits);
  std::string decode = w.is_integer() ? "LOP3 into the mantissa of a magic 16-bit float, one fma per pair"
                       : w.bits == 4  ? "per-lane shared-memory table of byte -> pair"
                                      : "decode to float, pack a pair with one conversion";
  if (w.bits == 16) decode = "none (W is A's type)";
  std::string scaling = "mma partials in float32";
  if (config.with_scaling || config.with_zeros) {
    scaling += "; per span of runs of " + std::to_string(layout.run) + " k inside one scale group: partial sum times the scale";
    if (config.with_zeros && config.zeros_mode != ZerosMode::quantized) scaling += ", minus zero times sum(A) (one mma against ones)";
    if (config.with_zeros && config.zeros_mode == ZerosMode::quantized) scaling += "; quantized zero subtracted from the code";
  }
  // Runs of 8 k or more: one 16-byte load covers two mma steps' fragments (tensor_gemv.cuh).
  const std::string a_loads = layout.run % 8 == 0 ? "16-byte loads (two mma steps' fragments)" : "8-byte fragment loads";
  return {
      tensor_gemv_load_stage(config, s, codes),
      {"dequant", "two codes at a time: " + decode},
      {"load A", a_loads + " from global memory (cached), " + std::to_string(s.block_m) + " rows, shared by the tiles"},
      {"multiply-accumulate", "mma.sync m16n8k16 (weights as the 16-row operand), float32 accumulation; " + scaling},
      tensor_gemv_epilogue_stage(config),
  };
}

std::vector<PlanConstant> tensor_gemm_tiles(const MatmulConfig& config, const TileSchedule& s) {
  const MmaRunLayout layout = *family_layout(config, s.family);  // runs of 2 for tensor_wgmma
  const int block = layout.k_block(info(config.W_dtype).bits);
  const int warp_rows = s.block_m / s.warp_m, warp_channels = s.block_n / s.warp_n;
  return {
      {"int", "kThreads", std::to_string(s.threads), std::to_string(s.warp_m * s.warp_n) + " warps"},
      {"int", "kBlockM", std::to_string(s.block_m), "rows of C per block"},
      {"int", "kBlockN", std::to_string(s.block_n), "channels of C per block"},
      {"int", "kBlockK", std::to_string(s.block_k), std::to_string(s.block_k / block) + " k-block(s) of " +
                                                        std::to_string(block) + " per pipeline stage"},
      {"int", "kWarpsM", std::to_string(s.warp_m), "warps along M: warp tile " + std::to_string(warp_rows) + " rows"},
      {"int", "kWarpsN", std::to_string(s.warp_n), "warps along N: warp tile " + std::to_string(warp_channels) + " channels"},
      {"int", "kStages", std::to_string(s.stages), "depth of the cp.async ring in shared memory"},
      {"int", "kSplitK", std::to_string(s.split_k), s.split_k > 1 ? "slices of K summed through the workspace"
                                                                  : "K in one block"},
      {"int", "kLoadBytes", std::to_string(s.vector_bytes), "bytes of packed W per lane per k-block (mma_runs layout)"},
      {"int", "kRun", std::to_string(layout.run), "consecutive k per lane per run (" +
                                                      std::string(to_string(family_weight_layout(config, s.family))) +
                                                      " layout)"},
  };
}

std::vector<PlanStage> tensor_gemm_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = tensor_gemv_stages(config, s);  // same decode and mma; other data movement
  const MmaRunLayout layout = *mma_run_layout(config);
  stages[0] = {"load W", "cp.async 16-byte copies of the block's " + std::to_string(s.block_n) + " channels x " +
                             std::to_string(s.block_k) + " k into a " + std::to_string(s.stages) +
                             "-stage shared-memory ring; each lane then reads its " + std::to_string(s.vector_bytes) +
                             " bytes per k-block from shared memory"};
  stages[2] = {"load A", "cp.async 16-byte copies of " + std::to_string(s.block_m) + " rows x " + std::to_string(s.block_k) +
                             " k into the same ring (XOR-swizzled chunks); " +
                             (layout.run % 8 == 0 ? "16-byte shared loads (two mma steps' fragments)"
                                                  : "8-byte shared loads (one mma step's fragment)")};
  stages[3] = {"multiply-accumulate", "mma.sync m16n8k16 per warp tile (weights as the 16-row operand), float32 "
                                      "accumulation; scales and zeros applied to the decoded pairs in A's type"};
  stages[4] = {"epilogue", std::string(s.split_k > 1 ? "float32 slice sums through the workspace, added in slice order "
                                                       "by the last slice of each tile; "
                                                     : "straight from the accumulators; ") +
                               (config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))};
  return stages;
}

std::vector<PlanStage> tensor_wgmma_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = tensor_gemm_stages(config, s);
  stages[1].detail += "; the mma_fragments layout (runs of 2 k): each warp decodes its 16 channels step by step "
                      "straight into wgmma's A fragments, one step ahead of the wgmma that reads them";
  stages[2] = {"load A", "cp.async 16-byte copies of " + std::to_string(s.block_m) + " rows x " + std::to_string(s.block_k) +
                             " k into the ring as wgmma K-major core matrices (one copy, one core-matrix row)"};
  stages[3] = {"multiply-accumulate", "wgmma m64n" + std::to_string(s.block_m) +
                                          "k16 per warpgroup (64 channels), weights from registers, activations from "
                                          "shared memory by descriptor, float32 accumulation in registers"};
  return stages;
}

// The decoding Hopper kernels' wgmma group (WgmmaDecodeWarp).
PlanConstant wgmma_group_constant(const TileSchedule& s) {
  return {"int", "kWgmmaGroup", std::to_string(s.wgmma_group),
          s.wgmma_group == 1 ? "one wgmma per group: each 16-k step waits for the step before"
                             : "16-k steps decoded first, then issued as one wgmma group"};
}

// An unspecialized family's constants as tensor_wgmma_ws takes them: kThreads the consumer
// warpgroups' (the block has a producer warpgroup more), the ring's barriers, the persistent grid's
// tile order and the registers the producer hands to the consumers.
std::vector<PlanConstant> warp_specialized(std::vector<PlanConstant> tiles, const TileSchedule& s,
                                           const std::string& arch) {
  const int consumers = s.threads - 128;
  for (PlanConstant& c : tiles) {
    if (c.name == "kThreads") {
      c.value = std::to_string(consumers);
      c.comment = std::to_string(consumers / 128) + " consumer warpgroups; the block adds a producer warpgroup";
    }
    if (c.name == "kStages") c.comment = "depth of the TMA ring in shared memory (a full and an empty barrier per stage)";
  }
  const WarpSpecializedRegisters registers = warp_specialized_registers(s, arch);
  tiles.push_back({"int", "kRasterGroup", std::to_string(s.swizzle), "row blocks per group of the tile order"});
  tiles.push_back({"int", "kProducerRegisters", std::to_string(registers.producer), "per producer thread"});
  tiles.push_back({"int", "kConsumerRegisters", std::to_string(registers.consumer),
                   registers.consumer > 0 ? "per consumer thread, of the " + std::to_string(registers.per_thread) +
                                                " each thread gets at launch"
                                          : "the launch's " + std::to_string(registers.per_thread) + " kept"});
  return tiles;
}

std::vector<PlanStage> tensor_wgmma_ws_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = tensor_wgmma_stages(config, s);
  stages[0] = {"load W", "TMA boxes of one k-block's bytes x " + std::to_string(s.block_n) + " channels, issued by a "
                             "producer warpgroup into a " + std::to_string(s.stages) + "-stage ring on mbarriers; each "
                             "lane then reads its " + std::to_string(s.vector_bytes) + " bytes per k-block"};
  stages[2] = {"load A", "TMA boxes of 64 k x " + std::to_string(s.block_m) + " rows in the 128-byte swizzle, by the "
                             "same producer into the same ring"};
  stages[3].detail += "; " + std::to_string((s.threads - 128) / 128) + " consumer warpgroups, each waiting on the "
                      "stage's barrier and freeing it when its wgmmas are done; a persistent grid walks the output tiles";
  return stages;
}

std::vector<PlanConstant> tensor_wgmma_8bit_tiles(const TileSchedule& s) {
  return {
      {"int", "kThreads", std::to_string(s.threads), std::to_string(s.threads / 128) + " warpgroups"},
      {"int", "kBlockM", std::to_string(s.block_m), "rows of C per block (wgmma N)"},
      {"int", "kBlockN", std::to_string(s.block_n), "channels of C per block, 64 per warpgroup"},
      {"int", "kBlockK", std::to_string(s.block_k), std::to_string(s.block_k / 32) + " wgmma steps of 32 k per stage"},
      {"int", "kStages", std::to_string(s.stages), "depth of the cp.async ring in shared memory"},
  };
}

std::vector<PlanStage> tensor_wgmma_8bit_stages(const MatmulConfig& config, const TileSchedule& s) {
  const std::string rows = std::to_string(s.block_m), channels = std::to_string(s.block_n), k = std::to_string(s.block_k);
  const bool integer = config.A_dtype == DType::int8;
  return {
      {"load W", "cp.async 16-byte copies of " + channels + " channels x " + k + " k (plain rows of bytes) into a " +
                     std::to_string(s.stages) + "-stage ring as wgmma K-major core matrices"},
      {"dequant", "none: activations and weights are both " + std::string(to_string(config.A_dtype))},
      {"load A", "cp.async 16-byte copies of " + rows + " rows x " + k + " k into the same ring, the same way"},
      {"multiply-accumulate", "wgmma m64n" + rows + "k32 per warpgroup (64 channels), both operands from shared memory, " +
                                  (integer ? "int32" : "float32") + " accumulation in registers"},
      {"epilogue", std::string(config.with_bias ? "bias, " : "") + "cast to " + std::string(to_string(config.out_dtype))},
  };
}

std::vector<PlanStage> tensor_wgmma_ws_8bit_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = tensor_wgmma_8bit_stages(config, s);
  stages[0] = {"load W", "TMA boxes of 128 bytes of k x " + std::to_string(s.block_n) + " channels in the 128-byte "
                             "swizzle, issued by a producer warpgroup into a " + std::to_string(s.stages) +
                             "-stage ring on mbarriers"};
  stages[2] = {"load A", "TMA boxes of 128 bytes of k x " + std::to_string(s.block_m) + " rows, the same way"};
  stages[3].detail += "; " + std::to_string((s.threads - 128) / 128) + " consumer warpgroups freeing each stage "
                      "when its wgmmas are done; a persistent grid walks the output tiles";
  return stages;
}

int element_alignment(DType dtype) { return info(dtype).storage_bytes(); }  // packed formats: 1 byte

// Byte alignment of A, W, scales, zeros, bias and C pointers for a kernel that loads A and W in
// units of a_bytes and w_bytes; the other operands are read element by element.
std::array<int, 6> operand_alignment(const MatmulConfig& config, int a_bytes, int w_bytes) {
  const int scale = element_alignment(scale_dtype(config));
  return {a_bytes, w_bytes, scale, config.zeros_mode == ZerosMode::quantized ? 1 : scale,
          element_alignment(bias_dtype(config)), element_alignment(config.out_dtype)};
}

void print_constants(std::ostringstream& out, const std::vector<PlanConstant>& constants) {
  for (const auto& c : constants) {
    out << "  static constexpr " << c.type << " " << c.name << " = " << c.value << ";";
    if (!c.comment.empty()) out << "  // " << c.comment;
    out << "\n";
  }
}

}  // namespace

KernelPlan plan_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  validate(config);
  validate_schedule(config, schedule, arch);
  KernelPlan plan;
  plan.config = config;
  plan.schedule = schedule;
  plan.arch = arch;
  plan.formats = bind_formats(config);
  plan.problem_constants = problem_constants(config);
  plan.threads_per_block = schedule.threads;
  switch (schedule.family) {
    case KernelFamily::gemv:
      plan.family_header = "bitjit/gemv_matmul.cuh";
      plan.family_function = "bitjit::gemv_matmul";
      plan.tile_constants = simt_tiles(schedule);
      plan.stages = gemv_stages(config, schedule);
      plan.alignment = operand_alignment(
          config, std::min(16, 2 * schedule.vector_bytes * 8 / int(info(config.W_dtype).bits)), schedule.vector_bytes);
      break;
    case KernelFamily::tensor_gemv:
      plan.family_header = float16_activations(config) ? "bitjit/tensor_gemv.cuh" : "bitjit/tensor_gemv_8bit.cuh";
      plan.family_function = float16_activations(config) ? "bitjit::tensor_gemv" : "bitjit::tensor_gemv_8bit";
      plan.tile_constants = tensor_gemv_tiles(config, schedule);
      plan.stages = tensor_gemv_stages(config, schedule);
      plan.alignment = operand_alignment(config, 8, schedule.vector_bytes);
      break;
    case KernelFamily::tensor_wgmma:
      if (same_8bit_operands(config)) {
        plan.family_header = "bitjit/tensor_wgmma_8bit.cuh";
        plan.family_function = "bitjit::tensor_wgmma_8bit";
        plan.tile_constants = tensor_wgmma_8bit_tiles(schedule);
        plan.stages = tensor_wgmma_8bit_stages(config, schedule);
        plan.alignment = operand_alignment(config, 16, 16);  // 16-byte cp.async copies
        break;
      }
      [[fallthrough]];
    case KernelFamily::tensor_gemm: {
      const bool wgmma = schedule.family == KernelFamily::tensor_wgmma;
      plan.family_header = wgmma ? "bitjit/tensor_wgmma.cuh" : "bitjit/tensor_gemm.cuh";
      plan.family_function = wgmma ? "bitjit::tensor_wgmma" : "bitjit::tensor_gemm";
      plan.tile_constants = tensor_gemm_tiles(config, schedule);
      if (wgmma) plan.tile_constants.push_back(wgmma_group_constant(schedule));
      plan.stages = wgmma ? tensor_wgmma_stages(config, schedule) : tensor_gemm_stages(config, schedule);
      plan.alignment = operand_alignment(config, 16, 16);  // 16-byte cp.async copies
      break;
    }
    case KernelFamily::tensor_wgmma_ws:
      plan.family_header = "bitjit/tensor_wgmma_ws.cuh";
      if (same_8bit_operands(config)) {
        plan.family_function = "bitjit::tensor_wgmma_ws_8bit";
        plan.tile_constants = warp_specialized(tensor_wgmma_8bit_tiles(schedule), schedule, arch);
        plan.stages = tensor_wgmma_ws_8bit_stages(config, schedule);
      } else {
        plan.family_function = "bitjit::tensor_wgmma_ws";
        plan.tile_constants = warp_specialized(tensor_gemm_tiles(config, schedule), schedule, arch);
        plan.tile_constants.push_back(wgmma_group_constant(schedule));
        plan.stages = tensor_wgmma_ws_stages(config, schedule);
      }
      plan.alignment = operand_alignment(config, 16, 16);  // TMA: 16-byte aligned tensors
      plan.tensor_maps = true;
      plan.programmatic_launch = true;
      break;
    case KernelFamily::simt:
      plan.family_header = "bitjit/simt_matmul.cuh";
      plan.family_function = "bitjit::simt_matmul";
      plan.tile_constants = simt_tiles(schedule);
      plan.stages = simt_stages(config, schedule);
      plan.alignment = operand_alignment(config, element_alignment(config.A_dtype), schedule.vector_bytes);
      break;
  }
  return plan;
}

std::string emit_cuda(const KernelPlan& plan) {
  std::ostringstream out;
  out << "// Generated by bitjit: one matmul kernel, C[M,N] = A[M,K] * dequant(W[N,K])^T.\n"
      << "// config:   " << canonical_form(plan.config) << "\n"
      << "// schedule: " << canonical_form(plan.schedule) << "\n"
      << "// arch:     " << plan.arch << "\n"
      << "//\n// Pipeline (" << to_string(plan.schedule.family) << " family):\n";
  for (const auto& stage : plan.stages) out << "//   " << stage.name << ": " << stage.detail << "\n";
  out << "#include \"" << plan.family_header << "\"\n\n"
      << "namespace {\n\n"
      << "struct Problem {\n";
  for (const auto& [role, format] : plan.formats) out << "  using " << role << " = " << format << ";\n";
  print_constants(out, plan.problem_constants);
  out << "};\n\n"
      << "struct Tiles {\n";
  print_constants(out, plan.tile_constants);
  out << "};\n\n"
      << "}  // namespace\n\n"
      << "extern \"C\" __global__ void __launch_bounds__(" << plan.threads_per_block << ")\n"
      << kKernelName << "(const bitjit::MatmulParams params"
      << (plan.tensor_maps ? ", const __grid_constant__ bitjit::TensorMaps maps" : "") << ") {\n"
      << "  " << plan.family_function << "<Problem, Tiles>(params" << (plan.tensor_maps ? ", maps" : "") << ");\n"
      << "}\n";
  return out.str();
}

// The tiles tensor_wgmma_ws shares out by k-stages (stream-K) rather than whole: none where whole
// tiles fill the last wave; else, with 64-row tiles (few rows: the kernel streams the weights, and
// an idle SM is bandwidth lost), the last partial wave and one full wave before it, so that every
// block's share is one to two tiles long. Tiles of more rows stay whole: on the H100 sharing out
// 108 tiles of 128 x 192 on 132 SMs ran 7 % slower than leaving 24 SMs idle, and 128 tiles
// of 128 x 128 10 % slower (bench/results/2026-11-27-h100-stream-k).
int64_t stream_k_tiles(int64_t tiles, int block_m, int multiprocessors) {
  if (tiles % multiprocessors == 0 || block_m > 64) return 0;
  return std::min(tiles, tiles % multiprocessors + multiprocessors);
}

LaunchShape launch_shape(const KernelPlan& plan, int64_t M, int multiprocessors) {
  if (M < 1) throw ConfigError("launch_shape: M=" + std::to_string(M) + " must be at least 1");
  const TileSchedule& s = plan.schedule;
  LaunchShape shape;
  switch (s.family) {
    case KernelFamily::simt:
    case KernelFamily::gemv:
    case KernelFamily::tensor_gemv:
      shape.grid = {uint32_t((plan.config.N + s.block_n - 1) / s.block_n), uint32_t((M + s.block_m - 1) / s.block_m), 1};
      shape.block = {uint32_t(s.threads), 1, 1};
      break;
    case KernelFamily::tensor_gemm:
    case KernelFamily::tensor_wgmma:
      shape.grid = {uint32_t((plan.config.N + s.block_n - 1) / s.block_n), uint32_t((M + s.block_m - 1) / s.block_m),
                    uint32_t(s.split_k)};
      shape.block = {uint32_t(s.threads), 1, 1};
      shape.shared_bytes = uint32_t(dynamic_shared_bytes(plan.config, s));
      if (s.split_k > 1) {
        shape.workspace_bytes = int64_t(s.split_k) * M * plan.config.N * 4;
        shape.tile_counters = int64_t(shape.grid[0]) * shape.grid[1];
      }
      break;
    case KernelFamily::tensor_wgmma_ws: {
      if (multiprocessors < 1) throw ConfigError("launch_shape: a persistent grid needs the GPU's multiprocessor count");
      // One block per SM at most (each holds its ring for the whole launch). Whole tiles go to the
      // blocks in turn; where that leaves the last wave short (stream_k_tiles), the last tiles' k-stages
      // are shared out evenly instead (templates/bitjit/tensor_wgmma_ws.cuh).
      const int64_t tiles = (plan.config.N + s.block_n - 1) / s.block_n * ((M + s.block_m - 1) / s.block_m);
      const int64_t k_stages = (plan.config.K + s.block_k - 1) / s.block_k;
      shape.stream_k_tiles = stream_k_tiles(tiles, s.block_m, multiprocessors);
      int64_t blocks = std::min<int64_t>(tiles, multiprocessors);
      if (shape.stream_k_tiles == tiles) {  // fewer tiles than SMs: shares of kLeastStreamKShare stages at least
        const int64_t least_share = std::min<int64_t>(k_stages, kLeastStreamKShare);
        blocks = std::min<int64_t>(multiprocessors, (tiles * k_stages + least_share - 1) / least_share);
      }
      shape.grid = {uint32_t(blocks), 1, 1};
      shape.block = {uint32_t(s.threads), 1, 1};
      shape.shared_bytes = uint32_t(dynamic_shared_bytes(plan.config, s));
      const int64_t units = shape.stream_k_tiles * k_stages;
      if (units > 0 && (units + blocks - 1) / blocks % k_stages != 0) {  // shares end inside tiles: pieces to add
        shape.workspace_bytes = blocks * 2 * s.block_m * s.block_n * 4;  // a first and a last piece per block
        shape.tile_counters = tiles * (s.threads - 128) / 32;            // one per tile and consumer warp
      }
      break;
    }
  }
  if (shape.grid[1] > 65535) {
    throw ConfigError("M=" + std::to_string(M) + " needs " + std::to_string(shape.grid[1]) +
                      " blocks along M, over the 65535 the grid allows; use a schedule with a larger block_m");
  }
  return shape;
}

}  // namespace bitjit
