// MatmulConfig: validation errors name the field, the value and what is allowed; JSON and the
// canonical form round-trip; the hash is stable.
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "compiler/config.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using nlohmann::json;

namespace {

MatmulConfig w4a16() {
  MatmulConfig config;
  config.M = 1;
  config.N = 1024;
  config.K = 4096;
  config.A_dtype = DType::float16;
  config.W_dtype = DType::uint4;
  config.accum_dtype = DType::float32;
  config.out_dtype = DType::float16;
  config.group_size = 128;
  config.with_scaling = true;
  config.with_zeros = true;
  return config;
}

// The validation message for a config, or "" if it is accepted.
std::string rejection(const MatmulConfig& config) {
  try {
    validate(config);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

void require_rejected(const MatmulConfig& config, std::initializer_list<const char*> fragments) {
  std::string message = rejection(config);
  INFO("message: " << message);
  REQUIRE(!message.empty());
  for (const char* fragment : fragments) CHECK(message.find(fragment) != std::string::npos);
}

}  // namespace

TEST_CASE("a typical W4A16 config and BitBLAS's quick-start config validate", "[config]") {
  CHECK(rejection(w4a16()).empty());
  MatmulConfig quick_start;
  quick_start.M = 1;
  quick_start.N = 2048;
  quick_start.K = 1024;
  quick_start.W_dtype = DType::int4;  // A, accum and out float16: the defaults
  CHECK(rejection(quick_start).empty());
}

TEST_CASE("each unsupported combination is rejected with the field, value and allowed set", "[config]") {
  MatmulConfig c = w4a16();
  SECTION("dimensions") {
    c.N = 0;
    require_rejected(c, {"N=0", "between 1 and"});
    c = w4a16();
    c.K = -5;
    require_rejected(c, {"K=-5"});
    c = w4a16();
    c.M = MSpec{1, 0};
    require_rejected(c, {"M=0"});
    c.M = MSpec::buckets({});
    require_rejected(c, {"M=[]"});
  }
  SECTION("dtypes in the wrong role") {
    c.A_dtype = DType::uint4;
    require_rejected(c, {"A_dtype='uint4'", "allowed: float16, bfloat16, int8, float8_e4m3, float8_e5m2"});
    c = w4a16();
    c.W_dtype = DType::float32;
    require_rejected(c, {"W_dtype='float32'", "allowed:", "nf4"});
    c = w4a16();
    c.accum_dtype = DType::bfloat16;
    require_rejected(c, {"accum_dtype='bfloat16'", "allowed: float16, float32, int32"});
    c = w4a16();
    c.out_dtype = DType::uint8;
    require_rejected(c, {"out_dtype='uint8'", "allowed: float16, bfloat16, float32, int32, int8"});
  }
  SECTION("layout other than nt") {
    c.layout = "nn";
    require_rejected(c, {"layout='nn'", "allowed: nt"});
  }
  SECTION("int32 accumulation with float A") {
    c.with_scaling = c.with_zeros = false;
    c.group_size = -1;
    c.accum_dtype = DType::int32;
    require_rejected(c, {"accum_dtype='int32'", "A_dtype='float16'", "float32"});
  }
  SECTION("float16 accumulation needs float16 A") {
    c.A_dtype = DType::bfloat16;
    c.out_dtype = DType::bfloat16;
    c.accum_dtype = DType::float16;
    require_rejected(c, {"accum_dtype='float16'", "A_dtype='bfloat16'"});
  }
  SECTION("integer activations") {
    c = MatmulConfig{};
    c.M = 16;
    c.N = 64;
    c.K = 64;
    c.A_dtype = DType::int8;
    c.W_dtype = DType::nf4;
    c.accum_dtype = DType::int32;
    c.out_dtype = DType::int32;
    require_rejected(c, {"W_dtype='nf4'", "int8 activations take integer weights"});
    c.W_dtype = DType::int4;
    CHECK(rejection(c).empty());
    c.accum_dtype = DType::float16;
    require_rejected(c, {"accum_dtype='float16'", "int32 or float32"});
    c.accum_dtype = DType::float32;
    require_rejected(c, {"out_dtype='int32'", "needs accum_dtype='int32'"});
    c.out_dtype = DType::float16;
    c.with_scaling = true;
    CHECK(rejection(c).empty());  // int8 x int4 with float scales, accumulated in float32
    c.accum_dtype = DType::int32;
    require_rejected(c, {"with_scaling=true with accum_dtype='int32'"});
  }
  SECTION("a 16-bit weight of the other 16-bit type") {
    c.with_scaling = c.with_zeros = false;
    c.group_size = -1;
    c.W_dtype = DType::bfloat16;
    require_rejected(c, {"W_dtype='bfloat16'", "A_dtype='float16'"});
  }
  SECTION("zeros on a signed format") {
    c.W_dtype = DType::int4;
    require_rejected(c, {"with_zeros=true", "W_dtype='int4'", "unsigned formats"});
    c.W_dtype = DType::nf4;
    require_rejected(c, {"W_dtype='nf4'"});
  }
  SECTION("zeros without scales, scales on an unquantized weight") {
    c.with_scaling = false;
    c.group_size = -1;
    require_rejected(c, {"with_zeros=true needs with_scaling=true"});
    c = w4a16();
    c.W_dtype = DType::float16;
    c.with_zeros = false;
    require_rejected(c, {"with_scaling=true with W_dtype='float16'"});
  }
  SECTION("group_size not dividing K, not a multiple of the packing unit, or without scales") {
    c.group_size = 100;
    require_rejected(c, {"group_size=100", "divisor of K=4096"});
    c.group_size = 0;
    require_rejected(c, {"group_size=0"});
    c.W_dtype = DType::uint1;
    c.K = 4100;
    c.group_size = 4;
    require_rejected(c, {"K=4100", "multiple of 8", "uint1"});
    c.K = 4104;
    require_rejected(c, {"group_size=4", "multiple of 8"});
    c = w4a16();
    c.with_scaling = c.with_zeros = false;
    require_rejected(c, {"group_size=128 has no effect without with_scaling"});
  }
  SECTION("K not a multiple of the packing unit") {
    c.group_size = -1;
    c.K = 4095;
    require_rejected(c, {"K=4095", "multiple of 2", "uint4"});
  }
  SECTION("quantized zeros pack along N") {
    c.zeros_mode = ZerosMode::quantized;
    c.W_dtype = DType::uint2;
    c.N = 1022;
    require_rejected(c, {"N=1022", "multiple of 4", "zeros_mode='quantized'"});
    c.N = 1024;
    CHECK(rejection(c).empty());
  }
}

TEST_CASE("JSON round trip keeps every field, and BitBLAS's nulls are accepted", "[config]") {
  MatmulConfig c = w4a16();
  c.M = MSpec{64, 1, 16};
  c.with_bias = true;
  c.zeros_mode = ZerosMode::rescale;
  MatmulConfig back = config_from_json(to_json(c));
  CHECK(to_json(back) == to_json(c));
  CHECK(back.M.is_dynamic());
  CHECK(back.M.values() == std::vector<int64_t>{64, 1, 16});

  json bitblas = json::parse(R"({"M": 1, "N": 2048, "K": 1024, "A_dtype": "float16", "W_dtype": "int4",
      "accum_dtype": "float16", "out_dtype": "float16", "layout": "nt", "with_bias": false,
      "group_size": null, "with_scaling": false, "with_zeros": false, "zeros_mode": null})");
  MatmulConfig parsed = config_from_json(bitblas);
  CHECK(parsed.group_size == -1);
  CHECK(parsed.zeros_mode == ZerosMode::original);
  CHECK(parsed.M.value() == 1);
  CHECK_FALSE(config_from_json(json{{"N", 8}, {"K", 8}}).M.is_dynamic() == false);  // default buckets
}

TEST_CASE("bad JSON fields are named", "[config]") {
  auto message_for = [](const std::string& text) -> std::string {
    try {
      config_from_json(json::parse(text));
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  };
  CHECK(message_for(R"({"N": 8, "K": 8, "W_dtyp": "int4"})").find("unknown field 'W_dtyp'") != std::string::npos);
  CHECK(message_for(R"({"K": 8})").find("field N is required") != std::string::npos);
  CHECK(message_for(R"({"N": "8", "K": 8})").find("N must be an integer") != std::string::npos);
  CHECK(message_for(R"({"N": 8, "K": 8, "W_dtype": "int3"})").find("W_dtype=\"int3\" is not supported") !=
        std::string::npos);
  CHECK(message_for(R"({"N": 8, "K": 8, "with_bias": 1})").find("with_bias must be true or false") !=
        std::string::npos);
  CHECK(message_for(R"({"N": 8, "K": 8, "zeros_mode": "offset"})").find("zeros_mode=\"offset\"") !=
        std::string::npos);
  CHECK(message_for(R"([1, 2])").find("must be a JSON object") != std::string::npos);
}

TEST_CASE("the canonical form and hash depend on meaning, not spelling", "[config]") {
  MatmulConfig a = w4a16();
  a.M = MSpec{16, 1, 16};
  MatmulConfig b = w4a16();
  b.M = MSpec{1, 16};
  CHECK(canonical_form(a) == canonical_form(b));
  CHECK(config_hash(a) == config_hash(b));
  CHECK(config_hash(a).size() == 64);

  MatmulConfig whole_k = w4a16();
  whole_k.group_size = whole_k.K;
  MatmulConfig minus_one = w4a16();
  minus_one.group_size = -1;
  CHECK(config_hash(whole_k) == config_hash(minus_one));

  MatmulConfig no_zeros = w4a16();
  no_zeros.with_zeros = false;
  MatmulConfig no_zeros_other_mode = no_zeros;
  no_zeros_other_mode.zeros_mode = ZerosMode::quantized;
  CHECK(config_hash(no_zeros) == config_hash(no_zeros_other_mode));

  MatmulConfig other = w4a16();
  other.N = 2048;
  CHECK(config_hash(other) != config_hash(w4a16()));
  // A known value pins the canonical text across versions: a change here invalidates every cache.
  CHECK(canonical_form(w4a16()) ==
        R"({"A_dtype":"float16","K":4096,"M":1,"N":1024,"W_dtype":"uint4","accum_dtype":"float32",)"
        R"("group_size":128,"layout":"nt","out_dtype":"float16","with_bias":false,"with_scaling":true,)"
        R"("with_zeros":true,"zeros_mode":"original"})");
  CHECK_THROWS_AS(canonical_form(MatmulConfig{}), ConfigError);
}

TEST_CASE("operand shapes and the scale and bias dtypes follow the design", "[config]") {
  MatmulConfig c = w4a16();
  c.with_bias = true;
  OperandSpecs specs = operand_specs(c, 3);
  CHECK(specs.A.shape == std::vector<int64_t>{3, 4096});
  CHECK(specs.W.shape == std::vector<int64_t>{1024, 2048});
  CHECK(specs.W.bytes() == 1024 * 2048);
  CHECK(specs.scales.shape == std::vector<int64_t>{1024, 32});
  CHECK(specs.scales.dtype == DType::float16);
  CHECK(specs.zeros.shape == std::vector<int64_t>{1024, 32});
  CHECK(specs.bias.shape == std::vector<int64_t>{1024});
  CHECK(specs.C.shape == std::vector<int64_t>{3, 1024});
  CHECK(specs.C.bytes() == 3 * 1024 * 2);

  c.zeros_mode = ZerosMode::quantized;
  specs = operand_specs(c, 3);
  CHECK(specs.zeros.dtype == DType::uint4);
  CHECK(specs.zeros.shape == std::vector<int64_t>{32, 512});

  c.A_dtype = DType::bfloat16;
  c.out_dtype = DType::bfloat16;
  CHECK(scale_dtype(c) == DType::bfloat16);
  CHECK(bias_dtype(c) == DType::bfloat16);

  MatmulConfig int8 = MatmulConfig{};
  int8.M = 1;
  int8.N = 16;
  int8.K = 32;
  int8.A_dtype = DType::int8;
  int8.W_dtype = DType::int2;
  int8.accum_dtype = DType::int32;
  int8.out_dtype = DType::int32;
  int8.with_bias = true;
  CHECK(bias_dtype(int8) == DType::int32);
  CHECK(scale_dtype(int8) == DType::float16);
  CHECK_FALSE(operand_specs(int8, 1).scales.used());
}

TEST_CASE("an operand over 2^48 bytes is rejected by name instead of overflowing its size", "[config]") {
  // Each dimension is within 2^31 - 1, but M x K x 2 bytes of A overflows 64 bits (the fuzzer's find).
  MatmulConfig c = w4a16();
  c.M = 2147483647;
  c.K = 2147483520;  // a multiple of the group size 128
  require_rejected(c, {"operand A", "float16[2147483647, 2147483520]", "2^48 bytes"});

  c = w4a16();
  c.M = MSpec{1, 16, 1 << 30};
  c.K = 1 << 20;  // A at the largest bucket: 2^30 x 2^20 x 2 bytes = 2^51
  require_rejected(c, {"operand A", "at the largest M bucket"});

  c = w4a16();
  c.N = 1 << 30;
  c.K = 1 << 20;  // W: 2^30 x 2^19 packed bytes = 2^49
  require_rejected(c, {"operand W", "uint4[1073741824, 524288]"});

  c = w4a16();
  c.N = 1 << 28;
  c.K = 1 << 20;  // W: 2^47 bytes, under the bound; C and scales fit too
  CHECK(rejection(c).empty());
  CHECK(operand_specs(c, 1).W.bytes() == int64_t(1) << 47);
  // A run-time M past the largest bucket is not validated with the config: bytes() itself refuses.
  CHECK_THROWS_AS(operand_specs(c, int64_t(1) << 40).A.bytes(), ConfigError);
}
