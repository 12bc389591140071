#pragma once
// Named barriers (bar.sync / bar.arrive with an id and a thread count): a subset of the block waits
// for another's signal without stopping the rest, as __syncthreads (barrier 0) would. The id is an
// immediate: with an id in a register ptxas reserves all 16 of the block's barriers.

namespace bitjit {

// Waits until kThreads threads (this one counted, a multiple of 32) have reached barrier kId.
template <int kId, int kThreads>
__device__ __forceinline__ void named_barrier_sync() {
  asm volatile("bar.sync %0, %1;" ::"n"(kId), "n"(kThreads) : "memory");
}

// Counts this thread towards barrier kId's kThreads without waiting.
template <int kId, int kThreads>
__device__ __forceinline__ void named_barrier_arrive() {
  asm volatile("bar.arrive %0, %1;" ::"n"(kId), "n"(kThreads) : "memory");
}

}  // namespace bitjit
