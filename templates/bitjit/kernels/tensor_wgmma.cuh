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
#include "bitjit/epilogue/split_k.cuh"
#include "bitjit/epilogue/wgmma_outputs.cuh"
#include "bitjit/mma/wgmma_decode_warp.cuh"
#include "bitjit/pipeline/stage_loader.cuh"
#include "bitjit/pipeline/wgmma_ring.cuh"

namespace bitjit {

// P: the Problem; T: the tiles (those of WgmmaDecodeWarp, with kThreads = the block's threads,
// kStages >= 3, kSplitK: blockIdx.z's share of K's stages, summed as tensor_gemm's slices are).
template <class P, class T>
__device__ void tensor_wgmma(const MatmulParams& params) {
  using G = GemmTiling<P, T>;
  using Warp = WgmmaDecodeWarp<P, T>;
  static_assert(G::kStageChunks % 64 == 0, "every stage starts 1024-byte aligned");
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x kStageChunks
  require_swizzle_alignment(stages);
  __shared__ __align__(16) uint32_t pair_table[Warp::kHow == PairDecode::table ? kPairTableWords<kHopperPairTableCopies<T::kBlockM>> : 1];
  if constexpr (Warp::kHow == PairDecode::table)
    fill_pair_table<typename P::W, typename P::A, kHopperPairTableCopies<T::kBlockM>>(pair_table);  // synced in the loop

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

// tensor_wgmma's dynamic shared memory, the ring: kStages stages of kStageChunks 16-byte chunks.
// The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_wgmma_dynamic_shared_bytes() {
  return T::kStages * GemmTiling<P, T>::kStageChunks * int(sizeof(uint4));
}

}  // namespace bitjit
