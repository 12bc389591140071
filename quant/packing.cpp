#include "quant/packing.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "common/error.hpp"
#include "common/parallel.hpp"

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

std::string bounds_text(DType dtype);  // below, with the checks of values as given

// A layer's weights are hundreds of millions of values (70B gate_up: 470 M), converted and packed
// once when a model loads: past this many they go in ranges of rows over the host's cores, each
// range its own bytes of the output.
constexpr int64_t kValuesWorthThreads = int64_t(1) << 22;

// body(begin, end) over ranges of [0, count), on the host's cores where worth_threads: false from
// body means a value of its range is outside the format. Whether every range was inside; the caller
// then finds the first value outside in order, so the error names the same one as a serial pass.
template <class Body>
bool every_range_inside(int64_t count, bool worth_threads, Body body) {
  std::atomic<bool> outside = false;
  for_each_range_in_parallel(count, worth_threads, [&](int64_t begin, int64_t end) {
    if (!body(begin, end)) outside = true;
  });
  return !outside;
}

// How the codes of a format follow from int8 logical values: code = value + offset (mod 256), the
// value inside the format while code < limit. Every format but int1 ({-1, +1}) is such a shift:
// offset binary by 2^(bits - 1), the rest by 0; one add and compare a value, which the compiler
// vectorizes (code_of_logical_value read the dtype table's row for every value: about 6 ns a value,
// 8B gate_up's 117 M values 0.7 s on one core).
struct ShiftedCodes {
  uint8_t offset = 0;
  unsigned limit = 0;
};
std::optional<ShiftedCodes> shifted_codes(DType dtype) {
  const DTypeInfo& row = info(dtype);
  if (row.kind == ValueKind::binary) return std::nullopt;
  const ShiftedCodes shift{uint8_t(row.kind == ValueKind::offset_binary ? 1 << (row.bits - 1) : 0), 1u << row.bits};
  for (int value = -128; value < 128; ++value) {  // the same codes as code_of_logical_value, or none
    const uint8_t code = uint8_t(value + shift.offset);
    if ((code < shift.limit ? int(code) : -1) != code_of_logical_value(dtype, value)) return std::nullopt;
  }
  return shift;
}

// The codes of values[begin, end) into codes; false where one is outside the format.
bool codes_of_range(DType dtype, const std::optional<ShiftedCodes>& shift, std::span<const int8_t> values,
                    std::span<uint8_t> codes, int64_t begin, int64_t end) {
  if (!shift) {
    bool inside = true;
    for (int64_t i = begin; i < end; ++i) {
      const int code = code_of_logical_value(dtype, values[size_t(i)]);
      inside &= code >= 0;
      codes[size_t(i)] = uint8_t(code);
    }
    return inside;
  }
  const uint8_t offset = shift->offset;
  const unsigned limit = shift->limit;
  const int8_t* in = values.data();
  uint8_t* out = codes.data();
  unsigned past = 0;  // any code at limit or above sets a bit at or above log2(limit)
  for (int64_t i = begin; i < end; ++i) {
    const uint8_t code = uint8_t(uint8_t(in[i]) + offset);
    out[i] = code;
    past |= code;
  }
  return past < limit;
}

}  // namespace

std::vector<uint8_t> general_compress(std::span<const uint8_t> values, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packed_row_bytes(rows, cols, bits, "general_compress");
  check_size(values.size(), rows * cols, "general_compress", "values for rows*cols");
  const int per_byte = 8 / bits;
  const unsigned limit = 1u << bits;
  std::vector<uint8_t> packed(static_cast<size_t>(rows * row_bytes));
  const bool inside = every_range_inside(rows, rows * cols >= kValuesWorthThreads, [&](int64_t row_begin, int64_t row_end) {
    const uint8_t* in = values.data() + row_begin * cols;
    uint8_t* out = packed.data() + row_begin * row_bytes;
    unsigned range_or = 0;
    for (int64_t b = 0; b < (row_end - row_begin) * row_bytes; ++b, in += per_byte) {
      uint8_t byte = 0;
      for (int j = 0; j < per_byte; ++j) {
        range_or |= in[j];
        byte = uint8_t(byte | (in[j] << (j * bits)));
      }
      out[b] = byte;
    }
    return range_or < limit;  // limit is a power of two: any value past it sets a higher bit
  });
  if (!inside) {
    const auto first = std::find_if(values.begin(), values.end(), [&](uint8_t v) { return v >= limit; });
    const int64_t at = first - values.begin();
    throw ConfigError("general_compress: value " + std::to_string(*first) + " at (row " + std::to_string(at / cols) +
                      ", col " + std::to_string(at % cols) + ") is outside [0, " + std::to_string(limit - 1) +
                      "] for " + std::to_string(bits) + "-bit packing");
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
  const std::optional<ShiftedCodes> shift = shifted_codes(W_dtype);
  std::vector<uint8_t> codes(values.size());
  const int64_t count = int64_t(values.size());
  const bool inside = every_range_inside(count, count >= kValuesWorthThreads, [&](int64_t begin, int64_t end) {
    return codes_of_range(W_dtype, shift, values, codes, begin, end);
  });
  if (!inside) {
    const auto first = std::find_if(values.begin(), values.end(), [&](int8_t v) { return code_of_logical_value(W_dtype, v) < 0; });
    reject_value(int64_t(first - values.begin()), *first, bounds_text(W_dtype), W_dtype);
  }
  return codes;
}

}  // namespace bitjit

namespace bitjit {
namespace {

// One element as given: an exact integer, or a float.
struct GivenValue {
  bool is_float = false;
  bool above_int64 = false;  // an unsigned 64-bit value past INT64_MAX (outside every range here)
  int64_t integer = 0;
  uint64_t unsigned_integer = 0;
  double real = 0;

  std::string text() const {
    if (!is_float) return above_int64 ? std::to_string(unsigned_integer) : std::to_string(integer);
    if (std::isnan(real)) return "nan";
    if (std::isinf(real)) return real > 0 ? "inf" : "-inf";
    char buffer[64];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, real).ptr;  // shortest round-trip form
    return std::string(buffer, end);
  }
  bool whole() const { return !is_float || (std::isfinite(real) && std::trunc(real) == real); }
  // The value as an integer, for whole values within +-2^62 (beyond: saturated, outside every range).
  int64_t as_integer() const {
    if (!is_float) return above_int64 ? std::numeric_limits<int64_t>::max() : integer;
    return std::fabs(real) < 0x1p62 ? int64_t(real) : (real < 0 ? std::numeric_limits<int64_t>::min()
                                                                   : std::numeric_limits<int64_t>::max());
  }
};

template <typename T>
T load(std::span<const uint8_t> bytes, int64_t index) {
  T value;
  std::memcpy(&value, bytes.data() + size_t(index) * sizeof(T), sizeof(T));
  return value;
}

GivenValue read_value(const ArrayElement& element, std::span<const uint8_t> bytes, int64_t i) {
  GivenValue v;
  switch (element.kind) {
    case ElementKind::signed_int:
      v.integer = element.bits == 8    ? load<int8_t>(bytes, i)
                  : element.bits == 16 ? load<int16_t>(bytes, i)
                  : element.bits == 32 ? load<int32_t>(bytes, i)
                                       : load<int64_t>(bytes, i);
      return v;
    case ElementKind::unsigned_int:
      v.unsigned_integer = element.bits == 8    ? load<uint8_t>(bytes, i)
                           : element.bits == 16 ? load<uint16_t>(bytes, i)
                           : element.bits == 32 ? load<uint32_t>(bytes, i)
                                                : load<uint64_t>(bytes, i);
      v.above_int64 = v.unsigned_integer > uint64_t(std::numeric_limits<int64_t>::max());
      v.integer = int64_t(v.unsigned_integer);
      return v;
    case ElementKind::ieee_float:
      v.is_float = true;
      v.real = element.bits == 16 ? kFloat16Codec.decode(load<uint16_t>(bytes, i))
               : element.bits == 32 ? double(load<float>(bytes, i))
                                    : load<double>(bytes, i);
      return v;
    case ElementKind::bfloat:
      v.is_float = true;
      v.real = kBFloat16Codec.decode(load<uint16_t>(bytes, i));
      return v;
    case ElementKind::boolean:
    case ElementKind::other: break;
  }
  throw Error("read_value: an element kind without values");  // callers refuse these kinds first
}

bool is_integer_kind(const ArrayElement& e) {
  return e.kind == ElementKind::signed_int || e.kind == ElementKind::unsigned_int;
}
bool is_float_kind(const ArrayElement& e) { return e.kind == ElementKind::ieee_float || e.kind == ElementKind::bfloat; }

// The element type is one this file reads, and `bytes` holds exactly `count` of them.
void check_array(const ArrayElement& e, std::span<const uint8_t> bytes, int64_t count, const std::string& call) {
  const bool readable = (is_integer_kind(e) && (e.bits == 8 || e.bits == 16 || e.bits == 32 || e.bits == 64)) ||
                        (e.kind == ElementKind::ieee_float && (e.bits == 16 || e.bits == 32 || e.bits == 64)) ||
                        (e.kind == ElementKind::bfloat && e.bits == 16) || e.kind == ElementKind::boolean;
  if (!readable) throw ConfigError(call + ": arrays of " + e.name() + " are not accepted");
  const int64_t element_bytes = e.kind == ElementKind::boolean ? 1 : e.bits / 8;
  if (count < 0 || int64_t(bytes.size()) / element_bytes < count || int64_t(bytes.size()) != count * element_bytes) {
    throw ConfigError(call + ": got " + std::to_string(bytes.size()) + " bytes for " + std::to_string(count) +
                      " elements of " + e.name());
  }
}

std::string position(int64_t index, int64_t row_length) {
  std::string text = "at index " + std::to_string(index);
  if (row_length > 0) {
    text += " (row " + std::to_string(index / row_length) + ", col " + std::to_string(index % row_length) + ")";
  }
  return text;
}

[[noreturn]] void reject_given(const std::string& call, const GivenValue& value, int64_t index, int64_t row_length,
                               const std::string& why) {
  throw ConfigError(call + ": value " + value.text() + " " + position(index, row_length) + " " + why);
}

// The range of logical values of a format up to 8 bits, as users give them.
std::pair<int64_t, int64_t> logical_bounds(DType dtype) {
  const DTypeInfo& row = info(dtype);
  switch (row.kind) {
    case ValueKind::offset_binary:
    case ValueKind::twos_complement: return {-(int64_t(1) << (row.bits - 1)), (int64_t(1) << (row.bits - 1)) - 1};
    case ValueKind::binary: return {-1, 1};
    default: return {0, (int64_t(1) << row.bits) - 1};
  }
}

std::string bounds_text(DType dtype) {
  if (info(dtype).kind == ValueKind::binary) return "{-1, +1}";
  const auto [low, high] = logical_bounds(dtype);
  return "[" + std::to_string(low) + ", " + std::to_string(high) + "]";
}

// float16 / bfloat16 weights: finite values that the format holds exactly, as their 16-bit patterns.
std::vector<uint8_t> sixteen_bit_fields(DType W_dtype, const ArrayElement& element, std::span<const uint8_t> bytes,
                                        int64_t count, int64_t row_length, const std::string& call) {
  const DTypeInfo& w = info(W_dtype);
  if (!is_float_kind(element)) {
    throw ConfigError(call + ": weight has dtype " + element.name() + "; " + std::string(w.name) +
                      " weights are float values: pass a float16, bfloat16, float32 or float64 array");
  }
  std::vector<uint8_t> fields(static_cast<size_t>(count) * 2);
  for (int64_t i = 0; i < count; ++i) {
    const GivenValue value = read_value(element, bytes, i);
    if (!std::isfinite(value.real)) reject_given(call, value, i, row_length, "is not finite");
    const uint32_t pattern = w.codec->encode(value.real);
    if (w.codec->decode(pattern) != value.real) {
      GivenValue nearest;
      nearest.is_float = true;
      nearest.real = w.codec->decode(pattern);
      reject_given(call, value, i, row_length,
                   "is not exactly a " + std::string(w.name) + " (nearest: " + nearest.text() + "); round the weights to " +
                       std::string(w.name) + " first");
    }
    fields[size_t(2 * i)] = uint8_t(pattern & 0xFF);
    fields[size_t(2 * i + 1)] = uint8_t(pattern >> 8);
  }
  return fields;
}

}  // namespace

std::string ArrayElement::name() const {
  switch (kind) {
    case ElementKind::signed_int: return "int" + std::to_string(bits);
    case ElementKind::unsigned_int: return "uint" + std::to_string(bits);
    case ElementKind::ieee_float: return "float" + std::to_string(bits);
    case ElementKind::bfloat: return "bfloat" + std::to_string(bits);
    case ElementKind::boolean: return "bool";
    case ElementKind::other: break;
  }
  return "an unsupported element type (" + std::to_string(bits) + " bits)";
}

namespace {

// The stored codes of integer weight values of element type Int (one per code of `codes`), each
// checked against the format's range; the first outside it is refused by index, as given.
template <typename Int>
void integer_weight_codes(DType W_dtype, const ArrayElement& element, std::span<const uint8_t> bytes, int64_t row_length,
                          const std::string& call, std::vector<uint8_t>& codes) {
  const DTypeInfo& w = info(W_dtype);
  // Plain copies, not structured bindings: lambdas below use them (clang before 16 refuses to
  // capture a structured binding).
  const auto [lowest, highest] = logical_bounds(W_dtype);
  const int64_t low = lowest, high = highest;
  std::vector<int> code_of(size_t(high - low + 1));  // the format's codes by logical value - low
  for (int64_t v = low; v <= high; ++v) code_of[size_t(v - low)] = code_of_logical_value(W_dtype, int(v));
  const bool binary = w.kind == ValueKind::binary;  // {-1, +1}: 0 inside the bounds but not a value
  const auto inside = [&](Int v) {
    return (std::is_signed_v<Int> ? int64_t(v) >= low : true) &&
           (std::is_signed_v<Int> ? int64_t(v) <= high : uint64_t(v) <= uint64_t(high)) && !(binary && v == 0);
  };
  // In ranges over the host's cores for a layer's values; where any is outside, the first is named.
  const int64_t count = int64_t(codes.size());
  const bool all_inside = every_range_inside(count, count >= kValuesWorthThreads, [&](int64_t begin, int64_t end) {
    bool range_inside = true;
    for (int64_t i = begin; i < end; ++i) {
      const Int v = load<Int>(bytes, i);
      const bool ok = inside(v);
      range_inside &= ok;
      codes[size_t(i)] = ok ? uint8_t(code_of[size_t(int64_t(v) - low)]) : uint8_t(0);
    }
    return range_inside;
  });
  if (all_inside) return;
  for (int64_t i = 0; i < count; ++i) {
    if (!inside(load<Int>(bytes, i))) {
      reject_given(call, read_value(element, bytes, i), i, row_length,
                   "is outside " + std::string(w.name) + "'s range " + bounds_text(W_dtype));
    }
  }
}

}  // namespace

std::vector<uint8_t> weight_fields_from_array(DType W_dtype, ArrayElement element, std::span<const uint8_t> bytes,
                                              int64_t count, int64_t row_length, const std::string& call) {
  check_array(element, bytes, count, call);
  const DTypeInfo& w = info(W_dtype);
  if (!w.has_role(kRoleWeight)) throw ConfigError(call + ": W_dtype=" + std::string(w.name) + " is not a weight format");
  if (w.bits == 16) return sixteen_bit_fields(W_dtype, element, bytes, count, row_length, call);
  if (!is_integer_kind(element)) {
    throw ConfigError(call + ": weight has dtype " + element.name() + "; " + std::string(w.name) +
                      " weights are given as integer values " + bounds_text(W_dtype) +
                      ": pass an integer array (int8, int16, int32, int64 or unsigned)");
  }
  std::vector<uint8_t> codes(static_cast<size_t>(count));
  // One loop per element type: the type's switch hoisted out of a model's billions of values.
  const auto convert = [&]<typename Int>(Int) { integer_weight_codes<Int>(W_dtype, element, bytes, row_length, call, codes); };
  const bool is_signed = element.kind == ElementKind::signed_int;
  switch (element.bits) {
    case 8: is_signed ? convert(int8_t{}) : convert(uint8_t{}); break;
    case 16: is_signed ? convert(int16_t{}) : convert(uint16_t{}); break;
    case 32: is_signed ? convert(int32_t{}) : convert(uint32_t{}); break;
    default: is_signed ? convert(int64_t{}) : convert(uint64_t{}); break;
  }
  return codes;
}

std::vector<uint8_t> packing_fields_from_array(int bits, ArrayElement element, std::span<const uint8_t> bytes,
                                               int64_t count, int64_t row_length, const std::string& call) {
  check_bits(bits, call.c_str());
  check_array(element, bytes, count, call);
  if (element.kind == ElementKind::boolean) {
    throw ConfigError(call + ": values have dtype bool; pass integer fields in [0, " + std::to_string((1 << bits) - 1) + "]");
  }
  const int64_t high = (int64_t(1) << bits) - 1;
  std::vector<uint8_t> fields(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const GivenValue value = read_value(element, bytes, i);
    if (!value.whole()) reject_given(call, value, i, row_length, "is not a whole number");
    const int64_t v = value.as_integer();
    if (value.above_int64 || v < 0 || v > high) {
      reject_given(call, value, i, row_length,
                   "is outside [0, " + std::to_string(high) + "], the " + std::to_string(bits) +
                       "-bit fields it packs (signed intN values are stored offset binary: v + 2^(N-1))");
    }
    fields[size_t(i)] = uint8_t(v);
  }
  return fields;
}

}  // namespace bitjit
