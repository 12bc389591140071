// The dtype table: every row present, decoders checked against values worked out by hand.
#include <cmath>
#include <set>

#include "compiler/dtype.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;

TEST_CASE("the dtype table has the 16 formats, in DType order, with consistent facts", "[dtype]") {
  const std::vector<std::string> expected = {"float16", "bfloat16", "float32", "int32", "int8", "int4",
                                             "int2", "int1", "uint8", "uint4", "uint2", "uint1", "nf4",
                                             "fp4_e2m1", "float8_e4m3", "float8_e5m2"};
  REQUIRE(dtype_table().size() == expected.size());
  std::set<std::string> device_formats;
  for (size_t i = 0; i < expected.size(); ++i) {
    const DTypeInfo& row = dtype_table()[i];
    CAPTURE(row.name);
    CHECK(row.name == expected[i]);
    CHECK(static_cast<size_t>(row.id) == i);
    CHECK(parse_dtype(row.name) == row.id);
    CHECK(info(row.id).name == row.name);
    CHECK((row.bits == 1 || row.bits == 2 || row.bits == 4 || row.bits == 8 || row.bits == 16 || row.bits == 32));
    CHECK(row.is_packed() == (row.bits < 8));
    CHECK(row.elements_per_byte() * std::min(row.bits, 8) == 8);
    CHECK(!row.cuda_type.empty());
    CHECK(device_formats.insert(std::string(row.device_format)).second);
    CHECK(row.codec.has_value() == row.is_float());
    if (row.codec) CHECK(row.codec->total_bits() == row.bits);
  }
  CHECK_FALSE(parse_dtype("int3").has_value());
  CHECK_FALSE(parse_dtype("Float16").has_value());
}

TEST_CASE("roles match the design's field tables", "[dtype]") {
  CHECK(names_with_role(kRoleActivation) == "float16, bfloat16, int8, float8_e4m3, float8_e5m2");
  CHECK(names_with_role(kRoleWeight) ==
        "float16, bfloat16, int8, int4, int2, int1, uint8, uint4, uint2, uint1, nf4, fp4_e2m1, float8_e4m3, "
        "float8_e5m2");
  CHECK(names_with_role(kRoleAccum) == "float16, float32, int32");
  CHECK(names_with_role(kRoleOutput) == "float16, bfloat16, float32, int32, int8");
}

TEST_CASE("integer formats decode as the design defines them", "[dtype]") {
  // uintN: v = q
  for (uint32_t q = 0; q < 16; ++q) CHECK(info(DType::uint4).decode(q) == double(q));
  // int4 / int2: offset binary
  CHECK(info(DType::int4).decode(0x0) == -8);
  CHECK(info(DType::int4).decode(0x8) == 0);
  CHECK(info(DType::int4).decode(0xF) == 7);
  CHECK(info(DType::int2).decode(0) == -2);
  CHECK(info(DType::int2).decode(3) == 1);
  // int1: binary {-1, +1}
  CHECK(info(DType::int1).decode(0) == -1);
  CHECK(info(DType::int1).decode(1) == 1);
  // int8 and int32: two's complement
  CHECK(info(DType::int8).decode(0x80) == -128);
  CHECK(info(DType::int8).decode(0x7F) == 127);
  CHECK(info(DType::int8).decode(0xFF) == -1);
  CHECK(info(DType::int32).decode(0xFFFFFFFEu) == -2);
  CHECK(info(DType::uint8).decode(0xFF) == 255);
  // A field wider than the format is a caller bug, reported as such.
  CHECK_THROWS(info(DType::uint2).decode(4));
}

TEST_CASE("nf4 and fp4 codes decode to their tables", "[dtype]") {
  // nf4: the QLoRA table; code 7 is exactly zero, 0 and 15 the ends.
  CHECK(info(DType::nf4).decode(0) == -1.0);
  CHECK(info(DType::nf4).decode(7) == 0.0);
  CHECK(info(DType::nf4).decode(15) == 1.0);
  CHECK(info(DType::nf4).decode(8) == Approx(0.07958029955625534).epsilon(1e-15));
  CHECK(info(DType::nf4).decode(1) == Approx(-0.6961928009986877).epsilon(1e-15));
  for (uint32_t q = 1; q < 16; ++q) CHECK(info(DType::nf4).decode(q) > info(DType::nf4).decode(q - 1));
  // fp4 e2m1: sign in bit 3, magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}.
  const double magnitudes[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (uint32_t q = 0; q < 8; ++q) {
    CHECK(info(DType::fp4_e2m1).decode(q) == magnitudes[q]);
    CHECK(info(DType::fp4_e2m1).decode(q | 8) == -magnitudes[q]);
  }
}

TEST_CASE("fp8 and 16-bit floats decode bit patterns worked out by hand", "[dtype]") {
  const auto& e4m3 = info(DType::float8_e4m3);
  CHECK(e4m3.decode(0x38) == 1.0);          // 0 0111 000: 2^(7-7)
  CHECK(e4m3.decode(0x7E) == 448.0);        // largest finite: 1.75 * 2^8
  CHECK(std::isnan(e4m3.decode(0x7F)));     // the only NaN code (e4m3fn has no infinity)
  CHECK(e4m3.decode(0x78) == 256.0);        // exponent 15 is a normal binade in e4m3fn
  CHECK(e4m3.decode(0x01) == std::ldexp(1.0, -9));  // smallest subnormal
  CHECK(e4m3.decode(0xB8) == -1.0);
  const auto& e5m2 = info(DType::float8_e5m2);
  CHECK(e5m2.decode(0x3C) == 1.0);
  CHECK(e5m2.decode(0x7B) == 57344.0);
  CHECK(std::isinf(e5m2.decode(0x7C)));
  CHECK(std::isnan(e5m2.decode(0x7D)));
  CHECK(e5m2.decode(0x01) == std::ldexp(1.0, -16));
  const auto& f16 = info(DType::float16);
  CHECK(f16.decode(0x3C00) == 1.0);
  CHECK(f16.decode(0x7BFF) == 65504.0);
  CHECK(f16.decode(0xC000) == -2.0);
  CHECK(f16.decode(0x0001) == std::ldexp(1.0, -24));
  CHECK(std::isinf(f16.decode(0x7C00)));
  const auto& bf16 = info(DType::bfloat16);
  CHECK(bf16.decode(0x3F80) == 1.0);
  CHECK(bf16.decode(0x4049) == 3.140625);
  CHECK(info(DType::float32).decode(0x40490FDBu) == double(3.14159274101257324f));
}

TEST_CASE("float codecs round to nearest even and saturate on request", "[dtype]") {
  // fp16: 1 + 2^-11 is a tie between 1 and 1 + 2^-10: goes to the even mantissa (1).
  CHECK(kFloat16Codec.encode(1.0 + std::ldexp(1.0, -11)) == 0x3C00);
  // 1 + 3*2^-11 ties between 1+2^-10 (odd) and 1+2^-9 (even): goes up.
  CHECK(kFloat16Codec.encode(1.0 + 3 * std::ldexp(1.0, -11)) == 0x3C02);
  CHECK(kFloat16Codec.encode(65519.0) == 0x7BFF);
  CHECK(kFloat16Codec.encode(65520.0) == 0x7C00);          // rounds to infinity
  CHECK(kFloat16Codec.encode(65520.0, true) == 0x7BFF);    // unless saturating
  CHECK(kFloat16Codec.encode(std::ldexp(1.0, -25)) == 0x0000);  // tie with zero: even
  CHECK(kFloat16Codec.encode(std::ldexp(3.0, -26)) == 0x0001);
  CHECK(kFloat16Codec.encode(-0.0) == 0x8000);
  CHECK(kFloat8E4M3Codec.encode(1000.0) == 0x7E);          // no infinity: saturates to 448
  CHECK(kFloat8E4M3Codec.encode(-1000.0) == 0xFE);
  CHECK(kFloat4E2M1Codec.encode(2.5) == 0x4);              // tie 2 / 3: even mantissa -> 2
  CHECK(kFloat4E2M1Codec.encode(0.25) == 0x0);             // tie 0 / 0.5 -> 0
  CHECK(kFloat4E2M1Codec.encode(5.0) == 0x6);              // tie 4 / 6 -> 4
  CHECK(kFloat4E2M1Codec.encode(-7.0) == 0xF);
  CHECK(kBFloat16Codec.encode(3.14159265) == 0x4049);
}

TEST_CASE("every code of every small float format survives decode then encode", "[dtype]") {
  for (const DTypeInfo& row : dtype_table()) {
    if (!row.codec || row.bits > 16) continue;
    CAPTURE(row.name);
    for (uint32_t code = 0; code < (1u << row.bits); ++code) {
      double value = row.codec->decode(code);
      if (std::isnan(value)) continue;
      CAPTURE(code, value);
      CHECK(row.codec->encode(value) == code);
    }
  }
}
