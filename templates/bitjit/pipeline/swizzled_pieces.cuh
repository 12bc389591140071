#pragma once
// The packed weights of tensor_wgmma_w4a8's stages: the block's kBlockN channels' k-blocks of the
// mma_runs layout (16-byte loads; rows whole or channel tiles: WeightPieces),
// [k-block][channel][piece], a piece being one channel's k-block: its four quad lanes' 16-byte loads
// (weight_layout.cpp). Each wgmma step reads one load of every channel's piece (the lane whose run
// holds the step's 32 k), so chunk c of channel n's piece sits at c ^ (n / 2 % 4): the 8 channels of
// a warp's fragment row then read 8 different bank quads instead of 2 (their pieces are 64 bytes
// apart, 16 banks).
#include "bitjit/pipeline/weight_pieces.cuh"
#include "bitjit/ptx/cp_async.cuh"

namespace bitjit {

template <int kBlockN, int kStageBlocks, int kThreads, long long kRowBytes, long long kBlocksK, bool kChannelTiles>
struct SwizzledPieces {
  static constexpr int kPieceChunks = 4;  // four lanes' 16-byte loads
  static constexpr int kPieceBytes = 16 * kPieceChunks;
  using Pieces = WeightPieces<kChannelTiles, kRowBytes, kPieceBytes>;
  static constexpr int kChunksPerChannel = kPieceChunks * kStageBlocks;  // of one stage
  static constexpr int kChannelsPerPass = kThreads / kChunksPerChannel;
  static constexpr int kPasses = (kBlockN + kChannelsPerPass - 1) / kChannelsPerPass;
  static constexpr int kChunks = kStageBlocks * kBlockN * kPieceChunks;
  static_assert(kThreads % kChunksPerChannel == 0, "whole channels per pass of the block's threads");

  // The 16-byte chunk (uint4 index in the weight tile) where chunk `chunk` of a channel's piece lies.
  __device__ static __forceinline__ int index(int block, int channel, int chunk) {
    return (block * kBlockN + channel) * kPieceChunks + (chunk ^ (channel / 2 % 4));
  }

  const uint8_t* weights;
  PiecePasses<Pieces, kChannelsPerPass> passes;  // where this thread's chunks lie in W
  int chunk, block, first_channel, channels;

  __device__ __forceinline__ SwizzledPieces(const void* weights, long long n_block, long long n_limit) {
    const int tid = int(threadIdx.x);
    chunk = tid % kPieceChunks;  // consecutive threads: one channel's bytes in order
    block = tid / kPieceChunks % kStageBlocks;
    first_channel = tid / kChunksPerChannel;
    channels = int(min((long long)kBlockN, n_limit - n_block));
    this->weights = static_cast<const uint8_t*>(weights);
    passes.first_n = n_block + first_channel;
    passes.first = Pieces::channel_start(passes.first_n) + block * Pieces::kBlockStride + 16 * chunk;
  }

  // Issues the copies of stage tile_k's weights into `tile`; channels past N and k-blocks past K are
  // zero-filled.
  __device__ __forceinline__ void load(uint4* tile, int tile_k) const {
    const long long first_block = (long long)tile_k * kStageBlocks;
    const bool inside_k = kBlocksK % kStageBlocks == 0 || first_block + block < kBlocksK;
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass) {
      const int channel = first_channel + pass * kChannelsPerPass;
      if (kBlockN % kChannelsPerPass != 0 && channel >= kBlockN) break;
      copy_async_16(tile + index(block, channel, chunk),
                    weights + passes.offset(pass) + first_block * Pieces::kBlockStride, channel < channels && inside_k);
    }
  }
};

}  // namespace bitjit
