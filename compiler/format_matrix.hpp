#pragma once
// The format matrix: every combination of dtypes, scaling, zeros mode, group size and bias that
// validation accepts. Tests sweep it, and `bitjit formats --matrix` prints it.
#include <vector>

#include "compiler/config.hpp"

namespace bitjit {

// Every accepted config whose M, N, K, layout come from `shape` and whose group_size is one of
// `group_sizes` (-1 and divisors of K); the others fields range over all their values.
std::vector<MatmulConfig> enumerate_format_matrix(const MatmulConfig& shape, const std::vector<int64_t>& group_sizes);

}  // namespace bitjit
