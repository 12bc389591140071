#pragma once
// The tensor_gemv family: fp16 / bf16 activations, float32 accumulation, made for M <= 16 where the
// kernel's job is to stream the packed weights at memory speed. The weights are the mma's 16-row A
// operand and the activations its 8-column B operand, so one mma.sync m16n8k16 covers 16 output
// channels x 16 k for up to 8 rows of activations (two for 16 rows) and nothing is wasted at M <= 8.
// Each warp owns kBlockN / 16 such channel tiles and a share of K; per k-block every lane loads
// kLoadBytes from each of its two channels (g and g + 8 of the tile), one round ahead of the
// decoding (software pipelining), and decodes the codes two at a time straight into operand
// registers (weight_pairs.cuh). Scales and zeros are applied in float32 to each run's partial sum,
// never to the weights:
//   sum_k a * ((v - z) * s) = s * (sum_k a * v - z * sum_k a),   likewise for rescale's v * s - z,
// with sum_k a taken by one more mma of ones against the activations. The warps' sums meet in
// shared memory.
//
// Weight layout (compiler/weight_layout.cpp, "mma_runs"): each row of W is cut into k-blocks of
// 4 * kCodes codes; lane t of a quad holds kCodes of them, as runs of kRun consecutive k:
//   position i of lane t  <->  k = 4 * kRun * (i / kRun) + kRun * t + i % kRun   (within the block),
// so mma step j of a run takes positions 4j .. 4j+3 of all four lanes, a k range that never crosses
// a scale group, and the activations' fragment for it is 4 consecutive elements of the same k.
#include "bitjit/epilogue.cuh"
#include "bitjit/split_k.cuh"
#include "bitjit/weight_pairs.cuh"

namespace bitjit {

template <int kBytes>
__device__ __forceinline__ void load_streaming(const uint8_t* address, uint32_t (&words)[kBytes / 4]) {
  static_assert(kBytes == 4 || kBytes == 8 || kBytes == 16, "4, 8 or 16 bytes");
  // Weights are read once: keep them out of L1 so A and the scales stay there.
  if constexpr (kBytes == 16) {
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(words[0]), "=r"(words[1]), "=r"(words[2]), "=r"(words[3]) : "l"(address));
  } else if constexpr (kBytes == 8) {
    asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0, %1}, [%2];" : "=r"(words[0]), "=r"(words[1]) : "l"(address));
  } else {
    asm volatile("ld.global.nc.L1::no_allocate.u32 %0, [%1];" : "=r"(words[0]) : "l"(address));
  }
}

// Four consecutive activations (two pairs) of one row, or zeros for a row past M. A plain (not
// volatile) read-only load: the compiler hoists it ahead of the mma that needs it, so the L1 / L2
// latency of the activations overlaps the decoding instead of stalling every mma step.
__device__ __forceinline__ void load_activation_pairs(const uint16_t* row, long long k, uint32_t& lo, uint32_t& hi) {
  if (row == nullptr) {
    lo = hi = 0u;
    return;
  }
  const uint2 pairs = __ldg(reinterpret_cast<const uint2*>(row + k));
  lo = pairs.x;
  hi = pairs.y;
}

// One round of weight loads of a warp: kUnroll k-blocks (first, first + kWarps, ...) of each of its
// tiles' two channels per lane, kLoadBytes each; k-blocks from `end` on (past the row, or past the
// block's slice of K) are skipped.
template <int kUnroll, int kWarps, int kLoadBytes, int kTiles, int kWords>
__device__ __forceinline__ void load_round(uint32_t (&words)[kUnroll][kTiles][2][kWords],
                                           const uint8_t* const (&weight_rows)[kTiles][2], long long first,
                                           long long end) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const long long block = first + u * kWarps;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        if (block < end) load_streaming<kLoadBytes>(weight_rows[tile][half] + block * 4 * kLoadBytes, words[u][tile][half]);
  }
}

// The warps split K, so warp 0 adds the others' sums (through shared memory). Every thread calls
// it; it returns true to warp 0's, which then hold the block's sums.
template <int kWarps, int kTiles, int kRowHalves, class Acc>
__device__ __forceinline__ bool sum_warps(Acc (&acc)[kTiles][kRowHalves][4],
                                          Acc (&warp_sums)[kWarps][kTiles][kRowHalves][4][32]) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if constexpr (kWarps > 1) {
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c) warp_sums[warp][tile][half][c][lane] = acc[tile][half][c];
    __syncthreads();
    if (warp != 0) return false;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c)
          for (int other = 1; other < kWarps; ++other) acc[tile][half][c] += warp_sums[other][tile][half][c][lane];
  }
  return true;
}

// The block's sums after sum_warps, as C elements: acc[tile][row half][c] of a lane of warp 0 holds
// channel g (c < 2) or g + 8 of the tile, activation rows 8 * half + 2t + (c & 1). `holds` is false
// on the other warps' threads, which have no outputs.
template <class P, int kTiles, int kRowHalves, class Acc>
struct GemvOutputs {
  const Acc (&acc)[kTiles][kRowHalves][4];
  long long m_begin, n_block;
  int rows;
  bool holds;

  // Calls store(row, column, sum) for each of this thread's sums inside C.
  template <class Store>
  __device__ __forceinline__ void for_each_output(Store store) const {
    if (!holds) return;
    const int lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int row = 8 * half + 2 * t + (c & 1);
          const long long column = n_block + tile * 16 + g + (c >= 2 ? 8 : 0);
          if (row < rows && column < P::N) store(m_begin + row, column, acc[tile][half][c]);
        }
  }
};

// The end of a tensor_gemv kernel of one slice of K: the warps' sums added, stored to C. (The store
// loop is GemvOutputs::for_each_output's, written out: through the lambda the int32-sum kernels of
// tensor_gemv_8bit compiled to other machine code.)
template <class P, int kWarps, int kTiles, int kRowHalves, class Acc>
__device__ __forceinline__ void sum_warps_and_store(Acc (&acc)[kTiles][kRowHalves][4],
                                                    Acc (&warp_sums)[kWarps][kTiles][kRowHalves][4][32],
                                                    const MatmulParams& params, long long m_begin, int rows,
                                                    long long n_block) {
  if (!sum_warps(acc, warp_sums)) return;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int half = 0; half < kRowHalves; ++half) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int row = 8 * half + 2 * t + (c & 1);
        const long long column = n_block + tile * 16 + g + (c >= 2 ? 8 : 0);
        if (row < rows && column < P::N) store_output<P>(params, m_begin + row, column, acc[tile][half][c]);
      }
    }
  }
}

// Eight consecutive activations of one row (two mma steps' fragments), or zeros past M.
__device__ __forceinline__ void load_activation_quads(const uint16_t* row, long long k, uint32_t (&words)[4]) {
  if (row == nullptr) {
    words[0] = words[1] = words[2] = words[3] = 0u;
    return;
  }
  const uint4 quads = __ldg(reinterpret_cast<const uint4*>(row + k));
  words[0] = quads.x;
  words[1] = quads.y;
  words[2] = quads.z;
  words[3] = quads.w;
}

// Activation rows g and g + 8 of the block (null past M: zeros).
template <class Element, int kRowHalves>
__device__ __forceinline__ void block_activation_rows(const void* A, long long K, long long m_begin, int rows, int g,
                                                      const Element* (&a_rows)[kRowHalves]) {
  const Element* activations = static_cast<const Element*>(A);
#pragma unroll
  for (int half = 0; half < kRowHalves; ++half) {
    a_rows[half] = g + 8 * half < rows ? activations + (m_begin + g + 8 * half) * K : nullptr;
  }
}

// This lane's two output channels per tile, g and g + 8 (clamped past N: computed, never stored),
// and where its loads of each channel's row of W start.
template <int kTiles, int kLoadBytes>
__device__ __forceinline__ void lane_channels(const void* W, long long N, long long row_bytes, long long n_block, int g,
                                              int t, long long (&channel)[kTiles][2],
                                              const uint8_t* (&weight_rows)[kTiles][2]) {
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      channel[tile][half] = min(n_block + tile * 16 + g + 8 * half, N - 1);
      weight_rows[tile][half] = static_cast<const uint8_t*>(W) + channel[tile][half] * row_bytes + t * kLoadBytes;
    }
  }
}

// acc[tile][row half][c]: c0, c1 = channel g, rows 2t, 2t + 1; c2, c3 = channel g + 8, same rows.
template <class Acc, int kTiles, int kRowHalves>
__device__ __forceinline__ void clear_sums(Acc (&acc)[kTiles][kRowHalves][4]) {
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
    for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[tile][half][c] = Acc(0);
}

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes, kRun, kUnroll, kSplitK).
// Split-K (kSplitK > 1): blockIdx.z takes a contiguous share of the k-blocks, so few channel blocks
// still fill the SMs on a long K; the slices' sums meet as in tensor_gemm (reduce_slices_and_store:
// the last slice to finish a tile adds them in slice order, deterministic).
template <class P, class T>
__device__ void tensor_gemv(const MatmulParams& params) {
  using W = typename P::W;
  using A = typename P::A;
  using Math = PairMath<A>;
  constexpr PairDecode kHow = pair_decode<W, A>();
  constexpr int kWarps = T::kThreads / 32;
  constexpr int kTiles = T::kBlockN / 16;              // 16 output channels each
  constexpr int kRowHalves = T::kBlockM > 8 ? 2 : 1;   // 8 activation rows per mma
  constexpr int kWords = T::kLoadBytes / 4;
  constexpr int kCodes = T::kLoadBytes * 8 / W::kBits;  // per lane per load
  constexpr int kRuns = kCodes / T::kRun;
  // Consecutive runs inside one scale group share a partial sum (a "span"): the largest power of two
  // of runs dividing both the k-block's runs and the group, so a span never crosses a group.
  constexpr int kRunsPerGroup = int(P::K / P::kGroups / (4 * T::kRun));
  constexpr int kGroupLowBit = kRunsPerGroup & -kRunsPerGroup;
  constexpr int kRunsPerSpan = kGroupLowBit < kRuns ? kGroupLowBit : kRuns;
  constexpr int kBlockK = 4 * kCodes;
  constexpr long long kBlocksK = P::K / kBlockK;
  constexpr long long kBlocksPerSlice = (kBlocksK + T::kSplitK - 1) / T::kSplitK;
  constexpr long long kGroupSize = P::K / P::kGroups;
  constexpr long long kRowBytes = P::K * W::kBits / 8;
  constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  constexpr bool kZeroSums = P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale;
  constexpr bool kPerRunPartials = P::kScaling || P::kZerosMode != Zeros::none;
  static_assert(T::kBlockN % 16 == 0 && T::kBlockM <= 16, "16-channel mma tiles, at most 16 rows");
  static_assert(kCodes % T::kRun == 0 && T::kRun % 4 == 0, "whole runs of whole mma steps");
  static_assert(P::K % kBlockK == 0 && kGroupSize % (4 * T::kRun) == 0, "k-blocks and runs tile K and the groups");

  __shared__ uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords : 1];
  __shared__ float warp_sums[kWarps][kTiles][kRowHalves][4][32];
  if constexpr (kHow == PairDecode::table) {
    fill_pair_table<W, A>(pair_table);
    __syncthreads();
  }

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates: row/column group, k pair
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const uint16_t* a_rows[kRowHalves];
  block_activation_rows(params.A, P::K, m_begin, rows, g, a_rows);
  long long channel[kTiles][2];
  const uint8_t* weight_rows[kTiles][2];
  lane_channels<kTiles, T::kLoadBytes>(params.W, P::N, kRowBytes, n_block, g, t, channel, weight_rows);
  float acc[kTiles][kRowHalves][4];
  clear_sums(acc);

  // This block's slice of the k-blocks (all of them, known at compile time, without split-K).
  const long long k_begin = T::kSplitK == 1 ? 0 : (long long)blockIdx.z * kBlocksPerSlice;
  const long long k_end = T::kSplitK == 1 ? kBlocksK : min(kBlocksK, k_begin + kBlocksPerSlice);
  // One round = kUnroll k-blocks per warp; the next round's loads are issued before this one decodes.
  constexpr long long kRoundStride = (long long)kWarps * T::kUnroll;
  uint32_t next[T::kUnroll][kTiles][2][kWords];
  load_round<T::kUnroll, kWarps, T::kLoadBytes>(next, weight_rows, k_begin + warp, k_end);

  for (long long first = k_begin + warp; first < k_end; first += kRoundStride) {
    uint32_t loaded[T::kUnroll][kTiles][2][kWords];
#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u)
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int w = 0; w < kWords; ++w) loaded[u][tile][half][w] = next[u][tile][half][w];
    if (first + kRoundStride < k_end) {
      load_round<T::kUnroll, kWarps, T::kLoadBytes>(next, weight_rows, first + kRoundStride, k_end);
    }

#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u) {
      const long long block = first + u * kWarps;
      if (block >= k_end) break;
#pragma unroll
      for (int span = 0; span < kRuns / kRunsPerSpan; ++span) {
        const long long group = (block * kBlockK + 4 * T::kRun * kRunsPerSpan * span) / kGroupSize;
        float partial[kTiles][kRowHalves][4];
        float a_sums[kRowHalves][4];
        uint32_t zero[kTiles][2];
#pragma unroll
        for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            a_sums[half][c] = 0.0f;
#pragma unroll
            for (int tile = 0; tile < kTiles; ++tile) partial[tile][half][c] = 0.0f;
          }
#pragma unroll
        for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            zero[tile][half] = 0u;
            if constexpr (kQuantizedZeros) {
              const uint32_t code = load_code<W>(params.zeros, group * P::N + channel[tile][half]);
              zero[tile][half] = kHow == PairDecode::magic ? negated_magic_zero<A>(code) : code;
            }
          }
        }
        float (&target)[kTiles][kRowHalves][4] = kPerRunPartials ? partial : acc;
#pragma unroll
        for (int run = span * kRunsPerSpan; run < (span + 1) * kRunsPerSpan; ++run) {
          const long long k_lane = block * kBlockK + 4 * T::kRun * run + T::kRun * t;  // this lane's first k
          uint32_t quads[kRowHalves][4];  // activations of two steps
#pragma unroll
          for (int step = 0; step < T::kRun / 4; ++step) {
            // Activations: k slots (0, 1) and (2, 3) of rows g (+ 8); two steps per 16-byte load.
            uint32_t b[kRowHalves][2];
#pragma unroll
            for (int half = 0; half < kRowHalves; ++half) {
              if constexpr (T::kRun % 8 == 0) {
                if (step % 2 == 0) load_activation_quads(a_rows[half], k_lane + 4 * step, quads[half]);
                b[half][0] = quads[half][2 * (step % 2)];
                b[half][1] = quads[half][2 * (step % 2) + 1];
              } else {
                load_activation_pairs(a_rows[half], k_lane + 4 * step, b[half][0], b[half][1]);
              }
            }
            const int position = run * T::kRun + 4 * step;  // of this lane's codes
#pragma unroll
            for (int tile = 0; tile < kTiles; ++tile) {
              uint32_t a[4];
              decode_operand<W, A, kQuantizedZeros>(loaded[u][tile], position, zero[tile], pair_table, lane, a,
                                                    [](uint32_t pair, int) { return pair; });
#pragma unroll
              for (int half = 0; half < kRowHalves; ++half) mma_16x8x16<A>(target[tile][half], a, b[half][0], b[half][1]);
            }
            if constexpr (kZeroSums) {
              const uint32_t ones[4] = {Math::kOne, Math::kOne, Math::kOne, Math::kOne};
#pragma unroll
              for (int half = 0; half < kRowHalves; ++half) mma_16x8x16<A>(a_sums[half], ones, b[half][0], b[half][1]);
            }
          }
        }
        if constexpr (kPerRunPartials) {
#pragma unroll
          for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
            for (int own = 0; own < 2; ++own) {  // this lane's channels g, g + 8: elements 2 * own, 2 * own + 1
              const float scale = P::kScaling ? load_scale<P>(params, channel[tile][own], group) : 1.0f;
              float zero_term = 0.0f;  // what sum_k a * w loses per unit of sum_k a
              if constexpr (kZeroSums) {
                const float z = P::Scale::decode(
                    load_code<typename P::Scale>(params.zeros, channel[tile][own] * P::kGroups + group));
                zero_term = P::kZerosMode == Zeros::original ? z * scale : z;
              }
#pragma unroll
              for (int half = 0; half < kRowHalves; ++half) {
#pragma unroll
                for (int column = 0; column < 2; ++column) {  // rows 2t, 2t + 1 of the activations
                  float& sum = acc[tile][half][2 * own + column];
                  sum = fmaf(scale, partial[tile][half][2 * own + column], sum);
                  if constexpr (kZeroSums) sum = fmaf(-zero_term, a_sums[half][column], sum);
                }
              }
            }
          }
        }
      }
    }
  }

  if constexpr (T::kSplitK == 1) {
    sum_warps_and_store<P>(acc, warp_sums, params, m_begin, rows, n_block);
  } else {
    const bool holds = sum_warps(acc, warp_sums);
    reduce_slices_and_store<P, T>(GemvOutputs<P, kTiles, kRowHalves, float>{acc, m_begin, n_block, rows, holds}, params);
  }
}

}  // namespace bitjit
