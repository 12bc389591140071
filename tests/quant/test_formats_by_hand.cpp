// Stored bytes of every weight format, decoded through the reference by hand: which field sits in
// which bits, and which value each code stands for.
#include <cmath>
#include <limits>
#include <vector>

#include "compiler/config.hpp"
#include "quant/reference.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;

namespace {

// The weights one row of stored bytes stands for, with no scaling: w = v(q).
std::vector<double> decode_row(DType dtype, std::vector<uint8_t> bytes) {
  const DTypeInfo& row = info(dtype);
  MatmulConfig config;
  config.M = 1;
  config.N = 1;
  config.K = int64_t(bytes.size()) * row.elements_per_byte() / row.storage_bytes();
  config.W_dtype = dtype;
  config.accum_dtype = DType::float32;
  if (dtype == DType::bfloat16) config.A_dtype = DType::bfloat16;  // 16-bit weights match A
  MatmulOperands operands;
  operands.W = HostTensor{dtype, operand_specs(config, 1).W.shape, std::move(bytes)};
  return dequantize_reference(config, operands);
}

using Values = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("nf4 bytes: element 0 in the low nibble, codes index the QLoRA table", "[quant][formats]") {
  // 0x7F: low nibble 0xF -> 1.0, high nibble 0x7 -> 0.0.
  CHECK(decode_row(DType::nf4, {0x7F}) == Values{1.0, 0.0});
  // 0x80: low 0x0 -> -1.0, high 0x8 -> the first positive level.
  CHECK(decode_row(DType::nf4, {0x80}) == Values{-1.0, 0.07958029955625534});
  CHECK(decode_row(DType::nf4, {0x1E}) == Values{0.7229568362236023, -0.6961928009986877});
}

TEST_CASE("fp4_e2m1 bytes: sign in each nibble's top bit, magnitudes 0 .. 6", "[quant][formats]") {
  // 0xA3: low 0b0011 = +1.5 (exponent 1, mantissa 1), high 0b1010 = -1.0.
  CHECK(decode_row(DType::fp4_e2m1, {0xA3}) == Values{1.5, -1.0});
  // 0x7F: low 0b1111 = -6, high 0b0111 = +6 (no infinity or NaN in e2m1).
  CHECK(decode_row(DType::fp4_e2m1, {0x7F}) == Values{-6.0, 6.0});
  // 0x91: low 0b0001 = the subnormal 0.5, high 0b1001 = -0.5; 0x45: 3.0 and 2.0.
  CHECK(decode_row(DType::fp4_e2m1, {0x91, 0x45}) == Values{0.5, -0.5, 3.0, 2.0});
}

TEST_CASE("offset-binary, binary and unsigned bytes", "[quant][formats]") {
  // int4: v = q - 8. 0x80: low 0x0 -> -8, high 0x8 -> 0. 0xF7: low 7 -> -1, high 15 -> 7.
  CHECK(decode_row(DType::int4, {0x80, 0xF7}) == Values{-8, 0, -1, 7});
  CHECK(decode_row(DType::uint4, {0xA5}) == Values{5, 10});
  // 0xE4 = 0b11'10'01'00: fields 0, 1, 2, 3 from the low bits up.
  CHECK(decode_row(DType::int2, {0xE4}) == Values{-2, -1, 0, 1});
  CHECK(decode_row(DType::uint2, {0xE4}) == Values{0, 1, 2, 3});
  // 0xB1 = 0b1011'0001: fields 1,0,0,0,1,1,0,1; int1 maps q to 2q - 1.
  CHECK(decode_row(DType::int1, {0xB1}) == Values{1, -1, -1, -1, 1, 1, -1, 1});
  CHECK(decode_row(DType::uint1, {0xB1}) == Values{1, 0, 0, 0, 1, 1, 0, 1});
  CHECK(decode_row(DType::int8, {0x80, 0x7F, 0xFF, 0x01}) == Values{-128, 127, -1, 1});
  CHECK(decode_row(DType::uint8, {0x80, 0xFF}) == Values{128, 255});
}

TEST_CASE("fp8 bytes: e4m3fn has NaN but no infinity, e5m2 is IEEE-like", "[quant][formats]") {
  const Values e4m3 = decode_row(DType::float8_e4m3, {0x7E, 0x38, 0x01, 0xFE, 0x78, 0x7F});
  CHECK(e4m3[0] == 448.0);                // 0 1111 110: 1.75 * 2^8
  CHECK(e4m3[1] == 1.0);                  // 0 0111 000
  CHECK(e4m3[2] == std::ldexp(1.0, -9));  // smallest subnormal: 2^-6 * 1/8
  CHECK(e4m3[3] == -448.0);
  CHECK(e4m3[4] == 256.0);                // exponent 15 is an ordinary binade
  CHECK(std::isnan(e4m3[5]));             // 0x7F, the only NaN (with 0xFF)
  const Values e5m2 = decode_row(DType::float8_e5m2, {0x7C, 0xFC, 0x7B, 0x3C, 0x7D});
  CHECK(e5m2[0] == kInf);
  CHECK(e5m2[1] == -kInf);
  CHECK(e5m2[2] == 57344.0);  // 1.75 * 2^15
  CHECK(e5m2[3] == 1.0);
  CHECK(std::isnan(e5m2[4]));
}

TEST_CASE("16-bit weights are little-endian", "[quant][formats]") {
  CHECK(decode_row(DType::float16, {0x00, 0x3C, 0x00, 0xC0}) == Values{1.0, -2.0});
  CHECK(decode_row(DType::float16, {0x01, 0x00}) == Values{std::ldexp(1.0, -24)});
  CHECK(decode_row(DType::bfloat16, {0x80, 0x3F, 0x49, 0x40}) == Values{1.0, 3.140625});
}
