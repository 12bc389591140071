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
#include "bitjit/types.cuh"

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

}  // namespace bitjit
