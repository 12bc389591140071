#pragma once
// Small configs several test files share.
#include <algorithm>
#include <string>
#include <utility>

#include "common/error.hpp"
#include "compiler/config.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"
#include "compiler/schedule.hpp"

namespace bitjit::testing {

// What validate_schedule says about the schedule on arch, or "" when it takes it.
inline std::string schedule_error_on(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  return schedule_refusal(config, schedule, arch);
}

// uint4 with scales and zero points per group (fp16 activations and output, fp32 accumulation).
inline MatmulConfig uint4_zeros_config(MSpec M, int64_t N, int64_t K, int64_t group,
                                       ZerosMode zeros = ZerosMode::original) {
  MatmulConfig config;
  config.M = std::move(M);
  config.N = N;
  config.K = K;
  config.W_dtype = DType::uint4;
  config.accum_dtype = DType::float32;
  config.with_scaling = config.with_zeros = true;
  config.group_size = group;
  config.zeros_mode = zeros;
  return config;
}

// uint4 with scales and rescale zeros (group 32), N=24, K=128, dynamic M {1, 5}: quick to compile,
// and it exercises every part of a quantized config.
inline MatmulConfig small_w4_rescale_config() {
  return uint4_zeros_config(MSpec::buckets({1, 5}), 24, 128, 32, ZerosMode::rescale);
}

// W4A16 with group-128 scales (fp16 activations and output, fp32 accumulation): the benchmark
// suite's main format, at any M (static or buckets) and shape.
inline MatmulConfig w4a16_g128_config(MSpec M, int64_t N, int64_t K) {
  MatmulConfig config;
  config.M = std::move(M);
  config.N = N;
  config.K = K;
  config.W_dtype = DType::int4;
  config.accum_dtype = DType::float32;
  config.with_scaling = true;
  config.group_size = 128;
  return config;
}

// A tensor_wgmma schedule for 16-byte loads: 128 x 128 blocks on two warpgroups, 128 k per stage.
inline TileSchedule wgmma_128x128_schedule(int stages) {
  TileSchedule s;
  s.family = KernelFamily::tensor_wgmma;
  s.tile = {.m = 128, .n = 128};
  s.warps = {.m = 1, .n = 8, .k = 1};
  s.pipeline.k_per_stage = 128;
  s.pipeline.stages = stages;
  s.pipeline.vector_bytes = 16;
  return s;
}

// A tensor_wgmma_ws schedule: tile.n / 64 consumer warpgroups and the producer warpgroup, 128 k per stage
// (or one k-block where that is longer), tiles taken in groups of raster_group row blocks.
inline TileSchedule wgmma_ws_schedule(const MatmulConfig& config, const MmaRunLayout& fragments, int rows,
                                      int channels, int stages, int raster_group) {
  TileSchedule s;
  s.tile = {.m = rows, .n = channels};
  s.pipeline.k_per_stage = std::max(128, fragments.k_block(info(config.W_dtype).bits));
  s.pipeline.stages = stages;
  s.pipeline.vector_bytes = fragments.load_bytes;
  return warp_specialized(s, raster_group);
}

// The smallest tensor_wgmma block for an fp16 / bf16 config in the mma_fragments layout: 64 rows x
// 64 channels on one warpgroup, 3 stages of at least 64 k (whole k-blocks), the layout's load width.
inline TileSchedule wgmma_64x64_schedule(const MatmulConfig& config, const MmaRunLayout& fragments) {
  TileSchedule s = wgmma_128x128_schedule(3);
  s.tile = {.m = 64, .n = 64};
  s.warps.n = 4;
  s.pipeline.vector_bytes = fragments.load_bytes;
  s.pipeline.k_per_stage = std::max(64, fragments.k_block(info(config.W_dtype).bits));
  return s;
}

}  // namespace bitjit::testing
