// compile_cuda turns a translation unit into a cubin for each supported arch, with the embedded
// headers available as includes, and counts every compile.
#include <cstring>

#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "runtime/driver.hpp"
#include "runtime/embedded_templates.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using bitjit::testing::kScaleAndAddSource;
using bitjit::testing::ScopedEnv;
using bitjit::testing::thrown_message;

namespace {

bool is_elf(const std::vector<char>& image) { return image.size() > 4 && std::memcmp(image.data(), "\x7f" "ELF", 4) == 0; }

// Compiles, checking the compile counter moved by exactly one.
CompiledKernel compile_counted(const CompileRequest& request) {
  const uint64_t before = nvrtc_compile_count();
  CompiledKernel kernel = compile_cuda(request);
  CHECK(nvrtc_compile_count() == before + 1);
  return kernel;
}

}  // namespace

TEST_CASE("compile_cuda builds a self-contained kernel for every supported arch", "[runtime][arch][nvrtc]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  for (const std::string& arch : supported_archs()) {
    INFO(arch);
    CompiledKernel kernel = compile_counted({kScaleAndAddSource, "scale_and_add.cu", arch, {}, "test"});
    CHECK(kernel.arch == arch);
    CHECK(is_elf(kernel.cubin));
    CHECK(kernel.flags == default_compile_flags(arch));
    CHECK(kernel.compile_ms > 0.0);
    // PTX only: the virtual arch of the same row ("sm_90a" -> compute_90a, whose PTX targets sm_90a).
    CompileRequest ptx_only{kScaleAndAddSource, "scale_and_add.cu", arch, {}, "test", CompileOutput::ptx};
    CompiledKernel ptx = compile_counted(ptx_only);
    CHECK(ptx.flags.front() == "--gpu-architecture=" + virtual_arch(arch));
    CHECK(ptx.ptx.find("\n.target " + arch + "\n") != std::string::npos);
  }
}

TEST_CASE("compile_cuda appends extra flags after the defaults", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  const std::string source = R"(
#if BITJIT_TEST_VALUE != 3
#error BITJIT_TEST_VALUE did not reach the compiler
#endif
extern "C" __global__ void noop() {}
)";
  CompiledKernel kernel = compile_counted({source, "extra_flags.cu", "sm_80", {"-DBITJIT_TEST_VALUE=3"}, ""});
  std::vector<std::string> expected = default_compile_flags("sm_80");
  expected.push_back("-DBITJIT_TEST_VALUE=3");
  CHECK(kernel.flags == expected);
  CHECK(is_elf(kernel.cubin));
}

TEST_CASE("sm_90a enables the Hopper-only instructions", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  // wgmma exists only in arch-specific sm_90a code; ptxas rejects it for plain sm_90.
  const std::string source = R"(extern "C" __global__ void fence() { asm volatile("wgmma.fence.sync.aligned;"); })";
  CompiledKernel kernel = compile_counted({source, "wgmma_fence.cu", "sm_90a", {}, ""});
  CHECK(is_elf(kernel.cubin));
}

TEST_CASE("compile_cuda serves the embedded headers as includes", "[runtime]") {
  if (embedded_templates().empty()) BITJIT_SKIP(std::string("templates/bitjit/ has no headers yet"));
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  std::string source;
  for (const EmbeddedHeader& header : embedded_templates()) source += "#include \"" + header.name + "\"\n";
  source += "extern \"C\" __global__ void uses_headers(float* out) { out[threadIdx.x] = 1.0f; }\n";
  for (const std::string arch : {"sm_80", "sm_90a"}) {
    INFO(arch);
    CompiledKernel kernel = compile_counted({source, "includes_templates.cu", arch, {}, ""});
    CHECK(is_elf(kernel.cubin));
  }
}

// The packed zero codes' index (decode/dequant.cuh) is 32-bit for every array whose indices fit in
// 32 bits and 64-bit past that: checked by the compiler on both sides of the boundary (no GPU holds
// a layer with 2^32 zero codes, so the wide case cannot be run).
TEST_CASE("the packed zero codes' index is 32-bit up to 2^32 codes and 64-bit past", "[runtime][nvrtc]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  const std::string source = R"(
#include "bitjit/core/matmul_params.cuh"
#include "bitjit/decode/dequant.cuh"
template <class X, class Y> struct Same { static constexpr bool value = false; };
template <class X> struct Same<X, X> { static constexpr bool value = true; };
struct AtTheBound { using W = bitjit::fmt::Uint4; static constexpr long long N = 1ll << 19, kGroups = 1ll << 13; };
struct PastTheBound { using W = bitjit::fmt::Uint4; static constexpr long long N = (1ll << 19) + 8, kGroups = 1ll << 13; };
static_assert(Same<decltype(bitjit::zero_code_index<AtTheBound>(0, 0)), uint32_t>::value, "32-bit at the bound");
static_assert(Same<decltype(bitjit::zero_code_index<PastTheBound>(0, 0)), unsigned long long>::value, "64-bit past");
static_assert(bitjit::zero_code_index<AtTheBound>((1ll << 13) - 1, (1ll << 19) - 1) == 0xffffffffu, "last index");
static_assert(bitjit::zero_code_index<PastTheBound>((1ll << 13) - 1, (1ll << 19) + 7) == (1ull << 32) + (1ull << 16) - 1,
              "last index past the bound");
extern "C" __global__ void zero_codes(const bitjit::MatmulParams params, uint32_t* out) {
  out[0] = bitjit::load_zero_code<AtTheBound>(params, (1ll << 13) - 1, threadIdx.x);
  out[1] = bitjit::load_zero_code<PastTheBound>(params, (1ll << 13) - 1, threadIdx.x);
}
)";
  CompiledKernel kernel = compile_counted({source, "zero_code_index.cu", "sm_90a", {}, ""});
  CHECK(is_elf(kernel.cubin));
}

TEST_CASE("compile_cuda rejects an unsupported arch before compiling", "[runtime]") {
  const uint64_t before = nvrtc_compile_count();
  const auto message = thrown_message<ConfigError>([] { compile_cuda({kScaleAndAddSource, "x.cu", "sm_75", {}, ""}); });
  REQUIRE(message.has_value());
  CHECK(message->find("arch='sm_75' is not supported") != std::string::npos);
  CHECK(nvrtc_compile_count() == before);
}

TEST_CASE("compile_cuda without an arch targets the current device", "[runtime]") {
  ScopedEnv no_dump("BITJIT_DUMP_DIR", std::nullopt);
  if (Driver::get().available()) {
    CompiledKernel kernel = compile_counted({kScaleAndAddSource, "current_device.cu", "", {}, ""});
    CHECK(!kernel.arch.empty());
    CHECK(is_elf(kernel.cubin));
  } else {
    const auto message = thrown_message<CudaError>([] { compile_cuda({kScaleAndAddSource, "x.cu", "", {}, ""}); });
    REQUIRE(message.has_value());
    CHECK(message->find("no GPU present") != std::string::npos);
  }
}
