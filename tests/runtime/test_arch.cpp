// The NVRTC target names: which archs bitjit accepts (the arch table, compiler/arch.hpp), how a
// device's compute capability maps to one, and the flags each is compiled with.
#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "runtime/device.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using bitjit::testing::thrown_message;

TEST_CASE("check_arch accepts the supported archs", "[runtime][arch]") {
  CHECK(supported_archs() == std::vector<std::string>{"sm_80", "sm_86", "sm_89", "sm_90a", "sm_100a", "sm_120a"});
  for (const std::string& arch : supported_archs()) CHECK_NOTHROW(check_arch(arch));
}

TEST_CASE("check_arch rejects other archs and lists the allowed ones", "[runtime][arch]") {
  for (const std::string arch : {"sm_75", "hopper", "sm_90", "sm_100", "sm_120", "", "SM_80"}) {
    const auto message = thrown_message<ConfigError>([&] { check_arch(arch); });
    INFO("arch '" << arch << "'");
    REQUIRE(message.has_value());
    CHECK(*message == "arch='" + arch + "' is not supported; allowed: sm_80, sm_86, sm_89, sm_90a, sm_100a, sm_120a");
  }
}

TEST_CASE("DeviceInfo::arch gives the arch-specific targets their a suffix", "[runtime][arch]") {
  const auto arch_of = [](int major, int minor) {
    DeviceInfo info;
    info.cc_major = major;
    info.cc_minor = minor;
    return info.arch();
  };
  CHECK(arch_of(8, 0) == "sm_80");
  CHECK(arch_of(8, 6) == "sm_86");
  CHECK(arch_of(8, 9) == "sm_89");
  CHECK(arch_of(9, 0) == "sm_90a");
  CHECK(arch_of(10, 0) == "sm_100a");
  CHECK(arch_of(12, 0) == "sm_120a");
  // Capabilities without a row keep their plain name, which check_arch refuses: an "a" target's
  // cubin runs on its own capability only (sm_100a code does not load on a 10.3 device).
  CHECK(arch_of(10, 3) == "sm_103");
  CHECK(arch_of(7, 5) == "sm_75");
}

TEST_CASE("nvrtc_version and default_compile_flags", "[runtime][arch][nvrtc]") {
  const std::string version = nvrtc_version();
  INFO(version);
  CHECK(version.find('.') != std::string::npos);
  CHECK(default_compile_flags("sm_90a") ==
        std::vector<std::string>{"--gpu-architecture=sm_90a", "-std=c++17", "--device-as-default-execution-space",
                                 "-lineinfo"});
  CHECK(default_compile_flags("sm_120a").front() == "--gpu-architecture=sm_120a");
  for (const std::string& flag : default_compile_flags("sm_80")) CHECK(flag.find("fast_math") == std::string::npos);
  CHECK_THROWS_AS(default_compile_flags("sm_75"), ConfigError);
}
