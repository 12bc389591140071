#pragma once
// The tensor_gemv family for 8-bit activations (M <= 16): the same streaming of the packed weights
// as tensor_gemv.cuh, multiplied with mma.sync m16n8k32 on bytes.
//  - int8 activations, integer weights: the weights are the mma's 16-row operand as unsigned bytes:
//    each code goes in unchanged (one AND per four codes, no conversion at all), and its format's
//    affine form is applied to the sums:
//      sum_k a * v = kStep * sum_k a * u + kOffset * sum_k a,   u = code ^ kFlip (int8: the signed byte),
//    with sum_k a taken by one more mma of ones against the activations. Without scales the sums
//    stay exact in int32.
//  - fp8 activations (e4m3 or e5m2), sm_89 and newer, with weights of the same fp8 type (the code
//    bytes are the operand as they are) or 4-bit weights (int4, uint4, fp4), whose every value e4m3
//    holds exactly: integer codes u become e4m3(u) by a byte table and take the affine form above,
//    fp4 codes become e4m3 of their value. The mma's float32 sums of each run are added to the
//    running float32 sums, so the tensor core never carries a sum over more than one run of k.
// Scales and zero points are applied in float32 per run, as in tensor_gemv.
//
// Weight layout (compiler/weight_layout.cpp, "mma_runs" with byte lanes): as for tensor_gemv, but
// an mma step takes 8 consecutive k per lane (k slots 4t..4t+3 and 16+4t..16+4t+3 of the m16n8k32
// fragment), and inside a 32-bit word the codes sit so that (word >> s * bits) & mask yields four
// consecutive codes as bytes: element 4s + j of the word is field s + j * (8 / bits). 8-bit weights
// are not reordered. With fp8 activations the runs are whole loads and nothing is reordered (so
// simt reads the same bytes on archs without the fp8 mma): 4-bit codes in natural order are the
// selectors of the PRMT tables that make their e4m3 bytes.
#include "bitjit/tensor_gemv.cuh"

namespace bitjit {

// The m16n8k32 mma for one pair of operand types: a is 16x32 weight bytes of type WBytes, b is 32x8
// activation bytes of type A.
template <class WBytes, class A>
struct ByteMma;

// int8 activations: weight codes as unsigned bytes, int32 sums.
template <>
struct ByteMma<fmt::Int8, fmt::Int8> {
  using Sum = int;
  __device__ static void multiply(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

// fp8 (sm_89 and newer): float32 sums. PTX names the weights' type first.
#define BITJIT_FP8_MMA(WBYTES, A, W_NAME, A_NAME)                                                            \
  template <>                                                                                                 \
  struct ByteMma<fmt::WBYTES, fmt::A> {                                                                       \
    using Sum = float;                                                                                        \
    __device__ static void multiply(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {       \
      asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." W_NAME "." A_NAME                                \
                   ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"                               \
                   : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                          \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));                         \
    }                                                                                                         \
  };
BITJIT_FP8_MMA(Float8E4M3, Float8E4M3, "e4m3", "e4m3")
BITJIT_FP8_MMA(Float8E5M2, Float8E5M2, "e5m2", "e5m2")
BITJIT_FP8_MMA(Float8E4M3, Float8E5M2, "e4m3", "e5m2")  // 4-bit weights as e4m3 with e5m2 activations
#undef BITJIT_FP8_MMA

// Four consecutive codes of a word (elements 4s .. 4s + 3 in the byte-lane order) as bytes u = code ^ kFlip
// (sub-byte formats have no flip); fp8 codes are the operand as they are.
template <class W>
__device__ __forceinline__ uint32_t code_bytes(uint32_t word, int s) {
  if constexpr (W::kBits < 8) {
    constexpr uint32_t kMask = ((1u << W::kBits) - 1u) * 0x01010101u;
    return (word >> (s * W::kBits)) & kMask;
  } else if constexpr (W::kInteger) {
    return word ^ (W::kFlip * 0x01010101u);
  } else {
    return word;
  }
}

// PRMT: byte n of the result is byte selector[n] of {second, first} (0-7), or with bit 3 of the
// selector set, that byte's top bit replicated.
__device__ __forceinline__ uint32_t permute_bytes(uint32_t first, uint32_t second, uint32_t selector) {
  uint32_t result;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(result) : "r"(first), "r"(second), "r"(selector));
  return result;
}

// The type of the weight bytes the mma takes: the codes (int8 activations: unsigned bytes, fp8
// weights: themselves), or e4m3 values made from 4-bit codes for fp8 activations.
template <class A, class W>
struct WeightBytes {
  using Type = fmt::Float8E4M3;
};
template <class W>
struct WeightBytes<fmt::Int8, W> {
  using Type = fmt::Int8;
};
template <>
struct WeightBytes<fmt::Float8E4M3, fmt::Float8E4M3> {
  using Type = fmt::Float8E4M3;
};
template <>
struct WeightBytes<fmt::Float8E5M2, fmt::Float8E5M2> {
  using Type = fmt::Float8E5M2;
};

// Four 4-bit codes, the low 16 bits of `nibbles` in order, as four e4m3 bytes: of the integer u
// (0, 1, ..., 15) for integer formats, of the fp4 value (sign bit 3, magnitudes 0, 0.5, 1, 1.5, 2,
// 3, 4, 6) for fp4. The codes are PRMT selectors into byte tables; a selector with bit 3 set yields
// its byte's sign replicated instead, 0 for these tables, so the two halves of a 16-entry table
// take two PRMTs whose results are ORed.
template <class W>
__device__ __forceinline__ uint32_t e4m3_of_nibbles(uint32_t nibbles) {
  if constexpr (W::kInteger) {
    const uint32_t below_8 = permute_bytes(0x44403800u, 0x4e4c4a48u, nibbles);        // 00 38 40 44 48 4a 4c 4e
    const uint32_t from_8 = permute_bytes(0x53525150u, 0x57565554u, nibbles ^ 0x8888u);  // 50 .. 57
    return below_8 | from_8;
  } else {
    const uint32_t magnitude = permute_bytes(0x3c383000u, 0x4c484440u, nibbles & 0x7777u);  // 00 30 38 3c 40 44 48 4c
    const uint32_t negative = permute_bytes(0x80808080u, 0x80808080u, nibbles);  // 0x80, or 0xff where bit 3 is set
    return magnitude | (((negative & 0x7f7f7f7fu) + 0x01010101u) & 0x80808080u);
  }
}

// The weight operand of one mma step: codes 4s .. 4s + 3 of a word as bytes, u = code ^ kFlip for
// int8 activations (byte lanes), e4m3 values for fp8 activations with 4-bit weights (natural order:
// the low or high 16 bits), fp8 weights as they are.
template <class A, class W>
__device__ __forceinline__ uint32_t weight_operand(uint32_t word, int s) {
  if constexpr (!is_same<A, fmt::Int8>::value && W::kBits == 4) return e4m3_of_nibbles<W>(word >> (16 * s));
  else return code_bytes<W>(word, s);
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
__device__ __forceinline__ Sum run_sum(Sum partial, Sum activation_sums) {
  if constexpr (W::kInteger) return Sum(W::kStep) * partial + Sum(W::kOffset) * activation_sums;
  else return partial;
}

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes, kRun, kUnroll).
template <class P, class T>
__device__ void tensor_gemv_8bit(const MatmulParams& params) {
  using W = typename P::W;
  using A = typename P::A;
  using Mma = ByteMma<typename WeightBytes<A, W>::Type, A>;
  using Sum = typename Mma::Sum;  // of one run: int32 for int8, float32 for fp8
  using Acc = typename P::Accum;  // int (exact, no scales) or float
  constexpr bool kFloatAccum = !is_same<Acc, int>::value;
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
  static_assert(is_same<A, fmt::Int8>::value ? W::kInteger && W::kBits <= 8 : W::kBits == 4 || is_same<W, A>::value,
                "integer weights of up to 8 bits with int8 activations; with fp8 activations, 4-bit weights or "
                "weights of the activations' fp8 type");
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
  const uint8_t* a_rows[kRowHalves];
  block_activation_rows(params.A, P::K, m_begin, rows, g, a_rows);
  long long channel[kTiles][2];
  const uint8_t* weight_rows[kTiles][2];
  lane_channels<kTiles, T::kLoadBytes>(params.W, P::N, kRowBytes, n_block, g, t, channel, weight_rows);
  Acc acc[kTiles][kRowHalves][4];
  clear_sums(acc);

  constexpr long long kRoundStride = (long long)kWarps * T::kUnroll;
  uint32_t next[T::kUnroll][kTiles][2][kWords];
  load_round<T::kUnroll, kWarps, T::kLoadBytes>(next, weight_rows, warp, kBlocksK);
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
      load_round<T::kUnroll, kWarps, T::kLoadBytes>(next, weight_rows, first + kRoundStride, kBlocksK);
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
        Sum a_sums[kRowHalves][4];           // sum_k a over the run, rows 2t, 2t + 1 (c0, c1)
#pragma unroll
        for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            a_sums[half][c] = Sum(0);
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
                a[2 * part + half] = weight_operand<A, W>(loaded[u][tile][half][p / kCodesPerWord], (p % kCodesPerWord) / 4);
              }
            }
#pragma unroll
            for (int half = 0; half < kRowHalves; ++half) Mma::multiply(partial[tile][half], a, b[half][0], b[half][1]);
          }
          if constexpr (kActivationSums) {
            constexpr uint32_t kOne = is_same<A, fmt::Int8>::value ? 0x01010101u : 0x38383838u;  // e4m3 1.0
            const uint32_t ones[4] = {kOne, kOne, kOne, kOne};
#pragma unroll
            for (int half = 0; half < kRowHalves; ++half) Mma::multiply(a_sums[half], ones, b[half][0], b[half][1]);
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
                const Sum sums = kActivationSums ? a_sums[half][column] : Sum(0);
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
