#pragma once
// The TMA tensor maps of the kernels that load by TMA (KernelPlan::tensor_maps): encoded on the host
// by the driver for each launch, since they hold the tensors' addresses and A's row count.
#include <cstdint>
#include <string>

#include "compiler/families/family.hpp"
#include "compiler/lower.hpp"
#include "templates/bitjit/core/matmul_params.cuh"

namespace bitjit {

// The dimensions (innermost first, in elements), byte strides of the outer ones and box of one
// tensor's map: 2-D [rows][columns], or for weights in channel tiles (TmaTensor::channel_tiles) the
// 4-D [rows / 16 tiles][columns / piece k-blocks][16 channels][piece] whose box of one k-block lands
// in shared memory as the 2-D box of rows whole. Throws Error (naming the tensor and config_text)
// for tiles that do not divide.
struct TensorMapShape {
  uint32_t rank = 2;
  uint64_t sizes[4] = {};
  uint64_t strides[3] = {};
  uint32_t box[4] = {};
};
TensorMapShape tensor_map_shape(const TmaTensor& t, const std::string& config_text);

// The maps of A [M, K] and W for `plan`, as its kernel's family describes them (KernelTraits::
// tma_tensors in compiler/families/). Throws CudaError naming the call, the tensor and the config
// when the driver refuses one, Error for a plan whose kernel loads nothing by TMA.
TensorMaps encode_tensor_maps(const KernelPlan& plan, const void* A, const void* W, int64_t M);

}  // namespace bitjit
