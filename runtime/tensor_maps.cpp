#include "runtime/tensor_maps.hpp"

#include <cstring>
#include <string>

#include "common/error.hpp"
#include "compiler/families/family.hpp"
#include "runtime/driver.hpp"

namespace bitjit {
namespace {

static_assert(sizeof(TensorMap) == sizeof(CUtensorMap) && alignof(TensorMap) == alignof(CUtensorMap),
              "core/matmul_params.cuh's TensorMap is the driver's CUtensorMap");

CUtensorMapSwizzle driver_swizzle(TmaSwizzle swizzle) {
  switch (swizzle) {
    case TmaSwizzle::none: return CU_TENSOR_MAP_SWIZZLE_NONE;
    case TmaSwizzle::bytes64: return CU_TENSOR_MAP_SWIZZLE_64B;
    case TmaSwizzle::bytes128: return CU_TENSOR_MAP_SWIZZLE_128B;
  }
  throw Error("encode_tensor_maps: unknown TMA swizzle " + std::to_string(int(swizzle)));
}

TensorMap encode(const TmaTensor& t, const void* data, const KernelPlan& plan) {
  CUtensorMap map;
  const CUtensorMapDataType type = t.element_bytes == 2 ? CU_TENSOR_MAP_DATA_TYPE_UINT16 : CU_TENSOR_MAP_DATA_TYPE_UINT8;
  const cuuint64_t sizes[2] = {t.columns, t.rows};
  const cuuint64_t row_stride[1] = {t.columns * uint64_t(t.element_bytes)};
  const cuuint32_t box[2] = {t.box_columns, t.box_rows};
  const cuuint32_t element_strides[2] = {1, 1};
  check_cuda(Driver::get().cuTensorMapEncodeTiled(&map, type, 2, const_cast<void*>(data), sizes, row_stride, box,
                                                  element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                                  driver_swizzle(t.swizzle),
                                                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),  // out of bounds: zeros
             "cuTensorMapEncodeTiled", [&] {
               return std::string(t.name) + " [" + std::to_string(t.rows) + ", " + std::to_string(t.columns) +
                      "], box " + std::to_string(t.box_rows) + " x " + std::to_string(t.box_columns) + ", config " +
                      canonical_form(plan.config);
             });
  TensorMap result;
  std::memcpy(&result, &map, sizeof map);
  return result;
}

}  // namespace

TensorMaps encode_tensor_maps(const KernelPlan& plan, const void* A, const void* W, int64_t M) {
  const KernelTraits& kernel = kernel_traits(plan.config, plan.schedule.family);
  if (kernel.tma_tensors == nullptr) {
    throw Error("encode_tensor_maps: " + std::string(kernel.function) + " loads nothing by TMA (config " +
                canonical_form(plan.config) + ")");
  }
  const std::array<TmaTensor, 2> tensors = kernel.tma_tensors(plan, M);
  TensorMaps maps;
  maps.A = encode(tensors[0], A, plan);
  maps.W = encode(tensors[1], W, plan);
  return maps;
}

}  // namespace bitjit
