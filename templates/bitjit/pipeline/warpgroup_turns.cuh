#pragma once
// Warpgroups of a block taking turns at the tensor pipe (tensor_wgmma_w4a8).
#include "bitjit/ptx/named_barrier.cuh"

namespace bitjit {

// kWarpgroups warpgroups (threads 128 w .. 128 w + 127) issue their wgmmas piece by piece in
// warpgroup order: warpgroup w waits for w - 1 to have issued its piece before issuing its own, and
// warpgroup 0 for the last one's previous piece. A warpgroup that must wait for its wgmmas before it
// can go on (to convert a group's int32 sums) then does so while the next warpgroup's wgmmas, queued
// behind its own, keep the tensor pipe busy; issued together, the warpgroups' wgmmas interleave and
// all of them end at once, leaving the pipe idle while every warpgroup converts.
// Barrier w + 1 carries the turn to warpgroup w (barrier 0 is __syncthreads'). Every warpgroup must
// take the same number of turns, and warpgroup 0 calls finish() after its last.
template <int kWarpgroups>
struct WarpgroupTurns {
  static_assert(kWarpgroups >= 1 && kWarpgroups <= 8, "barriers 1 .. kWarpgroups of the 16");
  static constexpr int kThreads = 2 * 128;  // the passing warpgroup's arrivals and the waiting one's
  int warpgroup;
  bool first_turn = true;

  __device__ __forceinline__ WarpgroupTurns() : warpgroup(int(threadIdx.x) / 128) {}

  // Before this warpgroup's piece: the previous warpgroup's piece has been issued.
  __device__ __forceinline__ void wait_turn() {
    if (kWarpgroups > 1 && !(first_turn && warpgroup == 0)) wait_on(warpgroup);
    first_turn = false;
  }

  // After this warpgroup's piece has been issued: the next warpgroup's turn.
  __device__ __forceinline__ void pass_turn() const {
    if (kWarpgroups > 1) pass_to(warpgroup + 1 == kWarpgroups ? 0 : warpgroup + 1);
  }

  // After the last piece: warpgroup 0 takes the turn the last warpgroup passed it, so that no barrier
  // is left half arrived at the block's exit.
  __device__ __forceinline__ void finish() {
    if (kWarpgroups > 1 && warpgroup == 0 && !first_turn) named_barrier_sync<1, kThreads>();
  }

 private:
  // Barrier 1 + w by an immediate id (one branch per warpgroup, resolved at compile time per w).
  template <int w = 0>
  __device__ __forceinline__ static void wait_on(int target) {
    if constexpr (w < kWarpgroups) {
      if (target == w) named_barrier_sync<1 + w, kThreads>();
      else wait_on<w + 1>(target);
    }
  }
  template <int w = 0>
  __device__ __forceinline__ static void pass_to(int target) {
    if constexpr (w < kWarpgroups) {
      if (target == w) named_barrier_arrive<1 + w, kThreads>();
      else pass_to<w + 1>(target);
    }
  }
};

}  // namespace bitjit
