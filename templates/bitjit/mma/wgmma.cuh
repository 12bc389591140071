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
#include "bitjit/ptx/shared_address.cuh"
#include "bitjit/decode/formats.cuh"

namespace bitjit {

// A shared-memory matrix descriptor without swizzling (PTX ISA, "matrix descriptor"): start address,
// leading-dimension byte offset (between core matrices adjacent in K) and stride-dimension byte
// offset (between core matrices adjacent in M or N), each in units of 16 bytes.
__device__ __forceinline__ uint64_t shared_descriptor(const void* start, uint32_t leading_bytes, uint32_t stride_bytes) {
  const uint32_t address = shared_address(start);
  uint64_t descriptor = 0;
  descriptor |= uint64_t((address & 0x3FFFF) >> 4);
  descriptor |= uint64_t((leading_bytes & 0x3FFFF) >> 4) << 16;
  descriptor |= uint64_t((stride_bytes & 0x3FFFF) >> 4) << 32;
  return descriptor;  // base offset 0, swizzle mode 0 (none)
}

// The descriptor of a K-major tile in the 128-byte swizzle (PTX ISA, "shared memory matrix layout"):
// each row's 128 bytes of K (one swizzle atom wide) hold its 16-byte chunks XOR-ed with row % 8, 8
// rows make a 1024-byte atom, atoms of the next 8 rows follow (stride 1024; the leading offset is
// unused). `start` is the atom column's base plus the step's byte offset along K (below 128): the
// hardware applies the XOR to the final address, so the atoms must be 1024-byte aligned.
__device__ __forceinline__ uint64_t swizzled_descriptor(const void* start) {
  constexpr uint64_t kSwizzle128 = 1;  // layout type, bits 62-63
  return shared_descriptor(start, 16, 1024) | kSwizzle128 << 62;
}

// `descriptor` moved `bytes` (a multiple of 16) further along shared memory. The start-address field
// is the address / 16 in the low 14 bits and shared addresses stay below 256 KB, so adding to the
// low word cannot carry out of the field: one integer add per wgmma, where rebuilding a descriptor
// from an address took seven uniform-datapath instructions (measured in the SASS).
__device__ __forceinline__ uint64_t advance_descriptor(uint64_t descriptor, uint32_t bytes) {
  const uint32_t address_word = uint32_t(descriptor) + bytes / 16;
  return (descriptor & ~uint64_t(0xFFFFFFFFu)) | address_word;
}

__device__ __forceinline__ void fence_shared_for_async() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

// Pins every accumulator to its register at this point (an empty asm that reads and writes each),
// so the compiler moves and copies none of them across it. A wgmma in flight writes them later:
// without this, a loop-carried copy of the accumulators taken after wait_group 1 (seen in the SASS
// of a 64 x 64 kernel with float32 output) dropped the sums of each stage's last step.
template <class Acc, int kN>
__device__ __forceinline__ void wgmma_fence_accumulators(Acc (&d)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) {
    if constexpr (is_same<Acc, int>::value) asm volatile("" : "+r"(d[i])::"memory");
    else asm volatile("" : "+f"(d[i])::"memory");
  }
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

// The accumulator operands of the wgmma wrappers below, written once: the placeholders of the first
// 8, 16, 32, 64, 96 or 128 asm operands, and their bindings to d[] with constraint C ("+f" float,
// "+r" int32).
#define BITJIT_WGMMA_D8 "%0, %1, %2, %3, %4, %5, %6, %7"
#define BITJIT_WGMMA_D16 BITJIT_WGMMA_D8 ", %8, %9, %10, %11, %12, %13, %14, %15"
#define BITJIT_WGMMA_D32                                                                                              \
  BITJIT_WGMMA_D16 ", "                                                                                               \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define BITJIT_WGMMA_D64                                                                                              \
  BITJIT_WGMMA_D32 ", "                                                                                               \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                                  \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define BITJIT_WGMMA_D96                                                                                              \
  BITJIT_WGMMA_D64 ", "                                                                                               \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "                                  \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define BITJIT_WGMMA_D128                                                                                             \
  BITJIT_WGMMA_D96 ", "                                                                                               \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "                      \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
#define BITJIT_WGMMA_BIND8(C) C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7])
#define BITJIT_WGMMA_BIND16(C) BITJIT_WGMMA_BIND8(C), C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15])
#define BITJIT_WGMMA_BIND32(C)                                                                                        \
  BITJIT_WGMMA_BIND16(C),                                                                                             \
  C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]),                                     \
  C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31])
#define BITJIT_WGMMA_BIND64(C)                                                                                        \
  BITJIT_WGMMA_BIND32(C),                                                                                             \
  C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39]),                                     \
  C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47]),                                     \
  C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]),                                     \
  C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63])
#define BITJIT_WGMMA_BIND96(C)                                                                                        \
  BITJIT_WGMMA_BIND64(C),                                                                                             \
  C(d[64]), C(d[65]), C(d[66]), C(d[67]), C(d[68]), C(d[69]), C(d[70]), C(d[71]),                                     \
  C(d[72]), C(d[73]), C(d[74]), C(d[75]), C(d[76]), C(d[77]), C(d[78]), C(d[79]),                                     \
  C(d[80]), C(d[81]), C(d[82]), C(d[83]), C(d[84]), C(d[85]), C(d[86]), C(d[87]),                                     \
  C(d[88]), C(d[89]), C(d[90]), C(d[91]), C(d[92]), C(d[93]), C(d[94]), C(d[95])
#define BITJIT_WGMMA_BIND128(C)                                                                                       \
  BITJIT_WGMMA_BIND96(C),                                                                                             \
  C(d[96]), C(d[97]), C(d[98]), C(d[99]), C(d[100]), C(d[101]), C(d[102]), C(d[103]),                                 \
  C(d[104]), C(d[105]), C(d[106]), C(d[107]), C(d[108]), C(d[109]), C(d[110]), C(d[111]),                             \
  C(d[112]), C(d[113]), C(d[114]), C(d[115]), C(d[116]), C(d[117]), C(d[118]), C(d[119]),                             \
  C(d[120]), C(d[121]), C(d[122]), C(d[123]), C(d[124]), C(d[125]), C(d[126]), C(d[127])

// D[64, N] (+)= A[64, 16] (registers, the fragment order above) * B[16, N] (descriptor, K-major)
// for the Hopper family's tiles (N = 16, 32, 64, 128 or 256 activation rows), A's type fp16 or bf16, float32 D
// in the fragment layout above (N / 2 floats per thread). A's registers must stay unchanged until
// a wgmma_wait shows the instruction done. The operands after D's N / 2: a[0..3], b, accumulate.
#define BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, TYPES, TAIL, C)                                          \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, " ACCUMULATE ", 0;\n"                                                  \
               "wgmma.mma_async.sync.aligned." SHAPE TYPES " {" D "}, " A_AND_B ", p" TAIL "; }"                      \
               : BIND(C)                                                                                              \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(int(accumulate)))
// The shapes of a register-A wgmma of K k (the operands after D's kRows / 2: a[0..3], b,
// accumulate), TYPES(SHAPE, D, BIND, A_AND_B, ACCUMULATE) choosing the input types.
#define BITJIT_WGMMA_RS_ROWS(TYPES, K)                                                                                \
  if constexpr (kRows == 16) {                                                                                        \
    TYPES("m64n16" K, BITJIT_WGMMA_D8, BITJIT_WGMMA_BIND8, "{%8, %9, %10, %11}, %12", "%13")                          \
  } else if constexpr (kRows == 32) {                                                                                 \
    TYPES("m64n32" K, BITJIT_WGMMA_D16, BITJIT_WGMMA_BIND16, "{%16, %17, %18, %19}, %20", "%21")                      \
  } else if constexpr (kRows == 64) {                                                                                 \
    TYPES("m64n64" K, BITJIT_WGMMA_D32, BITJIT_WGMMA_BIND32, "{%32, %33, %34, %35}, %36", "%37")                      \
  } else if constexpr (kRows == 128) {                                                                                \
    TYPES("m64n128" K, BITJIT_WGMMA_D64, BITJIT_WGMMA_BIND64, "{%64, %65, %66, %67}, %68", "%69")                     \
  } else {                                                                                                            \
    TYPES("m64n256" K, BITJIT_WGMMA_D128, BITJIT_WGMMA_BIND128, "{%128, %129, %130, %131}, %132", "%133")             \
  }

template <class A, int kRows>
__device__ __forceinline__ void wgmma_64xNx16_rs(float (&d)[kRows / 2], const uint32_t (&a)[4], uint64_t b,
                                                 bool accumulate) {
  static_assert(is_same<A, fmt::Float16>::value || is_same<A, fmt::BFloat16>::value, "fp16 or bf16 inputs");
  static_assert(kRows == 16 || kRows == 32 || kRows == 64 || kRows == 128 || kRows == 256,
                "16, 32, 64, 128 or 256 rows of activations per block");
  constexpr bool kHalf = is_same<A, fmt::Float16>::value;
#define BITJIT_WGMMA_RS_TYPES(SHAPE, D, BIND, A_AND_B, ACCUMULATE)                                                    \
  if constexpr (kHalf) BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".f32.f16.f16", ", 1, 1, 0", "+f");       \
  else BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".f32.bf16.bf16", ", 1, 1, 0", "+f");
  BITJIT_WGMMA_RS_ROWS(BITJIT_WGMMA_RS_TYPES, "k16")
#undef BITJIT_WGMMA_RS_TYPES
}

// D[64, N] (+)= A[64, 32] * B[32, N] on 8-bit inputs, both operands by descriptor and K-major (the
// only form wgmma takes for 8-bit types): int8 x int8 into int32, or fp8 e4m3 / e5m2 x the same
// into float32, N / 2 accumulators per thread in the fragment layout above. A core matrix is then
// 8 rows x 16 k (still 16 bytes a row). The operands after D's N / 2: a, b, accumulate.
#define BITJIT_WGMMA_SS8(SHAPE, D, BIND, A_AND_B, ACCUMULATE, TYPES, TAIL, C)                                         \
  asm volatile("{ .reg .pred p; setp.ne.b32 p, " ACCUMULATE ", 0;\n"                                                  \
               "wgmma.mma_async.sync.aligned." SHAPE TYPES " {" D "}, " A_AND_B ", p" TAIL "; }"                      \
               : BIND(C)                                                                                              \
               : "l"(a), "l"(b), "r"(int(accumulate)))

template <class A, class Acc, int kRows>
__device__ __forceinline__ void wgmma_64xNx32_ss(Acc (&d)[kRows / 2], uint64_t a, uint64_t b, bool accumulate) {
  static_assert(kRows == 64 || kRows == 128 || kRows == 192 || kRows == 256, "64, 128, 192 or 256 rows of activations per block");
  constexpr bool kInt8 = is_same<A, fmt::Int8>::value;
  constexpr bool kE4m3 = is_same<A, fmt::Float8E4M3>::value;
  static_assert(kInt8 || kE4m3 || is_same<A, fmt::Float8E5M2>::value, "int8 or fp8 inputs");
  static_assert(is_same<Acc, int>::value == kInt8, "int32 sums for int8, float32 for fp8");
// One shape for the three input types (integer wgmma takes no scale immediates; fp8 takes two).
#define BITJIT_WGMMA_SS8_TYPES(SHAPE, D, BIND, A_AND_B, ACCUMULATE)                                                   \
  if constexpr (kInt8) BITJIT_WGMMA_SS8(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".s32.s8.s8", "", "+r");                 \
  else if constexpr (kE4m3) BITJIT_WGMMA_SS8(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".f32.e4m3.e4m3", ", 1, 1", "+f");  \
  else BITJIT_WGMMA_SS8(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".f32.e5m2.e5m2", ", 1, 1", "+f");
  if constexpr (kRows == 64) {
    BITJIT_WGMMA_SS8_TYPES("m64n64k32", BITJIT_WGMMA_D32, BITJIT_WGMMA_BIND32, "%32, %33", "%34")
  } else if constexpr (kRows == 128) {
    BITJIT_WGMMA_SS8_TYPES("m64n128k32", BITJIT_WGMMA_D64, BITJIT_WGMMA_BIND64, "%64, %65", "%66")
  } else if constexpr (kRows == 192) {
    BITJIT_WGMMA_SS8_TYPES("m64n192k32", BITJIT_WGMMA_D96, BITJIT_WGMMA_BIND96, "%96, %97", "%98")
  } else {
    BITJIT_WGMMA_SS8_TYPES("m64n256k32", BITJIT_WGMMA_D128, BITJIT_WGMMA_BIND128, "%128, %129", "%130")
  }
#undef BITJIT_WGMMA_SS8_TYPES
}
#undef BITJIT_WGMMA_SS8

// D[64, N] (+)= A[64, 32] (registers) * B[32, N] (descriptor, K-major) on bytes: A the weights'
// bytes, signed (s8) or unsigned (u8) as kUnsignedA says, B the int8 activations; int32 D in the
// fragment layout above. A's fragment is mma.sync m16n8k32's: a[0] = row g, k 4t .. 4t + 3; a[1] =
// row g + 8, same k; a[2] = row g, k 16 + 4t .. 16 + 4t + 3; a[3] = row g + 8, same k (each register
// four k in byte order). A's registers must stay unchanged until a wgmma_wait shows it done.
template <bool kUnsignedA, int kRows>
__device__ __forceinline__ void wgmma_64xNx32_rs_int8(int (&d)[kRows / 2], const uint32_t (&a)[4], uint64_t b,
                                                      bool accumulate) {
  static_assert(kRows == 64 || kRows == 128 || kRows == 256, "64, 128 or 256 rows of activations per block");
#define BITJIT_WGMMA_RS8_TYPES(SHAPE, D, BIND, A_AND_B, ACCUMULATE)                                                   \
  if constexpr (kUnsignedA) BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".s32.u8.s8", "", "+r");             \
  else BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".s32.s8.s8", "", "+r");
  BITJIT_WGMMA_RS_ROWS(BITJIT_WGMMA_RS8_TYPES, "k32")
#undef BITJIT_WGMMA_RS8_TYPES
}

// The same with fp8: A the weights as e4m3 bytes (4-bit values, decode/wgmma_code_bytes.cuh), B the
// activations of type Activations (e4m3 or e5m2), float32 D.
template <class Activations, int kRows>
__device__ __forceinline__ void wgmma_64xNx32_rs_fp8(float (&d)[kRows / 2], const uint32_t (&a)[4], uint64_t b,
                                                     bool accumulate) {
  static_assert(kRows == 64 || kRows == 128 || kRows == 256, "64, 128 or 256 rows of activations per block");
  constexpr bool kE4m3 = is_same<Activations, fmt::Float8E4M3>::value;
  static_assert(kE4m3 || is_same<Activations, fmt::Float8E5M2>::value, "fp8 activations");
#define BITJIT_WGMMA_RSF8_TYPES(SHAPE, D, BIND, A_AND_B, ACCUMULATE)                                                  \
  if constexpr (kE4m3) BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".f32.e4m3.e4m3", ", 1, 1", "+f");        \
  else BITJIT_WGMMA_RS(SHAPE, D, BIND, A_AND_B, ACCUMULATE, ".f32.e4m3.e5m2", ", 1, 1", "+f");
  BITJIT_WGMMA_RS_ROWS(BITJIT_WGMMA_RSF8_TYPES, "k32")
#undef BITJIT_WGMMA_RSF8_TYPES
}
#undef BITJIT_WGMMA_RS_ROWS
#undef BITJIT_WGMMA_RS
#undef BITJIT_WGMMA_BIND128
#undef BITJIT_WGMMA_BIND64
#undef BITJIT_WGMMA_BIND32
#undef BITJIT_WGMMA_BIND16
#undef BITJIT_WGMMA_BIND8
#undef BITJIT_WGMMA_D128
#undef BITJIT_WGMMA_D64
#undef BITJIT_WGMMA_D32
#undef BITJIT_WGMMA_D16
#undef BITJIT_WGMMA_D8

}  // namespace bitjit
