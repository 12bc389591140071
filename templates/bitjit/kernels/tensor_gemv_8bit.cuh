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
#include "bitjit/decode/weight_bytes.cuh"
#include "bitjit/epilogue/warp_sums.cuh"
#include "bitjit/mma/mma_sync.cuh"
#include "bitjit/pipeline/gemv_stream.cuh"

namespace bitjit {

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes, kRun, kUnroll, kChannelTiles).
template <class P, class T>
__device__ void tensor_gemv_8bit(const MatmulParams& params) {
  using W = typename P::W;
  using A = typename P::A;
  using S = GemvShape<P, T>;
  using Mma = ByteMma<typename WeightBytes<A, W>::Type, A>;
  using Sum = typename Mma::Sum;  // of one run: int32 for int8, float32 for fp8
  using Acc = typename P::Accum;  // int (exact, no scales) or float
  constexpr bool kFloatAccum = !is_same<Acc, int>::value;
  constexpr int kCodesPerWord = 32 / W::kBits;
  constexpr bool kActivationSums = activation_sums_needed<P, W>();
  static_assert(is_same<A, fmt::Int8>::value ? W::kInteger && W::kBits <= 8 : W::kBits == 4 || is_same<W, A>::value,
                "integer weights of up to 8 bits with int8 activations; with fp8 activations, 4-bit weights or "
                "weights of the activations' fp8 type");
  static_assert(S::kCodes % T::kRun == 0 && T::kRun % 8 == 0, "whole runs of whole mma steps");
  static_assert(kFloatAccum || (!P::kScaling && P::kZerosMode == Zeros::none), "int32 sums take no scales");

  __shared__ Acc warp_sums[S::kWarps][S::kTiles][S::kRowHalves][4][32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates: row/column group, k pair
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const uint8_t* a_rows[S::kRowHalves];
  block_activation_rows(params.A, P::K, m_begin, rows, g, a_rows);
  long long channel[S::kTiles][2];
  const uint8_t* weight_rows[S::kTiles][2];
  lane_channels<typename S::Pieces, S::kTiles, T::kLoadBytes>(params.W, P::N, n_block, g, t, channel, weight_rows);
  Acc acc[S::kTiles][S::kRowHalves][4];
  clear_sums(acc);

  uint32_t next[T::kUnroll][S::kTiles][2][S::kWords];
  load_round<T::kUnroll, S::kWarps, T::kLoadBytes, S::kBlockStride>(next, weight_rows, warp, S::kBlocksK);
  for (long long first = warp; first < S::kBlocksK; first += S::kRoundStride) {
    uint32_t loaded[T::kUnroll][S::kTiles][2][S::kWords];
    advance_round<T::kUnroll, S::kWarps, T::kLoadBytes, S::kBlockStride>(loaded, next, weight_rows, first + S::kRoundStride, S::kBlocksK);

#pragma unroll
    for (int u = 0; u < T::kUnroll; ++u) {
      const long long block = first + u * S::kWarps;
      if (block >= S::kBlocksK) break;
#pragma unroll
      for (int run = 0; run < S::kRuns; ++run) {
        const long long k_run = block * S::kBlockK + 4 * T::kRun * run;
        const long long group = k_run / S::kGroupSize;
        const long long k_lane = k_run + T::kRun * t;
        Sum partial[S::kTiles][S::kRowHalves][4];  // sum_k a * u over the run
        Sum a_sums[S::kRowHalves][4];           // sum_k a over the run, rows 2t, 2t + 1 (c0, c1)
#pragma unroll
        for (int half = 0; half < S::kRowHalves; ++half)
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            a_sums[half][c] = Sum(0);
#pragma unroll
            for (int tile = 0; tile < S::kTiles; ++tile) partial[tile][half][c] = Sum(0);
          }
#pragma unroll
        for (int step = 0; step < T::kRun / 8; ++step) {
          uint32_t b[S::kRowHalves][2];  // k slots 4t..4t+3 and 16+4t..16+4t+3 = 8 consecutive k of rows g (+ 8)
#pragma unroll
          for (int half = 0; half < S::kRowHalves; ++half) load_activation_words<S::kRowHalves>(a_rows[half], k_lane + 8 * step, b[half][0], b[half][1]);
          const int position = run * T::kRun + 8 * step;  // of this lane's codes
#pragma unroll
          for (int tile = 0; tile < S::kTiles; ++tile) {
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
            for (int half = 0; half < S::kRowHalves; ++half) Mma::multiply(partial[tile][half], a, b[half][0], b[half][1]);
          }
          if constexpr (kActivationSums) {
            constexpr uint32_t kOne = is_same<A, fmt::Int8>::value ? 0x01010101u : 0x38383838u;  // e4m3 1.0
            const uint32_t ones[4] = {kOne, kOne, kOne, kOne};
#pragma unroll
            for (int half = 0; half < S::kRowHalves; ++half) Mma::multiply(a_sums[half], ones, b[half][0], b[half][1]);
          }
        }
#pragma unroll
        for (int tile = 0; tile < S::kTiles; ++tile) {
#pragma unroll
          for (int own = 0; own < 2; ++own) {  // this lane's channels g, g + 8: elements 2 * own, 2 * own + 1
            float scale = 1.0f, zero_codes = 0.0f, zero_after_scale = 0.0f;
            if constexpr (P::kScaling) scale = load_scale<P>(params, channel[tile][own], group);
            if constexpr (P::kZerosMode == Zeros::quantized) {
              zero_codes = float(load_zero_code<P>(params, group, channel[tile][own]));  // integer W only
            } else if constexpr (P::kZerosMode != Zeros::none) {
              const float z = P::Scale::decode(load_code<typename P::Scale>(params.zeros, channel[tile][own] * P::kGroups + group));
              if constexpr (P::kZerosMode == Zeros::original) zero_codes = z;
              else zero_after_scale = z;  // rescale: v * s - z
            }
#pragma unroll
            for (int half = 0; half < S::kRowHalves; ++half) {
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

// tensor_gemv_8bit's dynamic shared memory, no dynamic shared memory (the warps' sums are static).
// The host launches it with its own dynamic_shared_bytes, which
// tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int tensor_gemv_8bit_dynamic_shared_bytes() {
  return 0;
}

}  // namespace bitjit
