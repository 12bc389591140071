#pragma once
// The warp-specialized block (tensor_wgmma_ws): a producer warpgroup fills a ring of stages by TMA,
// consumer warpgroups wait on each stage's "full" barrier and free it on its "empty" one.
#include "bitjit/pipeline/persistent_tiles.cuh"
#include "bitjit/ptx/cluster.cuh"
#include "bitjit/ptx/griddepcontrol.cuh"
#include "bitjit/ptx/mbarrier.cuh"
#include "bitjit/ptx/setmaxnreg.cuh"
#include "bitjit/ptx/tma.cuh"

namespace bitjit {

// A position in a ring of kStages stages guarded by barriers: the stage, and the parity of the
// barrier phase that stage is in this time round.
template <int kStages>
struct RingPosition {
  int stage = 0;
  uint32_t phase = 0;
  __device__ __forceinline__ void advance() {
    if (++stage == kStages) stage = 0, phase ^= 1u;
  }
};

// A producer's L2 prefetch that asks for nothing.
struct NoPrefetch {
  __device__ __forceinline__ void operator()(int, int, int) const {}
};

// The producer: for every stage of this block's work, wait until the consumers freed the ring
// stage, then ask the TMA for its boxes (load(stage, tile_k, m_block, n_block, barrier) issues them,
// kStageChunks 16-byte chunks in all), and for the stage a ring ahead inside the segment to be
// brought into L2 (prefetch(tile_k, m_block, n_block)). In a cluster the other blocks' consumers
// free this block's stages too (release_stage), possibly after this block's own consumers are done:
// the producer waits for the last kStages stages to be freed once more, so the block (and the
// barriers those arrivals land on) outlives every arrival.
template <class P, class T, int kStageChunks, class Load, class Prefetch = NoPrefetch>
__device__ __forceinline__ void produce_stages(const StreamKWork<P, T>& work, uint4* stages, uint64_t* full,
                                               uint64_t* empty, Load load, Prefetch prefetch = {}) {
  RingPosition<T::kStages> ring;
  work.for_each_segment([&](long long, long long m_block, long long n_block, int k_begin, int k_end) {
    for (int tile_k = k_begin; tile_k < k_end; ++tile_k) {
      mbarrier_wait(&empty[ring.stage], ring.phase ^ 1u);
      mbarrier_arrive_expect_bytes(&full[ring.stage], uint32_t(kStageChunks) * 16);
      load(stages + ring.stage * kStageChunks, tile_k, int(m_block), int(n_block), &full[ring.stage]);
      if (tile_k + T::kStages < k_end) prefetch(tile_k + T::kStages, int(m_block), int(n_block));
      ring.advance();
    }
  });
  if constexpr (T::kClusterN > 1) {
    for (int s = 0; s < T::kStages; ++s, ring.advance()) mbarrier_wait(&empty[ring.stage], ring.phase ^ 1u);
  }
}

// A consumer warp is done with ring stage `stage`: one arrival on its empty barrier, in every block of
// the cluster (each block's producer copies half of the activations into the others' stages too).
template <class T>
__device__ __forceinline__ void release_stage(uint64_t* empty, int stage) {
  if constexpr (T::kClusterN > 1) {
    if (threadIdx.x % 32 == 0)
      for (uint32_t rank = 0; rank < uint32_t(T::kClusterN); ++rank) mbarrier_arrive_in_block(&empty[stage], rank);
  } else {
    mbarrier_arrive_per_warp(&empty[stage]);
  }
}

// The TMA boxes of one stage that holds kColumns columns of activations (kColumnK k each, kBlockM
// rows, one swizzle atom column apiece), then kBlocks boxes of weight pieces (kBlockBytes bytes of
// a k-block's pieces, kBlockChunks 16-byte chunks, per box) from chunk kActivationChunks on. With the
// weights in channel tiles (kChannelTiles) a box is a k-block's pieces of the block's tiles of 16
// channels (the tensor map's dimensions: piece, channel, k-block, tile), which lands in shared
// memory as the rows-whole box does: [channel][piece].
template <int kBlockM, int kColumns, int kColumnK, int kActivationChunks, int kBlocks, int kBlockChunks, int kBlockBytes,
          bool kChannelTiles>
__device__ __forceinline__ void load_stage_boxes(const TensorMaps& maps, uint4* stage, int tile_k, int m_block,
                                                 int n_block, uint64_t* barrier) {
#pragma unroll
  for (int column = 0; column < kColumns; ++column)
    tma_load_2d(stage + column * kBlockM * 8, maps.A, tile_k * kColumns * kColumnK + kColumnK * column, m_block,
                barrier);
#pragma unroll
  for (int block = 0; block < kBlocks; ++block) {
    const int k_block = tile_k * kBlocks + block;
    if constexpr (kChannelTiles) {
      tma_load_4d(stage + kActivationChunks + block * kBlockChunks, maps.W, 0, 0, k_block, n_block / 16, barrier);
    } else {
      tma_load_2d(stage + kActivationChunks + block * kBlockChunks, maps.W, k_block * kBlockBytes, n_block, barrier);
    }
  }
}

// The L2 prefetch of one stage's weight boxes (as load_stage_boxes lays them) where the weights lie
// in channel tiles. Each box of rows whole asks for 64 bytes of each of its channels' rows, which
// the map's 256-byte L2 promotion widens into the next k-blocks of the same rows, fetched for later
// stages; a box of tiles asks for whole 1-KiB runs, so nothing later comes with it. The prefetch a
// ring of stages ahead gives the tiles that lead back.
template <int kBlocks>
__device__ __forceinline__ void prefetch_weight_boxes(const TensorMaps& maps, int tile_k, int n_block) {
#pragma unroll
  for (int block = 0; block < kBlocks; ++block) tma_prefetch_4d(maps.W, 0, 0, tile_k * kBlocks + block, n_block / 16);
}

// The block's two roles on their barriers (a full and an empty one per stage): after the
// initialization, the producer warpgroup keeps kProducerRegisters and its first thread runs
// produce(work, full, empty); the consumer warpgroups take kConsumerRegisters and run
// consume(work, full, empty). Anything shared the caller set up before is synced here too. The setup
// (barriers, the caller's shared tables) overlaps the kernel before in the stream (programmatic
// launch); global memory is touched only after wait_for_prior_grids. In a cluster of kClusterN
// blocks a stage's empty barrier counts the consumer warps of all of them (release_stage), and no
// block reaches another's barriers before all are initialized (cluster_sync).
template <class P, class T, class Produce, class Consume>
__device__ __forceinline__ void run_roles(const MatmulParams& params, int k_stages, Produce produce, Consume consume) {
  __shared__ uint64_t full[T::kStages], empty[T::kStages];
  if (threadIdx.x == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbarrier_init(&full[s], 1);                   // the producer's arrival (plus the stage's bytes)
      mbarrier_init(&empty[s], T::kThreads / 32 * T::kClusterN);  // one arrival per consumer warp of the cluster
    }
    fence_barrier_init();
  }
  if constexpr (T::kClusterN > 1) {
    cluster_sync();
  } else {
    __syncthreads();
  }
  allow_dependent_launch();
  wait_for_prior_grids();
  const StreamKWork<P, T> work(params, k_stages);
  if (threadIdx.x >= T::kThreads) {
    if constexpr (T::kConsumerRegisters > 0) release_registers<T::kProducerRegisters>();
    if (threadIdx.x == T::kThreads) produce(work, full, empty);
    return;
  }
  if constexpr (T::kConsumerRegisters > 0) claim_registers<T::kConsumerRegisters>();
  consume(work, full, empty);
}

}  // namespace bitjit
