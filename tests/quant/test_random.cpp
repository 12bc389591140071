// Random operands: valid for their config, reproducible from a seed, in a sane range, and not
// degenerate.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>

#include "quant/random.hpp"
#include "quant/reference.hpp"
#include "tests/quant/sweep.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;

namespace {

double largest_magnitude(const std::vector<double>& values) {
  double largest = 0;
  for (double v : values) largest = std::max(largest, std::fabs(v));
  return largest;
}

bool all_finite(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

std::vector<double> values_of(const HostTensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.numel()));
  for (size_t i = 0; i < values.size(); ++i) values[i] = get_value(tensor, int64_t(i));
  return values;
}

MatmulConfig long_k_config(DType A, DType W, DType accum, DType out, bool scaling) {
  MatmulConfig config;
  config.M = 2;
  config.N = 16;
  config.K = 29952;  // 234 groups of 128
  config.A_dtype = A;
  config.W_dtype = W;
  config.accum_dtype = accum;
  config.out_dtype = out;
  config.with_scaling = scaling;
  if (scaling) config.group_size = 128;
  return config;
}

}  // namespace

TEST_CASE("random operands fit every accepted config and decode to moderate finite values", "[quant][random]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (MatmulConfig config : bitjit::testing::accepted_weight_configs(16, 64, {-1, 32})) {
    config.with_bias = true;
    INFO(canonical_form(config));
    for (bool fast : {false, true}) {
      CAPTURE(fast);
      const MatmulOperands operands = fast ? random_operands_fast(config, 2, rng) : random_operands(config, 2, rng);
      const ReferenceResult result = reference_matmul(config, 2, operands);  // checks every operand's shape
      CHECK(all_finite(result.exact));
      const std::vector<double> w = dequantize_reference(config, operands);
      CHECK(all_finite(w));
      // Quantized uniform [-1, 1] weights stay within 2 (uint1 steps are 2 wide); the fast variant
      // scales them by up to 1.5.
      CHECK(largest_magnitude(w) <= (fast ? 3.0 : 2.0));
      const std::vector<double> a = values_of(operands.A);
      CHECK(largest_magnitude(a) <= (config.A_dtype == DType::int8 ? 127.0 : 1.0));
      CHECK(largest_magnitude(a) > 0.0);
      if (config.with_scaling) {
        const std::vector<double> scales = values_of(operands.scales);
        CHECK(std::all_of(scales.begin(), scales.end(), [](double s) { return s > 0 && std::isfinite(s); }));
      }
    }
  }
}

TEST_CASE("activations spread over [-1, 1] (int8: over the code range)", "[quant][random]") {
  BITJIT_RANDOM_ENGINE(rng);
  const std::pair<DType, DType> activation_and_weight[] = {{DType::float16, DType::float16},
                                                           {DType::bfloat16, DType::bfloat16},
                                                           {DType::float8_e4m3, DType::uint4},
                                                           {DType::float8_e5m2, DType::uint4},
                                                           {DType::int8, DType::int8}};
  for (const auto& [A, W] : activation_and_weight) {
    CAPTURE(to_string(A));
    MatmulConfig config = long_k_config(A, W, DType::float32, DType::float32, false);
    config.K = 4096;
    const std::vector<double> a = values_of(random_activations(config, 4, rng));
    const double limit = A == DType::int8 ? 127.0 : 1.0;
    double sum = 0;
    for (double v : a) sum += v;
    CHECK(*std::min_element(a.begin(), a.end()) < -0.9 * limit);
    CHECK(*std::max_element(a.begin(), a.end()) > 0.9 * limit);
    CHECK(std::fabs(sum / double(a.size())) < 0.05 * limit);  // mean 0, standard error ~0.005
  }
}

TEST_CASE("long dot products stay far from float16 overflow", "[quant][random]") {
  BITJIT_RANDOM_ENGINE(rng);
  const MatmulConfig configs[] = {
      long_k_config(DType::float16, DType::uint8, DType::float32, DType::float16, false),
      long_k_config(DType::float16, DType::float8_e5m2, DType::float32, DType::float16, false),
      long_k_config(DType::float16, DType::float8_e5m2, DType::float32, DType::float16, true),
      long_k_config(DType::float16, DType::float16, DType::float16, DType::float16, false),
      long_k_config(DType::int8, DType::int8, DType::int32, DType::float16, false),
      long_k_config(DType::int8, DType::uint8, DType::float32, DType::float16, true),
      long_k_config(DType::bfloat16, DType::uint4, DType::float32, DType::bfloat16, true),
  };
  for (const MatmulConfig& config : configs) {
    INFO(canonical_form(config));
    for (bool fast : {false, true}) {
      CAPTURE(fast);
      const MatmulOperands operands = fast ? random_operands_fast(config, 2, rng) : random_operands(config, 2, rng);
      const ReferenceResult result = reference_matmul(config, 2, operands);
      CHECK(all_finite(result.rounded));
      CHECK(largest_magnitude(result.exact) < 1e4);
      CHECK(largest_magnitude(result.exact) > 0.0);
    }
  }
}

TEST_CASE("activations are never all zero", "[quant][random]") {
  BITJIT_RANDOM_ENGINE(rng);
  MatmulConfig config;
  config.M = 1;
  config.N = 1;
  config.K = 1;
  config.A_dtype = DType::int8;
  config.W_dtype = DType::int8;
  config.accum_dtype = DType::int32;
  config.out_dtype = DType::int32;
  int all_zero = 0;
  for (int trial = 0; trial < 1000; ++trial) all_zero += get_value(random_activations(config, 1, rng), 0) == 0.0;
  CHECK(all_zero == 0);  // about 4 of 1000 single codes would be 0 by chance
}

TEST_CASE("the same seed gives the same operands", "[quant][random]") {
  BITJIT_RANDOM_ENGINE(rng);
  MatmulConfig config;
  config.M = 1;
  config.N = 64;
  config.K = 256;
  config.W_dtype = DType::uint4;
  config.accum_dtype = DType::float32;
  config.with_scaling = config.with_zeros = config.with_bias = true;
  config.group_size = 64;
  const uint64_t seed = rng();
  for (bool fast : {false, true}) {
    std::mt19937_64 first(seed), second(seed), other(seed + 1);
    auto make = [&](std::mt19937_64& engine) {
      return fast ? random_operands_fast(config, 3, engine) : random_operands(config, 3, engine);
    };
    const MatmulOperands a = make(first), b = make(second), c = make(other);
    CHECK(a.A.bytes == b.A.bytes);
    CHECK(a.W.bytes == b.W.bytes);
    CHECK(a.scales.bytes == b.scales.bytes);
    CHECK(a.zeros.bytes == b.zeros.bytes);
    CHECK(a.bias.bytes == b.bias.bytes);
    CHECK(a.W.bytes != c.W.bytes);
  }
}
