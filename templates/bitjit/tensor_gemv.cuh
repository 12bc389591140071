#pragma once
// The tensor_gemv family: fp16 / bf16 activations, float32 accumulation, made for M <= 16 where the
// kernel's job is to stream the packed weights at memory speed. Each warp owns kBlockN / 8 tiles of
// 8 output channels and a share of K; per k-block every lane issues one kLoadBytes load per tile,
// decodes its codes two at a time straight into mma operand registers (weight_pairs.cuh), and one
// mma.sync m16n8k16 per 16 k multiplies them with up to 16 rows of A in float32. Scales and zeros
// are applied in float32 to each run's partial sum, never to the weights:
//   sum_k a * ((v - z) * s) = s * (sum_k a * v - z * sum_k a),   likewise for rescale's v * s - z,
// with sum_k a taken by one more mma against ones. The warps' sums meet in shared memory.
//
// Weight layout (compiler/weight_layout.cpp, "mma_runs"): each row of W is cut into k-blocks of
// 4 * kCodes codes; lane t of a quad holds kCodes of them, as runs of kRun consecutive k:
//   position i of lane t  <->  k = 4 * kRun * (i / kRun) + kRun * t + i % kRun   (within the block),
// so mma step j of a run takes positions 4j .. 4j+3 of all four lanes, a k range that never crosses
// a scale group, and A's fragment for it is 4 consecutive elements of the same k.
#include "bitjit/epilogue.cuh"
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

// Four consecutive activations (two pairs) of one row, or zeros for a row past M.
__device__ __forceinline__ void load_activation_pairs(const uint16_t* row, long long k, uint32_t& lo, uint32_t& hi) {
  if (row == nullptr) {
    lo = hi = 0u;
    return;
  }
  asm volatile("ld.global.nc.v2.u32 {%0, %1}, [%2];" : "=r"(lo), "=r"(hi) : "l"(row + k));
}

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes, kRun, kUnroll).
template <class P, class T>
__device__ void tensor_gemv(const MatmulParams& params) {
  using W = typename P::W;
  using A = typename P::A;
  using Math = PairMath<A>;
  constexpr PairDecode kHow = pair_decode<W, A>();
  constexpr int kWarps = T::kThreads / 32;
  constexpr int kTiles = T::kBlockN / 8;
  constexpr int kWords = T::kLoadBytes / 4;
  constexpr int kCodes = T::kLoadBytes * 8 / W::kBits;  // per lane per load
  constexpr int kCodesPerWord = 32 / W::kBits;
  constexpr int kRuns = kCodes / T::kRun;
  constexpr int kBlockK = 4 * kCodes;
  constexpr long long kBlocksK = P::K / kBlockK;
  constexpr long long kGroupSize = P::K / P::kGroups;
  constexpr long long kRowBytes = P::K * W::kBits / 8;
  constexpr bool kUpperRows = T::kBlockM > 8;
  constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  constexpr bool kZeroSums = P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale;
  constexpr bool kPerRunPartials = P::kScaling || P::kZerosMode != Zeros::none;
  static_assert(T::kBlockN % 8 == 0 && T::kBlockM <= 16, "8-column mma tiles, at most 16 rows");
  static_assert(kCodes % T::kRun == 0 && T::kRun % 4 == 0, "whole runs of whole mma steps");
  static_assert(P::K % kBlockK == 0 && kGroupSize % (4 * T::kRun) == 0, "k-blocks and runs tile K and the groups");

  __shared__ uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords : 1];
  __shared__ float warp_sums[kWarps][kTiles][4][32];
  if constexpr (kHow == PairDecode::table) {
    fill_pair_table<W, A>(pair_table);
    __syncthreads();
  }

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates: row/column group, k pair
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const uint16_t* activations = static_cast<const uint16_t*>(params.A);
  const uint16_t* a_lower = g < rows ? activations + (m_begin + g) * P::K : nullptr;
  const uint16_t* a_upper = kUpperRows && g + 8 < rows ? activations + (m_begin + g + 8) * P::K : nullptr;

  // This lane's weight row per tile (clamped past N: computed, never stored) and k offset in a block.
  long long own_column[kTiles];
  const uint8_t* weight_rows[kTiles];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
    own_column[tile] = min(n_block + tile * 8 + g, P::N - 1);
    weight_rows[tile] = static_cast<const uint8_t*>(params.W) + own_column[tile] * kRowBytes + t * T::kLoadBytes;
  }
  const MagicConstants<W, A> magic = MagicConstants<W, A>::make();

  float acc[kTiles][4];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
    for (int c = 0; c < 4; ++c) acc[tile][c] = 0.0f;

  for (long long first = warp; first < kBlocksK; first += kWarps * T::kUnroll) {
    // Issue every load of this round before decoding any: kUnroll * kTiles loads in flight per lane.
    uint32_t loaded[T::kUnroll][kTiles][kWords];
#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u) {
      const long long block = first + u * kWarps;
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile) {
        if (block < kBlocksK) load_streaming<T::kLoadBytes>(weight_rows[tile] + block * 4 * T::kLoadBytes, loaded[u][tile]);
      }
    }
#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u) {
      const long long block = first + u * kWarps;
      if (block >= kBlocksK) break;
#pragma unroll
      for (int run = 0; run < kRuns; ++run) {
        const long long k_run = block * kBlockK + 4 * T::kRun * run;  // first k of the run (whole quad)
        const long long group = k_run / kGroupSize;
        const long long k_lane = k_run + T::kRun * t;                 // first k of this lane's part
        float partial[kTiles][4];
        float a_sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        uint32_t zero[kTiles];
#pragma unroll
        for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
          for (int c = 0; c < 4; ++c) partial[tile][c] = 0.0f;
          zero[tile] = 0u;
          if constexpr (kQuantizedZeros) {
            const uint32_t code = load_code<W>(params.zeros, group * P::N + own_column[tile]);
            zero[tile] = kHow == PairDecode::magic ? negated_magic_zero<A>(code) : code;
          }
        }
        float (&target)[kTiles][4] = kPerRunPartials ? partial : acc;
#pragma unroll
        for (int step = 0; step < T::kRun / 4; ++step) {
          uint32_t a[4];
          load_activation_pairs(a_lower, k_lane + 4 * step, a[0], a[2]);
          load_activation_pairs(a_upper, k_lane + 4 * step, a[1], a[3]);
          const int position = run * T::kRun + 4 * step;  // of this lane's codes
#pragma unroll
          for (int tile = 0; tile < kTiles; ++tile) {
            const uint32_t b0 = decode_pair<W, A, kQuantizedZeros>(loaded[u][tile][position / kCodesPerWord],
                                                                   (position % kCodesPerWord) / 2, magic, zero[tile],
                                                                   pair_table, lane);
            const uint32_t b1 = decode_pair<W, A, kQuantizedZeros>(loaded[u][tile][(position + 2) / kCodesPerWord],
                                                                   ((position + 2) % kCodesPerWord) / 2, magic,
                                                                   zero[tile], pair_table, lane);
            mma_16x8x16<A>(target[tile], a, b0, b1);
          }
          if constexpr (kZeroSums) mma_16x8x16<A>(a_sums, a, Math::kOne, Math::kOne);
        }
        if constexpr (kPerRunPartials) {
#pragma unroll
          for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
            for (int half = 0; half < 2; ++half) {  // this lane's two output columns
              const long long column = min(n_block + tile * 8 + 2 * t + half, P::N - 1);
              const float scale = P::kScaling ? load_scale<P>(params, column, group) : 1.0f;
              float zero_term = 0.0f;  // what sum_k a * w loses per unit of sum_k a
              if constexpr (kZeroSums) {
                const float z = P::Scale::decode(load_code<typename P::Scale>(params.zeros, column * P::kGroups + group));
                zero_term = P::kZerosMode == Zeros::original ? z * scale : z;
              }
              acc[tile][half] = fmaf(scale, partial[tile][half], acc[tile][half]);
              acc[tile][2 + half] = fmaf(scale, partial[tile][2 + half], acc[tile][2 + half]);
              if constexpr (kZeroSums) {
                acc[tile][half] = fmaf(-zero_term, a_sums[0], acc[tile][half]);
                acc[tile][2 + half] = fmaf(-zero_term, a_sums[2], acc[tile][2 + half]);
              }
            }
          }
        }
      }
    }
  }

  // The warps split K: warp 0 adds the others' sums and stores.
  if constexpr (kWarps > 1) {
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int c = 0; c < 4; ++c) warp_sums[warp][tile][c][lane] = acc[tile][c];
    __syncthreads();
    if (warp != 0) return;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int c = 0; c < 4; ++c)
        for (int other = 1; other < kWarps; ++other) acc[tile][c] += warp_sums[other][tile][c][lane];
  }
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int row = g + (c >= 2 ? 8 : 0);
      const long long column = n_block + tile * 8 + 2 * t + (c & 1);
      if (row < rows && column < P::N) store_output<P>(params, m_begin + row, column, acc[tile][c]);
    }
  }
}

}  // namespace bitjit
