#pragma once
// tensor_wgmma_ws for W4A8 (sm_90a): tensor_wgmma_w4a8's warp (int8 activations with sub-byte
// integer weights, or fp8 activations with 4-bit weights; mma/w4a8_warp.cuh) on tensor_wgmma_ws's
// roles and persistent grid (pipeline/warp_specialized.cuh):
//   - one producer thread fills the ring by TMA: per stage kBlockK / 128 activation boxes of 128 k
//     x kBlockM rows in the 128-byte swizzle (the warp's SwizzledAtoms of 8-bit rows), and one box
//     of each k-block's pieces (64 bytes x kBlockN channels) in the 64-byte swizzle, which puts chunk
//     c of channel n at c ^ (n / 2 % 4) as SwizzledPieces' copies do;
//   - each consumer warpgroup waits on the stage's barrier, decodes and issues its wgmmas, converts
//     a group's sums where the group ends (tensor_wgmma_w4a8's multiply), and frees the stage once
//     its wgmmas are done.
// The point is the overlap tensor_wgmma_w4a8 lacks: its block barrier per stage keeps both
// warpgroups in step, so both drain their wgmmas and convert their sums at once while the tensor
// cores idle; here nothing ties one consumer warpgroup to the other.
#include "bitjit/epilogue/stream_k.cuh"
#include "bitjit/epilogue/wgmma_outputs.cuh"
#include "bitjit/mma/w4a8_warp.cuh"
#include "bitjit/pipeline/warp_specialized.cuh"
#include "bitjit/ptx/tma.cuh"

namespace bitjit {

// A stage of the W4A8 ring: the activation boxes, then a box of pieces per k-block.
template <class P, class T>
__device__ __forceinline__ void load_w4a8_stage(const TensorMaps& maps, uint4* stage, int tile_k, int m_block, int n_block,
                                                uint64_t* barrier) {
  using G = W4a8Tiling<P, T>;
  load_stage_boxes<T::kBlockM, T::kBlockK / 128, 128, G::kActivationChunks, G::kStageBlocks,
                   T::kBlockN * G::Pieces::kPieceChunks, G::Pieces::kPieceBytes, T::kChannelTiles>(
      maps, stage, tile_k, m_block, n_block, barrier);
}

// A consumer warp: per share of a tile, every stage as tensor_wgmma_w4a8 multiplies it, then the
// tile's outputs once its sums are complete. A stage is freed when all its wgmmas are done: where a
// group spans stages the last wgmma of one may still run at its end, so the warp waits for it.
template <class P, class T>
__device__ __forceinline__ void consume_w4a8_stages(const MatmulParams& params, const StreamKWork<P, T>& work,
                                                    const uint4* stages, uint64_t* full, uint64_t* empty) {
  using G = W4a8Tiling<P, T>;
  W4a8Warp<P, T, /*kWgmma=*/true> warp(params, 0);
  RingPosition<T::kStages> ring;
  work.for_each_segment([&](long long tile, long long m_block, long long n_block, int k_begin, int k_end) {
    warp.start_tile(n_block);
    warp.load_stage_codes(k_begin);
    for (int tile_k = k_begin; tile_k < k_end; ++tile_k) {
      mbarrier_wait_converged(&full[ring.stage], ring.phase);
      warp.template multiply_stage<true>(stages + ring.stage * G::kStageChunks, tile_k, min(tile_k + 1, k_end - 1), k_begin,
                                         k_end);
      if constexpr (!G::kGroupsInStage) wgmma_wait<0>();
      mbarrier_arrive_per_warp(&empty[ring.stage]);
      ring.advance();
    }
    warp.finish();
    if (share_tile_sums(work, params, tile, k_begin, k_end, warp.d))
      store_wgmma_tile<P, T::kBlockM>(params, warp.d, m_block, n_block + warp.warp_channel);
  });
}

// P: the Problem (as tensor_wgmma_w4a8's); T: the tiles (W4a8Tiling's, with kThreads = the consumer
// warpgroups' threads; the block has a producer warpgroup more), kRasterGroup, kProducerRegisters,
// kConsumerRegisters.
template <class P, class T>
__device__ void tensor_wgmma_ws_w4a8(const MatmulParams& params, const TensorMaps& maps) {
  using G = W4a8Tiling<P, T>;
  static_assert(T::kBlockK % 128 == 0 && T::kBlockM <= 256 && T::kBlockN <= 256, "TMA boxes of 128-byte rows, at most 256");
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x (activation tile, weight pieces)
  require_swizzle_alignment(stages);
  run_roles<P, T>(
      params, G::kTilesK,
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        produce_stages<P, T, G::kStageChunks>(work, stages, full, empty,
                                              [&](uint4* stage, int tile_k, int m_block, int n_block, uint64_t* barrier) {
                                                load_w4a8_stage<P, T>(maps, stage, tile_k, m_block, n_block, barrier);
                                              });
      },
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        consume_w4a8_stages<P, T>(params, work, stages, full, empty);
      });
}

// The ring, as tensor_wgmma_w4a8's: kStages stages of an activation tile and the weight pieces.
template <class P, class T>
constexpr int tensor_wgmma_ws_w4a8_dynamic_shared_bytes() {
  return T::kStages * W4a8Tiling<P, T>::kStageChunks * int(sizeof(uint4));
}

}  // namespace bitjit
