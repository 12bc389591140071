#pragma once
// Sub-byte weight codes as the bytes of the 8-bit tensor-core operand of the W4A8 kernels
// (tensor_wgmma_w4a8, tensor_gemm_w4a8), four codes per 32-bit register.
//
// WgmmaCodeBytes, int8 activations: four codes of a word in the byte-lane order (element 4s + j at
// field s + j * 8 / bits, weight_layout.cpp) become four bytes, each the code's value times
// 2^kExponent, exactly, in two instructions (a shift by a per-lane amount and one LOP3).
//  - Unsigned formats (uint4, uint2, uint1): the codes themselves, taken by wgmma as u8 (kExponent 0).
//  - Signed formats (int4, int2, int1): the code moved to the byte's top bits (times 2^(8 - bits))
//    with the format's offset, times the same power of two, added modulo 256 by an XOR: the byte's
//    low bits are zero and the offset's are too, so no carry is lost. int4: 16 v, int2: 64 v, int1
//    (v = 2q - 1): 64 v. static_assert below checks every code.
// The kernel multiplies each group's int32 sums by its scale times 2^-kExponent.
//
// Fp8CodeBytes, fp8 activations (e4m3 or e5m2) with int4, uint4 or fp4 weights: the codes keep
// general_compress's natural order (four consecutive k in 16 bits) and become the e4m3 bytes of
// their values, every one of which e4m3 holds exactly, by byte-table permutes (PRMT).
#include "bitjit/decode/formats.cuh"
#include "bitjit/decode/weight_bytes.cuh"  // permute_bytes, e4m3_int_bytes, e4m3_of_nibbles

namespace bitjit {

template <class W>
struct WgmmaCodeBytes {
  static_assert(W::kInteger && W::kBits < 8 && W::kFlip == 0u, "sub-byte integer codes");
  static constexpr bool kUnsigned = W::kStep == 1 && W::kOffset == 0;
  static constexpr int kStepBits = W::kStep == 2 ? 1 : 0;
  static constexpr int kExponent = kUnsigned ? 0 : 8 - W::kBits - kStepBits;
  static constexpr uint32_t kFieldMask = ((1u << W::kBits) - 1u) * 0x01010101u;
  static constexpr uint32_t kTopMask = kFieldMask << (8 - W::kBits);
  static constexpr uint32_t kOffsetByte = uint32_t(W::kOffset * (1 << kExponent)) & 0xFFu;

  // The shift that brings field `field` of every byte where bytes() wants it: to bit 0 (unsigned,
  // shifted right) or to the byte's top bits (signed, shifted left; never negative).
  __host__ __device__ static constexpr int shift_for(int field) { return kUnsigned ? field * W::kBits : 8 - W::kBits - field * W::kBits; }

  __device__ static __forceinline__ uint32_t bytes(uint32_t word, int shift) {
    if constexpr (kUnsigned) return (word >> shift) & kFieldMask;
    else return ((word << shift) & kTopMask) ^ (kOffsetByte * 0x01010101u);
  }

  // Whether every code's byte is its value times 2^kExponent (as the byte's signed or unsigned reading).
  static constexpr bool exact() {
    for (int code = 0; code < (1 << W::kBits); ++code) {
      const int value = W::kStep * code + W::kOffset;
      const int byte = kUnsigned ? code : int(((uint32_t(code) << (8 - W::kBits)) ^ kOffsetByte) & 0xFFu);
      const int reading = kUnsigned || byte < 128 ? byte : byte - 256;
      if (reading != value * (1 << kExponent)) return false;
    }
    return true;
  }
  static_assert(exact(), "each code's byte is its value times 2^kExponent");
};

// Four int4 codes (the low 16 bits of `nibbles`, in order) as the e4m3 bytes of their values
// v = code - 8. PRMT takes a table byte where a selector's bit 3 is clear and that byte's sign,
// replicated, where it is set: both tables hold magnitudes (sign 0), so each PRMT gives 0 for the
// other half of the codes. Codes 8 .. 15 (v = 0 .. 7) index the first by code ^ 8; codes 0 .. 7
// (v = -8 .. -1, magnitudes 8 .. 1) the second by the code; the sign bit comes from a third PRMT,
// 0x7f where the code is below 8, plus one.
__device__ __forceinline__ uint32_t e4m3_of_int4_nibbles(uint32_t nibbles) {
  constexpr uint32_t kNonNegativeLow = e4m3_int_bytes(0, 1), kNonNegativeHigh = e4m3_int_bytes(4, 1);
  constexpr uint32_t kMagnitudeLow = e4m3_int_bytes(8, -1), kMagnitudeHigh = e4m3_int_bytes(4, -1);
  const uint32_t non_negative = permute_bytes(kNonNegativeLow, kNonNegativeHigh, nibbles ^ 0x8888u);
  const uint32_t negative_magnitude = permute_bytes(kMagnitudeLow, kMagnitudeHigh, nibbles);
  const uint32_t below_eight = permute_bytes(0x7f7f7f7fu, 0x7f7f7f7fu, nibbles);
  return non_negative | negative_magnitude | ((below_eight + 0x01010101u) & 0x80808080u);
}

// The 4-bit formats Fp8CodeBytes takes: int4 (offset -8), uint4 and fp4; true for int4.
template <class W>
constexpr bool offset_int4() {
  static_assert(W::kBits == 4, "4-bit weights with fp8 activations");
  if constexpr (W::kInteger) {
    static_assert(W::kStep == 1 && (W::kOffset == 0 || W::kOffset == -8), "int4 or uint4");
    return W::kOffset != 0;
  } else {
    return false;
  }
}

template <class W>
struct Fp8CodeBytes {
  static constexpr bool kUnsigned = false;  // e4m3 bytes
  static constexpr int kExponent = 0;
  // Four consecutive codes of a word start at its bit 16 * field (k 4t .. 4t + 3 or 16 + 4t ..).
  __host__ __device__ static constexpr int shift_for(int field) { return 16 * field; }

  __device__ static __forceinline__ uint32_t bytes(uint32_t word, int shift) {
    if constexpr (offset_int4<W>()) return e4m3_of_int4_nibbles(word >> shift);
    else return e4m3_of_nibbles<W>(word >> shift);  // uint4: the code is the value; fp4: its value
  }
};

// The W4A8 kernels' operand for activations of type A: the weight bytes and the type of the sums
// (int8: int32, exact; fp8: float32).
template <class A, class W>
struct W4a8Operands {
  using Bytes = Fp8CodeBytes<W>;
  using Sum = float;
};
template <class W>
struct W4a8Operands<fmt::Int8, W> {
  using Bytes = WgmmaCodeBytes<W>;
  using Sum = int;
};

}  // namespace bitjit
