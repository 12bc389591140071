#pragma once
// The tensor_gemm family: fp16 / bf16 activations, float32 accumulation, for M from 16 rows up, where
// each weight byte must feed many rows of activations. A block computes kBlockM rows x kBlockN
// channels of C; its warps form a kWarpsM x kWarpsN grid over that tile. K is walked in stages of
// kBlockK through a kStages-deep ring in shared memory filled by cp.async (the activation tile and
// the packed weight tile of the next stages are in flight while the warps compute on this one).
//
// The mma is the one of tensor_gemv (kernels/tensor_gemv.cuh): weights are the 16-row A operand, decoded two
// codes at a time in registers right before the mma (decode/weight_pairs.cuh), and 8 activation rows are the
// B operand, read as the same mma_runs fragments: lane t of a quad needs 4 (or 8) consecutive k of
// its row, so it reads them with one 8- (or 16-) byte shared load. ldmatrix hands each lane one word
// of four different rows, which is the standard fragment order, not this layout's; a 16-byte shared
// load per lane moves the same 512 bytes per warp instruction as ldmatrix.x4, and the activation
// tile's chunks are XOR-swizzled so those loads are free of bank conflicts.
//
// Scales and zeros are applied to the decoded weight pairs in A's 16-bit type, right before the mma:
// w = v * s, (v - z) * s, v * s - z (rescale) or (q - z) * s (quantized zeros, exact before the
// scale). Unlike tensor_gemv, which scales float32 partial sums per span, this rounds each scaled
// weight to A's type (at most two roundings: docs/formats.md), and in exchange needs no second set
// of accumulators and no sum(A) mma for zero points: the warp tile may be twice as large, which is
// what a kernel limited by the tensor cores needs.
//
// Split-K (kSplitK > 1): blockIdx.z takes a contiguous share of K's stages; each slice writes its
// float32 sums to the workspace, and the last slice to finish a tile (an atomic counter per tile)
// adds the slices in a fixed order (deterministic results), applies the epilogue and resets the
// counter for the next launch.
#include "bitjit/epilogue/split_k.cuh"
#include "bitjit/epilogue/store.cuh"
#include "bitjit/mma/gemm_warp.cuh"
#include "bitjit/pipeline/stage_loader.cuh"
#include "bitjit/ptx/cp_async.cuh"

namespace bitjit {

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kBlockK, kWarpsM, kWarpsN, kStages,
// kSplitK, kLoadBytes, kRun).
template <class P, class T>
__device__ void tensor_gemm(const MatmulParams& params) {
  using G = GemmTiling<P, T>;
  extern __shared__ uint4 stages[];  // kStages x kStageChunks
  constexpr PairDecode kHow = pair_decode<typename P::W, typename P::A>();
  __shared__ __align__(16) uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords<> : 1];
  if constexpr (kHow == PairDecode::table) fill_pair_table<typename P::W, typename P::A>(pair_table);  // synced below

  const long long m_block = (long long)blockIdx.y * T::kBlockM;
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const int tile_begin = int(blockIdx.z * G::kTilesPerSlice);
  const int tile_end = int(min(G::kTilesK, tile_begin + G::kTilesPerSlice));
  TensorGemmWarp<P, T> warp(params, pair_table, m_block, n_block);
  const StageLoader<P, T> loader(params, m_block, n_block);

  // The ring: tile tile_begin + i lives in stage i mod kStages. Every thread commits one group per
  // tile, empty past the end, so "all but kStages - 2 groups done" always means "this tile landed".
#pragma unroll
  for (int s = 0; s < T::kStages - 1; ++s) {
    if (tile_begin + s < tile_end) loader.load(stages + s * G::kStageChunks, tile_begin + s);
    commit_async_copies();
  }
  int consumed = 0, filled = T::kStages - 1;  // stage indices, advanced round the ring
  for (int tile = tile_begin; tile < tile_end; ++tile) {
    wait_async_copies<T::kStages - 2>();
    __syncthreads();  // this tile is visible to all warps, and every warp is done with the previous one
    if (tile + T::kStages - 1 < tile_end) loader.load(stages + filled * G::kStageChunks, tile + T::kStages - 1);
    commit_async_copies();
    warp.consume_stage(stages + consumed * G::kStageChunks, tile);
    consumed = consumed + 1 == T::kStages ? 0 : consumed + 1;
    filled = filled + 1 == T::kStages ? 0 : filled + 1;
  }
  wait_async_copies<0>();

  if constexpr (T::kSplitK == 1) {
    warp.for_each_output([&](long long row, long long column, float sum) { store_output<P>(params, row, column, sum); });
  } else {
    reduce_slices_and_store<P, T>(warp, params);
  }
}

// tensor_gemm's dynamic shared memory, the ring: kStages stages of kStageChunks 16-byte chunks. The
// host launches it with its own dynamic_shared_bytes, which tests/compiler/test_shared_memory.cpp
// checks against this.
template <class P, class T>
constexpr int tensor_gemm_dynamic_shared_bytes() {
  return T::kStages * GemmTiling<P, T>::kStageChunks * int(sizeof(uint4));
}

}  // namespace bitjit
