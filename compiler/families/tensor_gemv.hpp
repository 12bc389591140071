#pragma once
// tensor_gemv: the gemv job with mma.sync, weights as the 16-row operand, read in the mma_runs layout;
// one entry point for fp16 / bf16 activations (kernels/tensor_gemv.cuh), one for int8 and fp8 ones
// (kernels/tensor_gemv_8bit.cuh: m16n8k32 on bytes). Warps split K and add their sums in shared memory.
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/families/family.hpp"

namespace bitjit {

extern const KernelTraits kTensorGemvKernel;
extern const KernelTraits kTensorGemv8bitKernel;

// Whether the arch has the mma.sync tensor_gemv multiplies this config's activations with: every
// supported arch for 16-bit and int8 activations, sm_89 and newer for fp8.
bool arch_has_activation_mma(const MatmulConfig& config, const std::string& arch);

namespace families {

// The most rows that tensor_gemv reads in whole loads rather than runs of 8 k (select.cpp's
// reads_runs_of_8, measured there); its rules tuned for runs of 8 leave such buckets alone.
inline constexpr int64_t kMostWholeLoadRows = 4;

// What both tensor_gemv entry points share.
void validate_tensor_gemv(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
std::optional<TileSchedule> default_tensor_gemv(const MatmulConfig& config, const std::string& arch, int64_t rows);
// The mma.sync families' candidates (tensor_gemv's and tensor_gemm's are tuned together).
void add_tensor_gemv_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                                std::vector<TileSchedule>& out);
void tensor_gemv_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch,
                           KernelFootprint& f);
int tensor_gemv_static_shared_bytes(const MatmulConfig& config, const TileSchedule& s);
std::vector<PlanConstant> tensor_gemv_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
std::array<int, 6> tensor_gemv_alignment(const MatmulConfig& config, const TileSchedule& s);
// How the weights stream in (codes per load), and the warps' reduction.
PlanStage tensor_gemv_load_stage(const MatmulConfig& config, const TileSchedule& s, int codes);
PlanStage tensor_gemv_epilogue_stage(const MatmulConfig& config, const TileSchedule& s);
// The fp16 / bf16 kernel's stages; tensor_gemm starts from them (same decode and mma).
std::vector<PlanStage> tensor_gemv_16bit_stages(const MatmulConfig& config, const TileSchedule& s);
// The int8 / fp8 kernel's stages (tensor_gemv_8bit.cpp).
std::vector<PlanStage> tensor_gemv_8bit_stages(const MatmulConfig& config, const TileSchedule& s);

}  // namespace families
}  // namespace bitjit
