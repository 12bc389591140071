// Fuzz target: the value checks behind the Python API's general_compress, transform_weight and
// weight_transform (quant/packing: packing_fields_from_array, weight_fields_from_array), which read
// untrusted array bytes as the element type says, and the packing after them.
//
// Input: [call, element type, bits / dtype, row length, array bytes...]. The element count follows
// from the bytes, sometimes off by one (the checks must refuse a count that does not match). What
// the checks accept must be what was given: each general_compress field equals the integer value of
// its element (read here independently for integer and float32/64 arrays); each weight field lies
// inside its format's field width; and packed fields unpack to themselves.
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.hpp"
#include "compiler/dtype.hpp"
#include "fuzz/support.hpp"
#include "quant/packing.hpp"

namespace {

using bitjit::ArrayElement;
using bitjit::ElementKind;

ArrayElement element_from(uint8_t byte) {
  static constexpr ElementKind kKinds[] = {ElementKind::signed_int, ElementKind::unsigned_int, ElementKind::ieee_float,
                                           ElementKind::bfloat,     ElementKind::boolean,      ElementKind::other};
  static constexpr int kBits[] = {8, 16, 32, 64, 8, 16, 1, 12};  // mostly valid widths, some not
  return {kKinds[byte % 6], kBits[(byte / 6) % 8]};
}

// The element's value as a double when it is an integer or float32 / float64 element (nullopt
// otherwise): the independent reading the accepted fields are compared with.
std::optional<double> value_at(const ArrayElement& element, const uint8_t* bytes, int64_t index) {
  const uint8_t* at = bytes + index * (element.bits / 8);
  auto load = [&](auto value) {
    std::memcpy(&value, at, sizeof value);
    return double(value);
  };
  switch (element.kind) {
    case ElementKind::signed_int:
      if (element.bits == 8) return load(int8_t());
      if (element.bits == 16) return load(int16_t());
      if (element.bits == 32) return load(int32_t());
      return load(int64_t());
    case ElementKind::unsigned_int:
      if (element.bits == 8) return load(uint8_t());
      if (element.bits == 16) return load(uint16_t());
      if (element.bits == 32) return load(uint32_t());
      return load(uint64_t());
    case ElementKind::ieee_float:
      if (element.bits == 32) return load(float());
      if (element.bits == 64) return load(double());
      return std::nullopt;
    default: return std::nullopt;
  }
}

// What a value check returns, or nullopt for a rejection (whose message is checked).
template <typename Check>
std::optional<std::vector<uint8_t>> accepted(const Check& check) {
  try {
    return check();
  } catch (const bitjit::ConfigError& error) {
    bitjit::fuzz::check_error_message(error.what());
    return std::nullopt;
  }
}

void check_packing_round_trip(const std::vector<uint8_t>& fields, int64_t row_length, int bits) {
  const int64_t rows = row_length > 0 ? int64_t(fields.size()) / row_length : 0;
  if (row_length <= 0 || rows * row_length != int64_t(fields.size()) || row_length % (8 / bits) != 0) return;
  const std::vector<uint8_t> packed = bitjit::general_compress(fields, rows, row_length, bits);
  FUZZ_CHECK(bitjit::general_decompress(packed, rows, row_length, bits) == fields,
             "general_decompress(general_compress(v)) != v for bits=" + std::to_string(bits));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  if (size < 4) return 0;
  const bool packing_call = data[0] % 2 == 0;
  const int count_offset = int(data[0] / 2 % 3) - 1;  // -1, 0 or +1
  const ArrayElement element = element_from(data[1]);
  const std::span<const uint8_t> bytes(data + 4, size - 4);
  const int64_t element_bytes = element.kind == ElementKind::boolean ? 1 : std::max(1, element.bits / 8);
  const int64_t count = int64_t(bytes.size()) / element_bytes + (bytes.size() % element_bytes ? 0 : count_offset);
  const int64_t row_length = data[3] % 17;  // 0: no row (errors give the flat index)

  if (packing_call) {
    static constexpr int kBits[] = {1, 2, 4, 8, 3, 0, 16, -4};
    const int bits = kBits[data[2] % 8];
    const auto checked = accepted([&] { return packing_fields_from_array(bits, element, bytes, count, row_length); });
    if (!checked) return 0;
    const std::vector<uint8_t>& fields = *checked;
    FUZZ_CHECK(int64_t(fields.size()) == count, "packing_fields_from_array gave " + std::to_string(fields.size()) +
                                                    " fields for " + std::to_string(count) + " elements");
    for (int64_t i = 0; i < count; ++i) {
      FUZZ_CHECK(fields[size_t(i)] < (1u << bits), "a field of " + std::to_string(fields[size_t(i)]) + " for " +
                                                       std::to_string(bits) + "-bit packing at index " + std::to_string(i));
      const std::optional<double> given = value_at(element, bytes.data(), i);
      FUZZ_CHECK(!given || *given == double(fields[size_t(i)]),
                 "element " + std::to_string(i) + " of " + element.name() + " holds " + std::to_string(*given) +
                     " but was accepted as the field " + std::to_string(fields[size_t(i)]));
    }
    check_packing_round_trip(fields, row_length, bits);
    return 0;
  }

  const DType W_dtype = dtype_table()[data[2] % dtype_table().size()].id;
  const auto checked = accepted([&] { return weight_fields_from_array(W_dtype, element, bytes, count, row_length); });
  if (!checked) return 0;
  const std::vector<uint8_t>& fields = *checked;
  const DTypeInfo& w = info(W_dtype);
  const int64_t bytes_per_field = w.bits == 16 ? 2 : 1;
  FUZZ_CHECK(int64_t(fields.size()) == count * bytes_per_field,
             "weight_fields_from_array gave " + std::to_string(fields.size()) + " bytes for " + std::to_string(count) +
                 " elements of " + std::string(w.name));
  FUZZ_CHECK(!(w.is_integer() && w.bits <= 8 && element.kind != ElementKind::signed_int &&
               element.kind != ElementKind::unsigned_int),
             "weight_fields_from_array accepted " + element.name() + " values for " + std::string(w.name));
  if (w.bits < 8) {
    for (uint8_t field : fields) {
      FUZZ_CHECK(field < (1u << w.bits), "a field of " + std::to_string(field) + " for " + std::string(w.name));
    }
    check_packing_round_trip(fields, row_length, w.bits);
  }
  return 0;
}
