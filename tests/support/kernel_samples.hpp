#pragma once
// One sample config per device entry point of the family table, with the entry point's own default
// schedule: what tests/compiler/test_families.cpp and test_shared_memory.cpp run every entry point on.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/families/family.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"

namespace bitjit::testing {

// A config and arch each entry point runs, named by its device function. Adding an entry point to
// the table needs a sample here (sampled_kernels requires one).
struct KernelSample {
  MatmulConfig config;
  std::string arch;
  int64_t rows;
};

inline MatmulConfig eight_bit_config(DType type, int64_t M) {
  MatmulConfig config;
  config.M = M;
  config.N = 512;
  config.K = 1024;
  config.A_dtype = config.W_dtype = type;
  config.accum_dtype = type == DType::int8 ? DType::int32 : DType::float32;
  config.out_dtype = DType::float16;
  return config;
}

inline const std::map<std::string, KernelSample>& kernel_samples() {
  static const std::map<std::string, KernelSample> samples = [] {
    MatmulConfig fp8_int8 = w4a16_g128_config(4, 64, 256);  // int8 weights are not exact in e4m3: simt only
    fp8_int8.A_dtype = DType::float8_e4m3;
    fp8_int8.W_dtype = DType::int8;
    MatmulConfig int8_int4 = w4a16_g128_config(4, 256, 1024);
    int8_int4.A_dtype = DType::int8;
    MatmulConfig int8_int4_rows = int8_int4;
    int8_int4_rows.M = 256;
    return std::map<std::string, KernelSample>{
        {"bitjit::simt_matmul", {fp8_int8, "sm_80", 4}},
        {"bitjit::gemv_matmul", {uint4_zeros_config(16, 64, 256, 8), "sm_80", 16}},  // groups of 8: no mma layout
        {"bitjit::tensor_gemv", {w4a16_g128_config(16, 256, 1024), "sm_80", 16}},
        {"bitjit::tensor_gemv_8bit", {int8_int4, "sm_80", 4}},
        {"bitjit::tensor_gemm", {w4a16_g128_config(128, 256, 1024), "sm_80", 128}},
        {"bitjit::tensor_gemm_w4a8", {int8_int4_rows, "sm_80", 256}},
        {"bitjit::tensor_wgmma", {w4a16_g128_config(4096, 8192, 8192), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_8bit", {eight_bit_config(DType::int8, 4096), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_w4a8", {int8_int4_rows, "sm_90a", 256}},
        {"bitjit::tensor_wgmma_ws", {w4a16_g128_config(4096, 8192, 8192), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_ws_8bit", {eight_bit_config(DType::float8_e4m3, 4096), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_ws_w4a8", {int8_int4_rows, "sm_90a", 256}},
    };
  }();
  return samples;
}

// Every entry point with its sample and its family's own default for it.
struct SampledKernel {
  const KernelTraits* kernel;
  KernelSample sample;
  TileSchedule schedule;
};

inline std::vector<SampledKernel> sampled_kernels() {
  std::vector<SampledKernel> all;
  for (const KernelFamilyTraits& family : all_families()) {
    for (const KernelTraits* kernel : family.kernels) {
      const auto found = kernel_samples().find(kernel->function);
      REQUIRE(found != kernel_samples().end());
      const KernelSample& sample = found->second;
      const std::optional<TileSchedule> s = kernel->default_for(sample.config, sample.arch, sample.rows);
      REQUIRE(s.has_value());
      all.push_back({kernel, sample, *s});
    }
  }
  return all;
}

}  // namespace bitjit::testing
