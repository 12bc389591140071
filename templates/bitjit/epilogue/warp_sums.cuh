#pragma once
// Sums split over a warp's lanes or a block's warps added before the store.
#include "bitjit/epilogue/store.cuh"

namespace bitjit {

template <class T>
__device__ __forceinline__ T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// The end of a tensor_gemv kernel: the warps split K, so warp 0 adds the others' sums (through
// shared memory) and stores its lanes' elements of the C fragments: acc[tile][row half][c] holds
// channel g (c < 2) or g + 8 of the tile, activation rows 8 * half + 2t + (c & 1).
template <class P, int kWarps, int kTiles, int kRowHalves, class Acc>
__device__ __forceinline__ void sum_warps_and_store(Acc (&acc)[kTiles][kRowHalves][4],
                                                    Acc (&warp_sums)[kWarps][kTiles][kRowHalves][4][32],
                                                    const MatmulParams& params, long long m_begin, int rows,
                                                    long long n_block) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  if constexpr (kWarps > 1) {
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c) warp_sums[warp][tile][half][c][lane] = acc[tile][half][c];
    __syncthreads();
    if (warp != 0) return;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
        for (int c = 0; c < 4; ++c)
          for (int other = 1; other < kWarps; ++other) acc[tile][half][c] += warp_sums[other][tile][half][c][lane];
  }
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
