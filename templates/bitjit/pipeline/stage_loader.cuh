#pragma once
// A stage of the staged kernels in shared memory: the cp.async loader of its activation rows and
// packed weights, where the activation rows' chunks go, and a lane's reads of its weight words.
#include "bitjit/pipeline/gemm_tiling.cuh"
#include "bitjit/pipeline/weight_pieces.cuh"
#include "bitjit/ptx/cp_async.cuh"

namespace bitjit {

// Where chunk `chunk` (16 bytes, 8 k) of activation row `row` lies in its stage. With runs of 8 the
// 8 lanes of one 16-byte-load phase are rows g, g + 1 reading four aligned consecutive chunks each:
// flipping bit 2 on odd rows puts the two rows in opposite halves of the 32 banks. With runs of 4 an
// 8-byte-load phase is rows g .. g + 3 reading two chunks each: XOR 0, 2, 4, 6 separates all four.
template <int kRun>
__device__ __forceinline__ int swizzled_chunk(int row, int chunk) {
  return chunk ^ (kRun >= 8 ? 4 * (row & 1) : 2 * (row & 3));
}

// Where StageLoader puts 16-byte chunk `chunk` of activation row `row` (uint4 index in a stage whose
// rows hold kChunksPerRow chunks), and by how much that moves for a row kRows further on when the
// move is the same for every row (kEvenStride).
// Also which row and chunk thread `tid` copies first (first_row, first_chunk): consecutive threads
// take the chunks of one row in order, which the XOR swizzle spreads over the banks.
template <int kRun, int kChunksPerRow>
struct SwizzledRows {  // tensor_gemm: rows one after another, chunks XOR-swizzled (above)
  __device__ static int index(int row, int chunk) { return row * kChunksPerRow + swizzled_chunk<kRun>(row, chunk); }
  __device__ static int first_row(int tid) { return tid / kChunksPerRow; }
  __device__ static int first_chunk(int tid) { return tid % kChunksPerRow; }
  template <int kRows>
  static constexpr bool kEvenStride = kRows % 4 == 0;
  template <int kRows>
  static constexpr int kStride = kRows * kChunksPerRow;
};

// Issues the copies of one stage: kBlockM activation rows x kBlockK, then the block's kBlockN
// channels' k-blocks of the tile (from rows whole or channel tiles: WeightPieces), laid out
// [k-block][channel][piece] so a warp's lanes read one contiguous span per load. Out-of-range rows,
// channels and k-blocks are zero-filled (cp.async reads nothing then). Each thread copies the same
// chunk column of every kRowsPerPass-th row (and the same piece of every kChannelsPerPass-th
// channel), so its source offsets are set once and a copy costs one add where the pass offsets are
// compile-time constants (PiecePasses).
template <class P, class T, class Placement = SwizzledRows<T::kRun, GemmTiling<P, T>::kChunksPerRow>>
struct StageLoader {
  using G = GemmTiling<P, T>;
  using Pieces = WeightPieces<T::kChannelTiles, G::kRowBytes, G::kPieceBytes>;
  static constexpr int kRowsPerPass = T::kThreads / G::kChunksPerRow;
  static constexpr int kActivationPasses = (T::kBlockM + kRowsPerPass - 1) / kRowsPerPass;
  static constexpr int kChunksPerChannel = G::kChunksPerPiece * G::kStageBlocks;  // of one stage
  static constexpr int kChannelsPerPass = T::kThreads / kChunksPerChannel;
  static constexpr int kWeightPasses = (T::kBlockN + kChannelsPerPass - 1) / kChannelsPerPass;
  static_assert(T::kThreads % G::kChunksPerRow == 0 && T::kThreads % kChunksPerChannel == 0,
                "whole rows and channels per pass of the block's threads");

  const uint16_t* activation_source;  // this thread's chunk of its first row, stage 0
  const uint8_t* weights;             // W
  PiecePasses<Pieces, kChannelsPerPass> weight_passes;  // where this thread's piece chunks lie in W
  int chunk, first_row, rows;         // rows: of this block inside M
  int block, first_channel, channels;  // block: this thread's k-block in a stage
  int activation_shared, weight_shared;  // uint4 offsets in a stage, first pass

  __device__ __forceinline__ StageLoader(const MatmulParams& params, long long m_block, long long n_block) {
    const int tid = int(threadIdx.x);
    chunk = Placement::first_chunk(tid);
    first_row = Placement::first_row(tid);
    rows = int(min((long long)T::kBlockM, params.M - m_block));
    activation_source = static_cast<const uint16_t*>(params.A) + (m_block + first_row) * P::K + 8 * chunk;
    activation_shared = Placement::index(first_row, chunk);
    const int piece_chunk = tid % G::kChunksPerPiece;  // consecutive threads: one channel's bytes in order
    block = (tid / G::kChunksPerPiece) % G::kStageBlocks;
    first_channel = tid / kChunksPerChannel;
    channels = int(min((long long)T::kBlockN, P::N - n_block));
    weights = static_cast<const uint8_t*>(params.W);
    weight_passes.first_n = n_block + first_channel;
    weight_passes.first =
        Pieces::channel_start(weight_passes.first_n) + block * Pieces::kBlockStride + 16 * piece_chunk;
    weight_shared = G::kActivationChunks + (block * T::kBlockN + first_channel) * G::kChunksPerPiece + piece_chunk;
  }

  __device__ __forceinline__ void load(uint4* stage, int tile_k) const {
    load_activations(stage, tile_k);
    load_weights(stage, tile_k);
  }

  __device__ __forceinline__ void load_activations(uint4* stage, int tile_k) const {
    const int k_first = tile_k * T::kBlockK;  // K < 2^31 elements
    const bool k_inside = P::K % T::kBlockK == 0 || k_first + 8 * chunk < int(P::K);
#pragma unroll
    for (int pass = 0; pass < kActivationPasses; ++pass) {
      const int row = first_row + pass * kRowsPerPass;
      if (T::kBlockM % kRowsPerPass != 0 && row >= T::kBlockM) break;
      int shared = activation_shared + pass * Placement::template kStride<kRowsPerPass>;
      if constexpr (!Placement::template kEvenStride<kRowsPerPass>) shared = Placement::index(row, chunk);
      copy_async_16(stage + shared, activation_source + (long long)pass * kRowsPerPass * P::K + k_first,
                    row < rows && k_inside);
    }
  }

  __device__ __forceinline__ void load_weights(uint4* stage, int tile_k) const {
    const int first_block = tile_k * G::kStageBlocks;
    const bool block_inside = G::kBlocksK % G::kStageBlocks == 0 || first_block + block < int(G::kBlocksK);
#pragma unroll
    for (int pass = 0; pass < kWeightPasses; ++pass) {
      const int channel = first_channel + pass * kChannelsPerPass;
      if (T::kBlockN % kChannelsPerPass != 0 && channel >= T::kBlockN) break;
      copy_async_16(stage + weight_shared + pass * kChannelsPerPass * G::kChunksPerPiece,
                    weights + weight_passes.offset(pass) + first_block * Pieces::kBlockStride,
                    channel < channels && block_inside);
    }
  }
};

template <int kBytes>
__device__ __forceinline__ void load_shared_words(const uint8_t* address, uint32_t (&words)[kBytes / 4]) {
  if constexpr (kBytes == 16) {
    const uint4 v = *reinterpret_cast<const uint4*>(address);
    words[0] = v.x, words[1] = v.y, words[2] = v.z, words[3] = v.w;
  } else if constexpr (kBytes == 8) {
    const uint2 v = *reinterpret_cast<const uint2*>(address);
    words[0] = v.x, words[1] = v.y;
  } else {
    words[0] = *reinterpret_cast<const uint32_t*>(address);
  }
}

}  // namespace bitjit
