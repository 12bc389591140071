#pragma once
// The warp-level tensor-core steps (mma.sync): m16n8k16 on fp16 / bf16 (sm_80 and newer) and
// m16n8k32 on bytes (int8; fp8 from sm_89).
#include "bitjit/decode/formats.cuh"

namespace bitjit {

// c += a * b for one m16n8k16 tile: a 16x16 row-major, b 16x8 column-major, c 16x8 in float32.
// tensor_gemv passes 16 output channels of weights as a and 8 rows of activations as b.
template <class A>
__device__ __forceinline__ void mma_16x8x16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (is_same<A, fmt::Float16>::value) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// c += a * b for one m16n8k32 tile of int8 activations (b, 32x8) and weight bytes (a, 16x32) read as
// u8 (kUnsignedW) or s8, int32 sums: tensor_gemm's W4A8 entry (mma/w4a8_warp.cuh), and as u8
// tensor_gemv_8bit's (ByteMma below).
template <bool kUnsignedW>
__device__ __forceinline__ void mma_16x8x32_int8(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (kUnsignedW) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// The m16n8k32 mma for one pair of operand types: a is 16x32 weight bytes of type WBytes, b is 32x8
// activation bytes of type A.
template <class WBytes, class A>
struct ByteMma;

// int8 activations: weight codes as unsigned bytes, int32 sums.
template <>
struct ByteMma<fmt::Int8, fmt::Int8> {
  using Sum = int;
  __device__ static void multiply(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    mma_16x8x32_int8</*kUnsignedW=*/true>(c, a, b0, b1);
  }
};

// fp8 (sm_89 and newer): float32 sums. PTX names the weights' type first.
#define BITJIT_FP8_MMA(WBYTES, A, W_NAME, A_NAME)                                                            \
  template <>                                                                                                 \
  struct ByteMma<fmt::WBYTES, fmt::A> {                                                                       \
    using Sum = float;                                                                                        \
    __device__ static void multiply(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {       \
      asm volatile("mma.sync.aligned.m16n8k32.row.col.f32." W_NAME "." A_NAME                                \
                   ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"                               \
                   : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                          \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));                         \
    }                                                                                                         \
  };
BITJIT_FP8_MMA(Float8E4M3, Float8E4M3, "e4m3", "e4m3")
BITJIT_FP8_MMA(Float8E5M2, Float8E5M2, "e5m2", "e5m2")
BITJIT_FP8_MMA(Float8E4M3, Float8E5M2, "e4m3", "e5m2")  // 4-bit weights as e4m3 with e5m2 activations
#undef BITJIT_FP8_MMA

}  // namespace bitjit
