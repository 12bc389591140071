#pragma once
// tensor_gemm: M >= 16, tiles of A and W staged through a cp.async ring in shared memory, tensor_gemv's
// decode and mma.sync per warp tile, K optionally split across blocks. The Hopper families keep its
// tiles' constants and its stages' description where they do the same.
#include <string>
#include <vector>

#include "compiler/families/family.hpp"

namespace bitjit {

extern const KernelTraits kTensorGemmKernel;
// W4A8 (int8 activations, sub-byte integer weights) on mma.sync m16n8k32: compiler/families/w4a8.cpp.
extern const KernelTraits kTensorGemmW4a8Kernel;

namespace families {

// The Tiles constants of the decoding staged families (tensor_wgmma reads runs of 2).
std::vector<PlanConstant> tensor_gemm_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
std::vector<PlanStage> tensor_gemm_stages(const MatmulConfig& config, const TileSchedule& s);

}  // namespace families
}  // namespace bitjit
