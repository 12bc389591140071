#pragma once
// The outputs of a wgmma tile in its fragment layout, and their store.
#include "bitjit/epilogue/store.cuh"

namespace bitjit {

// A warpgroup tile's outputs: D's fragment layout holds this warp's channels g, g + 8 and, for each
// 8 rows j, d[4j + 0, 1] = channel g, rows 8j + 2t (+1), d[4j + 2, 3] = channel g + 8. for_each_output
// calls store(row, column, sum) for those inside C (the form reduce_slices_and_store takes).
template <class P, int kRows, class Acc>
struct WgmmaOutputs {
  const MatmulParams& params;
  const Acc (&d)[kRows / 2];
  long long m_block, first_channel;

  template <class Store>
  __device__ __forceinline__ void for_each_output(Store store) const {
    const int g = int(threadIdx.x) % 32 / 4, t = int(threadIdx.x) % 4;
#pragma unroll
    for (int j = 0; j < kRows / 8; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const long long row = m_block + 8 * j + 2 * t + (c & 1);
        const long long column = first_channel + g + (c >= 2 ? 8 : 0);
        if (row < params.M && column < P::N) store(row, column, d[4 * j + c]);
      }
  }
};

template <class P, int kRows, class Acc>
__device__ __forceinline__ void store_wgmma_tile(const MatmulParams& params, const Acc (&d)[kRows / 2], long long m_block,
                                                 long long first_channel) {
  WgmmaOutputs<P, kRows, Acc>{params, d, m_block, first_channel}.for_each_output(
      [&](long long row, long long column, Acc sum) { store_output<P>(params, row, column, sum); });
}

}  // namespace bitjit
