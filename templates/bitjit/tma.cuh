#pragma once
// Hopper's tensor memory accelerator (TMA) and the shared-memory barriers (mbarriers) it signals,
// sm_90 and newer: what the warp-specialized family (tensor_wgmma_ws.cuh) builds its ring on. One
// thread asks the TMA for a 2-D box of a tensor (described on the host by a tensor map) and tells
// the stage's "full" barrier how many bytes to expect; the copy lands in shared memory and completes
// those bytes on the barrier, so the consumers wait on the barrier, not on copies of their own.
#include "bitjit/async_copy.cuh"
#include "bitjit/matmul_params.cuh"

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

// Copies the box of the tensor map `map` at element coordinates (x, y) (x along the contiguous
// dimension) to `shared`, completing its bytes on `barrier`. Coordinates past the tensor's edges
// read nothing and fill zeros (the bytes still count).
__device__ __forceinline__ void tma_load_2d(void* shared, const TensorMap& map, int x, int y, uint64_t* barrier) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
          shared_address(shared)),
      "l"(reinterpret_cast<uint64_t>(&map)), "r"(x), "r"(y), "r"(shared_address(barrier))
      : "memory");
}

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

// Programmatic dependent launch (sm_90): the host launches the warp-specialized kernels so that the
// next kernel in the stream may start while this one finishes. allow_dependent_launch() lets it
// (from every block, the next kernel's blocks take SMs as this one's leave); wait_for_prior_grids()
// returns once the kernel before has completed and its writes are visible, so it must come before
// this kernel's first access to global memory (A may be the kernel before's output, and C, the
// workspace and the counters its next kernel's). Without a prior programmatic launch both do nothing.
__device__ __forceinline__ void allow_dependent_launch() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void wait_for_prior_grids() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

// A position in a ring of kStages stages guarded by barriers: the stage, and the parity of the
// barrier phase that stage is in this time round.
template <int kStages>
struct RingPosition {
  int stage = 0;
  uint32_t phase = 0;
  __device__ __forceinline__ void advance() {
    if (++stage == kStages) stage = 0, phase ^= 1u;
  }
};

}  // namespace bitjit
