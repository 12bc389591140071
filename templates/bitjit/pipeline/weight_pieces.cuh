#pragma once
// Where a channel's piece of a k-block (its four quad lanes' loads, kPieceBytes) lies in the packed
// weights of the mma_runs layout (compiler/weight_layout.hpp): in rows whole, channel n's row from
// byte n * kRowBytes on and its k-blocks in order; in channel tiles, the 16 channels of a tile lay
// their pieces of each k-block side by side, so k-block b of channel n is at
//   n / 16 * 16 * kRowBytes + (16 * b + n % 16) * kPieceBytes.
// A tile takes 16 rows' bytes either way, so 16 channels further on is 16 * kRowBytes further.
#include "bitjit/core/types.cuh"

namespace bitjit {

template <bool kChannelTiles, long long kRowBytes, int kPieceBytes>
struct WeightPieces {
  static constexpr int kTileChannels = 16;
  // Bytes from a channel's piece of one k-block to its piece of the next.
  static constexpr long long kBlockStride = kChannelTiles ? (long long)kTileChannels * kPieceBytes : kPieceBytes;

  // Where channel n's piece of k-block 0 starts (n >= 0).
  __device__ static __forceinline__ long long channel_start(long long n) {
    if constexpr (kChannelTiles) return n / kTileChannels * kTileChannels * kRowBytes + n % kTileChannels * kPieceBytes;
    return n * kRowBytes;
  }

  // From channel n's start to channel n + kStep's, where that is the same for every n: rows whole,
  // or whole tiles of channels.
  template <int kStep>
  static constexpr bool kEvenStep = !kChannelTiles || kStep % kTileChannels == 0;
  template <int kStep>
  static constexpr long long kStepBytes = kStep * kRowBytes;
};

// A copying thread's passes over a block's channels, kStep channels apart (the staged families'
// cp.async loaders): where its chunk of each pass's channel lies in W, from its first channel's.
template <class Pieces, int kStep>
struct PiecePasses {
  long long first;    // this thread's chunk of its first channel, stage 0
  long long first_n;  // its first channel in N

  // A constant step from the first where every pass moves by the same (rows whole, or whole tiles of
  // channels a pass), so that a copy costs one add; else from the pass's channel.
  __device__ __forceinline__ long long offset(int pass) const {
    if constexpr (Pieces::template kEvenStep<kStep>) {
      return first + pass * Pieces::template kStepBytes<kStep>;
    } else {
      const long long n = first_n + pass * kStep;
      return first - Pieces::channel_start(first_n) + Pieces::channel_start(n);
    }
  }
};

}  // namespace bitjit
