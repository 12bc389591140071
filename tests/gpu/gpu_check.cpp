#include "tests/gpu/gpu_check.hpp"

#include <cmath>

#include "quant/host_tensor.hpp"
#include "quant/random.hpp"
#include "runtime/device.hpp"

namespace bitjit::testing {
namespace {

constexpr size_t kMaxReports = 20;

TensorView view_of(const DeviceBuffer& buffer, const HostTensor& host) {
  return host.empty() ? TensorView() : TensorView(buffer.data(), host.dtype, host.shape);
}

HostTensor run_once(const Matmul& matmul, int64_t M, const MatmulOperands& operands, uint8_t poison) {
  const OperandSpecs specs = operand_specs(matmul.config(), M);
  const HostTensor weights = matmul.transform_weight(operands.W);  // the layout the kernel reads
  DeviceBuffer a = upload_host_tensor(operands.A), w = upload_host_tensor(weights),
               scales = upload_host_tensor(operands.scales), zeros = upload_host_tensor(operands.zeros),
               bias = upload_host_tensor(operands.bias);
  HostTensor c = make_host_tensor(specs.C.dtype, specs.C.shape);
  DeviceBuffer out(c.bytes.size());
  out.fill_bytes(poison);
  Stream stream;
  matmul.run(view_of(a, operands.A), view_of(w, weights), TensorView(out.data(), c.dtype, c.shape),
             view_of(scales, operands.scales), view_of(zeros, operands.zeros), view_of(bias, operands.bias),
             stream.get());
  stream.synchronize();
  out.download(c.bytes.data(), c.bytes.size());
  return c;
}

}  // namespace

double tolerance(const MatmulConfig& config, KernelFamily family, double exact, double magnitude) {
  const bool integer_out = config.out_dtype == DType::int32 || config.out_dtype == DType::int8;
  if (config.accum_dtype == DType::int32 && integer_out) return 0.0;
  // float32 accumulation: CUDA-core sums stay within K/32 + 41 float ulps of sum |a*w| (chunked
  // sums); tensor cores may truncate inside each mma step, up to one ulp (two half-ulps) per 16 k.
  double accumulation = config.accum_dtype == DType::int32
                            ? std::ldexp(magnitude, -24)  // one int -> float conversion
                            : (double(config.K) / 8.0 + 41.0) * std::ldexp(magnitude, -24);
  // The tensor-core kernels feed nf4's levels to the mma in A's 16-bit type: half an ulp of it each.
  const bool float_activations = config.A_dtype == DType::float16 || config.A_dtype == DType::bfloat16;
  if (config.W_dtype == DType::nf4 && float_activations) {
    accumulation += std::ldexp(magnitude, -1 - info(config.A_dtype).codec->mantissa_bits);
  }
  // fp8 wgmma adds its products with about 13 fraction bits, truncating (measured: the sums of 1040
  // e4m3 products 1.4e-5 of sum |a*w| off, above float32's bound). Both Hopper families start a
  // fresh chain every stage and add it to float32 sums, so at most block_k / 32 <= 8 instructions
  // each lose under 2^-13 of the stage's share of sum |a*w|: under 2^-10 of it in all.
  // The fp8 mma.sync of tensor_gemv (sm_89's QMMA; sm_90a converts to fp16 for HMMA) is given the
  // same bound: each run of at most 64 k starts a fresh chain that is added to float32 sums. The
  // W4A8 kernels with fp8 activations (tensor_wgmma, tensor_gemm) start one per scale group or
  // stage, whichever ends first, and a stage may hold 1024 k: 32 instructions, under 2^-8 in all.
  const bool fp8 = fp8_activations(config);
  if (fp8 && (is_hopper_family(family) || family == KernelFamily::tensor_gemv || family == KernelFamily::tensor_gemm)) {
    const bool long_chains = w4a8_operands(config) && family != KernelFamily::tensor_gemv;
    accumulation += std::ldexp(magnitude, long_chains ? -8 : -10);
  }
  // tensor_gemm and the Hopper families scale each decoded weight in A's 16-bit type before the mma:
  // one rounding of half an ulp of it per product. The W4A8 and W8A8 kernels (8-bit activations)
  // scale their float32 sums instead, so only float32's accumulation bound applies to them (and
  // their activation types have no 16-bit float codec to take an ulp from).
  const bool scales_weights = family == KernelFamily::tensor_gemm || is_hopper_family(family);
  if (scales_weights && config.with_scaling && float_activations) {
    accumulation += std::ldexp(magnitude, -info(config.A_dtype).codec->mantissa_bits);
  }
  const FloatCodec& out = *info(config.out_dtype).codec;
  const double ulp = std::ldexp(std::fabs(exact), -out.mantissa_bits);
  const double smallest_subnormal = std::ldexp(1.0, 1 - out.bias - out.mantissa_bits);
  return accumulation + ulp + smallest_subnormal;
}

void GpuChecker::check_random(const Matmul& matmul, int64_t M, std::mt19937_64& rng) {
  const MatmulOperands operands = random_operands(matmul.config(), M, rng);
  check(matmul, M, operands, reference_matmul(matmul.config(), M, operands));
}

void GpuChecker::check(const Matmul& matmul, int64_t M, const MatmulOperands& operands,
                       const ReferenceResult& reference) {
  const MatmulConfig& config = matmul.config();
  const HostTensor first = run_once(matmul, M, operands, 0xFF);  // NaN in every float format
  const bool integer_out = !info(config.out_dtype).is_float();
  const HostTensor second = integer_out ? run_once(matmul, M, operands, 0x5A) : first;
  const bool written = first.bytes == second.bytes;  // once: inside the loop it made the check quadratic
  const KernelFamily family = matmul.schedule_for(M).family;
  for (int64_t i = 0; i < M * config.N; ++i) {
    const double got = get_value(first, i);
    const double bound = tolerance(config, family, reference.exact[i], reference.magnitude[i]);
    // Integer outputs (saturated) and overflowed float outputs must match the reference's cast exactly.
    const bool exact_match_required = integer_out || std::isinf(reference.rounded[i]);
    const bool close = exact_match_required ? got == reference.rounded[i]
                                            : std::fabs(got - reference.exact[i]) <= bound;
    if (std::isnan(got) || !written || !close) {
      report(matmul, M, i, got, reference.exact[i], bound);
      return;  // one report per run is enough to find it
    }
  }
}

void GpuChecker::report(const Matmul& matmul, int64_t M, int64_t index, double got, double expected, double bound) {
  ++failures_;
  if (reported_++ >= kMaxReports) return;
  const int64_t N = matmul.config().N;
  std::printf("MISMATCH config %s M=%lld at C[%lld, %lld]: got %.9g, expected %.9g (tolerance %.3g)\n",
              canonical_form(matmul.config()).c_str(), (long long)M, (long long)(index / N), (long long)(index % N),
              got, expected, bound);
}

}  // namespace bitjit::testing
