#pragma once
// Configs the validator accepts, across weight formats, activation types, zeros modes and group
// sizes, for tests that must hold for every quantized format.
#include <string>
#include <vector>

#include "common/error.hpp"
#include "compiler/config.hpp"

namespace bitjit::testing {

inline std::vector<MatmulConfig> accepted_weight_configs(int64_t N, int64_t K, std::vector<int64_t> group_sizes) {
  const ZerosMode modes[] = {ZerosMode::original, ZerosMode::rescale, ZerosMode::quantized};
  std::vector<MatmulConfig> configs;
  for (const DTypeInfo& w : dtype_table()) {
    for (const DTypeInfo& a : dtype_table()) {
      if (!w.has_role(kRoleWeight) || !a.has_role(kRoleActivation)) continue;
      for (bool scaling : {false, true}) {
        for (int zeros = -1; zeros < 3; ++zeros) {
          for (int64_t group_size : group_sizes) {
            MatmulConfig config;
            config.M = 1;
            config.N = N;
            config.K = K;
            config.A_dtype = a.id;
            config.W_dtype = w.id;
            const bool integer = a.id == DType::int8 && w.is_integer() && !scaling;
            config.accum_dtype = integer ? DType::int32 : DType::float32;
            config.out_dtype = integer ? DType::int32 : DType::float16;
            config.with_scaling = scaling;
            config.with_zeros = zeros >= 0;
            if (zeros >= 0) config.zeros_mode = modes[zeros];
            config.group_size = group_size;
            try {
              validate(config);
              configs.push_back(config);
            } catch (const ConfigError&) {
            }
          }
        }
      }
    }
  }
  return configs;
}

// Collects the first of many per-element failures, so a sweep reports one clear message.
class FailureLog {
 public:
  template <typename Describe>
  void expect(bool ok, Describe describe) {
    if (!ok && count_++ == 0) first_ = describe();
  }
  int count() const { return count_; }
  const std::string& first() const { return first_; }

 private:
  int count_ = 0;
  std::string first_;
};

}  // namespace bitjit::testing
