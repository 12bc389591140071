#pragma once
// Asynchronous global -> shared memory copies (cp.async, sm_80 and newer), 16 bytes at a time, in
// commit groups that a multi-stage pipeline waits on.
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

// Copies 16 bytes, or writes 16 zero bytes and reads nothing when !valid (rows past M, k past K,
// channels past N), so the consumer never needs a bounds check.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global, bool valid) {
  // L2 only (.cg): every byte staged here is read from shared memory, never again through L1.
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(shared)), "l"(global),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ __forceinline__ void commit_async_copies() { asm volatile("cp.async.commit_group;" ::: "memory"); }

// Waits until at most kPending of this thread's commit groups are still in flight.
template <int kPending>
__device__ __forceinline__ void wait_async_copies() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

}  // namespace bitjit
