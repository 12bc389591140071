// general_compress / general_decompress and logical_to_codes: hand-packed bytes, a round-trip
// property on random data, and the errors users see.
#include <cmath>
#include <random>
#include <string>

#include "common/error.hpp"
#include "compiler/config.hpp"
#include "quant/packing.hpp"
#include "quant/reference.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/text.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("fields pack least significant first along the row", "[quant][packing]") {
  // 2-bit fields 1, 2, 3, 0 -> bits 0-1 = 01, 2-3 = 10, 4-5 = 11, 6-7 = 00: 0b00111001.
  CHECK(general_compress(std::vector<uint8_t>{1, 2, 3, 0}, 1, 4, 2) == std::vector<uint8_t>{0x39});
  // 4-bit: element 0 in the low nibble.
  CHECK(general_compress(std::vector<uint8_t>{0x3, 0xA}, 1, 2, 4) == std::vector<uint8_t>{0xA3});
  // 1-bit: 1,0,0,0,1,1,0,1 -> 0b10110001.
  CHECK(general_compress(std::vector<uint8_t>{1, 0, 0, 0, 1, 1, 0, 1}, 1, 8, 1) == std::vector<uint8_t>{0xB1});
  // Two rows of 4-bit fields: each row packs on its own.
  CHECK(general_compress(std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8}, 2, 4, 4) ==
        std::vector<uint8_t>{0x21, 0x43, 0x65, 0x87});
  CHECK(general_compress(std::vector<uint8_t>{0, 255, 17}, 1, 3, 8) == std::vector<uint8_t>{0, 255, 17});
  CHECK(general_decompress(std::vector<uint8_t>{0xB1}, 1, 8, 1) == std::vector<uint8_t>{1, 0, 0, 0, 1, 1, 0, 1});
  CHECK(general_decompress(std::vector<uint8_t>{0x39}, 1, 4, 2) == std::vector<uint8_t>{1, 2, 3, 0});
}

TEST_CASE("compress then decompress is the identity, with each field at bits [c*b, (c+1)*b) of its row",
          "[quant][packing]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (int bits : {1, 2, 4, 8}) {
    for (int trial = 0; trial < 20; ++trial) {
      const int per_byte = 8 / bits;
      const int64_t rows = std::uniform_int_distribution<int64_t>(1, 7)(rng);
      const int64_t cols = per_byte * std::uniform_int_distribution<int64_t>(1, 9)(rng);
      CAPTURE(bits, rows, cols);
      std::uniform_int_distribution<int> field(0, (1 << bits) - 1);
      std::vector<uint8_t> values(size_t(rows * cols));
      for (auto& value : values) value = uint8_t(field(rng));

      const std::vector<uint8_t> packed = general_compress(values, rows, cols, bits);
      REQUIRE(packed.size() == size_t(rows * cols * bits / 8));
      CHECK(general_decompress(packed, rows, cols, bits) == values);
      // Bit t of field (r, c) is bit c*bits + t of row r's little-endian bit stream.
      const int64_t row_bytes = cols * bits / 8;
      bool every_bit_in_place = true;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          for (int t = 0; t < bits; ++t) {
            const int64_t bit = c * bits + t;
            const int stored = (packed[size_t(r * row_bytes + bit / 8)] >> (bit % 8)) & 1;
            every_bit_in_place &= stored == ((values[size_t(r * cols + c)] >> t) & 1);
          }
        }
      }
      CHECK(every_bit_in_place);
    }
  }
}

TEST_CASE("packing errors name the offending index, value and allowed range", "[quant][packing]") {
  const std::vector<uint8_t> values = {1, 2, 3, 4, 5, 6, 16, 7};
  const std::string out_of_range = error_of([&] { general_compress(values, 2, 4, 4); });
  CHECK(contains(out_of_range, "value 16"));
  CHECK(contains(out_of_range, "(row 1, col 2)"));
  CHECK(contains(out_of_range, "[0, 15]"));
  CHECK(contains(error_of([&] { general_compress(std::vector<uint8_t>{0, 4, 0, 0}, 1, 4, 2); }), "(row 0, col 1)"));
  CHECK(contains(error_of([&] { general_compress(values, 2, 4, 3); }), "bits=3"));
  const std::string bad_cols = error_of([&] { general_compress(std::vector<uint8_t>{1, 2, 3}, 1, 3, 4); });
  CHECK(contains(bad_cols, "cols=3"));
  CHECK(contains(bad_cols, "multiple of 2"));
  CHECK(contains(error_of([&] { general_compress(values, 3, 4, 4); }), "expected 12"));
  CHECK(contains(error_of([&] { general_decompress(std::vector<uint8_t>{1, 2}, 1, 8, 4); }), "expected 4"));
}

TEST_CASE("logical values become stored fields per format", "[quant][packing]") {
  using V = std::vector<int8_t>;
  using C = std::vector<uint8_t>;
  CHECK(logical_to_codes(DType::int4, V{-8, -1, 0, 7}) == C{0, 7, 8, 15});
  CHECK(logical_to_codes(DType::int2, V{-2, -1, 0, 1}) == C{0, 1, 2, 3});
  CHECK(logical_to_codes(DType::int1, V{-1, 1, 1}) == C{0, 1, 1});
  CHECK(logical_to_codes(DType::int8, V{-128, -1, 0, 127}) == C{0x80, 0xFF, 0x00, 0x7F});
  CHECK(logical_to_codes(DType::uint4, V{0, 9, 15}) == C{0, 9, 15});
  CHECK(logical_to_codes(DType::uint2, V{3, 0}) == C{3, 0});
  CHECK(logical_to_codes(DType::uint1, V{0, 1}) == C{0, 1});
  CHECK(logical_to_codes(DType::uint8, V{5, -1}) == C{5, 255});  // int8_t -1 is the byte 255
  CHECK(logical_to_codes(DType::nf4, V{0, 15}) == C{0, 15});
  CHECK(logical_to_codes(DType::fp4_e2m1, V{0xA}) == C{0xA});
  CHECK(logical_to_codes(DType::float8_e4m3, V{0x7E, -2}) == C{0x7E, 0xFE});
  // docs/formats.md's worked example: int4 (-5, 2) -> fields 3, 10 -> the byte 0xA3.
  CHECK(general_compress(logical_to_codes(DType::int4, V{-5, 2}), 1, 2, 4) == C{0xA3});
}

TEST_CASE("logical values outside the format are errors naming the index", "[quant][packing]") {
  using V = std::vector<int8_t>;
  const std::string int4 = error_of([] { logical_to_codes(DType::int4, V{0, 1, 8}); });
  CHECK(contains(int4, "value 8 at index 2"));
  CHECK(contains(int4, "[-8, 7]"));
  CHECK(contains(error_of([] { logical_to_codes(DType::int2, V{-3}); }), "[-2, 1]"));
  const std::string int1 = error_of([] { logical_to_codes(DType::int1, V{1, -1, 0}); });
  CHECK(contains(int1, "value 0 at index 2"));
  CHECK(contains(int1, "{-1, +1}"));
  CHECK(contains(error_of([] { logical_to_codes(DType::uint4, V{16}); }), "[0, 15]"));
  CHECK(contains(error_of([] { logical_to_codes(DType::uint1, V{0, 0, 0, -1}); }), "value -1 at index 3"));
  CHECK(contains(error_of([] { logical_to_codes(DType::nf4, V{16}); }), "nf4"));
  CHECK(contains(error_of([] { logical_to_codes(DType::float16, V{1}); }), "float16"));
}

// A layer's worth of values (past the count that goes over the host's cores in ranges): every
// format's codes against each value's own rule (offset binary, two's complement, int1's {-1, +1}, the
// unsigned and table formats as they are), packed fields in their bits, and values outside the
// format in two ranges, the error naming the first.
TEST_CASE("logical values of a whole layer become codes and packed rows as value by value", "[quant][packing]") {
  BITJIT_RANDOM_ENGINE(rng);
  constexpr int64_t kRows = 1031, kCols = 4104;  // 4.2 M values: several ranges, rows split unevenly
  for (DType dtype : {DType::int4, DType::int2, DType::int1, DType::int8, DType::uint4, DType::uint8, DType::nf4,
                      DType::float8_e5m2}) {
    CAPTURE(to_string(dtype));
    const DTypeInfo& row = info(dtype);
    const auto code_of = [&](int value) {  // the format's rule, written out
      if (dtype == DType::int1) return value == 1 ? 1 : 0;
      if (row.kind == ValueKind::offset_binary) return value + (1 << (row.bits - 1));
      return int(uint8_t(int8_t(value)));
    };
    const int lowest = dtype == DType::int1 ? -1 : row.kind == ValueKind::offset_binary ? -(1 << (row.bits - 1))
                                                                                          : row.bits == 8 ? -128 : 0;
    const int highest = dtype == DType::int1 ? 1 : row.kind == ValueKind::offset_binary ? (1 << (row.bits - 1)) - 1
                                                                                         : row.bits == 8 ? 127 : (1 << row.bits) - 1;
    std::uniform_int_distribution<int> pick(lowest, highest);
    std::vector<int8_t> values(size_t(kRows * kCols));
    for (int8_t& value : values) {
      int v = pick(rng);
      if (dtype == DType::int1 && v == 0) v = 1;
      value = int8_t(v);
    }
    const std::vector<uint8_t> codes = logical_to_codes(dtype, values);
    bool every_code = true;
    for (size_t i = 0; i < values.size(); ++i) every_code &= codes[i] == code_of(values[i]);
    CHECK(every_code);
    if (row.bits < 8) {
      const std::vector<uint8_t> packed = general_compress(codes, kRows, kCols, row.bits);
      CHECK(general_decompress(packed, kRows, kCols, row.bits) == codes);
    }
    if (row.bits == 8) continue;  // every int8 value is a code
    // Outside the format in a late range and an early one: the first is named, by index or place.
    const int outside = dtype == DType::int1 ? 0 : highest + 1;
    const int64_t early = std::uniform_int_distribution<int64_t>(kCols, kRows * kCols / 2)(rng);
    values[size_t(kRows * kCols - 3)] = int8_t(outside);
    values[size_t(early)] = int8_t(outside);
    CHECK(contains(error_of([&] { logical_to_codes(dtype, values); }),
                   "value " + std::to_string(outside) + " at index " + std::to_string(early) + " "));
    std::vector<uint8_t> fields = codes;
    fields[size_t(kRows * kCols - 3)] = uint8_t(1 << row.bits);
    fields[size_t(early)] = uint8_t(1 << row.bits);
    CHECK(contains(error_of([&] { general_compress(fields, kRows, kCols, row.bits); }),
                   "(row " + std::to_string(early / kCols) + ", col " + std::to_string(early % kCols) + ")"));
  }
}

TEST_CASE("random logical weights survive codes, packing and the reference decoder", "[quant][packing]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (DType dtype : {DType::int4, DType::int2, DType::int1, DType::uint2}) {
    CAPTURE(to_string(dtype));
    MatmulConfig config;
    config.M = 1;
    config.N = 3;
    config.K = 16;
    config.W_dtype = dtype;
    const DTypeInfo& row = info(dtype);
    const int low = row.kind == ValueKind::unsigned_int ? 0 : -(1 << (row.bits - 1));
    const int high = row.kind == ValueKind::unsigned_int ? (1 << row.bits) - 1 : (1 << (row.bits - 1)) - 1;
    std::vector<int8_t> logical(size_t(config.N * config.K));
    for (auto& value : logical) {
      value = int8_t(std::uniform_int_distribution<int>(low, high)(rng));
      if (dtype == DType::int1) value = value < 0 ? -1 : 1;
    }
    MatmulOperands operands;
    operands.W = HostTensor{dtype, operand_specs(config, 1).W.shape,
                            general_compress(logical_to_codes(dtype, logical), config.N, config.K, row.bits)};
    const std::vector<double> decoded = dequantize_reference(config, operands);
    CHECK(decoded == std::vector<double>(logical.begin(), logical.end()));
  }
}

// The checks of values as a user's array gives them (Python's transform_weight and general_compress).
TEST_CASE("array values are checked as given, naming index and value", "[quant][packing]") {
  const auto bytes_of = [](const auto& values) {
    const auto* begin = reinterpret_cast<const uint8_t*>(values.data());
    return std::vector<uint8_t>(begin, begin + values.size() * sizeof(values[0]));
  };
  const ArrayElement int32{ElementKind::signed_int, 32}, f64{ElementKind::ieee_float, 64};
  const std::vector<int32_t> ints = {-8, 7, 300};
  const std::string range = error_of([&] { weight_fields_from_array(DType::int4, int32, bytes_of(ints), 3, 2); });
  CHECK(contains(range, "value 300 at index 2 (row 1, col 0) is outside int4's range [-8, 7]"));
  CHECK(weight_fields_from_array(DType::int4, int32, bytes_of(std::vector<int32_t>{-8, 7}), 2) ==
        std::vector<uint8_t>{0, 15});
  CHECK(contains(error_of([&] { weight_fields_from_array(DType::uint8, int32, bytes_of(std::vector<int32_t>{-1}), 1); }),
                 "value -1 at index 0 is outside uint8's range [0, 255]"));
  CHECK(contains(error_of([&] { weight_fields_from_array(DType::int4, f64, bytes_of(std::vector<double>{3.0}), 1); }),
                 "weight has dtype float64"));
  CHECK(contains(error_of([&] {
                   weight_fields_from_array(DType::int4, {ElementKind::boolean, 8}, std::vector<uint8_t>{1}, 1);
                 }),
                 "weight has dtype bool"));
  // 16-bit weights: finite values the format holds exactly, as little-endian patterns
  CHECK(weight_fields_from_array(DType::float16, f64, bytes_of(std::vector<double>{1.0, -2.0}), 2) ==
        std::vector<uint8_t>{0x00, 0x3C, 0x00, 0xC0});
  CHECK(contains(error_of([&] { weight_fields_from_array(DType::float16, f64, bytes_of(std::vector<double>{0.1}), 1); }),
                 "value 0.1 at index 0 is not exactly a float16"));
  CHECK(contains(error_of([&] {
                   weight_fields_from_array(DType::bfloat16, f64, bytes_of(std::vector<double>{std::nan("")}), 1);
                 }),
                 "value nan at index 0 is not finite"));
  // general_compress's fields: whole numbers in [0, 2^bits)
  CHECK(packing_fields_from_array(4, f64, bytes_of(std::vector<double>{3.0, 15.0}), 2) == std::vector<uint8_t>{3, 15});
  CHECK(contains(error_of([&] { packing_fields_from_array(4, f64, bytes_of(std::vector<double>{3.9}), 1); }),
                 "value 3.9 at index 0 is not a whole number"));
  CHECK(contains(error_of([&] { packing_fields_from_array(4, int32, bytes_of(std::vector<int32_t>{0, -1}), 2, 2); }),
                 "value -1 at index 1 (row 0, col 1) is outside [0, 15]"));
  const ArrayElement u64{ElementKind::unsigned_int, 64};
  CHECK(contains(error_of([&] { packing_fields_from_array(8, u64, bytes_of(std::vector<uint64_t>{~0ull}), 1); }),
                 "value 18446744073709551615 at index 0"));
  // the byte count must match the element count (untrusted input)
  CHECK(contains(error_of([&] { packing_fields_from_array(4, int32, std::vector<uint8_t>(7), 2); }),
                 "got 7 bytes for 2 elements of int32"));
}
