#pragma once
// wgmma's K-major tiles in the 128-byte swizzle, as a placement for the stage loaders.
#include "bitjit/mma/wgmma.cuh"
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

// StageLoader placement for wgmma's K-major tiles in the 128-byte swizzle (swizzled_descriptor): the
// tile's kRows rows are cut along K into atom columns of 128 bytes (8 chunks); column c holds every
// row's chunks 8c .. 8c + 7, row after row, chunk j of row r at position j ^ (r % 8). Consecutive
// threads copy one row's chunks in order, so a warp reads whole 128-byte lines of global memory
// (by-core-matrix copies read 16 bytes of 32 rows: twice the L2 requests, measured L2-bound), and
// the XOR spreads each 8 lanes' 16-byte stores over all 32 banks.
template <int kChunksPerRow, int kRows>
struct SwizzledAtoms {
  static_assert(kChunksPerRow % 8 == 0 && kRows % 8 == 0, "whole 128-byte atoms of 8 rows");
  static constexpr int kColumnChunks = kRows * 8;  // one atom column: 128 bytes of every row
  __device__ static int index(int row, int chunk) {
    return chunk / 8 * kColumnChunks + row * 8 + ((chunk % 8) ^ (row % 8));
  }
  __device__ static int first_row(int tid) { return tid / kChunksPerRow; }
  __device__ static int first_chunk(int tid) { return tid % kChunksPerRow; }
  template <int kPassRows>
  static constexpr bool kEvenStride = kPassRows % 8 == 0;
  template <int kPassRows>
  static constexpr int kStride = kPassRows * 8;
  // The wgmma descriptor of rows first_row .. of the tile at byte k_bytes along K (a step's start).
  __device__ static uint64_t descriptor(const uint4* tile, int first_row, int k_bytes) {
    return advance_descriptor(swizzled_descriptor(tile + first_row * 8), (k_bytes / 128 * kColumnChunks + k_bytes % 128 / 16) * 16);
  }
};

// Traps unless the dynamic shared memory starts 1024-byte aligned, as the 128-byte swizzle needs
// (the __align__ on the declaration asks for it; a wrong base would only show as wrong sums).
__device__ __forceinline__ void require_swizzle_alignment(const void* stages) {
  if (threadIdx.x == 0 && shared_address(stages) % 1024 != 0) __trap();
}

}  // namespace bitjit
