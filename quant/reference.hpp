#pragma once
// The float64 CPU oracle for C = A · dequant(W)ᵀ (+ bias), written from docs/formats.md using only the
// dtype table's decoders. It shares no code with the GPU kernels, so it can judge them.
#include <cstdint>
#include <vector>

#include "compiler/config.hpp"
#include "quant/host_tensor.hpp"

namespace bitjit {

// Operands in their stored form, shaped as operand_specs(config, M) says; unused ones empty().
struct MatmulOperands {
  HostTensor A, W, scales, zeros, bias;
};

struct ReferenceResult {
  int64_t M = 0, N = 0;
  std::vector<double> exact;      // [M*N] sum_k a*w (+ bias) in float64, before the output cast
  std::vector<double> rounded;    // [M*N] exact cast to out_dtype (RNE; int8/int32 saturate)
  std::vector<double> magnitude;  // [M*N] sum_k |a*w| + |bias|: the scale of accumulation error
};

// Validates the config and every operand's dtype and shape against operand_specs (the error names
// the operand), then computes C.
ReferenceResult reference_matmul(const MatmulConfig& config, int64_t M, const MatmulOperands& operands);

// [N*K] the dequantized weights w[n, k]; reads W, scales and zeros only.
std::vector<double> dequantize_reference(const MatmulConfig& config, const MatmulOperands& operands);

// Throws bitjit::ConfigError unless `tensor` has the dtype and shape of `spec` (empty for an unused
// operand) and holds exactly the bytes they need. `name` goes into the message.
void check_operand(const char* name, const OperandSpec& spec, const HostTensor& tensor);

}  // namespace bitjit
