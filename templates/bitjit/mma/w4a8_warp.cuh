#pragma once
// The warp of the W4A8 kernels: sub-byte weight codes decoded into the 8-bit tensor-core operand
// (W4a8Operands: int8 activations take the codes' values as bytes with int32 sums, fp8 activations
// the e4m3 bytes of 4-bit values with float32 sums), activations from the swizzled stage, the sums
// of each scale group (or, for fp8, of each stage's part of it) scaled into float32 sums.
// tensor_wgmma_w4a8 (sm_90a) issues each warpgroup's wgmma with the decoded bytes as its register
// operand; tensor_gemm_w4a8 (sm_80 and newer; fp8 from sm_89) gives the same registers, which are
// m16n8k32's A fragment too, to one mma.sync per 8 rows, the activations read by ldmatrix.
#include "bitjit/decode/dequant.cuh"  // Zeros
#include "bitjit/decode/wgmma_code_bytes.cuh"
#include "bitjit/mma/mma_sync.cuh"
#include "bitjit/mma/wgmma.cuh"
#include "bitjit/pipeline/swizzled_atoms.cuh"
#include "bitjit/pipeline/swizzled_pieces.cuh"
#include "bitjit/ptx/ldmatrix.cuh"

namespace bitjit {

// The sizes of tensor_wgmma_w4a8 (T: kThreads, kBlockM rows, kBlockN = 64 per warpgroup, kBlockK
// k per stage, kStages, kStoredRun: the layout's run R, at least 32).
template <class P, class T>
struct W4a8Tiling {
  using W = typename P::W;
  static constexpr int kCodesPerLoad = 16 * 8 / W::kBits;  // 16-byte loads
  static constexpr int kKBlock = 4 * kCodesPerLoad;
  static constexpr int kStageBlocks = T::kBlockK / kKBlock;
  static constexpr long long kBlocksK = P::K / kKBlock;
  static constexpr int kTilesK = int((kBlocksK + kStageBlocks - 1) / kStageBlocks);
  static constexpr int kSteps = T::kBlockK / 32;  // wgmma steps of 32 k per stage
  static constexpr int kStepsPerBlock = kKBlock / 32;
  static constexpr long long kGroupSize = P::K / P::kGroups;
  static constexpr int kGroupSteps = int(kGroupSize / 32);
  // A group of steps inside a stage, or whole stages inside a group (the host checks one of the two).
  static constexpr bool kGroupsInStage = kSteps % kGroupSteps == 0;
  static constexpr int kStageGroups = kGroupsInStage ? kSteps / kGroupSteps : 1;  // scale groups a stage touches
  static constexpr int kStagesPerGroup = kGroupsInStage ? 1 : kGroupSteps / kSteps;

  using ActivationTile = SwizzledAtoms<T::kBlockK / 16, T::kBlockM>;
  using Pieces = SwizzledPieces<T::kBlockN, kStageBlocks, T::kThreads, P::K * W::kBits / 8, kBlocksK, T::kChannelTiles>;
  static constexpr int kActivationChunks = T::kBlockM * T::kBlockK / 16;
  static constexpr int kStageChunks = kActivationChunks + Pieces::kChunks;

  static_assert(T::kStoredRun >= 32 && T::kStoredRun % 32 == 0, "each 32-k step inside one lane's run");
  static_assert(T::kBlockK % kKBlock == 0 && T::kBlockK % 128 == 0, "whole k-blocks and swizzle atoms per stage");
  static_assert(kGroupsInStage || kGroupSteps % kSteps == 0, "groups inside stages or stages inside groups");
  static_assert(kStageChunks % 64 == 0, "every stage starts 1024-byte aligned");
  static_assert(T::kBlockN % 64 == 0 && T::kThreads == 2 * T::kBlockN, "one warpgroup per 64 channels");
  static_assert(T::kBlockM == 64 || T::kBlockM == 128, "the int32 group sums and the float sums fit 128 rows");
};

// One warp's share of a block tile: 16 channels (g and g + 8 of its fragment rows) x kBlockM rows.
// kWgmma: the warpgroup's wgmma (sm_90a); else the warp's mma.sync m16n8k32, whose sums for rows
// 8j .. 8j + 7 lie in sums[4j .. 4j + 3] as wgmma's D fragment has them.
template <class P, class T, bool kWgmma>
struct W4a8Warp {
  using G = W4a8Tiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  static_assert((is_same<A, fmt::Int8>::value || is_same<A, fmt::Float8E4M3>::value || is_same<A, fmt::Float8E5M2>::value) &&
                    !is_same<typename P::Accum, int>::value,
                "int8 or fp8 activations, float32 sums");
  static_assert(P::kZerosMode == Zeros::none, "no zero points");
  using Bytes = typename W4a8Operands<A, W>::Bytes;
  using Sum = typename W4a8Operands<A, W>::Sum;
  // fp8 wgmma and mma add into their float32 sums with fewer fraction bits than float32 (see
  // kernels/tensor_wgmma_8bit.cuh), so fp8 sums go into d at least once a stage, as W8A8's do;
  // int32 sums are exact and go into d once a group, groups spanning stages included.
  static constexpr bool kSumsPerStage = !is_same<Sum, int>::value;
  static constexpr int kCodesPerWord = 32 / W::kBits;
  static constexpr int kSums = T::kBlockM / 2;

  const MatmulParams& params;
  int warp_channel;            // this warp's 16 channels in the block
  int lane_piece[2];           // byte offset of channel g (half 0) and g + 8 (half 1)'s piece in a k-block
  int source_chunk_key;        // channel / 2 % 4: the pieces' chunk swizzle (SwizzledPieces)
  int word_offset[2], shift[2];  // per k half (k 4t .. or 16 + 4t ..): the word in the run and the field's shift
  long long channel[2];        // this lane's channels (clamped into N) for the scale loads
  uint32_t next_codes[G::kStageGroups][2];  // the next stage's scale codes, loaded a stage early
  float stage_scales[G::kStageGroups][2];
  float group_scale[2];        // the scale (times 2^-kExponent) of the group the sums hold, per channel half
  Sum sums[kSums];             // the sums of the current scale group (fp8: of the stage's part of it)
  float d[kSums];
  uint32_t fragments[2][4];    // this step's and the step before's (its wgmma may still read them)

  __device__ __forceinline__ W4a8Warp(const MatmulParams& p, long long n_block) : params(p) {
    const int lane = int(threadIdx.x) % 32, g = lane / 4, t = lane % 4;
    warp_channel = int(threadIdx.x) / 32 * 16;
    source_chunk_key = (warp_channel + g) / 2 % 4;  // the same for g + 8
#pragma unroll
    for (int half = 0; half < 2; ++half) lane_piece[half] = (warp_channel + g + 8 * half) * G::Pieces::kPieceBytes;
#pragma unroll
    for (int k_half = 0; k_half < 2; ++k_half) {
      // k 16 * k_half + 4t .. + 3 of a step's 32 lie in one run: which word of it, which field of each byte.
      const int k = 16 * k_half + 4 * t;
      word_offset[k_half] = 4 * (k / kCodesPerWord);
      shift[k_half] = Bytes::shift_for(k % kCodesPerWord / 4);
    }
    start_tile(n_block);
  }

  // A new output tile of the block's channels n_block ..: its channels for the scale loads, sums
  // from zero (tensor_wgmma_ws_w4a8's blocks take several tiles).
  __device__ __forceinline__ void start_tile(long long n_block) {
    const int g = int(threadIdx.x) % 32 / 4;
#pragma unroll
    for (int half = 0; half < 2; ++half) channel[half] = min(n_block + warp_channel + g + 8 * half, P::N - 1);
#pragma unroll
    for (int i = 0; i < kSums; ++i) d[i] = 0.0f;
  }

  // Issues the loads of stage tile_k's scale codes (one per group the stage touches, per channel).
  __device__ __forceinline__ void load_stage_codes(int tile_k) {
#pragma unroll
    for (int group = 0; group < G::kStageGroups; ++group) {
      const long long index = min((long long)tile_k * G::kSteps / G::kGroupSteps + group, (long long)P::kGroups - 1);
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        next_codes[group][half] = 0u;
        if constexpr (P::kScaling) next_codes[group][half] = load_code<typename P::Scale>(params.scales, channel[half] * P::kGroups + index);
      }
    }
  }

  // One stage: per 32-k step this warp's fragment decoded from the stage's pieces and the
  // warpgroup's wgmma issued into the group's sums (afresh where a group starts, and for fp8 where
  // the stage starts), each wait leaving only the newest wgmma running; where a group ends (fp8: or
  // the stage), every wgmma is waited for and the sums are added into d, scaled. (Two sets of sums, one converted while the next group's first
  // wgmma runs, made ptxas serialize every wgmma of the kernel, C7513 / C7514: it does not follow
  // which group wait_group 1 leaves running.) next_tile_k: the stage whose scale codes to load meanwhile.
  // kSegments: the block multiplies stages k_begin .. k_end - 1 of the tile only (a stream-K share),
  // so a group cut by either end starts or ends there (the sums are linear in the group's products).
  template <bool kSegments = false>
  __device__ __forceinline__ void multiply_stage(const uint4* stage, int tile_k, int next_tile_k, int k_begin = 0,
                                                 int k_end = 0) {
    constexpr float kByteScale = 1.0f / float(1 << Bytes::kExponent);
#pragma unroll
    for (int group = 0; group < G::kStageGroups; ++group)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        stage_scales[group][half] = (P::kScaling ? P::Scale::decode(next_codes[group][half]) : 1.0f) * kByteScale;
    load_stage_codes(next_tile_k);
    // Where groups span stages, whether this stage starts the group and whether it ends it.
    const bool stage_starts_group = G::kGroupsInStage || tile_k % G::kStagesPerGroup == 0 || (kSegments && tile_k == k_begin);
    const bool stage_ends_group =
        G::kGroupsInStage || (tile_k + 1) % G::kStagesPerGroup == 0 || (kSegments && tile_k + 1 == k_end);
    const uint8_t* pieces = reinterpret_cast<const uint8_t*>(stage + G::kActivationChunks);
#pragma unroll
    for (int step = 0; step < G::kSteps; ++step) {
      const int block = step / G::kStepsPerBlock;
      if ((long long)tile_k * G::kStageBlocks + block >= G::kBlocksK) break;  // past K: the rest of the stage too
      decode_step(pieces, block, step % G::kStepsPerBlock, fragments[step % 2]);
      const bool starts_group = step % G::kGroupSteps == 0 && stage_starts_group;
      if (starts_group) {
#pragma unroll
        for (int half = 0; half < 2; ++half) group_scale[half] = stage_scales[G::kGroupsInStage ? step / G::kGroupSteps : 0][half];
      }
      issue_step(stage, step, !(starts_group || (kSumsPerStage && step == 0)));
      // K is whole groups, so the stage's last step inside K ends a group too.
      const bool ends_piece = step % G::kGroupSteps == G::kGroupSteps - 1 || step == G::kSteps - 1;
      if (ends_piece && (stage_ends_group || kSumsPerStage)) add_group_into_d();
      else if constexpr (kWgmma) wgmma_wait<1>();  // the step before's wgmma, which reads the other fragment
    }
  }

  // This lane's fragment of step `step` of k-block `block`: for each half of the 32 k and each of
  // its two channels, the word of the run holding them, as wgmma bytes.
  __device__ __forceinline__ void decode_step(const uint8_t* pieces, int block, int step, uint32_t (&fragment)[4]) const {
    // The step's first k inside the k-block: which lane's load (run) holds it, and its position there.
    const int k_first = 32 * step;
    const int runs_before = k_first / (4 * T::kStoredRun);  // whole rounds of four runs
    const int source = k_first % (4 * T::kStoredRun) / T::kStoredRun;
    const int position = T::kStoredRun * runs_before + k_first % T::kStoredRun;
    const int chunk_byte = 16 * (source ^ source_chunk_key) + 4 * (position / kCodesPerWord);
    const uint8_t* block_pieces = pieces + block * T::kBlockN * G::Pieces::kPieceBytes + chunk_byte;
#pragma unroll
    for (int k_half = 0; k_half < 2; ++k_half)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const uint32_t word = *reinterpret_cast<const uint32_t*>(block_pieces + lane_piece[half] + word_offset[k_half]);
        fragment[2 * k_half + half] = Bytes::bytes(word, shift[k_half]);
      }
  }

  // The warpgroup's wgmma, or the warp's mmas, of stage step `step` into the sums (afresh where a
  // group starts).
  __device__ __forceinline__ void issue_step(const uint4* stage, int step, bool accumulate) {
    if constexpr (kWgmma) {
      wgmma_fence_accumulators(sums);
      wgmma_fence();  // the fragment's registers were just written
      const uint64_t activations = G::ActivationTile::descriptor(stage, 0, 32 * step);
      if constexpr (kSumsPerStage) wgmma_64xNx32_rs_fp8<A, T::kBlockM>(sums, fragments[step % 2], activations, accumulate);
      else wgmma_64xNx32_rs_int8<Bytes::kUnsigned, T::kBlockM>(sums, fragments[step % 2], activations, accumulate);
      wgmma_commit();
    } else {
      mma_step(stage, step, accumulate);
    }
  }

  // m16n8k32 per 8 rows: each ldmatrix.x4 reads 16 rows' 32 k of the step (lanes 8i .. 8i + 7 give
  // matrix i's rows: rows 0-7 then 8-15, each at the step's two 16-byte chunks), the operands of two
  // 8-row mmas.
  __device__ __forceinline__ void mma_step(const uint4* stage, int step, bool accumulate) {
    if (!accumulate) {
#pragma unroll
      for (int i = 0; i < kSums; ++i) sums[i] = Sum(0);
    }
    const int lane = int(threadIdx.x) % 32, matrix = lane / 8;
    const int chunk = 2 * step + matrix % 2;
#pragma unroll
    for (int j = 0; j < T::kBlockM / 16; ++j) {
      uint32_t rows[4];
      ldmatrix_x4(rows, stage + G::ActivationTile::index(16 * j + 8 * (matrix / 2) + lane % 8, chunk));
      mma_8_rows(row_sums(2 * j), fragments[step % 2], rows[0], rows[1]);
      mma_8_rows(row_sums(2 * j + 1), fragments[step % 2], rows[2], rows[3]);
    }
  }

  __device__ __forceinline__ static void mma_8_rows(Sum (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (kSumsPerStage) ByteMma<fmt::Float8E4M3, A>::multiply(c, a, b0, b1);  // e4m3 weight bytes
    else mma_16x8x32_int8<Bytes::kUnsigned>(c, a, b0, b1);
  }

  // The sums of rows 8j .. 8j + 7 (an m16n8 tile's C fragment).
  __device__ __forceinline__ Sum (&row_sums(int j))[4] { return *reinterpret_cast<Sum(*)[4]>(sums + 4 * j); }

  // Waits for the group's wgmmas, then d += sums (int32: exact) x the group's scale: D's fragment
  // holds channel g in d[4j + 0, 1] and channel g + 8 in d[4j + 2, 3].
  __device__ __forceinline__ void add_group_into_d() {
    if constexpr (kWgmma) {
      wgmma_wait<0>();
      wgmma_fence_accumulators(sums);
    }
#pragma unroll
    for (int i = 0; i < kSums; ++i) d[i] = fmaf(float(sums[i]), group_scale[i % 4 / 2], d[i]);
  }

  // After the last stage: the last group was added where it ended; nothing may still run.
  __device__ __forceinline__ void finish() {
    if constexpr (kWgmma) wgmma_wait<0>();
  }
};

}  // namespace bitjit
