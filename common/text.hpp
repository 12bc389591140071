#pragma once
// Small text helpers shared by error messages.
#include <cstdint>
#include <string>
#include <vector>

namespace bitjit {

// "[3, 40]"
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace bitjit
