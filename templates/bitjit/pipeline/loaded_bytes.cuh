#pragma once
// A few consecutive bytes of global memory loaded as 32-bit words, for the CUDA-core kernels
// (simt_matmul, gemv_matmul).
#include "bitjit/core/types.cuh"

namespace bitjit {

// kBytes (1, 2, 4, 8 or 16) consecutive bytes as 32-bit words, least significant byte first.
template <int kBytes>
struct LoadedBytes {
  static constexpr int kWords = kBytes < 4 ? 1 : kBytes / 4;
  uint32_t words[kWords];

  __device__ __forceinline__ void load(const uint8_t* address) {
    if constexpr (kBytes == 16) {
      const uint4 vector = *reinterpret_cast<const uint4*>(address);
      words[0] = vector.x; words[1] = vector.y; words[2] = vector.z; words[3] = vector.w;
    } else if constexpr (kBytes == 8) {
      const uint2 vector = *reinterpret_cast<const uint2*>(address);
      words[0] = vector.x; words[1] = vector.y;
    } else if constexpr (kBytes == 4) {
      words[0] = *reinterpret_cast<const uint32_t*>(address);
    } else if constexpr (kBytes == 2) {
      words[0] = *reinterpret_cast<const uint16_t*>(address);
    } else {
      words[0] = *address;
    }
  }

  // The code of the element-th kBits-wide field (fields never straddle words: kBits divides 32).
  template <int kBits>
  __device__ __forceinline__ uint32_t field(int element) const {
    const int bit = element * kBits;
    const uint32_t mask = kBits == 32 ? 0xffffffffu : (1u << kBits) - 1u;
    return (words[bit / 32] >> (bit % 32)) & mask;
  }
};

// kCount consecutive A elements (fp16 or bf16) from `row`, 16 bytes (or the whole run) per load.
template <class AFormat, int kCount>
__device__ __forceinline__ void load_activations(const uint16_t* row, float (&a)[kCount]) {
  constexpr int kPerLoad = kCount < 8 ? kCount : 8;
  static_assert(kCount % kPerLoad == 0, "whole loads");
#pragma unroll
  for (int chunk = 0; chunk < kCount / kPerLoad; ++chunk) {
    LoadedBytes<kPerLoad * 2> bytes;
    bytes.load(reinterpret_cast<const uint8_t*>(row + chunk * kPerLoad));
#pragma unroll
    for (int e = 0; e < kPerLoad; ++e) a[chunk * kPerLoad + e] = AFormat::decode(bytes.template field<16>(e));
  }
}

}  // namespace bitjit
