#include "compiler/weight_layout.hpp"

namespace bitjit {

std::string_view to_string(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::general: return "general";
  }
  return "?";
}

WeightLayout weight_layout(const MatmulConfig& config, const std::string& arch) {
  (void)config;
  (void)arch;
  return WeightLayout::general;
}

}  // namespace bitjit
