#pragma once
// A typed view of a device tensor the caller owns: pointer, dtype and shape (row-major, contiguous).
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/dtype.hpp"

namespace bitjit {

struct TensorView {
  void* data = nullptr;           // device pointer
  DType dtype = DType::float16;
  std::vector<int64_t> shape;     // in stored elements; bytes for packed formats

  TensorView() = default;
  TensorView(const void* pointer, DType type, std::vector<int64_t> extents)
      : data(const_cast<void*>(pointer)), dtype(type), shape(std::move(extents)) {}

  bool empty() const { return data == nullptr && shape.empty(); }
};

std::string describe(const TensorView& view);  // "uint4[1024, 2048] at 0x7f..."

class DeviceBuffer;
struct OperandSpec;
// `buffer` as the operand `spec` describes, or the empty view for an operand the config does not use.
TensorView view_of(const DeviceBuffer& buffer, const OperandSpec& spec);

}  // namespace bitjit
