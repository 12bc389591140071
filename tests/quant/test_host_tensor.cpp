// Host tensors and single-value casts: bit patterns worked out by hand.
#include <cmath>
#include <limits>
#include <string>

#include "common/error.hpp"
#include "quant/host_tensor.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("host tensors are zero-filled, sized by their stored elements", "[quant][host_tensor]") {
  HostTensor half = make_host_tensor(DType::float16, {3, 4});
  CHECK(half.numel() == 12);
  CHECK(half.bytes.size() == 24);
  CHECK_FALSE(half.empty());
  for (uint8_t byte : half.bytes) CHECK(byte == 0);
  // Packed formats count bytes, as operand_specs does.
  CHECK(make_host_tensor(DType::uint4, {2, 3}).bytes.size() == 6);
  CHECK(make_host_tensor(DType::int32, {5}).bytes.size() == 20);
  // Rank 0 is "no tensor".
  CHECK(make_host_tensor(DType::float16, {}).empty());
  CHECK(HostTensor{}.empty());
  CHECK(make_host_tensor(DType::float16, {4, 0}).empty());
  CHECK_THROWS_AS(make_host_tensor(DType::float16, {-1}), Error);
}

TEST_CASE("16-bit floats round to nearest, ties to even, and overflow to infinity", "[quant][host_tensor]") {
  CHECK(encode_value(DType::float16, 1.0) == 0x3C00);
  CHECK(encode_value(DType::float16, 1.0 + std::ldexp(1.0, -11)) == 0x3C00);      // tie: even mantissa 0
  CHECK(encode_value(DType::float16, 1.0 + 3 * std::ldexp(1.0, -11)) == 0x3C02);  // tie: even mantissa 2
  CHECK(encode_value(DType::float16, 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -20)) == 0x3C01);
  CHECK(encode_value(DType::float16, -2.0) == 0xC000);
  CHECK(encode_value(DType::float16, 65504.0) == 0x7BFF);
  CHECK(encode_value(DType::float16, 70000.0) == 0x7C00);  // a cast, so infinity
  CHECK(std::isinf(round_to(DType::float16, -1e6)));
  CHECK(round_to(DType::float16, 0.1) == 0.0999755859375);
  CHECK(encode_value(DType::bfloat16, 1.0) == 0x3F80);
  CHECK(encode_value(DType::bfloat16, 1.0 + std::ldexp(1.0, -8)) == 0x3F80);      // tie: even
  CHECK(encode_value(DType::bfloat16, 1.0 + 3 * std::ldexp(1.0, -8)) == 0x3F82);  // tie: even
  CHECK(encode_value(DType::bfloat16, 3.14159265) == 0x4049);
  CHECK(round_to(DType::float32, 0.1) == double(0.1f));
}

TEST_CASE("fp8 and fp4 casts saturate to the largest finite value", "[quant][host_tensor]") {
  CHECK(encode_value(DType::float8_e4m3, 448.0) == 0x7E);
  CHECK(encode_value(DType::float8_e4m3, 470.0) == 0x7E);  // rounds to 480, the NaN slot: saturates
  CHECK(encode_value(DType::float8_e4m3, 1e9) == 0x7E);
  CHECK(encode_value(DType::float8_e4m3, -1e9) == 0xFE);
  CHECK(decode_value(DType::float8_e4m3, 0x7E) == 448.0);
  CHECK(std::isnan(decode_value(DType::float8_e4m3, 0x7F)));
  CHECK(round_to(DType::float8_e4m3, 0.3) == 0.3125);  // 1.25 * 2^-2 beats 1.125 * 2^-2
  CHECK(encode_value(DType::float8_e5m2, 1e6) == 0x7B);
  CHECK(decode_value(DType::float8_e5m2, 0x7B) == 57344.0);
  CHECK(std::isinf(decode_value(DType::float8_e5m2, 0x7C)));
  CHECK(encode_value(DType::fp4_e2m1, 7.0) == 0x7);
  CHECK(encode_value(DType::fp4_e2m1, -100.0) == 0xF);
  CHECK(encode_value(DType::fp4_e2m1, 2.5) == 0x4);  // tie 2 / 3: even mantissa
  CHECK(round_to(DType::fp4_e2m1, -0.7) == -0.5);
}

TEST_CASE("integer casts round half to even and saturate", "[quant][host_tensor]") {
  CHECK(encode_value(DType::int8, 2.5) == 2);
  CHECK(encode_value(DType::int8, 3.5) == 4);
  CHECK(encode_value(DType::int8, -2.5) == 0xFE);
  CHECK(encode_value(DType::int8, 200.0) == 0x7F);
  CHECK(encode_value(DType::int8, -200.0) == 0x80);
  CHECK(round_to(DType::int8, -1000.0) == -128);
  CHECK(encode_value(DType::uint8, 255.5) == 255);
  CHECK(encode_value(DType::uint8, -3.0) == 0);
  CHECK(encode_value(DType::int32, 1e10) == 0x7FFFFFFFu);
  CHECK(encode_value(DType::int32, -1e10) == 0x80000000u);
  CHECK(encode_value(DType::int32, -0.5) == 0);
  CHECK(round_to(DType::int32, -7.5) == -8);
  CHECK(error_of<Error>([] { encode_value(DType::int8, std::nan("")); }).find("NaN") != std::string::npos);
}

TEST_CASE("code-valued formats are not cast targets", "[quant][host_tensor]") {
  for (DType dtype : {DType::int4, DType::int2, DType::int1, DType::uint4, DType::uint2, DType::uint1, DType::nf4}) {
    CAPTURE(to_string(dtype));
    const std::string message = error_of<Error>([&] { encode_value(dtype, 1.0); });
    CHECK(message.find(std::string(to_string(dtype))) != std::string::npos);
    CHECK(message.find("logical_to_codes") != std::string::npos);
  }
}

TEST_CASE("set_value and get_value store little-endian elements", "[quant][host_tensor]") {
  HostTensor half = make_host_tensor(DType::float16, {2, 2});
  set_value(half, 1, 1.5);  // 0x3E00
  CHECK(half.bytes[2] == 0x00);
  CHECK(half.bytes[3] == 0x3E);
  CHECK(get_value(half, 1) == 1.5);
  CHECK(get_value(half, 0) == 0.0);

  HostTensor words = make_host_tensor(DType::int32, {2});
  set_value(words, 1, -2.0);
  CHECK(words.bytes == std::vector<uint8_t>{0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF});
  CHECK(get_value(words, 1) == -2.0);

  HostTensor floats = make_host_tensor(DType::float32, {1});
  set_value(floats, 0, 3.14159265);
  CHECK(get_value(floats, 0) == double(3.14159265f));
  CHECK(get_bits(floats, 0) == 0x40490FDBu);

  HostTensor bytes = make_host_tensor(DType::int8, {3});
  set_value(bytes, 2, -1.0);
  CHECK(bytes.bytes[2] == 0xFF);
  CHECK(get_value(bytes, 2) == -1.0);
}

TEST_CASE("element access reports packed dtypes and bad indices", "[quant][host_tensor]") {
  HostTensor packed = make_host_tensor(DType::uint4, {2});
  CHECK(error_of<Error>([&] { get_value(packed, 0); }).find("general_decompress") != std::string::npos);
  CHECK(error_of<Error>([&] { set_value(packed, 0, 1.0); }).find("uint4") != std::string::npos);
  HostTensor half = make_host_tensor(DType::float16, {4});
  CHECK(error_of<Error>([&] { get_value(half, 4); }).find("index 4") != std::string::npos);
  CHECK(error_of<Error>([&] { set_value(half, -1, 0.0); }).find("index -1") != std::string::npos);
  half.bytes.pop_back();
  CHECK(error_of<Error>([&] { get_value(half, 0); }).find("7 bytes") != std::string::npos);
}
