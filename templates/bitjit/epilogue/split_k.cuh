#pragma once
// Split-K: the slices of K of one output tile summed through the workspace (tensor_gemm,
// tensor_gemv, tensor_wgmma).
#include "bitjit/epilogue/store.cuh"
#include "bitjit/ptx/global_memory.cuh"

namespace bitjit {

// Split-K: this slice's sums go to the workspace; the last slice of the tile to arrive adds them all,
// in slice order, and stores C. `warp` calls its argument with (row, column, float sum) for each of
// the thread's outputs inside C (TensorGemmWarp, tensor_gemv's GemvOutputs or tensor_wgmma's
// WgmmaOutputs). Every thread of the block calls it.
template <class P, class T, class Outputs>
__device__ __forceinline__ void reduce_slices_and_store(const Outputs& warp, const MatmulParams& params) {
  float* partials = static_cast<float*>(params.workspace);  // [kSplitK][M][N]
  const long long slice = blockIdx.z;
  const long long slice_stride = params.M * P::N;
  warp.for_each_output([&](long long row, long long column, float sum) { partials[slice * slice_stride + row * P::N + column] = sum; });
  __threadfence();  // these sums are visible before the counter says so
  __syncthreads();
  __shared__ unsigned int arrived;
  unsigned int* counter = params.tile_counters + blockIdx.y * gridDim.x + blockIdx.x;
  if (threadIdx.x == 0) arrived = atomicAdd(counter, 1u);
  __syncthreads();
  if (arrived != T::kSplitK - 1) return;
  __threadfence();  // see every other slice's sums
  warp.for_each_output([&](long long row, long long column, float own) {
    float sum = 0.0f;
    for (int s = 0; s < T::kSplitK; ++s) sum += s == slice ? own : load_l2(partials + s * slice_stride + row * P::N + column);
    store_output<P>(params, row, column, sum);
  });
  if (threadIdx.x == 0) *counter = 0u;  // ready for the next launch
}

}  // namespace bitjit
