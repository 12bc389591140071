#pragma once
// Weight decoding for the byte mma (ByteMma, mma/mma_sync.cuh) of tensor_gemv_8bit: four codes
// at a time into the bytes of one operand register, as they are or as e4m3 values, and the integer
// formats' affine form applied to a run's sums.
#include "bitjit/decode/dequant.cuh"

namespace bitjit {

// Four consecutive codes of a word (elements 4s .. 4s + 3 in the byte-lane order) as bytes u = code ^ kFlip
// (sub-byte formats have no flip); fp8 codes are the operand as they are.
template <class W>
__device__ __forceinline__ uint32_t code_bytes(uint32_t word, int s) {
  if constexpr (W::kBits < 8) {
    constexpr uint32_t kMask = ((1u << W::kBits) - 1u) * 0x01010101u;
    return (word >> (s * W::kBits)) & kMask;
  } else if constexpr (W::kInteger) {
    return word ^ (W::kFlip * 0x01010101u);
  } else {
    return word;
  }
}

// PRMT: byte n of the result is byte selector[n] of {second, first} (0-7), or with bit 3 of the
// selector set, that byte's top bit replicated.
__device__ __forceinline__ uint32_t permute_bytes(uint32_t first, uint32_t second, uint32_t selector) {
  uint32_t result;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(result) : "r"(first), "r"(second), "r"(selector));
  return result;
}

// The type of the weight bytes the mma takes: the codes (int8 activations: unsigned bytes, fp8
// weights: themselves), or e4m3 values made from 4-bit codes for fp8 activations.
template <class A, class W>
struct WeightBytes {
  using Type = fmt::Float8E4M3;
};

template <class W>
struct WeightBytes<fmt::Int8, W> {
  using Type = fmt::Int8;
};

template <>
struct WeightBytes<fmt::Float8E4M3, fmt::Float8E4M3> {
  using Type = fmt::Float8E4M3;
};

template <>
struct WeightBytes<fmt::Float8E5M2, fmt::Float8E5M2> {
  using Type = fmt::Float8E5M2;
};

// The e4m3 byte of a small integer (|v| <= 15: exact with three mantissa bits).
constexpr uint32_t e4m3_byte_of_int(int v) {
  const uint32_t sign = v < 0 ? 0x80u : 0u;
  const int magnitude = v < 0 ? -v : v;
  if (magnitude == 0) return sign;
  int exponent = 0;
  while ((2 << exponent) <= magnitude) ++exponent;
  const uint32_t mantissa = uint32_t((magnitude << 3 >> exponent) & 7);
  return sign | uint32_t(exponent + 7) << 3 | mantissa;
}

// Four bytes e4m3(first + step * i), i = 0 .. 3, byte i in bits 8i.
constexpr uint32_t e4m3_int_bytes(int first, int step) {
  uint32_t word = 0;
  for (int i = 0; i < 4; ++i) word |= e4m3_byte_of_int(first + step * i) << (8 * i);
  return word;
}

// Four 4-bit codes, the low 16 bits of `nibbles` in order, as four e4m3 bytes: of the integer u
// (0, 1, ..., 15) for integer formats, of the fp4 value (sign bit 3, magnitudes 0, 0.5, 1, 1.5, 2,
// 3, 4, 6) for fp4. The codes are PRMT selectors into byte tables; a selector with bit 3 set yields
// its byte's sign replicated instead, 0 for these tables, so the two halves of a 16-entry table
// take two PRMTs whose results are ORed.
template <class W>
__device__ __forceinline__ uint32_t e4m3_of_nibbles(uint32_t nibbles) {
  if constexpr (W::kInteger) {
    constexpr uint32_t k0to3 = e4m3_int_bytes(0, 1), k4to7 = e4m3_int_bytes(4, 1);
    constexpr uint32_t k8to11 = e4m3_int_bytes(8, 1), k12to15 = e4m3_int_bytes(12, 1);
    const uint32_t below_8 = permute_bytes(k0to3, k4to7, nibbles);
    const uint32_t from_8 = permute_bytes(k8to11, k12to15, nibbles ^ 0x8888u);
    return below_8 | from_8;
  } else {
    const uint32_t magnitude = permute_bytes(0x3c383000u, 0x4c484440u, nibbles & 0x7777u);  // 00 30 38 3c 40 44 48 4c
    const uint32_t negative = permute_bytes(0x80808080u, 0x80808080u, nibbles);  // 0x80, or 0xff where bit 3 is set
    return magnitude | (((negative & 0x7f7f7f7fu) + 0x01010101u) & 0x80808080u);
  }
}

// The weight operand of one mma step: codes 4s .. 4s + 3 of a word as bytes, u = code ^ kFlip for
// int8 activations (byte lanes), e4m3 values for fp8 activations with 4-bit weights (natural order:
// the low or high 16 bits), fp8 weights as they are.
template <class A, class W>
__device__ __forceinline__ uint32_t weight_operand(uint32_t word, int s) {
  if constexpr (!is_same<A, fmt::Int8>::value && W::kBits == 4) return e4m3_of_nibbles<W>(word >> (16 * s));
  else return code_bytes<W>(word, s);
}

// Whether the sums of the activations over each run are needed: for the offset of an integer
// format or for zero points (fp8 weights have neither).
template <class P, class W>
__device__ constexpr bool activation_sums_needed() {
  if constexpr (W::kInteger) return W::kOffset != 0 || P::kZerosMode != Zeros::none;
  else return false;
}

// A run's sum of a * v from its mma sum: the integer format's affine form, or the fp8 sum as it is.
template <class W, class Sum>
__device__ __forceinline__ Sum run_sum(Sum partial, Sum activation_sums) {
  if constexpr (W::kInteger) return Sum(W::kStep) * partial + Sum(W::kOffset) * activation_sums;
  else return partial;
}

}  // namespace bitjit
