#pragma once
// tensor_wgmma for W8A8 (sm_90a; the default from 64 rows): activations and weights of the same
// 8-bit type, int8 with int32 sums or fp8 (e4m3, e5m2) with float32 sums, no scales. Nothing is
// decoded: both operands are plain rows of bytes (W's general layout, which for int8 is also its
// mma_runs layout), staged by 16-byte cp.async into K-major tiles in the 128-byte swizzle
// (SwizzledAtoms: 128 k per atom column), and each warpgroup's wgmma m64nNk32 reads both from
// shared memory: D[64 channels, kBlockM rows] += W[64, 32] * A[kBlockM, 32]^T.
//
// The ring is tensor_wgmma's: kStages - 2 stages prefetched, one multiplied, one whose wgmmas may
// still run (int8: each stage's group is waited for only after the next one is issued; fp8 waits
// at the end of each stage, to add its sums in full precision). Copies past M, N
// or K are zero-filled, and an 8-bit zero is 0 in every format here, so no tail needs a branch.
#include "bitjit/async_copy.cuh"
#include "bitjit/epilogue.cuh"
#include "bitjit/tensor_wgmma.cuh"

namespace bitjit {

// Copies kRows rows x kChunksPerRow 16-byte chunks of a row-major byte matrix (kRowBytes a row,
// `limit` rows in all) into the swizzled atoms; rows past `limit` and chunks past the row's end
// are zero-filled. Each thread's source pointer is set once; a pass costs one add.
template <int kRows, int kChunksPerRow, int kThreads, long long kRowBytes>
struct ByteRowsLoader {
  using Placement = SwizzledAtoms<kChunksPerRow, kRows>;
  static constexpr int kRowsPerPass = kThreads / kChunksPerRow;
  static constexpr int kPasses = (kRows + kRowsPerPass - 1) / kRowsPerPass;
  static_assert(kThreads % kChunksPerRow == 0, "whole rows per pass of the block's threads");

  const uint8_t* source;  // this thread's chunk of its first row, stage 0
  int chunk, first_row, rows, shared;

  __device__ __forceinline__ ByteRowsLoader(const void* base, long long first_global_row, long long limit) {
    const int tid = int(threadIdx.x);
    chunk = Placement::first_chunk(tid);
    first_row = Placement::first_row(tid);
    rows = int(min((long long)kRows, limit - first_global_row));
    source = static_cast<const uint8_t*>(base) + (first_global_row + first_row) * kRowBytes + 16 * chunk;
    shared = Placement::index(first_row, chunk);
  }

  __device__ __forceinline__ void load(uint4* tile, int tile_k) const {
    const long long k_first = (long long)tile_k * kChunksPerRow * 16;
    const bool k_inside = k_first + 16 * chunk < kRowBytes;
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass) {
      const int row = first_row + pass * kRowsPerPass;
      if (kRows % kRowsPerPass != 0 && row >= kRows) break;
      int index = shared + pass * Placement::template kStride<kRowsPerPass>;
      if constexpr (!Placement::template kEvenStride<kRowsPerPass>) index = Placement::index(row, chunk);
      copy_async_16(tile + index, source + (long long)pass * kRowsPerPass * kRowBytes + k_first, row < rows && k_inside);
    }
  }
};

// The stage's layout: the activation tile (kBlockM rows), then the weight tile (kBlockN rows), each
// of kBlockK bytes a row in the 128-byte swizzle's atom columns.
template <class T>
struct ByteRowsStage {
  static constexpr int kChunksPerRow = T::kBlockK / 16;
  static constexpr int kActivationChunks = T::kBlockM * kChunksPerRow;
  static constexpr int kChunks = kActivationChunks + T::kBlockN * kChunksPerRow;
  using ActivationTile = SwizzledAtoms<kChunksPerRow, T::kBlockM>;
  using WeightTile = SwizzledAtoms<kChunksPerRow, T::kBlockN>;
  static_assert(kChunks % 64 == 0, "every stage starts 1024-byte aligned");
};

// Issues one stage's wgmmas for warpgroup `warpgroup` (its 64 weight rows against every activation
// row) into sums, as one commit group; accumulate = false starts the sums afresh.
template <class P, class T, class Acc>
__device__ __forceinline__ void issue_byte_rows_stage(const uint4* stage, int warpgroup, Acc (&sums)[T::kBlockM / 2],
                                                      bool accumulate) {
  using S = ByteRowsStage<T>;
  wgmma_fence_accumulators(sums);
  wgmma_fence();
#pragma unroll
  for (int step = 0; step < T::kBlockK / 32; ++step) {
    wgmma_64xNx32_ss<typename P::A, Acc, T::kBlockM>(
        sums, S::WeightTile::descriptor(stage + S::kActivationChunks, 64 * warpgroup, 32 * step),
        S::ActivationTile::descriptor(stage, 0, 32 * step), accumulate || step > 0);
  }
  wgmma_commit();
  wgmma_fence_accumulators(sums);
}

// P: the Problem (A and W the same 8-bit type); T: the tiles (kThreads = 128 per warpgroup,
// kBlockM rows, kBlockN = 64 per warpgroup, kBlockK, kStages >= 3).
template <class P, class T>
__device__ void tensor_wgmma_8bit(const MatmulParams& params) {
  using A = typename P::A;
  using Acc = typename P::Accum;
  static_assert(is_same<A, typename P::W>::value && A::kBits == 8, "activations and weights of one 8-bit type");
  static_assert(T::kBlockN % 64 == 0 && T::kThreads == 2 * T::kBlockN, "one warpgroup per 64 channels");
  constexpr int kChunksPerRow = ByteRowsStage<T>::kChunksPerRow;
  constexpr int kActivationChunks = ByteRowsStage<T>::kActivationChunks;
  constexpr int kStageChunks = ByteRowsStage<T>::kChunks;
  constexpr int kTilesK = int((P::K + T::kBlockK - 1) / T::kBlockK);

  extern __shared__ __align__(1024) uint4 stages[];  // kStages x (activation tile, weight tile)
  require_swizzle_alignment(stages);
  const long long m_block = (long long)blockIdx.y * T::kBlockM;
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const int warp = int(threadIdx.x) / 32, warpgroup = warp / 4;
  const ByteRowsLoader<T::kBlockM, kChunksPerRow, T::kThreads, P::K> activations(params.A, m_block, params.M);
  const ByteRowsLoader<T::kBlockN, kChunksPerRow, T::kThreads, P::K> weights(params.W, n_block, P::N);
  // fp8 wgmma adds into its float32 accumulators with about 13 fraction bits (measured: sums of 1040
  // products 1.4e-5 of sum |a*w| off), so each stage's products go into `partial`, which is then
  // added to d in full float32: the loss is bounded by one stage's few instructions instead of
  // growing with K (the measured error did not change: it arises inside each instruction). The
  // stage's wgmmas are waited for before the next stage is issued. int8 sums are exact: one chain,
  // the next stage issued while this one runs.
  constexpr bool kPromote = !is_same<Acc, int>::value;
  Acc d[T::kBlockM / 2], partial[T::kBlockM / 2];
#pragma unroll
  for (int i = 0; i < T::kBlockM / 2; ++i) d[i] = Acc(0);

  auto load_stage = [&](int stage, int tile_k) {
    activations.load(stages + stage * kStageChunks, tile_k);
    weights.load(stages + stage * kStageChunks + kActivationChunks, tile_k);
  };
  auto issue_stage = [&](const uint4* stage, Acc(&sums)[T::kBlockM / 2], bool accumulate) {
    issue_byte_rows_stage<P, T>(stage, warpgroup, sums, accumulate);
  };
  auto multiply_stage = [&](int stage_index, int) {
    const uint4* stage = stages + stage_index * kStageChunks;
    if constexpr (kPromote) {
      issue_stage(stage, partial, false);
      wgmma_wait<0>();
#pragma unroll
      for (int i = 0; i < T::kBlockM / 2; ++i) d[i] += partial[i];
    } else {
      issue_stage(stage, d, true);
      wgmma_wait<1>();  // tile - 1's group is done; this one runs on while the next tile is issued
    }
  };
  run_wgmma_ring<T::kStages>(kTilesK, load_stage, multiply_stage);

  store_wgmma_tile<P, T::kBlockM>(params, d, m_block, n_block + warp * 16);
}

}  // namespace bitjit
