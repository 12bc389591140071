#pragma once
// One block of the W4A8 kernels (tensor_wgmma_w4a8, tensor_gemm_w4a8): the output tile in raster
// order, the ring of activation tiles and weight pieces, the warps' multiply, the store.
#include "bitjit/decode/dequant.cuh"  // Zeros, which the generated Problem names
#include "bitjit/epilogue/wgmma_outputs.cuh"
#include "bitjit/mma/w4a8_warp.cuh"
#include "bitjit/pipeline/byte_rows.cuh"
#include "bitjit/pipeline/cp_async_ring.cuh"
#include "bitjit/pipeline/persistent_tiles.cuh"
#include "bitjit/pipeline/wgmma_ring.cuh"

namespace bitjit {

// P: the Problem (int8 A with sub-byte integer W, or fp8 A with int4, uint4 or fp4 W; float
// accumulation); T: the tiles (W4a8Tiling's);
// kWgmma: wgmma and tensor_wgmma's ring (a stage kept for the wgmmas still running), else mma.sync
// and a ring whose multiply is done when it returns.
template <class P, class T, bool kWgmma>
__device__ __forceinline__ void w4a8_block(const MatmulParams& params) {
  using G = W4a8Tiling<P, T>;
  // kStages x (activation tile, weight pieces), 1024-byte aligned: wgmma reads the 128-byte swizzle
  // by address bits; ldmatrix reads it by SwizzledAtoms::index, which the alignment lets ptxas fold
  // into the address (the mma.sync kernel takes 239 registers on sm_80 without it, 174 with it).
  extern __shared__ __align__(1024) uint4 stages[];
  require_swizzle_alignment(stages);

  // The grid has a block per output tile; they take the tiles in PersistentTiles' raster order
  // (kRasterGroup row blocks at a time), so the blocks running at once share activation rows and
  // weight channels in L2.
  long long m_block, n_block;
  PersistentTiles<P, T>(params.M).at((long long)blockIdx.y * gridDim.x + blockIdx.x, m_block, n_block);
  const ByteRowsLoader<T::kBlockM, T::kBlockK / 16, T::kThreads, P::K> activations(params.A, m_block, params.M);
  const typename G::Pieces weights(params.W, n_block, P::N);
  W4a8Warp<P, T, kWgmma> warp(params, n_block);
  warp.load_stage_codes(0);
  const auto load = [&](int stage, int tile) {
    activations.load(stages + stage * G::kStageChunks, tile);
    weights.load(stages + stage * G::kStageChunks + G::kActivationChunks, tile);
  };
  const auto multiply = [&](int stage, int tile) {
    warp.multiply_stage(stages + stage * G::kStageChunks, tile, min(tile + 1, G::kTilesK - 1));
  };
  if constexpr (kWgmma) run_wgmma_ring<T::kStages>(G::kTilesK, load, multiply);
  else run_cp_async_ring<T::kStages>(G::kTilesK, load, multiply);
  warp.finish();
  store_wgmma_tile<P, T::kBlockM>(params, warp.d, m_block, n_block + warp.warp_channel);
}

// The W4A8 kernels' dynamic shared memory, the ring: kStages stages of an activation tile and the
// weight pieces. The host launches them with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int w4a8_dynamic_shared_bytes() {
  return T::kStages * W4a8Tiling<P, T>::kStageChunks * int(sizeof(uint4));
}

}  // namespace bitjit
