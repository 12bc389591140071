// The NVRTC target names: which archs bitjit accepts, and how a device's compute capability maps to one.
#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using bitjit::testing::thrown_message;

TEST_CASE("check_arch accepts the supported archs", "[runtime]") {
  CHECK(supported_archs() == std::vector<std::string>{"sm_80", "sm_86", "sm_89", "sm_90a"});
  for (const std::string& arch : supported_archs()) CHECK_NOTHROW(check_arch(arch));
}

TEST_CASE("check_arch rejects other archs and lists the allowed ones", "[runtime]") {
  for (const std::string arch : {"sm_75", "hopper", "sm_90", "", "SM_80"}) {
    const auto message = thrown_message<ConfigError>([&] { check_arch(arch); });
    INFO("arch '" << arch << "'");
    REQUIRE(message.has_value());
    CHECK(*message == "arch='" + arch + "' is not supported; allowed: sm_80, sm_86, sm_89, sm_90a");
  }
}

TEST_CASE("DeviceInfo::arch gives Hopper its a suffix", "[runtime]") {
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
  CHECK(arch_of(10, 0) == "sm_100");
  CHECK(arch_of(7, 5) == "sm_75");
}

TEST_CASE("nvrtc_version and default_compile_flags", "[runtime]") {
  const std::string version = nvrtc_version();
  INFO(version);
  CHECK(version.find('.') != std::string::npos);
  CHECK(default_compile_flags("sm_90a") ==
        std::vector<std::string>{"--gpu-architecture=sm_90a", "-std=c++17", "--device-as-default-execution-space",
                                 "-lineinfo"});
  for (const std::string& flag : default_compile_flags("sm_80")) CHECK(flag.find("fast_math") == std::string::npos);
}
