#pragma once
// Stream-K: the pieces of a shared tile's sums added through the workspace (tensor_wgmma_ws).
#include "bitjit/pipeline/persistent_tiles.cuh"
#include "bitjit/ptx/global_memory.cuh"

namespace bitjit {

__device__ __forceinline__ uint32_t sum_bits(float sum) { return __float_as_uint(sum); }

__device__ __forceinline__ uint32_t sum_bits(int sum) { return uint32_t(sum); }

__device__ __forceinline__ void add_sum_bits(float& sum, uint32_t bits) { sum += __uint_as_float(bits); }

__device__ __forceinline__ void add_sum_bits(int& sum, uint32_t bits) { sum += int(bits); }

// After a block multiplied stages k_begin .. k_end - 1 of `tile` into a consumer thread's sums d:
// true if d holds the tile's complete sums, which the caller then stores. A piece of a tile goes to
// the workspace, slot (block, 0) for the block's first tile and (block, 1) for its last, laid out by
// thread so that the same thread of every sharing block reads it back coalesced; each warp counts
// the stages done on its own counter of the tile, and the warp that completes the count adds every
// block's piece (its own read back) in block order, the same sums whichever block finishes last,
// and resets the counter for the next launch. No warp waits for another block, so the persistent
// grid cannot deadlock.
template <class P, class T, class Acc, int kCount>
__device__ __forceinline__ bool share_tile_sums(const StreamKWork<P, T>& work, const MatmulParams& params, long long tile,
                                                int k_begin, int k_end, Acc (&d)[kCount]) {
  if (k_begin == 0 && k_end == work.tiles_k) return true;
  uint32_t* slots = static_cast<uint32_t*>(params.workspace);  // [gridDim.x][2][kCount][kThreads]
  const auto piece = [&](long long block, long long of_tile) {
    const long long slot = block * 2 + (of_tile == work.first_tile(block) ? 0 : 1);
    return slots + slot * kCount * T::kThreads + threadIdx.x;
  };
  uint32_t* mine = piece(blockIdx.x, tile);
#pragma unroll
  for (int i = 0; i < kCount; ++i) mine[i * T::kThreads] = sum_bits(d[i]);
  __syncwarp();  // orders the warp's stores before lane 0's release
  unsigned int* counter = params.tile_counters + tile * (T::kThreads / 32) + threadIdx.x / 32;
  unsigned int done = 0;
  if (threadIdx.x % 32 == 0) done = add_acquire_release(counter, unsigned(k_end - k_begin)) + unsigned(k_end - k_begin);
  done = __shfl_sync(0xffffffffu, done, 0);
  if (done != unsigned(work.tiles_k)) return false;
  __syncwarp();  // orders lane 0's acquire of the other blocks' pieces before every lane's reads
#pragma unroll
  for (int i = 0; i < kCount; ++i) d[i] = Acc(0);
  // Block by block, this one's piece read back too: no second set of kCount registers.
  for (long long block = work.first_block(tile); block <= work.last_block(tile); ++block) {
    const uint32_t* from = piece(block, tile);
#pragma unroll
    for (int i = 0; i < kCount; ++i) add_sum_bits(d[i], load_l2_word(from + i * T::kThreads));
  }
  if (threadIdx.x % 32 == 0) *counter = 0u;
  return true;
}

}  // namespace bitjit
