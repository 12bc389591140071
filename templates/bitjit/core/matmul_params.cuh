#pragma once
// The kernel parameters of bitjit's matmul kernels. Plain C++ (no CUDA keywords): the host runtime
// includes this same file to fill them, so both sides agree on the layout by construction.

namespace bitjit {

// The one parameter of every kernel.
struct MatmulParams {
  const void* A;        // [M, K] activations
  const void* W;        // [N, K] weights, packed along K
  const void* scales;   // [N, K / group] or null
  const void* zeros;    // [N, K / group] (original, rescale) or [K / group, N] packed (quantized), or null
  const void* bias;     // [N] or null
  void* C;              // [M, N] output
  void* workspace;      // split-K partial sums [split_k, M, N] float32; stream-K pieces of tiles; or null
  long long M;          // rows of A and C in this call (N and K are compile-time constants)
  unsigned int* tile_counters;  // split-K slices / stream-K stages finished per output tile (per consumer warp),
                                // zero between launches; or null
  long long stream_k_tiles;     // tensor_wgmma_ws: the last tiles of the tile order, whose k-stages the
                                // blocks share out evenly (stream-K); the others go whole to the blocks in turn
};

// A TMA tensor map (the driver's CUtensorMap: 128 opaque bytes, 128-byte aligned), encoded on the
// host for each launch.
struct alignas(128) TensorMap {
  unsigned long long opaque[16];
};

// The second parameter of the kernels that load by TMA (tensor_wgmma_ws), passed as a
// __grid_constant__ so the TMA reads the maps where the launch put them.
struct TensorMaps {
  TensorMap A;  // the activations [M, K], boxes of 64 k x kBlockM rows in the 128-byte swizzle
  TensorMap W;  // the packed weights as bytes [N, K * bits / 8], boxes of one k-block x kBlockN channels
};

}  // namespace bitjit
