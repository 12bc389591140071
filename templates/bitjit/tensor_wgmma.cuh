#pragma once
// The tensor_wgmma family (sm_90a; from 64 rows the default where K is split in slices,
// tensor_wgmma_ws elsewhere): fp16 / bf16 activations, for many rows on Hopper, where mma.sync
// cannot reach the tensor cores' peak (docs/performance.md). The block's threads form kThreads /
// 128 warpgroups; warpgroup w owns output channels 64w .. 64w + 63, and each of its wgmma
// instructions computes those 64 channels for all kBlockM rows of the block
// over 16 k: D[64, kBlockM] += Wdec[64, 16] * A[kBlockM, 16]^T, with the decoded weights as the A
// operand straight from registers and the activations as B from the cp.async ring.
//
// The weights are in the mma_fragments layout (mma_runs with runs of 2 k, weight_layout.hpp): lane
// t's 4 codes of each 16-k step are k 2t, 2t + 1, 2t + 8, 2t + 9, so decode_operand's pairs are the
// wgmma A fragment in wgmma's own k order, and the activations are staged unpermuted, by 16-byte
// copies of whole rows into the 128-byte swizzle (SwizzledAtoms). (Runs of 8, as tensor_gemm reads
// them, would need the activations' 32-bit words permuted, by 4-byte copies: measured 0.35x cuBLAS,
// the copies' L1 traffic the limit, bench/results/2026-11-25-h100-wgmma.)
//
// The pipeline: the ring prefetches kStages - 2 stages ahead; in a stage each warp decodes one
// group of steps' fragments (kWgmmaGroup steps of 16 k, one by default) while the wgmmas of the
// group before run, keeping two groups' fragment sets (wgmma reads A's registers until it
// completes). A stage's last group still runs while the next stage's first fragments are decoded
// (the ring's spare stage is the one it reads), so the tensor cores do not drain at every stage
// boundary. The next stage's scale codes are loaded at the start of a stage and
// converted one stage later, so their global-memory latency is hidden behind a stage's wgmmas.
#include "bitjit/tensor_gemm.cuh"
#include "bitjit/wgmma.cuh"

namespace bitjit {

// StageLoader placement for wgmma's K-major tiles in the 128-byte swizzle (swizzled_descriptor): the
// tile's kRows rows are cut along K into atom columns of 128 bytes (8 chunks); column c holds every
// row's chunks 8c .. 8c + 7, row after row, chunk j of row r at position j ^ (r % 8). Consecutive
// threads copy one row's chunks in order, so a warp reads whole 128-byte lines of global memory
// (by-core-matrix copies read 16 bytes of 32 rows: twice the L2 requests, measured L2-bound), and
// the XOR spreads each 8 lanes' 16-byte stores over all 32 banks.
template <int kChunksPerRow, int kRows>
struct SwizzledAtoms {
  static_assert(kChunksPerRow % 8 == 0 && kRows % 8 == 0, "whole 128-byte atoms of 8 rows");
  static constexpr int kColumnChunks = kRows * 8;  // one atom column: 128 bytes of every row
  __device__ static int index(int row, int chunk) {
    return chunk / 8 * kColumnChunks + row * 8 + ((chunk % 8) ^ (row % 8));
  }
  __device__ static int first_row(int tid) { return tid / kChunksPerRow; }
  __device__ static int first_chunk(int tid) { return tid % kChunksPerRow; }
  template <int kPassRows>
  static constexpr bool kEvenStride = kPassRows % 8 == 0;
  template <int kPassRows>
  static constexpr int kStride = kPassRows * 8;
  // The wgmma descriptor of rows first_row .. of the tile at byte k_bytes along K (a step's start).
  __device__ static uint64_t descriptor(const uint4* tile, int first_row, int k_bytes) {
    return advance_descriptor(swizzled_descriptor(tile + first_row * 8), (k_bytes / 128 * kColumnChunks + k_bytes % 128 / 16) * 16);
  }
};

// Traps unless the dynamic shared memory starts 1024-byte aligned, as the 128-byte swizzle needs
// (the __align__ on the declaration asks for it; a wrong base would only show as wrong sums).
__device__ __forceinline__ void require_swizzle_alignment(const void* stages) {
  if (threadIdx.x == 0 && shared_address(stages) % 1024 != 0) __trap();
}

// The cp.async ring of both tensor_wgmma kernels: tile i lives in stage i mod kStages, and
// kStages - 2 tiles are in flight behind the one being multiplied and the one whose last wgmma may
// still run. Every thread commits one copy group per tile, empty past the end, so "all but
// kStages - 3 groups done" always means "this tile landed". load(stage, tile) issues a tile's
// copies; multiply(stage, tile) issues its wgmmas and may leave its last group running.
template <int kStages, class Load, class Multiply>
__device__ __forceinline__ void run_wgmma_ring(int tiles, Load load, Multiply multiply) {
  constexpr int kAhead = kStages - 2;
  static_assert(kAhead >= 1, "three stages at least: one loading, one multiplied, one finishing");
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < tiles) load(s, s);
    commit_async_copies();
  }
  int consumed = 0, filled = kAhead;
  for (int tile = 0; tile < tiles; ++tile) {
    wait_async_copies<kAhead - 1>();
    fence_shared_for_async();  // this thread's copies, landed, become visible to the wgmma's reads
    // The tile landed for every thread, and every warpgroup's wgmmas of tile - 2 are done (multiply
    // waits for all but its newest group), so the stage they read can be refilled.
    __syncthreads();
    if (tile + kAhead < tiles) load(filled, tile + kAhead);
    commit_async_copies();
    multiply(consumed, tile);
    consumed = consumed + 1 == kStages ? 0 : consumed + 1;
    filled = filled + 1 == kStages ? 0 : filled + 1;
  }
  wgmma_wait<0>();
  wait_async_copies<0>();
}

// A warpgroup tile's outputs: D's fragment layout holds this warp's channels g, g + 8 and, for each
// 8 rows j, d[4j + 0, 1] = channel g, rows 8j + 2t (+1), d[4j + 2, 3] = channel g + 8. for_each_output
// calls store(row, column, sum) for those inside C (the form reduce_slices_and_store takes).
template <class P, int kRows, class Acc>
struct WgmmaOutputs {
  const MatmulParams& params;
  const Acc (&d)[kRows / 2];
  long long m_block, first_channel;

  template <class Store>
  __device__ __forceinline__ void for_each_output(Store store) const {
    const int g = int(threadIdx.x) % 32 / 4, t = int(threadIdx.x) % 4;
#pragma unroll
    for (int j = 0; j < kRows / 8; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const long long row = m_block + 8 * j + 2 * t + (c & 1);
        const long long column = first_channel + g + (c >= 2 ? 8 : 0);
        if (row < params.M && column < P::N) store(row, column, d[4 * j + c]);
      }
  }
};

template <class P, int kRows, class Acc>
__device__ __forceinline__ void store_wgmma_tile(const MatmulParams& params, const Acc (&d)[kRows / 2], long long m_block,
                                                 long long first_channel) {
  WgmmaOutputs<P, kRows, Acc>{params, d, m_block, first_channel}.for_each_output(
      [&](long long row, long long column, Acc sum) { store_output<P>(params, row, column, sum); });
}

// One warp's share of a warpgroup tile in the fp16 / bf16 kernels (tensor_wgmma, tensor_wgmma_ws):
// its 16 channels' scales, the accumulators of the warpgroup's 64 channels x kBlockM rows, and a
// stage's decode-and-wgmma loop. T: kThreads (the warpgroups' threads), kBlockM rows, kBlockN = 64
// per warpgroup, kBlockK, kWarpsM = 1, kWarpsN = kThreads / 32, kLoadBytes, kRun = 2 (the
// mma_fragments layout).
template <class P, class T>
struct WgmmaDecodeWarp {
  using G = GemmTiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  static constexpr PairDecode kHow = pair_decode<W, A>();
  static constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  using Placement = SwizzledAtoms<G::kChunksPerRow, T::kBlockM>;
  static constexpr int kStepsPerBlock = G::kKBlock / 16;
  static constexpr int kStepsPerSpan = G::kRunsPerSpan * T::kRun / 4;
  static constexpr int kSpans = G::kRuns / G::kRunsPerSpan;
  static_assert(T::kRun == 2 && T::kBlockN == 16 * T::kWarpsN && T::kThreads % 128 == 0,
                "the mma_fragments layout, 64 channels per warpgroup, 16 per warp");
  static_assert(kStepsPerSpan >= 1, "a scale group holds whole 16-k steps");

  // The scale (and zero) codes of this lane's channels for every span of a stage.
  struct StageCodes {
    GroupCodes<P, 1> span[G::kStageBlocks][kSpans];
  };
  // 16-k steps decoded first and then issued back to back as one wgmma group (kWgmmaGroup), with
  // two groups' fragment sets: the wait after a group frees the group before it. Groups of several
  // steps spend one fence, commit and wait on several wgmmas.
  static constexpr int kGroup = T::kWgmmaGroup;
  static_assert(kGroup >= 1 && kStepsPerBlock % kGroup == 0, "whole wgmma groups per k-block");
  // The stage's last group keeps running into the next stage if that stage's first group takes the
  // other fragment sets (whole pairs of groups per k-block; past K a stage holds fewer k-blocks).
  static constexpr bool kKeepsLastGroup = kStepsPerBlock % (2 * kGroup) == 0;
  // Two sets of sums where the registers allow (64 rows, at most two warpgroups of sums): consecutive
  // groups add into different sets, so a group's wgmmas need not wait in the tensor pipe for the
  // sums of the group before (measured 3-4 % at M = 64, 2026-11-27); finish() adds the second set
  // into d. With four warpgroups a thread has about 100 registers and ptxas serialized every wgmma
  // (its warning C7512).
  static constexpr int kChains = T::kBlockM == 64 && T::kThreads <= 256 ? 2 : 1;

  const MatmulParams& params;
  const uint32_t* pair_table;
  int lane, warp_channel;  // warp_channel: this warp's 16 channels, rows 16 (warp % 4) .. of its warpgroup's D
  int w_offset;            // raw bytes of this lane's piece in a stage's weights
  long long channel[1][2];
  float d[T::kBlockM / 2];
  float d_odd[kChains == 2 ? T::kBlockM / 2 : 1];  // the odd groups' sums (kChains == 2)
  StageCodes next_codes;    // the next stage's scale codes, loaded a stage early
  uint32_t fragments[2 * kGroup][4];  // two groups' sets: the group before may still be in its wgmmas

  __device__ __forceinline__ WgmmaDecodeWarp(const MatmulParams& p, const uint32_t* table, int warp)
      : params(p), pair_table(table) {
    lane = int(threadIdx.x) % 32;
    warp_channel = warp * 16;
    w_offset = (warp_channel + lane / 4) * G::kPieceBytes + lane % 4 * T::kLoadBytes;
  }

  // A new output tile: channels from n_block, sums at zero.
  __device__ __forceinline__ void start_tile(long long n_block) {
#pragma unroll
    for (int half = 0; half < 2; ++half) channel[0][half] = min(n_block + warp_channel + lane / 4 + 8 * half, P::N - 1);
#pragma unroll
    for (int i = 0; i < T::kBlockM / 2; ++i) d[i] = 0.0f;
#pragma unroll
    for (int i = 0; i < int(sizeof(d_odd) / sizeof(float)); ++i) d_odd[i] = 0.0f;
  }

  // Issues the loads of stage tile_k's scale codes (converted when multiply_stage starts it).
  __device__ __forceinline__ void load_stage_codes(int tile_k) {
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = min((long long)tile_k * G::kStageBlocks + block, G::kBlocksK - 1);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) {
        const long long group = (k_block * G::kKBlock + 16 * kStepsPerSpan * span) / G::kGroupSize;
        load_group_codes<P>(params, channel, group, next_codes.span[block][span]);
      }
    }
  }

  // One stage (its scale codes loaded by load_stage_codes before): per 16-k step, this warp's
  // fragments decoded, and per kGroup steps the warpgroup's wgmmas issued as one group, each wait
  // leaving only the newest group running. The stage before may still run its last group when this
  // one starts: release_previous() is called once it is done (after this stage's first group), and
  // this stage's last group is left running where kKeepsLastGroup (finish() waits for it), else
  // waited for at the stage's end.
  // next_tile_k: the stage whose codes to load meanwhile. The accumulators are fenced around every
  // group so that no copy the compiler makes of them (at the loop's back edge) lands while one runs
  // (scripts/wgmma-hazards.py checks the machine code).
  template <class Release>
  __device__ __forceinline__ void multiply_stage(const uint4* stage, int tile_k, int next_tile_k, Release release_previous) {
    uint32_t scale[G::kStageBlocks][kSpans][1][2], zero[G::kStageBlocks][kSpans][1][2];
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block)
#pragma unroll
      for (int span = 0; span < kSpans; ++span) group_pairs_of<P>(next_codes.span[block][span], scale[block][span], zero[block][span]);
    load_stage_codes(next_tile_k);
    if constexpr (!kKeepsLastGroup) release_previous();  // finished at the end of its stage
    const uint8_t* lane_weights = reinterpret_cast<const uint8_t*>(stage + G::kActivationChunks) + w_offset;
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      if ((long long)tile_k * G::kStageBlocks + block >= G::kBlocksK) break;  // past K: the same for the whole block
      uint32_t words[1][2][G::kWords];
#pragma unroll
      for (int half = 0; half < 2; ++half)
        load_shared_words<T::kLoadBytes>(lane_weights + (block * T::kBlockN + 8 * half) * G::kPieceBytes, words[0][half]);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) {
        const uint32_t(&span_scale)[2] = scale[block][span][0];
        const uint32_t(&span_zero)[2] = zero[block][span][0];
        auto scaled = [&](uint32_t pair, int half) { return scaled_pair<P>(pair, span_scale[half], span_zero[half]); };
#pragma unroll
        for (int step = span * kStepsPerSpan; step < (span + 1) * kStepsPerSpan; ++step) {
          const int stage_step = block * kStepsPerBlock + step;  // of the stage's kBlockK / 16
          decode_operand<W, A, kQuantizedZeros>(words[0], 4 * step, span_zero, pair_table, lane,
                                                fragments[stage_step % (2 * kGroup)], scaled);
          if (stage_step % kGroup == kGroup - 1) {
            issue_group(stage, stage_step + 1 - kGroup);
            if constexpr (kKeepsLastGroup)
              if (stage_step == kGroup - 1) release_previous();
          }
        }
      }
    }
    if constexpr (!kKeepsLastGroup) wait_for_all_groups();
  }

  // The wgmmas of steps first .. first + kGroup - 1 of the stage, their fragments decoded, as one
  // group into its set of sums; then the wait that leaves it the only one running, so the group
  // before it is done. (first is a constant once multiply_stage's loops are unrolled.)
  __device__ __forceinline__ void issue_group(const uint4* stage, int first) {
    if constexpr (kChains == 2) {
      if (first / kGroup % 2 == 1) return issue_group_into(d_odd, stage, first);
    }
    issue_group_into(d, stage, first);
  }

  __device__ __forceinline__ void issue_group_into(float (&sums)[T::kBlockM / 2], const uint4* stage, int first) {
    fence_all_sums();
    wgmma_fence();  // the fragments' registers were just written
#pragma unroll
    for (int step = first; step < first + kGroup; ++step)
      wgmma_64xNx16_rs<A, T::kBlockM>(sums, fragments[step % (2 * kGroup)], Placement::descriptor(stage, 0, 32 * step), true);
    wgmma_commit();
    wgmma_wait<1>();
  }

  // Both sets stay in their registers while either may be written by a wgmma in flight.
  __device__ __forceinline__ void fence_all_sums() {
    wgmma_fence_accumulators(d);
    if constexpr (kChains == 2) wgmma_fence_accumulators(d_odd);
  }

  __device__ __forceinline__ void wait_for_all_groups() {
    wgmma_wait<0>();
    fence_all_sums();
  }

  // At the end of a tile's stages: waits for the last wgmma and adds the sets, so d holds the sums.
  __device__ __forceinline__ void finish() {
    wait_for_all_groups();
    if constexpr (kChains == 2) {
#pragma unroll
      for (int i = 0; i < T::kBlockM / 2; ++i) d[i] += d_odd[i];
    }
  }
};

// P: the Problem; T: the tiles (those of WgmmaDecodeWarp, with kThreads = the block's threads,
// kStages >= 3, kSplitK: blockIdx.z's share of K's stages, summed as tensor_gemm's slices are).
template <class P, class T>
__device__ void tensor_wgmma(const MatmulParams& params) {
  using G = GemmTiling<P, T>;
  using Warp = WgmmaDecodeWarp<P, T>;
  static_assert(G::kStageChunks % 64 == 0, "every stage starts 1024-byte aligned");
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x kStageChunks
  require_swizzle_alignment(stages);
  __shared__ uint32_t pair_table[Warp::kHow == PairDecode::table ? kPairTableWords : 1];
  if constexpr (Warp::kHow == PairDecode::table) fill_pair_table<typename P::W, typename P::A>(pair_table);  // synced in the loop

  const long long m_block = (long long)blockIdx.y * T::kBlockM;
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  Warp warp(params, pair_table, int(threadIdx.x) / 32);
  warp.start_tile(n_block);
  const StageLoader<P, T, typename Warp::Placement> loader(params, m_block, n_block);

  const int tile_begin = int(blockIdx.z * G::kTilesPerSlice);
  const int tile_end = int(min(G::kTilesK, tile_begin + G::kTilesPerSlice));
  warp.load_stage_codes(tile_begin);
  run_wgmma_ring<T::kStages>(
      tile_end - tile_begin, [&](int stage, int i) { loader.load(stages + stage * G::kStageChunks, tile_begin + i); },
      [&](int stage, int i) {
        // The ring refills a stage two tiles after its wgmmas started: the last may still run.
        warp.multiply_stage(stages + stage * G::kStageChunks, tile_begin + i, min(tile_begin + i + 1, tile_end - 1), [] {});
      });
  warp.finish();

  if constexpr (T::kSplitK == 1) {
    store_wgmma_tile<P, T::kBlockM>(params, warp.d, m_block, n_block + warp.warp_channel);
  } else {
    reduce_slices_and_store<P, T>(WgmmaOutputs<P, T::kBlockM, float>{params, warp.d, m_block, n_block + warp.warp_channel},
                                  params);
  }
}

}  // namespace bitjit
