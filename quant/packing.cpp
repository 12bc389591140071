#include "quant/packing.hpp"

#include <string>

#include "common/error.hpp"

namespace bitjit {
namespace {

void check_bits(int bits, const char* call) {
  if (bits != 1 && bits != 2 && bits != 4 && bits != 8) {
    throw ConfigError(std::string(call) + ": bits=" + std::to_string(bits) + " is not supported; allowed: 1, 2, 4, 8");
  }
}

// Checks the shape and returns the packed bytes per row.
int64_t packed_row_bytes(int64_t rows, int64_t cols, int bits, const char* call) {
  check_bits(bits, call);
  if (rows < 0 || cols < 0) {
    throw ConfigError(std::string(call) + ": rows=" + std::to_string(rows) + " and cols=" + std::to_string(cols) +
                      " must not be negative");
  }
  const int per_byte = 8 / bits;
  if (cols % per_byte != 0) {
    throw ConfigError(std::string(call) + ": cols=" + std::to_string(cols) + " must be a multiple of " +
                      std::to_string(per_byte) + " to pack " + std::to_string(bits) + "-bit values " +
                      std::to_string(per_byte) + " to a byte");
  }
  return cols / per_byte;
}

void check_size(size_t actual, int64_t expected, const char* call, const char* what) {
  if (actual != size_t(expected)) {
    throw ConfigError(std::string(call) + ": got " + std::to_string(actual) + " " + what + ", expected " +
                      std::to_string(expected));
  }
}

[[noreturn]] void reject_value(int64_t index, int value, const std::string& range, DType dtype) {
  throw ConfigError("logical_to_codes: value " + std::to_string(value) + " at index " + std::to_string(index) +
                    " is outside " + std::string(to_string(dtype)) + "'s range " + range);
}

// The stored field for one logical value, or -1 when the value is outside the format.
int code_of_logical_value(DType dtype, int value) {
  const DTypeInfo& row = info(dtype);
  switch (row.kind) {
    case ValueKind::offset_binary: {
      const int offset = 1 << (row.bits - 1);
      return (value >= -offset && value < offset) ? value + offset : -1;
    }
    case ValueKind::binary: return value == 1 ? 1 : (value == -1 ? 0 : -1);
    case ValueKind::twos_complement: return uint8_t(int8_t(value));
    case ValueKind::unsigned_int:
    case ValueKind::lookup:
    case ValueKind::floating:
      if (row.bits == 8) return uint8_t(int8_t(value));
      return (value >= 0 && value < (1 << row.bits)) ? value : -1;
  }
  return -1;
}

std::string logical_range(DType dtype) {
  const DTypeInfo& row = info(dtype);
  switch (row.kind) {
    case ValueKind::offset_binary: {
      const int offset = 1 << (row.bits - 1);
      return "[" + std::to_string(-offset) + ", " + std::to_string(offset - 1) + "]";
    }
    case ValueKind::binary: return "{-1, +1}";
    default: return "[0, " + std::to_string((1 << row.bits) - 1) + "]";
  }
}

}  // namespace

std::vector<uint8_t> general_compress(std::span<const uint8_t> values, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packed_row_bytes(rows, cols, bits, "general_compress");
  check_size(values.size(), rows * cols, "general_compress", "values for rows*cols");
  const int per_byte = 8 / bits;
  const unsigned limit = 1u << bits;
  std::vector<uint8_t> packed(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < row_bytes; ++b) {
      uint8_t byte = 0;
      for (int j = 0; j < per_byte; ++j) {
        const int64_t c = b * per_byte + j;
        const uint8_t value = values[size_t(r * cols + c)];
        if (value >= limit) {
          throw ConfigError("general_compress: value " + std::to_string(value) + " at (row " + std::to_string(r) +
                            ", col " + std::to_string(c) + ") is outside [0, " + std::to_string(limit - 1) +
                            "] for " + std::to_string(bits) + "-bit packing");
        }
        byte |= uint8_t(value << (j * bits));
      }
      packed[size_t(r * row_bytes + b)] = byte;
    }
  }
  return packed;
}

std::vector<uint8_t> general_decompress(std::span<const uint8_t> packed, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packed_row_bytes(rows, cols, bits, "general_decompress");
  check_size(packed.size(), rows * row_bytes, "general_decompress", "bytes for rows*cols*bits/8");
  const int per_byte = 8 / bits;
  const unsigned mask = (1u << bits) - 1;
  std::vector<uint8_t> values(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < row_bytes; ++b) {
      const uint8_t byte = packed[size_t(r * row_bytes + b)];
      for (int j = 0; j < per_byte; ++j) {
        values[size_t(r * cols + b * per_byte + j)] = uint8_t((byte >> (j * bits)) & mask);
      }
    }
  }
  return values;
}

std::vector<uint8_t> logical_to_codes(DType W_dtype, std::span<const int8_t> values) {
  const DTypeInfo& row = info(W_dtype);
  if (!row.has_role(kRoleWeight) || row.bits > 8) {
    throw ConfigError("logical_to_codes: W_dtype=" + std::string(row.name) +
                      " has no 8-bit logical values; allowed: int8, int4, int2, int1, uint8, uint4, uint2, uint1, "
                      "nf4, fp4_e2m1, float8_e4m3, float8_e5m2");
  }
  std::vector<uint8_t> codes(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const int code = code_of_logical_value(W_dtype, values[i]);
    if (code < 0) reject_value(int64_t(i), values[i], logical_range(W_dtype), W_dtype);
    codes[i] = uint8_t(code);
  }
  return codes;
}

}  // namespace bitjit
