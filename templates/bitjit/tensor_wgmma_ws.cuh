#pragma once
// The tensor_wgmma_ws family (sm_90a): tensor_wgmma's decode and wgmma, warp-specialized on a
// persistent grid. The block is kThreads / 128 consumer warpgroups and one producer warpgroup:
//   - one thread of the producer fills a kStages-deep ring by TMA (tma.cuh): per stage, the
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
// producer loads both operands' rows as swizzled TMA boxes.
#include "bitjit/tensor_wgmma.cuh"
#include "bitjit/tensor_wgmma_8bit.cuh"
#include "bitjit/tma.cuh"

namespace bitjit {

// The output tiles of a launch and the order blocks take them in: row blocks fastest inside groups
// of kRasterGroup, then channel blocks, then the next group.
template <class P, class T>
struct PersistentTiles {
  long long row_blocks, tiles;
  static constexpr long long kChannelBlocks = (P::N + T::kBlockN - 1) / T::kBlockN;

  __device__ __forceinline__ explicit PersistentTiles(long long M)
      : row_blocks((M + T::kBlockM - 1) / T::kBlockM), tiles(row_blocks * kChannelBlocks) {}

  __device__ __forceinline__ void at(long long tile, long long& m_block, long long& n_block) const {
    constexpr long long kGroupTiles = T::kRasterGroup * kChannelBlocks;
    const long long group = tile / kGroupTiles, first_row_block = group * T::kRasterGroup;
    const long long rows = min((long long)T::kRasterGroup, row_blocks - first_row_block);
    const long long in_group = tile - group * kGroupTiles;
    m_block = (first_row_block + in_group % rows) * T::kBlockM;
    n_block = in_group / rows * T::kBlockN;
  }
};

// The persistent grid's work: whole tiles in the tile order, blockIdx.x, + gridDim.x, ..., except the
// last params.stream_k_tiles (the host's choice, launch_shape): their k-stages, tile after tile, are
// cut into gridDim.x ranges of equal length, one per block (stream-K), so that a short last wave
// does not leave SMs idle (80 tiles on 132 SMs would run at 61 %). Such a range may start and end
// inside a tile; the blocks sharing a tile add their sums through the workspace (share_tile_sums).
template <class P, class T>
struct StreamKWork {
  PersistentTiles<P, T> tiles;
  long long tiles_k, first_shared, shared_units, per_block;

  __device__ __forceinline__ StreamKWork(const MatmulParams& params, int k_stages)
      : tiles(params.M),
        tiles_k(k_stages),
        first_shared(tiles.tiles - params.stream_k_tiles),
        shared_units(params.stream_k_tiles * k_stages),
        per_block(max(1ll, (shared_units + gridDim.x - 1) / gridDim.x)) {}

  // Block `block`'s range of the shared stages (counted from the first shared tile's first).
  __device__ __forceinline__ long long begin(long long block) const { return min(block * per_block, shared_units); }
  __device__ __forceinline__ long long end(long long block) const { return min(begin(block) + per_block, shared_units); }
  __device__ __forceinline__ long long first_tile(long long block) const { return first_shared + begin(block) / tiles_k; }
  // The blocks whose ranges hold some of shared tile `tile`'s stages.
  __device__ __forceinline__ long long first_block(long long tile) const { return (tile - first_shared) * tiles_k / per_block; }
  __device__ __forceinline__ long long last_block(long long tile) const {
    return ((tile - first_shared + 1) * tiles_k - 1) / per_block;
  }

  // Calls segment(tile, m_block, n_block, k_begin, k_end) for each whole tile and each piece of a
  // shared tile this block takes, in order (stages k_begin .. k_end - 1 of the tile's tiles_k).
  template <class Segment>
  __device__ __forceinline__ void for_each_segment(Segment segment) const {
    long long m_block, n_block;
    for (long long tile = blockIdx.x; tile < first_shared; tile += gridDim.x) {
      tiles.at(tile, m_block, n_block);
      segment(tile, m_block, n_block, 0, int(tiles_k));
    }
    const long long last = end(blockIdx.x);
    for (long long unit = begin(blockIdx.x); unit < last;) {
      const long long tile = first_shared + unit / tiles_k;
      const int k_begin = int(unit % tiles_k);
      const int k_end = int(min(tiles_k, k_begin + (last - unit)));
      tiles.at(tile, m_block, n_block);
      segment(tile, m_block, n_block, k_begin, k_end);
      unit += k_end - k_begin;
    }
  }
};

__device__ __forceinline__ uint32_t sum_bits(float sum) { return __float_as_uint(sum); }
__device__ __forceinline__ uint32_t sum_bits(int sum) { return uint32_t(sum); }
__device__ __forceinline__ void add_sum_bits(float& sum, uint32_t bits) { sum += __uint_as_float(bits); }
__device__ __forceinline__ void add_sum_bits(int& sum, uint32_t bits) { sum += int(bits); }

__device__ __forceinline__ uint32_t load_l2_word(const uint32_t* address) {
  uint32_t value;
  asm volatile("ld.global.cg.b32 %0, [%1];" : "=r"(value) : "l"(address));  // another block's sums: not via L1
  return value;
}

// counter += value at GPU scope as a release of the warp's stores before it (ordered by __syncwarp)
// and an acquire of the stores that other blocks released into it: cheaper than two full fences
// (__threadfence is fence.sc, a MEMBAR.SC that waited 4 % of the stall samples at qkv M = 64).
__device__ __forceinline__ unsigned int add_acquire_release(unsigned int* counter, unsigned int value) {
  unsigned int before;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(before) : "l"(counter), "r"(value) : "memory");
  return before;
}

// After a block multiplied stages k_begin .. k_end - 1 of `tile` into a consumer thread's sums d:
// true if d holds the tile's complete sums, which the caller then stores. A piece of a tile goes to
// the workspace, slot (block, 0) for the block's first tile and (block, 1) for its last, laid out by
// thread so that the same thread of every sharing block reads it back coalesced; each warp counts
// the stages done on its own counter of the tile, and the warp that completes the count adds every
// block's piece (its own read back) in block order, the same sums whichever block finishes last,
// and resets the counter for the next launch. No warp waits for another block, so the persistent
// grid cannot deadlock.
template <class P, class T, class Acc, int kCount>
__device__ __forceinline__ bool share_tile_sums(const StreamKWork<P, T>& work, const MatmulParams& params, long long tile,
                                                int k_begin, int k_end, Acc (&d)[kCount]) {
  if (k_begin == 0 && k_end == work.tiles_k) return true;
  uint32_t* slots = static_cast<uint32_t*>(params.workspace);  // [gridDim.x][2][kCount][kThreads]
  const auto piece = [&](long long block, long long of_tile) {
    const long long slot = block * 2 + (of_tile == work.first_tile(block) ? 0 : 1);
    return slots + slot * kCount * T::kThreads + threadIdx.x;
  };
  uint32_t* mine = piece(blockIdx.x, tile);
#pragma unroll
  for (int i = 0; i < kCount; ++i) mine[i * T::kThreads] = sum_bits(d[i]);
  __syncwarp();  // orders the warp's stores before lane 0's release
  unsigned int* counter = params.tile_counters + tile * (T::kThreads / 32) + threadIdx.x / 32;
  unsigned int done = 0;
  if (threadIdx.x % 32 == 0) done = add_acquire_release(counter, unsigned(k_end - k_begin)) + unsigned(k_end - k_begin);
  done = __shfl_sync(0xffffffffu, done, 0);
  if (done != unsigned(work.tiles_k)) return false;
  __syncwarp();  // orders lane 0's acquire of the other blocks' pieces before every lane's reads
#pragma unroll
  for (int i = 0; i < kCount; ++i) d[i] = Acc(0);
  // Block by block, this one's piece read back too: no second set of kCount registers.
  for (long long block = work.first_block(tile); block <= work.last_block(tile); ++block) {
    const uint32_t* from = piece(block, tile);
#pragma unroll
    for (int i = 0; i < kCount; ++i) add_sum_bits(d[i], load_l2_word(from + i * T::kThreads));
  }
  if (threadIdx.x % 32 == 0) *counter = 0u;
  return true;
}

// The producer: for every stage of this block's work, wait until the consumers freed the ring
// stage, then ask the TMA for its boxes (load(stage, tile_k, m_block, n_block, barrier) issues them,
// kStageChunks 16-byte chunks in all).
template <class P, class T, int kStageChunks, class Load>
__device__ __forceinline__ void produce_stages(const StreamKWork<P, T>& work, uint4* stages, uint64_t* full,
                                               uint64_t* empty, Load load) {
  RingPosition<T::kStages> ring;
  work.for_each_segment([&](long long, long long m_block, long long n_block, int k_begin, int k_end) {
    for (int tile_k = k_begin; tile_k < k_end; ++tile_k) {
      mbarrier_wait(&empty[ring.stage], ring.phase ^ 1u);
      mbarrier_arrive_expect_bytes(&full[ring.stage], uint32_t(kStageChunks) * 16);
      load(stages + ring.stage * kStageChunks, tile_k, int(m_block), int(n_block), &full[ring.stage]);
      ring.advance();
    }
  });
}

// The fp16 / bf16 kernel's stage: kBlockK / 64 activation boxes of 64 k x kBlockM rows (one
// 128-byte swizzle atom column each), then one weight box of one k-block x kBlockN channels per
// k-block.
template <class P, class T>
__device__ __forceinline__ void load_decoded_stage(const TensorMaps& maps, uint4* stage, int tile_k, int m_block,
                                                   int n_block, uint64_t* barrier) {
  using G = GemmTiling<P, T>;
#pragma unroll
  for (int column = 0; column < T::kBlockK / 64; ++column)
    tma_load_2d(stage + column * T::kBlockM * 8, maps.A, tile_k * T::kBlockK + 64 * column, m_block, barrier);
#pragma unroll
  for (int block = 0; block < G::kStageBlocks; ++block)
    tma_load_2d(stage + G::kActivationChunks + block * T::kBlockN * G::kChunksPerPiece, maps.W,
                (tile_k * G::kStageBlocks + block) * G::kPieceBytes, n_block, barrier);
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

// The block's two roles on their barriers (a full and an empty one per stage): after the
// initialization, the producer warpgroup keeps kProducerRegisters and its first thread runs
// produce(work, full, empty); the consumer warpgroups take kConsumerRegisters and run
// consume(work, full, empty). Anything shared the caller set up before is synced here too. The setup
// (barriers, the caller's shared tables) overlaps the kernel before in the stream (programmatic
// launch); global memory is touched only after wait_for_prior_grids.
template <class P, class T, class Produce, class Consume>
__device__ __forceinline__ void run_roles(const MatmulParams& params, int k_stages, Produce produce, Consume consume) {
  __shared__ uint64_t full[T::kStages], empty[T::kStages];
  if (threadIdx.x == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbarrier_init(&full[s], 1);                   // the producer's arrival (plus the stage's bytes)
      mbarrier_init(&empty[s], T::kThreads / 32);  // one arrival per consumer warp
    }
    fence_barrier_init();
  }
  __syncthreads();
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

// P: the Problem; T: the tiles (those of WgmmaDecodeWarp, with kThreads = the consumer warpgroups'
// threads; the block has a producer warpgroup more), kStages >= 2, kRasterGroup, kProducerRegisters,
// kConsumerRegisters.
template <class P, class T>
__device__ void tensor_wgmma_ws(const MatmulParams& params, const TensorMaps& maps) {
  using G = GemmTiling<P, T>;
  using Warp = WgmmaDecodeWarp<P, T>;
  static_assert(G::kStageChunks % 64 == 0, "every stage starts 1024-byte aligned");
  static_assert(T::kBlockM <= 256 && T::kBlockN <= 256 && G::kPieceBytes % 16 == 0, "TMA boxes: at most 256 rows, 16-byte rows");
  extern __shared__ __align__(1024) uint4 stages[];  // kStages x kStageChunks
  require_swizzle_alignment(stages);
  __shared__ uint32_t pair_table[Warp::kHow == PairDecode::table ? kPairTableWords : 1];
  if constexpr (Warp::kHow == PairDecode::table) fill_pair_table<typename P::W, typename P::A>(pair_table);  // synced in run_roles
  run_roles<P, T>(
      params, int(G::kTilesK),
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        produce_stages<P, T, G::kStageChunks>(work, stages, full, empty,
                                              [&](uint4* stage, int tile_k, int m_block, int n_block, uint64_t* barrier) {
                                                load_decoded_stage<P, T>(maps, stage, tile_k, m_block, n_block, barrier);
                                              });
      },
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        consume_stages<P, T>(params, pair_table, work, stages, full, empty);
      });
}

// W8A8 consumers: per tile, every stage's wgmmas from shared memory (issue_byte_rows_stage, as
// tensor_wgmma_8bit). int8 keeps one stage's group running while the next is issued and frees a
// stage once its group is done; fp8 adds each stage's products to float32 sums (the precision
// argument of tensor_wgmma_8bit.cuh) and frees the stage at once.
template <class P, class T>
__device__ __forceinline__ void consume_byte_rows_stages(const MatmulParams& params, const StreamKWork<P, T>& work,
                                                         const uint4* stages, uint64_t* full, uint64_t* empty) {
  using Acc = typename P::Accum;
  using S = ByteRowsStage<T>;
  constexpr bool kPromote = !is_same<Acc, int>::value;
  const int warp = int(threadIdx.x) / 32;
  const auto release = [&](int stage) { mbarrier_arrive_per_warp(&empty[stage]); };
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

// W8A8 (activations and weights of one 8-bit type, no scales): the same roles and grid, both
// operands loaded by TMA as boxes of 128 bytes of k x kBlockM (activations) or kBlockN (weights)
// rows in the 128-byte swizzle. T: kThreads (consumer threads), kBlockM, kBlockN, kBlockK (128 or
// 256), kStages, kRasterGroup, kProducerRegisters, kConsumerRegisters.
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
#pragma unroll
              for (int column = 0; column < T::kBlockK / 128; ++column) {
                const int k = tile_k * T::kBlockK + 128 * column;
                tma_load_2d(stage + column * T::kBlockM * 8, maps.A, k, m_block, barrier);
                tma_load_2d(stage + S::kActivationChunks + column * T::kBlockN * 8, maps.W, k, n_block, barrier);
              }
            });
      },
      [&](const StreamKWork<P, T>& work, uint64_t* full, uint64_t* empty) {
        consume_byte_rows_stages<P, T>(params, work, stages, full, empty);
      });
}

}  // namespace bitjit
