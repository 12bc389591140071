#include "quant/host_tensor.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "common/error.hpp"

namespace bitjit {
namespace {

std::string dtype_name(DType dtype) { return std::string(to_string(dtype)); }

bool saturates_when_cast(DType dtype) {
  return dtype == DType::float8_e4m3 || dtype == DType::float8_e5m2 || dtype == DType::fp4_e2m1;
}

// Round half to even, then clamp to [lowest, highest]; the result is the integer value.
int64_t round_and_saturate(DType dtype, double value, int64_t lowest, int64_t highest) {
  if (std::isnan(value)) throw Error("encode_value: NaN has no " + dtype_name(dtype) + " encoding");
  const double rounded = std::nearbyint(value);  // the default rounding mode is ties-to-even
  if (rounded <= double(lowest)) return lowest;
  if (rounded >= double(highest)) return highest;
  return int64_t(rounded);
}

void check_unpacked(const HostTensor& tensor, const char* call) {
  if (info(tensor.dtype).is_packed()) {
    throw Error(std::string(call) + ": " + dtype_name(tensor.dtype) +
                " is packed several elements to a byte; unpack with general_decompress");
  }
}

void check_index(const HostTensor& tensor, int64_t flat_index, const char* call) {
  if (flat_index < 0 || flat_index >= tensor.numel()) {
    throw Error(std::string(call) + ": index " + std::to_string(flat_index) + " is outside a " +
                dtype_name(tensor.dtype) + " tensor of " + std::to_string(tensor.numel()) + " elements");
  }
  const size_t needed = size_t(tensor.numel()) * size_t(info(tensor.dtype).storage_bytes());
  if (tensor.bytes.size() != needed) {
    throw Error(std::string(call) + ": tensor holds " + std::to_string(tensor.bytes.size()) +
                " bytes but its shape needs " + std::to_string(needed));
  }
}

}  // namespace

int64_t HostTensor::numel() const {
  if (shape.empty()) return 0;
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

HostTensor make_host_tensor(DType dtype, std::vector<int64_t> shape) {
  for (int64_t extent : shape) {
    if (extent < 0) throw Error("make_host_tensor: negative extent " + std::to_string(extent));
  }
  HostTensor tensor{dtype, std::move(shape), {}};
  tensor.bytes.assign(size_t(tensor.numel()) * size_t(info(dtype).storage_bytes()), 0);
  return tensor;
}

uint32_t encode_value(DType dtype, double value) {
  const DTypeInfo& row = info(dtype);
  if (row.is_float()) return row.codec->encode(value, saturates_when_cast(dtype));
  switch (dtype) {
    case DType::int8: return uint32_t(round_and_saturate(dtype, value, -128, 127)) & 0xFFu;
    case DType::uint8: return uint32_t(round_and_saturate(dtype, value, 0, 255));
    case DType::int32:
      return uint32_t(round_and_saturate(dtype, value, std::numeric_limits<int32_t>::min(),
                                         std::numeric_limits<int32_t>::max()));
    default: break;
  }
  throw Error("encode_value: " + dtype_name(dtype) +
              " values are codes, not a cast target; convert them with logical_to_codes");
}

double decode_value(DType dtype, uint32_t bits) { return info(dtype).decode(bits); }

double round_to(DType dtype, double value) { return decode_value(dtype, encode_value(dtype, value)); }

uint32_t get_bits(const HostTensor& tensor, int64_t flat_index) {
  check_unpacked(tensor, "get_bits");
  check_index(tensor, flat_index, "get_bits");
  const int width = info(tensor.dtype).storage_bytes();
  const uint8_t* element = tensor.bytes.data() + flat_index * width;
  uint32_t bits = 0;
  for (int byte = 0; byte < width; ++byte) bits |= uint32_t(element[byte]) << (8 * byte);
  return bits;
}

void set_bits(HostTensor& tensor, int64_t flat_index, uint32_t bits) {
  check_unpacked(tensor, "set_bits");
  check_index(tensor, flat_index, "set_bits");
  const int width = info(tensor.dtype).storage_bytes();
  uint8_t* element = tensor.bytes.data() + flat_index * width;
  for (int byte = 0; byte < width; ++byte) element[byte] = uint8_t(bits >> (8 * byte));
}

double get_value(const HostTensor& tensor, int64_t flat_index) {
  check_unpacked(tensor, "get_value");
  return decode_value(tensor.dtype, get_bits(tensor, flat_index));
}

void set_value(HostTensor& tensor, int64_t flat_index, double value) {
  check_unpacked(tensor, "set_value");
  set_bits(tensor, flat_index, encode_value(tensor.dtype, value));
}

}  // namespace bitjit
