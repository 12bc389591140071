#include "runtime/tensor_maps.hpp"

#include <cstring>
#include <string>

#include "compiler/dtype.hpp"
#include "compiler/schedule.hpp"
#include "compiler/weight_layout.hpp"
#include "runtime/driver.hpp"

namespace bitjit {
namespace {

static_assert(sizeof(TensorMap) == sizeof(CUtensorMap) && alignof(TensorMap) == alignof(CUtensorMap),
              "matmul_params.cuh's TensorMap is the driver's CUtensorMap");

// A row-major 2-D tensor of `rows` x `columns` elements, boxes of box_columns x box_rows.
struct Tiled2d {
  const char* name;
  CUtensorMapDataType type;
  int element_bytes;
  const void* data;
  uint64_t columns, rows;
  uint32_t box_columns, box_rows;
  CUtensorMapSwizzle swizzle;
};

TensorMap encode(const Tiled2d& t, const KernelPlan& plan) {
  CUtensorMap map;
  const cuuint64_t sizes[2] = {t.columns, t.rows};
  const cuuint64_t row_stride[1] = {t.columns * uint64_t(t.element_bytes)};
  const cuuint32_t box[2] = {t.box_columns, t.box_rows};
  const cuuint32_t element_strides[2] = {1, 1};
  check_cuda(Driver::get().cuTensorMapEncodeTiled(&map, t.type, 2, const_cast<void*>(t.data), sizes, row_stride, box,
                                                  element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, t.swizzle,
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
  const MatmulConfig& config = plan.config;
  const TileSchedule& s = plan.schedule;
  TensorMaps maps;
  if (same_8bit_operands(config)) {
    // Both operands are rows of K bytes; 128 of them are one 128-byte swizzle atom wide.
    maps.A = encode({"A", CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, A, uint64_t(config.K), uint64_t(M), 128,
                     uint32_t(s.block_m), CU_TENSOR_MAP_SWIZZLE_128B},
                    plan);
    maps.W = encode({"W", CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, W, uint64_t(config.K), uint64_t(config.N), 128,
                     uint32_t(s.block_n), CU_TENSOR_MAP_SWIZZLE_128B},
                    plan);
    return maps;
  }
  const MmaRunLayout layout = *family_layout(config, s.family);
  const uint64_t row_bytes = uint64_t(config.K) * info(config.W_dtype).bits / 8;
  // 64 k of 16-bit activations are one 128-byte swizzle atom wide: the kernel's SwizzledAtoms.
  maps.A = encode({"A", CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, A, uint64_t(config.K), uint64_t(M), 64,
                   uint32_t(s.block_m), CU_TENSOR_MAP_SWIZZLE_128B},
                  plan);
  // One k-block of a channel is 4 lanes' loads, contiguous in the mma_fragments layout.
  maps.W = encode({"W", CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, W, row_bytes, uint64_t(config.N),
                   uint32_t(4 * layout.load_bytes), uint32_t(s.block_n), CU_TENSOR_MAP_SWIZZLE_NONE},
                  plan);
  return maps;
}

}  // namespace bitjit
