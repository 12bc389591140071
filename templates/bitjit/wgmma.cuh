#pragma once
// Hopper warpgroup MMA (wgmma, sm_90a only): the primitives the Hopper family builds on, kept apart
// so that tests/gpu/test_wgmma.cpp can check each layout fact on the device with one small kernel.
//
// A warpgroup (4 consecutive warps, 128 threads) computes D[64, N] (+)= A[64, 16] * B[16, N] per
// instruction, asynchronously: fence, issue, commit, then wait before reading D.
//   - A comes from registers (warp w of the group holds rows 16w .. 16w + 15 in the m16n8k16 A
//     fragment order: a0 = row g, k 2t, 2t + 1; a1 = row g + 8; a2 = row g, k 2t + 8, + 9; a3 = row
//     g + 8, k 2t + 8, + 9) or from shared memory through a descriptor.
//   - B comes from shared memory through a descriptor, here "K-major": the N x 16 tile stored as
//     core matrices of 8 rows x 8 k (16 contiguous bytes per row, 128 bytes per core matrix).
//   - D: warp w holds rows 16w + g and 16w + g + 8; for each 8 columns j, d[4j + 0, 1] = row g,
//     columns 8j + 2t, + 1; d[4j + 2, 3] = row g + 8, same columns.
// Shared memory written with ordinary stores must be made visible to the wgmma's async proxy with
// fence_shared_for_async() before the fence / issue.
#include "bitjit/formats.cuh"

namespace bitjit {

// A shared-memory matrix descriptor without swizzling (PTX ISA, "matrix descriptor"): start address,
// leading-dimension byte offset (between core matrices adjacent in K) and stride-dimension byte
// offset (between core matrices adjacent in M or N), each in units of 16 bytes.
__device__ __forceinline__ uint64_t shared_descriptor(const void* start, uint32_t leading_bytes, uint32_t stride_bytes) {
  uint32_t address;
  asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(start));
  uint64_t descriptor = 0;
  descriptor |= uint64_t((address & 0x3FFFF) >> 4);
  descriptor |= uint64_t((leading_bytes & 0x3FFFF) >> 4) << 16;
  descriptor |= uint64_t((stride_bytes & 0x3FFFF) >> 4) << 32;
  return descriptor;  // base offset 0, swizzle mode 0 (none)
}

__device__ __forceinline__ void fence_shared_for_async() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

// D[64, 8] (+)= A[64, 16] (registers) * B[16, 8] (descriptor), fp16 inputs, float32 accumulators.
__device__ __forceinline__ void wgmma_64x8x16_f16_rs(float (&d)[4], const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  asm volatile(
      "{ .reg .pred p; setp.ne.b32 p, %9, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1, 0; }"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)));
}

// D[64, 8] (+)= A[64, 16] (descriptor) * B[16, 8] (descriptor), both K-major.
__device__ __forceinline__ void wgmma_64x8x16_f16_ss(float (&d)[4], uint64_t a, uint64_t b, bool accumulate) {
  asm volatile(
      "{ .reg .pred p; setp.ne.b32 p, %6, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0, %1, %2, %3}, %4, %5, p, 1, 1, 0, 0; }"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "l"(a), "l"(b), "r"(int(accumulate)));
}

// D[64, N] (+)= A[64, 16] (registers, the fragment order above) * B[16, N] (descriptor, K-major)
// for the Hopper family's tiles (N = 64, 128 or 256 activation rows), A's type fp16 or bf16, float32 D
// in the fragment layout above (N / 2 floats per thread). A's registers must stay unchanged until
// a wgmma_wait shows the instruction done.
#define BITJIT_WGMMA_64X64_RS(TYPE)                                                                                      \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %37, 0;\n"                                                                \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE " {"                                          \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"                          \
               "}, {%32, %33, %34, %35}, %36, p, 1, 1, 0; }"                                                             \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
                 "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
                 "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])  \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)))

template <class A>
__device__ __forceinline__ void wgmma_64x64x16_rs(float (&d)[32], const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  static_assert(is_same<A, fmt::Float16>::value || is_same<A, fmt::BFloat16>::value, "fp16 or bf16 inputs");
  if constexpr (is_same<A, fmt::Float16>::value) BITJIT_WGMMA_64X64_RS("f16");
  else BITJIT_WGMMA_64X64_RS("bf16");
}
#undef BITJIT_WGMMA_64X64_RS

#define BITJIT_WGMMA_64X128_RS(TYPE)                                                                                     \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %69, 0;\n"                                                                \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " {"                                         \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                        \
               "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                        \
               "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"                          \
               "}, {%64, %65, %66, %67}, %68, p, 1, 1, 0; }"                                                             \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
                 "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
                 "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
                 "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
                 "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
                 "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
                 "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])  \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)))

template <class A>
__device__ __forceinline__ void wgmma_64x128x16_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  static_assert(is_same<A, fmt::Float16>::value || is_same<A, fmt::BFloat16>::value, "fp16 or bf16 inputs");
  if constexpr (is_same<A, fmt::Float16>::value) BITJIT_WGMMA_64X128_RS("f16");
  else BITJIT_WGMMA_64X128_RS("bf16");
}
#undef BITJIT_WGMMA_64X128_RS

#define BITJIT_WGMMA_64X256_RS(TYPE)                                                                                             \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %133, 0;\n"                                                                       \
               "wgmma.mma_async.sync.aligned.m64n256k16.f32." TYPE "." TYPE " {"                                                 \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                          \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                                \
               "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                                \
               "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "                                \
               "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "                                \
               "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "                                \
               "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "                    \
               "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"                  \
               "}, {%128, %129, %130, %131}, %132, p, 1, 1, 0; }"                                                                \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),                 \
                 "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),           \
                 "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),         \
                 "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),         \
                 "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),         \
                 "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),         \
                 "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),         \
                 "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),         \
                 "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),         \
                 "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),         \
                 "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),         \
                 "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),         \
                 "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),     \
                 "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), \
                 "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), \
                 "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])  \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)))

template <class A>
__device__ __forceinline__ void wgmma_64x256x16_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b, bool accumulate) {
  static_assert(is_same<A, fmt::Float16>::value || is_same<A, fmt::BFloat16>::value, "fp16 or bf16 inputs");
  if constexpr (is_same<A, fmt::Float16>::value) BITJIT_WGMMA_64X256_RS("f16");
  else BITJIT_WGMMA_64X256_RS("bf16");
}
#undef BITJIT_WGMMA_64X256_RS

// D[64, N] (+)= A[64, 32] * B[32, N] on 8-bit inputs, both operands by descriptor and K-major (the
// only form wgmma takes for 8-bit types): int8 x int8 into int32, or fp8 e4m3 / e5m2 x the same
// into float32, N / 2 accumulators per thread in the fragment layout above. A core matrix is then
// 8 rows x 16 k (still 16 bytes a row).
#define BITJIT_WGMMA_64X64K32_SS(TYPES, TAIL, ACC)                                                               \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %34, 0;\n"                                                        \
               "wgmma.mma_async.sync.aligned.m64n64k32" TYPES " {"                                               \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                          \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"                  \
               "}, %32, %33, p" TAIL "; }"                                                                       \
               : ACC(d[0]), ACC(d[1]), ACC(d[2]), ACC(d[3]), ACC(d[4]), ACC(d[5]), ACC(d[6]), ACC(d[7]),         \
                 ACC(d[8]), ACC(d[9]), ACC(d[10]), ACC(d[11]), ACC(d[12]), ACC(d[13]), ACC(d[14]), ACC(d[15]),   \
                 ACC(d[16]), ACC(d[17]), ACC(d[18]), ACC(d[19]), ACC(d[20]), ACC(d[21]), ACC(d[22]), ACC(d[23]), \
                 ACC(d[24]), ACC(d[25]), ACC(d[26]), ACC(d[27]), ACC(d[28]), ACC(d[29]), ACC(d[30]), ACC(d[31])  \
               : "l"(a), "l"(b), "r"(int(accumulate)))

#define BITJIT_WGMMA_64X128K32_SS(TYPES, TAIL, ACC)                                                              \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %66, 0;\n"                                                        \
               "wgmma.mma_async.sync.aligned.m64n128k32" TYPES " {"                                              \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                          \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                \
               "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                \
               "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"                  \
               "}, %64, %65, p" TAIL "; }"                                                                       \
               : ACC(d[0]), ACC(d[1]), ACC(d[2]), ACC(d[3]), ACC(d[4]), ACC(d[5]), ACC(d[6]), ACC(d[7]),         \
                 ACC(d[8]), ACC(d[9]), ACC(d[10]), ACC(d[11]), ACC(d[12]), ACC(d[13]), ACC(d[14]), ACC(d[15]),   \
                 ACC(d[16]), ACC(d[17]), ACC(d[18]), ACC(d[19]), ACC(d[20]), ACC(d[21]), ACC(d[22]), ACC(d[23]), \
                 ACC(d[24]), ACC(d[25]), ACC(d[26]), ACC(d[27]), ACC(d[28]), ACC(d[29]), ACC(d[30]), ACC(d[31]), \
                 ACC(d[32]), ACC(d[33]), ACC(d[34]), ACC(d[35]), ACC(d[36]), ACC(d[37]), ACC(d[38]), ACC(d[39]), \
                 ACC(d[40]), ACC(d[41]), ACC(d[42]), ACC(d[43]), ACC(d[44]), ACC(d[45]), ACC(d[46]), ACC(d[47]), \
                 ACC(d[48]), ACC(d[49]), ACC(d[50]), ACC(d[51]), ACC(d[52]), ACC(d[53]), ACC(d[54]), ACC(d[55]), \
                 ACC(d[56]), ACC(d[57]), ACC(d[58]), ACC(d[59]), ACC(d[60]), ACC(d[61]), ACC(d[62]), ACC(d[63])  \
               : "l"(a), "l"(b), "r"(int(accumulate)))

#define BITJIT_WGMMA_64X256K32_SS(TYPES, TAIL, ACC)                                                                      \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %130, 0;\n"                                                               \
               "wgmma.mma_async.sync.aligned.m64n256k32" TYPES " {"                                                      \
               "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
               "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                        \
               "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                        \
               "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "                        \
               "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "                        \
               "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "                        \
               "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "            \
               "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"          \
               "}, %128, %129, p" TAIL "; }"                                                                             \
               : ACC(d[0]), ACC(d[1]), ACC(d[2]), ACC(d[3]), ACC(d[4]), ACC(d[5]), ACC(d[6]), ACC(d[7]),                 \
                 ACC(d[8]), ACC(d[9]), ACC(d[10]), ACC(d[11]), ACC(d[12]), ACC(d[13]), ACC(d[14]), ACC(d[15]),           \
                 ACC(d[16]), ACC(d[17]), ACC(d[18]), ACC(d[19]), ACC(d[20]), ACC(d[21]), ACC(d[22]), ACC(d[23]),         \
                 ACC(d[24]), ACC(d[25]), ACC(d[26]), ACC(d[27]), ACC(d[28]), ACC(d[29]), ACC(d[30]), ACC(d[31]),         \
                 ACC(d[32]), ACC(d[33]), ACC(d[34]), ACC(d[35]), ACC(d[36]), ACC(d[37]), ACC(d[38]), ACC(d[39]),         \
                 ACC(d[40]), ACC(d[41]), ACC(d[42]), ACC(d[43]), ACC(d[44]), ACC(d[45]), ACC(d[46]), ACC(d[47]),         \
                 ACC(d[48]), ACC(d[49]), ACC(d[50]), ACC(d[51]), ACC(d[52]), ACC(d[53]), ACC(d[54]), ACC(d[55]),         \
                 ACC(d[56]), ACC(d[57]), ACC(d[58]), ACC(d[59]), ACC(d[60]), ACC(d[61]), ACC(d[62]), ACC(d[63]),         \
                 ACC(d[64]), ACC(d[65]), ACC(d[66]), ACC(d[67]), ACC(d[68]), ACC(d[69]), ACC(d[70]), ACC(d[71]),         \
                 ACC(d[72]), ACC(d[73]), ACC(d[74]), ACC(d[75]), ACC(d[76]), ACC(d[77]), ACC(d[78]), ACC(d[79]),         \
                 ACC(d[80]), ACC(d[81]), ACC(d[82]), ACC(d[83]), ACC(d[84]), ACC(d[85]), ACC(d[86]), ACC(d[87]),         \
                 ACC(d[88]), ACC(d[89]), ACC(d[90]), ACC(d[91]), ACC(d[92]), ACC(d[93]), ACC(d[94]), ACC(d[95]),         \
                 ACC(d[96]), ACC(d[97]), ACC(d[98]), ACC(d[99]), ACC(d[100]), ACC(d[101]), ACC(d[102]), ACC(d[103]),     \
                 ACC(d[104]), ACC(d[105]), ACC(d[106]), ACC(d[107]), ACC(d[108]), ACC(d[109]), ACC(d[110]), ACC(d[111]), \
                 ACC(d[112]), ACC(d[113]), ACC(d[114]), ACC(d[115]), ACC(d[116]), ACC(d[117]), ACC(d[118]), ACC(d[119]), \
                 ACC(d[120]), ACC(d[121]), ACC(d[122]), ACC(d[123]), ACC(d[124]), ACC(d[125]), ACC(d[126]), ACC(d[127])  \
               : "l"(a), "l"(b), "r"(int(accumulate)))

template <class A, class Acc, int kRows>
__device__ __forceinline__ void wgmma_64xNx32_ss(Acc (&d)[kRows / 2], uint64_t a, uint64_t b, bool accumulate) {
  static_assert(kRows == 64 || kRows == 128 || kRows == 256, "64, 128 or 256 rows of activations per block");
  constexpr bool kInt8 = is_same<A, fmt::Int8>::value;
  constexpr bool kE4m3 = is_same<A, fmt::Float8E4M3>::value;
  static_assert(kInt8 || kE4m3 || is_same<A, fmt::Float8E5M2>::value, "int8 or fp8 inputs");
  static_assert(is_same<Acc, int>::value == kInt8, "int32 sums for int8, float32 for fp8");
#define BITJIT_WGMMA_8BIT(N)                                                                        \
  if constexpr (kInt8) BITJIT_WGMMA_64X##N##K32_SS(".s32.s8.s8", "", "+r");                          \
  else if constexpr (kE4m3) BITJIT_WGMMA_64X##N##K32_SS(".f32.e4m3.e4m3", ", 1, 1", "+f");           \
  else BITJIT_WGMMA_64X##N##K32_SS(".f32.e5m2.e5m2", ", 1, 1", "+f");
  if constexpr (kRows == 64) {
    BITJIT_WGMMA_8BIT(64)
  } else if constexpr (kRows == 128) {
    BITJIT_WGMMA_8BIT(128)
  } else {
    BITJIT_WGMMA_8BIT(256)
  }
#undef BITJIT_WGMMA_8BIT
}
#undef BITJIT_WGMMA_64X64K32_SS
#undef BITJIT_WGMMA_64X128K32_SS
#undef BITJIT_WGMMA_64X256K32_SS

}  // namespace bitjit
