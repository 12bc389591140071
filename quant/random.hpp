#pragma once
// Random operands for tests, profiling and benchmarks. Values are chosen so that C stays far from
// the float16 range (|C| well under 1e4 for K up to ~30000) and the reference stays meaningful.
#include <cstdint>
#include <random>

#include "compiler/config.hpp"
#include "quant/host_tensor.hpp"
#include "quant/reference.hpp"

namespace bitjit {

// [M, K] activations of config.A_dtype, roughly uniform in [-1, 1] and never all zero. int8: codes
// uniform in [-127, 127]; for a float16 output the range narrows to [-L, L], L = 1732/sqrt(K)
// (capped at 127), since an int8 dot product over long K would otherwise overflow float16.
HostTensor random_activations(const MatmulConfig& config, int64_t M, std::mt19937_64& rng);

// A full operand set: A from random_activations, weights uniform in [-1, 1] quantized by
// quantize_weight (its scales and zeros), and a random bias where the config has one.
MatmulOperands random_operands(const MatmulConfig& config, int64_t M, std::mt19937_64& rng);

// The same statistics without quantizing every weight, for benchmark shapes (N*K ~ 5e8 in
// seconds): codes, scales and zero points are drawn from those quantize_weight produces for a small
// uniform sample, and each scale is multiplied by a factor uniform in [0.5, 1.5].
MatmulOperands random_operands_fast(const MatmulConfig& config, int64_t M, std::mt19937_64& rng);

}  // namespace bitjit
