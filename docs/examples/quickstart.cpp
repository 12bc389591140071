// bitjit quick start: a W_INT4 x A_FP16 matmul, checked against the float64 CPU reference.
// Built with the project (target `quickstart`); needs a GPU to run.
#include <cmath>
#include <cstdio>
#include <random>

#include "quant/packing.hpp"
#include "quant/reference.hpp"
#include "runtime/device.hpp"
#include "runtime/matmul.hpp"

int main() {
  bitjit::MatmulConfig config;
  config.M = 1;
  config.N = 2048;
  config.K = 1024;
  config.A_dtype = bitjit::DType::float16;
  config.W_dtype = bitjit::DType::int4;
  config.accum_dtype = bitjit::DType::float16;
  config.out_dtype = bitjit::DType::float16;
  config.layout = "nt";
  config.with_bias = false;
  config.group_size = -1;
  config.with_scaling = false;
  config.with_zeros = false;
  const bitjit::Matmul matmul = bitjit::Matmul::create(config);  // compiles for this GPU

  // Random int4 weights in [-8, 7] and fp16 activations in [0, 1).
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> weight_value(-8, 7);
  std::uniform_real_distribution<double> activation_value(0.0, 1.0);
  std::vector<int8_t> weight(config.N * config.K);
  for (auto& w : weight) w = int8_t(weight_value(rng));
  bitjit::MatmulOperands host;
  host.A = bitjit::make_host_tensor(bitjit::DType::float16, {1, config.K});
  for (int64_t k = 0; k < config.K; ++k) bitjit::set_value(host.A, k, activation_value(rng));

  // Pack: offset int4 to its stored codes, then general_compress along K (two codes per byte).
  const std::vector<uint8_t> codes = bitjit::logical_to_codes(config.W_dtype, weight);
  host.W = bitjit::make_host_tensor(config.W_dtype, {config.N, config.K / 2});
  host.W.bytes = bitjit::general_compress(codes, config.N, config.K, 4);
  // The kernel's own layout (the CPU reference below reads general_compress's).
  const bitjit::HostTensor kernel_W = matmul.transform_weight(host.W);

  bitjit::DeviceBuffer A(host.A.bytes.size()), W(kernel_W.bytes.size()), C(config.N * 2);
  A.upload(host.A.bytes.data(), host.A.bytes.size());
  W.upload(kernel_W.bytes.data(), kernel_W.bytes.size());
  matmul.run({A.data(), bitjit::DType::float16, {1, config.K}}, {W.data(), config.W_dtype, kernel_W.shape},
             {C.data(), bitjit::DType::float16, {1, config.N}});
  bitjit::HostTensor out = bitjit::make_host_tensor(bitjit::DType::float16, {1, config.N});
  C.download(out.bytes.data(), out.bytes.size());  // synchronous: waits for the run on the default stream

  const bitjit::ReferenceResult reference = bitjit::reference_matmul(config, 1, host);
  double worst = 0;
  for (int64_t n = 0; n < config.N; ++n) {
    worst = std::max(worst, std::fabs(bitjit::get_value(out, n) - reference.exact[n]) / (1 + std::fabs(reference.exact[n])));
  }
  std::printf("C[0, 0:4]  bitjit: %.3f %.3f %.3f %.3f\n", bitjit::get_value(out, 0), bitjit::get_value(out, 1),
              bitjit::get_value(out, 2), bitjit::get_value(out, 3));
  std::printf("C[0, 0:4]  float64: %.3f %.3f %.3f %.3f\n", reference.exact[0], reference.exact[1], reference.exact[2],
              reference.exact[3]);
  std::printf("largest error relative to 1 + |C|: %.2e (fp16 output: half an ulp is 4.9e-4)\n", worst);
  std::printf("latency: %.2f us on %s\n", 1000 * matmul.profile_latency(), bitjit::current_device_info().name.c_str());
  return worst < 2e-3 ? 0 : 1;
}
