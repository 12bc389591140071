#pragma once
// The warp of the fp16 / bf16 Hopper kernels (tensor_wgmma, tensor_wgmma_ws): weights decoded into
// wgmma's register operand step by step, activations from the swizzled stage.
#include "bitjit/decode/group_scales.cuh"
#include "bitjit/decode/quad_runs.cuh"
#include "bitjit/mma/wgmma.cuh"
#include "bitjit/pipeline/stage_loader.cuh"
#include "bitjit/pipeline/swizzled_atoms.cuh"

namespace bitjit {

// One warp's share of a warpgroup tile in the fp16 / bf16 kernels (tensor_wgmma, tensor_wgmma_ws):
// its 16 channels' scales, the accumulators of the warpgroup's 64 channels x kBlockM rows, and a
// stage's decode-and-wgmma loop. T: kThreads (the warpgroups' threads), kBlockM rows, kBlockN = 64
// per warpgroup, kBlockK, kWarpsM = 1, kWarpsN = kThreads / 32, kLoadBytes, kRun = 2 (fragment
// order), kStoredRun: 2 (the mma_fragments layout) or 8 (mma_runs, decoded in fragment order from
// the quad lanes' loads).
template <class P, class T>
struct WgmmaDecodeWarp {
  using G = GemmTiling<P, T>;
  using W = typename P::W;
  using A = typename P::A;
  static constexpr PairDecode kHow = pair_decode<W, A>();
  static constexpr bool kQuantizedZeros = P::kZerosMode == Zeros::quantized;
  using Placement = SwizzledAtoms<G::kChunksPerRow, T::kBlockM>;
  static constexpr int kStepsPerBlock = G::kKBlock / 16;
  static constexpr int kStepsPerSpan = G::kRunsPerSpan * T::kRun / 4;
  static constexpr int kSpans = G::kRuns / G::kRunsPerSpan;
  static_assert(T::kRun == 2 && T::kBlockN == 16 * T::kWarpsN && T::kThreads % 128 == 0,
                "fragment order, 64 channels per warpgroup, 16 per warp");
  static_assert(T::kStoredRun == 2 || T::kStoredRun == 8, "weights in fragment order or in runs of 8 k");
  static constexpr int kSourceLanes = T::kStoredRun == 2 ? 1 : 4;  // the quad lanes' loads a lane decodes from
  static_assert(kStepsPerSpan >= 1, "a scale group holds whole 16-k steps");
  // One scale per channel and no zero points: the fragments hold the codes' own values (exact in A's
  // type) and finish() multiplies each channel's float sums by its scale once, instead of every pair
  // by it (int8 per-channel weights, 256 x 128 tiles: 32 HMUL2 a stage a thread fewer). One rounding
  // of the scale's product fewer per weight, too.
  static constexpr bool kScaleSums = kScalesOnSums<P>;

  // The scale (and zero) codes of this lane's channels for every span of a stage.
  struct StageCodes {
    GroupCodes<P, 1> span[G::kStageBlocks][kSpans];
  };
  // 16-k steps decoded first and then issued back to back as one wgmma group (kWgmmaGroup), with
  // two groups' fragment sets: the wait after a group frees the group before it. Groups of several
  // steps spend one fence, commit and wait on several wgmmas.
  static constexpr int kGroup = T::kWgmmaGroup;
  static_assert(kGroup >= 1 && kStepsPerBlock % kGroup == 0, "whole wgmma groups per k-block");
  // The stage's last group keeps running into the next stage if that stage's first group takes the
  // other fragment sets (whole pairs of groups per k-block; past K a stage holds fewer k-blocks).
  static constexpr bool kKeepsLastGroup = kStepsPerBlock % (2 * kGroup) == 0;
  // Two sets of sums where the registers allow (up to 64 rows, at most two warpgroups of sums): consecutive
  // groups add into different sets, so a group's wgmmas need not wait in the tensor pipe for the
  // sums of the group before (measured 3-4 % at M = 64, 2026-11-27); finish() adds the second set
  // into d. With four warpgroups a thread has about 100 registers and ptxas serialized every wgmma
  // (its warning C7512).
  static constexpr int kChains = T::kBlockM <= 64 && T::kThreads <= 256 ? 2 : 1;

  const MatmulParams& params;
  const uint32_t* pair_table;
  int lane, warp_channel;  // warp_channel: this warp's 16 channels, rows 16 (warp % 4) .. of its warpgroup's D
  int w_offset;            // raw bytes of this lane's piece in a stage's weights
  long long channel[1][2];
  float d[T::kBlockM / 2];
  float d_odd[kChains == 2 ? T::kBlockM / 2 : 1];  // the odd groups' sums (kChains == 2)
  StageCodes next_codes;    // the next stage's scale codes, loaded a stage early
  uint32_t fragments[2 * kGroup][4];  // two groups' sets: the group before may still be in its wgmmas

  __device__ __forceinline__ WgmmaDecodeWarp(const MatmulParams& p, const uint32_t* table, int warp)
      : params(p), pair_table(table) {
    lane = int(threadIdx.x) % 32;
    warp_channel = warp * 16;
    w_offset = (warp_channel + lane / 4) * G::kPieceBytes + lane % 4 * T::kLoadBytes;
  }

  // A new output tile: channels from n_block, sums at zero.
  __device__ __forceinline__ void start_tile(long long n_block) {
#pragma unroll
    for (int half = 0; half < 2; ++half) channel[0][half] = min(n_block + warp_channel + lane / 4 + 8 * half, P::N - 1);
#pragma unroll
    for (int i = 0; i < T::kBlockM / 2; ++i) d[i] = 0.0f;
#pragma unroll
    for (int i = 0; i < int(sizeof(d_odd) / sizeof(float)); ++i) d_odd[i] = 0.0f;
  }

  // visit(block, span, group) for every span of stage tile_k's k-blocks (past K: the last k-block's).
  template <class Visit>
  __device__ __forceinline__ void for_each_stage_group(int tile_k, Visit visit) const {
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      const long long k_block = min((long long)tile_k * G::kStageBlocks + block, G::kBlocksK - 1);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) visit(block, span, (k_block * G::kKBlock + 16 * kStepsPerSpan * span) / G::kGroupSize);
    }
  }

  // Issues the loads of stage tile_k's scale codes (converted when multiply_stage starts it).
  __device__ __forceinline__ void load_stage_codes(int tile_k) {
    if constexpr (kScaleSums) return;  // finish() reads the one scale of each channel
    for_each_stage_group(tile_k, [&](int block, int span, long long group) {
      load_group_codes<P>(params, channel, group, next_codes.span[block][span]);
    });
  }

  // Asks L1 for stage tile_k's packed zero codes (prefetch_group_zeros), a stage before
  // load_stage_codes loads them.
  __device__ __forceinline__ void prefetch_stage_zeros(int tile_k) const {
    if constexpr (kQuantizedZeros) {
      for_each_stage_group(tile_k, [&](int, int, long long group) { prefetch_group_zeros<P>(params, channel, group); });
    }
  }

  // One stage (its scale codes loaded by load_stage_codes before): per 16-k step, this warp's
  // fragments decoded, and per kGroup steps the warpgroup's wgmmas issued as one group, each wait
  // leaving only the newest group running. The stage before may still run its last group when this
  // one starts: release_previous() is called once it is done (after this stage's first group), and
  // this stage's last group is left running where kKeepsLastGroup (finish() waits for it), else
  // waited for at the stage's end.
  // next_tile_k: the stage whose codes to load meanwhile. The accumulators are fenced around every
  // group so that no copy the compiler makes of them (at the loop's back edge) lands while one runs
  // (scripts/wgmma-hazards.py checks the machine code).
  template <class Release>
  __device__ __forceinline__ void multiply_stage(const uint4* stage, int tile_k, int next_tile_k, Release release_previous) {
    uint32_t scale[G::kStageBlocks][kSpans][1][2], zero[G::kStageBlocks][kSpans][1][2];
    if constexpr (!kScaleSums) {
#pragma unroll
      for (int block = 0; block < G::kStageBlocks; ++block)
#pragma unroll
        for (int span = 0; span < kSpans; ++span) group_pairs_of<P>(next_codes.span[block][span], channel, scale[block][span], zero[block][span]);
    }
    load_stage_codes(next_tile_k);
    prefetch_stage_zeros(next_tile_k + 1);
    if constexpr (!kKeepsLastGroup) release_previous();  // finished at the end of its stage
    const uint8_t* lane_weights = reinterpret_cast<const uint8_t*>(stage + G::kActivationChunks) + w_offset;
#pragma unroll
    for (int block = 0; block < G::kStageBlocks; ++block) {
      if ((long long)tile_k * G::kStageBlocks + block >= G::kBlocksK) break;  // past K: the same for the whole block
      uint32_t words[kSourceLanes][2][G::kWords];
#pragma unroll
      for (int half = 0; half < 2; ++half)
        load_source_words(lane_weights + (block * T::kBlockN + 8 * half) * G::kPieceBytes, words, half);
#pragma unroll
      for (int span = 0; span < kSpans; ++span) {
        const uint32_t(&span_scale)[2] = scale[block][span][0];
        const uint32_t(&span_zero)[2] = zero[block][span][0];
        auto scaled = [&](uint32_t pair, int half) {
          if constexpr (kScaleSums) return pair;
          else return scaled_pair<P>(pair, span_scale[half], span_zero[half]);
        };
#pragma unroll
        for (int step = span * kStepsPerSpan; step < (span + 1) * kStepsPerSpan; ++step) {
          const int stage_step = block * kStepsPerBlock + step;  // of the stage's kBlockK / 16
          if constexpr (kSourceLanes == 1) {
            decode_operand<W, A, kQuantizedZeros, kHopperPairTableCopies<T::kBlockM>>(words[0], 4 * step, span_zero, pair_table, lane,
                                                  fragments[stage_step % (2 * kGroup)], scaled);
          } else {
            decode_runs_operand<W, A, kQuantizedZeros, kHopperPairTableCopies<T::kBlockM>>(words, 4 * step, lane % 4, span_zero, pair_table, lane,
                                                       fragments[stage_step % (2 * kGroup)], scaled);
          }
          if (stage_step % kGroup == kGroup - 1) {
            issue_group(stage, stage_step + 1 - kGroup);
            if constexpr (kKeepsLastGroup)
              if (stage_step == kGroup - 1) release_previous();
          }
        }
      }
    }
    if constexpr (!kKeepsLastGroup) wait_for_all_groups();
  }

  // The loads a lane decodes one channel's k-block from (its own at `piece`): its own in fragment
  // order; with runs of 8 its quad's four (read from shared memory by every lane of the quad: four
  // times the bytes, no shuffles), from which decode_runs_operand takes the pairs it needs.
  __device__ __forceinline__ void load_source_words(const uint8_t* piece, uint32_t (&words)[kSourceLanes][2][G::kWords],
                                                    int half) const {
    const uint8_t* first = kSourceLanes == 1 ? piece : piece - lane % 4 * T::kLoadBytes;
#pragma unroll
    for (int source = 0; source < kSourceLanes; ++source)
      load_shared_words<T::kLoadBytes>(first + source * T::kLoadBytes, words[source][half]);
  }

  // The wgmmas of steps first .. first + kGroup - 1 of the stage, their fragments decoded, as one
  // group into its set of sums; then the wait that leaves it the only one running, so the group
  // before it is done. (first is a constant once multiply_stage's loops are unrolled.)
  __device__ __forceinline__ void issue_group(const uint4* stage, int first) {
    if constexpr (kChains == 2) {
      if (first / kGroup % 2 == 1) return issue_group_into(d_odd, stage, first);
    }
    issue_group_into(d, stage, first);
  }

  __device__ __forceinline__ void issue_group_into(float (&sums)[T::kBlockM / 2], const uint4* stage, int first) {
    fence_all_sums();
    wgmma_fence();  // the fragments' registers were just written
#pragma unroll
    for (int step = first; step < first + kGroup; ++step)
      wgmma_64xNx16_rs<A, T::kBlockM>(sums, fragments[step % (2 * kGroup)], Placement::descriptor(stage, 0, 32 * step), true);
    wgmma_commit();
    wgmma_wait<1>();
  }

  // Both sets stay in their registers while either may be written by a wgmma in flight.
  __device__ __forceinline__ void fence_all_sums() {
    wgmma_fence_accumulators(d);
    if constexpr (kChains == 2) wgmma_fence_accumulators(d_odd);
  }

  __device__ __forceinline__ void wait_for_all_groups() {
    wgmma_wait<0>();
    fence_all_sums();
  }

  // At the end of a tile's stages (or of a stream-K share of them): waits for the last wgmma and adds
  // the sets, so d holds the sums, scaled per channel where kScaleSums (a share's partial sums too:
  // the scale is the same for every share of a channel).
  __device__ __forceinline__ void finish() {
    wait_for_all_groups();
    if constexpr (kChains == 2) {
#pragma unroll
      for (int i = 0; i < T::kBlockM / 2; ++i) d[i] += d_odd[i];
    }
    if constexpr (kScaleSums) {
      // D's fragment layout (epilogue/wgmma_outputs.cuh): d[4j + 0, 1] are channel g's, d[4j + 2, 3]
      // channel g + 8's, the channels of channel[0][0] and channel[0][1].
      const float scale[2] = {load_scale<P>(params, channel[0][0], 0), load_scale<P>(params, channel[0][1], 0)};
#pragma unroll
      for (int i = 0; i < T::kBlockM / 2; ++i) d[i] *= scale[i % 4 / 2];
    }
  }
};

}  // namespace bitjit
