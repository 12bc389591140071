#pragma once
// Host-side tensors in their stored form, and exact value <-> bits conversion for one element.
// The CPU reference, the quantizers and the tests read and write operands through these.
#include <cstdint>
#include <vector>

#include "compiler/dtype.hpp"

namespace bitjit {

// A tensor as the kernel sees it: little-endian bytes of the stored elements. For packed formats
// (fewer than 8 bits) the shape counts bytes, exactly as operand_specs() gives it. Rank 0 means
// "no tensor" (an operand the config does not use), again as in OperandSpec.
struct HostTensor {
  DType dtype = DType::float16;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  // Stored elements (bytes for packed formats); 0 for rank 0.
  int64_t numel() const;
  bool empty() const { return numel() == 0; }
};

// Zero-filled. Throws bitjit::Error for a negative extent.
HostTensor make_host_tensor(DType dtype, std::vector<int64_t> shape);

// The stored bits of `value` cast to `dtype`. Floats round to nearest even; fp16/bf16/fp32 overflow
// to infinity as a cast does, fp8 and fp4 saturate to their largest finite value. int8, uint8 and
// int32 round half to even and saturate; NaN has no integer encoding and throws. Packed integer
// formats and nf4 throw bitjit::Error (their values are codes, see logical_to_codes).
uint32_t encode_value(DType dtype, double value);
// Exactly info(dtype).decode(bits).
double decode_value(DType dtype, uint32_t bits);
// The value after a cast to `dtype`: decode(encode(value)).
double round_to(DType dtype, double value);

// One element of a tensor with 8, 16 or 32-bit elements, by flat row-major index. Packed dtypes and
// indices out of range throw bitjit::Error.
double get_value(const HostTensor& tensor, int64_t flat_index);
void set_value(HostTensor& tensor, int64_t flat_index, double value);

// The stored field of element `flat_index` of a non-packed tensor (little-endian).
uint32_t get_bits(const HostTensor& tensor, int64_t flat_index);
void set_bits(HostTensor& tensor, int64_t flat_index, uint32_t bits);

}  // namespace bitjit
