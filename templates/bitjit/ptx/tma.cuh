#pragma once
// Hopper's tensor memory accelerator (TMA), sm_90 and newer: one thread asks the TMA for a 2-D box
// of a tensor (described on the host by a tensor map) and tells the stage's "full" barrier how many
// bytes to expect (ptx/mbarrier.cuh); the copy lands in shared memory and completes those bytes on
// the barrier, so the consumers wait on the barrier, not on copies of their own.
#include "bitjit/core/matmul_params.cuh"
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

// Copies the box of the tensor map `map` at element coordinates (x, y) (x along the contiguous
// dimension) to `shared`, completing its bytes on `barrier`. Coordinates past the tensor's edges
// read nothing and fill zeros (the bytes still count).
__device__ __forceinline__ void tma_load_2d(void* shared, const TensorMap& map, int x, int y, uint64_t* barrier) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
          shared_address(shared)),
      "l"(reinterpret_cast<uint64_t>(&map)), "r"(x), "r"(y), "r"(shared_address(barrier))
      : "memory");
}

// The same for a 4-D box at element coordinates (x, y, z, w), x along the contiguous dimension: the
// weights in channel tiles (compiler/weight_layout.hpp) as [tiles][k-blocks][16 channels][piece].
__device__ __forceinline__ void tma_load_4d(void* shared, const TensorMap& map, int x, int y, int z, int w,
                                            uint64_t* barrier) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], [%6];" ::
          "r"(shared_address(shared)),
      "l"(reinterpret_cast<uint64_t>(&map)), "r"(x), "r"(y), "r"(z), "r"(w), "r"(shared_address(barrier))
      : "memory");
}

// Asks the TMA to bring the 4-D box at (x, y, z, w) into L2 only (no shared memory, no barrier):
// a later tma_load_4d of it then hits L2.
__device__ __forceinline__ void tma_prefetch_4d(const TensorMap& map, int x, int y, int z, int w) {
  asm volatile("cp.async.bulk.prefetch.tensor.4d.L2.global.tile [%0, {%1, %2, %3, %4}];" ::"l"(
                   reinterpret_cast<uint64_t>(&map)),
               "r"(x), "r"(y), "r"(z), "r"(w)
               : "memory");
}

}  // namespace bitjit
