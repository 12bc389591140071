#pragma once
// The tile scheduling of the persistent grid (tensor_wgmma_ws): whole output tiles in a raster
// order, and the stream-K shares of the last tiles' k-stages.
#include "bitjit/core/matmul_params.cuh"
#include "bitjit/core/types.cuh"

namespace bitjit {

// The output tiles of a launch and the order blocks take them in: row blocks fastest inside groups
// of kRasterGroup, then channel blocks, then the next group. With clusters of kClusterN blocks along
// N (tensor_wgmma_ws's W8A8 pairs, ptx/cluster.cuh) a tile is the cluster's: kClusterN channel
// blocks side by side on the same rows, this block taking the one of its rank (a rank past N gets
// channels past N: its loads fill zeros and it stores nothing).
template <class P, class T, int kClusterN = 1>
struct PersistentTiles {
  long long row_blocks, tiles, rank_channels;
  static constexpr long long kChannelBlocks = (P::N + T::kBlockN * kClusterN - 1) / (T::kBlockN * kClusterN);

  __device__ __forceinline__ explicit PersistentTiles(long long M, long long rank = 0)
      : row_blocks((M + T::kBlockM - 1) / T::kBlockM), tiles(row_blocks * kChannelBlocks), rank_channels(rank * T::kBlockN) {}

  __device__ __forceinline__ void at(long long tile, long long& m_block, long long& n_block) const {
    constexpr long long kGroupTiles = T::kRasterGroup * kChannelBlocks;
    const long long group = tile / kGroupTiles, first_row_block = group * T::kRasterGroup;
    const long long rows = min((long long)T::kRasterGroup, row_blocks - first_row_block);
    const long long in_group = tile - group * kGroupTiles;
    m_block = (first_row_block + in_group % rows) * T::kBlockM;
    n_block = in_group / rows * T::kBlockN * kClusterN + rank_channels;
  }
};

// The persistent grid's work: whole tiles in the tile order, blockIdx.x, + gridDim.x, ..., except the
// last params.stream_k_tiles (the host's choice, launch_shape): their k-stages, tile after tile, are
// cut into gridDim.x ranges of equal length, one per block (stream-K), so that a short last wave
// does not leave SMs idle (80 tiles on 132 SMs would run at 61 %). Such a range may start and end
// inside a tile; the blocks sharing a tile add their sums through the workspace (share_tile_sums).
// Clusters of T::kClusterN blocks take whole tiles of theirs only (the host shares none out: a
// cluster's blocks load the same stages), cluster blockIdx.x / kClusterN, + gridDim.x / kClusterN, ...
template <class P, class T>
struct StreamKWork {
  static constexpr int kClusterN = T::kClusterN;
  PersistentTiles<P, T, kClusterN> tiles;
  long long tiles_k, first_shared, shared_units, per_block;

  __device__ __forceinline__ StreamKWork(const MatmulParams& params, int k_stages)
      : tiles(params.M, kClusterN > 1 ? (long long)blockIdx.x % kClusterN : 0),
        tiles_k(k_stages),
        first_shared(tiles.tiles - params.stream_k_tiles),
        shared_units(params.stream_k_tiles * k_stages),
        per_block(max(1ll, (shared_units + gridDim.x - 1) / gridDim.x)) {}

  // Block `block`'s range of the shared stages (counted from the first shared tile's first).
  __device__ __forceinline__ long long begin(long long block) const { return min(block * per_block, shared_units); }
  __device__ __forceinline__ long long end(long long block) const { return min(begin(block) + per_block, shared_units); }
  __device__ __forceinline__ long long first_tile(long long block) const { return first_shared + begin(block) / tiles_k; }
  // The blocks whose ranges hold some of shared tile `tile`'s stages.
  __device__ __forceinline__ long long first_block(long long tile) const { return (tile - first_shared) * tiles_k / per_block; }
  __device__ __forceinline__ long long last_block(long long tile) const {
    return ((tile - first_shared + 1) * tiles_k - 1) / per_block;
  }

  // Calls segment(tile, m_block, n_block, k_begin, k_end) for each whole tile and each piece of a
  // shared tile this block takes, in order (stages k_begin .. k_end - 1 of the tile's tiles_k).
  template <class Segment>
  __device__ __forceinline__ void for_each_segment(Segment segment) const {
    long long m_block, n_block;
    for (long long tile = blockIdx.x / kClusterN; tile < first_shared; tile += gridDim.x / kClusterN) {
      tiles.at(tile, m_block, n_block);
      segment(tile, m_block, n_block, 0, int(tiles_k));
    }
    const long long last = end(blockIdx.x);
    for (long long unit = begin(blockIdx.x); unit < last;) {
      const long long tile = first_shared + unit / tiles_k;
      const int k_begin = int(unit % tiles_k);
      const int k_end = int(min(tiles_k, k_begin + (last - unit)));
      tiles.at(tile, m_block, n_block);
      segment(tile, m_block, n_block, k_begin, k_end);
      unit += k_end - k_begin;
    }
  }
};

}  // namespace bitjit
