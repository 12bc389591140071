#pragma once
// Basic device types for generated kernels. NVRTC compiles bitjit's kernels without any CUDA
// toolkit header (faster compiles, no include path to find at run time), so the fixed-width
// integer names and the 16-bit float storage types are defined here.

#if defined(__CUDACC_RTC__)
using int8_t = signed char;
using uint8_t = unsigned char;
using int16_t = short;
using uint16_t = unsigned short;
using int32_t = int;
using uint32_t = unsigned int;
using int64_t = long long;
using uint64_t = unsigned long long;
#endif
#include "bitjit/core/matmul_params.cuh"

namespace bitjit {

// Storage of one float16 / bfloat16 element: its bit pattern.
struct half_t {
  uint16_t bits;
};
struct bfloat16_t {
  uint16_t bits;
};

template <class T, class U>
struct is_same {
  static constexpr bool value = false;
};
template <class T>
struct is_same<T, T> {
  static constexpr bool value = true;
};

__device__ __forceinline__ float half_bits_to_float(uint32_t bits) {
  float value;
  asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(uint16_t(bits)));
  return value;
}

// Round to nearest even, as the CPU reference does; overflow gives infinity.
__device__ __forceinline__ uint32_t float_to_half_bits(float value) {
  uint16_t bits;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(value));
  return bits;
}

__device__ __forceinline__ float bfloat16_bits_to_float(uint32_t bits) { return __uint_as_float(bits << 16); }

__device__ __forceinline__ uint32_t float_to_bfloat16_bits(float value) {
  uint16_t bits;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(bits) : "f"(value));
  return bits;
}

}  // namespace bitjit
