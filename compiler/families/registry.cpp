// The one table of kernel families: the only place that lists them (docs/architecture.md: adding a
// family is a row here, its file, and its name in KernelFamily).
#include <algorithm>

#include "common/error.hpp"
#include "compiler/families/family.hpp"
#include "compiler/families/gemv.hpp"
#include "compiler/families/simt.hpp"
#include "compiler/families/tensor_gemm.hpp"
#include "compiler/families/tensor_gemv.hpp"
#include "compiler/families/tensor_wgmma.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"

namespace bitjit {
namespace {

// Entry points that take a config by their `takes` come before the one that takes the rest.
const KernelTraits* const kSimtKernels[] = {&kSimtKernel};
const KernelTraits* const kGemvKernels[] = {&kGemvKernel};
const KernelTraits* const kTensorGemvKernels[] = {&kTensorGemvKernel, &kTensorGemv8bitKernel};
const KernelTraits* const kTensorGemmKernels[] = {&kTensorGemmW4a8Kernel, &kTensorGemmKernel};
const KernelTraits* const kTensorWgmmaKernels[] = {&kTensorWgmma8bitKernel, &kTensorWgmmaW4a8Kernel, &kTensorWgmmaKernel};
const KernelTraits* const kTensorWgmmaWsKernels[] = {&kTensorWgmmaWs8bitKernel, &kTensorWgmmaWsW4a8Kernel,
                                                     &kTensorWgmmaWsKernel};

// In the enum's order (family_traits indexes it).
const KernelFamilyTraits kFamilies[] = {
    {KernelFamily::simt, "simt", WeightLayout::general, false, kSimtKernels},
    {KernelFamily::gemv, "gemv", WeightLayout::general, false, kGemvKernels},
    {KernelFamily::tensor_gemv, "tensor_gemv", WeightLayout::mma_runs, false, kTensorGemvKernels},
    {KernelFamily::tensor_gemm, "tensor_gemm", WeightLayout::mma_runs, false, kTensorGemmKernels},
    {KernelFamily::tensor_wgmma, "tensor_wgmma", WeightLayout::mma_fragments, false, kTensorWgmmaKernels},
    {KernelFamily::tensor_wgmma_ws, "tensor_wgmma_ws", WeightLayout::mma_fragments, true, kTensorWgmmaWsKernels},
};

}  // namespace

std::span<const KernelFamilyTraits> all_families() { return kFamilies; }

const KernelFamilyTraits& family_traits(KernelFamily family) {
  const size_t index = size_t(family);
  if (index >= std::size(kFamilies) || kFamilies[index].family != family) {
    throw ConfigError("invalid TileSchedule: unknown family");
  }
  return kFamilies[index];
}

std::optional<KernelFamily> family_named(std::string_view name) {
  for (const KernelFamilyTraits& row : kFamilies) {
    if (row.name == name) return row.family;
  }
  return std::nullopt;
}

const KernelTraits& kernel_traits(const MatmulConfig& config, KernelFamily family) {
  for (const KernelTraits* kernel : family_traits(family).kernels) {
    if (kernel->takes == nullptr || kernel->takes(config)) return *kernel;
  }
  throw Error("kernel_traits: no entry point of " + std::string(family_traits(family).name) + " runs " +
              canonical_form(config));  // unreachable: the last entry point of each family takes the rest
}

}  // namespace bitjit
