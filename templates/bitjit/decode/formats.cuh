#pragma once
// One decoder struct per row of the dtype table (compiler/dtype.cpp names them). Each turns a stored
// code (the element's raw bits) into its value; the integer formats also give an exact int, and the
// output formats encode a float (or int) back into a code. Values follow docs/formats.md exactly.
#include "bitjit/core/types.cuh"

namespace bitjit {

// The 16 NF4 levels of QLoRA. Constant memory: one copy per module, broadcast when lanes agree.
__device__ __constant__ float nf4_levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

namespace fmt {

// ---- 16/32-bit floats ---------------------------------------------------------------------------
struct Float16 {
  static constexpr int kBits = 16;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) { return half_bits_to_float(code); }
  __device__ static uint32_t encode(float value) { return float_to_half_bits(value); }
};
struct BFloat16 {
  static constexpr int kBits = 16;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) { return bfloat16_bits_to_float(code); }
  __device__ static uint32_t encode(float value) { return float_to_bfloat16_bits(value); }
};
struct Float32 {
  static constexpr int kBits = 32;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) { return __uint_as_float(code); }
  __device__ static uint32_t encode(float value) { return __float_as_uint(value); }
};

// ---- integers -----------------------------------------------------------------------------------
struct Int32 {
  static constexpr int kBits = 32;
  static constexpr bool kInteger = true;
  __device__ static int decode_int(uint32_t code) { return int(code); }
  __device__ static float decode(uint32_t code) { return float(int(code)); }
  __device__ static uint32_t encode_int(int value) { return uint32_t(value); }
};
// Integer weight formats also state their value as an affine function of the (flipped) code,
// value = kStep * (code ^ kFlip) + kOffset, so fast kernels convert codes with float arithmetic
// instead of the quarter-rate int-to-float instruction.
struct Int8 {
  static constexpr int kBits = 8;
  static constexpr bool kInteger = true;
  static constexpr uint32_t kFlip = 0x80u;
  static constexpr int kStep = 1, kOffset = -128;
  __device__ static int decode_int(uint32_t code) { return int(int8_t(uint8_t(code))); }
  __device__ static float decode(uint32_t code) { return float(decode_int(code)); }
  // Saturating, like the reference's int8 cast.
  __device__ static uint32_t encode_int(int value) { return uint32_t(uint8_t(max(-128, min(127, value)))); }
};
// intN for N = 4, 2: offset binary, v = q - 2^(N-1).
template <int Bits>
struct OffsetInt {
  static constexpr int kBits = Bits;
  static constexpr bool kInteger = true;
  static constexpr uint32_t kFlip = 0u;
  static constexpr int kStep = 1, kOffset = -(1 << (Bits - 1));
  __device__ static int decode_int(uint32_t code) { return int(code) - (1 << (Bits - 1)); }
  __device__ static float decode(uint32_t code) { return float(decode_int(code)); }
};
using Int4 = OffsetInt<4>;
using Int2 = OffsetInt<2>;
// int1: binary, v = 2q - 1 in {-1, +1}.
struct Int1 {
  static constexpr int kBits = 1;
  static constexpr bool kInteger = true;
  static constexpr uint32_t kFlip = 0u;
  static constexpr int kStep = 2, kOffset = -1;
  __device__ static int decode_int(uint32_t code) { return 2 * int(code) - 1; }
  __device__ static float decode(uint32_t code) { return float(decode_int(code)); }
};
template <int Bits>
struct UnsignedInt {
  static constexpr int kBits = Bits;
  static constexpr bool kInteger = true;
  static constexpr uint32_t kFlip = 0u;
  static constexpr int kStep = 1, kOffset = 0;
  __device__ static int decode_int(uint32_t code) { return int(code); }
  __device__ static float decode(uint32_t code) { return float(code); }
};
using Uint8 = UnsignedInt<8>;
using Uint4 = UnsignedInt<4>;
using Uint2 = UnsignedInt<2>;
using Uint1 = UnsignedInt<1>;

// ---- 4- and 8-bit floats ------------------------------------------------------------------------
struct NF4 {
  static constexpr int kBits = 4;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) { return nf4_levels[code]; }
};
// OCP E2M1: sign, 2 exponent bits (bias 1), 1 mantissa bit; no infinities or NaN.
struct Fp4E2M1 {
  static constexpr int kBits = 4;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) {
    const uint32_t exponent = (code >> 1) & 3u, mantissa = code & 1u;
    const float magnitude = exponent == 0 ? 0.5f * float(mantissa)
                                          : __uint_as_float((exponent + 126u) << 23 | mantissa << 22);
    return (code & 8u) ? -magnitude : magnitude;
  }
};
// OCP E4M3FN: bias 7, no infinity, S.1111.111 is NaN. Decoded by rebuilding float32 bits so that
// every arch (sm_80 has no fp8 conversion instruction) gets the same exact values.
struct Float8E4M3 {
  static constexpr int kBits = 8;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) {
    const uint32_t exponent = (code >> 3) & 15u, mantissa = code & 7u;
    float magnitude;
    if (exponent == 15u && mantissa == 7u) {
      magnitude = __uint_as_float(0x7fc00000u);
    } else if (exponent == 0u) {
      magnitude = float(mantissa) * 0.001953125f;  // subnormal: m * 2^-9
    } else {
      magnitude = __uint_as_float((exponent + 120u) << 23 | mantissa << 20);
    }
    return (code & 0x80u) ? -magnitude : magnitude;
  }
};
// OCP E5M2 is exactly the upper byte of an IEEE half.
struct Float8E5M2 {
  static constexpr int kBits = 8;
  static constexpr bool kInteger = false;
  __device__ static float decode(uint32_t code) { return half_bits_to_float(code << 8); }
};

}  // namespace fmt

// ---- reading and writing codes in memory ----------------------------------------------------------

// Code indices are never negative: they are taken unsigned, so that dividing by the codes a byte
// is a shift and the remainder a mask (a signed division rounds towards zero, a fixup each), and in
// 32 bits where the caller passes a uint32_t (cheaper multiply-adds than 64-bit ones).
template <class Index>
struct CodeIndex {
  using type = unsigned long long;
};
template <>
struct CodeIndex<uint32_t> {
  using type = uint32_t;
};

// The byte of F's packed array at base that holds code `index` (the one load_code reads).
template <class F, class Index>
__device__ __forceinline__ const uint8_t* code_byte(const void* base, Index signed_index) {
  const auto index = static_cast<typename CodeIndex<Index>::type>(signed_index);
  return static_cast<const uint8_t*>(base) + (F::kBits >= 8 ? index * (F::kBits / 8) : index / (8 / F::kBits));
}

// The code of element `index` of a tensor stored in format F (packed LSB-first below 8 bits).
template <class F, class Index>
__device__ __forceinline__ uint32_t load_code(const void* base, Index signed_index) {
  const auto index = static_cast<typename CodeIndex<Index>::type>(signed_index);
  if constexpr (F::kBits == 32) {
    return static_cast<const uint32_t*>(base)[index];
  } else if constexpr (F::kBits == 16) {
    return static_cast<const uint16_t*>(base)[index];
  } else if constexpr (F::kBits == 8) {
    return static_cast<const uint8_t*>(base)[index];
  } else {
    constexpr int kPerByte = 8 / F::kBits;
    const uint32_t byte = *code_byte<F>(base, index);
    return (byte >> (F::kBits * int(index % kPerByte))) & ((1u << F::kBits) - 1u);
  }
}

template <class F>
__device__ __forceinline__ void store_code(void* base, long long index, uint32_t code) {
  if constexpr (F::kBits == 32) {
    static_cast<uint32_t*>(base)[index] = code;
  } else if constexpr (F::kBits == 16) {
    static_cast<uint16_t*>(base)[index] = uint16_t(code);
  } else {
    static_assert(F::kBits == 8, "outputs are 8, 16 or 32 bits wide");
    static_cast<uint8_t*>(base)[index] = uint8_t(code);
  }
}

}  // namespace bitjit
