#include "compiler/schedule.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/arch.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {
namespace {

using json = nlohmann::json;

[[noreturn]] void reject(const std::string& message) { throw ConfigError("invalid TileSchedule: " + message); }

bool is_power_of_two(int value) { return value > 0 && (value & (value - 1)) == 0; }

int64_t weight_row_bytes(const MatmulConfig& config) { return config.K * info(config.W_dtype).bits / 8; }

// The widest load (up to 16 bytes) that divides a weight row, so every row starts aligned.
int widest_row_load(const MatmulConfig& config) {
  int bytes = 16;
  while (weight_row_bytes(config) % bytes != 0) bytes /= 2;
  return bytes;
}

void validate_simt(const MatmulConfig& config, const TileSchedule& s) {
  if (s.threads % 32 != 0 || s.threads < 32 || s.threads > 1024) {
    reject("threads=" + std::to_string(s.threads) + " must be a multiple of 32 between 32 and 1024");
  }
  if (s.block_m < 1 || s.block_m > 16) reject("block_m=" + std::to_string(s.block_m) + " must be 1..16");
  if (s.block_n < 1 || s.block_n > 1024) reject("block_n=" + std::to_string(s.block_n) + " must be 1..1024");
  if (!is_power_of_two(s.vector_bytes) || s.vector_bytes > 16) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " must be 1, 2, 4, 8 or 16");
  }
  if (weight_row_bytes(config) % s.vector_bytes != 0) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " does not divide a weight row of " +
           std::to_string(weight_row_bytes(config)) + " bytes (K=" + std::to_string(config.K) + ")");
  }
  if (s.vector_bytes * 8 < info(config.W_dtype).bits) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " is narrower than one " +
           std::string(to_string(config.W_dtype)) + " element");
  }
  // The simt family streams K in one pass per warp with no staging: these knobs have one value.
  if (s.block_k != 0) reject("block_k=" + std::to_string(s.block_k) + ": the simt and gemv families take block_k=0");
  if (s.stages != 1) reject("stages=" + std::to_string(s.stages) + ": the simt and gemv families take stages=1");
  if (s.split_k != 1) reject("split_k=" + std::to_string(s.split_k) + ": the simt and gemv families take split_k=1");
  if (s.swizzle != 1) reject("swizzle=" + std::to_string(s.swizzle) + ": the simt and gemv families take swizzle=1");
  if (s.warp_m != 1 || s.warp_n * 32 != s.threads) {
    reject("warp_m=" + std::to_string(s.warp_m) + ", warp_n=" + std::to_string(s.warp_n) +
           ": the simt and gemv families lay their threads/32 warps along N (warp_m=1, warp_n=threads/32)");
  }
}

bool gemv_applies(const MatmulConfig& config) {
  return float16_activations(config) && config.accum_dtype != DType::int32;
}

// Codes per gemv load: at most 32 (registers), never straddling a group.
int gemv_codes_per_load(const MatmulConfig& config, int vector_bytes) {
  return vector_bytes * 8 / info(config.W_dtype).bits;
}

int widest_gemv_load(const MatmulConfig& config) {
  const int64_t group = config.group_size > 0 ? config.group_size : config.K;
  int bytes = widest_row_load(config);
  while (bytes > 1 && (gemv_codes_per_load(config, bytes) > 32 || group % gemv_codes_per_load(config, bytes) != 0)) bytes /= 2;
  return bytes;
}

void validate_gemv(const MatmulConfig& config, const TileSchedule& s) {
  if (!gemv_applies(config)) {
    reject("family=gemv needs A_dtype float16 or bfloat16 and float accumulation (got A_dtype=" +
           std::string(to_string(config.A_dtype)) + ", accum_dtype=" + std::string(to_string(config.accum_dtype)) +
           "); use family=simt");
  }
  validate_simt(config, s);  // the same thread layout and knobs
  const int codes = gemv_codes_per_load(config, s.vector_bytes);
  const int64_t group = config.group_size > 0 ? config.group_size : config.K;
  if (codes < 1 || codes > 32 || group % codes != 0) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " loads " + std::to_string(codes) + " " +
           std::string(to_string(config.W_dtype)) + " codes; gemv takes 1..32 codes per load, dividing the group of " +
           std::to_string(group));
  }
}

// The simt and gemv families read general_compress's layout; configs laid out for tensor cores
// (weight_layout.hpp) run only on the family that reads that layout, unless it moves no code (fp8).
void require_general_layout(const MatmulConfig& config, const TileSchedule& s) {
  if (const std::optional<MmaRunLayout> layout = mma_run_layout(config); layout && reorders_weights(config, *layout)) {
    reject("family=" + std::string(to_string(s.family)) +
           " reads the general weight layout, but this config's weights use the mma_runs layout "
           "(tensor-core path); use family=tensor_gemv");
  }
}

// Whether the arch has the mma.sync tensor_gemv multiplies this config's activations with: every
// supported arch for 16-bit and int8 activations, sm_89 and newer for fp8.
bool arch_has_activation_mma(const MatmulConfig& config, const std::string& arch) {
  return !fp8_activations(config) || arch_info(arch).has_fp8_mma;
}

void validate_tensor_gemv(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout) {
    reject("family=tensor_gemv needs A_dtype float16 or bfloat16 with float accumulation and weights exact in A's "
           "type (or nf4), A_dtype int8 with integer weights, or fp8 A_dtype with W_dtype of the same type, int4, "
           "uint4 or fp4_e2m1; a group size divisible by 16 (32 for 8-bit A; for fp8 A, by four lanes' whole "
           "loads of 8 or 16 bytes) and K divisible into k-blocks; use family=gemv or simt");
  }
  if (!arch_has_activation_mma(config, arch)) {
    reject("family=tensor_gemv with A_dtype=" + std::string(to_string(config.A_dtype)) + " on arch=" + arch +
           ": the fp8 mma.sync needs one of " + archs_with(&ArchInfo::has_fp8_mma) + "; use family=simt");
  }
  if (s.threads % 32 != 0 || s.threads < 32 || s.threads > 512) {
    reject("threads=" + std::to_string(s.threads) + " must be a multiple of 32 between 32 and 512");
  }
  if (s.block_m != 8 && s.block_m != 16) {
    reject("block_m=" + std::to_string(s.block_m) + ": tensor_gemv takes 8 (one mma per 16 channels) or 16 (two)");
  }
  if (s.block_n % 16 != 0 || s.block_n < 16 || s.block_n > 64) {
    reject("block_n=" + std::to_string(s.block_n) + " must be 16, 32, 48 or 64 (16 output channels per mma tile)");
  }
  if (s.vector_bytes != layout->load_bytes) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + ": the mma_runs layout of this config has " +
           std::to_string(layout->load_bytes) + "-byte loads (fixed by the config, so tuning never repacks W)");
  }
  const int block = layout->k_block(info(config.W_dtype).bits);
  if (s.block_k % block != 0 || s.block_k / block < 1 || s.block_k / block > 8) {
    reject("block_k=" + std::to_string(s.block_k) + " must be 1 to 8 k-blocks of " + std::to_string(block));
  }
  if (s.stages != 1) reject("stages=" + std::to_string(s.stages) + ": tensor_gemv takes stages=1 (loads in flight: block_k)");
  if (s.split_k != 1) reject("split_k=" + std::to_string(s.split_k) + ": tensor_gemv splits K across the warps of a block; split_k=1");
  if (s.swizzle != 1) reject("swizzle=" + std::to_string(s.swizzle) + ": tensor_gemv takes swizzle=1");
  if (s.warp_m != 1 || s.warp_n * 32 != s.threads) {
    reject("warp_m=" + std::to_string(s.warp_m) + ", warp_n=" + std::to_string(s.warp_n) +
           ": tensor_gemv lays its threads/32 warps along K (warp_m=1, warp_n=threads/32)");
  }
}

int layout_k_block(const MatmulConfig& config, const MmaRunLayout& layout) {
  return layout.k_block(info(config.W_dtype).bits);
}

int gemm_stage_bytes(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout) {
  const int activation_bytes = s.block_m * s.block_k * 2;
  const int weight_bytes = s.block_k / layout_k_block(config, layout) * s.block_n * 4 * layout.load_bytes;
  return activation_bytes + weight_bytes;
}

// One stage of the W8A8 tensor_wgmma ring: block_m activation rows and block_n weight rows of
// block_k bytes each.
int byte_rows_stage_bytes(const TileSchedule& s) { return (s.block_m + s.block_n) * s.block_k; }

int64_t gemm_k_tiles(const MatmulConfig& config, const TileSchedule& s) { return (config.K + s.block_k - 1) / s.block_k; }

// The ring of the staged families (stages of stage_bytes, plus the static tables) against the arch's
// shared memory per block.
void require_shared_fits(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int stage_bytes) {
  const int shared = dynamic_shared_bytes(config, s) + static_shared_bytes(config, s.family);
  const int limit = arch_info(arch).shared_bytes_per_block;
  if (shared > limit) {
    reject(std::to_string(s.stages) + " stages of " + std::to_string(stage_bytes) + " bytes (+" +
           std::to_string(static_shared_bytes(config, s.family)) + " static) need " + std::to_string(shared) +
           " bytes of shared memory; " + arch + " allows " + std::to_string(limit) +
           " per block: fewer stages or a smaller block_m / block_k");
  }
}

// The knobs tensor_gemm and tensor_wgmma share: k per stage, the ring's depth, the load width the
// layout fixed, and the shared memory of the ring against the arch's limit.
void validate_ring(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, const MmaRunLayout& layout) {
  const std::string family(to_string(s.family));
  const int k_block = layout_k_block(config, layout);
  if (s.block_k % k_block != 0 || !is_power_of_two(s.block_k / k_block) || s.block_k / k_block > 8 ||
      s.block_k % 64 != 0) {
    reject("block_k=" + std::to_string(s.block_k) + " must be 1, 2, 4 or 8 k-blocks of " + std::to_string(k_block) +
           " and a multiple of 64");
  }
  if (s.threads < s.block_k / 8) {
    reject("threads=" + std::to_string(s.threads) + ": each stage's activation rows are copied in 16-byte chunks, " +
           std::to_string(s.block_k / 8) + " per row, at least one per thread: threads >= block_k / 8");
  }
  if (s.stages < 2 || s.stages > 8) reject("stages=" + std::to_string(s.stages) + " must be 2..8 (the ring in shared memory)");
  if (s.family != KernelFamily::tensor_wgmma_ws && s.swizzle != 1) {
    reject("swizzle=" + std::to_string(s.swizzle) + ": " + family + " takes swizzle=1");
  }
  if (s.vector_bytes != layout.load_bytes) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + ": the mma_runs layout of this config has " +
           std::to_string(layout.load_bytes) + "-byte loads (fixed by the config, so tuning never repacks W)");
  }
  require_shared_fits(config, s, arch, gemm_stage_bytes(config, s, layout));
}

// Split-K of the staged families: slices of K's stages, summed through the workspace.
void validate_split_k(const MatmulConfig& config, const TileSchedule& s) {
  if (s.split_k < 1 || s.split_k > 16 || s.split_k > gemm_k_tiles(config, s)) {
    reject("split_k=" + std::to_string(s.split_k) + " must be 1..16 and at most the " +
           std::to_string(gemm_k_tiles(config, s)) + " stages of K");
  }
}

void validate_tensor_gemm(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout || !float16_activations(config)) {
    reject("family=tensor_gemm needs A_dtype float16 or bfloat16 with float accumulation, weights exact in A's type "
           "(or nf4), a group size divisible by 16 and K divisible into k-blocks; use family=tensor_gemv, gemv or simt");
  }
  if (layout->run != 4 && layout->run != 8) {
    reject("family=tensor_gemm reads runs of 4 or 8 k, but this config's mma_runs layout has runs of " +
           std::to_string(layout->run) + " (the layout for M of at most 8); use family=tensor_gemv");
  }
  if (!is_power_of_two(s.warp_m) || !is_power_of_two(s.warp_n) || s.threads != 32 * s.warp_m * s.warp_n ||
      s.threads > 512) {
    reject("threads=" + std::to_string(s.threads) + ", warp_m=" + std::to_string(s.warp_m) + ", warp_n=" +
           std::to_string(s.warp_n) + ": tensor_gemm runs a warp_m x warp_n grid of warps (powers of two), threads = "
           "32 * warp_m * warp_n, at most 512");
  }
  if (s.block_m < 8 || s.block_m > 256 || s.block_m % (8 * s.warp_m) != 0) {
    reject("block_m=" + std::to_string(s.block_m) + " must be 8..256 and a multiple of 8 * warp_m = " +
           std::to_string(8 * s.warp_m) + " (8 rows per mma)");
  }
  if (s.block_n < 16 || s.block_n > 256 || s.block_n % (16 * s.warp_n) != 0) {
    reject("block_n=" + std::to_string(s.block_n) + " must be 16..256 and a multiple of 16 * warp_n = " +
           std::to_string(16 * s.warp_n) + " (16 channels per mma)");
  }
  const int warp_mma_tiles = (s.block_m / s.warp_m / 8) * (s.block_n / s.warp_n / 16);
  if (warp_mma_tiles > 32) {
    reject("a warp tile of " + std::to_string(s.block_m / s.warp_m) + " rows x " + std::to_string(s.block_n / s.warp_n) +
           " channels is " + std::to_string(warp_mma_tiles) + " mma tiles; at most 32 (128 float accumulators per "
           "thread)");
  }
  validate_ring(config, s, arch, *layout);  // first: block_k is checked there before split_k divides by it
  validate_split_k(config, s);
}

// The tile every Hopper kernel takes: wgmma's N rows, 64 channels per (consumer) warpgroup.
void validate_wgmma_tile(const TileSchedule& s) {
  if (s.block_m != 64 && s.block_m != 128 && s.block_m != 256) {
    reject("block_m=" + std::to_string(s.block_m) + " must be 64, 128 or 256 (wgmma N)");
  }
  if (s.block_n < 64 || s.block_n > 256 || s.block_n % 64 != 0) {
    reject("block_n=" + std::to_string(s.block_n) + " must be 64, 128, 192 or 256 (64 channels per warpgroup)");
  }
}

// The warpgroup shape both tensor_wgmma kernels share.
void validate_warpgroups(const TileSchedule& s) {
  validate_wgmma_tile(s);
  if (s.threads != 2 * s.block_n || s.warp_m != 1 || s.warp_n != s.threads / 32) {
    reject("threads=" + std::to_string(s.threads) + ", warp_m=" + std::to_string(s.warp_m) + ", warp_n=" +
           std::to_string(s.warp_n) + ": tensor_wgmma runs one warpgroup per 64 channels: threads = 2 * block_n = " +
           std::to_string(2 * s.block_n) + ", warp_m = 1, warp_n = threads / 32");
  }
  if (s.stages < 3 || s.stages > 8) {
    reject("stages=" + std::to_string(s.stages) + " must be 3..8: tensor_wgmma keeps one stage loading, one "
           "multiplied and one whose last wgmma may still run");
  }
}

// W8A8 (same_8bit_operands): no decoding, both operands' rows staged as they are.
// W8A8 operands (same_8bit_operands) as both Hopper families multiply them: the accumulator of the
// type, no scales or zeros, K in whole 16-byte rows.
void require_byte_rows_operands(const MatmulConfig& config, const std::string& family) {
  const DType integer_sums = config.A_dtype == DType::int8 ? DType::int32 : DType::float32;
  if (config.accum_dtype != integer_sums) {
    reject("family=" + family + " with " + std::string(to_string(config.A_dtype)) + " operands needs accum_dtype=" +
           std::string(to_string(integer_sums)) + ", got " + std::string(to_string(config.accum_dtype)));
  }
  if (config.with_scaling || config.with_zeros) {
    reject("family=" + family + " multiplies 8-bit activations and weights without scales or zeros "
           "(with_scaling=false, with_zeros=false); use family=tensor_gemv or simt");
  }
  if (config.K % 16 != 0) {
    reject("family=" + family + " with 8-bit operands needs K divisible by 16, got " + std::to_string(config.K));
  }
}

// The W8A8 tile: 128-byte swizzle atoms of k per stage, fp8's two accumulator sets.
void require_byte_rows_tiles(const MatmulConfig& config, const TileSchedule& s) {
  if (s.block_k != 128 && s.block_k != 256) {
    reject("block_k=" + std::to_string(s.block_k) + " must be 128 or 256 (whole 128-byte swizzle atoms of k)");
  }
  if (config.A_dtype != DType::int8 && s.block_m > 128) {
    reject("block_m=" + std::to_string(s.block_m) + " must be 64 or 128 with " + std::string(to_string(config.A_dtype)) +
           " operands: each stage's fp8 sums are kept apart before they are added in float32, which doubles the "
           "accumulator registers");
  }
  if (s.vector_bytes != 16) reject("vector_bytes=" + std::to_string(s.vector_bytes) + ": 8-bit rows are moved 16 bytes at a time");
}

void validate_tensor_wgmma_8bit(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  require_byte_rows_operands(config, "tensor_wgmma");
  validate_warpgroups(s);
  require_byte_rows_tiles(config, s);
  if (s.swizzle != 1) reject("swizzle=" + std::to_string(s.swizzle) + ": tensor_wgmma takes swizzle=1");
  if (s.split_k != 1) {
    reject("split_k=" + std::to_string(s.split_k) + ": tensor_wgmma with 8-bit operands takes split_k=1");
  }
  require_shared_fits(config, s, arch, byte_rows_stage_bytes(s));
}

// The fp16 / bf16 activations and weight formats of the mma_fragments layout, or the reason why not.
MmaRunLayout require_fragment_layout(const MatmulConfig& config, const std::string& family) {
  const std::optional<MmaRunLayout> layout = fragment_order_layout(config);
  if (!layout || !float16_activations(config)) {
    reject("family=" + family + " needs A_dtype float16 or bfloat16 with float accumulation, weights exact in A's type "
           "(or nf4), a group size divisible by 16 and K divisible into k-blocks" +
           (family == "tensor_wgmma" ? ", or activations and weights of one 8-bit type (int8, float8_e4m3, "
                                       "float8_e5m2); use family=tensor_gemm"
                                     : "; use family=tensor_wgmma or tensor_gemm"));
  }
  return *layout;
}

// The wgmma group of the decoding Hopper kernels: whole groups per k-block of the weight layout.
void validate_wgmma_group(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout) {
  const int steps = layout_k_block(config, layout) / 16;
  if ((s.wgmma_group != 1 && s.wgmma_group != 2 && s.wgmma_group != 4 && s.wgmma_group != 8) || steps % s.wgmma_group != 0) {
    reject("wgmma_group=" + std::to_string(s.wgmma_group) + " must be 1, 2, 4 or 8 and divide the " +
           std::to_string(steps) + " steps of 16 k in a k-block of " + std::string(to_string(config.W_dtype)) +
           " weights with vector_bytes=" + std::to_string(s.vector_bytes));
  }
}

// The Hopper families' instructions exist only on the archs whose table row has them.
void require_capability(const std::string& arch, bool ArchInfo::*capability, const char* family, const char* what) {
  if (arch_info(arch).*capability) return;
  reject("family=" + std::string(family) + " needs " + what + " (archs with it: " + archs_with(capability) +
         "), got arch=" + arch);
}

// The warp-specialized family: consumer warpgroups of tensor_wgmma's shape plus a producer warpgroup,
// TMA boxes (rows of 16-byte multiples), one tile per block at a time on a persistent grid.
void validate_tensor_wgmma_ws(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma_ws", "wgmma");
  require_capability(arch, &ArchInfo::has_tma, "tensor_wgmma_ws", "TMA");
  const bool eight_bit = same_8bit_operands(config);
  if (eight_bit) {
    require_byte_rows_operands(config, "tensor_wgmma_ws");
    require_byte_rows_tiles(config, s);
  }
  const std::optional<MmaRunLayout> layout =
      eight_bit ? std::nullopt : std::optional<MmaRunLayout>(require_fragment_layout(config, "tensor_wgmma_ws"));
  if (config.K % 8 != 0) {
    reject("family=tensor_wgmma_ws loads activation rows by TMA, which needs rows of a multiple of 16 bytes: K "
           "divisible by 8, got " + std::to_string(config.K));
  }
  if (config.K * int64_t(info(config.W_dtype).bits) / 8 % 16 != 0) {
    reject("family=tensor_wgmma_ws loads weight rows by TMA, which needs rows of a multiple of 16 bytes: K * " +
           std::to_string(info(config.W_dtype).bits) + " / 8 divisible by 16, got K=" + std::to_string(config.K));
  }
  validate_wgmma_tile(s);
  if (s.threads != 2 * s.block_n + 128 || s.warp_m != 1 || s.warp_n != s.block_n / 16) {
    reject("threads=" + std::to_string(s.threads) + ", warp_m=" + std::to_string(s.warp_m) + ", warp_n=" +
           std::to_string(s.warp_n) + ": tensor_wgmma_ws runs one consumer warpgroup per 64 channels and a "
           "producer warpgroup: threads = 2 * block_n + 128 = " + std::to_string(2 * s.block_n + 128) +
           ", warp_m = 1, warp_n = block_n / 16 = " + std::to_string(s.block_n / 16) + " (the consumer warps)");
  }
  // Each consumer thread keeps block_m / 2 sums (fp8 W8A8: two sets) and registers besides: about 72
  // where it decodes (measured: 138 at 128 rows), about 40 for W8A8.
  const WarpSpecializedRegisters budget = warp_specialized_registers(s, arch);
  const int sums = eight_bit && config.A_dtype != DType::int8 ? s.block_m : s.block_m / 2;
  const int registers = budget.consumer > 0 ? budget.consumer : budget.per_thread, needed = sums + (eight_bit ? 40 : 72);
  if (registers < needed) {
    reject("block_m=" + std::to_string(s.block_m) + " with block_n=" + std::to_string(s.block_n) + ": " +
           std::to_string(s.threads) + " threads get " + std::to_string(registers) + " registers each, the " +
           std::to_string(sums) + " sums of a consumer thread need about " + std::to_string(needed) +
           "; a smaller block_m or block_n");
  }
  if (s.swizzle < 1 || s.swizzle > 64) {
    reject("swizzle=" + std::to_string(s.swizzle) + " must be 1..64 (row blocks per group of the tile order)");
  }
  if (s.split_k != 1) {
    reject("split_k=" + std::to_string(s.split_k) + ": tensor_wgmma_ws takes split_k=1 (its persistent grid "
           "keeps every SM busy over the output tiles); use family=tensor_wgmma to split K");
  }
  if (!eight_bit) {
    validate_wgmma_group(config, s, *layout);
    return validate_ring(config, s, arch, *layout);
  }
  if (s.stages < 2 || s.stages > 8) reject("stages=" + std::to_string(s.stages) + " must be 2..8 (the ring in shared memory)");
  require_shared_fits(config, s, arch, byte_rows_stage_bytes(s));
}

void validate_tensor_wgmma(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma", "wgmma");
  if (same_8bit_operands(config)) return validate_tensor_wgmma_8bit(config, s, arch);
  const MmaRunLayout layout = require_fragment_layout(config, "tensor_wgmma");
  validate_wgmma_group(config, s, layout);
  validate_warpgroups(s);
  validate_ring(config, s, arch, layout);
  validate_split_k(config, s);
}

int read_int(const json& object, const char* field, int fallback) {
  if (!object.contains(field)) return fallback;
  // Within int: get<int>() would wrap 2^32 + 16 to 16. The family's validation bounds it further.
  try {
    return int(json_integer(object[field], field, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  } catch (const ConfigError& error) {
    reject(error.what());
  }
}

}  // namespace

std::string_view to_string(KernelFamily family) {
  switch (family) {
    case KernelFamily::simt: return "simt";
    case KernelFamily::gemv: return "gemv";
    case KernelFamily::tensor_gemv: return "tensor_gemv";
    case KernelFamily::tensor_gemm: return "tensor_gemm";
    case KernelFamily::tensor_wgmma: return "tensor_wgmma";
    case KernelFamily::tensor_wgmma_ws: return "tensor_wgmma_ws";
  }
  return "?";
}

void validate_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  if (schedule.wgmma_group != 1 && (!reads_wgmma_fragments(schedule.family) || same_8bit_operands(config))) {
    reject("wgmma_group=" + std::to_string(schedule.wgmma_group) + ": only tensor_wgmma and tensor_wgmma_ws decoding "
           "weights for fp16 / bf16 activations group their wgmmas; wgmma_group=1");
  }
  switch (schedule.family) {
    case KernelFamily::simt:
      require_general_layout(config, schedule);
      validate_simt(config, schedule);
      return;
    case KernelFamily::gemv:
      require_general_layout(config, schedule);
      validate_gemv(config, schedule);
      return;
    case KernelFamily::tensor_gemv: validate_tensor_gemv(config, schedule, arch); return;
    case KernelFamily::tensor_gemm: validate_tensor_gemm(config, schedule, arch); return;
    case KernelFamily::tensor_wgmma: validate_tensor_wgmma(config, schedule, arch); return;
    case KernelFamily::tensor_wgmma_ws: validate_tensor_wgmma_ws(config, schedule, arch); return;
  }
  reject("unknown family");
}

bool is_valid_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  try {
    validate_schedule(config, schedule, arch);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

json to_json(const TileSchedule& s) {
  json object{{"family", to_string(s.family)}, {"threads", s.threads},   {"block_m", s.block_m},
              {"block_n", s.block_n},          {"block_k", s.block_k},   {"warp_m", s.warp_m},
              {"warp_n", s.warp_n},            {"stages", s.stages},     {"split_k", s.split_k},
              {"swizzle", s.swizzle},          {"vector_bytes", s.vector_bytes}};
  // Only where it is not 1: the canonical form (and kernel-database key) of every other schedule
  // stays what it was before the field existed.
  if (s.wgmma_group != 1) object["wgmma_group"] = s.wgmma_group;
  return object;
}

TileSchedule schedule_from_json(const json& object) {
  if (!object.is_object()) reject("a schedule must be a JSON object, got " + quote_json(object));
  TileSchedule s;
  if (object.contains("family")) {
    const json& family = object["family"];
    const std::string name = family.is_string() ? family.get<std::string>() : "";
    if (name == to_string(KernelFamily::simt)) s.family = KernelFamily::simt;
    else if (name == to_string(KernelFamily::gemv)) s.family = KernelFamily::gemv;
    else if (name == to_string(KernelFamily::tensor_gemv)) s.family = KernelFamily::tensor_gemv;
    else if (name == to_string(KernelFamily::tensor_gemm)) s.family = KernelFamily::tensor_gemm;
    else if (name == to_string(KernelFamily::tensor_wgmma)) s.family = KernelFamily::tensor_wgmma;
    else if (name == to_string(KernelFamily::tensor_wgmma_ws)) s.family = KernelFamily::tensor_wgmma_ws;
    else {
      reject("family=" + quote_json(family) +
             " is not supported; allowed: simt, gemv, tensor_gemv, tensor_gemm, tensor_wgmma, tensor_wgmma_ws");
    }
  }
  for (const auto& [key, value] : object.items()) {
    static const char* kFields[] = {"family", "threads", "block_m", "block_n", "block_k", "warp_m",
                                    "warp_n", "stages", "split_k", "swizzle", "vector_bytes", "wgmma_group"};
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      reject("unknown field " + quote_input(key));
    }
  }
  s.threads = read_int(object, "threads", s.threads);
  s.block_m = read_int(object, "block_m", s.block_m);
  s.block_n = read_int(object, "block_n", s.block_n);
  s.block_k = read_int(object, "block_k", s.block_k);
  s.warp_m = read_int(object, "warp_m", s.warp_m);
  s.warp_n = read_int(object, "warp_n", s.warp_n);
  s.stages = read_int(object, "stages", s.stages);
  s.split_k = read_int(object, "split_k", s.split_k);
  s.swizzle = read_int(object, "swizzle", s.swizzle);
  s.vector_bytes = read_int(object, "vector_bytes", s.vector_bytes);
  s.wgmma_group = read_int(object, "wgmma_group", s.wgmma_group);
  return s;
}

std::string canonical_form(const TileSchedule& schedule) { return to_json(schedule).dump(); }

int static_shared_bytes(const MatmulConfig& config, KernelFamily family) {
  const DTypeInfo& w = info(config.W_dtype);
  const int pair_table = float16_activations(config) && w.bits == 4 && !w.is_integer() ? 256 * 32 * 4 : 0;
  constexpr int kRingAlignment = 1024;  // the 128-byte swizzle's atoms
  constexpr int kBarriers = 2 * 8 * 8;   // tensor_wgmma_ws: a full and an empty mbarrier per stage, 8 stages at most
  if (family == KernelFamily::tensor_wgmma) return pair_table + kRingAlignment;
  if (family == KernelFamily::tensor_wgmma_ws) return pair_table + kRingAlignment + kBarriers;
  return pair_table;
}

TileSchedule warp_specialized(TileSchedule s, int raster_group) {
  s.family = KernelFamily::tensor_wgmma_ws;
  s.threads = 2 * s.block_n + 128;
  s.warp_m = 1;
  s.warp_n = s.block_n / 16;
  s.swizzle = raster_group;
  return s;
}

WarpSpecializedRegisters warp_specialized_registers(const TileSchedule& s, const std::string& arch) {
  const ArchInfo& target = arch_info(arch);
  WarpSpecializedRegisters r;
  r.per_thread = std::min(target.max_registers_per_thread, target.registers_per_sm / s.threads / 8 * 8);
  const int consumers = s.threads - 128;
  const int consumer = std::min(240, (r.per_thread * s.threads - r.producer * 128) / consumers / 8 * 8);
  if (consumer > r.per_thread && r.per_thread < target.max_registers_per_thread) r.consumer = consumer;
  return r;
}

bool reads_wgmma_fragments(KernelFamily family) {
  return family == KernelFamily::tensor_wgmma || family == KernelFamily::tensor_wgmma_ws;
}

std::optional<MmaRunLayout> family_layout(const MatmulConfig& config, KernelFamily family) {
  if (!reads_wgmma_fragments(family)) return mma_run_layout(config);
  if (same_8bit_operands(config)) return std::nullopt;  // plain rows of bytes
  return fragment_order_layout(config);
}

WeightLayout family_weight_layout(const MatmulConfig& config, KernelFamily family) {
  if (!family_layout(config, family)) return WeightLayout::general;
  return reads_wgmma_fragments(family) ? WeightLayout::mma_fragments : WeightLayout::mma_runs;
}

int dynamic_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule) {
  const bool wgmma = reads_wgmma_fragments(schedule.family);
  if (schedule.family != KernelFamily::tensor_gemm && !wgmma) return 0;
  if (wgmma && same_8bit_operands(config)) return schedule.stages * byte_rows_stage_bytes(schedule);
  const std::optional<MmaRunLayout> layout = family_layout(config, schedule.family);
  if (!layout) return 0;
  return schedule.stages * gemm_stage_bytes(config, schedule, *layout);
}

namespace {

// Up to 8 rows: one 16-channel tile per warp (many blocks, to fill the SMs at small N), two k-blocks
// per round; 9 to 16 rows: two mmas per tile, two tiles per warp, so each activation fragment feeds
// four mmas. Either way four loads per lane per round, and the next round is in flight meanwhile.
TileSchedule default_tensor_gemv(const MatmulConfig& config, const MmaRunLayout& layout, int64_t rows) {
  TileSchedule s;
  s.family = KernelFamily::tensor_gemv;
  s.threads = 128;
  s.warp_m = 1;
  s.warp_n = 4;
  s.block_m = rows <= 8 ? 8 : 16;
  s.block_n = s.block_m == 8 ? 16 : 32;
  s.vector_bytes = layout.load_bytes;
  const int loads_per_block = 2 * s.block_n / 16;  // two channels per lane per tile
  s.block_k = layout_k_block(config, layout) * std::max(1, 4 / loads_per_block);
  return s;
}

// From `bitjit tune` on an H100 (the four 70B shapes, int4 g128, M 64 / 256 / 4096; docs/tuning.md),
// where the same choices won across shapes:
//   - enough blocks of 128 x 128 to give every SM two: 128 x 128 on 4 warps (1 x 4: warp tiles of
//     128 rows x 32 channels, which amortize each decoded weight over 16 mmas) with 2 stages
//     (gate_up M >= 256 and every shape at M = 4096: 9-22 % faster than 128 x 256 on 8 warps);
//   - otherwise 32- or 64-row blocks of 128 channels on 4 warps with 4 stages; 64 channels when
//     that alone fills the SMs (qkv M = 64); if neither fills them, split K until there are two
//     blocks per SM (o and down M = 64: split 4 with 2 stages, 10-25 % faster) while the float32
//     partial sums stay within the weights' size.
// Stages: as many as the arch's shared memory holds, up to those. Tuning searches beyond this.
TileSchedule default_tensor_gemm(const MatmulConfig& config, const MmaRunLayout& layout, const std::string& arch,
                                 int64_t M) {
  const ArchInfo& target = arch_info(arch);
  const int64_t sms = target.reference.sm_count;
  auto blocks_of = [&](int block_m, int block_n) {
    return (config.N + block_n - 1) / block_n * ((M + block_m - 1) / block_m);
  };
  TileSchedule s;
  s.family = KernelFamily::tensor_gemm;
  s.vector_bytes = layout.load_bytes;
  s.warp_m = 1;
  s.warp_n = 4;
  s.threads = 128;
  s.block_n = 128;
  const bool many_rows = M > 64 && blocks_of(128, 128) >= 2 * sms;
  s.block_m = many_rows ? 128 : M <= 32 ? 32 : 64;
  if (!many_rows && blocks_of(s.block_m, 128) < sms && blocks_of(s.block_m, 64) >= sms) s.block_n = 64;
  const int k_block = layout_k_block(config, layout);
  s.block_k = std::max(k_block, 128 / k_block * k_block);
  const int64_t weight_bytes = config.N * config.K * info(config.W_dtype).bits / 8;
  const int64_t k_tiles = gemm_k_tiles(config, s);
  auto partial_bytes = [&](int split) { return int64_t(split) * M * config.N * 4 * 2; };  // written, then read
  const int64_t blocks = blocks_of(s.block_m, s.block_n);
  while (blocks < sms && blocks * s.split_k < 2 * sms && s.split_k < 4 && 4 * s.split_k <= k_tiles &&
         partial_bytes(2 * s.split_k) <= weight_bytes) {
    s.split_k *= 2;
  }
  const int most_stages = many_rows || s.split_k > 1 ? 2 : 4;
  const int budget = target.shared_bytes_per_block - static_shared_bytes(config, KernelFamily::tensor_gemm);
  s.stages = std::min(most_stages, budget / gemm_stage_bytes(config, s, layout));
  while (s.stages < 2 && s.block_m > 32) {  // int1 / int2: long k-blocks; fewer rows per block
    s.block_m /= 2;
    s.stages = std::min(most_stages, budget / gemm_stage_bytes(config, s, layout));
  }
  while (s.stages < 2 && s.block_n > 64) {  // and fewer channels
    s.block_n /= 2;
    s.stages = std::min(most_stages, budget / gemm_stage_bytes(config, s, layout));
  }
  return s;
}

// The fraction of the SMs' slots the last wave of `tiles` one-per-SM tiles leaves busy, over all waves.
double wave_efficiency(int64_t tiles, int64_t sms) { return double(tiles) / double((tiles + sms - 1) / sms * sms); }

// tensor_wgmma_ws for an fp16 / bf16 config, from the H100 runs of 2026-11-27 (int4 g128, 70B
// shapes, bench/results/2026-11-27-h100-wgmma-ws and -stream-k): the rows per block of tensor_wgmma,
// never split (a short last wave of 64-row tiles is shared out by stream-K instead, launch_shape);
// at 64 rows 256 channels for at least 2^27 weights (down M = 64: 2.17x cuBLAS against 2.06x at
// 128 x 256 k; gate_up 2.40x) and else 128 channels with 256 k per stage (o: 1.62x against 1.52x at
// 256 channels and 1.49x at 128 k; qkv 1.51x against 1.48x); 128 or 192 channels between 65 and 256
// rows, whichever wastes less of the last wave (qkv M = 256: 0.92x at 192 against 0.63x at 128; o:
// 0.97x at 128 against 0.77x), 128 above (256 x 128: 0.81-0.89x at M = 4096, the best measured);
// the measured stage counts, fewer where shared memory runs out (64 x 128 with 256 k: 4 stages, qkv
// M = 64 36.0 -> 35.0 us and o 27.1 -> 26.3 against 3, -chains-pdl/ring-m64; 6 stages at 128 k were
// no faster; 64 x 256: 4, where 6 and 3 were slower); tiles in groups of 8 row blocks.
// Nullopt where the family does not take the config (K not whole 16-byte rows, a ring that does not
// fit).
std::optional<TileSchedule> default_tensor_wgmma_ws(const MatmulConfig& config, const std::string& arch, int64_t rows,
                                                    const TileSchedule& unspecialized) {
  const int64_t sms = arch_info(arch).reference.sm_count;
  const int64_t row_blocks = (rows + unspecialized.block_m - 1) / unspecialized.block_m;
  const auto tiles = [&](int block_n) { return (config.N + block_n - 1) / block_n * row_blocks; };
  TileSchedule s = unspecialized;
  s.split_k = 1;
  const bool many_weights = config.N * config.K >= (int64_t(1) << 27);
  if (s.block_m == 64) {
    s.block_n = many_weights ? 256 : 128;
    if (!many_weights && 2 * s.block_k <= 256) s.block_k *= 2;
  } else if (s.block_m == 128) {
    s.block_n = wave_efficiency(tiles(192), sms) > wave_efficiency(tiles(128), sms) ? 192 : 128;
  } else {
    s.block_n = 128;
  }
  s = warp_specialized(s, 8);
  const int measured_stages = s.block_m == 64 ? (s.block_n == 256 ? 4 : s.block_k == 256 ? 4 : 6)
                                              : s.block_m == 128 ? (s.block_n == 128 ? 5 : 4) : 3;
  const int budget = arch_info(arch).shared_bytes_per_block - static_shared_bytes(config, s.family);
  s.stages = std::min(measured_stages, budget / gemm_stage_bytes(config, s, *family_layout(config, s.family)));
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  return s;
}

// W8A8 on tensor_wgmma_ws: tensor_wgmma's tile (int8 256 x 128, fp8 128 x 128: its two accumulator
// sets), two consumer warpgroups, 4 stages, tiles in groups of 8 row blocks. H100, 70B shapes at
// M = 4096 against cuBLASLt in the same run (bench/results/2026-11-27-h100-stream-k): int8 0.86-1.00x
// (tensor_wgmma: 0.59x), fp8 0.66-0.73x (0.45x).
std::optional<TileSchedule> default_tensor_wgmma_ws_8bit(const MatmulConfig& config, const std::string& arch,
                                                         const TileSchedule& unspecialized) {
  TileSchedule s = warp_specialized(unspecialized, 8);
  s.stages = 4;
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  return s;
}

// tensor_wgmma, from the H100 runs of 2026-11-27 (int4 g128, 70B shapes, docs/performance.md):
//   - rows per block: 64 up to M = 64, 128 up to 256, then 256 (m64n256k16: each decoded fragment
//     feeds 256 rows; gate_up M = 4096: 0.63x cuBLAS against 0.54x at 128);
//   - 128 channels on two warpgroups; K split in two when the blocks, doubled, still fit in one wave
//     (o and down at M = 64, 64 blocks: 1.15x and 1.50x split against 0.83x and 0.84x; qkv's 80
//     blocks do better unsplit); used where tensor_wgmma_ws does not take the config, which is the
//     default wherever it does (the defaults above);
//   - 4 stages (3 at 256 rows), fewer where shared memory runs out; below 3, rows and then channels
//     are halved.
// W8A8 (same_8bit_operands): 128 k per stage, int8 256 rows above M = 256 (1.39x the 128-row block at
// gate_up M = 4096), fp8 at most 128 (its two accumulator sets). Nullopt for a config the family
// does not take.
std::optional<TileSchedule> default_tensor_wgmma(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  const bool eight_bit = same_8bit_operands(config);
  const std::optional<MmaRunLayout> layout = family_layout(config, KernelFamily::tensor_wgmma);
  if (!arch_info(arch).has_wgmma || (!eight_bit && (!layout || !float16_activations(config)))) return std::nullopt;
  TileSchedule s;
  s.family = KernelFamily::tensor_wgmma;
  s.block_n = 128;
  s.block_m = rows <= 64 ? 64 : rows <= 256 || (eight_bit && config.A_dtype != DType::int8) ? 128 : 256;
  if (eight_bit) {
    s.block_k = 128;
    s.vector_bytes = 16;
  } else {
    const int k_block = layout_k_block(config, *layout);
    s.block_k = std::max(k_block, 128 / k_block * k_block);
    s.vector_bytes = layout->load_bytes;
  }
  const int budget = arch_info(arch).shared_bytes_per_block - static_shared_bytes(config, s.family);
  const auto stages_that_fit = [&] {
    const int stage_bytes = eight_bit ? byte_rows_stage_bytes(s) : gemm_stage_bytes(config, s, *layout);
    return std::min(s.block_m == 256 ? 3 : 4, budget / stage_bytes);
  };
  s.stages = stages_that_fit();
  while (s.stages < 3 && s.block_m > 64) s.block_m /= 2, s.stages = stages_that_fit();
  while (s.stages < 3 && s.block_n > 64) s.block_n /= 2, s.stages = stages_that_fit();
  s.threads = 2 * s.block_n;
  s.warp_m = 1;
  s.warp_n = s.threads / 32;
  const int64_t sms = arch_info(arch).reference.sm_count;
  const int64_t blocks = (config.N + s.block_n - 1) / s.block_n * ((rows + s.block_m - 1) / s.block_m);
  const int64_t weight_bytes = config.N * config.K * info(config.W_dtype).bits / 8;
  const auto partial_bytes = [&](int split) { return int64_t(split) * rows * config.N * 4 * 2; };  // written, read
  while (!eight_bit && 2 * blocks * s.split_k <= sms && s.split_k < 4 && 4 * s.split_k <= gemm_k_tiles(config, s) &&
         partial_bytes(2 * s.split_k) <= weight_bytes) {
    s.split_k *= 2;
  }
  // e.g. W8A8 with scales, K not whole 16-k steps, a k-block past shared memory
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  const std::optional<TileSchedule> specialized =
      eight_bit ? default_tensor_wgmma_ws_8bit(config, arch, s) : default_tensor_wgmma_ws(config, arch, rows, s);
  return specialized ? *specialized : s;
}

// The Hopper family serves a config only when it serves every bucket (the weights are packed once,
// in its layout): on an arch with wgmma, from 64 rows up, for the configs it takes.
bool wgmma_serves(const MatmulConfig& config, const std::string& arch) {
  const std::vector<int64_t>& buckets = config.M.values();
  const int64_t fewest = *std::min_element(buckets.begin(), buckets.end());
  return fewest >= 64 && default_tensor_wgmma(config, arch, fewest).has_value();
}

}  // namespace

TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch) {
  return default_schedule(config, arch, config.M.largest());
}

std::vector<TileSchedule> default_bucket_schedules(const MatmulConfig& config, const std::string& arch) {
  std::vector<TileSchedule> schedules;
  for (int64_t rows : config.M.values()) {
    TileSchedule s = default_schedule(config, arch, rows);
    const bool seen = std::any_of(schedules.begin(), schedules.end(),
                                  [&](const TileSchedule& other) { return canonical_form(other) == canonical_form(s); });
    if (!seen) schedules.push_back(s);
  }
  return schedules;
}

TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  if (wgmma_serves(config, arch)) {
    if (std::optional<TileSchedule> s = default_tensor_wgmma(config, arch, rows)) return *s;
    throw ConfigError("default_schedule: tensor_wgmma serves " + canonical_form(config) + " but has no schedule for " +
                      std::to_string(rows) + " rows");  // its fallbacks end where they end for the smallest bucket
  }
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (layout && arch_has_activation_mma(config, arch)) {
    const bool many_rows = rows > 16 && float16_activations(config) && layout->run <= 8;
    TileSchedule s = many_rows ? default_tensor_gemm(config, *layout, arch, rows) : default_tensor_gemv(config, *layout, rows);
    validate_schedule(config, s, arch);
    return s;
  }
  TileSchedule s;
  s.family = gemv_applies(config) ? KernelFamily::gemv : KernelFamily::simt;
  s.threads = 128;
  s.warp_m = 1;
  s.warp_n = 4;
  s.block_n = s.family == KernelFamily::gemv ? 4 : 8;  // gemv: one column per warp
  // Rows per block trade weight re-reads (M / block_m passes over W) against registers.
  const int row_limit = s.family == KernelFamily::gemv ? 16 : 8;
  s.block_m = int(std::min<int64_t>(rows, row_limit));
  s.vector_bytes = s.family == KernelFamily::gemv ? widest_gemv_load(config) : widest_row_load(config);
  validate_schedule(config, s, arch);
  return s;
}

}  // namespace bitjit
