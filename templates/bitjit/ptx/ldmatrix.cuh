#pragma once
// ldmatrix: four 8 x 16-byte matrices from shared memory into the mma.sync fragment order.
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

// Lanes 8i .. 8i + 7 give the 16-byte rows of matrix i (`row`: this lane's); lane 4g + t receives
// bytes 4t .. 4t + 3 of row g of each matrix, in r[0] .. r[3]: for bytes, an m16n8k32 operand's
// four consecutive k of one row or column.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(row))
               : "memory");
}

}  // namespace bitjit
