#pragma once
// The TMA tensor maps of the kernels that load by TMA (KernelPlan::tensor_maps): encoded on the host
// by the driver for each launch, since they hold the tensors' addresses and A's row count.
#include <cstdint>

#include "compiler/lower.hpp"
#include "templates/bitjit/matmul_params.cuh"

namespace bitjit {

// The maps of A [M, K] (fp16 / bf16, boxes of 64 k x block_m rows in the 128-byte swizzle) and of
// the packed W as bytes [N, K * bits / 8] (boxes of one k-block x block_n channels) for `plan`; for
// W8A8, of A [M, K] and W [N, K] bytes, boxes of 128 k x block_m / block_n rows, both swizzled.
// Throws CudaError naming the call, the tensor and the config when the driver refuses one.
TensorMaps encode_tensor_maps(const KernelPlan& plan, const void* A, const void* W, int64_t M);

}  // namespace bitjit
