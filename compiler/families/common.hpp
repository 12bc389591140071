#pragma once
// What several kernel families share on the host: validation's error, the load widths a weight row
// allows, the staged families' shared-memory ring (tensor_gemm, tensor_wgmma, tensor_wgmma_ws), the
// operands' pointer alignment and the grid of the families that tile C in blocks.
#include <array>
#include <cstdint>
#include <string>

#include "compiler/config.hpp"
#include "compiler/lower.hpp"
#include "compiler/schedule.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit::families {

// Throws ConfigError "invalid TileSchedule: <message>".
[[noreturn]] void reject_schedule(const std::string& message);

bool is_power_of_two(int value);
int64_t weight_row_bytes(const MatmulConfig& config);
// The widest load (up to 16 bytes) that divides a weight row, so every row starts aligned.
int widest_row_load(const MatmulConfig& config);

// The copies of nf4's pair table, as decode/weight_pairs.cuh counts them: one per lane (the small-M
// kernels and the Hopper families' narrower tiles), 8 in the Hopper families' 256-row tiles.
inline constexpr int kPairTableCopies = 32;
inline constexpr int kWideTilePairTableCopies = 8;
// Static shared memory of the pair table of nf4 with fp16 / bf16 activations in `copies` copies
// (decode/weight_pairs.cuh's kPairTableWords<copies> words); 0 for other configs.
int pair_table_bytes(const MatmulConfig& config, int copies = kPairTableCopies);
// The copies of the pair table in a Hopper family's kernel of `block_m` rows (decode/weight_pairs.cuh's
// kHopperPairTableCopies).
int hopper_pair_table_copies(int block_m);
// pair_table_bytes as a family row's static shared memory (the families whose only static table it is).
int pair_table_static_bytes(const MatmulConfig& config, const TileSchedule& s);

// ---- the staged families' ring --------------------------------------------------------------------

int layout_k_block(const MatmulConfig& config, const MmaRunLayout& layout);
// The kernels' kChannelTiles: where the layout's pieces lie (rows whole or channel tiles), which every
// family reading the mma_runs layouts takes from its plan (templates/bitjit/pipeline/weight_pieces.cuh).
PlanConstant channel_tiles_constant(const MmaRunLayout& layout);
// One stage of a decoding family's ring: tile.m rows of 16-bit activations and the block's k-blocks
// of packed weights, pipeline.k_per_stage long.
int gemm_stage_bytes(const MatmulConfig& config, const TileSchedule& s, const MmaRunLayout& layout);
// One stage of the W8A8 ring: tile.m activation rows and tile.n weight rows of k_per_stage bytes each.
int byte_rows_stage_bytes(const TileSchedule& s);
int64_t gemm_k_tiles(const MatmulConfig& config, const TileSchedule& s);
// stages x gemm_stage_bytes in the layout the family reads; 0 where it reads none.
int decoding_ring_bytes(const MatmulConfig& config, const TileSchedule& s);
// The ring (stages of stage_bytes, plus the static tables) against the arch's shared memory per block.
void require_shared_fits(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, int stage_bytes);
// A field the family has no use for holds its neutral value (TileSchedule's comments say which).
void require_unused(const TileSchedule& s, const char* field, int value, int neutral);
// launch.raster_group of a family that takes its tiles in PersistentTiles' raster order: 1..64.
void require_raster_group(const TileSchedule& s);
// The load width the config's mma_runs layout fixed (tuning never repacks W).
void require_layout_loads(const TileSchedule& s, const MmaRunLayout& layout);
// The knobs the decoding staged families share: k per stage, the ring's depth, the load width the
// layout fixed, and the ring's shared memory against the arch's limit; no k per round. The raster
// group must be 1 unless the family orders its tiles itself (raster_groups: tensor_wgmma_ws).
void validate_ring(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, const MmaRunLayout& layout,
                   bool raster_groups = false);
// Split-K of the staged families: slices of K's stages, summed through the workspace.
void validate_split_k(const MatmulConfig& config, const TileSchedule& s);

// ---- plans and launches ---------------------------------------------------------------------------

int element_alignment(DType dtype);
// Byte alignment of A, W, scales, zeros, bias and C pointers for a kernel that loads A and W in
// units of a_bytes and w_bytes; the other operands are read element by element.
std::array<int, 6> operand_alignment(const MatmulConfig& config, int a_bytes, int w_bytes);
// 16-byte copies of both operands (cp.async or TMA).
std::array<int, 6> sixteen_byte_alignment(const MatmulConfig& config, const TileSchedule& s);
// Tiles of C the grid covers for `rows` rows: one block each per slice of K.
int64_t tiles_of_c(const MatmulConfig& config, const TileSchedule::Tile& tile, int64_t rows);
// One block per tile of C, pipeline.split_k deep.
LaunchShape tiled_launch(const KernelPlan& plan, int64_t M, int multiprocessors);
// tiled_launch, with the ring's dynamic shared memory and split-K's workspace and tile counters.
LaunchShape staged_launch(const KernelPlan& plan, int64_t M, int multiprocessors);

}  // namespace bitjit::families
