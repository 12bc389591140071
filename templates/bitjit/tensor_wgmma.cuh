#pragma once
// The tensor_wgmma family (sm_90a, opt-in until it beats tensor_gemm): fp16 / bf16 activations, for
// many rows on Hopper, where mma.sync cannot reach the tensor cores' peak (docs/performance.md). The
// block's threads form kThreads / 128 warpgroups; warpgroup w owns output channels 64w .. 64w + 63,
// and each of its wgmma instructions computes those 64 channels for all kBlockM rows of the block
// over 16 k: D[64, kBlockM] += Wdec[64, 16] * A[kBlockM, 16]^T, with the decoded weights as the A
// operand straight from registers (no shared-memory round trip) and the activations as B.
//
// A warp's decoded weights are the A fragments of tensor_gemm's mma.sync: for each 16-k step, lane
// t holds 4 consecutive k of its channels g and g + 8 (k 8t + 4s .. + 3 of a 32-k run, step s = 0,
// 1), standing in the fragment slots 2t, 2t + 1, 2t + 8, 2t + 9. wgmma reads B in its own k order
// (slots 0 .. 15 of the step), so the activation tile is staged with its 32-bit words permuted to
// match: 4-byte cp.async copies (PermutedActivationLoader). That costs four copies where one would
// do, and saves the decoded tile's stores, fences and barriers of the shared-memory form (measured:
// those stores' bank conflicts and the serial decode kept it at 0.3x cuBLAS).
//
// The pipeline: the cp.async ring of tensor_gemm prefetches kStages - 2 stages ahead; in a stage
// each warp decodes one step's fragments while the wgmma of the step before runs, keeping two
// fragment sets (wgmma reads A's registers until it completes). At most one wgmma is in flight at a
// stage boundary, reading the previous stage, which the ring therefore keeps out of the copies'
// reach. The next stage's scales are loaded at the start of a stage and used one stage later.
#include "bitjit/tensor_gemm.cuh"
#include "bitjit/wgmma.cuh"

namespace bitjit {

// The activation tile as wgmma's K-major B operand (core matrices of 8 rows x 16 bytes; 8-row
// groups kCores * 128 bytes apart, cores of one group consecutive along K), its 32-bit words
// permuted to the weights' k order: word w (k 8t + 2w, + 1) of lane t's 16 bytes in 32-k run R goes
// to word t of the core-matrix row in core 4R + w, a 4 x 4 transpose per run and row. Warp w copies
// run w % kRunsPerStage of 8-row groups w / kRunsPerStage + kGroupsPerPass * i; lane (r, t) = (lane
// / 4, lane % 4) copies row r of the group, so each copy instruction fills 128 consecutive bytes.
template <class P, class T>
struct PermutedActivationLoader {
  using G = GemmTiling<P, T>;
  static constexpr int kCores = G::kChunksPerRow;
  static constexpr int kWarps = T::kThreads / 32;
  static constexpr int kRunsPerStage = T::kBlockK / 32;
  static constexpr int kGroupsPerPass = kWarps / kRunsPerStage;
  static constexpr int kPasses = T::kBlockM / 8 / kGroupsPerPass;
  static_assert(kWarps % kRunsPerStage == 0 && (T::kBlockM / 8) % kGroupsPerPass == 0,
                "block_k <= threads: every warp copies whole runs of whole 8-row groups");

  const uint32_t* source;  // this lane's first word in its first row, stage 0
  int shared;              // where that word goes: 32-bit words into a stage
  int first_row, rows;     // rows: of this block inside M
  int k_offset;            // this lane's first k in a stage

  __device__ __forceinline__ PermutedActivationLoader(const MatmulParams& params, long long m_block) {
    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    const int run = warp % kRunsPerStage, t = lane % 4;
    first_row = warp / kRunsPerStage * 8 + lane / 4;
    rows = int(min((long long)T::kBlockM, params.M - m_block));
    k_offset = 32 * run + 8 * t;
    source = reinterpret_cast<const uint32_t*>(static_cast<const uint16_t*>(params.A) + (m_block + first_row) * P::K + k_offset);
    shared = ((first_row / 8 * kCores + 4 * run) * 8 + first_row % 8) * 4 + t;
  }

  __device__ __forceinline__ void load(uint4* stage, int tile_k) const {
    const int k_first = tile_k * T::kBlockK;
    // K is whole k-blocks (multiples of 32 k), so a lane's 8 k are all inside K or all past it.
    const bool k_inside = P::K % T::kBlockK == 0 || k_first + k_offset < int(P::K);
    uint32_t* words = reinterpret_cast<uint32_t*>(stage);
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass) {
      const int row = first_row + pass * kGroupsPerPass * 8;
      const uint32_t* row_source = source + (long long)pass * kGroupsPerPass * 8 * (P::K / 2) + k_first / 2;
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        copy_async_4(words + shared + pass * kGroupsPerPass * kCores * 32 + w * 32, row_source + w, row < rows && k_inside);
      }
    }
  }
};

template <class A, int kRows>
__device__ __forceinline__ void wgmma_rows(float (&d)[kRows / 2], const uint32_t (&a)[4], uint64_t b) {
  static_assert(kRows == 64 || kRows == 128, "64 or 128 rows of activations per block");
  if constexpr (kRows == 64) wgmma_64x64x16_rs<A>(d, a, b, true);
  else wgmma_64x128x16_rs<A>(d, a, b, true);
}

// P: the Problem; T: the tiles (kThreads = 128 per warpgroup, kBlockM rows, kBlockN = 64 per
// warpgroup, kBlockK <= kThreads, kWarpsM = 1, kWarpsN = kThreads / 32, kStages >= 3, kSplitK = 1,
// kLoadBytes, kRun = 8).
template <class P, class T>
__device__ void tensor_wgmma(const MatmulParams& params) {
  using G = GemmTiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  constexpr PairDecode kHow = pair_decode<W, A>();
  constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  constexpr uint32_t kGroupBytes = uint32_t(G::kChunksPerRow) * 128;  // between 8-row groups of activations
  static_assert(T::kRun == 8 && T::kBlockN == 16 * T::kWarpsN && T::kThreads % 128 == 0 && T::kSplitK == 1,
                "runs of 8, 64 channels per warpgroup, 16 per warp, no split-K");

  extern __shared__ uint4 stages[];  // kStages x kStageChunks
  __shared__ uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords : 1];
  if constexpr (kHow == PairDecode::table) fill_pair_table<W, A>(pair_table);  // synced in the loop

  const long long m_block = (long long)blockIdx.y * T::kBlockM;
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32, g = lane / 4, t = lane % 4;
  const int warp_channel = warp * 16;  // this warp's 16 channels: rows 16 (warp % 4) .. of its warpgroup's D
  long long channel[1][2];
#pragma unroll
  for (int half = 0; half < 2; ++half) channel[0][half] = min(n_block + warp_channel + g + 8 * half, P::N - 1);
  const MagicConstants<W, A> magic = MagicConstants<W, A>::make();
  const StageLoader<P, T> weight_loader(params, m_block, n_block);
  const PermutedActivationLoader<P, T> activation_loader(params, m_block);
  const int w_offset = (warp_channel + g) * G::kPieceBytes + t * T::kLoadBytes;  // raw bytes of this lane's piece
  float d[T::kBlockM / 2];
#pragma unroll
  for (int i = 0; i < T::kBlockM / 2; ++i) d[i] = 0.0f;

  // The scale (and zero) pairs of this lane's channels for every span of a stage: this stage's,
  // and the next one's, loaded a stage early.
  constexpr int kSpans = G::kRuns / G::kRunsPerSpan;
  uint32_t scale[G::kStageBlocks][kSpans][1][2], zero[G::kStageBlocks][kSpans][1][2];
  uint32_t next_scale[G::kStageBlocks][kSpans][1][2], next_zero[G::kStageBlocks][kSpans][1][2];
  auto load_stage_pairs = [&](int tile_k, uint32_t (&to_scale)[G::kStageBlocks][kSpans][1][2],
                              uint32_t (&to_zero)[G::kStageBlocks][kSpans][1][2]) {
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = min((long long)tile_k * G::kStageBlocks + block, G::kBlocksK - 1);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) {
        const long long group = (k_block * G::kKBlock + 32 * G::kRunsPerSpan * span) / G::kGroupSize;
        load_group_pairs<P>(params, channel, group, to_scale[block][span], to_zero[block][span]);
      }
    }
  };

  // One stage: per 16-k step, this warp's fragments decoded (two sets: the step before may still be
  // in its wgmma) and the warpgroup's wgmma issued; the wait leaves only the newest one running.
  uint32_t fragments[2][4];
  auto multiply_stage = [&](const uint4* stage, int tile_k) {
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
        for (int run = span * G::kRunsPerSpan; run < (span + 1) * G::kRunsPerSpan; ++run)
#pragma unroll
          for (int s = 0; s < 2; ++s) {
            const int step = 2 * (block * G::kRuns + run) + s;  // of the stage's kBlockK / 16
            uint32_t(&fragment)[4] = fragments[step % 2];
            decode_operand<W, A, kQuantizedZeros>(words[0], 8 * run + 4 * s, magic, span_zero, pair_table, lane,
                                                  fragment, scaled);
            wgmma_fence();  // the fragment's registers were just written
            wgmma_rows<A, T::kBlockM>(d, fragment, shared_descriptor(stage + 2 * step * 8, 128, kGroupBytes));
            wgmma_commit();
            wgmma_wait<1>();  // the step before is done: its fragment set is free for the next
          }
      }
    }
  };

  // The ring: tile i lives in stage i mod kStages; kAhead tiles are in flight behind the one being
  // multiplied and the one whose last wgmma may still run. Every thread commits one copy group per
  // tile, empty past the end, so "all but kAhead - 1 groups done" always means "this tile landed".
  constexpr int kAhead = T::kStages - 2;
  static_assert(kAhead >= 1, "three stages at least: one loading, one multiplied, one finishing");
  const int tile_end = int(G::kTilesK);
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < tile_end) {
      activation_loader.load(stages + s * G::kStageChunks, s);
      weight_loader.load_weights(stages + s * G::kStageChunks, s);
    }
    commit_async_copies();
  }
  load_stage_pairs(0, scale, zero);
  int consumed = 0, filled = kAhead;
  for (int tile = 0; tile < tile_end; ++tile) {
    wait_async_copies<kAhead - 1>();
    fence_shared_for_async();  // this thread's copies, landed, become visible to the wgmma's reads
    // The tile landed for every thread, and every warpgroup's wgmmas of tile - 2 are done (the waits
    // in multiply_stage), so the stage they read can be refilled.
    __syncthreads();
    if (tile + kAhead < tile_end) {
      activation_loader.load(stages + filled * G::kStageChunks, tile + kAhead);
      weight_loader.load_weights(stages + filled * G::kStageChunks, tile + kAhead);
    }
    commit_async_copies();
    load_stage_pairs(min(tile + 1, tile_end - 1), next_scale, next_zero);
    multiply_stage(stages + consumed * G::kStageChunks, tile);
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block)
#pragma unroll
      for (int span = 0; span < kSpans; ++span)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          scale[block][span][0][half] = next_scale[block][span][0][half];
          zero[block][span][0][half] = next_zero[block][span][0][half];
        }
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
