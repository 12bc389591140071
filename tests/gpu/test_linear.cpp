// bitjit::Linear on the GPU: quantized from float weights or loaded from a GPTQ checkpoint, any
// number of rows, against the float64 reference of the same operands.
#include <limits>
#include <random>

#include "common/error.hpp"
#include "quant/checkpoints.hpp"
#include "quant/quantize.hpp"
#include "quant/random.hpp"
#include "quant/reference.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/linear.hpp"
#include "tests/gpu/gpu_check.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/text.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

// Runs the layer on A and compares C with reference_matmul of (A, the weights the layer holds).
void check_forward(const Linear& linear, const MatmulOperands& weights, int64_t M, std::mt19937_64& rng) {
  const MatmulConfig& config = linear.config();
  MatmulOperands operands = weights;
  operands.A = random_operands(config, M, rng).A;
  const ReferenceResult reference = reference_matmul(config, M, operands);
  const OperandSpecs specs = operand_specs(config, M);
  DeviceBuffer a(operands.A.bytes.size()), c(size_t(specs.C.bytes()));
  a.upload(operands.A.bytes.data(), operands.A.bytes.size());
  linear.forward(TensorView(a.data(), specs.A.dtype, specs.A.shape), TensorView(c.data(), specs.C.dtype, specs.C.shape));
  HostTensor out = make_host_tensor(specs.C.dtype, specs.C.shape);
  c.download(out.bytes.data(), out.bytes.size());
  for (int64_t i = 0; i < M * config.N; ++i) {
    const double got = get_value(out, i);
    INFO("M=" << M << " element " << i << " got " << got << " expected " << reference.exact[i]);
    REQUIRE(std::abs(got - reference.exact[i]) <= tolerance(config, linear.matmul().schedule_for(M).family, reference.exact[i], reference.magnitude[i]));
  }
}

}  // namespace

TEST_CASE("Linear quantizes float weights and runs any number of rows", "[gpu][linear]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  ensure_context();
  LinearOptions options;
  options.W_dtype = DType::uint4;
  options.group_size = 64;
  options.with_scaling = options.with_zeros = true;
  const int64_t in_features = 512, out_features = 72;
  Linear linear(in_features, out_features, true, options);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> weight(static_cast<size_t>(in_features * out_features));
  std::vector<float> bias(static_cast<size_t>(out_features));
  for (float& w : weight) w = normal(rng);
  for (float& b : bias) b = normal(rng);
  CHECK_THROWS_AS(linear.forward(TensorView(), TensorView()), Error);  // nothing loaded yet
  linear.load_from_float(weight, bias);
  const QuantizedWeight quantized = quantize_weight(linear.config(), weight);
  MatmulOperands weights;
  weights.W = quantized.W;
  weights.scales = quantized.scales;
  weights.zeros = quantized.zeros;
  weights.bias = make_host_tensor(bias_dtype(linear.config()), {out_features});
  for (int64_t n = 0; n < out_features; ++n) set_value(weights.bias, n, bias[n]);
  for (int64_t M : {1, 7, 16, 33}) check_forward(linear, weights, M, rng);
  CHECK_THROWS_AS(linear.load_from_float(weight), ConfigError);  // the layer has a bias
}

TEST_CASE("Linear runs a GPTQ checkpoint as stored", "[gpu][linear]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  ensure_context();
  const int64_t K = 256, N = 64, groups = 2;
  std::uniform_int_distribution<int32_t> word(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  std::vector<int32_t> qweight(size_t(K / 8 * N)), qzeros(size_t(groups * N / 8));
  for (int32_t& w : qweight) w = word(rng);
  for (int32_t& w : qzeros) w = word(rng);
  std::vector<uint16_t> scales;
  std::uniform_real_distribution<double> scale(1e-3, 2e-2);
  for (int64_t i = 0; i < groups * N; ++i) scales.push_back(uint16_t(encode_value(DType::float16, scale(rng))));
  const CheckpointLayer checkpoint = from_gptq(K, N, 4, qweight, qzeros, scales);
  Linear linear(K, N, false, Linear::options_for(checkpoint));
  linear.load_checkpoint(checkpoint);
  MatmulOperands weights;
  weights.W = checkpoint.W;
  weights.scales = checkpoint.scales;
  weights.zeros = checkpoint.zeros;
  for (int64_t M : {1, 5, 16}) check_forward(linear, weights, M, rng);
  Linear other(K, N, false, {});
  CHECK_THROWS_AS(other.load_checkpoint(checkpoint), ConfigError);
  // An act-order checkpoint (groups interleaved along K) would need A's columns gathered: refused.
  std::vector<int32_t> g_idx(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) g_idx[size_t(k)] = int32_t(k % groups);
  const CheckpointLayer act_order = from_gptq(K, N, 4, qweight, qzeros, scales, g_idx);
  REQUIRE(act_order.permutation.size() == size_t(K));
  CHECK(contains(error_of([&] { linear.load_checkpoint(act_order); }), "an act-order (desc_act) checkpoint permutes K"));
}
