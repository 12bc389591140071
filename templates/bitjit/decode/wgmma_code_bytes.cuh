#pragma once
// Sub-byte integer weight codes as the bytes of the int8 wgmma's register operand
// (tensor_wgmma_w4a8): four codes of a word in the byte-lane order (element 4s + j at field
// s + j * 8 / bits, weight_layout.cpp) become four bytes, each the code's value times 2^kExponent,
// exactly, in two instructions (a shift by a per-lane amount and one LOP3).
//  - Unsigned formats (uint4, uint2, uint1): the codes themselves, taken by wgmma as u8 (kExponent 0).
//  - Signed formats (int4, int2, int1): the code moved to the byte's top bits (times 2^(8 - bits))
//    with the format's offset, times the same power of two, added modulo 256 by an XOR: the byte's
//    low bits are zero and the offset's are too, so no carry is lost. int4: 16 v, int2: 64 v, int1
//    (v = 2q - 1): 64 v. static_assert below checks every code.
// The kernel multiplies each group's int32 sums by its scale times 2^-kExponent.
#include "bitjit/decode/formats.cuh"

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

}  // namespace bitjit
