#include "compiler/config.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "common/sha256.hpp"
#include "common/text.hpp"

namespace bitjit {
namespace {

using json = nlohmann::json;

static_assert(kLargestDimension == std::numeric_limits<int32_t>::max());
// No operand may exceed 2^48 bytes (256 TiB, far beyond any GPU's memory). Each dimension fits in
// 31 bits but their products do not fit in 64 bits, and the library multiplies operand sizes further
// (split-K partials, L2 rotation copies): the bound keeps all of that exact.
constexpr int64_t kMaxOperandBytes = int64_t(1) << 48;

[[noreturn]] void reject(const std::string& message) { throw ConfigError("invalid MatmulConfig: " + message); }

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

bool is_float16_like(DType dtype) { return dtype == DType::float16 || dtype == DType::bfloat16; }

void check_role(const char* field, DType dtype, DTypeRole role) {
  if (!info(dtype).has_role(role)) {
    reject(std::string(field) + "=" + in_quotes(to_string(dtype)) + " is not supported; allowed: " +
           names_with_role(role));
  }
}

void check_dimensions(const MatmulConfig& config) {
  for (int64_t m : config.M.values()) {
    if (m < 1 || m > kLargestDimension) {
      reject("M=" + std::to_string(m) + " must be between 1 and " + std::to_string(kLargestDimension));
    }
  }
  if (config.N < 1 || config.N > kLargestDimension) {
    reject("N=" + std::to_string(config.N) + " must be between 1 and " + std::to_string(kLargestDimension));
  }
  if (config.K < 1 || config.K > kLargestDimension) {
    reject("K=" + std::to_string(config.K) + " must be between 1 and " + std::to_string(kLargestDimension));
  }
}

void check_dtype_combination(const MatmulConfig& config) {
  const DTypeInfo& a = info(config.A_dtype);
  const DTypeInfo& w = info(config.W_dtype);
  const std::string a_text = "A_dtype=" + in_quotes(a.name);
  if (is_float16_like(config.W_dtype) && config.W_dtype != config.A_dtype) {
    reject("W_dtype=" + in_quotes(w.name) + " with " + a_text +
           ": an unquantized 16-bit weight must have A's dtype (W_dtype=" + in_quotes(a.name) +
           ") or be a quantized format");
  }
  if (config.A_dtype == DType::int8 && !w.is_integer()) {
    reject("W_dtype=" + in_quotes(w.name) + " with " + a_text +
           ": int8 activations take integer weights (int8, int4, int2, int1, uint8, uint4, uint2, uint1)");
  }
  if (config.accum_dtype == DType::int32 && !(a.is_integer() && w.is_integer())) {
    reject("accum_dtype='int32' needs integer A_dtype and W_dtype (got " + a_text + ", W_dtype=" +
           in_quotes(w.name) + "); use accum_dtype='float32'");
  }
  if (a.is_integer() && config.accum_dtype != DType::int32 && config.accum_dtype != DType::float32) {
    reject("accum_dtype=" + in_quotes(to_string(config.accum_dtype)) + " with " + a_text +
           ": integer activations accumulate in int32 or float32");
  }
  if (config.accum_dtype == DType::float16 && config.A_dtype != DType::float16) {
    reject("accum_dtype='float16' needs A_dtype='float16' (got " + a_text + "); use accum_dtype='float32'");
  }
  const bool integer_out = config.out_dtype == DType::int32 || config.out_dtype == DType::int8;
  if (integer_out && config.accum_dtype != DType::int32) {
    reject("out_dtype=" + in_quotes(to_string(config.out_dtype)) +
           " needs accum_dtype='int32'; float accumulation writes float16, bfloat16 or float32");
  }
}

void check_quantization(const MatmulConfig& config) {
  const DTypeInfo& w = info(config.W_dtype);
  if (config.with_scaling && is_float16_like(config.W_dtype)) {
    reject("with_scaling=true with W_dtype=" + in_quotes(w.name) +
           ": scales apply to quantized weight formats, and this one is not quantized");
  }
  if (config.with_scaling && config.accum_dtype == DType::int32) {
    reject("with_scaling=true with accum_dtype='int32': int32 accumulation is an exact integer dot "
           "product; scaled weights need accum_dtype='float32'");
  }
  if (config.with_zeros && !config.with_scaling) {
    reject("with_zeros=true needs with_scaling=true: every zeros_mode multiplies by a scale");
  }
  if (config.with_zeros && w.is_signed) {
    reject("with_zeros=true with W_dtype=" + in_quotes(w.name) +
           ": zero points apply to unsigned formats (uint8, uint4, uint2, uint1); signed formats are "
           "already centred");
  }
  if (config.K % w.elements_per_byte() != 0) {
    reject("K=" + std::to_string(config.K) + " must be a multiple of " + std::to_string(w.elements_per_byte()) +
           " for W_dtype=" + in_quotes(w.name) + ", which packs " + std::to_string(w.elements_per_byte()) +
           " elements per byte along K");
  }
  if (config.group_size != -1) {
    if (!config.with_scaling) {
      reject("group_size=" + std::to_string(config.group_size) +
             " has no effect without with_scaling; set with_scaling=true or group_size=-1");
    }
    if (config.group_size < 1 || config.group_size > config.K || config.K % config.group_size != 0) {
      reject("group_size=" + std::to_string(config.group_size) + " must be -1 or a divisor of K=" +
             std::to_string(config.K));
    }
    if (config.group_size % w.elements_per_byte() != 0) {
      reject("group_size=" + std::to_string(config.group_size) + " must be a multiple of " +
             std::to_string(w.elements_per_byte()) + " for W_dtype=" + in_quotes(w.name) +
             " (elements per packed byte), so that no byte spans two groups");
    }
  }
  if (config.with_zeros && config.zeros_mode == ZerosMode::quantized && config.N % w.elements_per_byte() != 0) {
    reject("N=" + std::to_string(config.N) + " must be a multiple of " + std::to_string(w.elements_per_byte()) +
           " for zeros_mode='quantized' with W_dtype=" + in_quotes(w.name) + ", whose zeros pack along N");
  }
}

// An integer field within its range: 2^63 and beyond is an error naming the field, never a
// wrapped negative number.
int64_t read_integer(const json& value, const char* field, int64_t min, int64_t max) {
  try {
    return json_integer(value, field, min, max);
  } catch (const ConfigError& error) {
    reject(error.what());
  }
}

bool read_bool(const json& value, const char* field) {
  if (!value.is_boolean()) reject(std::string(field) + " must be true or false, got " + quote_json(value));
  return value.get<bool>();
}

DType read_dtype(const json& value, const char* field, DTypeRole role) {
  if (!value.is_string()) reject(std::string(field) + " must be a dtype name string, got " + quote_json(value));
  auto dtype = parse_dtype(value.get<std::string>());
  if (!dtype || !info(*dtype).has_role(role)) {
    reject(std::string(field) + "=" + quote_json(value) + " is not supported; allowed: " + names_with_role(role));
  }
  return *dtype;
}

ZerosMode read_zeros_mode(const json& value) {
  if (value.is_null()) return ZerosMode::original;
  if (value.is_string()) {
    for (ZerosMode mode : {ZerosMode::original, ZerosMode::rescale, ZerosMode::quantized}) {
      if (value.get<std::string>() == to_string(mode)) return mode;
    }
  }
  reject("zeros_mode=" + quote_json(value) + " is not supported; allowed: original, rescale, quantized");
}

MSpec read_m(const json& value) {
  if (value.is_null()) return MSpec();
  if (value.is_array()) {
    if (value.empty()) reject("M=[] must list at least one bucket");
    std::vector<int64_t> buckets;
    for (const auto& item : value) buckets.push_back(read_integer(item, "M", 1, kLargestDimension));
    return MSpec::buckets(std::move(buckets));
  }
  return MSpec(read_integer(value, "M", 1, kLargestDimension));
}

json m_to_json(const MSpec& m, bool canonical) {
  if (!m.is_dynamic()) return m.value();
  std::vector<int64_t> values = m.values();
  if (canonical) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  }
  return values;
}

json config_json(const MatmulConfig& config, bool canonical) {
  const bool normalize_group = canonical && config.group_size == config.K;
  const bool zeros_unused = canonical && !config.with_zeros;
  return json{
      {"M", m_to_json(config.M, canonical)},
      {"N", config.N},
      {"K", config.K},
      {"A_dtype", to_string(config.A_dtype)},
      {"W_dtype", to_string(config.W_dtype)},
      {"accum_dtype", to_string(config.accum_dtype)},
      {"out_dtype", to_string(config.out_dtype)},
      {"layout", config.layout},
      {"with_bias", config.with_bias},
      {"group_size", normalize_group ? int64_t(-1) : config.group_size},
      {"with_scaling", config.with_scaling},
      {"with_zeros", config.with_zeros},
      {"zeros_mode", to_string(zeros_unused ? ZerosMode::original : config.zeros_mode)},
  };
}

}  // namespace

std::string_view to_string(ZerosMode mode) {
  switch (mode) {
    case ZerosMode::original: return "original";
    case ZerosMode::rescale: return "rescale";
    case ZerosMode::quantized: return "quantized";
  }
  return "?";
}

MSpec::MSpec() : values_{1, 16, 32, 64, 128, 256, 512, 1024}, dynamic_(true) {}
MSpec::MSpec(int64_t m) : values_{m}, dynamic_(false) {}
MSpec::MSpec(std::initializer_list<int64_t> buckets) : values_(buckets), dynamic_(true) {}

MSpec MSpec::buckets(std::vector<int64_t> values) {
  MSpec spec;
  spec.values_ = std::move(values);
  return spec;
}

int64_t MSpec::largest() const {
  return values_.empty() ? 1 : *std::max_element(values_.begin(), values_.end());
}

int64_t MSpec::smallest() const {
  return values_.empty() ? 1 : *std::min_element(values_.begin(), values_.end());
}

int64_t MSpec::value() const {
  if (dynamic_) throw ConfigError("M is dynamic (a list of buckets); it has no single value");
  return values_.front();
}

namespace {

// Each operand's bytes at the largest M, so that no later size computation overflows.
void check_operand_sizes(const MatmulConfig& config) {
  const OperandSpecs specs = operand_specs(config, config.M.largest());
  for (const auto& [name, spec] : specs.named()) {
    try {
      (void)spec->bytes();
    } catch (const ConfigError& error) {
      reject(std::string("operand ") + name + ": " + error.what() +
             (config.M.is_dynamic() ? " (at the largest M bucket)" : ""));
    }
  }
}

}  // namespace

void validate(const MatmulConfig& config) {
  if (config.M.values().empty()) reject("M=[] must list at least one bucket");
  check_dimensions(config);
  check_role("A_dtype", config.A_dtype, kRoleActivation);
  check_role("W_dtype", config.W_dtype, kRoleWeight);
  check_role("accum_dtype", config.accum_dtype, kRoleAccum);
  check_role("out_dtype", config.out_dtype, kRoleOutput);
  if (config.layout != "nt") {
    reject("layout=" + quote_input(config.layout) + " is not supported; allowed: nt (A row-major [M,K], W row-major [N,K])");
  }
  check_dtype_combination(config);
  check_quantization(config);
  check_operand_sizes(config);
}

json to_json(const MatmulConfig& config) { return config_json(config, false); }

MatmulConfig config_from_json(const json& object) {
  if (!object.is_object()) reject("a config must be a JSON object, got " + quote_json(object));
  static const std::vector<std::string> kFields = {"M", "N", "K", "A_dtype", "W_dtype", "accum_dtype",
                                                  "out_dtype", "layout", "with_bias", "group_size",
                                                  "with_scaling", "with_zeros", "zeros_mode"};
  for (const auto& [key, value] : object.items()) {
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
      std::string known;
      for (const auto& field : kFields) known += (known.empty() ? "" : ", ") + field;
      reject("unknown field " + quote_input(key) + "; fields are: " + known);
    }
  }
  for (const char* required : {"N", "K"}) {
    if (!object.contains(required)) reject(std::string("field ") + required + " is required");
  }
  MatmulConfig config;
  if (object.contains("M")) config.M = read_m(object["M"]);
  config.N = read_integer(object["N"], "N", 1, kLargestDimension);
  config.K = read_integer(object["K"], "K", 1, kLargestDimension);
  if (object.contains("A_dtype")) config.A_dtype = read_dtype(object["A_dtype"], "A_dtype", kRoleActivation);
  if (object.contains("W_dtype")) config.W_dtype = read_dtype(object["W_dtype"], "W_dtype", kRoleWeight);
  if (object.contains("accum_dtype")) config.accum_dtype = read_dtype(object["accum_dtype"], "accum_dtype", kRoleAccum);
  if (object.contains("out_dtype")) config.out_dtype = read_dtype(object["out_dtype"], "out_dtype", kRoleOutput);
  if (object.contains("layout")) {
    if (!object["layout"].is_string()) reject("layout must be a string, got " + quote_json(object["layout"]));
    config.layout = object["layout"].get<std::string>();
  }
  if (object.contains("with_bias")) config.with_bias = read_bool(object["with_bias"], "with_bias");
  if (object.contains("group_size") && !object["group_size"].is_null()) {
    config.group_size = read_integer(object["group_size"], "group_size", -1, kLargestDimension);
  }
  if (object.contains("with_scaling")) config.with_scaling = read_bool(object["with_scaling"], "with_scaling");
  if (object.contains("with_zeros")) config.with_zeros = read_bool(object["with_zeros"], "with_zeros");
  if (object.contains("zeros_mode")) config.zeros_mode = read_zeros_mode(object["zeros_mode"]);
  validate(config);
  return config;
}

std::string canonical_form(const MatmulConfig& config) {
  validate(config);
  return config_json(config, true).dump();  // nlohmann::json orders object keys
}

std::string config_hash(const MatmulConfig& config) { return sha256_hex(canonical_form(config)); }

bool float16_activations(const MatmulConfig& config) { return is_float16_like(config.A_dtype); }

bool fp8_activations(const MatmulConfig& config) {
  return config.A_dtype == DType::float8_e4m3 || config.A_dtype == DType::float8_e5m2;
}

bool same_8bit_operands(const MatmulConfig& config) {
  return config.W_dtype == config.A_dtype && (config.A_dtype == DType::int8 || fp8_activations(config));
}

bool w4a8_operands(const MatmulConfig& config) {
  if (config.accum_dtype != DType::float32 || config.with_zeros) return false;
  const DTypeInfo& w = info(config.W_dtype);
  if (config.A_dtype == DType::int8) return w.is_integer() && w.bits < 8;
  const DType weights = config.W_dtype;
  return fp8_activations(config) && (weights == DType::int4 || weights == DType::uint4 || weights == DType::fp4_e2m1);
}

DType scale_dtype(const MatmulConfig& config) {
  return is_float16_like(config.A_dtype) ? config.A_dtype : DType::float16;
}

DType bias_dtype(const MatmulConfig& config) {
  return is_float16_like(config.A_dtype) ? config.A_dtype : config.out_dtype;
}

int64_t effective_group_size(const MatmulConfig& config) {
  return config.group_size == -1 ? config.K : config.group_size;
}

int64_t group_count(const MatmulConfig& config) { return config.K / effective_group_size(config); }

int64_t OperandSpec::bytes() const {
  if (shape.empty()) return 0;
  const DTypeInfo& row = info(dtype);
  int64_t total = row.is_packed() ? 1 : row.storage_bytes();
  for (int64_t extent : shape) {
    if (extent < 0 || __builtin_mul_overflow(total, extent, &total) || total > kMaxOperandBytes) {
      throw ConfigError(std::string(to_string(dtype)) + shape_text(shape) + " would take more than 2^48 bytes (" +
                        std::to_string(kMaxOperandBytes) + "), the most one operand may take");
    }
  }
  return total;
}

OperandSpecs operand_specs(const MatmulConfig& config, int64_t M) {
  const DTypeInfo& w = info(config.W_dtype);
  const int64_t groups = group_count(config);
  OperandSpecs specs{
      {config.A_dtype, {M, config.K}},
      {config.W_dtype, {config.N, config.K / w.elements_per_byte()}},
      {scale_dtype(config), {}},
      {scale_dtype(config), {}},
      {bias_dtype(config), {}},
      {config.out_dtype, {M, config.N}},
  };
  if (config.with_scaling) specs.scales.shape = {config.N, groups};
  if (config.with_zeros) {
    if (config.zeros_mode == ZerosMode::quantized) {
      specs.zeros = {config.W_dtype, {groups, config.N / w.elements_per_byte()}};
    } else {
      specs.zeros.shape = {config.N, groups};
    }
  }
  if (config.with_bias) specs.bias.shape = {config.N};
  return specs;
}

}  // namespace bitjit
