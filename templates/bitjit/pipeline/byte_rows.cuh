#pragma once
// The W8A8 kernels' stages: rows of bytes (activations, then weights) in wgmma's swizzled atoms.
#include "bitjit/pipeline/swizzled_atoms.cuh"
#include "bitjit/ptx/cp_async.cuh"

namespace bitjit {

// Copies kRows rows x kChunksPerRow 16-byte chunks of a row-major byte matrix (kRowBytes a row,
// `limit` rows in all) into the swizzled atoms; rows past `limit` and chunks past the row's end
// are zero-filled. Each thread's source pointer is set once; a pass costs one add.
template <int kRows, int kChunksPerRow, int kThreads, long long kRowBytes>
struct ByteRowsLoader {
  using Placement = SwizzledAtoms<kChunksPerRow, kRows>;
  static constexpr int kRowsPerPass = kThreads / kChunksPerRow;
  static constexpr int kPasses = (kRows + kRowsPerPass - 1) / kRowsPerPass;
  static_assert(kThreads % kChunksPerRow == 0, "whole rows per pass of the block's threads");

  const uint8_t* source;  // this thread's chunk of its first row, stage 0
  int chunk, first_row, rows, shared;

  __device__ __forceinline__ ByteRowsLoader(const void* base, long long first_global_row, long long limit) {
    const int tid = int(threadIdx.x);
    chunk = Placement::first_chunk(tid);
    first_row = Placement::first_row(tid);
    rows = int(min((long long)kRows, limit - first_global_row));
    source = static_cast<const uint8_t*>(base) + (first_global_row + first_row) * kRowBytes + 16 * chunk;
    shared = Placement::index(first_row, chunk);
  }

  __device__ __forceinline__ void load(uint4* tile, int tile_k) const {
    const long long k_first = (long long)tile_k * kChunksPerRow * 16;
    const bool k_inside = k_first + 16 * chunk < kRowBytes;
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass) {
      const int row = first_row + pass * kRowsPerPass;
      if (kRows % kRowsPerPass != 0 && row >= kRows) break;
      int index = shared + pass * Placement::template kStride<kRowsPerPass>;
      if constexpr (!Placement::template kEvenStride<kRowsPerPass>) index = Placement::index(row, chunk);
      copy_async_16(tile + index, source + (long long)pass * kRowsPerPass * kRowBytes + k_first, row < rows && k_inside);
    }
  }
};

// The stage's layout: the activation tile (kBlockM rows), then the weight tile (kBlockN rows), each
// of kBlockK bytes a row in the 128-byte swizzle's atom columns.
template <class T>
struct ByteRowsStage {
  static constexpr int kChunksPerRow = T::kBlockK / 16;
  static constexpr int kActivationChunks = T::kBlockM * kChunksPerRow;
  static constexpr int kChunks = kActivationChunks + T::kBlockN * kChunksPerRow;
  using ActivationTile = SwizzledAtoms<kChunksPerRow, T::kBlockM>;
  using WeightTile = SwizzledAtoms<kChunksPerRow, T::kBlockN>;
  static_assert(kChunks % 64 == 0, "every stage starts 1024-byte aligned");
};

}  // namespace bitjit
