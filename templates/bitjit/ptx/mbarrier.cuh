#pragma once
// Shared-memory barriers (mbarriers, sm_90 and newer): the TMA completes its bytes on them, and the
// warp-specialized kernels' producer and consumers wait on them for full and free stages.
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

__device__ __forceinline__ void mbarrier_init(uint64_t* barrier, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(shared_address(barrier)), "r"(arrivals) : "memory");
}

// Makes the barriers' initialization visible to the other threads and to the TMA (before a
// __syncthreads).
__device__ __forceinline__ void fence_barrier_init() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }

__device__ __forceinline__ void mbarrier_arrive(uint64_t* barrier) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(shared_address(barrier)) : "memory");
}

// This thread's arrival, and `bytes` more that the phase waits for (the TMA copies complete them).
__device__ __forceinline__ void mbarrier_arrive_expect_bytes(uint64_t* barrier, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(barrier)), "r"(bytes)
               : "memory");
}

// Waits until the barrier's phase of parity `parity` has completed. A fresh barrier is in phase 0,
// and the phase before it (parity 1) counts as completed: a producer waiting for free stages starts
// with parity 1 and finds every stage free.
__device__ __forceinline__ void mbarrier_wait(uint64_t* barrier, uint32_t parity) {
  const uint32_t address = shared_address(barrier);
  uint32_t done = 0;
  while (!done) {
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done)
                 : "r"(address), "r"(parity)
                 : "memory");
  }
}

// mbarrier_wait for a warp that issues .aligned instructions (wgmma) next: its lanes may leave the
// wait's loop apart (and whatever came before, e.g. a tile's stores of the rows inside M, may have
// diverged), so they converge again after it.
__device__ __forceinline__ void mbarrier_wait_converged(uint64_t* barrier, uint32_t parity) {
  mbarrier_wait(barrier, parity);
  __syncwarp();
}

// One arrival for the whole warp (a barrier counting warps), once every lane got here.
__device__ __forceinline__ void mbarrier_arrive_per_warp(uint64_t* barrier) {
  if (threadIdx.x % 32 == 0) mbarrier_arrive(barrier);
}

}  // namespace bitjit
