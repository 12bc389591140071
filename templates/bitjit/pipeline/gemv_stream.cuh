#pragma once
// The weight stream of the tensor_gemv kernels (tensor_gemv, tensor_gemv_8bit): each warp takes a
// share of K's k-blocks, each lane loads kLoadBytes of its two channels per k-block one round
// ahead of the decoding, and the activations' fragments are read straight from global memory.
#include "bitjit/pipeline/weight_pieces.cuh"
#include "bitjit/ptx/global_memory.cuh"

namespace bitjit {

// A tensor_gemv block's compile-time shape (P: the Problem; T: the tiles, kThreads, kBlockM, kBlockN,
// kLoadBytes, kRun, kUnroll, kChannelTiles): kWarps warps along K, each with kTiles tiles of 16 output
// channels and kRowHalves mma row halves of 8 activation rows; per lane per load kLoadBytes of packed
// W (kWords words, kCodes codes), a k-block being one load of each of the four lanes of a quad.
template <class P, class T>
struct GemvShape {
  static constexpr int kWarps = T::kThreads / 32;
  static constexpr int kTiles = T::kBlockN / 16;
  static constexpr int kRowHalves = T::kBlockM > 8 ? 2 : 1;
  static constexpr int kWords = T::kLoadBytes / 4;
  static constexpr int kCodes = T::kLoadBytes * 8 / P::W::kBits;
  static constexpr int kRuns = kCodes / T::kRun;
  static constexpr int kBlockK = 4 * kCodes;
  static constexpr long long kBlocksK = P::K / kBlockK;
  static constexpr long long kGroupSize = P::K / P::kGroups;
  static constexpr long long kRowBytes = P::K * P::W::kBits / 8;
  // Where each channel's pieces of the k-blocks (four lanes' loads) lie: rows whole or channel tiles.
  using Pieces = WeightPieces<T::kChannelTiles, kRowBytes, 4 * T::kLoadBytes>;
  static constexpr long long kBlockStride = Pieces::kBlockStride;
  // One round: kUnroll k-blocks per warp, the warps' k-blocks interleaved.
  static constexpr long long kRoundStride = (long long)kWarps * T::kUnroll;
  static_assert(T::kBlockN % 16 == 0 && T::kBlockM <= 16, "16-channel mma tiles, at most 16 rows");
  static_assert(kCodes % T::kRun == 0, "whole runs per load");
  static_assert(P::K % kBlockK == 0 && kGroupSize % (4 * T::kRun) == 0, "k-blocks and runs tile K and the groups");
};

// What a block's activation rows past M point at (block_activation_rows): on blocks of 16 rows (two
// row halves) the block's last row, whose products land only in rows of C that are never stored (the
// stores and the split-K partials stop at M); on blocks of 8 rows a null row, read as zeros. Reading a
// row inside M spares every activation load its null test and its own address arithmetic (sm_90a
// SASS, int4 70B gate_up at 16 rows: five instructions a load, eight loads a k-block; 70B o 98 -> 80
// registers) and asks for no sector that the block's own rows do not. Measured on the H200
// (2026-12-01) it paid at 16 rows (uint4 + packed zeros 70B 0.93-0.97 of the time) and cost on 8-row
// blocks (1 and 8 rows: up to 1.10 with packed zeros, 1.06-1.10 on nf4 70B at one row), where the
// lanes past M idle instead of loading.
template <int kRowHalves>
constexpr bool kNullRowsPastM = kRowHalves == 1;

// Eight bytes of activations of one row from element k on (four 16-bit ones: two pairs; or eight
// 8-bit ones), or zeros for a null row past M. A plain (not volatile) read-only load: the compiler
// hoists it ahead of the mma that needs it, so the L1 / L2 latency of the activations overlaps the
// decoding instead of stalling every mma step.
template <int kRowHalves, class Element>
__device__ __forceinline__ void load_activation_words(const Element* row, long long k, uint32_t& lo, uint32_t& hi) {
  if constexpr (kNullRowsPastM<kRowHalves>) {
    if (row == nullptr) {
      lo = hi = 0u;
      return;
    }
  }
  const uint2 words = __ldg(reinterpret_cast<const uint2*>(row + k));
  lo = words.x;
  hi = words.y;
}

// One round of weight loads of a warp: kUnroll k-blocks (first, first + kWarps, ...) of each of its
// tiles' two channels per lane, kLoadBytes each, k-block b of a channel kBlockStride * b bytes past its
// first (GemvShape); k-blocks from `end` on (past the row, or past the block's slice of K) are skipped.
template <int kUnroll, int kWarps, int kLoadBytes, long long kBlockStride, int kTiles, int kWords>
__device__ __forceinline__ void load_round(uint32_t (&words)[kUnroll][kTiles][2][kWords],
                                           const uint8_t* const (&weight_rows)[kTiles][2], long long first,
                                           long long end) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const long long block = first + u * kWarps;
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        if (block < end) load_streaming<kLoadBytes>(weight_rows[tile][half] + block * kBlockStride, words[u][tile][half]);
  }
}

// The software pipeline's step: the round in flight (`next`) becomes the one to decode (`loaded`), and
// the loads of the round from k-block `next_first` on are issued (none from `end` on, nor when the
// round starts past it).
template <int kUnroll, int kWarps, int kLoadBytes, long long kBlockStride, int kTiles, int kWords>
__device__ __forceinline__ void advance_round(uint32_t (&loaded)[kUnroll][kTiles][2][kWords],
                                              uint32_t (&next)[kUnroll][kTiles][2][kWords],
                                              const uint8_t* const (&weight_rows)[kTiles][2], long long next_first,
                                              long long end) {
#pragma unroll
  for (int u = 0; u < kUnroll; ++u)
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half)
#pragma unroll
        for (int w = 0; w < kWords; ++w) loaded[u][tile][half][w] = next[u][tile][half][w];
  if (next_first < end) load_round<kUnroll, kWarps, kLoadBytes, kBlockStride>(next, weight_rows, next_first, end);
}

// k of quad q (8 activations) of a lane's codes in a k-block, past the lane's first k (kRun * t):
// runs of kRun k, 4 * kRun apart, kRun / 8 quads a run.
template <int kRun>
__device__ __forceinline__ constexpr int activation_quad_k(int q) {
  return 4 * kRun * (q / (kRun / 8)) + 8 * (q % (kRun / 8));
}

// Where a lane of an 8-row tensor_gemv tile on runs of 8 k reads its activations (one 16-byte quad a
// run, kLoads runs a k-block) when the lanes of rows past M help rather than idle. Lane (g, t) of a
// row g inside M reads row g from k 8 * t of each run on. A lane of a row past M, whose sums are never
// stored, reads a row inside M (g mod rows), and at each k-block's first load another of that row's
// runs ((g / rows) mod kLoads) in place of the first. An L1 miss fetches only the 32-byte sectors an
// instruction asks for, and one row's quads of a run fill one sector pair: with every load asking for
// its own, a k-block of one row took four L2 round trips; with the idle lanes asking for the later
// runs' sectors at the first load, the later loads hit L1 (ncu, dynamic one row, 70B o: L1 hit rate
// 37.4 % and long-scoreboard stalls 70.7 % before).
struct IdleRowsSpread {
  const uint16_t* row;  // this lane's row from its own k of a run on (8 * t)
  int first;            // the first load's k past the k-block's start

  // Where this lane reads quad q of the k-block starting at k block_k: the first from `first`, the
  // others where its own lane would.
  template <int kRun>
  __device__ __forceinline__ const uint16_t* quad(long long block_k, int q) const {
    return row + block_k + (q == 0 ? first : activation_quad_k<kRun>(q));
  }
};

template <int kLoads>
__device__ __forceinline__ IdleRowsSpread idle_rows_spread(const void* A, long long K, long long m_begin, int rows,
                                                           int g, int t) {
  const uint16_t* activations = static_cast<const uint16_t*>(A);
  const bool inside = g < rows;
  const int run = inside ? 0 : g / rows % kLoads;
  return {activations + (m_begin + (inside ? g : g % rows)) * K + 8 * t, 32 * run};
}

// Eight consecutive activations of one row (two mma steps' fragments), never past M.
__device__ __forceinline__ void load_activation_quad(const uint16_t* at, uint32_t (&words)[4]) {
  const uint4 quads = __ldg(reinterpret_cast<const uint4*>(at));
  words[0] = quads.x;
  words[1] = quads.y;
  words[2] = quads.z;
  words[3] = quads.w;
}

// Eight consecutive activations of one row (two mma steps' fragments), or zeros for a null row past M.
template <int kRowHalves>
__device__ __forceinline__ void load_activation_quads(const uint16_t* row, long long k, uint32_t (&words)[4]) {
  if constexpr (kNullRowsPastM<kRowHalves>) {
    if (row == nullptr) {
      words[0] = words[1] = words[2] = words[3] = 0u;
      return;
    }
  }
  load_activation_quad(row + k, words);
}

// Activation rows g and g + 8 of the block; past M null or the block's last row (kNullRowsPastM).
template <class Element, int kRowHalves>
__device__ __forceinline__ void block_activation_rows(const void* A, long long K, long long m_begin, int rows, int g,
                                                      const Element* (&a_rows)[kRowHalves]) {
  const Element* activations = static_cast<const Element*>(A);
#pragma unroll
  for (int half = 0; half < kRowHalves; ++half) {
    const int row = g + 8 * half;
    if constexpr (kNullRowsPastM<kRowHalves>) {
      a_rows[half] = row < rows ? activations + (m_begin + row) * K : nullptr;
    } else {
      a_rows[half] = activations + (m_begin + min(row, rows - 1)) * K;
    }
  }
}

// This lane's two output channels per tile, g and g + 8 (clamped past N: computed, never stored),
// and where its loads of each channel's W start (Pieces: WeightPieces, rows whole or channel tiles).
template <class Pieces, int kTiles, int kLoadBytes>
__device__ __forceinline__ void lane_channels(const void* W, long long N, long long n_block, int g, int t,
                                              long long (&channel)[kTiles][2],
                                              const uint8_t* (&weight_rows)[kTiles][2]) {
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const long long n = min(n_block + tile * 16 + g + 8 * half, N - 1);
      channel[tile][half] = n;
      weight_rows[tile][half] = static_cast<const uint8_t*>(W) + Pieces::channel_start(n) + t * kLoadBytes;
    }
  }
}

// acc[tile][row half][c]: c0, c1 = channel g, rows 2t, 2t + 1; c2, c3 = channel g + 8, same rows.
template <class Acc, int kTiles, int kRowHalves>
__device__ __forceinline__ void clear_sums(Acc (&acc)[kTiles][kRowHalves][4]) {
#pragma unroll
  for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
    for (int half = 0; half < kRowHalves; ++half)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[tile][half][c] = Acc(0);
}

}  // namespace bitjit
