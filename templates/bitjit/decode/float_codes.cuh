#pragma once
// Weight values as float32 for the CUDA-core gemv kernel (gemv_matmul).
#include "bitjit/decode/formats.cuh"

namespace bitjit {

// code -> float exactly, for codes below 2^23: the float with bits 0x4B000000 | code is 2^23 + code.
__device__ __forceinline__ float code_to_float(uint32_t code) { return __uint_as_float(0x4B000000u | code) - 8388608.0f; }

// The value of a weight code (before scale and zero).
template <class W>
__device__ __forceinline__ float weight_value(uint32_t code, const float* nf4_table) {
  if constexpr (W::kInteger) {
    return float(W::kStep) * code_to_float(code ^ W::kFlip) + float(W::kOffset);
  } else if constexpr (is_same<W, fmt::NF4>::value) {
    return nf4_table[code];
  } else {
    return W::decode(code);
  }
}

}  // namespace bitjit
