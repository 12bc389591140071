#pragma once
// The scales and zero points of a scale group for the kernels that apply them to decoded weight
// pairs in A's 16-bit type, right before the mma (tensor_gemm, tensor_wgmma, tensor_wgmma_ws).
#include "bitjit/decode/weight_pairs.cuh"
#include "bitjit/ptx/global_memory.cuh"

namespace bitjit {

// Zero codes packed several to a byte (quantized zeros of sub-byte weights): a lane loads its code's
// whole byte and picks the code out when it converts the group (group_pairs_of), not right after the
// load. Picking it at the load made the lane wait there for global memory: on the H200 that wait (the
// shift right after the load, 12 % of the warp samples of uint4 + packed zeros, 8B qkv, 64 rows) was
// most of packed zeros' cost beside int4's; deferred, the time at 32 and 64 rows fell by 3-15 %.
template <class P>
inline constexpr bool kZeroCodesPacked = P::kZerosMode == Zeros::quantized && P::W::kBits < 8;

// The packed zero codes a byte holds. N is a whole number of bytes of them (config.cpp refuses other
// N with packed zeros), so a channel's place in its byte, and its byte in a group's row, are the same
// for every group.
template <class P>
__device__ __forceinline__ constexpr uint32_t zero_codes_per_byte() {
  constexpr uint32_t kPerByte = 8 / P::W::kBits;
  static_assert(P::N % kPerByte == 0, "packed zero codes: N a whole number of bytes of codes (config.cpp)");
  return kPerByte;
}

// Where channel n's zero code lies in its byte.
template <class P>
__device__ __forceinline__ uint32_t zero_code_shift(long long n) {
  return uint32_t(P::W::kBits) * (uint32_t(n) % zero_codes_per_byte<P>());
}

// The byte holding channel n's packed zero code of scale group `group` (group-major: a row of N codes
// a group): the channel's byte in a row, the same for every group, plus the group's row. Written so,
// the channel's part is computed once per tile and each stage's loads add the group's row with one
// multiply-add; from the whole index (zero_code_index) the compiler recomputed the index, its shift
// and a 64-bit add per load (sm_90a, tensor_wgmma_ws at 64 rows: most of the ~22 address
// instructions a stage that packed zeros had over int4).
template <class P>
__device__ __forceinline__ const uint8_t* zero_code_byte(const MatmulParams& params, long long group, long long n) {
  constexpr uint32_t kPerByte = zero_codes_per_byte<P>();
  constexpr long long kRowBytes = P::N / kPerByte;
  const uint8_t* channel_byte = static_cast<const uint8_t*>(params.zeros) + uint32_t(n) / kPerByte;
  if constexpr (P::kGroups * kRowBytes <= (1ll << 32)) return channel_byte + uint32_t(group) * uint32_t(kRowBytes);
  else return channel_byte + group * kRowBytes;
}

// The raw scale (and zero) codes of a lane's channels (g, g + 8 of each of its tiles) for one scale
// group, loaded apart from their conversion so that a load issued a stage early stays in flight
// until the stage uses it (converting at once would wait for global memory right there). Packed
// zero codes are their whole bytes (kZeroCodesPacked).
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
      if constexpr (kZeroCodesPacked<P>)
        codes.zero[tile][half] = *zero_code_byte<P>(params, group, n);
      else if constexpr (P::kZerosMode == Zeros::quantized)
        codes.zero[tile][half] = load_zero_code<P>(params, group, n);
      else if constexpr (P::kZerosMode == Zeros::original || P::kZerosMode == Zeros::rescale)
        codes.zero[tile][half] = load_code<typename P::Scale>(params.zeros, n * P::kGroups + group);
    }
}

// Packed zero codes lie group-major (N codes a group), so every scale group's are a new line for
// the block's channels, which load_group_codes, a stage ahead, then waits for from L2 (scales lie
// channel-major: a line serves a channel 16 groups). Asks L1 for those of `group` one stage earlier
// still; the other zero modes and scales need not.
template <class P, int kTiles>
__device__ __forceinline__ void prefetch_group_zeros(const MatmulParams& params, const long long (&channel)[kTiles][2],
                                                     long long group) {
  if constexpr (P::kZerosMode == Zeros::quantized) {
#pragma unroll
    for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
      for (int half = 0; half < 2; ++half) prefetch_l1(zero_code_byte<P>(params, group, channel[tile][half]));
  }
}

// The pairs of a group's codes in A's type: what scaled_pair multiplies a decoded pair by (and
// subtracts). channel: the lanes' channels the codes were loaded for.
template <class P, int kTiles>
__device__ __forceinline__ void group_pairs_of(const GroupCodes<P, kTiles>& codes, const long long (&channel)[kTiles][2],
                                               uint32_t (&scale)[kTiles][2], uint32_t (&zero)[kTiles][2]) {
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
      uint32_t zero_code = codes.zero[tile][half];
      if constexpr (kZeroCodesPacked<P>)
        zero_code = (zero_code >> zero_code_shift<P>(channel[tile][half])) & ((1u << W::kBits) - 1u);
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
  group_pairs_of<P>(codes, channel, scale, zero);
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

}  // namespace bitjit
