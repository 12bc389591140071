#pragma once
// The cp.async ring of the tensor_wgmma kernels.
#include "bitjit/mma/wgmma.cuh"
#include "bitjit/pipeline/cp_async_ring.cuh"

namespace bitjit {

// The ring of tensor_wgmma's kernels: kStages - 2 tiles in flight behind the one being multiplied
// and the one whose last wgmma may still run (multiply waits for all but its newest group, so the
// stage of tile - 2 can be refilled). Each thread's landed copies are made visible to the wgmmas'
// async proxy before the barrier.
template <int kStages, class Load, class Multiply>
__device__ __forceinline__ void run_wgmma_ring(int tiles, Load load, Multiply multiply) {
  static_assert(kStages >= 3, "three stages at least: one loading, one multiplied, one finishing");
  run_staged_ring<kStages, 1>(tiles, load, multiply, [] { fence_shared_for_async(); });
  wgmma_wait<0>();
  wait_async_copies<0>();
}

}  // namespace bitjit
