#include "compiler/dtype.hpp"

#include <array>

#include "common/error.hpp"

namespace bitjit {
namespace {

constexpr uint8_t A = kRoleActivation, W = kRoleWeight, ACC = kRoleAccum, OUT = kRoleOutput;

const std::array<DTypeInfo, 16> kTable = {{
    {DType::float16, "float16", 16, true, ValueKind::floating, "IEEE binary16, 2 bytes", "bitjit::half_t",
     "bitjit::fmt::Float16", A | W | ACC | OUT, kFloat16Codec},
    {DType::bfloat16, "bfloat16", 16, true, ValueKind::floating, "bfloat16, 2 bytes", "bitjit::bfloat16_t",
     "bitjit::fmt::BFloat16", A | W | OUT, kBFloat16Codec},
    {DType::float32, "float32", 32, true, ValueKind::floating, "IEEE binary32, 4 bytes", "float",
     "bitjit::fmt::Float32", ACC | OUT, kFloat32Codec},
    {DType::int32, "int32", 32, true, ValueKind::twos_complement, "two's complement, 4 bytes", "int32_t",
     "bitjit::fmt::Int32", ACC | OUT, std::nullopt},
    {DType::int8, "int8", 8, true, ValueKind::twos_complement, "two's complement, 1 byte", "int8_t",
     "bitjit::fmt::Int8", A | W | OUT, std::nullopt},
    {DType::int4, "int4", 4, true, ValueKind::offset_binary, "offset binary q-8, 2 per byte", "uint8_t",
     "bitjit::fmt::Int4", W, std::nullopt},
    {DType::int2, "int2", 2, true, ValueKind::offset_binary, "offset binary q-2, 4 per byte", "uint8_t",
     "bitjit::fmt::Int2", W, std::nullopt},
    {DType::int1, "int1", 1, true, ValueKind::binary, "binary 2q-1 in {-1,+1}, 8 per byte", "uint8_t",
     "bitjit::fmt::Int1", W, std::nullopt},
    {DType::uint8, "uint8", 8, false, ValueKind::unsigned_int, "unsigned, 1 byte", "uint8_t",
     "bitjit::fmt::Uint8", W, std::nullopt},
    {DType::uint4, "uint4", 4, false, ValueKind::unsigned_int, "unsigned, 2 per byte", "uint8_t",
     "bitjit::fmt::Uint4", W, std::nullopt},
    {DType::uint2, "uint2", 2, false, ValueKind::unsigned_int, "unsigned, 4 per byte", "uint8_t",
     "bitjit::fmt::Uint2", W, std::nullopt},
    {DType::uint1, "uint1", 1, false, ValueKind::unsigned_int, "unsigned, 8 per byte", "uint8_t",
     "bitjit::fmt::Uint1", W, std::nullopt},
    {DType::nf4, "nf4", 4, true, ValueKind::lookup, "NF4 table index, 2 per byte", "uint8_t",
     "bitjit::fmt::NF4", W, std::nullopt},
    {DType::fp4_e2m1, "fp4_e2m1", 4, true, ValueKind::floating, "OCP E2M1, 2 per byte", "uint8_t",
     "bitjit::fmt::Fp4E2M1", W, kFloat4E2M1Codec},
    {DType::float8_e4m3, "float8_e4m3", 8, true, ValueKind::floating, "OCP E4M3FN, 1 byte", "uint8_t",
     "bitjit::fmt::Float8E4M3", A | W, kFloat8E4M3Codec},
    {DType::float8_e5m2, "float8_e5m2", 8, true, ValueKind::floating, "OCP E5M2, 1 byte", "uint8_t",
     "bitjit::fmt::Float8E5M2", A | W, kFloat8E5M2Codec},
}};

const std::array<double, 16> kNf4Levels = {
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};

}  // namespace

std::span<const DTypeInfo> dtype_table() { return kTable; }

const DTypeInfo& info(DType dtype) { return kTable[static_cast<size_t>(dtype)]; }

std::string_view to_string(DType dtype) { return info(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& row : kTable) {
    if (row.name == name) return row.id;
  }
  return std::nullopt;
}

std::string names_with_role(DTypeRole role) {
  std::string names;
  for (const auto& row : kTable) {
    if (!row.has_role(role)) continue;
    if (!names.empty()) names += ", ";
    names += row.name;
  }
  return names;
}

std::span<const double, 16> nf4_levels() { return kNf4Levels; }

double DTypeInfo::decode(uint32_t q) const {
  const uint32_t mask = bits == 32 ? 0xffffffffu : (1u << bits) - 1;
  if ((q & ~mask) != 0) {
    throw Error("decode: stored field " + std::to_string(q) + " does not fit " + std::to_string(bits) +
                " bits of " + std::string(name));
  }
  switch (kind) {
    case ValueKind::floating: return codec->decode(q);
    case ValueKind::twos_complement:
      return bits == 32 ? double(int32_t(q)) : double(int32_t(q << (32 - bits)) >> (32 - bits));
    case ValueKind::offset_binary: return double(int64_t(q) - (int64_t(1) << (bits - 1)));
    case ValueKind::binary: return 2.0 * double(q) - 1.0;
    case ValueKind::unsigned_int: return double(q);
    case ValueKind::lookup: return kNf4Levels[q];
  }
  return 0.0;
}

}  // namespace bitjit
