#pragma once
// The tensor_gemv family for 8-bit activations (M <= 16): the same streaming of the packed weights
// as tensor_gemv.cuh, multiplied with mma.sync m16n8k32 on bytes.
//  - int8 activations, integer weights: the weights are the mma's 16-row operand as unsigned bytes:
//    each code goes in unchanged (one AND per four codes, no conversion at all), and its format's
//    affine form is applied to the sums:
//      sum_k a * v = kStep * sum_k a * u + kOffset * sum_k a,   u = code ^ kFlip (int8: the signed byte),
//    with sum_k a taken by one more mma of ones against the activations. Without scales the sums
//    stay exact in int32.
//  - fp8 activations (e4m3 or e5m2), weights of the same fp8 type (sm_89 and newer): the code bytes
//    are the operand as they are, and the mma's float32 sums of each run are added to the running
//    float32 sums, so the tensor core never carries a sum over more than one run of k.
// Scales and zero points are applied in float32 per run, as in tensor_gemv.
//
// Weight layout (compiler/weight_layout.cpp, "mma_runs" with byte lanes): as for tensor_gemv, but
// an mma step takes 8 consecutive k per lane (k slots 4t..4t+3 and 16+4t..16+4t+3 of the m16n8k32
// fragment), and inside a 32-bit word the codes sit so that (word >> s * bits) & mask yields four
// consecutive codes as bytes: element 4s + j of the word is field s + j * (8 / bits). 8-bit weights
// are not reordered, and fp8 runs are whole loads, so fp8 weights keep general_compress's order.
#include "bitjit/tensor_gemv.cuh"

namespace bitjit {

// The m16n8k32 mma for one activation type: a is 16x32 weight bytes, b is 32x8 activation bytes.
template <class A>
struct ByteMma;

// int8: weight codes as unsigned bytes, int32 sums.
template <>
struct ByteMma<fmt::Int8> {
  using Sum = int;
  __device__ static void multiply(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

#define BITJIT_FP8_MMA(TYPE)                                                                                  \
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." TYPE "." TYPE                                        \
               ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"                                    \
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                               \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1))

// fp8: both operands of one fp8 type, float32 sums (sm_89 and newer).
template <>
struct ByteMma<fmt::Float8E4M3> {
  using Sum = float;
  __device__ static void multiply(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    BITJIT_FP8_MMA("e4m3");
  }
};

template <>
struct ByteMma<fmt::Float8E5M2> {
  using Sum = float;
  __device__ static void multiply(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    BITJIT_FP8_MMA("e5m2");
  }
};
#undef BITJIT_FP8_MMA

// Four consecutive codes of a word (elements 4s .. 4s + 3 in the byte-lane order) as bytes u = code ^ kFlip;
// fp8 codes are the operand as they are.
template <class W>
__device__ __forceinline__ uint32_t code_bytes(uint32_t word, int s) {
  if constexpr (!W::kInteger) {
    return word;
  } else {
    constexpr uint32_t kMask = ((1u << W::kBits) - 1u) * 0x01010101u;
    const uint32_t flipped = W::kFlip ? word ^ (W::kFlip * 0x01010101u) : word;
    if constexpr (W::kBits == 8) return flipped;
    else return (flipped >> (s * W::kBits)) & kMask;
  }
}

// Eight consecutive 8-bit activations of one row, or zeros for a row past M.
__device__ __forceinline__ void load_activation_bytes(const uint8_t* row, long long k, uint32_t& lo, uint32_t& hi) {
  if (row == nullptr) {
    lo = hi = 0u;
    return;
  }
  const uint2 bytes = __ldg(reinterpret_cast<const uint2*>(row + k));
  lo = bytes.x;
  hi = bytes.y;
}

// Whether the sums of the activations over each run are needed: for the offset of an integer
// format or for zero points (fp8 weights have neither).
template <class P, class W>
__device__ constexpr bool activation_sums_needed() {
  if constexpr (W::kInteger) return W::kOffset != 0 || P::kZerosMode != Zeros::none;
  else return false;
}

// A run's sum of a * v from its mma sum: the integer format's affine form, or the fp8 sum as it is.
template <class W, class Sum>
__device__ __forceinline__ Sum run_sum(Sum partial, int activation_sums) {
  if constexpr (W::kInteger) return W::kStep * partial + W::kOffset * activation_sums;
  else return partial;
}

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes, kRun, kUnroll).
template <class P, class T>
__device__ void tensor_gemv_8bit(const MatmulParams& params) {
  using W = typename P::W;
  using Mma = ByteMma<typename P::A>;
  using Sum = typename Mma::Sum;  // of one run: int32 for int8, float32 for fp8
  using Acc = typename P::Accum;  // int (exact, no scales) or float
  constexpr bool kFloatAccum = !is_same<Acc, int>::value;
  constexpr bool kIntegerOperands = W::kInteger;
  constexpr int kWarps = T::kThreads / 32;
  constexpr int kTiles = T::kBlockN / 16;
  constexpr int kRowHalves = T::kBlockM > 8 ? 2 : 1;
  constexpr int kWords = T::kLoadBytes / 4;
  constexpr int kCodes = T::kLoadBytes * 8 / W::kBits;  // per lane per load
  constexpr int kCodesPerWord = 32 / W::kBits;
  constexpr int kRuns = kCodes / T::kRun;
  constexpr int kBlockK = 4 * kCodes;
  constexpr long long kBlocksK = P::K / kBlockK;
  constexpr long long kGroupSize = P::K / P::kGroups;
  constexpr long long kRowBytes = P::K * W::kBits / 8;
  constexpr bool kActivationSums = activation_sums_needed<P, W>();
  static_assert(kIntegerOperands ? W::kBits <= 8 : is_same<W, typename P::A>::value,
                "integer weights of up to 8 bits with int8 activations, or weights of the activations' fp8 type");
  static_assert(T::kBlockN % 16 == 0 && T::kBlockM <= 16, "16-channel mma tiles, at most 16 rows");
  static_assert(kCodes % T::kRun == 0 && T::kRun % 8 == 0, "whole runs of whole mma steps");
  static_assert(P::K % kBlockK == 0 && kGroupSize % (4 * T::kRun) == 0, "k-blocks and runs tile K and the groups");
  static_assert(kFloatAccum || (!P::kScaling && P::kZerosMode == Zeros::none), "int32 sums take no scales");

  __shared__ Acc warp_sums[kWarps][kTiles][kRowHalves][4][32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const uint8_t* activations = static_cast<const uint8_t*>(params.A);
  const uint8_t* a_rows[kRowHalves];
#pragma unroll
  for (int half = 0; half < kRowHalves; ++half) {
    a_rows[half] = g + 8 * half < rows ? activations + (m_begin + g + 8 * half) * P::K : nullptr;
  }
  long long channel[kTiles][2];
  const uint8_t* weight_rows[kTiles][2];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      channel[tile][half] = min(n_block + tile * 16 + g + 8 * half, P::N - 1);
      weight_rows[tile][half] = static_cast<const uint8_t*>(params.W) + channel[tile][half] * kRowBytes + t * T::kLoadBytes;
    }
  }

  Acc acc[kTiles][kRowHalves][4];
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
    for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[tile][half][c] = Acc(0);

  constexpr long long kRoundStride = (long long)kWarps * T::kUnroll;
  uint32_t next[T::kUnroll][kTiles][2][kWords];
  load_round<T::kUnroll, kWarps, T::kLoadBytes, kBlocksK>(next, weight_rows, warp);
  for (long long first = warp; first < kBlocksK; first += kRoundStride) {
    uint32_t loaded[T::kUnroll][kTiles][2][kWords];
#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u)
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int w = 0; w < kWords; ++w) loaded[u][tile][half][w] = next[u][tile][half][w];
    if (first + kRoundStride < kBlocksK) {
      load_round<T::kUnroll, kWarps, T::kLoadBytes, kBlocksK>(next, weight_rows, first + kRoundStride);
    }

#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u) {
      const long long block = first + u * kWarps;
      if (block >= kBlocksK) break;
#pragma unroll
      for (int run = 0; run < kRuns; ++run) {
        const long long k_run = block * kBlockK + 4 * T::kRun * run;
        const long long group = k_run / kGroupSize;
        const long long k_lane = k_run + T::kRun * t;
        Sum partial[kTiles][kRowHalves][4];  // sum_k a * u over the run
        int a_sums[kRowHalves][4];           // sum_k a over the run, rows 2t, 2t + 1 (c0, c1)
#pragma unroll
        for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            a_sums[half][c] = 0;
#pragma unroll
            for (int tile = 0; tile < kTiles; ++tile) partial[tile][half][c] = Sum(0);
          }
#pragma unroll
        for (int step = 0; step < T::kRun / 8; ++step) {
          uint32_t b[kRowHalves][2];  // k slots 4t..4t+3 and 16+4t..16+4t+3 = 8 consecutive k of rows g (+ 8)
#pragma unroll
          for (int half = 0; half < kRowHalves; ++half) load_activation_bytes(a_rows[half], k_lane + 8 * step, b[half][0], b[half][1]);
          const int position = run * T::kRun + 8 * step;  // of this lane's codes
#pragma unroll
          for (int tile = 0; tile < kTiles; ++tile) {
            uint32_t a[4];  // channel g first four codes, channel g + 8 first four, then the next four of each
#pragma unroll
            for (int part = 0; part < 2; ++part) {
              const int p = position + 4 * part;
#pragma unroll
              for (int half = 0; half < 2; ++half) {
                a[2 * part + half] = code_bytes<W>(loaded[u][tile][half][p / kCodesPerWord], (p % kCodesPerWord) / 4);
              }
            }
#pragma unroll
            for (int half = 0; half < kRowHalves; ++half) Mma::multiply(partial[tile][half], a, b[half][0], b[half][1]);
          }
          if constexpr (kActivationSums) {
            const uint32_t ones[4] = {0x01010101u, 0x01010101u, 0x01010101u, 0x01010101u};
#pragma unroll
            for (int half = 0; half < kRowHalves; ++half) ByteMma<fmt::Int8>::multiply(a_sums[half], ones, b[half][0], b[half][1]);
          }
        }
#pragma unroll
        for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
          for (int own = 0; own < 2; ++own) {  // this lane's channels g, g + 8: elements 2 * own, 2 * own + 1
            float scale = 1.0f, zero_codes = 0.0f, zero_after_scale = 0.0f;
            if constexpr (P::kScaling) scale = load_scale<P>(params, channel[tile][own], group);
            if constexpr (P::kZerosMode == Zeros::quantized) {
              zero_codes = float(load_code<W>(params.zeros, group * P::N + channel[tile][own]));  // integer W only
            } else if constexpr (P::kZerosMode != Zeros::none) {
              const float z = P::Scale::decode(load_code<typename P::Scale>(params.zeros, channel[tile][own] * P::kGroups + group));
              if constexpr (P::kZerosMode == Zeros::original) zero_codes = z;
              else zero_after_scale = z;  // rescale: v * s - z
            }
#pragma unroll
            for (int half = 0; half < kRowHalves; ++half) {
#pragma unroll
              for (int column = 0; column < 2; ++column) {  // activation rows 2t, 2t + 1
                const int sums = kActivationSums ? a_sums[half][column] : 0;
                const Sum exact = run_sum<W>(partial[tile][half][2 * own + column], sums);
                Acc& sum = acc[tile][half][2 * own + column];
                if constexpr (!kFloatAccum) {
                  sum += exact;
                } else {
                  const float a_sum = float(sums);
                  sum = fmaf(scale, fmaf(-zero_codes, a_sum, float(exact)), sum);
                  if constexpr (P::kZerosMode == Zeros::rescale) sum = fmaf(-zero_after_scale, a_sum, sum);
                }
              }
            }
          }
        }
      }
    }
  }
  sum_warps_and_store<P>(acc, warp_sums, params, m_begin, rows, n_block);
}

}  // namespace bitjit
