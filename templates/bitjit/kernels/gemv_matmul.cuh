#pragma once
// The gemv family: fp16 / bf16 activations, float accumulation, any weight format, made for small M
// where the kernel's only job is to stream the packed weights at memory speed. Like simt, each warp
// owns a column and its lanes stride K with kLoadBytes loads of W (at most 32 codes each), but:
//   - scales and zeros are loaded once per load (a load never straddles a group), and the scale is
//     applied to the chunk's partial sum rather than to every element;
//   - integer codes become floats by the exponent trick (or'ing the code into the mantissa of 2^23),
//     not the quarter-rate int-to-float instruction; nf4 reads its levels from shared memory;
//   - A is read 16 bytes at a time.
#include "bitjit/decode/dequant.cuh"
#include "bitjit/decode/float_codes.cuh"
#include "bitjit/epilogue/store.cuh"
#include "bitjit/epilogue/warp_sums.cuh"
#include "bitjit/pipeline/loaded_bytes.cuh"

namespace bitjit {

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes).
template <class P, class T>
__device__ void gemv_matmul(const MatmulParams& params) {
  using W = typename P::W;
  constexpr int kWarps = T::kThreads / 32;
  constexpr long long kRowBytes = P::K * W::kBits / 8;
  constexpr long long kLoadsPerRow = kRowBytes / T::kLoadBytes;
  constexpr int kPerLoad = T::kLoadBytes * 8 / W::kBits;  // codes per load
  constexpr long long kGroupSize = P::K / P::kGroups;
  static_assert(kRowBytes % T::kLoadBytes == 0, "a weight row must split into whole loads");
  static_assert(kGroupSize % kPerLoad == 0, "a load must not straddle a group");
  static_assert(kPerLoad <= 32, "at most 32 codes per load (registers)");
  // With these modes the scale factors out of a load's partial sum: sum(a * (v - z)) * s.
  constexpr bool kScaleAfterSum = P::kScaling && P::kZerosMode != Zeros::rescale;

  __shared__ float nf4_table[16];
  if constexpr (is_same<W, fmt::NF4>::value) {
    if (threadIdx.x < 16) nf4_table[threadIdx.x] = nf4_levels[threadIdx.x];
    __syncthreads();
  }

  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const uint8_t* weights = static_cast<const uint8_t*>(params.W);
  const uint16_t* activations = static_cast<const uint16_t*>(params.A);

  for (int column = warp; column < T::kBlockN; column += kWarps) {
    const long long n = (long long)blockIdx.x * T::kBlockN + column;
    if (n >= P::N) break;
    float sums[T::kBlockM];
#pragma unroll
    for (int r = 0; r < T::kBlockM; ++r) sums[r] = 0.0f;

#pragma unroll 2
    for (long long load = lane; load < kLoadsPerRow; load += 32) {
      LoadedBytes<T::kLoadBytes> bytes;
      bytes.load(weights + n * kRowBytes + load * T::kLoadBytes);
      const long long k0 = load * kPerLoad;
      const long long group = k0 / kGroupSize;

      float scale = 1.0f, zero = 0.0f;
      if constexpr (P::kScaling) scale = load_scale<P>(params, n, group);
      if constexpr (P::kZerosMode == Zeros::quantized) {
        zero = code_to_float(load_zero_code<P>(params, group, n));
      } else if constexpr (P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale) {
        zero = P::Scale::decode(load_code<typename P::Scale>(params.zeros, n * P::kGroups + group));
      }

      float w[kPerLoad];
#pragma unroll
      for (int e = 0; e < kPerLoad; ++e) {
        const uint32_t code = bytes.template field<W::kBits>(e);
        if constexpr (P::kZerosMode == Zeros::quantized) {
          w[e] = code_to_float(code) - zero;  // quantized zeros subtract from the raw code
        } else if constexpr (P::kZerosMode == Zeros::original) {
          w[e] = weight_value<W>(code, nf4_table) - zero;
        } else if constexpr (P::kZerosMode == Zeros::rescale) {
          w[e] = fmaf(weight_value<W>(code, nf4_table), scale, -zero);
        } else {
          w[e] = weight_value<W>(code, nf4_table);
        }
      }

#pragma unroll
      for (int r = 0; r < T::kBlockM; ++r) {
        if (r >= rows) break;
        float a[kPerLoad];
        load_activations<typename P::A, kPerLoad>(activations + (m_begin + r) * P::K + k0, a);
        float partial = 0.0f;
#pragma unroll
        for (int e = 0; e < kPerLoad; ++e) partial = fmaf(a[e], w[e], partial);
        sums[r] = kScaleAfterSum ? fmaf(partial, scale, sums[r]) : sums[r] + partial;
      }
    }
#pragma unroll
    for (int r = 0; r < T::kBlockM; ++r) {
      const float total = warp_sum(sums[r]);
      if (lane == 0 && r < rows) store_output<P>(params, m_begin + r, n, typename P::Accum(total));
    }
  }
}

// gemv_matmul's dynamic shared memory, no dynamic shared memory (the nf4 table is static). The host
// launches it with its own dynamic_shared_bytes, which tests/compiler/test_shared_memory.cpp checks
// against this.
template <class P, class T>
constexpr int gemv_matmul_dynamic_shared_bytes() {
  return 0;
}

}  // namespace bitjit
