#pragma once
// Real quantized weights from float weights, for a config: per output row n and group g the scale
// (and zero point) are chosen from the group's values, rounded to the scale dtype first, and each
// weight becomes the code whose dequantized value is nearest. docs/formats.md lists the rules.
#include <cstdint>
#include <span>
#include <vector>

#include "compiler/config.hpp"
#include "quant/host_tensor.hpp"

namespace bitjit {

struct QuantizedWeight {
  std::vector<uint16_t> codes;      // [N*K] the raw stored field of each element, unpacked
  HostTensor W;                     // stored as operand_specs(config, M).W: packed along K
  HostTensor scales;                // [N, G] in scale_dtype(config); empty() without scaling
  HostTensor zeros;                 // [N, G] in scale_dtype, or qzeros [G, N*bits/8] packed along N
  std::vector<double> dequantized;  // [N*K] the exact value each stored weight stands for
};

// weight: [N, K] row-major. Validates the config; throws bitjit::Error for a size mismatch, a
// non-finite weight, or a group whose scale or zero point overflows the scale dtype.
QuantizedWeight quantize_weight(const MatmulConfig& config, std::span<const float> weight);

}  // namespace bitjit
