#pragma once
// The one kernel parameter of every bitjit matmul kernel. Plain C++ (no CUDA keywords): the host
// runtime includes this same file to fill it, so both sides agree on the layout by construction.

namespace bitjit {

struct MatmulParams {
  const void* A;        // [M, K] activations
  const void* W;        // [N, K] weights, packed along K
  const void* scales;   // [N, K / group] or null
  const void* zeros;    // [N, K / group] (original, rescale) or [K / group, N] packed (quantized), or null
  const void* bias;     // [N] or null
  void* C;              // [M, N] output
  void* workspace;      // split-K partial sums [split_k, M, N] float32, or null
  long long M;          // rows of A and C in this call (N and K are compile-time constants)
  unsigned int* tile_counters;  // split-K: slices finished per output tile, zero between launches; or null
};

}  // namespace bitjit
