#pragma once
// Global-memory accesses with explicit cache and ordering qualifiers.
#include "bitjit/core/types.cuh"

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

// Asks for the line holding `address` in L1 ahead of its load; nothing waits for it.
__device__ __forceinline__ void prefetch_l1(const void* address) {
  asm volatile("prefetch.global.L1 [%0];" : : "l"(address));
}

__device__ __forceinline__ float load_l2(const float* address) {
  float value;
  asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(value) : "l"(address));  // the other slices' sums: not via L1
  return value;
}

__device__ __forceinline__ uint32_t load_l2_word(const uint32_t* address) {
  uint32_t value;
  asm volatile("ld.global.cg.b32 %0, [%1];" : "=r"(value) : "l"(address));  // another block's sums: not via L1
  return value;
}

// counter += value at GPU scope as a release of the warp's stores before it (ordered by __syncwarp)
// and an acquire of the stores that other blocks released into it: cheaper than two full fences
// (__threadfence is fence.sc, a MEMBAR.SC that waited 4 % of the stall samples at qkv M = 64).
__device__ __forceinline__ unsigned int add_acquire_release(unsigned int* counter, unsigned int value) {
  unsigned int before;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(before) : "l"(counter), "r"(value) : "memory");
  return before;
}

}  // namespace bitjit
