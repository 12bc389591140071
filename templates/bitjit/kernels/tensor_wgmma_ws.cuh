#pragma once
// The tensor_wgmma_ws family (sm_90a): tensor_wgmma's decode and wgmma, warp-specialized on a
// persistent grid. The block is kThreads / 128 consumer warpgroups and one producer warpgroup:
//   - one thread of the producer fills a kStages-deep ring by TMA (ptx/tma.cuh): per stage, the
//     activation boxes (64 k x kBlockM rows each, in wgmma's 128-byte swizzle) and the weight boxes
//     (one k-block's bytes x kBlockN channels), signalled on the stage's "full" barrier;
//   - each consumer warpgroup waits on that barrier, decodes its 64 channels' weights into wgmma's
//     register operand step by step and issues the wgmmas (WgmmaDecodeWarp, as tensor_wgmma), and
//     frees the stage on its "empty" barrier (one arrival per consumer warp) once the next stage's
//     first wgmma is issued and the stage's last is done: the tensor cores never drain between
//     stages of a tile.
// No block-wide barrier and no copy instruction in the consumers' loop: a warpgroup that finishes a
// stage goes on while the other still multiplies, and the producer keeps the ring full across
// output tiles. The grid is at most one block per SM; each block takes the output tiles blockIdx.x,
// + gridDim.x, ..., in groups of kRasterGroup row blocks (blocks running at once share activation
// rows and weight channels in L2), and where the last wave would be short the last tiles are cut
// along K into equal shares of k-stages instead (stream-K, StreamKWork); a block stores each tile it
// completes from registers while the producer already loads the next tile's stages. The producer warpgroup keeps kProducerRegisters per thread and gives
// the rest to the consumers (kConsumerRegisters; 0: the launch's share is enough): the register file
// is split among the SM's four schedulers, so even a lone producer warp would cost a warpgroup's
// share.
//
// tensor_wgmma_ws_8bit runs W8A8 (tensor_wgmma_8bit's operands and wgmma) the same way: the
// producer loads both operands' rows as swizzled TMA boxes; with kClusterN 2 two blocks on the same
// rows (a thread-block cluster, ptx/cluster.cuh) each load half of the activation box into both
// (load_activation_boxes), and a stage is free once both blocks' consumers are done with it.
#include "bitjit/epilogue/stream_k.cuh"
#include "bitjit/epilogue/wgmma_outputs.cuh"
#include "bitjit/mma/byte_rows_wgmma.cuh"
#include "bitjit/mma/wgmma_decode_warp.cuh"
#include "bitjit/pipeline/warp_specialized.cuh"
#include "bitjit/ptx/tma.cuh"

namespace bitjit {

// The fp16 / bf16 kernel's stage: kBlockK / 64 activation boxes of 64 k x kBlockM rows (one
// 128-byte swizzle atom column each), then one weight box of one k-block x kBlockN channels per
// k-block.
template <class P, class T>
__device__ __forceinline__ void load_decoded_stage(const TensorMaps& maps, uint4* stage, int tile_k, int m_block,
                                                   int n_block, uint64_t* barrier) {
  using G = GemmTiling<P, T>;
  load_stage_boxes<T::kBlockM, T::kBlockK / 64, 64, G::kActivationChunks, G::kStageBlocks, T::kBlockN * G::kChunksPerPiece,
                   G::kPieceBytes, T::kChannelTiles>(maps, stage, tile_k, m_block, n_block, barrier);
}

// A consumer warp: per piece of a tile, every stage as tensor_wgmma multiplies it, then the tile's
// outputs once its sums are complete.
template <class P, class T>
__device__ __forceinline__ void consume_stages(const MatmulParams& params, const uint32_t* pair_table,
                                               const StreamKWork<P, T>& work, const uint4* stages, uint64_t* full,
                                               uint64_t* empty) {
  using G = GemmTiling<P, T>;
  WgmmaDecodeWarp<P, T> warp(params, pair_table, int(threadIdx.x) / 32);
  RingPosition<T::kStages> ring;
  work.for_each_segment([&](long long tile, long long m_block, long long n_block, int k_begin, int k_end) {
    warp.start_tile(n_block);
    warp.load_stage_codes(k_begin);
    int running = -1;  // the stage whose last wgmma may still run
    for (int tile_k = k_begin; tile_k < k_end; ++tile_k) {
      mbarrier_wait_converged(&full[ring.stage], ring.phase);
      warp.multiply_stage(stages + ring.stage * G::kStageChunks, tile_k, min(tile_k + 1, k_end - 1), [&] {
        if (running >= 0) mbarrier_arrive_per_warp(&empty[running]);
      });
      running = ring.stage;
      ring.advance();
    }
    warp.finish();
    mbarrier_arrive_per_warp(&empty[running]);
    if (share_tile_sums(work, params, tile, k_begin, k_end, warp.d))
      store_wgmma_tile<P, T::kBlockM>(params, warp.d, m_block, n_block + warp.warp_channel);
  });
}

// P: the Problem; T: the tiles (those of WgmmaDecodeWarp, with kThreads = the consumer warpgroups'
// threads; the block has a producer warpgroup more), kStages >= 2, kRasterGroup, kProducerRegisters,
// kConsumerRegisters.
template <class P, class T>
__device__ void tensor_wgmma_ws(const MatmulParams& params, const TensorMaps& maps) {
  using G = GemmTiling<P, T>;
  using Warp = WgmmaDecodeWarp<P, T>;
  static_assert(G::kStageChunks % 64 == 0, "every stage starts 1024-byte aligned");
  static_assert(T::kBlockM <= 256 && T::kBlockN <= 256 && G::kPieceBytes % 16 == 0, "TMA boxes: at most 256 rows, 16-byte rows");
  // Weights in channel tiles: the stage a ring ahead prefetched into L2 (prefetch_weight_boxes) for
  // tiles of 128 rows or more. On the H200 (int4 g128 and uint4 + packed zeros, 70B shapes, a
  // dynamic M of buckets 1 ... 4096, against no prefetch in the same run) it took 0.92-1.04 of the
  // time at 256 rows (int4 gate_up 397.9 -> 365.2 us; 366 in two later calls, static 361) and
  // 0.95-1.01 at 4096, but 0.97-1.05 at 64 rows, whose kernels stay without it (their SASS as
  // before; bench/results/2026-12-01-h200-l2-ahead).
  constexpr bool kPrefetchAhead = T::kChannelTiles && T::kBlockM >= 128;
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x kStageChunks
  require_swizzle_alignment(stages);
  __shared__ __align__(16) uint32_t pair_table[Warp::kHow == PairDecode::table ? kPairTableWords<kHopperPairTableCopies<T::kBlockM>> : 1];
  if constexpr (Warp::kHow == PairDecode::table)
    fill_pair_table<typename P::W, typename P::A, kHopperPairTableCopies<T::kBlockM>>(pair_table);  // synced in run_roles
  run_roles<P, T>(
      params, int(G::kTilesK),
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        produce_stages<P, T, G::kStageChunks>(
            work, stages, full, empty,
            [&](uint4* stage, int tile_k, int m_block, int n_block, uint64_t* barrier) {
              load_decoded_stage<P, T>(maps, stage, tile_k, m_block, n_block, barrier);
            },
            [&](int tile_k, int, int n_block) {
              if constexpr (kPrefetchAhead) prefetch_weight_boxes<G::kStageBlocks>(maps, tile_k, n_block);
            });
      },
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        consume_stages<P, T>(params, pair_table, work, stages, full, empty);
      });
}

// W8A8 consumers: per tile, every stage's wgmmas from shared memory (issue_byte_rows_stage, as
// tensor_wgmma_8bit). int8 keeps one stage's group running while the next is issued and frees a
// stage once its group is done; fp8 adds each stage's products to float32 sums (the precision
// argument of kernels/tensor_wgmma_8bit.cuh) and frees the stage at once.
template <class P, class T>
__device__ __forceinline__ void consume_byte_rows_stages(const MatmulParams& params, const StreamKWork<P, T>& work,
                                                         const uint4* stages, uint64_t* full, uint64_t* empty) {
  using Acc = typename P::Accum;
  using S = ByteRowsStage<T>;
  constexpr bool kPromote = !is_same<Acc, int>::value;
  const int warp = int(threadIdx.x) / 32;
  const auto release = [&](int stage) { release_stage<T>(empty, stage); };
  Acc d[T::kBlockM / 2], partial[T::kBlockM / 2];
  RingPosition<T::kStages> ring;
  work.for_each_segment([&](long long tile, long long m_block, long long n_block, int k_begin, int k_end) {
#pragma unroll
    for (int i = 0; i < T::kBlockM / 2; ++i) d[i] = Acc(0);
    int running = -1;  // int8: the stage whose group may still run
    for (int tile_k = k_begin; tile_k < k_end; ++tile_k) {
      mbarrier_wait_converged(&full[ring.stage], ring.phase);
      const uint4* stage = stages + ring.stage * S::kChunks;
      if constexpr (kPromote) {
        issue_byte_rows_stage<P, T>(stage, warp / 4, partial, false);
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < T::kBlockM / 2; ++i) d[i] += partial[i];
        release(ring.stage);
      } else {
        issue_byte_rows_stage<P, T>(stage, warp / 4, d, true);
        wgmma_wait<1>();  // the stage before is done
        if (running >= 0) release(running);
        running = ring.stage;
      }
      ring.advance();
    }
    if constexpr (!kPromote) {
      wgmma_wait<0>();
      wgmma_fence_accumulators(d);
      if (running >= 0) release(running);
    }
    if (share_tile_sums(work, params, tile, k_begin, k_end, d)) store_wgmma_tile<P, T::kBlockM>(params, d, m_block, n_block + warp * 16);
  });
}

// One W8A8 stage's activation boxes (kBlockK / 128 of 128 bytes of k x kBlockM rows). In a pair of
// blocks along N (kClusterN 2: the same rows, channel blocks side by side) each block's TMA copies
// its half of the rows into both blocks' stages (the tensor map's box is kBlockM / 2 rows; a half
// starts at a multiple of 8 rows, so the 128-byte swizzle lands as for the whole box), and each
// block's full barrier counts both halves' bytes: the pair reads the activations from L2 once.
template <class T>
__device__ __forceinline__ void load_activation_boxes(const TensorMaps& maps, uint4* stage, int tile_k, int m_block,
                                                      uint64_t* barrier) {
  constexpr int kRows = T::kBlockM / T::kClusterN;
  static_assert(kRows % 8 == 0, "a cluster's share of the rows is whole 8-row swizzle atoms");
#pragma unroll
  for (int column = 0; column < T::kBlockK / 128; ++column) {
    const int k = tile_k * T::kBlockK + 128 * column;
    uint4* box = stage + column * T::kBlockM * 8;
    if constexpr (T::kClusterN > 1) {
      const int rank = int(cluster_block_rank());
      tma_load_2d_multicast(box + rank * kRows * 8, maps.A, k, m_block + rank * kRows, barrier,
                            uint16_t((1u << T::kClusterN) - 1));
    } else {
      tma_load_2d(box, maps.A, k, m_block, barrier);
    }
  }
}

// W8A8 (activations and weights of one 8-bit type, no scales): the same roles and grid, both
// operands loaded by TMA as boxes of 128 bytes of k x kBlockM (activations) or kBlockN (weights)
// rows in the 128-byte swizzle. T: kThreads (consumer threads), kBlockM, kBlockN, kBlockK (128 or
// 256), kStages, kRasterGroup, kClusterN (1, or 2: pairs sharing the activation boxes),
// kProducerRegisters, kConsumerRegisters.
template <class P, class T>
__device__ void tensor_wgmma_ws_8bit(const MatmulParams& params, const TensorMaps& maps) {
  using A = typename P::A;
  using S = ByteRowsStage<T>;
  static_assert(is_same<A, typename P::W>::value && A::kBits == 8, "activations and weights of one 8-bit type");
  static_assert(T::kBlockK % 128 == 0 && T::kBlockM <= 256 && T::kBlockN <= 256, "TMA boxes of 128-byte rows, at most 256");
  constexpr int kTilesK = int((P::K + T::kBlockK - 1) / T::kBlockK);
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x (activation tile, weight tile)
  require_swizzle_alignment(stages);
  run_roles<P, T>(
      params, kTilesK,
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        produce_stages<P, T, S::kChunks>(
            work, stages, full, empty,
            [&](uint4* stage, int tile_k, int m_block, int n_block, uint64_t* barrier) {
              load_activation_boxes<T>(maps, stage, tile_k, m_block, barrier);
#pragma unroll
              for (int column = 0; column < T::kBlockK / 128; ++column) {
                const int k = tile_k * T::kBlockK + 128 * column;
                tma_load_2d(stage + S::kActivationChunks + column * T::kBlockN * 8, maps.W, k, n_block, barrier);
              }
            });
      },
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        consume_byte_rows_stages<P, T>(params, work, stages, full, empty);
      });
}

// tensor_wgmma_ws's dynamic shared memory, the TMA ring: kStages stages of kStageChunks 16-byte
// chunks. The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_wgmma_ws_dynamic_shared_bytes() {
  return T::kStages * GemmTiling<P, T>::kStageChunks * int(sizeof(uint4));
}

// tensor_wgmma_ws_8bit's dynamic shared memory, the TMA ring: kStages stages of an activation and a
// weight tile. The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_wgmma_ws_8bit_dynamic_shared_bytes() {
  return T::kStages * ByteRowsStage<T>::kChunks * int(sizeof(uint4));
}

}  // namespace bitjit
