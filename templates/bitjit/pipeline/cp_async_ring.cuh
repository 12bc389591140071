#pragma once
// The cp.async rings of the staged kernels: tiles of A and W through kStages stages of shared memory.
#include "bitjit/ptx/cp_async.cuh"

namespace bitjit {

// Tile i lives in stage i mod kStages. kStages - 1 - kKept tiles are in flight behind the one being
// multiplied and the kKept before it, whose multiply may still read them (wgmmas left running).
// Every thread commits one copy group per tile, empty past the end, so "all but kAhead - 1 groups
// done" always means "this tile landed". load(stage, tile) issues a tile's copies; multiply(stage,
// tile) reads it; landed() runs between the wait and the block-wide barrier (a proxy fence where the
// multiply's readers are async, as wgmma's are).
template <int kStages, int kKept, class Load, class Multiply, class Landed>
__device__ __forceinline__ void run_staged_ring(int tiles, Load load, Multiply multiply, Landed landed) {
  constexpr int kAhead = kStages - 1 - kKept;
  static_assert(kAhead >= 1, "a stage loading, the one multiplied and the kept ones at least");
#pragma unroll
  for (int s = 0; s < kAhead; ++s) {
    if (s < tiles) load(s, s);
    commit_async_copies();
  }
  int consumed = 0, filled = kAhead;
  for (int tile = 0; tile < tiles; ++tile) {
    wait_async_copies<kAhead - 1>();
    landed();
    // The tile landed for every thread, and every warp is done with the stage refilled next (the
    // multiply of tile - 1 - kKept returned, and waited for whatever it left running).
    __syncthreads();
    if (tile + kAhead < tiles) load(filled, tile + kAhead);
    commit_async_copies();
    multiply(consumed, tile);
    consumed = consumed + 1 == kStages ? 0 : consumed + 1;
    filled = filled + 1 == kStages ? 0 : filled + 1;
  }
}

// The ring of a multiply that is done with its stage when it returns (mma.sync): kStages - 1 tiles
// in flight.
template <int kStages, class Load, class Multiply>
__device__ __forceinline__ void run_cp_async_ring(int tiles, Load load, Multiply multiply) {
  run_staged_ring<kStages, 0>(tiles, load, multiply, [] {});
  wait_async_copies<0>();
}

}  // namespace bitjit
