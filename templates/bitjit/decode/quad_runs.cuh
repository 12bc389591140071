#pragma once
// Weights stored in runs of 8 k (the mma_runs layout the small-M kernels read) decoded into the wgmma
// fragment order (runs of 2 k), so that the Hopper kernels and tensor_gemv share one copy of the
// weights (compiler/weight_layout.hpp, wgmma_layout).
//
// Within a k-block, lane t of a quad holds k = 32 a + 8 t + j (j < 8) at its position 8 a + j in
// runs of 8, and k = 32 a + 8 r + 2 t + e at position 8 a + 2 r + e in fragment order. So pair r
// (elements 2r, 2r + 1) of lane t's fragment-order codes at positions 8a .. 8a + 7 is pair t of lane
// r's stored codes there: a transpose of pairs across the quad. For codes of at most 4 bits the 8
// positions lie in one 32-bit word at the same place in both orders (for 2- and 1-bit codes a word
// holds several such groups of 8: fragment pair y of a word is pair 4 (y / 4) + t of lane y % 4's).
// Each lane reads its quad's four loads and decodes the pairs it needs straight from them: one shift
// by its lane's pair per decoded pair, no rearranged copy.
#include "bitjit/decode/weight_pairs.cuh"

namespace bitjit {

// decode_operand (the weight operand of one m16n8k16 step for a 16-channel tile: fragment positions
// position .. position + 3 of channels g and g + 8) for weights in runs of 8 k: quad[r][half] is
// quad lane r's load of channel g (half 0) or g + 8 (half 1), lane_in_quad this lane's place in it.
template <class W, class A, bool kQuantizedZeros, int kTableCopies = kPairTableCopies, int kWords, class Finish>
__device__ __forceinline__ void decode_runs_operand(const uint32_t (&quad)[4][2][kWords], int position, int lane_in_quad,
                                                    const uint32_t (&zero)[2], const uint32_t* table, int lane,
                                                    uint32_t (&a)[4], Finish finish) {
  static_assert(W::kBits <= 4, "runs of 8 codes within one word: codes of at most 4 bits");
  constexpr int kCodesPerWord = 32 / W::kBits;
#pragma unroll
  for (int slots = 0; slots < 2; ++slots) {
    const int p = position + 2 * slots;
    const int word = p / kCodesPerWord, pair = p % kCodesPerWord / 2;  // in fragment order
    const int source = pair % 4, source_pair = pair / 4 * 4 + lane_in_quad;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      a[2 * slots + half] = finish(decode_pair<W, A, kQuantizedZeros, false, kTableCopies>(quad[source][half][word], source_pair,
                                                                             zero[half], table, lane),
                                   half);
    }
  }
}

}  // namespace bitjit
