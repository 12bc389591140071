#pragma once
// The W8A8 kernels' wgmmas: both operands from a byte-rows stage.
#include "bitjit/mma/wgmma.cuh"
#include "bitjit/pipeline/byte_rows.cuh"

namespace bitjit {

// Issues one stage's wgmmas for warpgroup `warpgroup` (its 64 weight rows against every activation
// row) into sums, as one commit group; accumulate = false starts the sums afresh.
template <class P, class T, class Acc>
__device__ __forceinline__ void issue_byte_rows_stage(const uint4* stage, int warpgroup, Acc (&sums)[T::kBlockM / 2],
                                                      bool accumulate) {
  using S = ByteRowsStage<T>;
  wgmma_fence_accumulators(sums);
  wgmma_fence();
#pragma unroll
  for (int step = 0; step < T::kBlockK / 32; ++step) {
    wgmma_64xNx32_ss<typename P::A, Acc, T::kBlockM>(
        sums, S::WeightTile::descriptor(stage + S::kActivationChunks, 64 * warpgroup, 32 * step),
        S::ActivationTile::descriptor(stage, 0, 32 * step), accumulate || step > 0);
  }
  wgmma_commit();
  wgmma_fence_accumulators(sums);
}

}  // namespace bitjit
