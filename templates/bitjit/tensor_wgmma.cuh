#pragma once
// The tensor_wgmma family (sm_90a, opt-in until it beats tensor_gemm): fp16 / bf16 activations, for
// many rows on Hopper, where mma.sync cannot reach the tensor cores' peak (docs/performance.md). The
// block's threads form kThreads / 128 warpgroups; warpgroup w owns output channels 64w .. 64w + 63,
// and each of its wgmma instructions computes those 64 channels for all kBlockM rows of the block
// over 16 k: D[64, kBlockM] += Wdec[64, 16] * A[kBlockM, 16]^T.
//
// Per stage (the cp.async ring of tensor_gemm, StageLoader):
//   - the activation tile arrives as K-major core matrices (8 rows x 8 k, 16 bytes a row): each
//     16-byte copy is one core-matrix row, so the wgmma reads it as B straight from the ring;
//   - each warp decodes its 16 channels of the packed weight tile, scaled in A's type as in
//     tensor_gemm, into a decoded tile of the same K-major core matrices. With runs of 8 k a lane
//     holds exactly one core-matrix row per run (its 8 consecutive k of one channel), so a run
//     decodes into four pairs and one 16-byte shared store;
//   - after fence.proxy.async and a warpgroup barrier, the warpgroup issues kBlockK / 16 wgmmas
//     (A: the decoded tile, B: the activations, both by descriptor) and goes on without waiting.
// Decoding and the tensor cores overlap: the wgmmas of stage i run while the warps decode stage
// i + 1 into the other of two decoded tiles, and wait only before reusing a buffer. So the ring keeps
// two stages out of the copies' reach (the one being decoded, the one being multiplied) and
// prefetches kStages - 2 ahead; the next stage's scales are loaded before the wgmmas are issued so
// their latency hides behind them too.
#include "bitjit/tensor_gemm.cuh"
#include "bitjit/wgmma.cuh"

namespace bitjit {

// StageLoader placement for wgmma's K-major core matrices: chunk c of row r at core (r / 8, c),
// row r % 8 of it; cores of one 8-row group are consecutive along K. Consecutive threads copy the
// 8 rows of one core matrix, then the next core along K, so a warp's 32 copies land in 512
// consecutive bytes; threads taking one row's chunks in order would all hit the same 4 banks (the
// chunks of a row lie 128 bytes apart): 16-way conflicts, measured 4x slower stage copies. When a
// pass of the block's threads is not whole core-matrix groups, rows in order (still correct).
template <int kChunksPerRow, int kThreads>
struct CoreMatrixRows {
  static constexpr bool kByCore = kThreads % (8 * kChunksPerRow) == 0;
  __device__ static int index(int row, int chunk) { return ((row / 8) * kChunksPerRow + chunk) * 8 + row % 8; }
  __device__ static int first_row(int tid) {
    return kByCore ? tid / (8 * kChunksPerRow) * 8 + tid % 8 : tid / kChunksPerRow;
  }
  __device__ static int first_chunk(int tid) { return kByCore ? tid / 8 % kChunksPerRow : tid % kChunksPerRow; }
  template <int kRows>
  static constexpr bool kEvenStride = kRows % 8 == 0;
  template <int kRows>
  static constexpr int kStride = kRows / 8 * kChunksPerRow * 8;
};

template <class A, int kRows>
__device__ __forceinline__ void wgmma_rows(float (&d)[kRows / 2], uint64_t a, uint64_t b) {
  static_assert(kRows == 64 || kRows == 128, "64 or 128 rows of activations per block");
  if constexpr (kRows == 64) wgmma_64x64x16_ss<A>(d, a, b, true);
  else wgmma_64x128x16_ss<A>(d, a, b, true);
}

// P: the Problem; T: the tiles (kThreads = 128 per warpgroup, kBlockM rows, kBlockN = 64 per
// warpgroup, kBlockK, kWarpsM = 1, kWarpsN = kThreads / 32, kStages, kSplitK = 1, kLoadBytes, kRun = 8).
template <class P, class T>
__device__ void tensor_wgmma(const MatmulParams& params) {
  using G = GemmTiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  constexpr PairDecode kHow = pair_decode<W, A>();
  constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  constexpr int kCores = G::kChunksPerRow;                   // core matrices along K per 8 rows
  constexpr uint32_t kCoreRowBytes = uint32_t(kCores) * 128;  // between 8-row (8-channel) groups
  static_assert(T::kRun == 8 && T::kBlockN == 16 * T::kWarpsN && T::kThreads % 128 == 0 && T::kSplitK == 1,
                "runs of 8, 64 channels per warpgroup, 16 per warp, no split-K");

  extern __shared__ uint4 shared[];  // kStages x kStageChunks, then two decoded weight tiles
  uint4* stages = shared;
  uint4* decoded_tiles = shared + T::kStages * G::kStageChunks;
  constexpr int kDecodedChunks = T::kBlockN * T::kBlockK / 8;
  __shared__ uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords : 1];
  if constexpr (kHow == PairDecode::table) fill_pair_table<W, A>(pair_table);  // synced in the loop

  const long long m_block = (long long)blockIdx.y * T::kBlockM;
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32, g = lane / 4, t = lane % 4;
  const int warpgroup = warp / 4;
  const int warp_channel = warp * 16;  // this warp's 16 channels: rows 16 (warp % 4) .. of its warpgroup's D
  long long channel[1][2];
#pragma unroll
  for (int half = 0; half < 2; ++half) channel[0][half] = min(n_block + warp_channel + g + 8 * half, P::N - 1);
  const MagicConstants<W, A> magic = MagicConstants<W, A>::make();
  const StageLoader<P, T, CoreMatrixRows<kCores, T::kThreads>> loader(params, m_block, n_block);
  const int w_offset = (warp_channel + g) * G::kPieceBytes + t * T::kLoadBytes;  // raw bytes of this lane's piece
  float d[T::kBlockM / 2];
#pragma unroll
  for (int i = 0; i < T::kBlockM / 2; ++i) d[i] = 0.0f;

  // The scale (and zero) pairs of this lane's channels for every span of one stage.
  constexpr int kSpans = G::kRuns / G::kRunsPerSpan;
  uint32_t scale[G::kStageBlocks][kSpans][1][2], zero[G::kStageBlocks][kSpans][1][2];
  auto load_stage_pairs = [&](int tile_k) {
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = min((long long)tile_k * G::kStageBlocks + block, G::kBlocksK - 1);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) {
        const long long group = (k_block * G::kKBlock + 32 * G::kRunsPerSpan * span) / G::kGroupSize;
        load_group_pairs<P>(params, channel, group, scale[block][span], zero[block][span]);
      }
    }
  };

  // Decodes this warp's 16 channels of a stage into a decoded tile.
  auto decode_stage = [&](const uint4* stage, int tile_k, uint4* decoded) {
    const uint8_t* lane_weights = reinterpret_cast<const uint8_t*>(stage + G::kActivationChunks) + w_offset;
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = (long long)tile_k * G::kStageBlocks + block;
      if (k_block >= G::kBlocksK) {  // past K in the last stage: zero weights (the ring's zeros are not codes of 0)
#pragma unroll
        for (int run = 0; run < G::kRuns; ++run)
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const int row = warp_channel + g + 8 * half;
            decoded[((row / 8) * kCores + 4 * (block * G::kRuns + run) + t) * 8 + row % 8] = uint4{0u, 0u, 0u, 0u};
          }
        continue;
      }
      uint32_t words[1][2][G::kWords];
#pragma unroll
      for (int half = 0; half < 2; ++half)
        load_shared_words<T::kLoadBytes>(lane_weights + (block * T::kBlockN + 8 * half) * G::kPieceBytes, words[0][half]);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) {
        const uint32_t(&span_scale)[2] = scale[block][span][0];
        const uint32_t(&span_zero)[2] = zero[block][span][0];
#pragma unroll
        for (int run = span * G::kRunsPerSpan; run < (span + 1) * G::kRunsPerSpan; ++run) {
          uint32_t first[4], second[4];  // steps 2 * run, 2 * run + 1 of the run's 8 codes
          auto scaled = [&](uint32_t pair, int half) { return scaled_pair<P>(pair, span_scale[half], span_zero[half]); };
          decode_operand<W, A, kQuantizedZeros>(words[0], 8 * run, magic, span_zero, pair_table, lane, first, scaled);
          decode_operand<W, A, kQuantizedZeros>(words[0], 8 * run + 4, magic, span_zero, pair_table, lane, second, scaled);
          // decode_operand's order: {g (0, 1), g + 8 (0, 1), g (2, 3), g + 8 (2, 3)} per 4 codes.
          const int chunk = 4 * (block * G::kRuns + run) + t;  // this lane's 8 k: one core-matrix row
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const int row = warp_channel + g + 8 * half;
            decoded[((row / 8) * kCores + chunk) * 8 + row % 8] =
                uint4{first[half], first[2 + half], second[half], second[2 + half]};
          }
        }
      }
    }
  };

  // The ring: tile i lives in stage i mod kStages; kAhead tiles are in flight behind the one being
  // decoded and the one being multiplied. Every thread commits one copy group per tile, empty past
  // the end, so "all but kAhead - 1 groups done" always means "this tile landed".
  constexpr int kAhead = T::kStages - 2;
  static_assert(kAhead >= 1, "three stages at least: one loading, one decoded, one multiplied");
  const int tile_end = int(G::kTilesK);
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < tile_end) loader.load(stages + s * G::kStageChunks, s);
    commit_async_copies();
  }
  load_stage_pairs(0);
  int consumed = 0, filled = kAhead;
  for (int tile = 0; tile < tile_end; ++tile) {
    wait_async_copies<kAhead - 1>();
    fence_shared_for_async();  // this thread's copies, landed, become visible to the wgmma's reads
    // The tile landed for every thread, and every warpgroup's wgmmas of tile - 2 are done (the wait
    // below), so the stage they read can be refilled.
    __syncthreads();
    if (tile + kAhead < tile_end) loader.load(stages + filled * G::kStageChunks, tile + kAhead);
    commit_async_copies();
    const uint4* stage = stages + consumed * G::kStageChunks;
    uint4* decoded = decoded_tiles + (tile % 2) * kDecodedChunks;  // tile - 2's wgmmas, its last readers, are done
    decode_stage(stage, tile, decoded);
    load_stage_pairs(min(tile + 1, tile_end - 1));
    fence_shared_for_async();  // the decoded tile, written by ordinary stores, is read by wgmma
    asm volatile("bar.sync %0, 128;" ::"r"(1 + warpgroup) : "memory");  // this warpgroup's 4 warps
    wgmma_fence();
#pragma unroll
    for (int step = 0; step < T::kBlockK / 16; ++step) {
      const uint64_t weights = shared_descriptor(decoded + (8 * warpgroup * kCores + 2 * step) * 8, 128, kCoreRowBytes);
      const uint64_t activations = shared_descriptor(stage + 2 * step * 8, 128, kCoreRowBytes);
      wgmma_rows<A, T::kBlockM>(d, weights, activations);
    }
    wgmma_commit();
    wgmma_wait<1>();  // tile - 1's wgmmas are done; this tile's run on while the next is decoded
    consumed = consumed + 1 == T::kStages ? 0 : consumed + 1;
    filled = filled + 1 == T::kStages ? 0 : filled + 1;
  }
  wgmma_wait<0>();
  wait_async_copies<0>();

  // D: this warp's channels g, g + 8; for each 8 rows j, d[4j + 0, 1] = channel g, rows 8j + 2t (+1),
  // d[4j + 2, 3] = channel g + 8.
#pragma unroll
  for (int j = 0; j < T::kBlockM / 8; ++j)
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const long long row = m_block + 8 * j + 2 * t + (c & 1);
      const long long column = n_block + warp_channel + g + (c >= 2 ? 8 : 0);
      if (row < params.M && column < P::N) store_output<P>(params, row, column, d[4 * j + c]);
    }
}

}  // namespace bitjit
