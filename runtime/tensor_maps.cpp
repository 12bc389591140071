#include "runtime/tensor_maps.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
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
  const TensorMapShape shape = tensor_map_shape(t, canonical_form(plan.config));
  cuuint64_t sizes[4], strides[3];
  cuuint32_t box[4];
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  std::copy(std::begin(shape.sizes), std::end(shape.sizes), sizes);
  std::copy(std::begin(shape.strides), std::end(shape.strides), strides);
  std::copy(std::begin(shape.box), std::end(shape.box), box);
  check_cuda(Driver::get().cuTensorMapEncodeTiled(&map, type, shape.rank, const_cast<void*>(data), sizes, strides, box,
                                                  element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                                  driver_swizzle(t.swizzle),
                                                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),  // out of bounds: zeros
             "cuTensorMapEncodeTiled", [&] {
               return std::string(t.name) + " [" + std::to_string(t.rows) + ", " + std::to_string(t.columns) +
                      "], box " + std::to_string(t.box_rows) + " x " + std::to_string(t.box_columns) +
                      (t.channel_tiles ? " in channel tiles (4-D)" : "") + ", config " + canonical_form(plan.config);
             });
  TensorMap result;
  std::memcpy(&result, &map, sizeof map);
  return result;
}

}  // namespace

TensorMapShape tensor_map_shape(const TmaTensor& t, const std::string& config_text) {
  TensorMapShape shape;
  if (!t.channel_tiles) {
    shape.sizes[0] = t.columns, shape.sizes[1] = t.rows;
    shape.strides[0] = t.columns * uint64_t(t.element_bytes);
    shape.box[0] = t.box_columns, shape.box[1] = t.box_rows;
    return shape;
  }
  constexpr uint64_t kTile = 16;
  const uint64_t piece = t.box_columns;
  if (t.element_bytes != 1 || piece == 0 || t.rows % kTile != 0 || t.box_rows % kTile != 0 || t.columns % piece != 0) {
    throw Error("encode_tensor_maps: " + std::string(t.name) + " in channel tiles needs bytes, rows and box rows in " +
                "whole tiles of 16 and whole pieces of " + std::to_string(piece) + " bytes a row; got [" +
                std::to_string(t.rows) + ", " + std::to_string(t.columns) + "], box " + std::to_string(t.box_rows) +
                " rows, config " + config_text);
  }
  shape.rank = 4;
  shape.sizes[0] = piece, shape.sizes[1] = kTile, shape.sizes[2] = t.columns / piece, shape.sizes[3] = t.rows / kTile;
  shape.strides[0] = piece, shape.strides[1] = kTile * piece, shape.strides[2] = kTile * t.columns;
  shape.box[0] = uint32_t(piece), shape.box[1] = uint32_t(kTile), shape.box[2] = 1, shape.box[3] = t.box_rows / uint32_t(kTile);
  return shape;
}

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
