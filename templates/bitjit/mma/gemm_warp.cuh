#pragma once
// tensor_gemm's warp: its share of the block tile's accumulators and a stage's decode-and-mma loop.
#include "bitjit/decode/group_scales.cuh"
#include "bitjit/mma/mma_sync.cuh"
#include "bitjit/pipeline/stage_loader.cuh"

namespace bitjit {

// One warp's share of the block tile: its accumulators and the loops over a stage.
template <class P, class T>
struct TensorGemmWarp {
  static_assert(T::kRun == 4 || T::kRun == 8, "runs of 4 or 8 k (the swizzle of SwizzledRows is made for those)");
  using G = GemmTiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  using Math = PairMath<A>;
  static constexpr PairDecode kHow = pair_decode<W, A>();
  static constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  // One scale per channel and no zero points: the fragments hold the codes' own values and
  // for_each_output multiplies each channel's float sums by its scale once (as the Hopper kernels'
  // kScaleSums), instead of loading the scales every k-block and multiplying every pair by them.
  static constexpr bool kScaleSums = kScalesOnSums<P>;

  const MatmulParams& params;
  const uint32_t* pair_table;
  int lane, g, t;           // mma fragment coordinates: row/column group, k pair
  int warp_row, warp_channel;  // the warp tile's first row and channel inside the block tile
  long long m_block, n_block;
  long long channel[G::kNTiles][2];  // this lane's channels g and g + 8 per tile (clamped to N - 1)
  // Shared-memory offsets fixed per lane, so every fragment load is [base + constant]. Run R of a
  // stage (k = 4 * kRun * R + kRun * t for this lane) lies in chunk a_chunk[R % kRunPeriod] +
  // 8 * (R / kRunPeriod) of row warp_row + g: the swizzle only permutes chunks inside aligned groups
  // of 8 (64 k), which kRunPeriod runs fill.
  static constexpr int kRunPeriod = 64 / (4 * T::kRun);
  int a_chunk[kRunPeriod];
  int w_offset;  // bytes: this lane's piece of channel warp_channel + g in k-block 0
  // acc[tile][m-tile][c]: c0, c1 = channel g, rows 2t, 2t + 1 of the m-tile; c2, c3 = channel g + 8.
  float acc[G::kNTiles][G::kMTiles][4];

  __device__ __forceinline__ TensorGemmWarp(const MatmulParams& p, const uint32_t* table, long long m0, long long n0)
      : params(p), pair_table(table), m_block(m0), n_block(n0) {
    lane = int(threadIdx.x) % 32;
    g = lane / 4;
    t = lane % 4;
    const int warp = int(threadIdx.x) / 32;
    warp_row = (warp / T::kWarpsN) * G::kWarpRows;
    warp_channel = (warp % T::kWarpsN) * G::kWarpChannels;
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        channel[tile][half] = min(n_block + warp_channel + tile * 16 + g + 8 * half, P::N - 1);
#pragma unroll
    for (int r = 0; r < kRunPeriod; ++r) {
      const int row = warp_row + g;
      a_chunk[r] = row * G::kChunksPerRow + swizzled_chunk<T::kRun>(row, (4 * T::kRun * r + T::kRun * t) / 8);
    }
    w_offset = (warp_channel + g) * G::kPieceBytes + t * T::kLoadBytes;
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int mt = 0; mt < G::kMTiles; ++mt)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[tile][mt][c] = 0.0f;
  }

  // The B fragments of one mma step for every m-tile: this lane's 4 consecutive k of rows g (+ 8 mt)
  // in run R of the stage; with runs of 8, one 16-byte load serves two steps (kept in quads).
  __device__ __forceinline__ void activation_fragments(const uint4* stage, int R, int step,
                                                       uint32_t (&quads)[G::kMTiles][4],
                                                       uint32_t (&fragments)[G::kMTiles][2]) const {
    const uint4* lane_chunk = stage + a_chunk[R % kRunPeriod] + 8 * (R / kRunPeriod);
#pragma unroll
    for (int mt = 0; mt < G::kMTiles; ++mt) {
      const uint4* chunk = lane_chunk + mt * 8 * G::kChunksPerRow;
      if constexpr (T::kRun == 8) {
        if (step % 2 == 0) {
          const uint4 v = *chunk;
          quads[mt][0] = v.x, quads[mt][1] = v.y, quads[mt][2] = v.z, quads[mt][3] = v.w;
        }
        fragments[mt][0] = quads[mt][2 * (step % 2)];
        fragments[mt][1] = quads[mt][2 * (step % 2) + 1];
      } else {  // runs of 4: one step per run, lanes t = 2u, 2u + 1 share chunk u
        const uint2 v = reinterpret_cast<const uint2*>(chunk)[t % 2];
        fragments[mt][0] = v.x, fragments[mt][1] = v.y;
      }
    }
  }

  __device__ __forceinline__ void group_pairs(long long group, uint32_t (&scale)[G::kNTiles][2],
                                              uint32_t (&zero)[G::kNTiles][2]) const {
    load_group_pairs<P>(params, channel, group, scale, zero);
  }

  // One k-block of a stage: the warp's weights from shared memory, then span by span the mmas.
  __device__ __forceinline__ void consume_block(const uint4* stage, int block, long long k_block) {
    const uint8_t* lane_weights = reinterpret_cast<const uint8_t*>(stage + G::kActivationChunks) + w_offset;
    uint32_t words[G::kNTiles][2][G::kWords];
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        load_shared_words<T::kLoadBytes>(lane_weights + (block * T::kBlockN + tile * 16 + 8 * half) * G::kPieceBytes,
                                         words[tile][half]);

#pragma unroll
    for (int span = 0; span < G::kRuns / G::kRunsPerSpan; ++span) {
      const long long group = (k_block * G::kKBlock + 4 * T::kRun * G::kRunsPerSpan * span) / G::kGroupSize;
      uint32_t scale[G::kNTiles][2], zero[G::kNTiles][2];
      if constexpr (!kScaleSums) group_pairs(group, scale, zero);
#pragma unroll
      for (int run = span * G::kRunsPerSpan; run < (span + 1) * G::kRunsPerSpan; ++run) {
        uint32_t quads[G::kMTiles][4];
#pragma unroll
        for (int step = 0; step < T::kRun / 4; ++step) {
          uint32_t fragments[G::kMTiles][2];
          activation_fragments(stage, block * G::kRuns + run, step, quads, fragments);
          const int position = run * T::kRun + 4 * step;  // of this lane's codes
#pragma unroll
          for (int tile = 0; tile < G::kNTiles; ++tile) {
            uint32_t a[4];
            decode_operand<W, A, kQuantizedZeros>(words[tile], position, zero[tile], pair_table, lane, a,
                                                  [&](uint32_t pair, int half) {
                                                    if constexpr (kScaleSums) return pair;
                                                    else return scaled_pair<P>(pair, scale[tile][half], zero[tile][half]);
                                                  });
#pragma unroll
            for (int mt = 0; mt < G::kMTiles; ++mt) mma_16x8x16<A>(acc[tile][mt], a, fragments[mt][0], fragments[mt][1]);
          }
        }
      }
    }
  }

  __device__ __forceinline__ void consume_stage(const uint4* stage, int tile_k) {
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = tile_k * G::kStageBlocks + block;
      if (k_block >= G::kBlocksK) break;  // the last stage of an uneven K
      consume_block(stage, block, k_block);
    }
  }

  // Calls store(row, column, c) for each of this lane's accumulators inside C (scaled per channel
  // where kScaleSums: split-K's partial sums too, every slice alike).
  template <class Store>
  __device__ __forceinline__ void for_each_output(Store store) const {
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile) {
      float scale[2] = {1.0f, 1.0f};
      if constexpr (kScaleSums) {
#pragma unroll
        for (int half = 0; half < 2; ++half) scale[half] = load_scale<P>(params, channel[tile][half], 0);
      }
#pragma unroll
      for (int mt = 0; mt < G::kMTiles; ++mt)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const long long row = m_block + warp_row + mt * 8 + 2 * t + (c & 1);
          const long long column = n_block + warp_channel + tile * 16 + g + (c >= 2 ? 8 : 0);
          const float sum = kScaleSums ? acc[tile][mt][c] * scale[c / 2] : acc[tile][mt][c];
          if (row < params.M && column < P::N) store(row, column, sum);
        }
    }
  }
};

}  // namespace bitjit
