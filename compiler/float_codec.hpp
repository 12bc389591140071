#pragma once
// Exact host-side encode/decode of the small floating-point formats (fp32, fp16, bf16, fp8 e4m3 /
// e5m2, fp4 e2m1), driven by their bit layout. The CPU reference and the quantizers use it; it never
// touches device code, so it is an independent oracle for the kernels' decoders.
#include <cstdint>

namespace bitjit {

// How a format spends its top exponent code.
enum class FloatSpecials {
  ieee,        // all-ones exponent: infinity (mantissa 0) or NaN (fp32, fp16, bf16, e5m2)
  nan_only,    // only all-ones exponent and mantissa is NaN, no infinity (OCP e4m3fn)
  none,        // every code is a finite number (OCP e2m1)
};

struct FloatCodec {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  FloatSpecials specials;

  int total_bits() const { return 1 + exponent_bits + mantissa_bits; }
  double decode(uint32_t bits) const;
  // Round to nearest, ties to even. Out of range: infinity for IEEE formats; with saturate=true,
  // or for formats without infinity, the largest finite value of the right sign (NaN stays NaN
  // where the format has one; e2m1 turns NaN into 0).
  uint32_t encode(double value, bool saturate = false) const;
  double max_finite() const;
  uint32_t max_finite_bits() const;  // magnitude bits of the largest finite value
};

inline constexpr FloatCodec kFloat32Codec{8, 23, 127, FloatSpecials::ieee};
inline constexpr FloatCodec kFloat16Codec{5, 10, 15, FloatSpecials::ieee};
inline constexpr FloatCodec kBFloat16Codec{8, 7, 127, FloatSpecials::ieee};
inline constexpr FloatCodec kFloat8E4M3Codec{4, 3, 7, FloatSpecials::nan_only};
inline constexpr FloatCodec kFloat8E5M2Codec{5, 2, 15, FloatSpecials::ieee};
inline constexpr FloatCodec kFloat4E2M1Codec{2, 1, 1, FloatSpecials::none};

}  // namespace bitjit
