#pragma once
// tensor_wgmma for W4A8 (sm_90a): int8 activations, sub-byte integer weights (int4, uint4, int2,
// uint2, int1, uint1) with optional scales per group or channel, float32 sums. The weights lie in
// tensor_gemv_8bit's mma_runs layout (byte lanes, runs of at least 32 k), so a dynamic-M config
// runs its few-row buckets on tensor_gemv_8bit and its many-row buckets here from one copy.
//
// Each warpgroup's wgmma m64nNk32 computes D[64 channels, kBlockM rows] += Wbytes[64, 32] *
// A[kBlockM, 32]^T: the weight bytes (WgmmaCodeBytes: the value times a power of two, exact) as the
// register operand, decoded step by step from the stage's pieces; the activations, plain int8 rows,
// as the descriptor operand from the 128-byte swizzle. Sums are int32 per scale group (exact: the
// host bounds the group so |sum| < 2^31), converted, scaled and added into float32 d when the
// group's wgmmas are done.
//
// fp8 activations (e4m3, e5m2) with int4, uint4 or fp4 weights take the same path on the fp8
// wgmma (.e4m3 weights, the activations' type): the codes, in general_compress's order (tensor_
// gemv_8bit's whole-load runs for fp8), become the e4m3 bytes of their values (Fp8CodeBytes), and
// the float32 sums of each stage's part of a group are scaled into d when the stage's wgmmas are
// done (the fp8 wgmma keeps fewer fraction bits than float32, as the W8A8 kernel measured).
//
// The ring is tensor_wgmma's (pipeline/wgmma_ring.cuh): kStages - 2 stages prefetched by cp.async,
// one multiplied, one whose last wgmma may still run. Copies past M, N or K are zero-filled. The
// block (tile order, loads, store) is the W4A8 kernels' (mma/w4a8_block.cuh).
#include "bitjit/mma/w4a8_block.cuh"

namespace bitjit {

// P: the Problem (int8 A with sub-byte integer W, or fp8 A with 4-bit W; float accumulation); T: the
// tiles (W4a8Tiling's).
template <class P, class T>
__device__ void tensor_wgmma_w4a8(const MatmulParams& params) {
  w4a8_block<P, T, /*kWgmma=*/true>(params);
}

template <class P, class T>
constexpr int tensor_wgmma_w4a8_dynamic_shared_bytes() {
  return w4a8_dynamic_shared_bytes<P, T>();
}

}  // namespace bitjit
