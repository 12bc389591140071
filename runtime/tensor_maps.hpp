#pragma once
// The TMA tensor maps of the kernels that load by TMA (KernelPlan::tensor_maps): encoded on the host
// by the driver for each launch, since they hold the tensors' addresses and A's row count.
#include <cstdint>

#include "compiler/lower.hpp"
#include "templates/bitjit/core/matmul_params.cuh"

namespace bitjit {

// The maps of A [M, K] and W for `plan`, as its kernel's family describes them (KernelTraits::
// tma_tensors in compiler/families/). Throws CudaError naming the call, the tensor and the config
// when the driver refuses one, Error for a plan whose kernel loads nothing by TMA.
TensorMaps encode_tensor_maps(const KernelPlan& plan, const void* A, const void* W, int64_t M);

}  // namespace bitjit
