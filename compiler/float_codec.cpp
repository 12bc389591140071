#include "compiler/float_codec.hpp"

#include <cmath>
#include <limits>

namespace bitjit {

uint32_t FloatCodec::max_finite_bits() const {
  uint32_t exponent_max = (1u << exponent_bits) - 1;
  uint32_t mantissa_max = (1u << mantissa_bits) - 1;
  switch (specials) {
    case FloatSpecials::ieee: return ((exponent_max - 1) << mantissa_bits) | mantissa_max;
    case FloatSpecials::nan_only: return (exponent_max << mantissa_bits) | (mantissa_max - 1);
    case FloatSpecials::none: break;
  }
  return (exponent_max << mantissa_bits) | mantissa_max;
}

double FloatCodec::max_finite() const { return decode(max_finite_bits()); }

double FloatCodec::decode(uint32_t bits) const {
  const uint32_t mantissa_mask = (1u << mantissa_bits) - 1;
  const uint32_t exponent_max = (1u << exponent_bits) - 1;
  const bool negative = (bits >> (exponent_bits + mantissa_bits)) & 1;
  const uint32_t exponent = (bits >> mantissa_bits) & exponent_max;
  const uint32_t mantissa = bits & mantissa_mask;
  const double sign = negative ? -1.0 : 1.0;
  if (specials == FloatSpecials::ieee && exponent == exponent_max) {
    return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::quiet_NaN();
  }
  if (specials == FloatSpecials::nan_only && exponent == exponent_max && mantissa == mantissa_mask) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (exponent == 0) {  // zero and subnormals
    return sign * std::ldexp(double(mantissa), 1 - bias - mantissa_bits);
  }
  return sign * std::ldexp(double(mantissa | (1u << mantissa_bits)), int(exponent) - bias - mantissa_bits);
}

uint32_t FloatCodec::encode(double value, bool saturate) const {
  const uint32_t sign_bit = 1u << (exponent_bits + mantissa_bits);
  const uint32_t exponent_max = (1u << exponent_bits) - 1;
  const uint32_t sign = std::signbit(value) ? sign_bit : 0;
  if (std::isnan(value)) {
    switch (specials) {
      case FloatSpecials::ieee: return (exponent_max << mantissa_bits) | (1u << (mantissa_bits - 1));
      case FloatSpecials::nan_only: return (exponent_max << mantissa_bits) | ((1u << mantissa_bits) - 1);
      case FloatSpecials::none: return 0;
    }
  }
  const double magnitude = std::fabs(value);
  const uint32_t overflow_bits = (specials == FloatSpecials::ieee && !saturate)
                                     ? (exponent_max << mantissa_bits)  // infinity
                                     : max_finite_bits();
  if (std::isinf(magnitude)) return sign | overflow_bits;
  if (magnitude == 0.0) return sign;

  // The magnitude's quantum (spacing of representable values) at its binade, or the subnormal
  // quantum below the smallest normal. Bits then are (biased exponent << M) + (rounded mantissa -
  // 2^M), which also carries correctly into the next binade when rounding reaches 2^(M+1).
  int exponent = std::ilogb(magnitude);
  const int min_exponent = 1 - bias;
  if (exponent < min_exponent) exponent = min_exponent;
  const double quantum = std::ldexp(1.0, exponent - mantissa_bits);
  const double steps = std::nearbyint(magnitude / quantum);  // default rounding: ties to even
  uint64_t bits;
  if (exponent == min_exponent && steps < std::ldexp(1.0, mantissa_bits)) {
    bits = uint64_t(steps);  // subnormal (or rounds up to the smallest normal exactly)
  } else {
    bits = (uint64_t(exponent + bias) << mantissa_bits) + (uint64_t(steps) - (uint64_t(1) << mantissa_bits));
  }
  if (bits > max_finite_bits()) {
    // IEEE rounding overflows to infinity only from max + half an ulp up; the rounding above already
    // placed exactly those values past max_finite_bits.
    return sign | overflow_bits;
  }
  return sign | uint32_t(bits);
}

}  // namespace bitjit
