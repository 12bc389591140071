#pragma once
// The sizes of the staged kernels (tensor_gemm, tensor_wgmma, tensor_wgmma_ws): warp tiles,
// k-blocks of the weight layout, stages, split-K slices and a stage's 16-byte chunks.
#include "bitjit/core/types.cuh"

namespace bitjit {

// Every size the kernel derives from the Problem P and the Tiles T.
template <class P, class T>
struct GemmTiling {
  using W = typename P::W;
  static constexpr int kWarpRows = T::kBlockM / T::kWarpsM;
  static constexpr int kWarpChannels = T::kBlockN / T::kWarpsN;
  static constexpr int kMTiles = kWarpRows / 8;        // 8 activation rows per mma
  static constexpr int kNTiles = kWarpChannels / 16;   // 16 output channels per mma
  static constexpr int kWords = T::kLoadBytes / 4;
  static constexpr int kCodes = T::kLoadBytes * 8 / W::kBits;  // per lane per k-block
  static constexpr int kKBlock = 4 * kCodes;                   // k per k-block of the mma_runs layout
  static constexpr int kStageBlocks = T::kBlockK / kKBlock;
  static constexpr long long kBlocksK = P::K / kKBlock;
  static constexpr long long kTilesK = (kBlocksK + kStageBlocks - 1) / kStageBlocks;  // the last may be partial
  static constexpr long long kTilesPerSlice = (kTilesK + T::kSplitK - 1) / T::kSplitK;
  static constexpr int kRuns = kCodes / T::kRun;
  // Consecutive runs inside one scale group share its scales (a "span"), as in tensor_gemv.
  static constexpr int kRunsPerGroup = int(P::K / P::kGroups / (4 * T::kRun));
  static constexpr int kGroupLowBit = kRunsPerGroup & -kRunsPerGroup;
  static constexpr int kRunsPerSpan = kGroupLowBit < kRuns ? kGroupLowBit : kRuns;
  static constexpr long long kGroupSize = P::K / P::kGroups;
  static constexpr long long kRowBytes = P::K * W::kBits / 8;
  static constexpr int kPieceBytes = 4 * T::kLoadBytes;  // one channel's k-block: contiguous in W
  static constexpr int kChunksPerPiece = kPieceBytes / 16;
  static constexpr int kChunksPerRow = T::kBlockK / 8;   // 16-byte chunks of one activation row
  static constexpr int kActivationChunks = T::kBlockM * kChunksPerRow;
  static constexpr int kWeightChunks = kStageBlocks * T::kBlockN * kChunksPerPiece;
  static constexpr int kStageChunks = kActivationChunks + kWeightChunks;

  static_assert(T::kBlockM % (8 * T::kWarpsM) == 0 && T::kBlockN % (16 * T::kWarpsN) == 0, "whole mma tiles per warp");
  static_assert(T::kWarpsM * T::kWarpsN * 32 == T::kThreads, "one warp per warp tile");
  static_assert(T::kBlockK % kKBlock == 0, "whole k-blocks per stage");
  static_assert(T::kBlockK % 64 == 0, "whole groups of 8 swizzled chunks per activation row");
  static_assert(kCodes % T::kRun == 0 && kGroupSize % (4 * T::kRun) == 0, "runs tile the k-blocks and the groups");
  static_assert(T::kStages >= 2, "a pipeline of at least two stages");
};

}  // namespace bitjit
