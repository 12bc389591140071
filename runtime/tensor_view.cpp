#include "runtime/tensor_view.hpp"

#include <sstream>

#include "compiler/config.hpp"
#include "runtime/device.hpp"

namespace bitjit {

std::string describe(const TensorView& view) {
  std::ostringstream out;
  out << to_string(view.dtype) << "[";
  for (size_t i = 0; i < view.shape.size(); ++i) out << (i ? ", " : "") << view.shape[i];
  out << "] at " << view.data;
  return out.str();
}

TensorView view_of(const DeviceBuffer& buffer, const OperandSpec& spec) {
  return spec.used() ? TensorView(buffer.data(), spec.dtype, spec.shape) : TensorView();
}

}  // namespace bitjit
