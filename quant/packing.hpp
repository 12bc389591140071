#pragma once
// Packing of sub-byte fields into bytes (DESIGN.md §1): along the last axis, 8/bits fields per
// byte, field j of a byte at bits [j*bits, (j+1)*bits), least significant first.
#include <cstdint>
#include <span>
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

}  // namespace bitjit
