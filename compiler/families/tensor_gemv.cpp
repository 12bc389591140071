#include "compiler/families/tensor_gemv.hpp"

#include <algorithm>

#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/simt.hpp"

namespace bitjit {

bool arch_has_activation_mma(const MatmulConfig& config, const std::string& arch) {
  return !fp8_activations(config) || arch_info(arch).has_fp8_mma;
}

namespace families {

namespace {

// Its shared memory is all static (the warps' sums, nf4's pair table), which no kernel may hold past
// 48 KiB on any arch: more warps along K or wider tiles than that fit is refused here, not by ptxas.
void require_static_shared_fits(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  constexpr int kStaticSharedLimit = 48 * 1024;
  const int bytes = static_shared_bytes(config, s, arch);
  if (bytes > kStaticSharedLimit) {
    reject_schedule("warps.k=" + std::to_string(s.warps.k) + " with tile.m=" + std::to_string(s.tile.m) + " and tile.n=" +
                    std::to_string(s.tile.n) + " needs " + std::to_string(bytes) + " bytes of static shared memory " +
                    "for the warps' sums" + (pair_table_bytes(config) > 0 ? " and the pair table" : "") + "; at most " +
                    std::to_string(kStaticSharedLimit) + ": fewer warps.k or a smaller tile");
  }
}

// Whether the kernel loads a config's activations as 16-byte quads (two mma steps' fragments): fp16 /
// bf16 activations in runs of 8 k or more.
bool loads_activation_quads(const MatmulConfig& config, const MmaRunLayout& layout) {
  return float16_activations(config) && layout.run % 8 == 0;
}

// Whether a config's activations can be loaded a k-block ahead (pipeline.stages 2): in whole quads
// only. Validation refuses the others by cause.
bool takes_activations_ahead(const MatmulConfig& config, const MmaRunLayout& layout) {
  return loads_activation_quads(config, layout);
}

// pipeline.k_per_stage on tensor_gemv: the k of a warp's rounds that one step of its loop covers,
// 0 for a round a step (the loop as the compiler leaves it, rolled) or 2, 4 or 8 rounds
// (kRoundsPerStep): the rounds in one block of code, the round in flight renamed instead of copied.
// fp16 / bf16 activations: the 8-bit kernel takes a round a step.
int rounds_per_step(const TileSchedule::Pipeline& p) { return p.k_per_stage == 0 ? 1 : p.k_per_stage / p.k_per_round; }

void require_rounds_per_step(const MatmulConfig& config, const TileSchedule::Pipeline& p) {
  if (p.k_per_stage == 0) return;
  if (!float16_activations(config)) {
    reject_schedule("pipeline.k_per_stage=" + std::to_string(p.k_per_stage) + ": tensor_gemv with " +
                    std::string(to_string(config.A_dtype)) + " activations takes pipeline.k_per_stage=0 (rounds a "
                    "loop step: fp16 / bf16 only)");
  }
  const bool whole_rounds = p.k_per_round > 0 && p.k_per_stage % p.k_per_round == 0;
  const int rounds = whole_rounds ? rounds_per_step(p) : 0;
  if (rounds != 2 && rounds != 4 && rounds != 8) {
    reject_schedule("pipeline.k_per_stage=" + std::to_string(p.k_per_stage) + " must be 0 (a round a loop step) or 2, "
                    "4 or 8 rounds of pipeline.k_per_round=" + std::to_string(p.k_per_round) + " (" +
                    std::to_string(2 * p.k_per_round) + ", " + std::to_string(4 * p.k_per_round) + " or " +
                    std::to_string(8 * p.k_per_round) + ")");
  }
}

}  // namespace

void validate_tensor_gemv(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout) {
    reject_schedule("family=tensor_gemv needs A_dtype float16 or bfloat16 with float accumulation and weights exact in "
                    "A's type (or nf4), A_dtype int8 with integer weights, or fp8 A_dtype with W_dtype of the same "
                    "type, int4, uint4 or fp4_e2m1; a group size divisible by 16 (32 for 8-bit A; for fp8 A, by four "
                    "lanes' whole loads of 8 or 16 bytes) and K divisible into k-blocks; use family=gemv or simt");
  }
  if (!arch_has_activation_mma(config, arch)) {
    reject_schedule("family=tensor_gemv with A_dtype=" + std::string(to_string(config.A_dtype)) + " on arch=" + arch +
                    ": the fp8 mma.sync needs one of " + archs_with(&ArchInfo::has_fp8_mma) + "; use family=simt");
  }
  // Its warps split K, each streaming every channel of the tile, and add their sums at the end.
  if (s.warps.k < 1 || s.warps.k > 16) {
    reject_schedule("warps.k=" + std::to_string(s.warps.k) + " must be 1..16 (32 to 512 threads)");
  }
  require_unused(s, "warps.m", s.warps.m, 1);
  require_unused(s, "warps.n", s.warps.n, 1);
  if (s.tile.m != 8 && s.tile.m != 16) {
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + ": tensor_gemv takes 8 (one mma per 16 channels) or 16 (two)");
  }
  if (s.tile.n % 16 != 0 || s.tile.n < 16 || s.tile.n > 64) {
    reject_schedule("tile.n=" + std::to_string(s.tile.n) + " must be 16, 32, 48 or 64 (16 output channels per mma tile)");
  }
  const TileSchedule::Pipeline& p = s.pipeline;
  require_layout_loads(s, *layout);
  const int block = layout_k_block(config, *layout);
  if (p.k_per_round % block != 0 || p.k_per_round / block < 1 || p.k_per_round / block > 8) {
    reject_schedule("pipeline.k_per_round=" + std::to_string(p.k_per_round) + " must be 1 to 8 k-blocks of " +
                    std::to_string(block));
  }
  // No ring: the next round of weight loads is in flight instead. stages = 2 loads the activations
  // too a k-block ahead (fp16 / bf16 activations in runs of whole 16-byte quads).
  if (p.stages == 2) {
    if (!float16_activations(config)) {
      reject_schedule("pipeline.stages=2 (activations a k-block ahead): tensor_gemv with " +
                      std::string(to_string(config.A_dtype)) + " activations takes pipeline.stages=1 (fp16 / bf16 only)");
    }
    if (layout->run % 8 != 0) {
      reject_schedule("pipeline.stages=2 (activations a k-block ahead) needs runs of 8 k or more (16-byte activation "
                      "loads); this config's layout has runs of " + std::to_string(layout->run) + "; use pipeline.stages=1");
    }
  } else if (p.stages != 1) {
    reject_schedule("pipeline.stages=" + std::to_string(p.stages) + ": tensor_gemv takes 1 (activations loaded as each "
                    "k-block starts) or 2 (a k-block ahead)");
  }
  require_rounds_per_step(config, p);
  const int64_t k_blocks = config.K / block;
  if (!float16_activations(config) && p.split_k != 1) {
    reject_schedule("pipeline.split_k=" + std::to_string(p.split_k) + ": tensor_gemv with " +
                    std::string(to_string(config.A_dtype)) + " activations takes pipeline.split_k=1 (split-K: fp16 / "
                    "bf16 only)");
  }
  if (p.split_k < 1 || p.split_k > 16 || p.split_k > k_blocks) {
    reject_schedule("pipeline.split_k=" + std::to_string(p.split_k) + " must be 1..16 and at most the " +
                    std::to_string(k_blocks) + " k-blocks of " + std::to_string(block) + " in K");
  }
  require_unused(s, "launch.raster_group", s.launch.raster_group, 1);
  require_static_shared_fits(config, s, arch);
}

namespace {

// Slices of K for a long K over few channel blocks: each block streams its channels' whole K with a
// few loads in flight, so with under four blocks per SM the memory system idles behind the latency.
// Measured on the H200 (bench/results/2026-11-29-h200-gemv-split): slices of 7168 k or more pay
// (8B down, K 14336, two slices: M=1 23.7 -> 17.6 us, M=16 50.9 -> 28.9; 70B down, K 28672, four:
// M=16 98.4 -> 72.7), shorter ones cost more than they hide (70B o, K 8192, two slices at M=16:
// 21.8 -> 31.0 us), as do slices where the blocks already fill the SMs (gate_up). fp16 / bf16 only:
// the kernel for 8-bit activations has no split. Not at up to 8 rows any more: since the activations
// go a k-block ahead and few blocks get eight warps (widen_for_few_blocks), one slice is faster there
// (found by `bitjit tune` on the dynamic suite, bench/results/2026-11-30-h200x2-tuned-dynamic; timed
// against the split in 2026-11-30-h200x2-one-row-unsplit, static one row: int4 8B down 15.7 -> 14.7
// us, 70B down 47.9 -> 41.9, every format 0.67-0.94 of the split's time, nf4 70B down 83.1 -> 55.6).
int default_tensor_gemv_split(const MatmulConfig& config, const TileSchedule& s, int k_block, const std::string& arch,
                              int64_t rows) {
  constexpr int64_t kLeastSliceK = 7168, kMostSlices = 4, kBlocksPerSmToSplit = 4, kMostUnsplitRows = 8;
  if (!float16_activations(config) || rows <= kMostUnsplitRows) return 1;
  if (tiles_of_c(config, s.tile, rows) >= kBlocksPerSmToSplit * arch_info(arch).reference.sm_count) return 1;
  return int(std::clamp<int64_t>(std::min(config.K / kLeastSliceK, config.K / k_block), 1, kMostSlices));
}

// The blocks a launch of s over `rows` rows starts: output tiles times slices of K.
int64_t launched_blocks(const MatmulConfig& config, const TileSchedule& s, int64_t rows) {
  return tiles_of_c(config, s.tile, rows) * s.pipeline.split_k;
}

// The warps of the blocks that widen_for_few_blocks and pair_tiles_for_narrow_codes widen, and of the
// default's blocks otherwise.
constexpr int kWideWarps = 8, kDefaultWarps = 4;
// Runs of 8 k (reads_runs_of_8, compiler/families/select.cpp), which some rules below take or leave.
constexpr int kRunsOf8 = 8;
// The channels of two 16-channel mma tiles a warp, which several rules below set or look for.
constexpr int kTwoTiles = 32;

// Whether each of s's warps gets a round of K at least: warps past K's rounds would idle (a short K:
// a test's 96).
bool every_warp_gets_a_round(const MatmulConfig& config, const TileSchedule& s) {
  return config.K / s.pipeline.split_k / s.pipeline.k_per_round >= s.warps.k;
}

// Whether those are at most `per_sm` an SM of the arch's reference GPU.
bool at_most_blocks_per_sm(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int64_t rows,
                           int64_t per_sm) {
  return launched_blocks(config, s, rows) <= per_sm * arch_info(arch).reference.sm_count;
}

// Where the blocks (times the slices of K) are under two per SM, each SM has too few warps to hide the
// loads' latency (Nsight Compute on 70B o at 16 rows: 12 % occupancy, DRAM at 29 %): at 9 to 16 rows
// one channel tile per warp doubles the blocks, and where that is still under two per SM (and at up to
// 8 rows, whose tiles are one already), eight warps per block double the warps. Measured on the H200
// with int4 and packed-zero uint4 g128: at M=16 (bench/results/2026-11-29-h200-peers) 8B o 11.6 ->
// 8.9 us, 8B down 28.4 -> 24.4, 8B qkv 12.6 -> 11.8, 70B o 21.6 -> 21.1; at M=1 (2026-11-30-h200-
// one-row-warps) 8B o 8.8 -> 7.0 and 8.9 -> 7.3. Shapes with more blocks lost with either change
// (70B qkv at 16 rows 24.5 -> 37.1; eight warps at one row: 8B qkv uint4 9.6 -> 10.7, 70B o 16.8 ->
// 18.7). Timed with fp16 activations only; the 8-bit kernel keeps its tiles.
void widen_for_few_blocks(const MatmulConfig& config, TileSchedule& s, const std::string& arch, int64_t rows) {
  const int64_t two_per_sm = 2 * arch_info(arch).reference.sm_count;
  if (launched_blocks(config, s, rows) >= two_per_sm) return;
  s.tile.n = 16;
  if (launched_blocks(config, s, rows) >= two_per_sm) return;
  TileSchedule wide = s;
  wide.warps.k = kWideWarps;
  if (every_warp_gets_a_round(config, wide)) s = wide;
}

// Codes of 1 or 2 bits at up to 8 rows (fp16 activations, no zero points): a 16-channel tile's
// k-block of activations is half the bytes of its int2 weights and as many as its int1 weights, so
// where the blocks are few, two tiles a warp (each activation load feeding both) on eight warps with
// one k-block a round (the same loads in flight a warp) pay. Found by `bitjit tune` on the 70B shapes
// at one row (bench/results/2026-11-30-h200x2-tuned-low-bit) and timed against the default since
// (2026-11-30-h200x2-narrow-codes, static one row): int2 70B o 13.6 -> 12.5 us, 70B down 36.2 ->
// 33.3, int1 8B qkv 7.5 -> 6.7, 70B o 12.1 -> 10.7, 70B down 31.9 -> 28.9 (192 and 256 such
// blocks); int2 8B qkv level. Not on more blocks (70B qkv's 320, gate_up: the tuner kept the
// default), nor under one an SM (8B o and down's 128 would idle SMs), nor on runs of 8 (a dynamic M's:
// int2 8B qkv 1.12x, 70B o 1.06x, 70B down 1.05x), nor bf16 (0.96-1.02: level). Since int2 reads runs
// of 8 at one row and above 4 rows (reads_runs_of_8, compiler/families/select.cpp), faster still
// unpaired (70B o 12.5 -> 12.2 us, 70B down 33.0 -> 30.7), it pairs at 2 to 4 rows only.
void pair_tiles_for_narrow_codes(const MatmulConfig& config, const MmaRunLayout& layout, TileSchedule& s, int k_block,
                                 const std::string& arch, int64_t rows) {
  constexpr int kMostBits = 2;
  constexpr int64_t kMostBlocksPerSm = 2;
  const bool fp16 = config.A_dtype == DType::float16;
  if (info(config.W_dtype).bits > kMostBits || config.with_zeros || s.tile.m > 8 || !fp16 || layout.run <= kRunsOf8)
    return;
  TileSchedule paired = s;
  paired.tile.n = kTwoTiles;
  paired.warps.k = kWideWarps;
  paired.pipeline.k_per_round = k_block;
  if (!at_most_blocks_per_sm(config, paired, arch, rows, kMostBlocksPerSm)) return;
  if (launched_blocks(config, paired, rows) < arch_info(arch).reference.sm_count) return;
  if (every_warp_gets_a_round(config, paired)) s = paired;
}

// 5 to 8 rows of 2- or 4-bit codes on runs of 8 (reads_runs_of_8, compiler/families/select.cpp)
// where 16-channel tiles make at least 8 blocks an SM (the gate_up shapes: 1792 and 3584 on 132 SMs):
// every block reads all of A's rows, so there the activations L2 sends outweigh the weights; two
// channel tiles a warp, one k-block a round (the same loads in flight), feed each activation fragment
// to both tiles and halve them. Measured on the H200 at 8 rows against the default
// (bench/results/2026-12-01-h200x2-few-rows-two-tiles, variants): int4 8B gate_up 27.6 -> 23.9 us,
// 70B gate_up 90.5 -> 89.1; zero points as values 0.90-0.95, bf16 0.89-0.93, nf4 0.81-0.82, int2
// 0.97-0.99. Not on fewer blocks (the qkv, o and down shapes: 0.98-1.51x, int4 70B qkv's 640 blocks
// 1.08x), nor on 4 rows' whole loads (int4 70B gate_up 0.90 but 8B gate_up 1.10x), nor at one row
// (not timed), nor with the activations a k-block ahead (never timed together; on these many blocks
// activations_ahead_pays leaves them as each k-block starts: call it after that).
void two_tiles_for_many_blocks(const MatmulConfig& config, const MmaRunLayout& layout, TileSchedule& s, int k_block,
                               const std::string& arch, int64_t rows) {
  constexpr int64_t kLeastBlocksPerSm = 8;
  const int bits = info(config.W_dtype).bits;
  if ((bits != 2 && bits != 4) || !float16_activations(config) || layout.run > kRunsOf8) return;
  if (s.tile.m > 8 || rows <= kMostWholeLoadRows || s.tile.n != 16 || s.warps.k != kDefaultWarps) return;
  if (s.pipeline.stages != 1) return;
  if (at_most_blocks_per_sm(config, s, arch, rows, kLeastBlocksPerSm - 1)) return;
  s.tile.n = kTwoTiles;
  s.pipeline.k_per_round = k_block;
}

// nf4 at one row on whole loads (static M) where 16-channel tiles make more than 7 blocks an SM (the
// gate_up shapes: 1792 and 3584 blocks on 132 SMs): each block fills its shared-memory table of level
// pairs before its first lookup, and two channel tiles a warp halve the blocks, so the fills. Measured
// on the H200 (bench/results/2026-12-01-h200-rows-past-m-nf4-table, 7-nf4-one-row, fp16 activations,
// the default's 256 k a round kept): 70B gate_up 123.7 -> 89.7 us, 8B gate_up 34.7 -> 27.4; with four
// rounds a step as well 0.77 and 0.88 (so unroll_rounds_where_they_pay leaves whole loads alone). Not
// on fewer blocks (8B qkv's 384: 1.13x; the others 1.00-1.06x), nor timed at 2 to 4 rows, with bf16
// activations or on a dynamic M's runs of 8.
void two_tiles_for_table_fills(const MatmulConfig& config, const MmaRunLayout& layout, TileSchedule& s,
                               const std::string& arch, int64_t rows) {
  constexpr int64_t kLeastBlocksPerSm = 8;
  if (config.W_dtype != DType::nf4 || config.A_dtype != DType::float16 || rows != 1) return;
  if (layout.run <= kRunsOf8 || s.tile.m > 8 || s.tile.n != 16 || s.warps.k != kDefaultWarps) return;
  if (s.pipeline.split_k != 1 || at_most_blocks_per_sm(config, s, arch, rows, kLeastBlocksPerSm - 1)) return;
  s.tile.n = kTwoTiles;
}

// Zero points at 9 to 16 rows: left to itself the compiler holds a 4-warp block of two channel tiles a
// warp in 140 registers (sm_90a, uint4 zeros as values or packed), 3 blocks an SM where int4's 127
// fit 4; a launch bound of 4 blocks an SM gives 128 and no spill (70B down's split kernel, 168 without
// it, 128 and 128 bytes of stack: still faster). Measured on the H200 (2026-11-30,
// bench/results/2026-11-30-h200x2-zero-point-bound), the bound over none at 16 rows, one GPU, one
// call: zeros as values 70B gate_up 142.2 -> 112.1 us, 8B gate_up 44.7 -> 31.1, 8B down 27.2 -> 23.1,
// the other 4-warp shapes 0.91-0.96; packed zeros 0.83-0.99; bf16 activations 0.69-0.98. One channel
// tile a warp (96-104 registers, 5 blocks already) measured faster with it too (8B qkv 0.94-0.95),
// so the bound takes every 4-warp block; 8-warp blocks (8B o) keep the compiler's count: the same
// bound leaves them 64 registers (1.15-1.31x slower). With the activations a k-block ahead
// (zero_values_ahead_pays) the bound is 3 blocks an SM: NVRTC for sm_90a holds 70B down's split
// kernel in 199 registers unbounded, 168 and 32 bytes of stack under 3 (4 spill more).
// Call it once s.pipeline.stages is set.
void bound_zero_point_blocks(const MatmulConfig& config, TileSchedule& s) {
  constexpr int kZeroPointBlocksPerSm = 4, kAheadBlocksPerSm = 3;
  if (config.with_zeros && float16_activations(config) && s.tile.m > 8 && s.warps.k == kDefaultWarps)
    s.launch.blocks_per_sm = s.pipeline.stages == 2 ? kAheadBlocksPerSm : kZeroPointBlocksPerSm;
}

// Blocks of four warps on runs of 8 at up to 8 rows, over four an SM but at most five: where the
// compiler holds the kernel in more than the 102 registers that let five blocks share an SM, the last
// blocks take a second wave. int2 with bf16 activations on runs of 8 (reads_runs_of_8,
// compiler/families/select.cpp) holds 109 (NVRTC, sm_90a), so 70B qkv's 640 blocks met 528 places on
// the H200's 132 SMs; a bound of five blocks an SM (102 registers, no spill) measured
// (bench/results/2026-11-30-h200x2-small-m-runs-of-8, variants): one row 18.8 -> 14.3 us, 4 rows 23.4
// -> 17.0, 8 rows 23.9 -> 17.6; fp16's kernel fits in 96 already (13.7 -> 13.9, level), as do int4,
// fp4 and packed zero points (0.82-1.01 with the runs of 8). Not on whole loads: nf4's one-row kernel
// (96 registers and its 35 KB table) measured 1.06x slower under the bound (70B qkv 25.0 -> 26.5 us),
// int8 per channel and int1 level. One 16-channel tile a warp only: two (106 registers at 8 rows) were
// never timed under it.
void fit_blocks_in_one_wave(const MatmulConfig& config, const MmaRunLayout& layout, TileSchedule& s,
                            const std::string& arch, int64_t rows) {
  constexpr int64_t kOneWaveBlocksPerSm = 5;
  if (s.tile.m > 8 || s.tile.n != 16 || layout.run > kRunsOf8 || s.warps.k != kDefaultWarps) return;
  if (s.launch.blocks_per_sm != 0) return;
  if (at_most_blocks_per_sm(config, s, arch, rows, kOneWaveBlocksPerSm - 1)) return;
  if (at_most_blocks_per_sm(config, s, arch, rows, kOneWaveBlocksPerSm)) s.launch.blocks_per_sm = kOneWaveBlocksPerSm;
}

// Zero points as values with the activations a k-block ahead: their mma of the activation sums holds
// more registers, so it pays on fewer blocks than int4's five an SM. Measured on the H200 (2026-11-30,
// bench/results/2026-11-30-h200x2-zero-values-ahead, variants: stages 2 over 1, one run, uint4 g128
// zeros): at up to 8 rows faster where K is split (8B down 18.0 -> 17.2 us, 70B down 61.2 -> 52.6)
// or with at most four blocks an SM (8B qkv 10.3 -> 9.5, 70B o 18.6 -> 17.2, 8B o level), slower on
// more (70B qkv's 640 blocks 19.9 -> 26.0, the gate_up shapes 1.08-1.13x). At 9 to 16 rows only a
// split K of two channel tiles a warp, under a bound of three blocks an SM (bound_zero_point_blocks):
// 70B down 77.5 -> 67.2 us; without the bound 1.29x, and 8B down's one tile a warp 1.05x (1.56x
// bounded).
bool zero_values_ahead_pays(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int64_t rows) {
  constexpr int64_t kMostBlocksPerSm = 4;
  if (s.tile.m > 8) return s.pipeline.split_k > 1 && s.tile.n == kTwoTiles;
  return s.pipeline.split_k > 1 || at_most_blocks_per_sm(config, s, arch, rows, kMostBlocksPerSm);
}

// Four rounds a step of a warp's k-loop (pipeline.k_per_stage, unrolled) at up to 8 rows on 4-warp
// unsplit blocks, where they measured faster on the H200 (2026-12-01, bench/results/
// 2026-12-01-h200x2-rounds-per-step, variants over the default in one run, static M): on two channel
// tiles a warp (two_tiles_for_many_blocks, the gate_up shapes at 5 to 8 rows) int4 70B gate_up 88.2 ->
// 71.0 us, bf16 89.4 -> 72.2, packed zeros 117.7 -> 91.6 and 31.1 -> 26.6 (8B), nf4 0.94-0.95, int2
// 0.91-0.97, int4 8B gate_up 1.01 and bf16 1.03 the losses kept; and for 4-bit integer codes (int4,
// uint4, no zero points or packed ones) on at most five blocks an SM (70B qkv, o, down, 8B qkv) at one
// and 8 rows: 0.92-1.00 (70B down one row 40.4 -> 38.8, packed zeros at 8 rows 56.1 -> 51.6). Not on
// many blocks at one row (gate_up: 1.02-1.08x), nor for nf4 there (70B qkv 25.1 -> 34.2), nor on
// 8-warp blocks (8B o 1.02-1.05x), nor at 16 rows (two and four rounds in every kernel, int4: 70B o
// 21.2 -> 29.8 and 55.4 us; NVRTC for sm_90a holds 70B gate_up's in 106 and 175 registers against 124),
// nor on two tiles of whole loads (two_tiles_for_table_fills: 0.77 against 0.73 without).
void unroll_rounds_where_they_pay(const MatmulConfig& config, const MmaRunLayout& layout, TileSchedule& s,
                                  const std::string& arch, int64_t rows) {
  constexpr int kRoundsPerStep = 4;
  constexpr int64_t kMostBlocksPerSm = 5;
  if (!float16_activations(config) || s.tile.m > 8 || s.warps.k != kDefaultWarps || s.pipeline.split_k != 1) return;
  const bool two_tiles = s.tile.n == kTwoTiles && layout.run <= kRunsOf8;
  const bool integer_4bit = config.W_dtype == DType::int4 || config.W_dtype == DType::uint4;
  const bool zeros_as_values = config.with_zeros && config.zeros_mode != ZerosMode::quantized;
  const bool few_blocks = s.tile.n == 16 && at_most_blocks_per_sm(config, s, arch, rows, kMostBlocksPerSm);
  if (two_tiles || (integer_4bit && !zeros_as_values && few_blocks))
    s.pipeline.k_per_stage = kRoundsPerStep * s.pipeline.k_per_round;
}

}  // namespace

// pipeline.stages = 2 (the activations a k-block ahead) where it measured faster on the H200
// (2026-11-30, bench/results/2026-11-30-h200x2-activations-ahead; each default against the same
// schedule at stages 1, in one run): at 9 to 16 rows with K split (the down shapes), where the first
// mma of each k-block waited on its activations (int4 70B down 72.0 -> 59.2 us, 8B down 24.7 -> 22.3;
// bf16, nf4, fp4, int8 per channel 0.81-0.91 but nf4 70B down 1.03); at up to 8 rows on whole-load
// runs with at most five blocks (times slices) an SM, whose warps have few loads in flight (int4 8B
// qkv 9.7 -> 8.9, 70B o 17.1 -> 15.2; the same formats 0.78-1.01), and on runs of 8 (a dynamic M's,
// a static M's too since reads_runs_of_8) at up to 8 rows on the same blocks
// (bench/results/2026-11-30-h200x2-dynamic-runs-of-8, one row: int4 0.89-1.02, 8B down 17.1 -> 15.2;
// bf16 0.89-1.00, fp4 0.89-1.00, nf4 0.84-1.08: its 8B down 22.7 -> 24.4 in both runs, the one loss
// kept for the rest). Not where it measured slower:
// more blocks (the 25-32 more registers cost occupancy: int4 70B gate_up 65.4 -> 72.0 at one row),
// unsplit 16-row tiles (70B o 21.6 -> 23.5), more than four 16-byte activation loads per k-block and
// row half (int2 and int1, 8 and 16 of them: up to 1.21x and 1.52x), packed zero points (up to 1.7x).
// Zero points as values have a rule of their own (zero_values_ahead_pays).
bool activations_ahead_pays(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout,
                            const std::string& arch, int64_t rows) {
  constexpr int64_t kMostBlocksPerSm = 5;
  constexpr int kMostQuadsPerBlock = 4;
  const int codes = layout.codes_per_load(info(config.W_dtype).bits);
  const bool packed_zeros = config.with_zeros && config.zeros_mode == ZerosMode::quantized;
  if (!takes_activations_ahead(config, layout) || packed_zeros) return false;
  if (codes / 8 > kMostQuadsPerBlock) return false;
  if (config.with_zeros) return zero_values_ahead_pays(config, s, arch, rows);
  if (s.tile.m > 8) return s.pipeline.split_k > 1;
  return at_most_blocks_per_sm(config, s, arch, rows, kMostBlocksPerSm);
}

// Up to 8 rows: one 16-channel tile per warp (many blocks, to fill the SMs at small N), two k-blocks
// per round; 9 to 16 rows: two mmas per tile, two tiles per warp, so each activation fragment feeds
// four mmas. Either way four loads per lane per round, the next round in flight meanwhile; where 16
// rows' blocks would not fill the SMs, widen_for_few_blocks halves the tiles (two loads per round,
// as timed).
std::optional<TileSchedule> default_tensor_gemv(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout || !arch_has_activation_mma(config, arch)) return std::nullopt;
  TileSchedule s;
  s.family = KernelFamily::tensor_gemv;
  s.warps = {.m = 1, .n = 1, .k = kDefaultWarps};
  s.tile.m = rows <= 8 ? 8 : 16;
  s.tile.n = s.tile.m == 8 ? 16 : 32;
  s.pipeline.vector_bytes = layout->load_bytes;
  const int loads_per_block = 2 * s.tile.n / 16;  // two channels per lane per tile
  const int k_block = layout_k_block(config, *layout);
  s.pipeline.k_per_round = k_block * std::max(1, 4 / loads_per_block);
  s.pipeline.split_k = default_tensor_gemv_split(config, s, k_block, arch, rows);
  if (float16_activations(config)) widen_for_few_blocks(config, s, arch, rows);
  pair_tiles_for_narrow_codes(config, *layout, s, k_block, arch, rows);
  if (activations_ahead_pays(config, s, *layout, arch, rows)) s.pipeline.stages = 2;
  two_tiles_for_many_blocks(config, *layout, s, k_block, arch, rows);
  two_tiles_for_table_fills(config, *layout, s, arch, rows);
  bound_zero_point_blocks(config, s);
  fit_blocks_in_one_wave(config, *layout, s, arch, rows);
  unroll_rounds_where_they_pay(config, *layout, s, arch, rows);
  return s;
}

// Slices of K (fp16 / bf16 activations) join every shape: the cost model ranks them by the waves
// they fill and the partial sums they write, and timing decides.
// Each with its twin that loads the activations a k-block ahead (pipeline.stages 2) where the
// activations allow it: whether that pays turned on the shape and the format (activations_ahead_pays),
// so timing decides. The footprint counts the twin's registers: the model tells it from its base by
// the occupancy alone.
void add_tensor_gemv_candidates(const MatmulConfig& config, const TileSchedule&, int64_t, std::vector<TileSchedule>& out) {
  const MmaRunLayout layout = *mma_run_layout(config);
  const int k_block = layout_k_block(config, layout);
  const std::vector<int> splits = float16_activations(config) ? std::vector<int>{1, 2, 4, 8} : std::vector<int>{1};
  const std::vector<int> stages = takes_activations_ahead(config, layout) ? std::vector<int>{1, 2} : std::vector<int>{1};
  // Zero points' 16-row tiles also with the default's launch bound (bound_zero_point_blocks).
  auto add_bounded_twin = [&](const TileSchedule& s) {
    TileSchedule bounded = s;
    bound_zero_point_blocks(config, bounded);
    if (bounded.launch.blocks_per_sm != s.launch.blocks_per_sm) out.push_back(bounded);
  };
  // Up to 8 rows unsplit (fp16 / bf16), also with four rounds a step of the k-loop, as
  // unroll_rounds_where_they_pay gives some of them: the model does not tell them apart, timing does.
  constexpr int kUnrolledRounds = 4;
  auto add_unrolled_twin = [&](const TileSchedule& s) {
    if (!float16_activations(config) || s.tile.m > 8 || s.pipeline.split_k != 1) return;
    TileSchedule unrolled = s;
    unrolled.pipeline.k_per_stage = kUnrolledRounds * s.pipeline.k_per_round;
    out.push_back(unrolled);
  };
  for (int threads : {64, 128, 256})
    for (int block_m : {8, 16})
      for (int block_n : {16, 32, 48, 64})
        for (int blocks_k : {1, 2, 4, 8})
          for (int split_k : splits)
            for (int stage_count : stages) {
              TileSchedule s;
              s.family = KernelFamily::tensor_gemv;
              s.warps = {.m = 1, .n = 1, .k = threads / 32};
              s.tile.m = block_m;
              s.tile.n = block_n;
              s.pipeline.k_per_round = blocks_k * k_block;
              s.pipeline.vector_bytes = layout.load_bytes;
              s.pipeline.split_k = split_k;
              s.pipeline.stages = stage_count;
              out.push_back(s);
              add_bounded_twin(s);
              add_unrolled_twin(s);
            }
}

void tensor_gemv_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string&, KernelFootprint& f) {
  const double m_tiles = s.tile.m > 8 ? 2 : 1, n_tiles = s.tile.n / 16.0;
  // The activations a k-block ahead hold a k-block's 16-byte quads per row half in registers (int4:
  // 16 a row half; NVRTC for sm_90a: 71 -> 96 at one row, 127 -> 159 at 16).
  const bool ahead = s.pipeline.stages == 2;
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  const int quads = ahead && layout ? layout->codes_per_load(info(config.W_dtype).bits) / 8 : 0;
  f.registers = 96 + 4 * quads * int(m_tiles);
  f.instructions_per_mma = (m_tiles * n_tiles + 16 * n_tiles + 4) / (m_tiles * n_tiles);
}

// The pair table, the warps' sums (4 bytes x 4 accumulators x 32 lanes per 16-channel tile and row
// half of each warp; none with one warp, whose sums never meet) and split-K's arrival counter.
int tensor_gemv_static_shared_bytes(const MatmulConfig& config, const TileSchedule& s) {
  const int warps = s.warps.k, row_halves = s.tile.m > 8 ? 2 : 1, tiles = s.tile.n / 16;
  const int warp_sums = warps > 1 ? warps * tiles * row_halves * 4 * 32 * 4 : 0;
  return pair_table_bytes(config) + warp_sums + (s.pipeline.split_k > 1 ? 4 : 0);
}

std::vector<PlanConstant> tensor_gemv_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string&) {
  const MmaRunLayout layout = *mma_run_layout(config);
  const int block = layout_k_block(config, layout);
  return {
      {"int", "kThreads", std::to_string(block_threads(s)), std::to_string(s.warps.k) + " warps splitting K"},
      {"int", "kBlockM", std::to_string(s.tile.m), s.tile.m > 8 ? "rows of C per block: two mmas per 16 channels"
                                                               : "rows of C per block: one mma per 16 channels"},
      {"int", "kBlockN", std::to_string(s.tile.n), std::to_string(s.tile.n / 16) + " 16-channel mma tile(s) per warp"},
      {"int", "kLoadBytes", std::to_string(s.pipeline.vector_bytes),
       "bytes of packed W per lane per load (mma_runs layout)"},
      {"int", "kRun", std::to_string(layout.run), "consecutive k per lane per run (" +
                                                      std::string(to_string(family_weight_layout(config, s.family))) +
                                                      " layout)"},
      channel_tiles_constant(layout),
      {"int", "kUnroll", std::to_string(s.pipeline.k_per_round / block),
       "k-blocks of " + std::to_string(block) + " per warp per round: loads in flight per tile"},
      {"int", "kSplitK", std::to_string(s.pipeline.split_k),
       s.pipeline.split_k > 1 ? "slices of K on blockIdx.z, summed by the last" : "K in one slice"},
      {"bool", "kActivationsAhead", s.pipeline.stages == 2 ? "true" : "false",
       s.pipeline.stages == 2 ? "the next k-block's activations loaded during this one"
                              : "each k-block's activations loaded as it starts"},
      {"int", "kRoundsPerStep", std::to_string(rounds_per_step(s.pipeline)),
       rounds_per_step(s.pipeline) > 1 ? "rounds a step of the k-loop (unrolled)" : "a round a step of the k-loop"},
  };
}

// A as the kernel loads it: 16-byte quads (two mma steps' fragments) where fp16 / bf16 activations
// meet runs of 8 k or more, else 8-byte fragments (runs of 4; the 8-bit kernel's byte operands); W in
// the layout's loads. (Asking 8 bytes of every A let an A 8 bytes past a 16-byte boundary reach the
// 16-byte loads: a misaligned-address fault on the GPU instead of Matmul::run's error.)
std::array<int, 6> tensor_gemv_alignment(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  return operand_alignment(config, layout && loads_activation_quads(config, *layout) ? 16 : 8, s.pipeline.vector_bytes);
}

PlanStage tensor_gemv_load_stage(const MatmulConfig& config, const TileSchedule& s, int codes) {
  return {"load W", std::to_string(s.pipeline.vector_bytes) + "-byte loads per lane (" + std::to_string(codes) + " " +
                        std::string(info(config.W_dtype).name) + " codes) from 2 channels x " +
                        std::to_string(s.tile.n / 16) + " tile(s) x " +
                        std::to_string(s.pipeline.k_per_round / (4 * codes)) +
                        " k-block(s) per round, the next round in flight"};
}

PlanStage tensor_gemv_epilogue_stage(const MatmulConfig& config, const TileSchedule& s) {
  const int split_k = s.pipeline.split_k;
  const std::string slices = split_k > 1 ? std::to_string(split_k) + " slices of K added in slice order by the "
                                                                     "last to finish (float32 workspace), "
                                         : "";
  return {"epilogue", "warps' sums added in shared memory, " + slices + std::string(config.with_bias ? "bias, " : "") +
                          "cast to " + std::string(to_string(config.out_dtype))};
}

std::vector<PlanStage> tensor_gemv_16bit_stages(const MatmulConfig& config, const TileSchedule& s) {
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
  // Runs of 8 k or more: one 16-byte load covers two mma steps' fragments (kernels/tensor_gemv.cuh).
  const std::string a_loads = layout.run % 8 == 0 ? "16-byte loads (two mma steps' fragments)" : "8-byte fragment loads";
  return {
      tensor_gemv_load_stage(config, s, codes),
      {"dequant", "two codes at a time: " + decode},
      {"load A", a_loads + " from global memory (cached), " + std::to_string(s.tile.m) + " rows, shared by the tiles" +
                     (s.pipeline.stages == 2 ? ", the next k-block's in flight" : "")},
      {"multiply-accumulate", "mma.sync m16n8k16 (weights as the 16-row operand), float32 accumulation; " + scaling},
      tensor_gemv_epilogue_stage(config, s),
  };
}

}  // namespace families

namespace {

// The two entry points differ in the activations they take, their source and their stages' description.
constexpr KernelTraits tensor_gemv_kernel(bool (*takes)(const MatmulConfig&), const char* header, const char* function,
                                          std::vector<PlanStage> (*stages)(const MatmulConfig&, const TileSchedule&)) {
  return {
      .family = KernelFamily::tensor_gemv,
      .takes = takes,
      .header = header,
      .function = function,
      .groups_wgmmas = false,
      .tensor_maps = false,
      .programmatic_launch = false,
      .validate = families::validate_tensor_gemv,
      .default_for = families::default_tensor_gemv,
      .add_candidates = families::add_tensor_gemv_candidates,
      .footprint = families::tensor_gemv_footprint,
      .static_shared_bytes = families::tensor_gemv_static_shared_bytes,
      .dynamic_shared_bytes = families::no_shared_bytes,
      .tiles = families::tensor_gemv_tiles,
      .stages = stages,
      .alignment = families::tensor_gemv_alignment,
      .launch = families::staged_launch,  // no ring (no dynamic shared memory), the split-K workspace
      .tma_tensors = nullptr,
  };
}

}  // namespace

const KernelTraits kTensorGemvKernel = tensor_gemv_kernel(float16_activations, "bitjit/kernels/tensor_gemv.cuh",
                                                          "bitjit::tensor_gemv", families::tensor_gemv_16bit_stages);
// int8 and fp8 activations: what kTensorGemvKernel leaves.
const KernelTraits kTensorGemv8bitKernel = tensor_gemv_kernel(nullptr, "bitjit/kernels/tensor_gemv_8bit.cuh",
                                                              "bitjit::tensor_gemv_8bit", families::tensor_gemv_8bit_stages);

}  // namespace bitjit
