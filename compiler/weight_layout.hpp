#pragma once
// How the packed weight lies in memory for the kernels of a (config, arch). Decided by the config and
// the arch only, never by a tuned schedule, so tuning never repacks a user's weights; the one
// exception is an explicit tensor_wgmma schedule (chosen only by hand), which reads the fragment
// order below.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compiler/config.hpp"

namespace bitjit {

enum class WeightLayout {
  general,   // general_compress order: row n of W holds K codes packed LSB-first along K
  mma_runs,  // the tensor-core layout below: k-blocks cut into per-lane runs, pairs split in words
  mma_fragments,  // mma_runs with runs of 2 k: each 16-k step's codes in the mma fragment's k order
};

std::string_view to_string(WeightLayout layout);
WeightLayout weight_layout(const MatmulConfig& config, const std::string& arch);

// The mma_runs layout (read by the tensor_gemv family). Each row of W is cut into k-blocks of
// 4 * codes_per_load codes; lane t (0..3) of an mma quad loads load_bytes of them at byte offset
// t * load_bytes, its position i holding
//     k = 4 * run * (i / run) + run * t + i % run          (relative to the block's first k),
// so an mma step (four lanes x step_codes positions) never crosses a scale group. Inside each
// 32-bit word, with fp16/bf16 activations (m16n8k16 steps of 4 codes per lane), the integer
// formats and fp4 store element pairs 16 bits apart ("split" order: field p holds element 2p, field
// P/2 + p element 2p + 1, P fields per word) for the magic-number conversion and fp4's bit placement,
// and the other formats keep natural order; with int8 activations (m16n8k32 steps of 8 codes per lane) sub-byte codes lie in
// "byte lanes": element 4s + j of a word is field s + j * (8 / bits), so one shift and one mask
// give four consecutive codes as bytes. With fp8 activations (m16n8k32 steps too; weights of the
// same fp8 type, int4, uint4 or fp4) each run is a whole load and nothing moves, so the layout is
// general_compress's order itself.
struct MmaRunLayout {
  int load_bytes = 16;  // 4, 8 or 16
  int run = 32;         // consecutive k per lane per run: a power of two dividing codes_per_load, >= step_codes
                        // (2 in the mma_fragments layout)
  int step_codes = 4;   // k per lane per mma step: 4 (m16n8k16, 16-bit A) or 8 (m16n8k32, 8-bit A)
  bool split_pairs = false;
  bool byte_lanes = false;
  // Where the k-blocks lie: false, each row of W whole (row n from byte n * K * bits / 8 on); true,
  // channels in tiles of 16, the tile's k-block b being 16 pieces of k_block codes, channel n's piece
  // at byte
  //     (n / 16) * 16 * row_bytes + (b * 16 + n % 16) * piece_bytes,   piece_bytes = 4 * load_bytes,
  // so that one warp load of tensor_gemv (two channels a lane, 16 channels a tile) asks for 512
  // consecutive bytes instead of 64 bytes from each of eight rows. mma_run_layout sets it where a
  // bucket (the smallest) has at most 16 rows, so that tensor_gemv serves it, N is a multiple of 16,
  // the activations are not fp8 (whose weights keep general_compress's bytes) and the weights not
  // 16-bit (a plain [N, K] tensor of them runs as it is). Measured on the H200
  // (bench/results/2026-12-01-h200-channel-tiles): tensor_gemv's warp loads as 512 consecutive bytes
  // took 0.82-0.97 of the time of whole rows on the suite's int4 and packed-zero shapes at 1 to 16
  // rows. The staged families copy the same pieces into their stages (one TMA box of 16 channels x
  // tiles, or cp.async chunks), so their shared-memory stages are as before: a dynamic M's larger
  // buckets read the same copy.
  bool channel_tiles = false;
  int codes_per_load(int bits) const { return load_bytes * 8 / bits; }
  int k_block(int bits) const { return 4 * codes_per_load(bits); }  // k per k-block: four lanes' loads
};

// Channels a tile of the channel_tiles order.
inline constexpr int kLayoutChannelTile = 16;

// The mma_runs parameters when the tensor_gemv family can serve the config (fp16/bf16 A with float
// accumulation and W exactly representable in A's type or nf4, int8 A with integer W, or fp8 A with
// W of the same fp8 type, int4, uint4 or fp4; K and the groups divisible into runs); nullopt
// otherwise. Whether the arch has the mma for the types is the schedule's question (fp8: sm_89 and
// newer). Defined with the selection policy in compiler/families/select.cpp.
std::optional<MmaRunLayout> mma_run_layout(const MatmulConfig& config);

// Whether the layout moves any code from where general_compress put it (false: the same bytes, so
// the families reading the general layout read these weights too).
bool reorders_weights(const MatmulConfig& config, const MmaRunLayout& layout);

// The mma_runs parameters of the mma_fragments layout (tensor_wgmma): those of mma_run_layout with
// runs of 2, so lane t's codes of each 16-k step are k 2t, 2t + 1, 2t + 8, 2t + 9, the slots of
// the m16n8k16 (and wgmma) A fragment, and the activations can be read in their natural k order.
// fp16/bf16 activations only; nullopt where mma_run_layout is, or for int8 activations.
std::optional<MmaRunLayout> fragment_order_layout(const MatmulConfig& config);

// The most rows of a bucket that the default schedules give tensor_gemv (its blocks: one or two mma
// row halves of 8) with the tensor-core layout; the layouts (channel tiles, wgmma_layout's runs of 8)
// follow whether a config has such a bucket.
inline constexpr int64_t kMostGemvRows = 16;

// The layout the Hopper families (tensor_wgmma, tensor_wgmma_ws) read for this config. Where a
// bucket of at most kMostGemvRows rows takes tensor_gemv (a dynamic M from 1, or a static M of 9 to 16) and
// the weights have at most 4 bits in runs of 8 k, mma_run_layout itself: the Hopper kernels decode
// each lane's fragment-order pairs from its quad's four loads (templates/bitjit/decode/quad_runs.cuh),
// so one copy of the weights serves every bucket. W4A8 configs (w4a8_operands): w4a8_layout (the
// 8-bit wgmma kernel, templates/bitjit/kernels/tensor_wgmma_w4a8.cuh). Else fragment_order_layout.
std::optional<MmaRunLayout> wgmma_layout(const MatmulConfig& config);
// The layout both W4A8 kernels (tensor_wgmma_w4a8, tensor_gemm_w4a8) read: mma_run_layout where the
// config is W4A8 (w4a8_operands) and its runs hold whole 32-k steps of 16-byte loads; else none.
std::optional<MmaRunLayout> w4a8_layout(const MatmulConfig& config);

// general_compress's bytes of W [N, K] rearranged into the mma_runs layout, and back.
std::vector<uint8_t> to_mma_runs(std::span<const uint8_t> general, const MatmulConfig& config, const MmaRunLayout& layout);
std::vector<uint8_t> from_mma_runs(std::span<const uint8_t> runs, const MatmulConfig& config, const MmaRunLayout& layout);

}  // namespace bitjit
