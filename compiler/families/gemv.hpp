#pragma once
// gemv: simt's thread layout for fp16 / bf16 activations with float accumulation, streaming the
// packed weights for small M with vector loads that never straddle a scale group.
#include "compiler/families/family.hpp"

namespace bitjit {

extern const KernelTraits kGemvKernel;

// Whether gemv runs the config's formats (the rest is the schedule's question).
bool gemv_applies(const MatmulConfig& config);

}  // namespace bitjit
