#pragma once
// Weights stored in runs of 8 k (the mma_runs layout the small-M kernels read) brought into the
// wgmma fragment order (runs of 2 k) in registers, so that the Hopper kernels and tensor_gemv share
// one copy of the weights (compiler/weight_layout.hpp, wgmma_layout).
//
// Within a k-block, lane t of a quad holds k = 32 a + 8 t + j (j < 8) at its position 8 a + j in
// runs of 8, and k = 32 a + 8 r + 2 t + e at position 8 a + 2 r + e in fragment order. So the pair r
// (elements 2r, 2r + 1) of lane t's fragment-order codes for positions 8a .. 8a + 7 is pair t of lane
// r's stored codes there: a transpose of pairs across the quad. For codes of at most 4 bits the 8
// positions lie in one 32-bit word at the same place in both orders, and pair t of a word sits at a
// fixed bit pattern shifted by t pair widths (split order: fields t and 16 + t ... apart by the code
// width; natural order: 2 t codes in), so each of the four source words contributes one rotation
// and one masked OR.
#include "bitjit/decode/weight_pairs.cuh"

namespace bitjit {

// Bits between the fields of pair t and pair t + 1 of a word.
template <class W>
__host__ __device__ constexpr int pair_step_bits() {
  return split_pairs<W>() ? W::kBits : 2 * W::kBits;
}

// The bits of the pairs 0, 4, 8, ... of a word: in split order a pair's two fields lie at t and at
// 16 + t field widths, in natural order its two codes are adjacent.
template <class W>
__host__ __device__ constexpr uint32_t every_fourth_pair_mask() {
  constexpr uint32_t kField = (1u << W::kBits) - 1u;
  constexpr int kPairs = 16 / W::kBits;  // pairs per word
  uint32_t mask = 0;
  for (int pair = 0; pair < kPairs; pair += 4) {
    if constexpr (split_pairs<W>()) {
      mask |= kField << (pair * W::kBits) | kField << (16 + pair * W::kBits);
    } else {
      mask |= (kField | kField << W::kBits) << (2 * pair * W::kBits);
    }
  }
  return mask;
}

// Lane `lane_in_quad`'s words in fragment order from the four quad lanes' stored words (quad[r]:
// lane r's load), one word per 8 positions.
template <class W, int kWords>
__device__ __forceinline__ void gather_fragment_order(const uint32_t (&quad)[4][kWords], int lane_in_quad,
                                                      uint32_t (&words)[kWords]) {
  static_assert(W::kBits <= 4, "runs of 8 codes in one word: codes of at most 4 bits");
  constexpr int kStep = pair_step_bits<W>();
  constexpr uint32_t kMask = every_fourth_pair_mask<W>();
#pragma unroll
  for (int w = 0; w < kWords; ++w) {
    uint32_t gathered = 0;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      // Pair lane_in_quad of lane r's word to pair r: a rotation by (r - lane_in_quad) pair widths.
      const uint32_t rotated = __funnelshift_l(quad[r][w], quad[r][w], uint32_t(kStep * (r - lane_in_quad)) & 31u);
      gathered |= rotated & (kMask << (kStep * r));
    }
    words[w] = gathered;
  }
}

}  // namespace bitjit
