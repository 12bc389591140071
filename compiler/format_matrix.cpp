#include "compiler/format_matrix.hpp"

#include "common/error.hpp"

namespace bitjit {
namespace {

std::vector<DType> dtypes_with_role(DTypeRole role) {
  std::vector<DType> dtypes;
  for (const DTypeInfo& row : dtype_table()) {
    if (row.has_role(role)) dtypes.push_back(row.id);
  }
  return dtypes;
}

bool accepted(const MatmulConfig& config) {
  try {
    validate(config);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

// The quantization variants: none, scales, and scales with each zeros mode, at each group size.
struct Quantization {
  bool scaling;
  bool zeros;
  ZerosMode mode;
  int64_t group_size;
};

std::vector<Quantization> quantizations(const std::vector<int64_t>& group_sizes) {
  std::vector<Quantization> variants = {{false, false, ZerosMode::original, -1}};
  for (int64_t group : group_sizes) {
    variants.push_back({true, false, ZerosMode::original, group});
    for (ZerosMode mode : {ZerosMode::original, ZerosMode::rescale, ZerosMode::quantized}) {
      variants.push_back({true, true, mode, group});
    }
  }
  return variants;
}

}  // namespace

std::vector<MatmulConfig> enumerate_format_matrix(const MatmulConfig& shape, const std::vector<int64_t>& group_sizes) {
  std::vector<MatmulConfig> configs;
  for (DType a : dtypes_with_role(kRoleActivation)) {
    for (DType w : dtypes_with_role(kRoleWeight)) {
      for (DType accum : dtypes_with_role(kRoleAccum)) {
        for (DType out : dtypes_with_role(kRoleOutput)) {
          for (const Quantization& q : quantizations(group_sizes)) {
            for (bool bias : {false, true}) {
              MatmulConfig config = shape;
              config.A_dtype = a;
              config.W_dtype = w;
              config.accum_dtype = accum;
              config.out_dtype = out;
              config.with_scaling = q.scaling;
              config.with_zeros = q.zeros;
              config.zeros_mode = q.mode;
              config.group_size = q.group_size;
              config.with_bias = bias;
              if (accepted(config)) configs.push_back(config);
            }
          }
        }
      }
    }
  }
  return configs;
}

}  // namespace bitjit
