#include "quant/random.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/packing.hpp"
#include "quant/quantize.hpp"

namespace bitjit {
namespace {

// Hands out a few random bits at a time from 64-bit draws; bulk fills are bound by the generator.
class RandomBits {
 public:
  explicit RandomBits(std::mt19937_64& rng) : rng_(rng) {}
  uint32_t take(int count) {
    if (left_ < count) {
      word_ = rng_();
      left_ = 64;
    }
    const uint32_t bits = uint32_t(word_ & ((uint64_t(1) << count) - 1));
    word_ >>= count;
    left_ -= count;
    return bits;
  }

 private:
  std::mt19937_64& rng_;
  uint64_t word_ = 0;
  int left_ = 0;
};

constexpr int kActivationPoolBits = 16;

int64_t int8_activation_limit(const MatmulConfig& config) {
  if (config.out_dtype != DType::float16) return 127;
  // |C| ~ sqrt(K) * L/sqrt(3) * rms(w) with rms(w) <= 1: L = 1000*sqrt(3)/sqrt(K) keeps its
  // standard deviation near 1000 and the largest of many outputs well inside float16.
  return std::clamp<int64_t>(int64_t(1732.0 / std::sqrt(double(config.K))), 1, 127);
}

// The activation for 16 random bits: 2^16 values spread evenly over the range, as stored codes.
uint32_t activation_code(const MatmulConfig& config, uint32_t random16) {
  constexpr double kLevels = double(1u << kActivationPoolBits);
  if (config.A_dtype == DType::int8) {
    const int64_t limit = int8_activation_limit(config);
    const int64_t value = int64_t((uint64_t(random16) * uint64_t(2 * limit + 1)) >> kActivationPoolBits) - limit;
    return encode_value(DType::int8, double(value));
  }
  return encode_value(config.A_dtype, -1.0 + (double(random16) + 0.5) / (kLevels / 2));
}

// activation_code for every 16-bit input, so that big tensors cost a lookup per element.
std::vector<uint32_t> activation_pool(const MatmulConfig& config) {
  std::vector<uint32_t> pool(size_t(1) << kActivationPoolBits);
  for (size_t i = 0; i < pool.size(); ++i) pool[i] = activation_code(config, uint32_t(i));
  return pool;
}

// Stores next_code() into every element of an 8- or 16-bit tensor, little-endian; bulk fills skip
// set_bits' per-element checks.
template <typename NextCode>
void store_codes(HostTensor& tensor, NextCode next_code) {
  if (info(tensor.dtype).storage_bytes() == 1) {
    for (uint8_t& byte : tensor.bytes) byte = uint8_t(next_code());
    return;
  }
  for (size_t i = 0; i + 1 < tensor.bytes.size(); i += 2) {
    const uint32_t code = next_code();
    tensor.bytes[i] = uint8_t(code);
    tensor.bytes[i + 1] = uint8_t(code >> 8);
  }
}

bool all_zero(const HostTensor& tensor) {
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    if (get_value(tensor, i) != 0.0) return false;
  }
  return true;
}

HostTensor random_bias(const MatmulConfig& config, std::mt19937_64& rng) {
  const DType dtype = bias_dtype(config);
  HostTensor bias = make_host_tensor(dtype, {config.N});
  const bool integer = info(dtype).is_integer();
  std::uniform_real_distribution<double> uniform(integer ? -100.0 : -1.0, integer ? 100.0 : 1.0);
  for (int64_t n = 0; n < config.N; ++n) set_value(bias, n, uniform(rng));
  return bias;
}

std::vector<float> uniform_weights(size_t count, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> weights(count);
  for (float& w : weights) w = uniform(rng);
  return weights;
}

// A small config with the same formats and modes, whose quantized weights are the fast fill's pool.
constexpr int kSampleCodeBits = 12;

MatmulConfig sample_config(const MatmulConfig& config) {
  MatmulConfig sample = config;
  sample.M = 1;
  sample.N = 8;  // a multiple of every format's elements per byte (qzeros pack along N)
  sample.K = (int64_t(1) << kSampleCodeBits) / sample.N;
  sample.group_size = config.with_scaling ? 64 : -1;
  return sample;
}

void fill_weight_codes(HostTensor& W, const std::vector<uint16_t>& pool, std::mt19937_64& rng) {
  RandomBits random(rng);
  const DTypeInfo& row = info(W.dtype);
  auto next_code = [&] { return pool[random.take(kSampleCodeBits)]; };
  if (!row.is_packed()) return store_codes(W, next_code);
  const int per_byte = row.elements_per_byte();
  for (uint8_t& byte : W.bytes) {
    uint32_t packed = 0;
    for (int j = 0; j < per_byte; ++j) packed |= uint32_t(next_code()) << (j * row.bits);
    byte = uint8_t(packed);
  }
}

// The sample's zero points as one value per group: floats, or the unpacked qzeros codes.
std::vector<double> sample_zero_points(const MatmulConfig& small, const QuantizedWeight& sample) {
  if (small.zeros_mode != ZerosMode::quantized) {
    std::vector<double> zeros(static_cast<size_t>(sample.zeros.numel()));
    for (size_t i = 0; i < zeros.size(); ++i) zeros[i] = get_value(sample.zeros, int64_t(i));
    return zeros;
  }
  const std::vector<uint8_t> codes =
      general_decompress(sample.zeros.bytes, group_count(small), small.N, info(small.W_dtype).bits);
  return std::vector<double>(codes.begin(), codes.end());
}

// Scales (times a factor in [0.5, 1.5]) and zero points drawn from the sample's groups. A rescale
// zero point is an offset in weight units, so it takes the same factor as its scale.
void fill_group_params(const MatmulConfig& config, const MatmulConfig& small, const QuantizedWeight& sample,
                       MatmulOperands& out, std::mt19937_64& rng) {
  const OperandSpecs specs = operand_specs(config, 1);
  const int64_t groups = group_count(config);
  const bool quantized = config.with_zeros && config.zeros_mode == ZerosMode::quantized;
  const std::vector<double> sample_zeros = config.with_zeros ? sample_zero_points(small, sample) : std::vector<double>{};
  out.scales = make_host_tensor(specs.scales.dtype, specs.scales.shape);
  if (config.with_zeros && !quantized) out.zeros = make_host_tensor(specs.zeros.dtype, specs.zeros.shape);
  std::vector<uint8_t> zero_codes(quantized ? size_t(groups * config.N) : 0);

  std::uniform_int_distribution<int64_t> pick(0, sample.scales.numel() - 1);
  std::uniform_real_distribution<double> factor(0.5, 1.5);
  for (int64_t n = 0; n < config.N; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t j = pick(rng), index = n * groups + g;
      const double u = factor(rng);
      set_value(out.scales, index, get_value(sample.scales, j) * u);
      if (!config.with_zeros) continue;
      const double zero = sample_zeros[size_t(j)];
      if (quantized) {
        zero_codes[size_t(g * config.N + n)] = uint8_t(zero);  // qzeros is [G, N] before packing
      } else {
        set_value(out.zeros, index, config.zeros_mode == ZerosMode::rescale ? zero * u : zero);
      }
    }
  }
  if (quantized) {
    out.zeros = HostTensor{specs.zeros.dtype, specs.zeros.shape,
                           general_compress(zero_codes, groups, config.N, info(config.W_dtype).bits)};
  }
}

}  // namespace

HostTensor random_activations(const MatmulConfig& config, int64_t M, std::mt19937_64& rng) {
  validate(config);
  const OperandSpec spec = operand_specs(config, M).A;
  HostTensor A = make_host_tensor(spec.dtype, spec.shape);
  RandomBits random(rng);
  if (A.numel() < int64_t(1) << kActivationPoolBits) {  // cheaper than building the pool
    store_codes(A, [&] { return activation_code(config, random.take(kActivationPoolBits)); });
  } else {
    const std::vector<uint32_t> pool = activation_pool(config);
    store_codes(A, [&] { return pool[random.take(kActivationPoolBits)]; });
  }
  if (A.numel() > 0 && all_zero(A)) set_value(A, 0, 1.0);
  return A;
}

MatmulOperands random_operands(const MatmulConfig& config, int64_t M, std::mt19937_64& rng) {
  MatmulOperands out;
  out.A = random_activations(config, M, rng);
  QuantizedWeight weight = quantize_weight(config, uniform_weights(size_t(config.N * config.K), rng));
  out.W = std::move(weight.W);
  out.scales = std::move(weight.scales);
  out.zeros = std::move(weight.zeros);
  if (config.with_bias) out.bias = random_bias(config, rng);
  return out;
}

MatmulOperands random_operands_fast(const MatmulConfig& config, int64_t M, std::mt19937_64& rng) {
  MatmulOperands out;
  out.A = random_activations(config, M, rng);
  const MatmulConfig small = sample_config(config);
  const QuantizedWeight sample = quantize_weight(small, uniform_weights(size_t(small.N * small.K), rng));
  const OperandSpec W = operand_specs(config, M).W;
  out.W = make_host_tensor(W.dtype, W.shape);
  fill_weight_codes(out.W, sample.codes, rng);
  if (config.with_scaling) fill_group_params(config, small, sample, out, rng);
  if (config.with_bias) out.bias = random_bias(config, rng);
  return out;
}

}  // namespace bitjit
