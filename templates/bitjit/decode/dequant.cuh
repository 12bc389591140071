#pragma once
// Weight dequantization, one element at a time: w = f(v(q), scale, zero) per docs/formats.md.
// The fast families decode whole registers at once; this is the reference-shaped path they must match.
#include "bitjit/decode/formats.cuh"

namespace bitjit {

enum class Zeros { none, original, rescale, quantized };

// One scale per channel and no zero points: a kernel may multiply each channel's float sums by its
// scale once, after the sum, instead of each weight (kScaleSums of the gemv and GEMM families).
template <class P>
inline constexpr bool kScalesOnSums = P::kScaling && P::kGroups == 1 && P::kZerosMode == Zeros::none;

// P is the generated Problem: formats W and Scale, kGroups, N, kScaling, kZerosMode.
template <class P>
__device__ __forceinline__ float load_scale(const MatmulParams& params, long long n, long long group) {
  return P::Scale::decode(load_code<typename P::Scale>(params.scales, n * P::kGroups + group));
}

// Where channel n's packed zero code of scale group `group` lies (group-major: N codes a group). In
// 32 bits when every index of the array fits (each layer of the suite): the 64-bit multiply-add, its
// address and the signed division were most of a stage's zero-code instructions.
template <class P>
__device__ __forceinline__ constexpr auto zero_code_index(long long group, long long n) {
  if constexpr (P::kGroups * P::N <= (1ll << 32)) return uint32_t(group) * uint32_t(P::N) + uint32_t(n);
  else return static_cast<unsigned long long>(group * P::N + n);
}

template <class P>
__device__ __forceinline__ uint32_t load_zero_code(const MatmulParams& params, long long group, long long n) {
  return load_code<typename P::W>(params.zeros, zero_code_index<P>(group, n));
}

template <class P>
__device__ __forceinline__ float dequantize(uint32_t code, long long n, long long group, const MatmulParams& params) {
  const float value = P::W::decode(code);
  if constexpr (!P::kScaling) {
    return value;
  } else {
    const float scale = load_scale<P>(params, n, group);
    if constexpr (P::kZerosMode == Zeros::none) {
      return value * scale;
    } else if constexpr (P::kZerosMode == Zeros::quantized) {
      // Quantized zeros are codes of W's own width, packed along N, and subtract from the raw code.
      const uint32_t zero_code = load_zero_code<P>(params, group, n);
      return (float(code) - float(zero_code)) * scale;
    } else {
      const float zero = P::Scale::decode(load_code<typename P::Scale>(params.zeros, n * P::kGroups + group));
      if constexpr (P::kZerosMode == Zeros::original) return (value - zero) * scale;
      else return value * scale - zero;  // rescale
    }
  }
}

}  // namespace bitjit
