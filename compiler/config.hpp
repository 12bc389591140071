#pragma once
// MatmulConfig: what the user asks for, with BitBLAS's field names. C[M,N] = A[M,K] · dequant(W)[N,K]ᵀ.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "compiler/dtype.hpp"

namespace bitjit {

enum class ZerosMode : uint8_t { original, rescale, quantized };
std::string_view to_string(ZerosMode mode);

// M: one static value, or a list of buckets for dynamic M (any M >= 1 runs on the kernel of the
// smallest bucket >= M, the largest bucket beyond).
class MSpec {
 public:
  MSpec();  // the default buckets 1, 16, 32, 64, 128, 256, 512, 1024
  MSpec(int64_t m);  // NOLINT: a plain number reads naturally as a static M
  MSpec(std::initializer_list<int64_t> buckets);
  static MSpec buckets(std::vector<int64_t> values);

  bool is_dynamic() const { return dynamic_; }
  // The static M; throws for a dynamic spec.
  int64_t value() const;
  // The values as given (one value for a static M).
  const std::vector<int64_t>& values() const { return values_; }
  // The static M, or the largest bucket.
  int64_t largest() const;
  // The static M, or the smallest bucket.
  int64_t smallest() const;

 private:
  std::vector<int64_t> values_;
  bool dynamic_ = true;
};

struct MatmulConfig {
  MSpec M;
  int64_t N = 0;
  int64_t K = 0;
  DType A_dtype = DType::float16;
  DType W_dtype = DType::float16;
  DType accum_dtype = DType::float16;
  DType out_dtype = DType::float16;
  std::string layout = "nt";
  bool with_bias = false;
  int64_t group_size = -1;  // -1: one group spans K
  bool with_scaling = false;
  bool with_zeros = false;
  ZerosMode zeros_mode = ZerosMode::original;
};

// Throws ConfigError naming the field, the value and what is allowed, for every combination bitjit
// does not support.
void validate(const MatmulConfig& config);

// JSON with the config's field names; M is a number or a list. from_json accepts null for
// group_size (-1) and zeros_mode ("original") as BitBLAS writes them, and rejects unknown fields.
nlohmann::json to_json(const MatmulConfig& config);
MatmulConfig config_from_json(const nlohmann::json& json);

// Stable canonical text of a validated config: sorted keys, M buckets sorted and unique,
// group_size == K written as -1, zeros_mode written as "original" when unused. Equal meaning gives
// equal text across processes and versions of nlohmann_json.
std::string canonical_form(const MatmulConfig& config);
// SHA-256 of the canonical form, hex.
std::string config_hash(const MatmulConfig& config);

// ---- Derived facts every layer agrees on --------------------------------------------------------

// Scales (and original/rescale zeros) are stored in A's 16-bit float type: A_dtype itself for
// float16/bfloat16 activations, float16 for int8 and fp8 activations.
DType scale_dtype(const MatmulConfig& config);
// Bias is in A's type for float16/bfloat16 activations, else in out_dtype.
DType bias_dtype(const MatmulConfig& config);
// A_dtype is float16 or bfloat16 (the tensor-core families' fp16/bf16 paths).
bool float16_activations(const MatmulConfig& config);
// A_dtype is float8_e4m3 or float8_e5m2.
bool fp8_activations(const MatmulConfig& config);
// Activations and weights of one 8-bit type (int8, float8_e4m3 or float8_e5m2): the W8A8 GEMMs.
bool same_8bit_operands(const MatmulConfig& config);
// 8-bit activations with sub-byte weights decoded into the 8-bit tensor-core operand (W4A8):
// int8 activations with integer weights (int4, uint4, int2, uint2, int1, uint1), or fp8 activations
// (e4m3, e5m2) with int4, uint4 or fp4_e2m1 weights (every value exact in e4m3); float32 sums and
// no zero points.
bool w4a8_operands(const MatmulConfig& config);
// group_size with -1 resolved to K.
int64_t effective_group_size(const MatmulConfig& config);
int64_t group_count(const MatmulConfig& config);

// The largest M, N or K a config (and a call's M) may have: 2^31 - 1 (docs/formats.md).
inline constexpr int64_t kLargestDimension = 2147483647;

// Shape and dtype of each operand for a given M; a tensor of rank 0 means "not used".
struct OperandSpec {
  DType dtype;
  std::vector<int64_t> shape;  // in stored elements (bytes for packed formats)
  bool used() const { return !shape.empty(); }
  int64_t bytes() const;
};
// A name (as C++ spells it) with its spec, for whoever walks every operand.
struct NamedOperandSpec {
  const char* name;
  const OperandSpec* spec;
};

struct OperandSpecs {
  OperandSpec A, W, scales, zeros, bias, C;
  // The six operands in this order, each with its name.
  std::array<NamedOperandSpec, 6> named() const {
    return {{{"A", &A}, {"W", &W}, {"scales", &scales}, {"zeros", &zeros}, {"bias", &bias}, {"C", &C}}};
  }
};
OperandSpecs operand_specs(const MatmulConfig& config, int64_t M);

}  // namespace bitjit
