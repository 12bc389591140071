#pragma once
// Packing of sub-byte fields into bytes (docs/formats.md, Packing): along the last axis, 8/bits fields per
// byte, field j of a byte at bits [j*bits, (j+1)*bits), least significant first.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "compiler/dtype.hpp"

namespace bitjit {

// values: rows*cols fields, row-major, each in [0, 2^bits). bits in {1, 2, 4, 8};
// cols % (8/bits) == 0. Returns rows * cols*bits/8 bytes. Throws bitjit::ConfigError naming the
// (row, col) of a value out of range, or the bad bits / cols / size.
std::vector<uint8_t> general_compress(std::span<const uint8_t> values, int64_t rows, int64_t cols, int bits);
// The inverse: rows*cols fields from rows * cols*bits/8 bytes.
std::vector<uint8_t> general_decompress(std::span<const uint8_t> packed, int64_t rows, int64_t cols, int bits);

// Weight values as users hold them -> the stored field of each element, ready for
// general_compress:
//   int4 / int2: v in [-8, 7] / [-2, 1] -> v + 8 / v + 2 (offset binary)
//   int1:        v in {-1, +1}          -> (v + 1) / 2
//   int8:        the two's complement byte
//   uintN:       v in [0, 2^N) (uint8: the byte of v, since int8_t cannot spell 128..255)
//   nf4, fp4_e2m1: the 4-bit code in [0, 16); float8_*: the byte
// Throws bitjit::ConfigError naming the index and value outside the format, or for 16-bit formats.
std::vector<uint8_t> logical_to_codes(DType W_dtype, std::span<const int8_t> values);

// The element type of an array handed in from outside (numpy, torch, DLPack), as far as the value
// checks below need it: DLPack's type codes, reduced to what decides how a value is read.
enum class ElementKind : uint8_t { signed_int, unsigned_int, ieee_float, bfloat, boolean, other };
struct ArrayElement {
  ElementKind kind = ElementKind::other;
  int bits = 0;  // 8, 16, 32 or 64 (1 byte for bool)
  std::string name() const;  // "int16", "float32", "bfloat16", "bool", ...
};

// The checks of values as a user gives them (Python's transform_weight, weight_transform and
// general_compress): `count` elements of type `element`, little-endian, in `bytes` (exactly
// count * bits / 8 of them; untrusted). Every value is read as given, never cast first. Errors are
// ConfigErrors naming `call`, the element's index (and its row and column when row_length > 0)
// and its value.
//
// Logical weight values -> the stored field of each element: for formats up to 8 bits, one byte
// per element as logical_to_codes gives it, from integer arrays only (bool and floats refused),
// each value inside the format's range (int4 [-8, 7], int8 [-128, 127], uint8 and the codes of
// nf4, fp4 and fp8 [0, 2^bits), never negative); for float16 / bfloat16, two bytes (the 16-bit
// pattern, little-endian) per element, from float arrays whose values are finite and exactly
// representable in W_dtype.
std::vector<uint8_t> weight_fields_from_array(DType W_dtype, ArrayElement element, std::span<const uint8_t> bytes,
                                              int64_t count, int64_t row_length = 0,
                                              const std::string& call = "transform_weight");
// Fields for general_compress: integers (or floats holding finite whole numbers, as BitBLAS's
// general_compress takes float16 arrays) in [0, 2^bits); bool refused. One byte per element.
std::vector<uint8_t> packing_fields_from_array(int bits, ArrayElement element, std::span<const uint8_t> bytes,
                                               int64_t count, int64_t row_length = 0,
                                               const std::string& call = "general_compress");

}  // namespace bitjit
