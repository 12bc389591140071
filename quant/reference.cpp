#include "quant/reference.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "common/text.hpp"

namespace bitjit {
namespace {

// info(dtype).decode, through a table of every code when there are enough elements to repay it.
class CodeDecoder {
 public:
  CodeDecoder(DType dtype, int64_t element_count) : row_(info(dtype)) {
    if (row_.bits > 16 || int64_t(row_.code_count()) > 4 * element_count) return;
    table_.resize(row_.code_count());
    for (uint32_t q = 0; q < table_.size(); ++q) table_[q] = row_.decode(q);
  }
  double operator()(uint32_t q) const { return table_.empty() ? row_.decode(q) : table_[q]; }

 private:
  const DTypeInfo& row_;
  std::vector<double> table_;
};

// Field `index` of a tensor packed along its last axis; for 8/16-bit formats, element `index`.
uint32_t stored_field(const HostTensor& tensor, int64_t index) {
  const DTypeInfo& row = info(tensor.dtype);
  if (!row.is_packed()) return get_bits(tensor, index);
  const int per_byte = row.elements_per_byte();
  const uint8_t byte = tensor.bytes[size_t(index / per_byte)];
  return (byte >> ((index % per_byte) * row.bits)) & ((1u << row.bits) - 1);
}

std::vector<double> decode_all(const HostTensor& tensor) {
  const int64_t count = tensor.numel();
  const CodeDecoder decode(tensor.dtype, count);
  std::vector<double> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[size_t(i)] = decode(get_bits(tensor, i));
  return values;
}

// w from v = v(q), the raw field q, scale s and zero z (docs/formats.md, Operands and dequantization).
double dequantize_element(const MatmulConfig& config, double v, uint32_t q, double s, double z) {
  if (!config.with_scaling) return v;
  if (!config.with_zeros) return v * s;
  switch (config.zeros_mode) {
    case ZerosMode::original: return (v - z) * s;
    case ZerosMode::rescale: return v * s - z;
    case ZerosMode::quantized: return (double(q) - z) * s;
  }
  return v;
}

// zeros[n, g] for every (n, g): floats in the scale dtype, or the unpacked qzeros[g, n] codes.
std::vector<double> zero_points(const MatmulConfig& config, const HostTensor& zeros) {
  const int64_t N = config.N, groups = group_count(config);
  if (!config.with_zeros) return std::vector<double>(size_t(N * groups), 0.0);
  if (config.zeros_mode != ZerosMode::quantized) return decode_all(zeros);
  std::vector<double> points(static_cast<size_t>(N * groups));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < groups; ++g) points[size_t(n * groups + g)] = double(stored_field(zeros, g * N + n));
  }
  return points;
}

void check_weight_operands(const OperandSpecs& specs, const MatmulOperands& operands) {
  check_operand("W", specs.W, operands.W);
  check_operand("scales", specs.scales, operands.scales);
  check_operand("zeros", specs.zeros, operands.zeros);
}

std::vector<double> dequantize_checked(const MatmulConfig& config, const MatmulOperands& operands) {
  const int64_t N = config.N, K = config.K, group_size = effective_group_size(config), groups = group_count(config);
  const CodeDecoder decode(config.W_dtype, N * K);
  const std::vector<double> scales =
      config.with_scaling ? decode_all(operands.scales) : std::vector<double>(size_t(N * groups), 1.0);
  const std::vector<double> zeros = zero_points(config, operands.zeros);
  std::vector<double> w(static_cast<size_t>(N * K));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      const size_t group = size_t(n * groups + k / group_size);
      const uint32_t q = stored_field(operands.W, n * K + k);
      w[size_t(n * K + k)] = dequantize_element(config, decode(q), q, scales[group], zeros[group]);
    }
  }
  return w;
}

// exact and magnitude of C[:, n_begin:n_end]; the bias is added last.
void accumulate_columns(const std::vector<double>& a, const std::vector<double>& w, const std::vector<double>& bias,
                        int64_t M, int64_t K, int64_t N, int64_t n_begin, int64_t n_end, ReferenceResult& result) {
  for (int64_t m = 0; m < M; ++m) {
    const double* a_row = a.data() + m * K;
    for (int64_t n = n_begin; n < n_end; ++n) {
      const double* w_row = w.data() + n * K;
      double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double product = a_row[k] * w_row[k];
        sum += product;
        magnitude += std::fabs(product);
      }
      result.exact[size_t(m * N + n)] = sum + bias[size_t(n)];
      result.magnitude[size_t(m * N + n)] = magnitude + std::fabs(bias[size_t(n)]);
    }
  }
}

}  // namespace

void check_operand(const char* name, const OperandSpec& spec, const HostTensor& tensor) {
  const std::string prefix = std::string("operand '") + name + "': ";
  if (!spec.used()) {
    if (!tensor.shape.empty() || !tensor.bytes.empty()) {
      throw ConfigError(prefix + "the config does not use it, but a tensor of shape " + shape_text(tensor.shape) +
                        " was given; leave it empty");
    }
    return;
  }
  if (tensor.dtype != spec.dtype || tensor.shape != spec.shape) {
    throw ConfigError(prefix + "expected " + std::string(to_string(spec.dtype)) + " " + shape_text(spec.shape) +
                      ", got " + std::string(to_string(tensor.dtype)) + " " + shape_text(tensor.shape));
  }
  if (tensor.bytes.size() != size_t(spec.bytes())) {
    throw ConfigError(prefix + "holds " + std::to_string(tensor.bytes.size()) + " bytes, but " +
                      std::string(to_string(spec.dtype)) + " " + shape_text(spec.shape) + " needs " +
                      std::to_string(spec.bytes()));
  }
}

std::vector<double> dequantize_reference(const MatmulConfig& config, const MatmulOperands& operands) {
  validate(config);
  check_weight_operands(operand_specs(config, 1), operands);
  return dequantize_checked(config, operands);
}

ReferenceResult reference_matmul(const MatmulConfig& config, int64_t M, const MatmulOperands& operands) {
  validate(config);
  if (M < 1) throw ConfigError("reference_matmul: M=" + std::to_string(M) + " must be at least 1");
  const OperandSpecs specs = operand_specs(config, M);
  check_operand("A", specs.A, operands.A);
  check_weight_operands(specs, operands);
  check_operand("bias", specs.bias, operands.bias);

  const int64_t N = config.N, K = config.K;
  const std::vector<double> a = decode_all(operands.A);
  const std::vector<double> w = dequantize_checked(config, operands);
  const std::vector<double> bias = config.with_bias ? decode_all(operands.bias) : std::vector<double>(size_t(N), 0.0);

  ReferenceResult result{M, N, std::vector<double>(size_t(M * N)), std::vector<double>(size_t(M * N)),
                         std::vector<double>(size_t(M * N))};
  constexpr double kWorkWorthThreads = 1e7;  // multiply-adds
  const bool worth_threads = double(M) * double(N) * double(K) >= kWorkWorthThreads;
  for_each_range_in_parallel(N, worth_threads, [&](int64_t n_begin, int64_t n_end) {
    accumulate_columns(a, w, bias, M, K, N, n_begin, n_end, result);
  });
  // The cast comes after the bias.
  for (size_t i = 0; i < result.exact.size(); ++i) result.rounded[i] = round_to(config.out_dtype, result.exact[i]);
  return result;
}

}  // namespace bitjit
