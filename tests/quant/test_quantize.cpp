// quantize_weight for every W format, zeros mode and group size the validator accepts: the stored
// operands have the right layout, every weight lands on the nearest representable value of its
// group, scales and zero points follow the documented rules, and the error stays within half a step.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>
#include <set>
#include <span>
#include <string>

#include "common/error.hpp"
#include "quant/packing.hpp"
#include "quant/quantize.hpp"
#include "quant/reference.hpp"
#include "tests/quant/sweep.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/text.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;
using bitjit::testing::FailureLog;

namespace {

// The largest value of each format's codes, from docs/formats.md: symmetric quantizers map the
// group's |w| maximum onto it, unsigned ones the group's range onto [0, 2^b - 1].
double largest_by_hand(DType dtype) {
  switch (dtype) {
    case DType::int8: return 127;
    case DType::int4: return 7;
    case DType::int2: return 1;
    case DType::int1: return 1;
    case DType::uint8: return 255;
    case DType::uint4: return 15;
    case DType::uint2: return 3;
    case DType::uint1: return 1;
    case DType::nf4: return 1;
    case DType::fp4_e2m1: return 6;
    case DType::float8_e4m3: return 448;
    case DType::float8_e5m2: return 57344;
    default: return 0;
  }
}

// Rows of different magnitudes; some all positive, some all negative, and one all-zero group.
std::vector<float> varied_weights(const MatmulConfig& config, std::mt19937_64& rng) {
  const int64_t N = config.N, K = config.K, group_size = effective_group_size(config);
  std::vector<float> weights(size_t(N * K));
  std::uniform_real_distribution<double> unit(-1.0, 1.0), exponent(-3.0, 3.0);
  for (int64_t n = 0; n < N; ++n) {
    const double magnitude = std::exp2(exponent(rng));
    for (int64_t k = 0; k < K; ++k) {
      double w = magnitude * unit(rng);
      if (n % 4 == 1) w = magnitude * (1.0 + 0.5 * unit(rng));
      if (n % 4 == 2) w = -magnitude * (1.0 + 0.5 * unit(rng));
      if (n % 4 == 3 && k < group_size) w = 0.0;
      weights[size_t(n * K + k)] = float(w);
    }
  }
  return weights;
}

struct StoredGroup {
  double scale = 1.0, zero = 0.0;
};

// Scale and zero point of (n, g) as stored, read back by the test.
StoredGroup stored_group(const MatmulConfig& config, const QuantizedWeight& q, int64_t n, int64_t g) {
  StoredGroup group;
  if (!config.with_scaling) return group;
  const int64_t groups = group_count(config);
  group.scale = get_value(q.scales, n * groups + g);
  if (!config.with_zeros) return group;
  if (config.zeros_mode == ZerosMode::quantized) {
    const auto zq = general_decompress(q.zeros.bytes, groups, config.N, info(config.W_dtype).bits);
    group.zero = zq[size_t(g * config.N + n)];
  } else {
    group.zero = get_value(q.zeros, n * groups + g);
  }
  return group;
}

// docs/formats.md (Operands and dequantization): the weight code q stands for, given its group's stored scale and zero point.
double weight_of_code(const MatmulConfig& config, uint32_t q, StoredGroup p) {
  const double v = info(config.W_dtype).decode(q);
  if (!config.with_scaling) return v;
  if (!config.with_zeros) return v * p.scale;
  if (config.zeros_mode == ZerosMode::original) return (v - p.zero) * p.scale;
  if (config.zeros_mode == ZerosMode::rescale) return v * p.scale - p.zero;
  return (double(q) - p.zero) * p.scale;
}

std::vector<double> representable_values(const MatmulConfig& config, StoredGroup p) {
  std::vector<double> values;
  for (uint32_t q = 0; q < info(config.W_dtype).code_count(); ++q) {
    const double w = weight_of_code(config, q, p);
    if (std::isfinite(w)) values.push_back(w);
  }
  std::sort(values.begin(), values.end());
  return values;
}

// Half the gap between neighbouring representable values around w: uniform s/2 for integer
// formats, half an ulp of the scaled float format, half the widest nf4 gap.
double half_step(const MatmulConfig& config, double w, double scale) {
  const DTypeInfo& row = info(config.W_dtype);
  switch (row.kind) {
    case ValueKind::lookup: return 0.5 * (1.0 - 0.6961928009986877) * scale;
    case ValueKind::binary: return 1.0 * scale;
    case ValueKind::floating: {
      const int m = row.codec->mantissa_bits, bias = row.codec->bias;
      return scale * std::max(std::fabs(w / scale) * std::ldexp(1.0, -(m + 1)), std::ldexp(1.0, -bias - m));
    }
    default: return 0.5 * scale;
  }
}

double distance_outside(double w, const std::vector<double>& sorted) {
  return std::max({0.0, sorted.front() - w, w - sorted.back()});
}

std::string describe(const MatmulConfig& config) { return canonical_form(config); }

struct GroupValues {
  double min, max, absmax, mean_abs;
};

GroupValues values_of_group(std::span<const float> weights, const MatmulConfig& config, int64_t n, int64_t g) {
  const int64_t group_size = effective_group_size(config);
  const auto group = weights.subspan(size_t(n * config.K + g * group_size), size_t(group_size));
  GroupValues v{group[0], group[0], 0, 0};
  for (float w : group) {
    v.min = std::min<double>(v.min, w);
    v.max = std::max<double>(v.max, w);
    v.absmax = std::max<double>(v.absmax, std::fabs(w));
    v.mean_abs += std::fabs(w) / double(group_size);
  }
  return v;
}

const std::vector<MatmulConfig>& sweep() {
  static const std::vector<MatmulConfig> configs = bitjit::testing::accepted_weight_configs(16, 96, {-1, 8, 32, 96});
  return configs;
}

}  // namespace

TEST_CASE("the sweep covers every weight format and zeros mode", "[quant][quantize]") {
  int scaled = 0, quantized_zeros = 0, bf16_scales = 0;
  std::set<DType> formats;
  for (const MatmulConfig& config : sweep()) {
    formats.insert(config.W_dtype);
    scaled += config.with_scaling;
    quantized_zeros += config.with_zeros && config.zeros_mode == ZerosMode::quantized;
    bf16_scales += config.with_scaling && scale_dtype(config) == DType::bfloat16;
  }
  CHECK(formats.size() == 14);
  CHECK(scaled > 100);
  CHECK(quantized_zeros > 10);
  CHECK(bf16_scales > 10);
}

TEST_CASE("quantized weights have the operand layout and decode to QuantizedWeight::dequantized",
          "[quant][quantize]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (const MatmulConfig& config : sweep()) {
    INFO(describe(config));
    const std::vector<float> weights = varied_weights(config, rng);
    const QuantizedWeight q = quantize_weight(config, weights);
    const OperandSpecs specs = operand_specs(config, 1);
    const DTypeInfo& w = info(config.W_dtype);

    REQUIRE(q.codes.size() == size_t(config.N * config.K));
    CHECK(std::all_of(q.codes.begin(), q.codes.end(), [&](uint16_t code) { return code < w.code_count(); }));
    CHECK(q.W.dtype == specs.W.dtype);
    CHECK(q.W.shape == specs.W.shape);
    if (w.bits <= 8) {
      const std::vector<uint8_t> narrow(q.codes.begin(), q.codes.end());
      CHECK(q.W.bytes == general_compress(narrow, config.N, config.K, w.bits));
    } else {
      CHECK(get_bits(q.W, 5) == q.codes[5]);
    }
    CHECK(q.scales.empty() == !specs.scales.used());
    if (specs.scales.used()) {
      CHECK(q.scales.dtype == scale_dtype(config));
      CHECK(q.scales.shape == specs.scales.shape);
    }
    CHECK(q.zeros.empty() == !specs.zeros.used());
    if (specs.zeros.used()) {
      CHECK(q.zeros.dtype == specs.zeros.dtype);
      CHECK(q.zeros.shape == specs.zeros.shape);
      CHECK(q.zeros.bytes.size() == size_t(specs.zeros.bytes()));
    }
    MatmulOperands operands;
    operands.W = q.W;
    operands.scales = q.scales;
    operands.zeros = q.zeros;
    CHECK(dequantize_reference(config, operands) == q.dequantized);
  }
}

TEST_CASE("every dequantized weight is the nearest representable value of its group", "[quant][quantize]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (const MatmulConfig& config : sweep()) {
    INFO(describe(config));
    const std::vector<float> weights = varied_weights(config, rng);
    const QuantizedWeight q = quantize_weight(config, weights);
    const int64_t group_size = effective_group_size(config);
    std::vector<double> grid = representable_values(config, {});
    FailureLog failures;
    for (int64_t n = 0; n < config.N; ++n) {
      for (int64_t g = 0; g < group_count(config); ++g) {
        const StoredGroup stored = stored_group(config, q, n, g);
        if (config.with_scaling) grid = representable_values(config, stored);
        for (int64_t k = g * group_size; k < (g + 1) * group_size; ++k) {
          const size_t i = size_t(n * config.K + k);
          const double w = weights[i], deq = q.dequantized[i];
          auto describe_element = [&] {
            return "w[" + std::to_string(n) + "," + std::to_string(k) + "]=" + std::to_string(w) +
                   " became " + std::to_string(deq) + " (scale " + std::to_string(stored.scale) + ", zero " +
                   std::to_string(stored.zero) + ")";
          };
          failures.expect(deq == weight_of_code(config, q.codes[i], stored), describe_element);
          const auto above = std::lower_bound(grid.begin(), grid.end(), w);
          const double upper = above == grid.end() ? grid.back() : *above;
          const double lower = above == grid.begin() ? grid.front() : *std::prev(above);
          const double best = std::min(std::fabs(w - lower), std::fabs(w - upper));
          failures.expect(std::fabs(w - deq) <= best + 1e-12 * (std::fabs(w) + stored.scale), describe_element);
        }
      }
    }
    INFO(failures.first());
    CHECK(failures.count() == 0);
  }
}

TEST_CASE("scales and zero points follow the rules, and errors stay within half a step", "[quant][quantize]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (const MatmulConfig& config : sweep()) {
    if (!config.with_scaling) continue;
    INFO(describe(config));
    const std::vector<float> weights = varied_weights(config, rng);
    const QuantizedWeight q = quantize_weight(config, weights);
    const DType stored_as = scale_dtype(config);
    const double L = largest_by_hand(config.W_dtype);
    const int64_t group_size = effective_group_size(config);
    const bool keeps_zero = config.with_zeros && config.zeros_mode != ZerosMode::rescale;
    FailureLog failures;
    for (int64_t n = 0; n < config.N; ++n) {
      for (int64_t g = 0; g < group_count(config); ++g) {
        const GroupValues v = values_of_group(weights, config, n, g);
        const StoredGroup stored = stored_group(config, q, n, g);
        auto where = [&] { return "row " + std::to_string(n) + " group " + std::to_string(g); };
        // The group's target range and unrounded scale, per docs/formats.md.
        double lo = -v.absmax, hi = v.absmax, ideal = v.absmax / L;
        if (config.W_dtype == DType::int1) ideal = v.mean_abs;
        if (!info(config.W_dtype).is_signed) {
          lo = keeps_zero ? std::min(v.min, 0.0) : (config.with_zeros ? v.min : 0.0);
          hi = config.with_zeros && !keeps_zero ? v.max : std::max(v.max, 0.0);
          ideal = (hi - lo) / L;
        }
        const double rounded = round_to(stored_as, ideal);
        failures.expect(stored.scale == (rounded == 0.0 ? 1.0 : rounded), [&] { return where() + ": scale"; });
        double zero_error = 0.0;  // how far the stored zero point is from the ideal one, in weight units
        if (config.with_zeros) {
          const double ideal_zero = config.zeros_mode == ZerosMode::rescale ? -lo : -lo / stored.scale;
          const double expected = config.zeros_mode == ZerosMode::quantized
                                      ? std::clamp(std::nearbyint(ideal_zero), 0.0, L)
                                      : round_to(stored_as, ideal_zero);
          failures.expect(stored.zero == expected, [&] { return where() + ": zero point"; });
          zero_error = std::fabs(stored.zero - ideal_zero) * (config.zeros_mode == ZerosMode::rescale ? 1.0 : stored.scale);
        }
        const std::vector<double> grid = representable_values(config, stored);
        for (int64_t k = g * group_size; k < (g + 1) * group_size; ++k) {
          const size_t i = size_t(n * config.K + k);
          const double w = weights[i], error = std::fabs(w - q.dequantized[i]);
          auto element = [&] { return where() + " k=" + std::to_string(k) + " w=" + std::to_string(w); };
          if (config.W_dtype == DType::int1) {  // sign times the mean magnitude
            failures.expect(q.dequantized[i] == (w >= 0 ? stored.scale : -stored.scale), element);
            continue;
          }
          const double bound = half_step(config, w, stored.scale) + distance_outside(w, grid);
          failures.expect(error <= bound * (1 + 1e-12) + 1e-300, element);
        }
        if (config.W_dtype == DType::int1) continue;
        // The representable range misses the target range only by the rounding of scale and zero.
        const double miss = std::max({0.0, grid.front() - lo, hi - grid.back()});
        const double allowed = L * std::fabs(stored.scale - ideal) + zero_error;
        failures.expect(miss <= allowed * (1 + 1e-9) + 1e-12 * (std::fabs(lo) + std::fabs(hi)),
                        [&] { return where() + ": range missed by " + std::to_string(miss); });
      }
    }
    INFO(failures.first());
    CHECK(failures.count() == 0);
  }
}

namespace {

MatmulConfig small_config(DType W, int64_t N, int64_t K, bool scaling) {
  MatmulConfig config;
  config.M = 1;
  config.N = N;
  config.K = K;
  config.W_dtype = W;
  config.accum_dtype = DType::float32;
  config.with_scaling = scaling;
  return config;
}

std::vector<double> as_doubles(const std::vector<uint16_t>& codes) { return {codes.begin(), codes.end()}; }

}  // namespace

TEST_CASE("symmetric quantizers by hand", "[quant][quantize]") {
  // int4: absmax 7 -> scale 1; round half to even, v + 8 stored.
  QuantizedWeight int4 = quantize_weight(small_config(DType::int4, 1, 8, true),
                                         std::vector<float>{7, -7, 3.4f, -2.5f, 2.5f, 0.49f, 0, 1});
  CHECK(as_doubles(int4.codes) == std::vector<double>{15, 1, 11, 6, 10, 8, 8, 9});
  CHECK(int4.dequantized == std::vector<double>{7, -7, 3, -2, 2, 0, 0, 1});
  CHECK(get_value(int4.scales, 0) == 1.0);
  CHECK(int4.W.bytes == std::vector<uint8_t>{0x1F, 0x6B, 0x8A, 0x98});

  // The scale is rounded first (to bfloat16 here) and the weights quantized against it.
  MatmulConfig bf16 = small_config(DType::int4, 1, 4, true);
  bf16.A_dtype = DType::bfloat16;
  QuantizedWeight rounded = quantize_weight(bf16, std::vector<float>{0.7f, -0.7f, 0.35f, 0.1f});
  const double s = 0.10009765625;  // bfloat16(0.1)
  CHECK(rounded.scales.dtype == DType::bfloat16);
  CHECK(get_value(rounded.scales, 0) == s);
  CHECK(as_doubles(rounded.codes) == std::vector<double>{15, 1, 11, 9});
  CHECK(rounded.dequantized == std::vector<double>{7 * s, -7 * s, 3 * s, s});

  // int1: scale = mean |w| (1.0000001 -> float16 1.0), sign stored as one bit, LSB first.
  QuantizedWeight int1 = quantize_weight(small_config(DType::int1, 1, 8, true),
                                         std::vector<float>{0.5f, -1.5f, 1, -1, 2, -2, 0, -1e-6f});
  CHECK(as_doubles(int1.codes) == std::vector<double>{1, 0, 1, 0, 1, 0, 1, 0});
  CHECK(int1.W.bytes == std::vector<uint8_t>{0x55});
  CHECK(int1.dequantized == std::vector<double>{1, -1, 1, -1, 1, -1, 1, -1});

  // nf4: scale = absmax 2, nearest level of w / 2.
  QuantizedWeight nf4 = quantize_weight(small_config(DType::nf4, 1, 4, true), std::vector<float>{2, -2, 0, 0.16f});
  CHECK(as_doubles(nf4.codes) == std::vector<double>{15, 0, 7, 8});
  CHECK(nf4.W.bytes == std::vector<uint8_t>{0x0F, 0x87});
  CHECK(nf4.dequantized == std::vector<double>{2, -2, 0, 2 * 0.07958029955625534});

  // fp4_e2m1: scale = absmax / 6 = 1; round to nearest even: 2.5 -> 2, 5 -> 4, 0.25 -> 0, 1.25 -> 1.
  QuantizedWeight fp4 = quantize_weight(small_config(DType::fp4_e2m1, 1, 8, true),
                                        std::vector<float>{6, -6, 2.5f, 5, 0.25f, 0.7f, 1.25f, 3.3f});
  CHECK(as_doubles(fp4.codes) == std::vector<double>{0x7, 0xF, 0x4, 0x6, 0x0, 0x1, 0x2, 0x5});
  CHECK(fp4.dequantized == std::vector<double>{6, -6, 2, 4, 0, 0.5, 1, 3});

  // float8_e4m3: scale = absmax / 448 = 1; 300 lies between 288 and 320.
  QuantizedWeight e4m3 = quantize_weight(small_config(DType::float8_e4m3, 1, 3, true), std::vector<float>{448, 300, -1});
  CHECK(e4m3.dequantized == std::vector<double>{448, 288, -1});

  // An all-zero group gets scale 1.
  QuantizedWeight zero = quantize_weight(small_config(DType::int4, 1, 2, true), std::vector<float>{0, 0});
  CHECK(get_value(zero.scales, 0) == 1.0);
  CHECK(as_doubles(zero.codes) == std::vector<double>{8, 8});
}

TEST_CASE("unsigned quantizers and zero points by hand", "[quant][quantize]") {
  // Row 0 spans [-1.5, 6]: scale 7.5 / 15 = 0.5. Row 1 is all zero: scale 1.
  const std::vector<float> weights = {-1.5f, 0, 0.75f, 6, 0, 0, 0, 0};
  MatmulConfig config = small_config(DType::uint4, 2, 4, true);
  config.with_zeros = true;

  config.zeros_mode = ZerosMode::original;  // w = (q - z) * s, z = 1.5 / 0.5 = 3; 0.75 -> 4.5 -> 4 (even)
  QuantizedWeight original = quantize_weight(config, weights);
  CHECK(as_doubles(original.codes) == std::vector<double>{0, 3, 4, 15, 0, 0, 0, 0});
  CHECK(original.dequantized == std::vector<double>{-1.5, 0, 0.5, 6, 0, 0, 0, 0});
  CHECK(get_value(original.scales, 0) == 0.5);
  CHECK(get_value(original.scales, 1) == 1.0);
  CHECK(get_value(original.zeros, 0) == 3.0);
  CHECK(original.zeros.bytes == std::vector<uint8_t>{0x00, 0x42, 0x00, 0x00});  // float16 3.0, +0.0

  config.zeros_mode = ZerosMode::rescale;  // w = q * s - z, z = -min = 1.5
  QuantizedWeight rescale = quantize_weight(config, weights);
  CHECK(as_doubles(rescale.codes) == std::vector<double>{0, 3, 4, 15, 0, 0, 0, 0});
  CHECK(rescale.dequantized == std::vector<double>{-1.5, 0, 0.5, 6, 0, 0, 0, 0});
  CHECK(get_value(rescale.zeros, 0) == 1.5);

  config.zeros_mode = ZerosMode::quantized;  // w = (q - zq) * s, zq = 3 packed along N with row 1's 0
  QuantizedWeight quantized = quantize_weight(config, weights);
  CHECK(as_doubles(quantized.codes) == std::vector<double>{0, 3, 4, 15, 0, 0, 0, 0});
  CHECK(quantized.dequantized == std::vector<double>{-1.5, 0, 0.5, 6, 0, 0, 0, 0});
  CHECK(quantized.zeros.dtype == DType::uint4);
  CHECK(quantized.zeros.shape == std::vector<int64_t>{1, 1});
  CHECK(quantized.zeros.bytes == std::vector<uint8_t>{0x03});

  // Scaling only: scale = max / 15 = 0.5, negatives clamp to code 0.
  QuantizedWeight scaled = quantize_weight(small_config(DType::uint4, 1, 4, true), std::vector<float>{-1, 0, 1.5f, 7.5f});
  CHECK(as_doubles(scaled.codes) == std::vector<double>{0, 0, 3, 15});
  CHECK(scaled.dequantized == std::vector<double>{0, 0, 1.5, 7.5});

  // No scaling: the nearest code of w itself, clamped; 0.5 -> 0 and 1.5 -> 2 (ties to even).
  QuantizedWeight plain = quantize_weight(small_config(DType::uint2, 1, 4, false), std::vector<float>{-1, 0.5f, 1.5f, 9});
  CHECK(as_doubles(plain.codes) == std::vector<double>{0, 0, 2, 3});
  CHECK(plain.W.bytes == std::vector<uint8_t>{0xE0});
  CHECK(plain.scales.empty());
}

TEST_CASE("without scaling, each weight becomes the nearest value of the format", "[quant][quantize]") {
  CHECK(quantize_weight(small_config(DType::uint4, 1, 2, false), std::vector<float>{9, 20}).dequantized ==
        std::vector<double>{9, 15});
  CHECK(quantize_weight(small_config(DType::int4, 1, 4, false), std::vector<float>{-20, -2.5f, 3.5f, 0.4f}).dequantized ==
        std::vector<double>{-8, -2, 4, 0});
  CHECK(quantize_weight(small_config(DType::int1, 1, 8, false), std::vector<float>{0.3f, -0.3f, 0, 5, -5, 1, -1, 0})
            .dequantized == std::vector<double>{1, -1, 1, 1, -1, 1, -1, 1});
  CHECK(quantize_weight(small_config(DType::int8, 1, 3, false), std::vector<float>{300, -300, 2.5f}).dequantized ==
        std::vector<double>{127, -128, 2});
  CHECK(quantize_weight(small_config(DType::float16, 1, 2, false), std::vector<float>{1e5f, 0.1f}).dequantized ==
        std::vector<double>{65504, 0.0999755859375});
  CHECK(quantize_weight(small_config(DType::nf4, 1, 2, false), std::vector<float>{-3, 0.5f}).dequantized ==
        std::vector<double>{-1, 0.44070982933044434});
  CHECK(quantize_weight(small_config(DType::float8_e5m2, 1, 2, false), std::vector<float>{1e6f, 0.3f}).dequantized ==
        std::vector<double>{57344, 0.3125});
}

TEST_CASE("quantize_weight rejects bad input with context", "[quant][quantize]") {
  auto error_of = [](const MatmulConfig& config, std::vector<float> weights) {
    return testing::error_of<Error>([&] { quantize_weight(config, weights); });
  };
  const MatmulConfig config = small_config(DType::int4, 2, 4, true);
  std::vector<float> weights(8, 1.0f);
  weights[6] = std::nanf("");
  CHECK(error_of(config, weights).find("weight[n=1, k=2]") != std::string::npos);
  CHECK(error_of(config, std::vector<float>(7, 1.0f)).find("expected N*K") != std::string::npos);
  const std::string overflow = error_of(config, std::vector<float>(8, 1e6f));
  CHECK(overflow.find("overflows float16") != std::string::npos);
  CHECK(overflow.find("row n=0, group g=0") != std::string::npos);
  MatmulConfig invalid = config;
  invalid.with_zeros = true;  // zeros on a signed format
  CHECK_THROWS_AS(quantize_weight(invalid, std::vector<float>(8, 1.0f)), ConfigError);
}
