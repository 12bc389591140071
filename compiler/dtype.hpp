#pragma once
// The dtype table: one row per format, read by validation, codegen, packing and the CPU reference.
// Adding a format is adding a row here and its decoder in templates/bitjit/decode/formats.cuh.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "compiler/float_codec.hpp"

namespace bitjit {

enum class DType : uint8_t {
  float16, bfloat16, float32, int32,
  int8, int4, int2, int1,
  uint8, uint4, uint2, uint1,
  nf4, fp4_e2m1, float8_e4m3, float8_e5m2,
};

// How a stored bit field q becomes a value (docs/formats.md, Value sets).
enum class ValueKind : uint8_t {
  floating,       // IEEE-style float: sign, exponent, mantissa (see FloatCodec)
  twos_complement,// int8, int32: the plain signed integer
  offset_binary,  // int4, int2: v = q - 2^(bits-1)
  binary,         // int1: v = 2q - 1, i.e. {-1, +1}
  unsigned_int,   // uintN: v = q
  lookup,         // nf4: v = table[q]
};

// Where a dtype may appear in a MatmulConfig.
enum DTypeRole : uint8_t {
  kRoleActivation = 1, kRoleWeight = 2, kRoleAccum = 4, kRoleOutput = 8,
};

struct DTypeInfo {
  DType id;
  std::string_view name;          // the config spelling, e.g. "uint4"
  int bits;                       // bits per element
  bool is_signed;                 // the value set holds negative numbers
  ValueKind kind;
  std::string_view storage;       // how elements lie in memory, for humans
  std::string_view cuda_type;     // C type of one stored element (or packed byte) in device code
  std::string_view device_format; // the decoder struct in templates/bitjit/decode/formats.cuh
  uint8_t roles;                  // DTypeRole bits
  std::optional<FloatCodec> codec;// for floating kinds

  // Elements per byte of packed storage (1 for 8-bit and wider formats).
  int elements_per_byte() const { return bits < 8 ? 8 / bits : 1; }
  int storage_bytes() const { return bits < 8 ? 1 : bits / 8; }
  bool is_packed() const { return bits < 8; }
  bool is_float() const { return kind == ValueKind::floating; }
  bool is_integer() const { return !is_float() && kind != ValueKind::lookup; }
  bool has_role(DTypeRole role) const { return (roles & role) != 0; }
  // The value of stored field q (the raw bits of one element), exactly, as a double.
  double decode(uint32_t q) const;
  // Number of distinct stored codes, 2^bits.
  uint64_t code_count() const { return uint64_t(1) << bits; }
};

// All rows, in DType order.
std::span<const DTypeInfo> dtype_table();
const DTypeInfo& info(DType dtype);
std::string_view to_string(DType dtype);
// Looks a dtype up by its config name; nullopt if no row has that name.
std::optional<DType> parse_dtype(std::string_view name);
// "float16, bfloat16, ..." for the dtypes that can play a role, for error messages.
std::string names_with_role(DTypeRole role);

// The 16 NF4 levels of QLoRA (normal-float quantiles on [-1, 1]), indexed by the 4-bit code.
std::span<const double, 16> nf4_levels();

}  // namespace bitjit
