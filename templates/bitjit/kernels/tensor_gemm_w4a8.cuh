#pragma once
// tensor_gemm for W4A8 (sm_80 and newer): int8 activations, sub-byte integer weights (int4, uint4,
// int2, uint2, int1, uint1) with optional scales per group or channel, float32 sums, on mma.sync
// m16n8k32. The weights lie in tensor_gemv_8bit's mma_runs layout (byte lanes, runs of at least 32
// k), as for tensor_wgmma_w4a8, so a dynamic-M config runs its few-row buckets on tensor_gemv_8bit
// and its many-row ones here from one copy.
//
// Each warp holds 16 channels: per 32-k step it decodes their weight bytes into the A fragment
// (16 channels x 32 k; WgmmaCodeBytes: the value times a power of two, exact) and multiplies it with
// every 8 rows of the stage's activations, read by ldmatrix from the 128-byte swizzle the loaders
// write (tensor_wgmma_w4a8's stage, byte for byte). int32 sums per scale group (the host bounds the
// group so |sum| < 2^31) are converted, scaled and added into float32 where the group ends. The
// block (tile order, loads, a cp.async ring of kStages - 1 tiles in flight, store) is the W4A8
// kernels' (mma/w4a8_block.cuh). fp8 activations with 4-bit weights (sm_89 and newer): the e4m3
// bytes of the weights' values into the fp8 m16n8k32, float32 sums added into d once a stage.
#include "bitjit/mma/w4a8_block.cuh"

namespace bitjit {

// P: the Problem (int8 A with sub-byte integer W, or fp8 A with 4-bit W; float accumulation); T: the
// tiles (W4a8Tiling's).
template <class P, class T>
__device__ void tensor_gemm_w4a8(const MatmulParams& params) {
  w4a8_block<P, T, /*kWgmma=*/false>(params);
}

template <class P, class T>
constexpr int tensor_gemm_w4a8_dynamic_shared_bytes() {
  return w4a8_dynamic_shared_bytes<P, T>();
}

}  // namespace bitjit
