// reference_matmul: tiny cases computed by hand, random operands against a direct computation
// written here from docs/formats.md, and the errors for operands that do not match the config.
#include <cmath>
#include <random>
#include <string>

#include "common/error.hpp"
#include "quant/packing.hpp"
#include "quant/random.hpp"
#include "quant/reference.hpp"
#include "tests/quant/sweep.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/text.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

HostTensor tensor_of(DType dtype, std::vector<int64_t> shape, const std::vector<double>& values) {
  HostTensor tensor = make_host_tensor(dtype, std::move(shape));
  REQUIRE(size_t(tensor.numel()) == values.size());
  for (size_t i = 0; i < values.size(); ++i) set_value(tensor, int64_t(i), values[i]);
  return tensor;
}

// N=2, K=8, uint4 weights in two groups of 4, float16 scales [[0.5, 2], [1, 0.25]].
// Codes: row 0 = 0..7, row 1 = 15,15,0,0,8,8,8,8.
MatmulConfig uint4_config() {
  MatmulConfig config;
  config.M = 1;
  config.N = 2;
  config.K = 8;
  config.W_dtype = DType::uint4;
  config.accum_dtype = DType::float32;
  config.group_size = 4;
  config.with_scaling = true;
  return config;
}

MatmulOperands uint4_operands(const MatmulConfig& config) {
  MatmulOperands operands;
  operands.A = tensor_of(DType::float16, {1, 8}, {1, 2, 0, -1, 0.5, 0, 0, 1});
  operands.W = HostTensor{DType::uint4, {2, 4}, {0x10, 0x32, 0x54, 0x76, 0xFF, 0x00, 0x88, 0x88}};
  operands.scales = tensor_of(DType::float16, {2, 2}, {0.5, 2, 1, 0.25});
  if (config.with_zeros && config.zeros_mode == ZerosMode::quantized) {
    // qzeros[g, n]: g0 = (1, 8), g1 = (4, 8), n = 0 in the low nibble.
    operands.zeros = HostTensor{DType::uint4, {2, 1}, {0x81, 0x84}};
  } else if (config.with_zeros) {
    operands.zeros = tensor_of(DType::float16, {2, 2}, {1, 4, 8, 8});
  }
  return operands;
}



}  // namespace

TEST_CASE("uint4 with scales and each zeros mode, by hand", "[quant][reference]") {
  MatmulConfig config = uint4_config();
  // Scaling only, w = q*s. Row 0: 0, .5, 1, 1.5 | 8, 10, 12, 14 -> 1 - 1.5 + 4 + 14 = 17.5.
  // Row 1: 15, 15, 0, 0 | 2, 2, 2, 2 -> 15 + 30 + 1 + 2 = 48.
  ReferenceResult scaled = reference_matmul(config, 1, uint4_operands(config));
  CHECK(scaled.exact == std::vector<double>{17.5, 48});
  CHECK(scaled.rounded == std::vector<double>{17.5, 48});

  config.with_zeros = true;
  config.zeros_mode = ZerosMode::original;
  // w = (q - z)*s. Row 0: -.5, 0, .5, 1 | 0, 2, 4, 6 -> -0.5 - 1 + 6 = 4.5. Row 1: 7, 7, -8, -8 | 0 x4
  // -> 7 + 14 + 8 = 29.
  ReferenceResult original = reference_matmul(config, 1, uint4_operands(config));
  CHECK(original.exact == std::vector<double>{4.5, 29});
  CHECK(original.magnitude == std::vector<double>{7.5, 29});

  config.zeros_mode = ZerosMode::rescale;
  // w = q*s - z. Row 0: -1, -.5, 0, .5 | 4, 6, 8, 10 -> -1 - 1 - 0.5 + 2 + 10 = 9.5.
  // Row 1: 7, 7, -8, -8 | -6 x4 -> 7 + 14 + 8 - 3 - 6 = 20.
  CHECK(reference_matmul(config, 1, uint4_operands(config)).exact == std::vector<double>{9.5, 20});

  config.zeros_mode = ZerosMode::quantized;
  // w = (q - zq)*s with the integer zero points of `original`: the same values.
  CHECK(reference_matmul(config, 1, uint4_operands(config)).exact == std::vector<double>{4.5, 29});
  CHECK(dequantize_reference(config, uint4_operands(config)) ==
        std::vector<double>{-0.5, 0, 0.5, 1, 0, 2, 4, 6, 7, 7, -8, -8, 0, 0, 0, 0});

  config.with_bias = true;  // bias is added after the sum
  MatmulOperands with_bias = uint4_operands(config);
  with_bias.bias = tensor_of(DType::float16, {2}, {0.25, -1});
  ReferenceResult biased = reference_matmul(config, 1, with_bias);
  CHECK(biased.exact == std::vector<double>{4.75, 28});
  CHECK(biased.magnitude == std::vector<double>{7.75, 30});
}

TEST_CASE("int8 x int4 accumulates exactly in int32 and saturates an int8 output", "[quant][reference]") {
  MatmulConfig config;
  config.M = 2;
  config.N = 2;
  config.K = 4;
  config.A_dtype = DType::int8;
  config.W_dtype = DType::int4;
  config.accum_dtype = DType::int32;
  config.out_dtype = DType::int8;
  config.with_bias = true;
  MatmulOperands operands;
  operands.A = tensor_of(DType::int8, {2, 4}, {127, 127, 127, 127, -3, 5, 0, 1});
  // Logical rows (7, 7, 7, 7) and (-8, 1, 0, 2) -> codes 15,15,15,15 and 0,9,8,10.
  const std::vector<int8_t> logical = {7, 7, 7, 7, -8, 1, 0, 2};
  operands.W = HostTensor{DType::int4, {2, 2}, general_compress(logical_to_codes(DType::int4, logical), 2, 4, 4)};
  CHECK(operands.W.bytes == std::vector<uint8_t>{0xFF, 0xFF, 0x90, 0xA8});
  operands.bias = tensor_of(DType::int8, {2}, {10, -20});  // bias in out_dtype for integer A

  // 127*28 + 10, 127*(-5) - 20, 7*3 + 10, (24 + 5 + 2) - 20
  const ReferenceResult result = reference_matmul(config, 2, operands);
  CHECK(result.exact == std::vector<double>{3566, -655, 31, 11});
  CHECK(result.rounded == std::vector<double>{127, -128, 31, 11});
  CHECK(result.magnitude == std::vector<double>{3566, 1417, 73, 51});

  config.out_dtype = DType::int32;
  operands.bias = tensor_of(DType::int32, {2}, {10, -20});
  CHECK(reference_matmul(config, 2, operands).rounded == std::vector<double>{3566, -655, 31, 11});
}

TEST_CASE("the output cast rounds to nearest even after the bias", "[quant][reference]") {
  MatmulConfig config;
  config.M = 1;
  config.N = 1;
  config.K = 2;
  MatmulOperands operands;
  operands.A = tensor_of(DType::float16, {1, 2}, {1, std::ldexp(1.0, -11)});
  operands.W = tensor_of(DType::float16, {1, 2}, {1, 1});
  const ReferenceResult tie = reference_matmul(config, 1, operands);
  CHECK(tie.exact == std::vector<double>{1 + std::ldexp(1.0, -11)});
  CHECK(tie.rounded == std::vector<double>{1.0});  // halfway: to the even mantissa

  config.with_bias = true;
  operands.bias = tensor_of(DType::float16, {1}, {std::ldexp(1.0, -11)});
  CHECK(reference_matmul(config, 1, operands).rounded == std::vector<double>{1 + std::ldexp(1.0, -10)});

  config.with_bias = false;
  operands.bias = {};
  config.A_dtype = config.W_dtype = config.out_dtype = DType::bfloat16;
  config.accum_dtype = DType::float32;
  operands.A = tensor_of(DType::bfloat16, {1, 2}, {1, std::ldexp(3.0, -9)});
  operands.W = tensor_of(DType::bfloat16, {1, 2}, {1, 1});
  CHECK(reference_matmul(config, 1, operands).rounded == std::vector<double>{1 + std::ldexp(1.0, -7)});
}

namespace {

// docs/formats.md once more, from the stored bytes: unpack, decode each field, apply the zeros mode.
std::vector<double> direct_weights(const MatmulConfig& config, const MatmulOperands& operands) {
  const DTypeInfo& row = info(config.W_dtype);
  const int64_t N = config.N, K = config.K, G = group_count(config), group_size = effective_group_size(config);
  std::vector<uint32_t> codes(size_t(N * K));
  if (row.bits <= 8) {
    const auto fields = general_decompress(operands.W.bytes, N, K, row.bits);
    codes.assign(fields.begin(), fields.end());
  } else {
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = operands.W.bytes[2 * i] | (operands.W.bytes[2 * i + 1] << 8);
  }
  std::vector<uint8_t> qzeros;
  if (config.with_zeros && config.zeros_mode == ZerosMode::quantized) {
    qzeros = general_decompress(operands.zeros.bytes, G, N, row.bits);
  }
  std::vector<double> w(size_t(N * K));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      const int64_t g = k / group_size;
      const uint32_t q = codes[size_t(n * K + k)];
      const double v = row.decode(q);
      double value = v;
      if (config.with_scaling) {
        const double s = get_value(operands.scales, n * G + g);
        value = v * s;
        if (config.with_zeros && config.zeros_mode == ZerosMode::quantized) {
          value = (double(q) - qzeros[size_t(g * N + n)]) * s;
        } else if (config.with_zeros) {
          const double z = get_value(operands.zeros, n * G + g);
          value = config.zeros_mode == ZerosMode::original ? (v - z) * s : v * s - z;
        }
      }
      w[size_t(n * K + k)] = value;
    }
  }
  return w;
}

}  // namespace

TEST_CASE("random operands: the reference agrees with a direct computation", "[quant][reference]") {
  BITJIT_RANDOM_ENGINE(rng);
  const DType float_outputs[] = {DType::float16, DType::bfloat16, DType::float32};
  const DType int_outputs[] = {DType::int32, DType::int8};
  int checked = 0;
  for (MatmulConfig config : bitjit::testing::accepted_weight_configs(16, 64, {-1, 32})) {
    config.with_bias = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    const int pick = std::uniform_int_distribution<int>(0, 2)(rng);
    config.out_dtype = config.accum_dtype == DType::int32 ? int_outputs[pick % 2] : float_outputs[pick];
    INFO(canonical_form(config));
    const int64_t M = std::uniform_int_distribution<int64_t>(1, 3)(rng);
    const MatmulOperands operands = random_operands(config, M, rng);
    const ReferenceResult result = reference_matmul(config, M, operands);
    REQUIRE(result.exact.size() == size_t(M * config.N));

    const std::vector<double> w = direct_weights(config, operands);
    bool all_close = true;
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < config.N; ++n) {
        double sum = 0, magnitude = 0;
        for (int64_t k = 0; k < config.K; ++k) {
          const double product = get_value(operands.A, m * config.K + k) * w[size_t(n * config.K + k)];
          sum += product;
          magnitude += std::fabs(product);
        }
        const double bias = config.with_bias ? get_value(operands.bias, n) : 0.0;
        const size_t i = size_t(m * config.N + n);
        const double tolerance = 1e-13 * (magnitude + std::fabs(bias));
        all_close &= std::fabs(result.exact[i] - (sum + bias)) <= tolerance;
        all_close &= std::fabs(result.magnitude[i] - (magnitude + std::fabs(bias))) <= tolerance;
        all_close &= result.rounded[i] == round_to(config.out_dtype, result.exact[i]);
      }
    }
    CHECK(all_close);
    ++checked;
  }
  CHECK(checked > 250);
}

TEST_CASE("operands that do not match the config are named in the error", "[quant][reference]") {
  BITJIT_RANDOM_ENGINE(rng);
  MatmulConfig config = uint4_config();
  config.with_zeros = true;
  const MatmulOperands good = random_operands(config, 2, rng);
  REQUIRE_NOTHROW(reference_matmul(config, 2, good));

  MatmulOperands bad = good;
  bad.W.shape = {2, 8};
  const std::string wrong_w = error_of([&] { reference_matmul(config, 2, bad); });
  CHECK(contains(wrong_w, "operand 'W'"));
  CHECK(contains(wrong_w, "expected uint4 [2, 4]"));
  CHECK(contains(wrong_w, "got uint4 [2, 8]"));

  bad = good;
  bad.scales.dtype = DType::bfloat16;
  CHECK(contains(error_of([&] { reference_matmul(config, 2, bad); }), "operand 'scales': expected float16"));

  bad = good;
  bad.zeros.bytes.pop_back();
  const std::string short_zeros = error_of([&] { reference_matmul(config, 2, bad); });
  CHECK(contains(short_zeros, "operand 'zeros'"));
  CHECK(contains(short_zeros, "needs 8"));

  CHECK(contains(error_of([&] { reference_matmul(config, 3, good); }), "operand 'A'"));
  bad = good;
  bad.bias = make_host_tensor(DType::float16, {2});
  CHECK(contains(error_of([&] { reference_matmul(config, 2, bad); }), "operand 'bias': the config does not use it"));
  CHECK(contains(error_of([&] { reference_matmul(config, 0, good); }), "M=0"));

  bad = good;
  bad.A = {};  // dequantize_reference reads only W, scales and zeros
  CHECK(dequantize_reference(config, bad).size() == 16);
  MatmulConfig invalid = config;
  invalid.group_size = 3;
  CHECK_THROWS_AS(reference_matmul(invalid, 2, good), ConfigError);
}
