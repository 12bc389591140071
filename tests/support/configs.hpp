#pragma once
// Small configs several test files share.
#include "compiler/config.hpp"

namespace bitjit::testing {

// uint4 with scales and rescale zeros (group 32), N=24, K=128, dynamic M {1, 5}: quick to compile,
// and it exercises every part of a quantized config.
inline MatmulConfig small_w4_rescale_config() {
  MatmulConfig config;
  config.M = MSpec::buckets({1, 5});
  config.N = 24;
  config.K = 128;
  config.W_dtype = DType::uint4;
  config.accum_dtype = DType::float32;
  config.with_scaling = config.with_zeros = true;
  config.group_size = 32;
  config.zeros_mode = ZerosMode::rescale;
  return config;
}

}  // namespace bitjit::testing
