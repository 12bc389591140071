#pragma once
// The cp.async ring of the tensor_wgmma kernels.
#include "bitjit/mma/wgmma.cuh"
#include "bitjit/ptx/cp_async.cuh"

namespace bitjit {

// The cp.async ring of both tensor_wgmma kernels: tile i lives in stage i mod kStages, and
// kStages - 2 tiles are in flight behind the one being multiplied and the one whose last wgmma may
// still run. Every thread commits one copy group per tile, empty past the end, so "all but
// kStages - 3 groups done" always means "this tile landed". load(stage, tile) issues a tile's
// copies; multiply(stage, tile) issues its wgmmas and may leave its last group running.
template <int kStages, class Load, class Multiply>
__device__ __forceinline__ void run_wgmma_ring(int tiles, Load load, Multiply multiply) {
  constexpr int kAhead = kStages - 2;
  static_assert(kAhead >= 1, "three stages at least: one loading, one multiplied, one finishing");
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < tiles) load(s, s);
    commit_async_copies();
  }
  int consumed = 0, filled = kAhead;
  for (int tile = 0; tile < tiles; ++tile) {
    wait_async_copies<kAhead - 1>();
    fence_shared_for_async();  // this thread's copies, landed, become visible to the wgmma's reads
    // The tile landed for every thread, and every warpgroup's wgmmas of tile - 2 are done (multiply
    // waits for all but its newest group), so the stage they read can be refilled.
    __syncthreads();
    if (tile + kAhead < tiles) load(filled, tile + kAhead);
    commit_async_copies();
    multiply(consumed, tile);
    consumed = consumed + 1 == kStages ? 0 : consumed + 1;
    filled = filled + 1 == kStages ? 0 : filled + 1;
  }
  wgmma_wait<0>();
  wait_async_copies<0>();
}

}  // namespace bitjit
