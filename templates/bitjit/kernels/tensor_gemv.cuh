#pragma once
// The tensor_gemv family: fp16 / bf16 activations, float32 accumulation, made for M <= 16 where the
// kernel's job is to stream the packed weights at memory speed. The weights are the mma's 16-row A
// operand and the activations its 8-column B operand, so one mma.sync m16n8k16 covers 16 output
// channels x 16 k for up to 8 rows of activations (two for 16 rows) and nothing is wasted at M <= 8.
// Each warp owns kBlockN / 16 such channel tiles and a share of K; per k-block every lane loads
// kLoadBytes from each of its two channels (g and g + 8 of the tile), one round ahead of the
// decoding (software pipelining), and decodes the codes two at a time straight into operand
// registers (decode/weight_pairs.cuh). Scales and zeros are applied in float32 to each run's partial sum,
// never to the weights:
//   sum_k a * ((v - z) * s) = s * (sum_k a * v - z * sum_k a),   likewise for rescale's v * s - z,
// with sum_k a taken by one more mma of ones against the activations. The warps' sums meet in
// shared memory.
//
// Weight layout (compiler/weight_layout.cpp, "mma_runs"): each row of W is cut into k-blocks of
// 4 * S::kCodes codes; lane t of a quad holds S::kCodes of them, as runs of kRun consecutive k:
//   position i of lane t  <->  k = 4 * kRun * (i / kRun) + kRun * t + i % kRun   (within the block),
// so mma step j of a run takes positions 4j .. 4j+3 of all four lanes, a k range that never crosses
// a scale group, and the activations' fragment for it is 4 consecutive elements of the same k.
// Where every bucket has at most 16 rows the k-blocks lie in tiles of 16 channels (kChannelTiles,
// compiler/weight_layout.hpp), so that a warp's load of a tile's k-block asks for consecutive bytes.
#include "bitjit/decode/weight_pairs.cuh"
#include "bitjit/epilogue/split_k.cuh"
#include "bitjit/epilogue/warp_sums.cuh"
#include "bitjit/mma/mma_sync.cuh"
#include "bitjit/pipeline/gemv_stream.cuh"

namespace bitjit {

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes, kRun, kUnroll, kSplitK,
// kActivationsAhead, kRoundsPerStep, kChannelTiles).
// Split-K (kSplitK > 1): blockIdx.z takes a contiguous share of the k-blocks, so few channel blocks
// still fill the SMs on a long K; the slices' sums meet as in tensor_gemm (reduce_slices_and_store:
// the last slice to finish a tile adds them in slice order, deterministic).
template <class P, class T>
__device__ void tensor_gemv(const MatmulParams& params) {
  using W = typename P::W;
  using A = typename P::A;
  using S = GemvShape<P, T>;
  using Math = PairMath<A>;
  constexpr PairDecode kHow = pair_decode<W, A>();
  // Consecutive runs inside one scale group share a partial sum (a "span"): the largest power of two
  // of runs dividing both the k-block's runs and the group, so a span never crosses a group.
  constexpr int kRunsPerGroup = int(P::K / P::kGroups / (4 * T::kRun));
  constexpr int kGroupLowBit = kRunsPerGroup & -kRunsPerGroup;
  constexpr int kRunsPerSpan = kGroupLowBit < S::kRuns ? kGroupLowBit : S::kRuns;
  constexpr long long kBlocksPerSlice = (S::kBlocksK + T::kSplitK - 1) / T::kSplitK;
  constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  constexpr bool kZeroSums = P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale;
  // One scale per channel and no zero points: the runs add into acc directly and the scale multiplies
  // each channel's sums once at the end, instead of loading it every k-block and adding each run's
  // partial sums through it (as the GEMM families' kScaleSums).
  constexpr bool kScaleSums = kScalesOnSums<P>;
  constexpr bool kPerRunPartials = (P::kScaling && !kScaleSums) || P::kZerosMode != Zeros::none;
  static_assert(S::kCodes % T::kRun == 0 && T::kRun % 4 == 0, "whole runs of whole mma steps");
  // fp16 fp4 with per-run scales: the pairs stay as placed (value x 2^-14; code 0.5 an fp16 subnormal,
  // which the tensor cores take as it is) and each run's sum is scaled by scale x 2^14 instead, one
  // multiply a pair fewer (sm_90a loop SASS at one row: 436 -> 374 instructions per 4096 weights).
  // bf16's placed values (x 2^-126) would leave float's range in the products.
  constexpr bool kFp4Placed = kHow == PairDecode::fp4_bits && is_same<A, fmt::Float16>::value && P::kScaling;
  constexpr float kPlacedScale = kFp4Placed ? float(1 << kFp4PlacedExponent<A>) : 1.0f;

  __shared__ __align__(16) uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords<> : 1];
  __shared__ float warp_sums[S::kWarps][S::kTiles][S::kRowHalves][4][32];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates: row/column group, k pair
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  // One 8-row tile on runs of 8 k: the lanes of rows past M load sectors for the rows inside M
  // (idle_rows_spread). Measured on the H200 (2026-11-30): dynamic one row int4 0.81-0.99 of the time
  // without; left out where it measured slower: runs of 32 (static one row, 70B gate_up 1.18), 16-row
  // tiles (no lane is past M at 16 rows, and the extra registers cost up to 1.11), packed zero points
  // (0.97-1.06).
  constexpr bool kSpreadIdleRows = T::kRun == 8 && S::kRowHalves == 1 && !kQuantizedZeros;
  const uint16_t* a_rows[S::kRowHalves];
  IdleRowsSpread spread{};
  if constexpr (kSpreadIdleRows) {
    spread = idle_rows_spread<S::kCodes / 8>(params.A, P::K, m_begin, rows, g, t);
  } else {
    block_activation_rows(params.A, P::K, m_begin, rows, g, a_rows);
  }
  long long channel[S::kTiles][2];
  const uint8_t* weight_rows[S::kTiles][2];
  lane_channels<typename S::Pieces, S::kTiles, T::kLoadBytes>(params.W, P::N, n_block, g, t, channel, weight_rows);
  float acc[S::kTiles][S::kRowHalves][4];
  clear_sums(acc);

  // The activations of one k-block by 16-byte quads (runs of 8 k or more): quad q of this lane's
  // codes, for each row half.
  constexpr int kQuadsPerBlock = S::kCodes >= 8 ? S::kCodes / 8 : 1;
  static_assert(!T::kActivationsAhead || T::kRun % 8 == 0, "activations ahead: runs of whole quads");
  const auto load_block_activations = [&](long long block, uint32_t (&quads)[S::kRowHalves][kQuadsPerBlock][4]) {
    if constexpr (T::kRun % 8 == 0) {
#pragma unroll
      for (int half = 0; half < S::kRowHalves; ++half)
#pragma unroll
        for (int q = 0; q < kQuadsPerBlock; ++q) {
          if constexpr (kSpreadIdleRows) {
            load_activation_quad(spread.quad<T::kRun>(block * S::kBlockK, q), quads[half][q]);
          } else {
            load_activation_quads<S::kRowHalves>(
                a_rows[half], block * S::kBlockK + T::kRun * t + activation_quad_k<T::kRun>(q), quads[half][q]);
          }
        }
    }
  };

  // This block's slice of the k-blocks (all of them, known at compile time, without split-K).
  const long long k_begin = T::kSplitK == 1 ? 0 : (long long)blockIdx.z * kBlocksPerSlice;
  const long long k_end = T::kSplitK == 1 ? S::kBlocksK : min(S::kBlocksK, k_begin + kBlocksPerSlice);
  // One round = kUnroll k-blocks per warp; the next round's loads are issued before this one decodes.
  uint32_t next[T::kUnroll][S::kTiles][2][S::kWords];
  load_round<T::kUnroll, S::kWarps, T::kLoadBytes, S::kBlockStride>(next, weight_rows, k_begin + warp, k_end);
  // kActivationsAhead (pipeline.stages = 2): the activations of this warp's next k-block are loaded
  // while it decodes the current one, as the weights are a round ahead; without it each k-block's
  // activations are loaded as it starts, and at 16 rows the first mma of a k-block waited on them
  // (Nsight Compute, 70B down: 35 % of the warps' stall samples on that one mma, long scoreboard).
  uint32_t activations_ahead[T::kActivationsAhead ? S::kRowHalves : 1][T::kActivationsAhead ? kQuadsPerBlock : 1][4];
  if constexpr (T::kActivationsAhead) {
    if (k_begin + warp < k_end) load_block_activations(k_begin + warp, activations_ahead);
  }

  // nf4's table, filled while the first round's loads (issued above) are in flight.
  if constexpr (kHow == PairDecode::table) {
    fill_pair_table<W, A>(pair_table);
    __syncthreads();
  }

  // kRoundsPerStep (pipeline.k_per_stage) rounds a step of the loop: the rounds' loads and decodes
  // in one block of code, the round in flight renamed rather than copied between them and a later
  // round's loads free to go before an earlier round's mmas. With K
  // split, NVRTC unrolls the loop whole whatever the pragma (the slice's end bounds its trip count:
  // 70B down at 16 rows, 56 copies of the k-block); kept rolled it measured 1.00-1.14x slower on the
  // H200 (bench/results/2026-12-01-h200x2-rounds-per-step, split-kept-rolled).
#pragma unroll(T::kRoundsPerStep)
  for (long long first = k_begin + warp; first < k_end; first += S::kRoundStride) {
    uint32_t loaded[T::kUnroll][S::kTiles][2][S::kWords];
    advance_round<T::kUnroll, S::kWarps, T::kLoadBytes, S::kBlockStride>(loaded, next, weight_rows, first + S::kRoundStride, k_end);

#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u) {
      const long long block = first + u * S::kWarps;
      if (block >= k_end) break;
      uint32_t block_quads[T::kActivationsAhead ? S::kRowHalves : 1][T::kActivationsAhead ? kQuadsPerBlock : 1][4];
      if constexpr (T::kActivationsAhead) {
#pragma unroll
        for (int half = 0; half < S::kRowHalves; ++half)
#pragma unroll
          for (int q = 0; q < kQuadsPerBlock; ++q)
#pragma unroll
            for (int w = 0; w < 4; ++w) block_quads[half][q][w] = activations_ahead[half][q][w];
        if (block + S::kWarps < k_end) load_block_activations(block + S::kWarps, activations_ahead);
      }
#pragma unroll
      for (int span = 0; span < S::kRuns / kRunsPerSpan; ++span) {
        const long long group = (block * S::kBlockK + 4 * T::kRun * kRunsPerSpan * span) / S::kGroupSize;
        float partial[S::kTiles][S::kRowHalves][4];
        float a_sums[S::kRowHalves][4];
        uint32_t zero[S::kTiles][2];
#pragma unroll
        for (int half = 0; half < S::kRowHalves; ++half)
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            a_sums[half][c] = 0.0f;
#pragma unroll
            for (int tile = 0; tile < S::kTiles; ++tile) partial[tile][half][c] = 0.0f;
          }
#pragma unroll
        for (int tile = 0; tile < S::kTiles; ++tile) {
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            zero[tile][half] = 0u;
            if constexpr (kQuantizedZeros) {
              // A 64-bit index, not zero_code_index's 32-bit one: with it the one-row kernel kept 80
              // registers instead of 104 and the 8B shapes' one-row times rose 5-12 % (H200).
              const uint32_t code = load_code<W>(params.zeros, group * P::N + channel[tile][half]);
              zero[tile][half] = kHow == PairDecode::magic ? negated_magic_zero<A>(code) : code;
            }
          }
        }
        float (&target)[S::kTiles][S::kRowHalves][4] = kPerRunPartials ? partial : acc;
#pragma unroll
        for (int run = span * kRunsPerSpan; run < (span + 1) * kRunsPerSpan; ++run) {
          const long long k_lane = block * S::kBlockK + 4 * T::kRun * run + T::kRun * t;  // this lane's first k
          uint32_t quads[S::kRowHalves][4];  // activations of two steps
#pragma unroll
          for (int step = 0; step < T::kRun / 4; ++step) {
            // Activations: k slots (0, 1) and (2, 3) of rows g (+ 8); two steps per 16-byte load.
            uint32_t b[S::kRowHalves][2];
            const int q = run * (T::kRun / 8) + step / 2;  // this step's quad of the k-block (runs of 8 k or more)
#pragma unroll
            for (int half = 0; half < S::kRowHalves; ++half) {
              if constexpr (T::kActivationsAhead) {
                b[half][0] = block_quads[half][q][2 * (step % 2)];
                b[half][1] = block_quads[half][q][2 * (step % 2) + 1];
              } else if constexpr (T::kRun % 8 == 0) {
                if constexpr (kSpreadIdleRows) {
                  if (step % 2 == 0) load_activation_quad(spread.quad<T::kRun>(block * S::kBlockK, q), quads[half]);
                } else if (step % 2 == 0) {
                  load_activation_quads<S::kRowHalves>(a_rows[half], k_lane + 4 * step, quads[half]);
                }
                b[half][0] = quads[half][2 * (step % 2)];
                b[half][1] = quads[half][2 * (step % 2) + 1];
              } else {
                load_activation_words<S::kRowHalves>(a_rows[half], k_lane + 4 * step, b[half][0], b[half][1]);
              }
            }
            const int position = run * T::kRun + 4 * step;  // of this lane's codes
#pragma unroll
            for (int tile = 0; tile < S::kTiles; ++tile) {
              uint32_t a[4];
              decode_operand<W, A, kQuantizedZeros, kPairTableCopies, kFp4Placed>(
                  loaded[u][tile], position, zero[tile], pair_table, lane, a, [](uint32_t pair, int) { return pair; });
#pragma unroll
              for (int half = 0; half < S::kRowHalves; ++half) mma_16x8x16<A>(target[tile][half], a, b[half][0], b[half][1]);
            }
            if constexpr (kZeroSums) {
              const uint32_t ones[4] = {Math::kOne, Math::kOne, Math::kOne, Math::kOne};
#pragma unroll
              for (int half = 0; half < S::kRowHalves; ++half) mma_16x8x16<A>(a_sums[half], ones, b[half][0], b[half][1]);
            }
          }
        }
        if constexpr (kPerRunPartials) {
#pragma unroll
          for (int tile = 0; tile < S::kTiles; ++tile) {
#pragma unroll
            for (int own = 0; own < 2; ++own) {  // this lane's channels g, g + 8: elements 2 * own, 2 * own + 1
              const float scale = P::kScaling ? load_scale<P>(params, channel[tile][own], group) : 1.0f;
              const float partial_scale = scale * kPlacedScale;  // exact: a power of two
              float zero_term = 0.0f;  // what sum_k a * w loses per unit of sum_k a
              if constexpr (kZeroSums) {
                const float z = P::Scale::decode(
                    load_code<typename P::Scale>(params.zeros, channel[tile][own] * P::kGroups + group));
                zero_term = P::kZerosMode == Zeros::original ? z * scale : z;
              }
#pragma unroll
              for (int half = 0; half < S::kRowHalves; ++half) {
#pragma unroll
                for (int column = 0; column < 2; ++column) {  // rows 2t, 2t + 1 of the activations
                  float& sum = acc[tile][half][2 * own + column];
                  sum = fmaf(partial_scale, partial[tile][half][2 * own + column], sum);
                  if constexpr (kZeroSums) sum = fmaf(-zero_term, a_sums[half][column], sum);
                }
              }
            }
          }
        }
      }
    }
  }

  if constexpr (kScaleSums) {  // before the warps' and the slices' sums meet: every share alike
#pragma unroll
    for (int tile = 0; tile < S::kTiles; ++tile)
#pragma unroll
      for (int own = 0; own < 2; ++own) {  // channels g, g + 8: elements 2 * own, 2 * own + 1
        const float scale = load_scale<P>(params, channel[tile][own], 0) * kPlacedScale;
#pragma unroll
        for (int half = 0; half < S::kRowHalves; ++half)
#pragma unroll
          for (int column = 0; column < 2; ++column) acc[tile][half][2 * own + column] *= scale;
      }
  }
  if constexpr (T::kSplitK == 1) {
    sum_warps_and_store<P>(acc, warp_sums, params, m_begin, rows, n_block);
  } else {
    const bool holds = sum_warps(acc, warp_sums);
    reduce_slices_and_store<P, T>(GemvOutputs<P, S::kTiles, S::kRowHalves, float>{acc, m_begin, n_block, rows, holds}, params);
  }
}

// tensor_gemv's dynamic shared memory, no dynamic shared memory (the warps' sums and the pair table
// are static). The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_gemv_dynamic_shared_bytes() {
  return 0;
}

}  // namespace bitjit
