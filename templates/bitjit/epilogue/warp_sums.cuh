#pragma once
// Sums split over a warp's lanes or a block's warps added before the store.
#include "bitjit/epilogue/store.cuh"

namespace bitjit {

template <class T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// The warps split K, so warp 0 adds the others' sums (through shared memory). Every thread calls
// it; it returns true to warp 0's, which then hold the block's sums.
template <int kWarps, int kTiles, int kRowHalves, class Acc>
__device__ __forceinline__ bool sum_warps(Acc (&acc)[kTiles][kRowHalves][4],
                                          Acc (&warp_sums)[kWarps][kTiles][kRowHalves][4][32]) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if constexpr (kWarps > 1) {
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c) warp_sums[warp][tile][half][c][lane] = acc[tile][half][c];
    __syncthreads();
    if (warp != 0) return false;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c)
          for (int other = 1; other < kWarps; ++other) acc[tile][half][c] += warp_sums[other][tile][half][c][lane];
  }
  return true;
}

// The block's sums after sum_warps, as C elements: acc[tile][row half][c] of a lane of warp 0 holds
// channel g (c < 2) or g + 8 of the tile, activation rows 8 * half + 2t + (c & 1). `holds` is false
// on the other warps' threads, which have no outputs.
template <class P, int kTiles, int kRowHalves, class Acc>
struct GemvOutputs {
  const Acc (&acc)[kTiles][kRowHalves][4];
  long long m_begin, n_block;
  int rows;
  bool holds;

  // Calls store(row, column, sum) for each of this thread's sums inside C.
  template <class Store>
  __device__ __forceinline__ void for_each_output(Store store) const {
    if (!holds) return;
    const int lane = threadIdx.x % 32;
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int row = 8 * half + 2 * t + (c & 1);
          const long long column = n_block + tile * 16 + g + (c >= 2 ? 8 : 0);
          if (row < rows && column < P::N) store(m_begin + row, column, acc[tile][half][c]);
        }
  }
};

// The end of a tensor_gemv kernel of one slice of K: the warps' sums added, stored to C. (The store
// loop is GemvOutputs::for_each_output's, written out: through the lambda the int32-sum kernels of
// tensor_gemv_8bit compiled to other machine code.)
template <class P, int kWarps, int kTiles, int kRowHalves, class Acc>
__device__ __forceinline__ void sum_warps_and_store(Acc (&acc)[kTiles][kRowHalves][4],
                                                    Acc (&warp_sums)[kWarps][kTiles][kRowHalves][4][32],
                                                    const MatmulParams& params, long long m_begin, int rows,
                                                    long long n_block) {
  if (!sum_warps(acc, warp_sums)) return;
  const int lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int half = 0; half < kRowHalves; ++half) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int row = 8 * half + 2 * t + (c & 1);
        const long long column = n_block + tile * 16 + g + (c >= 2 ? 8 : 0);
        if (row < rows && column < P::N) store_output<P>(params, m_begin + row, column, acc[tile][half][c]);
      }
    }
  }
}

}  // namespace bitjit
