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
#include "bitjit/decode/dequant.cuh"  // Zeros, which the generated Problem names
#include "bitjit/epilogue/wgmma_outputs.cuh"
#include "bitjit/mma/byte_rows_wgmma.cuh"
#include "bitjit/pipeline/byte_rows.cuh"
#include "bitjit/pipeline/wgmma_ring.cuh"

namespace bitjit {

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

// tensor_wgmma_8bit's dynamic shared memory, the ring: kStages stages of an activation and a weight
// tile. The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_wgmma_8bit_dynamic_shared_bytes() {
  return T::kStages * ByteRowsStage<T>::kChunks * int(sizeof(uint4));
}

}  // namespace bitjit
