#include "quant/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.hpp"
#include "quant/packing.hpp"

namespace bitjit {
namespace {

struct GroupStats {
  double min = 0, max = 0, absmax = 0, mean_abs = 0;
};

// A group's scale and zero point, already rounded to how they are stored.
struct GroupParams {
  double scale = 1.0;
  double zero = 0.0;  // float zero point (original, rescale) or the integer code zq (quantized)
};

std::string where(int64_t n, int64_t g) {
  return "row n=" + std::to_string(n) + ", group g=" + std::to_string(g);
}

GroupStats group_stats(std::span<const float> values, int64_t n, int64_t k0) {
  GroupStats stats{values[0], values[0], 0, 0};
  double sum_abs = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double w = values[i];
    if (!std::isfinite(w)) {
      throw Error("quantize_weight: weight[n=" + std::to_string(n) + ", k=" + std::to_string(k0 + int64_t(i)) +
                  "] = " + std::to_string(w) + " is not finite");
    }
    stats.min = std::min(stats.min, w);
    stats.max = std::max(stats.max, w);
    stats.absmax = std::max(stats.absmax, std::fabs(w));
    sum_abs += std::fabs(w);
  }
  stats.mean_abs = sum_abs / double(values.size());
  return stats;
}

double max_code(DType dtype) { return double(info(dtype).code_count() - 1); }

struct Range {
  double lo, hi;
};

// The range a zero-point quantizer maps onto the codes [0, 2^b - 1]. original and quantized keep 0
// inside it, so that the zero point is itself a value in [0, 2^b - 1]; rescale stores -min directly
// and can follow the group's own range.
Range zero_point_range(const MatmulConfig& config, const GroupStats& stats) {
  if (config.zeros_mode == ZerosMode::rescale) return {stats.min, stats.max};
  return {std::min(stats.min, 0.0), std::max(stats.max, 0.0)};
}

// The unrounded scale of a group, per format and zeros mode (docs/formats.md).
double ideal_scale(const MatmulConfig& config, const GroupStats& stats, double largest_value) {
  const DType w = config.W_dtype;
  if (config.with_zeros) {
    const Range range = zero_point_range(config, stats);
    return (range.hi - range.lo) / max_code(w);
  }
  if (w == DType::int1) return stats.mean_abs;
  if (!info(w).is_signed) return std::max(stats.max, 0.0) / max_code(w);
  return stats.absmax / largest_value;
}

double round_scale_operand(DType scale_dtype, double value, int64_t n, int64_t g, const char* what) {
  const double rounded = round_to(scale_dtype, value);
  if (!std::isfinite(rounded)) {
    throw Error("quantize_weight: the " + std::string(what) + " of " + where(n, g) + " (" + std::to_string(value) +
                ") overflows " + std::string(to_string(scale_dtype)));
  }
  return rounded;
}

GroupParams choose_params(const MatmulConfig& config, double largest_value, const GroupStats& stats, int64_t n,
                          int64_t g) {
  GroupParams params;
  if (!config.with_scaling) return params;
  const DType stored = scale_dtype(config);
  params.scale = round_scale_operand(stored, ideal_scale(config, stats, largest_value), n, g, "scale");
  if (params.scale == 0.0) params.scale = 1.0;  // all-zero (rescale: constant) group; any scale will do
  if (!config.with_zeros) return params;
  const double minus_lo = 0.0 - zero_point_range(config, stats).lo;  // not -lo: -0.0 would store a sign bit
  switch (config.zeros_mode) {
    case ZerosMode::original:
      params.zero = round_scale_operand(stored, minus_lo / params.scale, n, g, "zero point");
      break;
    case ZerosMode::rescale: params.zero = round_scale_operand(stored, minus_lo, n, g, "zero point"); break;
    case ZerosMode::quantized:
      params.zero = std::clamp(std::nearbyint(minus_lo / params.scale), 0.0, max_code(config.W_dtype));
      break;
  }
  return params;
}

// The code whose decoded value v(q) is nearest to x; the ends of the range take everything beyond.
uint32_t nearest_code(DType dtype, double x) {
  const DTypeInfo& row = info(dtype);
  switch (row.kind) {
    case ValueKind::floating: return row.codec->encode(x, /*saturate=*/true);
    case ValueKind::binary: return x >= 0 ? 1u : 0u;
    case ValueKind::lookup: {
      const auto levels = nf4_levels();
      uint32_t best = 0;
      for (uint32_t q = 1; q < levels.size(); ++q) {
        if (std::fabs(x - levels[q]) < std::fabs(x - levels[best])) best = q;
      }
      return best;
    }
    case ValueKind::twos_complement:
    case ValueKind::offset_binary:
    case ValueKind::unsigned_int: break;
  }
  // Integer formats: v(q) = q - offset over q in [0, 2^bits).
  const double offset = row.kind == ValueKind::unsigned_int ? 0.0 : std::ldexp(1.0, row.bits - 1);
  const double v = std::clamp(std::nearbyint(x), -offset, max_code(dtype) - offset);
  const uint32_t q = uint32_t(int64_t(v + offset));
  // int8's stored field is the two's complement byte, not offset binary.
  return row.kind == ValueKind::twos_complement ? uint32_t(uint8_t(int8_t(v))) : q;
}

// What the quantizer rounds: w mapped into code space (the inverse of the dequant formula).
double to_code_space(const MatmulConfig& config, const GroupParams& p, double w) {
  if (!config.with_scaling) return w;
  if (!config.with_zeros) return w / p.scale;
  switch (config.zeros_mode) {
    case ZerosMode::original: return w / p.scale + p.zero;
    case ZerosMode::rescale: return (w + p.zero) / p.scale;
    case ZerosMode::quantized: return w / p.scale + p.zero;
  }
  return w;
}

// The dequant formulas of docs/formats.md (Operands and dequantization), with v the decoded value and q the raw field.
double dequantize_one(const MatmulConfig& config, const GroupParams& p, double v, uint32_t q) {
  if (!config.with_scaling) return v;
  if (!config.with_zeros) return v * p.scale;
  switch (config.zeros_mode) {
    case ZerosMode::original: return (v - p.zero) * p.scale;
    case ZerosMode::rescale: return v * p.scale - p.zero;
    case ZerosMode::quantized: return (double(q) - p.zero) * p.scale;
  }
  return v;
}

void store_group_params(QuantizedWeight& out, const MatmulConfig& config, const GroupParams& p, int64_t n,
                        int64_t g, std::vector<uint8_t>& zero_codes) {
  if (!config.with_scaling) return;
  const int64_t groups = group_count(config);
  set_value(out.scales, n * groups + g, p.scale);
  if (!config.with_zeros) return;
  if (config.zeros_mode == ZerosMode::quantized) {
    zero_codes[size_t(g * config.N + n)] = uint8_t(p.zero);  // qzeros is [G, N] before packing
  } else {
    set_value(out.zeros, n * groups + g, p.zero);
  }
}

HostTensor pack_weight(const MatmulConfig& config, const std::vector<uint16_t>& codes) {
  const DTypeInfo& w = info(config.W_dtype);
  const OperandSpec spec = operand_specs(config, 1).W;
  HostTensor tensor = make_host_tensor(spec.dtype, spec.shape);
  if (w.bits == 16) {
    for (size_t i = 0; i < codes.size(); ++i) set_bits(tensor, int64_t(i), codes[i]);
    return tensor;
  }
  const std::vector<uint8_t> narrow(codes.begin(), codes.end());
  tensor.bytes = general_compress(narrow, config.N, config.K, w.bits);
  return tensor;
}

// decode() for every code of a format with at most 16 bits.
std::vector<double> decode_table(DType dtype) {
  std::vector<double> table(info(dtype).code_count());
  for (uint32_t q = 0; q < table.size(); ++q) table[q] = info(dtype).decode(q);
  return table;
}

// The largest finite value of a format's codes (int4: 7, nf4: 1, fp4_e2m1: 6, float8_e4m3: 448):
// symmetric quantizers map a group's largest |w| onto it.
double largest_code_value(DType W_dtype) {
  const DTypeInfo& row = info(W_dtype);
  double largest = 0;
  for (uint32_t q = 0; q < row.code_count(); ++q) {
    const double v = row.decode(q);
    if (std::isfinite(v)) largest = std::max(largest, v);
  }
  return largest;
}

}  // namespace

QuantizedWeight quantize_weight(const MatmulConfig& config, std::span<const float> weight) {
  validate(config);
  const int64_t N = config.N, K = config.K;
  if (weight.size() != size_t(N * K)) {
    throw Error("quantize_weight: got " + std::to_string(weight.size()) + " weights, expected N*K = " +
                std::to_string(N) + "*" + std::to_string(K));
  }
  const OperandSpecs specs = operand_specs(config, 1);
  const bool quantized_zeros = config.with_zeros && config.zeros_mode == ZerosMode::quantized;
  QuantizedWeight out;
  out.codes.resize(size_t(N * K));
  out.dequantized.resize(size_t(N * K));
  if (specs.scales.used()) out.scales = make_host_tensor(specs.scales.dtype, specs.scales.shape);
  if (specs.zeros.used() && !quantized_zeros) {
    out.zeros = make_host_tensor(specs.zeros.dtype, specs.zeros.shape);
  }
  const int64_t group_size = effective_group_size(config), groups = group_count(config);
  std::vector<uint8_t> zero_codes(quantized_zeros ? static_cast<size_t>(groups * N) : 0);
  const std::vector<double> decoded = decode_table(config.W_dtype);
  const double largest_value = config.with_scaling ? largest_code_value(config.W_dtype) : 0.0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t k0 = g * group_size;
      const auto values = weight.subspan(size_t(n * K + k0), size_t(group_size));
      const GroupParams params = choose_params(config, largest_value, group_stats(values, n, k0), n, g);
      store_group_params(out, config, params, n, g, zero_codes);
      for (int64_t i = 0; i < group_size; ++i) {
        const size_t index = size_t(n * K + k0 + i);
        const uint32_t q = nearest_code(config.W_dtype, to_code_space(config, params, values[size_t(i)]));
        out.codes[index] = uint16_t(q);
        out.dequantized[index] = dequantize_one(config, params, decoded[q], q);
      }
    }
  }
  out.W = pack_weight(config, out.codes);
  if (quantized_zeros) {
    out.zeros = HostTensor{specs.zeros.dtype, specs.zeros.shape,
                           general_compress(zero_codes, groups, N, info(config.W_dtype).bits)};
  }
  return out;
}

}  // namespace bitjit
