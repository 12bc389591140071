#pragma once
// Shared-memory addresses as the PTX instructions that take them want them (cp.async, mbarrier,
// TMA, wgmma descriptors).
#include "bitjit/core/types.cuh"

namespace bitjit {

// The 32-bit shared-state-space address cp.async takes. NVRTC compiles without the toolkit headers,
// so the conversion is the PTX instruction itself.
__device__ __forceinline__ uint32_t shared_address(const void* pointer) {
  uint32_t address;
  asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(pointer));
  return address;
}

}  // namespace bitjit
