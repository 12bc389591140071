// Fuzz target: the value checks behind the Python API's general_compress and transform_weight
// (quant/packing): packing of sub-byte codes and the logical-value check of each weight format.
// The first bytes pick the format, the bit width and the shape; the rest are the values. Accepted
// values must unpack to themselves; a rejection must name the bad value in a bounded message.
#include <vector>

#include "common/error.hpp"
#include "compiler/dtype.hpp"
#include "fuzz/support.hpp"
#include "quant/packing.hpp"

namespace {

// The shape's rows and columns from two bytes, so that rows * cols stays near the values' count
// without being tied to it (mismatches are part of what is checked).
struct Shape {
  int64_t rows, cols;
};

Shape shape_from(uint8_t rows_byte, uint8_t cols_byte, size_t values) {
  const int64_t rows = int64_t(rows_byte % 16);
  const int64_t cols = rows == 0 ? int64_t(cols_byte) : int64_t(values / size_t(rows)) + int8_t(cols_byte) % 4;
  return {rows, cols};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  if (size < 4) return 0;
  const int bits = int8_t(data[0]);  // mostly 1, 2, 4, 8 in the corpus; anything else must be refused
  const DType dtype = bitjit::dtype_table()[data[1] % bitjit::dtype_table().size()].id;
  const std::span<const uint8_t> values(data + 4, size - 4);
  const Shape shape = shape_from(data[2], data[3], values.size());

  try {
    const std::vector<uint8_t> packed = general_compress(values, shape.rows, shape.cols, bits);
    const std::vector<uint8_t> unpacked = general_decompress(packed, shape.rows, shape.cols, bits);
    FUZZ_CHECK(std::equal(values.begin(), values.end(), unpacked.begin(), unpacked.end()),
               "general_decompress(general_compress(v)) != v for bits=" + std::to_string(bits));
  } catch (const ConfigError& error) {
    fuzz::check_error_message(error.what());
  }

  const std::span<const int8_t> logical(reinterpret_cast<const int8_t*>(values.data()), values.size());
  try {
    const std::vector<uint8_t> codes = logical_to_codes(dtype, logical);
    const int field_bits = info(dtype).bits;
    for (size_t i = 0; i < codes.size(); ++i) {
      FUZZ_CHECK(field_bits >= 8 || codes[i] < (1u << field_bits),
                 "logical_to_codes gives code " + std::to_string(codes[i]) + " for " + std::string(to_string(dtype)));
    }
  } catch (const ConfigError& error) {
    fuzz::check_error_message(error.what());
  }
  return 0;
}
