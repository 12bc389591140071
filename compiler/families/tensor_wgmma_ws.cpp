#include "compiler/families/tensor_wgmma_ws.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/tensor_gemm.hpp"
#include "compiler/families/tensor_wgmma.hpp"

namespace bitjit {

TileSchedule warp_specialized(TileSchedule s, int raster_group) {
  s.family = KernelFamily::tensor_wgmma_ws;
  s.warps = families::warpgroup_warps(s);
  s.launch.raster_group = raster_group;
  return s;
}

int blocks_on_sm(const TileSchedule& s) { return std::max(1, s.launch.blocks_per_sm); }

// The shared memory the driver keeps for each block on an SM.
constexpr int kDriverBytesPerBlock = 1024;

// The shared memory (dynamic and static) one of `blocks` blocks an SM may use: the SM's share of
// each, less the driver's, and never past the per-block limit.
int shared_bytes_of_block(const std::string& arch, int blocks) {
  const ArchInfo& target = arch_info(arch);
  if (blocks == 1) return target.shared_bytes_per_block;
  return std::min(target.shared_bytes_per_block, target.shared_bytes_per_sm / blocks - kDriverBytesPerBlock);
}

WarpSpecializedRegisters warp_specialized_registers(const TileSchedule& s, const std::string& arch) {
  const ArchInfo& target = arch_info(arch);
  WarpSpecializedRegisters r;
  const int threads = block_threads(s), consumers = threads - 128;
  r.per_thread = std::min(target.max_registers_per_thread, target.registers_per_sm / blocks_on_sm(s) / threads / 8 * 8);
  const int consumer = std::min(240, (r.per_thread * threads - r.producer * 128) / consumers / 8 * 8);
  if (consumer > r.per_thread && r.per_thread < target.max_registers_per_thread) r.consumer = consumer;
  return r;
}

// The tiles of `tiles` tensor_wgmma_ws shares out by k-stages (stream-K) rather than whole: none where
// whole tiles fill the last wave; else, with 64-row tiles (few rows: the kernel streams the weights,
// and an idle SM is bandwidth lost), the last partial wave and one full wave before it, so that every
// block's share is one to two tiles long. Tiles of more rows stay whole unless they would keep fewer
// than half the SMs busy: sharing them out measured slower than leaving SMs idle with 108 and 128
// tiles on 132 SMs (bench/results/2026-11-27-h100-stream-k), but 64 tiles (8B o and down at 256 rows)
// leave 68 SMs idle, the whole tile's time over again: shared, they took 0.80x and 0.71x the time on
// the H200 (bench/results/2026-11-30-h200-branches). Between one and two waves the same holds for
// the second: one at most half full (70B qkv at 256 rows: 160 tiles of 128 x 128, a second wave of
// 28) is shared out with the first (H200, graph-timed: W8A8 fp8 65.1 -> 53.4 us, W4A8 100.1 -> 70.9,
// int8 54.3 -> 51.9); past two waves the idle part of the last one is a smaller share of the time,
// and sharing it measured 0.94-1.08 (3.4 waves at 256 rows, 8B and 70B gate_up) and 0.95-1.07 (27
// to 54 waves at 4096 rows) of the whole tiles' time (bench/results/2026-12-01-h200-fp8-tiles).
int64_t stream_k_tiles(int64_t tiles, int block_m, int multiprocessors) {
  const int64_t last_wave = tiles % multiprocessors;
  if (last_wave == 0) return 0;
  if (block_m > 64 && (tiles > 2 * multiprocessors || 2 * last_wave > multiprocessors)) return 0;
  return std::min(tiles, last_wave + multiprocessors);
}

// The blocks an SM of the 64-row default where one consumer warpgroup takes 64 channels.
constexpr int kBlocksAtFewRows = 2;
// The rows of the tiles for buckets of 17 to 32 rows (m64n32k16).
constexpr int kFewRowsTile = 32;
// The blocks an SM of 32 x 64 tiles where a layer has more channels than k (few_row_tiles), and the
// stages of each block's ring there, as timed (three blocks' shares of shared memory hold up to 6).
constexpr int kBlocksAtFewRowsWide = 3;
constexpr int kStagesAtFewRowsWide = 4;

namespace families {

// launch.cluster_n: 1, or 2 (a pair of blocks on the same rows, channel blocks side by side, each
// loading half of the activation rows for both: tile.m / 2 rows, whole 8-row swizzle atoms).
void validate_block_pairs(const TileSchedule& s) {
  const int cluster = s.launch.cluster_n;
  if (cluster != 1 && cluster != 2) {
    reject_schedule("launch.cluster_n=" + std::to_string(cluster) + " must be 1 (no cluster) or 2 (pairs of blocks "
                    "sharing the activation boxes)");
  }
  if (s.tile.m / cluster % 8 != 0) {
    reject_schedule("launch.cluster_n=" + std::to_string(cluster) + " with tile.m=" + std::to_string(s.tile.m) +
                    ": each block of a pair loads tile.m / 2 activation rows, which must be a multiple of 8 (the "
                    "128-byte swizzle's atom)");
  }
}

// launch.blocks_per_sm above 1: blocks share each SM, each with its share of the registers
// (warp_specialized_registers) and of the shared memory (the driver keeps 1 KiB a block), as blocks
// alone: not paired.
void validate_blocks_on_sm(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const int blocks = blocks_on_sm(s);
  if (blocks == 1) return;
  if (s.launch.cluster_n != 1) {
    reject_schedule("launch.blocks_per_sm=" + std::to_string(blocks) + " with launch.cluster_n=" +
                    std::to_string(s.launch.cluster_n) + ": pairs of blocks run one block an SM; launch.blocks_per_sm=0");
  }
  const int per_block = dynamic_shared_bytes(config, s) + static_shared_bytes(config, s, arch);
  if (per_block > shared_bytes_of_block(arch, blocks)) {
    reject_schedule("launch.blocks_per_sm=" + std::to_string(blocks) + ": each block needs " +
                    std::to_string(per_block + kDriverBytesPerBlock) + " bytes of shared memory (its ring, static memory and the "
                    "driver's 1 KiB), " + arch + " has " + std::to_string(arch_info(arch).shared_bytes_per_sm) +
                    " an SM: fewer pipeline.stages or a smaller tile");
  }
}

void require_one_block_on_sm(const TileSchedule& s, const char* kernel) {
  if (blocks_on_sm(s) == 1) return;
  reject_schedule("launch.blocks_per_sm=" + std::to_string(s.launch.blocks_per_sm) + ": tensor_wgmma_ws's " + kernel +
                  " kernel runs one block an SM (only the kernel decoding weights for fp16 / bf16 activations runs "
                  "several); launch.blocks_per_sm=0");
}

void validate_warp_specialized(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int sums,
                               int other_registers, WgmmaRows rows) {
  if (config.K % 8 != 0) {
    reject_schedule("family=tensor_wgmma_ws loads activation rows by TMA, which needs rows of a multiple of 16 bytes: "
                    "K divisible by 8, got " + std::to_string(config.K));
  }
  if (config.K * int64_t(info(config.W_dtype).bits) / 8 % 16 != 0) {
    reject_schedule("family=tensor_wgmma_ws loads weight rows by TMA, which needs rows of a multiple of 16 bytes: K * " +
                    std::to_string(info(config.W_dtype).bits) + " / 8 divisible by 16, got K=" + std::to_string(config.K));
  }
  validate_wgmma_tile(config, s, rows);
  require_warpgroup_warps(s);  // the consumer warps; the producer warpgroup comes besides
  validate_blocks_per_sm(s, arch);  // the range, before the registers it leaves a consumer
  const WarpSpecializedRegisters budget = warp_specialized_registers(s, arch);
  const int registers = budget.consumer > 0 ? budget.consumer : budget.per_thread, needed = sums + other_registers;
  if (registers < needed) {
    const int blocks = blocks_on_sm(s);
    reject_schedule("tile.m=" + std::to_string(s.tile.m) + " with tile.n=" + std::to_string(s.tile.n) + ": " +
                    std::to_string(block_threads(s)) + " threads" +
                    (blocks > 1 ? " in each of launch.blocks_per_sm=" + std::to_string(blocks) + " blocks an SM" : "") +
                    " get " + std::to_string(registers) + " registers each, the " + std::to_string(sums) +
                    " sums of a consumer thread need about " + std::to_string(needed) + "; a smaller tile.m or tile.n" +
                    (blocks > 1 ? ", or fewer blocks an SM" : ""));
  }
  require_raster_group(s);
  validate_blocks_on_sm(config, s, arch);
  if (s.pipeline.split_k != 1) {
    reject_schedule("pipeline.split_k=" + std::to_string(s.pipeline.split_k) + ": tensor_wgmma_ws takes "
                    "pipeline.split_k=1 (its persistent grid keeps every SM busy over the output tiles); use "
                    "family=tensor_wgmma to split K");
  }
}

// The tile rows the candidates try: tiles of 16 and 32 rows where the bucket has at most 32 (the
// default from 17 rows: default_tensor_wgmma_ws), then the Hopper kernels' own.
std::vector<int> candidate_tile_rows(int64_t rows) {
  if (rows <= kFewRowsTile) return {16, 32, 64, 128, 192, 256};
  return {64, 128, 192, 256};
}

// tensor_wgmma's tiles plus a producer warpgroup, unsplit (its grid is persistent), half, once and
// twice the base's k per stage (the default's may be either), tile orders of 1, 8 or 16 row blocks.
void add_tensor_wgmma_ws_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                                    std::vector<TileSchedule>& out) {
  const TileSchedule base = hopper_candidate_base(config, fallback);
  for (int block_m : candidate_tile_rows(rows))  // 16 and 32: the decoding kernel only; 192: W8A8 only (validation)
    for (int block_n : {64, 128, 192, 256})
      for (int stages : {2, 3, 4, 5, 6})
        for (int k_per_stage : {base.pipeline.k_per_stage / 2, base.pipeline.k_per_stage, base.pipeline.k_per_stage * 2})
          for (int raster_group : {1, 8, 16}) {
            TileSchedule s = base;
            s.tile.m = block_m;
            s.tile.n = block_n;
            s.pipeline.stages = stages;
            s.pipeline.k_per_stage = k_per_stage;
            s.pipeline.split_k = 1;
            s.launch.cluster_n = 1;  // pairs: the W8A8 entry point's own candidates
            s.launch.blocks_per_sm = 0;
            out.push_back(warp_specialized(s, raster_group));
            // Tiles of one or two consumer warpgroups of at most 64 rows also as two blocks an SM, and
            // 32 x 64 tiles as three (the few-rows defaults).
            if (block_m <= 64 && (block_n == 64 || (block_m <= kFewRowsTile && block_n == 128))) {
              s.launch.blocks_per_sm = kBlocksAtFewRows;
              out.push_back(warp_specialized(s, raster_group));
            }
            if (block_m == kFewRowsTile && block_n == 64) {
              s.launch.blocks_per_sm = kBlocksAtFewRowsWide;
              out.push_back(warp_specialized(s, raster_group));
            }
          }
}

// The consumer warps do what tensor_wgmma's do, less the copies (~6 of the ~30 instructions per
// step); one producer thread issues a few TMA requests per stage. Registers: the launch's share
// (validation keeps the sums within what the consumers get).
void tensor_wgmma_ws_footprint(const MatmulConfig&, const TileSchedule& s, const std::string& arch, KernelFootprint& f) {
  const double mma_tiles = s.tile.m / 8.0;
  f.registers = warp_specialized_registers(s, arch).per_thread;
  f.instructions_per_mma = (1 + 24) / mma_tiles;
  f.pipe_share = wgmma_pipe_share(s.tile.m);
  f.stream_k = true;
}

int tensor_wgmma_ws_static_shared_bytes(const MatmulConfig& config, const TileSchedule& s) {
  constexpr int kBarriers = 2 * 8 * 8;  // a full and an empty mbarrier per stage, 8 stages at most
  return shared_before_aligned_ring(pair_table_bytes(config, families::hopper_pair_table_copies(s.tile.m)) + kBarriers);
}

// kThreads becomes the consumer warpgroups' (the block has a producer warpgroup more); the ring's
// barriers, the persistent grid's tile order and the registers the producer hands to the consumers.
std::vector<PlanConstant> warp_specialized_tiles(std::vector<PlanConstant> tiles, const TileSchedule& s,
                                                 const std::string& arch) {
  const int consumers = block_threads(s) - 128;
  for (PlanConstant& c : tiles) {
    if (c.name == "kThreads") {
      c.value = std::to_string(consumers);
      c.comment = std::to_string(consumers / 128) + " consumer warpgroups; the block adds a producer warpgroup";
    }
    if (c.name == "kStages") c.comment = "depth of the TMA ring in shared memory (a full and an empty barrier per stage)";
  }
  const WarpSpecializedRegisters registers = warp_specialized_registers(s, arch);
  tiles.push_back({"int", "kRasterGroup", std::to_string(s.launch.raster_group), "row blocks per group of the tile order"});
  tiles.push_back({"int", "kClusterN", std::to_string(s.launch.cluster_n),
                   s.launch.cluster_n > 1 ? "blocks of a cluster along N, sharing the activation boxes"
                                          : "no cluster"});
  tiles.push_back({"int", "kProducerRegisters", std::to_string(registers.producer), "per producer thread"});
  tiles.push_back({"int", "kConsumerRegisters", std::to_string(registers.consumer),
                   registers.consumer > 0 ? "per consumer thread, of the " + std::to_string(registers.per_thread) +
                                                " each thread gets at launch"
                                          : "the launch's " + std::to_string(registers.per_thread) + " kept"});
  return tiles;
}

// One block per SM at most (each holds its ring for the whole launch). Whole tiles go to the blocks
// in turn; where that leaves the last wave short (stream_k_tiles), the last tiles' k-stages are
// shared out evenly instead (templates/bitjit/kernels/tensor_wgmma_ws.cuh). Pairs of blocks
// (launch.cluster_n 2) take the pair's tiles of 2 x tile.n channels whole, one pair per two SMs, none
// shared out: both blocks of a pair must load the same stages.
LaunchShape persistent_launch(const KernelPlan& plan, int64_t M, int multiprocessors) {
  if (multiprocessors < 1) throw ConfigError("launch_shape: a persistent grid needs the GPU's multiprocessor count");
  const TileSchedule& s = plan.schedule;
  LaunchShape shape;
  shape.block = {uint32_t(block_threads(s)), 1, 1};
  shape.shared_bytes = uint32_t(dynamic_shared_bytes(plan.config, s));
  // The output tiles: a cluster's (cluster x tile.n channels) where blocks come in clusters.
  const int cluster = s.launch.cluster_n;
  const int64_t channels = int64_t(cluster) * s.tile.n;
  const int64_t tiles = (plan.config.N + channels - 1) / channels * ((M + s.tile.m - 1) / s.tile.m);
  if (cluster > 1) {
    const int64_t clusters = std::max<int64_t>(1, std::min<int64_t>(tiles, multiprocessors / cluster));
    shape.grid = {uint32_t(clusters * cluster), 1, 1};
    shape.cluster = uint32_t(cluster);
    return shape;
  }
  // Where blocks share an SM (launch.blocks_per_sm), the grid has a place for each.
  const int places = multiprocessors * blocks_on_sm(s);
  const int64_t k_stages = (plan.config.K + s.pipeline.k_per_stage - 1) / s.pipeline.k_per_stage;
  shape.stream_k_tiles = stream_k_tiles(tiles, s.tile.m, places);
  int64_t blocks = std::min<int64_t>(tiles, places);
  if (shape.stream_k_tiles == tiles) {  // fewer tiles than places: shares of kLeastStreamKShare stages at least
    const int64_t least_share = std::min<int64_t>(k_stages, kLeastStreamKShare);
    blocks = std::min<int64_t>(places, (tiles * k_stages + least_share - 1) / least_share);
  }
  shape.grid = {uint32_t(blocks), 1, 1};
  const int64_t units = shape.stream_k_tiles * k_stages;
  if (units > 0 && (units + blocks - 1) / blocks % k_stages != 0) {  // shares end inside tiles: pieces to add
    shape.workspace_bytes = blocks * 2 * s.tile.m * s.tile.n * 4;  // a first and a last piece per block
    shape.tile_counters = tiles * s.warps.n;                         // one per tile and consumer warp
  }
  return shape;
}

}  // namespace families

namespace {

void validate_tensor_wgmma_ws(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  families::require_capability(arch, &ArchInfo::has_wgmma, "tensor_wgmma_ws", "wgmma");
  families::require_capability(arch, &ArchInfo::has_tma, "tensor_wgmma_ws", "TMA");
  const MmaRunLayout layout = families::require_wgmma_layout(config, "tensor_wgmma_ws");
  // Each consumer thread keeps tile.m / 2 sums and about 72 registers besides where it decodes
  // (measured: 138 at 128 rows).
  families::validate_warp_specialized(config, s, arch, s.tile.m / 2, 72, families::WgmmaRows::also_few);
  families::validate_wgmma_group(config, s, layout);
  families::validate_ring(config, s, arch, layout, true);
}

// 256-row tiles at 185 to 256 rows (m64n256k16: each decoded fragment feeds every row, W decoded once
// instead of twice) where 256 x 128 tiles still make one and a half waves: fewer, larger tiles cost
// where they leave SMs idle. Measured on the H200, int4 g128 at 256 rows, 256 x 128 tiles on 3 stages
// against 128 x 128 on 5: 8B gate_up (224 such tiles) 108.4 -> 95.3 us (bench/results/2026-11-30-h200-
// tile-256) and, tuned on a dynamic M, 115.3 -> 95.3 (2026-11-30-h200x2-tuned-dynamic); 70B gate_up
// (448) 1.00 and 0.97; qkv and o (32 to 80 tiles) 1.13-1.36x slower, the down shapes 1.00-1.03. As
// this default (2026-11-30-h200x2-tall-tiles-256, static): int4, zeros as values or packed, bf16, nf4,
// fp4 at 8B gate_up 0.79-0.87 of the time, at 70B gate_up 0.88-0.95 but bf16 1.03.
// Below 193 rows (two 128-row tiles of rows anyway), 256 x 128 tiles over the default, int4 g128
// (2026-11-30-h200x2-tall-tiles-192 and -177): at 192 rows 8B gate_up 108.8 -> 93.3 us, 70B gate_up 365.7 ->
// 349.2 (uint4 zeros 0.85 and 0.95, bf16 0.86 and 0.98); at 177 rows 0.86-0.90 on 8B gate_up but
// 70B gate_up int4 and bf16 1.03 (160 rows: 0.93, 1.03): from 185 rows, half way between.
// Where shared memory leaves such tiles fewer than 3 stages (8-bit codes; int2's 256 k a stage) or
// refuses them, the 128-row tiles stay: not measured.
constexpr int kLeastTallStages = 3;
bool whole_tiles_of_256_rows(const MatmulConfig& config, int64_t sms, int64_t rows) {
  constexpr int64_t kFewestRows = 185, kChannels = 128;
  if (rows < kFewestRows || rows > 256) return false;
  return 2 * (config.N + kChannels - 1) / kChannels >= 3 * sms;
}

// The stages timed for tiles of 32 rows: 32 x 64 two blocks an SM 7, three blocks 4; 32 x 128 5.
int few_row_tile_stages(const TileSchedule& s) {
  if (s.tile.n != 64) return 5;
  return blocks_on_sm(s) == kBlocksAtFewRowsWide ? kStagesAtFewRowsWide : 7;
}

// The warp-specialized form of a tile: eight consumer warps, the measured stage counts where shared
// memory holds them. Nullopt where the family refuses it.
std::optional<TileSchedule> with_measured_stages(const MatmulConfig& config, const std::string& arch, TileSchedule s) {
  s = warp_specialized(s, 8);
  const int measured_stages = s.tile.m == kFewRowsTile ? few_row_tile_stages(s)
                              : s.tile.m == 64 ? (s.tile.n == 256 ? 4 : s.pipeline.k_per_stage == 256 ? 4 : s.tile.n == 64 ? 5 : 6)
                              : s.tile.m == 128 ? (s.tile.n == 128 ? 5 : 4)
                                                : s.pipeline.k_per_stage < 128 ? 4 : 3;
  const int budget = shared_bytes_of_block(arch, blocks_on_sm(s)) - static_shared_bytes(config, s, arch);
  const int stage_bytes = families::gemm_stage_bytes(config, s, *family_layout(config, s.family));
  s.pipeline.stages = std::min(measured_stages, budget / stage_bytes);
  if (!is_valid_schedule(config, s, arch)) return std::nullopt;
  return s;
}

// Two blocks an SM of one consumer warpgroup each, 64 x 64 tiles: at 64 rows a block waits on its
// stages' loads more than on its wgmmas, and two rings an SM keep twice the loads in flight. H200,
// graph-timed, 64 rows, over 64 x 128 tiles of 256 k a stage, one block an SM (bench/results/
// 2026-12-02-h200-two-blocks): int4 g128 8B qkv 16.6 -> 14.9 us, o 12.5 -> 11.0, gate_up 43.8 ->
// 40.5, down 24.0 -> 21.7, 70B qkv 33.6 -> 30.9, o 25.2 -> 22.8; uint4 + packed zeros 0.92-0.98; bf16
// activations 0.89-0.93, nf4 0.89-0.95, int8 per channel 0.88-1.04 (70B qkv). One block of 64 x 64
// took 1.13-2.04x; the layers of 2^27 weights or more keep 64 x 256 tiles (four consumer
// warpgroups): two blocks of 64 x 64 took 1.10-1.19x there. Nullopt where the ring of a block's
// share of shared memory holds fewer than two stages (1-bit codes' 512 k a stage).
std::optional<TileSchedule> two_blocks_at_few_rows(const MatmulConfig& config, const std::string& arch, TileSchedule s) {
  s.tile.n = 64;
  s.launch.blocks_per_sm = kBlocksAtFewRows;
  return with_measured_stages(config, arch, s);
}

// Tiles of 32 rows (m64n32k16) for buckets of 17 to 32 rows, two blocks an SM: a 64-row tile there
// multiplies as many padding rows as rows, and its activation boxes take half of each stage. H200,
// graph-timed, 32 rows, over the 64-row default (64 x 64 tiles of two blocks; 64 x 256 for 2^27
// weights or more) in one run (bench/results/2026-12-02-h200-few-row-tiles): 32 x 64 tiles of 7
// stages, int4 g128 8B qkv 16.7 -> 12.5 us, o 10.9 -> 9.6, gate_up 49.0 -> 33.6, down 30.3 -> 18.8,
// 70B qkv 41.8 -> 26.0, o 34.9 -> 19.6; uint4 + packed zeros 0.62-0.88 (as the default against main:
// int4, packed zeros, bf16, nf4, int8 per channel 0.56-0.96 on every shape). The layers of 2^27
// weights or more take 32 x 128 tiles of 5 stages: 70B gate_up 116.7 -> 105.0, down 66.5 -> 56.2
// (packed zeros 141.4 -> 130.5, 77.3 -> 69.5), where 32 x 64 tiles took 0.94-1.04. Three blocks of
// 32 x 64 on 4 stages split the shapes below 2^27 weights by channels against k, in the same run: they
// won every layer of more channels than k (int4 8B qkv 12.5 -> 11.6 us, gate_up 33.6 -> 32.4, 70B qkv
// 26.0 -> 25.2; packed zeros 14.8 -> 13.2, 43.9 -> 39.5, 32.8 -> 30.3) and lost the others (int4 8B o
// 9.6 -> 11.4, down 18.8 -> 21.1, 70B o 19.6 -> 21.5); likely because a layer of few k has many tiles
// of few stages each, so a third block's ring pays where a deeper one does not (not profiled). At 16 rows
// tiles of 16 rows took 1.03-1.6x tensor_gemv's time on all but one case (8B down on 5 stages of 256
// k: 0.98): tensor_gemv keeps 16 rows. Nullopt where a block's share of shared memory holds fewer than
// two stages.
std::optional<TileSchedule> few_row_tiles(const MatmulConfig& config, const std::string& arch, TileSchedule s,
                                          bool many_weights) {
  s.tile = {.m = kFewRowsTile, .n = many_weights ? 128 : 64};
  const bool more_channels_than_k = config.N > config.K;
  s.launch.blocks_per_sm = !many_weights && more_channels_than_k ? kBlocksAtFewRowsWide : kBlocksAtFewRows;
  return with_measured_stages(config, arch, s);
}

// Hand-set from H100 runs of the 70B int4 g128 shapes (bench/results/2026-11-27-h100-wgmma-ws and
// -stream-k): tensor_wgmma's rows per block, never split (a short last wave of 64-row tiles is shared
// out by stream-K instead); up to 32 rows tiles of 32 (few_row_tiles); at 64 rows 256 channels for at
// least 2^27 weights, else 64 channels, two blocks an SM; 128 or 192 channels between 65 and 256
// rows, whichever wastes less of the last wave (256 x 128 tiles from 185 rows where they make 1.5
// waves), 128 above; the measured stage counts (4 of 64 k at 256 rows, W8A16: H200), fewer where
// shared memory runs out; tiles in groups of 8 row blocks. Nullopt where the family does not take the
// config.
std::optional<TileSchedule> default_tensor_wgmma_ws(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  const std::optional<TileSchedule> unspecialized = families::default_tensor_wgmma_decoding(config, arch, rows);
  if (!unspecialized) return std::nullopt;
  const int64_t sms = arch_info(arch).reference.sm_count;
  const int64_t row_blocks = (rows + unspecialized->tile.m - 1) / unspecialized->tile.m;
  const auto tiles = [&](int block_n) { return (config.N + block_n - 1) / block_n * row_blocks; };
  // The fraction of the SMs' slots the last wave of one-per-SM tiles leaves busy, over all waves.
  const auto wave_efficiency = [&](int64_t count) { return double(count) / double((count + sms - 1) / sms * sms); };
  TileSchedule s = *unspecialized;
  s.pipeline.split_k = 1;
  const bool many_weights = config.N * config.K >= (int64_t(1) << 27);
  if (rows <= kFewRowsTile) {  // measured at 32 rows
    if (const std::optional<TileSchedule> few = few_row_tiles(config, arch, s, many_weights)) return few;
  }
  if (s.tile.m == 64 && !many_weights && rows <= 64) {  // measured at 64 rows only
    if (const std::optional<TileSchedule> two = two_blocks_at_few_rows(config, arch, s)) return two;
  }
  if (s.tile.m == 64) {
    s.tile.n = many_weights ? 256 : 128;
    if (!many_weights && 2 * s.pipeline.k_per_stage <= 256) s.pipeline.k_per_stage *= 2;
  } else if (s.tile.m == 128) {
    s.tile.n = wave_efficiency(tiles(192)) > wave_efficiency(tiles(128)) ? 192 : 128;
  } else {
    s.tile.n = 128;
  }
  if (s.tile.m == 128 && whole_tiles_of_256_rows(config, sms, rows)) {
    TileSchedule taller = s;
    taller.tile = {.m = 256, .n = 128};
    const std::optional<TileSchedule> tall = with_measured_stages(config, arch, taller);
    if (tall && tall->pipeline.stages >= kLeastTallStages) return tall;
  }
  return with_measured_stages(config, arch, s);
}

std::vector<PlanConstant> tensor_wgmma_ws_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  return families::warp_specialized_tiles(families::wgmma_tiles(config, s, arch), s, arch);
}

std::vector<PlanStage> tensor_wgmma_ws_stages(const MatmulConfig& config, const TileSchedule& s) {
  std::vector<PlanStage> stages = families::tensor_wgmma_stages(config, s);
  stages[0] = {"load W", "TMA boxes of one k-block's bytes x " + std::to_string(s.tile.n) + " channels, issued by a "
                             "producer warpgroup into a " + std::to_string(s.pipeline.stages) +
                             "-stage ring on mbarriers; each lane then reads its " +
                             std::to_string(s.pipeline.vector_bytes) + " bytes per k-block"};
  stages[2] = {"load A", "TMA boxes of 64 k x " + std::to_string(s.tile.m) + " rows in the 128-byte swizzle, by the "
                             "same producer into the same ring"};
  stages[3].detail += "; " + std::to_string(s.warps.n / 4) + " consumer warpgroups, each waiting on the "
                      "stage's barrier and freeing it when its wgmmas are done; a persistent grid walks the output tiles";
  if (s.launch.blocks_per_sm > 1) {
    stages[3].detail += ", " + std::to_string(s.launch.blocks_per_sm) + " blocks an SM (each with its share of the "
                        "registers and shared memory: more loads in flight)";
  }
  return stages;
}

// A: 64 k of 16-bit activations are one 128-byte swizzle atom wide (the kernel's SwizzledAtoms). W:
// one k-block of a channel is 4 lanes' loads, contiguous in both layouts the family reads.
std::array<TmaTensor, 2> tensor_wgmma_ws_tma_tensors(const KernelPlan& plan, int64_t M) {
  const MatmulConfig& config = plan.config;
  const TileSchedule& s = plan.schedule;
  const MmaRunLayout layout = *family_layout(config, s.family);
  const uint64_t row_bytes = uint64_t(config.K) * info(config.W_dtype).bits / 8;
  return {TmaTensor{"A", 2, uint64_t(config.K), uint64_t(M), 64, uint32_t(s.tile.m), TmaSwizzle::bytes128},
          TmaTensor{"W", 1, row_bytes, uint64_t(config.N), uint32_t(4 * layout.load_bytes), uint32_t(s.tile.n), TmaSwizzle::none,
                    layout.channel_tiles}};
}

}  // namespace

const KernelTraits kTensorWgmmaWsKernel = {
    .family = KernelFamily::tensor_wgmma_ws,
    .takes = nullptr,  // what the W8A8 and W4A8 entry points leave: weights decoded for fp16 / bf16 activations
    .header = "bitjit/kernels/tensor_wgmma_ws.cuh",
    .function = "bitjit::tensor_wgmma_ws",
    .groups_wgmmas = true,
    .tensor_maps = true,
    .programmatic_launch = true,
    .validate = validate_tensor_wgmma_ws,
    .default_for = default_tensor_wgmma_ws,
    .add_candidates = families::add_tensor_wgmma_ws_candidates,
    .footprint = families::tensor_wgmma_ws_footprint,
    .static_shared_bytes = families::tensor_wgmma_ws_static_shared_bytes,
    .dynamic_shared_bytes = families::decoding_ring_bytes,
    .tiles = tensor_wgmma_ws_tiles,
    .stages = tensor_wgmma_ws_stages,
    .alignment = families::sixteen_byte_alignment,  // TMA: 16-byte aligned tensors
    .launch = families::persistent_launch,
    .tma_tensors = tensor_wgmma_ws_tma_tensors,
};

}  // namespace bitjit
