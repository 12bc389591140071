#pragma once
// How the packed weight lies in memory for the kernels of a (config, arch). Decided by the config and
// the arch only, never by the tile schedule, so tuning never repacks a user's weights.
#include <string>

#include "compiler/config.hpp"

namespace bitjit {

enum class WeightLayout {
  general,  // general_compress order: row n of W holds K codes packed LSB-first along K
};

std::string_view to_string(WeightLayout layout);
WeightLayout weight_layout(const MatmulConfig& config, const std::string& arch);

}  // namespace bitjit
