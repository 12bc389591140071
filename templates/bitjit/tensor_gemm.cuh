#pragma once
// The tensor_gemm family: fp16 / bf16 activations, float32 accumulation, for M from 16 rows up, where
// each weight byte must feed many rows of activations. A block computes kBlockM rows x kBlockN
// channels of C; its warps form a kWarpsM x kWarpsN grid over that tile. K is walked in stages of
// kBlockK through a kStages-deep ring in shared memory filled by cp.async (the activation tile and
// the packed weight tile of the next stages are in flight while the warps compute on this one).
//
// The mma is the one of tensor_gemv (tensor_gemv.cuh): weights are the 16-row A operand, decoded two
// codes at a time in registers right before the mma (weight_pairs.cuh), and 8 activation rows are the
// B operand, read as the same mma_runs fragments: lane t of a quad needs 4 (or 8) consecutive k of
// its row, so it reads them with one 8- (or 16-) byte shared load. ldmatrix hands each lane one word
// of four different rows, which is the standard fragment order, not this layout's; a 16-byte shared
// load per lane moves the same 512 bytes per warp instruction as ldmatrix.x4, and the activation
// tile's chunks are XOR-swizzled so those loads are free of bank conflicts.
//
// Scales and zeros are applied to the decoded weight pairs in A's 16-bit type, right before the mma:
// w = v * s, (v - z) * s, v * s - z (rescale) or (q - z) * s (quantized zeros, exact before the
// scale). Unlike tensor_gemv, which scales float32 partial sums per span, this rounds each scaled
// weight to A's type (at most two roundings: docs/formats.md), and in exchange needs no second set
// of accumulators and no sum(A) mma for zero points: the warp tile may be twice as large, which is
// what a kernel limited by the tensor cores needs.
//
// Split-K (kSplitK > 1): blockIdx.z takes a contiguous share of K's stages; each slice writes its
// float32 sums to the workspace, and the last slice to finish a tile (an atomic counter per tile)
// adds the slices in a fixed order (deterministic results), applies the epilogue and resets the
// counter for the next launch.
#include "bitjit/async_copy.cuh"
#include "bitjit/epilogue.cuh"
#include "bitjit/split_k.cuh"
#include "bitjit/weight_pairs.cuh"

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
// channels' k-blocks of the tile, laid out [k-block][channel][piece] so a warp's lanes read one
// contiguous span per load. Out-of-range rows, channels and k-blocks are zero-filled (cp.async reads
// nothing then). Each thread copies the same chunk column of every kRowsPerPass-th row (and the
// same piece of every kChannelsPerPass-th channel), so its source pointers are set once and a copy
// costs one add: the pass offsets are compile-time constants.
template <class P, class T, class Placement = SwizzledRows<T::kRun, GemmTiling<P, T>::kChunksPerRow>>
struct StageLoader {
  using G = GemmTiling<P, T>;
  static constexpr int kRowsPerPass = T::kThreads / G::kChunksPerRow;
  static constexpr int kActivationPasses = (T::kBlockM + kRowsPerPass - 1) / kRowsPerPass;
  static constexpr int kChunksPerChannel = G::kChunksPerPiece * G::kStageBlocks;  // of one stage
  static constexpr int kChannelsPerPass = T::kThreads / kChunksPerChannel;
  static constexpr int kWeightPasses = (T::kBlockN + kChannelsPerPass - 1) / kChannelsPerPass;
  static_assert(T::kThreads % G::kChunksPerRow == 0 && T::kThreads % kChunksPerChannel == 0,
                "whole rows and channels per pass of the block's threads");

  const uint16_t* activation_source;  // this thread's chunk of its first row, stage 0
  const uint8_t* weight_source;       // this thread's piece chunk of its first channel, stage 0
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
    weight_source = static_cast<const uint8_t*>(params.W) + (n_block + first_channel) * G::kRowBytes +
                    block * G::kPieceBytes + 16 * piece_chunk;
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
                    weight_source + (long long)pass * kChannelsPerPass * G::kRowBytes + first_block * G::kPieceBytes,
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

// The raw scale (and zero) codes of a lane's channels (g, g + 8 of each of its tiles) for one scale
// group, loaded apart from their conversion so that a load issued a stage early stays in flight
// until the stage uses it (converting at once would wait for global memory right there). Quantized
// zeros narrower than a byte are extracted at load.
template <class P, int kTiles>
struct GroupCodes {
  uint32_t scale[kTiles][2], zero[kTiles][2];
};

template <class P, int kTiles>
__device__ __forceinline__ void load_group_codes(const MatmulParams& params, const long long (&channel)[kTiles][2],
                                                 long long group, GroupCodes<P, kTiles>& codes) {
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const long long n = channel[tile][half];
      codes.scale[tile][half] = codes.zero[tile][half] = 0u;
      if constexpr (P::kScaling) codes.scale[tile][half] = load_code<typename P::Scale>(params.scales, n * P::kGroups + group);
      if constexpr (P::kZerosMode == Zeros::quantized)
        codes.zero[tile][half] = load_code<typename P::W>(params.zeros, group * P::N + n);
      else if constexpr (P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale)
        codes.zero[tile][half] = load_code<typename P::Scale>(params.zeros, n * P::kGroups + group);
    }
}

// The pairs of a group's codes in A's type: what scaled_pair multiplies a decoded pair by (and
// subtracts).
template <class P, int kTiles>
__device__ __forceinline__ void group_pairs_of(const GroupCodes<P, kTiles>& codes, uint32_t (&scale)[kTiles][2],
                                               uint32_t (&zero)[kTiles][2]) {
  using W = typename P::W;
  using A = typename P::A;
  using Math = PairMath<A>;
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      scale[tile][half] = Math::kOne;
      zero[tile][half] = 0u;
      if constexpr (P::kScaling) {
        const float s = P::Scale::decode(codes.scale[tile][half]);
        scale[tile][half] = Math::pack(s, s);
      }
      const uint32_t zero_code = codes.zero[tile][half];
      if constexpr (P::kZerosMode == Zeros::quantized) {
        zero[tile][half] = pair_decode<W, A>() == PairDecode::magic ? negated_magic_zero<A>(zero_code) : zero_code;
      } else if constexpr (P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale) {
        const float z = P::Scale::decode(zero_code);
        zero[tile][half] = Math::pack(-z, -z);
      }
    }
}

// The pairs of a lane's channels for scale group `group`, loaded and converted at once.
template <class P, int kTiles>
__device__ __forceinline__ void load_group_pairs(const MatmulParams& params, const long long (&channel)[kTiles][2],
                                                 long long group, uint32_t (&scale)[kTiles][2],
                                                 uint32_t (&zero)[kTiles][2]) {
  GroupCodes<P, kTiles> codes;
  load_group_codes<P>(params, channel, group, codes);
  group_pairs_of<P>(codes, scale, zero);
}

// A decoded pair scaled: v * s, (v - z) * s (original zeros: the difference first, so both
// roundings are relative to the weight), v * s - z (rescale: one rounding).
template <class P>
__device__ __forceinline__ uint32_t scaled_pair(uint32_t value, uint32_t scale, uint32_t negated_zero) {
  using Math = PairMath<typename P::A>;
  constexpr uint32_t kMinusZero = 0x80008000u;  // x * s + (-0) is x * s, rounded once
  if constexpr (!P::kScaling) return value;
  if constexpr (P::kZerosMode == Zeros::original) return Math::fma(Math::fma(value, Math::kOne, negated_zero), scale, kMinusZero);
  if constexpr (P::kZerosMode == Zeros::rescale) return Math::fma(value, scale, negated_zero);
  return Math::fma(value, scale, kMinusZero);
}

// One warp's share of the block tile: its accumulators and the loops over a stage.
template <class P, class T>
struct TensorGemmWarp {
  static_assert(T::kRun == 4 || T::kRun == 8, "runs of 4 or 8 k (the swizzle of SwizzledRows is made for those)");
  using G = GemmTiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  using Math = PairMath<A>;
  static constexpr PairDecode kHow = pair_decode<W, A>();
  static constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;

  const MatmulParams& params;
  const uint32_t* pair_table;
  int lane, g, t;           // mma fragment coordinates: row/column group, k pair
  int warp_row, warp_channel;  // the warp tile's first row and channel inside the block tile
  long long m_block, n_block;
  long long channel[G::kNTiles][2];  // this lane's channels g and g + 8 per tile (clamped to N - 1)
  // Shared-memory offsets fixed per lane, so every fragment load is [base + constant]. Run R of a
  // stage (k = 4 * kRun * R + kRun * t for this lane) lies in chunk a_chunk[R % kRunPeriod] +
  // 8 * (R / kRunPeriod) of row warp_row + g: the swizzle only permutes chunks inside aligned groups
  // of 8 (64 k), which kRunPeriod runs fill.
  static constexpr int kRunPeriod = 64 / (4 * T::kRun);
  int a_chunk[kRunPeriod];
  int w_offset;  // bytes: this lane's piece of channel warp_channel + g in k-block 0
  // acc[tile][m-tile][c]: c0, c1 = channel g, rows 2t, 2t + 1 of the m-tile; c2, c3 = channel g + 8.
  float acc[G::kNTiles][G::kMTiles][4];

  __device__ __forceinline__ TensorGemmWarp(const MatmulParams& p, const uint32_t* table, long long m0, long long n0)
      : params(p), pair_table(table), m_block(m0), n_block(n0) {
    lane = int(threadIdx.x) % 32;
    g = lane / 4;
    t = lane % 4;
    const int warp = int(threadIdx.x) / 32;
    warp_row = (warp / T::kWarpsN) * G::kWarpRows;
    warp_channel = (warp % T::kWarpsN) * G::kWarpChannels;
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        channel[tile][half] = min(n_block + warp_channel + tile * 16 + g + 8 * half, P::N - 1);
#pragma unroll
    for (int r = 0; r < kRunPeriod; ++r) {
      const int row = warp_row + g;
      a_chunk[r] = row * G::kChunksPerRow + swizzled_chunk<T::kRun>(row, (4 * T::kRun * r + T::kRun * t) / 8);
    }
    w_offset = (warp_channel + g) * G::kPieceBytes + t * T::kLoadBytes;
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int mt = 0; mt < G::kMTiles; ++mt)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[tile][mt][c] = 0.0f;
  }

  // The B fragments of one mma step for every m-tile: this lane's 4 consecutive k of rows g (+ 8 mt)
  // in run R of the stage; with runs of 8, one 16-byte load serves two steps (kept in quads).
  __device__ __forceinline__ void activation_fragments(const uint4* stage, int R, int step,
                                                       uint32_t (&quads)[G::kMTiles][4],
                                                       uint32_t (&fragments)[G::kMTiles][2]) const {
    const uint4* lane_chunk = stage + a_chunk[R % kRunPeriod] + 8 * (R / kRunPeriod);
#pragma unroll
    for (int mt = 0; mt < G::kMTiles; ++mt) {
      const uint4* chunk = lane_chunk + mt * 8 * G::kChunksPerRow;
      if constexpr (T::kRun == 8) {
        if (step % 2 == 0) {
          const uint4 v = *chunk;
          quads[mt][0] = v.x, quads[mt][1] = v.y, quads[mt][2] = v.z, quads[mt][3] = v.w;
        }
        fragments[mt][0] = quads[mt][2 * (step % 2)];
        fragments[mt][1] = quads[mt][2 * (step % 2) + 1];
      } else {  // runs of 4: one step per run, lanes t = 2u, 2u + 1 share chunk u
        const uint2 v = reinterpret_cast<const uint2*>(chunk)[t % 2];
        fragments[mt][0] = v.x, fragments[mt][1] = v.y;
      }
    }
  }

  __device__ __forceinline__ void group_pairs(long long group, uint32_t (&scale)[G::kNTiles][2],
                                              uint32_t (&zero)[G::kNTiles][2]) const {
    load_group_pairs<P>(params, channel, group, scale, zero);
  }

  // One k-block of a stage: the warp's weights from shared memory, then span by span the mmas.
  __device__ __forceinline__ void consume_block(const uint4* stage, int block, long long k_block) {
    const uint8_t* lane_weights = reinterpret_cast<const uint8_t*>(stage + G::kActivationChunks) + w_offset;
    uint32_t words[G::kNTiles][2][G::kWords];
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        load_shared_words<T::kLoadBytes>(lane_weights + (block * T::kBlockN + tile * 16 + 8 * half) * G::kPieceBytes,
                                         words[tile][half]);

#pragma unroll
    for (int span = 0; span < G::kRuns / G::kRunsPerSpan; ++span) {
      const long long group = (k_block * G::kKBlock + 4 * T::kRun * G::kRunsPerSpan * span) / G::kGroupSize;
      uint32_t scale[G::kNTiles][2], zero[G::kNTiles][2];
      group_pairs(group, scale, zero);
#pragma unroll
      for (int run = span * G::kRunsPerSpan; run < (span + 1) * G::kRunsPerSpan; ++run) {
        uint32_t quads[G::kMTiles][4];
#pragma unroll
        for (int step = 0; step < T::kRun / 4; ++step) {
          uint32_t fragments[G::kMTiles][2];
          activation_fragments(stage, block * G::kRuns + run, step, quads, fragments);
          const int position = run * T::kRun + 4 * step;  // of this lane's codes
#pragma unroll
          for (int tile = 0; tile < G::kNTiles; ++tile) {
            uint32_t a[4];
            decode_operand<W, A, kQuantizedZeros>(words[tile], position, zero[tile], pair_table, lane, a,
                                                  [&](uint32_t pair, int half) {
                                                    return scaled_pair<P>(pair, scale[tile][half], zero[tile][half]);
                                                  });
#pragma unroll
            for (int mt = 0; mt < G::kMTiles; ++mt) mma_16x8x16<A>(acc[tile][mt], a, fragments[mt][0], fragments[mt][1]);
          }
        }
      }
    }
  }

  __device__ __forceinline__ void consume_stage(const uint4* stage, int tile_k) {
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = tile_k * G::kStageBlocks + block;
      if (k_block >= G::kBlocksK) break;  // the last stage of an uneven K
      consume_block(stage, block, k_block);
    }
  }

  // Calls store(row, column, c) for each of this lane's accumulators inside C.
  template <class Store>
  __device__ __forceinline__ void for_each_output(Store store) const {
#pragma unroll
    for (int tile = 0; tile < G::kNTiles; ++tile)
#pragma unroll
      for (int mt = 0; mt < G::kMTiles; ++mt)
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const long long row = m_block + warp_row + mt * 8 + 2 * t + (c & 1);
          const long long column = n_block + warp_channel + tile * 16 + g + (c >= 2 ? 8 : 0);
          if (row < params.M && column < P::N) store(row, column, acc[tile][mt][c]);
        }
  }
};

// P: the Problem; T: the tiles (kThreads, kBlockM, kBlockN, kBlockK, kWarpsM, kWarpsN, kStages,
// kSplitK, kLoadBytes, kRun).
template <class P, class T>
__device__ void tensor_gemm(const MatmulParams& params) {
  using G = GemmTiling<P, T>;
  extern __shared__ uint4 stages[];  // kStages x kStageChunks
  constexpr PairDecode kHow = pair_decode<typename P::W, typename P::A>();
  __shared__ uint32_t pair_table[kHow == PairDecode::table ? kPairTableWords : 1];
  if constexpr (kHow == PairDecode::table) fill_pair_table<typename P::W, typename P::A>(pair_table);  // synced below

  const long long m_block = (long long)blockIdx.y * T::kBlockM;
  const long long n_block = (long long)blockIdx.x * T::kBlockN;
  const int tile_begin = int(blockIdx.z * G::kTilesPerSlice);
  const int tile_end = int(min(G::kTilesK, tile_begin + G::kTilesPerSlice));
  TensorGemmWarp<P, T> warp(params, pair_table, m_block, n_block);
  const StageLoader<P, T> loader(params, m_block, n_block);

  // The ring: tile tile_begin + i lives in stage i mod kStages. Every thread commits one group per
  // tile, empty past the end, so "all but kStages - 2 groups done" always means "this tile landed".
#pragma unroll
  for (int s = 0; s < T::kStages - 1; ++s) {
    if (tile_begin + s < tile_end) loader.load(stages + s * G::kStageChunks, tile_begin + s);
    commit_async_copies();
  }
  int consumed = 0, filled = T::kStages - 1;  // stage indices, advanced round the ring
  for (int tile = tile_begin; tile < tile_end; ++tile) {
    wait_async_copies<T::kStages - 2>();
    __syncthreads();  // this tile is visible to all warps, and every warp is done with the previous one
    if (tile + T::kStages - 1 < tile_end) loader.load(stages + filled * G::kStageChunks, tile + T::kStages - 1);
    commit_async_copies();
    warp.consume_stage(stages + consumed * G::kStageChunks, tile);
    consumed = consumed + 1 == T::kStages ? 0 : consumed + 1;
    filled = filled + 1 == T::kStages ? 0 : filled + 1;
  }
  wait_async_copies<0>();

  if constexpr (T::kSplitK == 1) {
    warp.for_each_output([&](long long row, long long column, float sum) { store_output<P>(params, row, column, sum); });
  } else {
    reduce_slices_and_store<P, T>(warp, params);
  }
}

}  // namespace bitjit
