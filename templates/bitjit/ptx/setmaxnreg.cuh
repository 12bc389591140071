#pragma once
// Registers moved between the warpgroups of a block (setmaxnreg, sm_90a).

namespace bitjit {

// Hands registers back to the block's pool (setmaxnreg.dec) or takes more from it (.inc): every
// thread of a warpgroup executes it, and from then on the warpgroup runs with kRegisters per thread.
// The producer warpgroup, which only issues copies, gives its registers to the consumers, which hold
// the accumulators.
template <int kRegisters>
__device__ __forceinline__ void release_registers() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegisters));
}

template <int kRegisters>
__device__ __forceinline__ void claim_registers() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegisters));
}

}  // namespace bitjit
