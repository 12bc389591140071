#pragma once
// tensor_wgmma for W4A8 (sm_90a): int8 activations, sub-byte integer weights (int4, uint4, int2,
// uint2, int1, uint1) with optional scales per group or channel, float32 sums. The weights lie in
// tensor_gemv_8bit's mma_runs layout (byte lanes, runs of at least 32 k), so a dynamic-M config
// runs its few-row buckets on tensor_gemv_8bit and its many-row buckets here from one copy.
//
// Each warpgroup's wgmma m64nNk32 computes D[64 channels, kBlockM rows] += Wbytes[64, 32] *
// A[kBlockM, 32]^T: the weight bytes (WgmmaCodeBytes: the value times a power of two, exact) as the
// register operand, decoded step by step from the stage's pieces; the activations, plain int8 rows,
// as the descriptor operand from the 128-byte swizzle. Sums are int32 per scale group (exact: the
// host bounds the group so |sum| < 2^31), converted, scaled and added into float32 d when the
// group's wgmmas are done.
//
// The ring is tensor_wgmma's (pipeline/wgmma_ring.cuh): kStages - 2 stages prefetched by cp.async,
// one multiplied, one whose last wgmma may still run. Copies past M, N or K are zero-filled.
#include "bitjit/decode/dequant.cuh"  // Zeros, which the generated Problem names
#include "bitjit/epilogue/wgmma_outputs.cuh"
#include "bitjit/mma/w4a8_warp.cuh"
#include "bitjit/pipeline/byte_rows.cuh"
#include "bitjit/pipeline/persistent_tiles.cuh"
#include "bitjit/pipeline/wgmma_ring.cuh"

namespace bitjit {

// P: the Problem (int8 A, sub-byte integer W, float accumulation); T: the tiles (W4a8Tiling's).
template <class P, class T>
__device__ void tensor_wgmma_w4a8(const MatmulParams& params) {
  using G = W4a8Tiling<P, T>;
  using Warp = W4a8Warp<P, T>;
  static_assert(is_same<typename P::A, fmt::Int8>::value && !is_same<typename P::Accum, int>::value,
                "int8 activations, float32 sums");
  static_assert(P::kZerosMode == Zeros::none, "no zero points");
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x (activation tile, weight pieces)
  require_swizzle_alignment(stages);

  // The grid has a block per output tile; they take the tiles in PersistentTiles' raster order
  // (kRasterGroup row blocks at a time), so the blocks running at once share activation rows and
  // weight channels in L2.
  long long m_block, n_block;
  PersistentTiles<P, T>(params.M).at((long long)blockIdx.y * gridDim.x + blockIdx.x, m_block, n_block);
  const ByteRowsLoader<T::kBlockM, T::kBlockK / 16, T::kThreads, P::K> activations(params.A, m_block, params.M);
  const typename G::Pieces weights(params.W, n_block, P::N);
  Warp warp(params, n_block);
  warp.load_stage_codes(0);
  run_wgmma_ring<T::kStages>(
      G::kTilesK,
      [&](int stage, int tile) {
        activations.load(stages + stage * G::kStageChunks, tile);
        weights.load(stages + stage * G::kStageChunks + G::kActivationChunks, tile);
      },
      [&](int stage, int tile) {
        warp.multiply_stage(stages + stage * G::kStageChunks, tile, min(tile + 1, G::kTilesK - 1));
      });
  warp.finish();
  store_wgmma_tile<P, T::kBlockM>(params, warp.d, m_block, n_block + warp.warp_channel);
}

// tensor_wgmma_w4a8's dynamic shared memory, the ring: kStages stages of an activation tile and the
// weight pieces. The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_wgmma_w4a8_dynamic_shared_bytes() {
  return T::kStages * W4a8Tiling<P, T>::kStageChunks * int(sizeof(uint4));
}

}  // namespace bitjit
