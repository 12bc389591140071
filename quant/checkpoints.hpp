#pragma once
// Quantized checkpoints as GPTQ and AWQ store them, converted into bitjit's operands without
// requantizing: the codes, scales and zero points stay bit for bit what the checkpoint holds.
//
// Both store, for a linear layer with K inputs and N outputs, int32 words and fp16 scales:
//   GPTQ  qweight [K * b / 32, N]  packed along K: word (r, n), field j (bits j*b ..) is k = r*(32/b) + j
//         qzeros  [G, N * b / 32]  packed along N: word (g, c), field j is column c*(32/b) + j
//         (b = 3: each column's, each group row's fields run LSB first through the words, 32 fields in
//         3 words, fields 10 and 21 of each 32 straddling two words)
//         scales  [G, N] fp16;     g_idx [K] (optional) the group of each k
//         w = s * (q - z), where the classic format stores z - 1 (so z = stored + 1; "v2" stores z)
//   AWQ   qweight [K, N / 8] 4-bit, packed along N in the order 0 2 4 6 1 3 5 7: field p of word
//         (k, c) is column c*8 + order[p]; qzeros [G, N / 8] the same way; scales [G, N] fp16;
//         w = s * (q - z)
// The result is a uint{b} config (uint4 for b = 3: bitjit has no 3-bit format, every 3-bit code and
// zero is exact in 4 bits, at 4/3 of the checkpoint's weight bytes) with scales and zeros_mode
// "original" (zeros as fp16 values, which holds GPTQ's z = 16 too), group_size K / G.
//
// Act-order (desc_act) GPTQ checkpoints quantized the columns of W in an order of their own, so the
// groups of g_idx are not runs of K: column k belongs to group g_idx[k]. bitjit's groups are runs, so
// the layer's K is permuted, columns sorted by group (stable: ascending k within a group): column j of
// the converted W is column permutation[j] of the checkpoint's, and the layer multiplies the
// activations' columns gathered the same way, x[:, permutation] (y = x[:, p] · W[:, p]ᵀ = x · Wᵀ).
// Each group must hold exactly K / G columns, as GPTQ's act-order makes them.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "compiler/config.hpp"
#include "quant/host_tensor.hpp"

namespace bitjit {

struct CheckpointLayer {
  MatmulConfig config;          // W_dtype uint{bits} (uint4 for 3 bits), A/out float16, float32 accumulation
  std::vector<uint8_t> codes;   // [N, K] the stored code of each weight, unpacked
  HostTensor W;                 // [N, K * bits / 8]: general_compress(codes) (pass to Matmul::transform_weight)
  HostTensor scales;            // [N, G] float16
  HostTensor zeros;             // [N, G] float16
  // Act-order only: the checkpoint column of each converted column (empty when g_idx is absent or
  // already k / group_size). The activations' columns are gathered by it before the matmul.
  std::vector<int64_t> permutation;
};

enum class GptqZeros {
  stored_minus_one,  // the classic GPTQ / AutoGPTQ format: qzeros holds z - 1 (modulo 2^bits)
  exact,             // "gptq_v2": qzeros holds z
};

// bits in {2, 3, 4, 8} (3: into uint4, above); the spans hold
// the tensors above row-major (scales as fp16 bit patterns). Throws ConfigError naming the tensor and
// its expected size, a g_idx entry outside [0, G), or a group of g_idx holding other than K / G columns.
CheckpointLayer from_gptq(int64_t in_features, int64_t out_features, int bits, std::span<const int32_t> qweight,
                          std::span<const int32_t> qzeros, std::span<const uint16_t> scales,
                          std::span<const int32_t> g_idx = {}, GptqZeros zeros = GptqZeros::stored_minus_one);

// AWQ's GEMM format (4-bit).
CheckpointLayer from_awq(int64_t in_features, int64_t out_features, std::span<const int32_t> qweight,
                         std::span<const int32_t> qzeros, std::span<const uint16_t> scales);

// AWQ's field order: field p of a word holds column 8c + kAwqOrder[p].
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

}  // namespace bitjit
