#pragma once
// Weight decoding for the tensor-core families: two weights at a time, straight into the 32-bit
// register an mma.sync operand takes (two fp16 or two bf16 values), with bit tricks instead of
// per-element shifts and conversions. The weight layout (compiler/weight_layout.cpp) puts the two
// codes of a pair where these routines expect them:
//   - integer formats and fp4 e2m1, "split" order: a 32-bit word of P codes holds pair q (elements
//     2q, 2q+1) at fields q and P/2 + q, i.e. 16 bits apart, so one shift and one LOP3 put both codes
//     into the mantissas of two 16-bit floats of magnitude 1024 (fp16) or 128 (bf16) at once, and
//     two shifts and one LOP3 put both fp4 codes' bits under two 16-bit floats' exponents;
//   - other formats, natural order: pair q is fields 2q and 2q+1 (for 4-bit codes, one byte): nf4
//     through a per-lane table of the 256 bytes' pairs.
// Every decoded value is exact in the activation type except nf4's levels, which are rounded to it.
#include "bitjit/decode/dequant.cuh"
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

// ---- 16-bit float pairs -------------------------------------------------------------------------

template <class A>
struct PairMath;

template <>
struct PairMath<fmt::Float16> {
  static constexpr uint32_t kMagic = 0x64006400u;  // (1024, 1024): codes below 1024 land in the mantissa
  static constexpr float kMagicValue = 1024.0f;
  static constexpr int kMantissaBits = 10, kExponentBias = 15;
  static constexpr uint32_t kOne = 0x3C003C00u;
  __device__ static uint32_t fma(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
  }
  __device__ static uint32_t pack(float lo, float hi) {
    uint32_t d;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
  }
  __device__ static float to_float(uint32_t bits) { return half_bits_to_float(bits); }
};

template <>
struct PairMath<fmt::BFloat16> {
  static constexpr uint32_t kMagic = 0x43004300u;  // (128, 128): codes below 128 land in the mantissa
  static constexpr float kMagicValue = 128.0f;
  static constexpr int kMantissaBits = 7, kExponentBias = 127;
  static constexpr uint32_t kOne = 0x3F803F80u;
  __device__ static uint32_t fma(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
  }
  __device__ static uint32_t pack(float lo, float hi) {
    uint32_t d;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    return d;
  }
  __device__ static float to_float(uint32_t bits) { return bfloat16_bits_to_float(bits); }
};

// Two copies of a 16-bit pattern.
__host__ __device__ constexpr uint32_t splat16(uint32_t bits) { return (bits & 0xFFFFu) * 0x00010001u; }

namespace detail {
// The 16-bit pattern of numerator / 2^shift in A's type; the value must be exact in it (|numerator|
// without its trailing zero bits < 2^(mantissa + 1), normal), as every constant of the magic path is
// (the lifted zero's magic x (2^lift - 1) has more bits than the mantissa but trailing zeros: they go
// into the exponent). Its loops must not run in a kernel: take it through kExactBits, a constant.
template <class A>
__host__ __device__ constexpr uint32_t exact_bits(int numerator, int shift) {
  if (numerator == 0) return 0u;
  const uint32_t sign = numerator < 0 ? 0x8000u : 0u;
  uint32_t magnitude = uint32_t(numerator < 0 ? -numerator : numerator);
  while ((magnitude & 1u) == 0u) {
    magnitude >>= 1;
    --shift;
  }
  int top = 0;  // magnitude's highest set bit
  while ((magnitude >> (top + 1)) != 0u) ++top;
  constexpr int kMantissa = PairMath<A>::kMantissaBits;
  const uint32_t mantissa = (magnitude << (kMantissa - top)) & ((1u << kMantissa) - 1u);
  return sign | uint32_t(top - shift + PairMath<A>::kExponentBias) << kMantissa | mantissa;
}
}  // namespace detail

// numerator / 2^shift in A's type as a compile-time constant: a variable template, so that no caller
// can leave detail::exact_bits's loops in a kernel (called with a lift known only after unrolling,
// they stayed there once: the fp16 int4 one-row tensor_gemv kernel ran 25 % slower on the H200).
template <class A, int kNumerator, int kShift>
inline constexpr uint32_t kExactBits = detail::exact_bits<A>(kNumerator, kShift);

// 960 = 1024 x (1 - 2^-4), fp16 int4's lifted zero constant: wider than the mantissa, trailing zeros.
static_assert(kExactBits<fmt::Float16, 1024 * 15, 4> == 0x6380u, "exact_bits: a wide numerator");
static_assert(kExactBits<fmt::Float16, -1024, 0> == 0xE400u && kExactBits<fmt::Float16, 1, 4> == 0x2C00u,
              "exact_bits: fp16 magic and step");
static_assert(kExactBits<fmt::BFloat16, 128 * 3, 2> == 0x42C0u, "exact_bits: bf16 uint2's lifted zero constant");

__device__ __forceinline__ uint32_t lop3_and_or(uint32_t a, uint32_t mask, uint32_t magic) {
  uint32_t d;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(d) : "r"(a), "r"(mask), "r"(magic));  // (a & b) | c
  return d;
}

// ---- how a (W, A) pair is decoded ---------------------------------------------------------------

enum class PairDecode {
  magic,    // integer codes: LOP3 into the mantissa of a magic float, then one fused multiply-add
  table,    // nf4: one shared-memory lookup per byte (two codes) in a per-lane table
  fp4_bits, // fp4 e2m1: each code's 3 magnitude bits under A's exponent and mantissa, its sign on
            // A's sign, then one multiply by 2^(A's bias - 1) (exact; code 1, 0.5, is subnormal before it)
  convert,  // everything else: decode both codes to float, pack with one conversion
  same,     // W is A's own 16-bit type: the word is the pair
};

template <class W, class A>
constexpr PairDecode pair_decode() {
  if constexpr (W::kBits == 16) {
    return PairDecode::same;
  } else if constexpr (W::kInteger) {
    return W::kBits < PairMath<A>::kMantissaBits ? PairDecode::magic : PairDecode::convert;
  } else if constexpr (is_same<W, fmt::Fp4E2M1>::value) {
    return PairDecode::fp4_bits;
  } else if constexpr (W::kBits == 4) {
    return PairDecode::table;
  } else {
    return PairDecode::convert;
  }
}

// Integer formats, and fp4 e2m1, store pairs 16 bits apart ("split" order) for 16-bit float
// activations; see the top of this file (compiler/families/select.cpp's mma_run_layout decides the
// same). pair_codes reads them so; fp4's own path (placed_fp4_pair) never comes through it.
template <class W>
constexpr bool split_pairs() {
  return (W::kInteger || is_same<W, fmt::Fp4E2M1>::value) && W::kBits <= 8;
}

// The two codes of pair q of a word.
template <class W>
__device__ __forceinline__ void pair_codes(uint32_t word, int q, uint32_t& lo, uint32_t& hi) {
  constexpr uint32_t kMask = (1u << W::kBits) - 1u;
  if constexpr (split_pairs<W>()) {
    lo = (word >> (q * W::kBits)) & kMask;
    hi = (word >> (16 + q * W::kBits)) & kMask;
  } else {
    lo = (word >> (2 * q * W::kBits)) & kMask;
    hi = (word >> ((2 * q + 1) * W::kBits)) & kMask;
  }
}

// Lookup table for PairDecode::table in kCopies copies: entry b (a byte of two codes) for lane l at
// [b * kCopies + l % kCopies]. 32 copies (32 KiB): the lanes of a warp always hit 32 different
// banks, as the small-M kernels want, whose lookups are much of their work. The Hopper kernels'
// 256-row tiles take 8 (8 KiB; lanes l, l + 8, l + 16, l + 24 share a copy and may meet in a bank),
// which leaves them three stages of shared memory; their narrower tiles keep 32, with room for four
// stages. On the H200 (70B nf4 g128) 256-row tiles with 8 copies ran 17-21 % faster at 4096 rows than
// 128-row tiles with 32, but 128-row tiles with 8 copies 9-16 % slower at 256 rows than with 32.
// compiler/families/common.hpp's kPairTableCopies and hopper_pair_table_copies mirror the choice.
inline constexpr int kPairTableCopies = 32;
template <int kBlockM>
inline constexpr int kHopperPairTableCopies = kBlockM >= 256 ? 8 : kPairTableCopies;
template <int kCopies = kPairTableCopies>
inline constexpr int kPairTableWords = 256 * kCopies;

// Filled in 16-byte stores of four copies of one entry, a warp's lanes storing side by side (no bank
// conflict), every lane decoding one of the 16 codes once and taking a pair's two values from its
// neighbours by shuffles: at 32 copies and 128 threads 16 stores a thread, where a word a store took
// 64, each after two constant-bank loads (15 instructions an entry for sm_90a; the small-M kernels
// fill the table in every block before their first lookup). The table must be 16-byte aligned.
template <class W, class A, int kCopies = kPairTableCopies>
__device__ __forceinline__ void fill_pair_table(uint32_t* table) {
  constexpr int kQuads = kPairTableWords<kCopies> / 4;
  static_assert(W::kBits == 4 && kCopies % 4 == 0, "bytes of two 4-bit codes, copies in whole 16-byte stores");
  static_assert(kQuads % 32 == 0, "every lane of a warp makes as many stores (the shuffles take the whole warp)");
  const float level = W::decode(threadIdx.x % 16u);  // lanes l and l + 16 both hold code l's value
  for (int q = threadIdx.x; q < kQuads; q += blockDim.x) {
    const uint32_t byte = uint32_t(q / (kCopies / 4));
    const float lo = __shfl_sync(0xffffffffu, level, int(byte & 15u));
    const float hi = __shfl_sync(0xffffffffu, level, int(byte >> 4));
    const uint32_t pair = PairMath<A>::pack(lo, hi);
    reinterpret_cast<uint4*>(table)[q] = make_uint4(pair, pair, pair, pair);
  }
}

// The constants of the magic path: value = fma(magic_pair, step, bias) for W's affine form
// value = kStep * (code ^ kFlip) + kOffset. A code may also sit `lift` bits above the bottom of the
// mantissa (magic + code * 2^lift, still below twice the magic while (2^bits - 1) << lift stays
// under 2^mantissa): then step and bias are divided by 2^lift and the value is as exact, and the
// pairs of a word need one shift per kPairsPerShift instead of one each (fp16 int4: word >> 8 serves
// pairs 2 and 3, the mask 0x00F000F0 picks pair 1 unshifted).
template <class W, class A>
struct MagicConstants {
  static constexpr int kLiftLimit = [] {
    int lift = 0;
    while ((((1 << W::kBits) - 1) << (lift + W::kBits)) < (1 << PairMath<A>::kMantissaBits)) lift += W::kBits;
    return lift;
  }();
  static constexpr int kPairsPerShift = kLiftLimit / W::kBits + 1;
  static constexpr int kMagicInt = 1 << PairMath<A>::kMantissaBits;  // the magic float's value

  // The constants per lift, each a compile-time constant (kExactBits), for the caller's lift to pick
  // among (at): the lift is a constant only once the caller's loops are unrolled.
  template <int kLift>
  struct Step {
    static constexpr uint32_t value = splat16(kExactBits<A, W::kStep, kLift>);
  };
  template <int kLift>
  struct Bias {
    static constexpr uint32_t value = splat16(kExactBits<A, (W::kOffset << kLift) - kMagicInt * W::kStep, kLift>);
  };
  // What a lifted pair adds to the quantized zero -(magic + z): magic x (1 - 2^-lift).
  template <int kLift>
  struct ZeroLift {
    static constexpr uint32_t value = splat16(kExactBits<A, kMagicInt * ((1 << kLift) - 1), kLift>);
  };

  // Constant<lift>::value, chosen among the lifts a pair can have: folds to one of them.
  template <template <int> class Constant, int kLift = 0>
  __device__ static constexpr uint32_t at(int lift) {
    if constexpr (kLift + W::kBits > kLiftLimit) {
      return Constant<kLift>::value;
    } else {
      return lift == kLift ? Constant<kLift>::value : at<Constant, kLift + W::kBits>(lift);
    }
  }
  __device__ static constexpr uint32_t step(int lift) { return at<Step>(lift); }
  __device__ static constexpr uint32_t bias(int lift) { return at<Bias>(lift); }
  __device__ static constexpr uint32_t zero_lift(int lift) { return at<ZeroLift>(lift); }
};

// Quantized zeros: the pair (q - z, q - z) is fma(magic_pair, 1, -(magic + z)). The magic path takes
// codes narrower than A's mantissa, so -(magic + z) is the magic float's bits with z in the mantissa
// and the sign set: no conversion.
template <class A>
__device__ __forceinline__ uint32_t negated_magic_zero(uint32_t zero_code) {
  return ((PairMath<A>::kMagic & 0xFFFFu) | 0x8000u | zero_code) * 0x00010001u;
}

// fp4 e2m1's pair q of a split-order word "placed": word >> 4q puts the low code at bits 0-3 and the
// high one at bits 16-19 (the other codes are masked off); the magnitude bits (exponent e1 e0,
// mantissa m) go right under A's exponent field's low bits, each sign to bit 15 of its half: two
// shifts of the word and one LOP3. As A's bits that is value * 2^-(bias - 1), exact (code 1, 0.5,
// is a subnormal of A), so value = placed * 2^kFp4PlacedExponent.
template <class A>
inline constexpr int kFp4PlacedExponent = PairMath<A>::kExponentBias - 1;

template <class A>
__device__ __forceinline__ uint32_t placed_fp4_pair(uint32_t word, int q) {
  constexpr int kPlace = PairMath<A>::kMantissaBits - 1;
  const uint32_t codes = word >> (4 * q);
  return ((codes << kPlace) & (0x00070007u << kPlace)) | ((codes << 12) & 0x80008000u);
}

// Pair q of `word` as two values of A's type. `zero` is negated_magic_zero's result with quantized
// zeros (magic path) or the zero code (convert path), else unused. q is a constant once the caller's
// loops are unrolled, so every shift folds; kConstantPair = false where it is not (it varies by
// lane): one shift per pair then, without the lift that shares shifts among pairs. kFp4Placed: fp4
// pairs come back as placed_fp4_pair leaves them, for a caller that multiplies its sums by
// 2^kFp4PlacedExponent instead (tensor_gemv).
template <class W, class A, bool kQuantizedZeros, bool kConstantPair = true, int kTableCopies = kPairTableCopies,
          bool kFp4Placed = false>
__device__ __forceinline__ uint32_t decode_pair(uint32_t word, int q, uint32_t zero, const uint32_t* table, int lane) {
  constexpr PairDecode kHow = pair_decode<W, A>();
  if constexpr (kHow == PairDecode::same) {
    return word;
  } else if constexpr (kHow == PairDecode::magic) {
    if constexpr (W::kStep == 2) {
      // int1 (v = 2q - 1 = +-1): the code bit becomes the sign of -1, so q = 1 gives +1.
      constexpr uint32_t kMinusOne = PairMath<A>::kOne | 0x80008000u;
      uint32_t d;
      asm("lop3.b32 %0, %1, %2, %3, 0x6A;" : "=r"(d) : "r"(word << (15 - q)), "r"(0x80008000u), "r"(kMinusOne));  // (a & b) ^ c
      return d;
    } else {
      using M = MagicConstants<W, A>;
      constexpr uint32_t kFields = ((1u << W::kBits) - 1u) * 0x00010001u;
      constexpr int kPairsPerShift = kConstantPair ? M::kPairsPerShift : 1;
      const int lift = q % kPairsPerShift * W::kBits;
      const uint32_t flipped = W::kFlip ? word ^ (W::kFlip * 0x01010101u) : word;
      const uint32_t pair = lop3_and_or(flipped >> (q * W::kBits - lift), kFields << lift, PairMath<A>::kMagic);
      if constexpr (kQuantizedZeros) {
        static_assert(W::kStep == 1, "quantized zeros subtract from the raw code");
        // A lifted pair is magic + code x 2^lift: times 2^-lift, minus (magic x 2^-lift + z), which is
        // the zero plus magic x (1 - 2^-lift), exact (small integers). Every pair of one lift in a
        // group adds the same constant to the same zero, so the add is computed once.
        const uint32_t lifted_zero =
            lift == 0 ? zero : PairMath<A>::fma(zero, PairMath<A>::kOne, M::zero_lift(lift));
        return PairMath<A>::fma(pair, M::step(lift), lifted_zero);
      } else {
        return PairMath<A>::fma(pair, M::step(lift), M::bias(lift));
      }
    }
  } else if constexpr (kHow == PairDecode::table) {
    // One byte permute and one shift-add a lookup: left to itself the compiler rebuilt the index
    // as ((byte x kCopies) | lane) x 4 + table, four instructions before the load (sm_90a SASS).
    const uint32_t byte = __byte_perm(word, 0u, 0x4440u + uint32_t(q));
    const uint32_t lane_entry = shared_address(table + lane % kTableCopies);
    uint32_t pair;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(pair) : "r"(lane_entry + byte * uint32_t(4 * kTableCopies)));
    return pair;
  } else if constexpr (kHow == PairDecode::fp4_bits) {
    const uint32_t placed = placed_fp4_pair<A>(word, q);
    if constexpr (kFp4Placed) return placed;
    constexpr uint32_t kScaleUp = splat16(kExactBits<A, 1, -kFp4PlacedExponent<A>>);
    return PairMath<A>::fma(placed, kScaleUp, 0x80008000u);  // x * 2^(bias - 1) + (-0): exact
  } else {
    uint32_t lo, hi;
    pair_codes<W>(word, q, lo, hi);
    if constexpr (kQuantizedZeros) {
      return PairMath<A>::pack(float(lo) - float(zero), float(hi) - float(zero));
    } else {
      return PairMath<A>::pack(W::decode(lo), W::decode(hi));
    }
  }
}

// The weight operand of one m16n8k16 step for a 16-channel tile: codes position .. position + 3 of
// this lane's loads of channels g (words[0]) and g + 8 (words[1]), decoded two at a time into
// a = {g slots (0, 1), g + 8 slots (0, 1), g slots (2, 3), g + 8 slots (2, 3)}; finish(pair, half)
// may scale each pair (tensor_gemm) or pass it through (tensor_gemv); kFp4Placed as for decode_pair.
template <class W, class A, bool kQuantizedZeros, int kTableCopies = kPairTableCopies, bool kFp4Placed = false,
          int kWords, class Finish>
__device__ __forceinline__ void decode_operand(const uint32_t (&words)[2][kWords], int position, const uint32_t (&zero)[2],
                                               const uint32_t* table, int lane, uint32_t (&a)[4], Finish finish) {
  constexpr int kCodesPerWord = 32 / W::kBits;
#pragma unroll
  for (int slots = 0; slots < 2; ++slots) {
    const int p = position + 2 * slots;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const uint32_t pair = decode_pair<W, A, kQuantizedZeros, true, kTableCopies, kFp4Placed>(
          words[half][p / kCodesPerWord], (p % kCodesPerWord) / 2, zero[half], table, lane);
      a[2 * slots + half] = finish(pair, half);
    }
  }
}

}  // namespace bitjit
