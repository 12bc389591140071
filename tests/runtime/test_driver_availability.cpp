// Without a GPU, the driver reports why, and everything that needs a device throws CudaError saying
// so; with one, the same calls succeed. Both branches run in the plain (untagged) suite.
#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using bitjit::testing::thrown_message;

TEST_CASE("Driver reports whether a GPU is usable, and why not", "[runtime]") {
  const Driver& driver = Driver::get();
  REQUIRE(&driver == &Driver::get());
  if (driver.available()) {
    CHECK(driver.unavailable_reason().empty());
    CHECK(driver.version() > 0);
    CHECK(driver.cuLaunchKernel != nullptr);
    CHECK(driver.cuMemAlloc != nullptr);
    CHECK_NOTHROW(driver.require());
  } else {
    INFO("reason: " << driver.unavailable_reason());
    CHECK_FALSE(driver.unavailable_reason().empty());
    const auto message = thrown_message<CudaError>([&] { driver.require(); });
    REQUIRE(message.has_value());
    CHECK(message->find("no GPU present") != std::string::npos);
    CHECK(message->find(driver.unavailable_reason()) != std::string::npos);
  }
}

TEST_CASE("ensure_context and device objects need a GPU", "[runtime]") {
  const Driver& driver = Driver::get();
  if (driver.available()) {
    CHECK(ensure_context() >= 0);
    return;
  }
  for (const auto& [what, message] : {
           std::pair{"ensure_context", thrown_message<CudaError>([] { ensure_context(); })},
           std::pair{"current_device_info", thrown_message<CudaError>([] { current_device_info(); })},
           std::pair{"DeviceBuffer", thrown_message<CudaError>([] { DeviceBuffer buffer(64); })},
           std::pair{"Stream", thrown_message<CudaError>([] { Stream stream; })},
       }) {
    INFO(what);
    REQUIRE(message.has_value());
    CHECK(message->find("no GPU present: " + driver.unavailable_reason()) != std::string::npos);
  }
}

TEST_CASE("check_cuda names the call, the error and the context", "[runtime]") {
  CHECK_NOTHROW(check_cuda(CUDA_SUCCESS, "cuInit"));
  const auto message =
      thrown_message<CudaError>([] { check_cuda(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc", "allocating 64 bytes"); });
  REQUIRE(message.has_value());
  INFO(*message);
  CHECK(message->rfind("cuMemAlloc failed: ", 0) == 0);
  CHECK(message->find(" while allocating 64 bytes") != std::string::npos);
  // The error's name comes from libcuda when it loaded, else its number is given.
  if (Driver::get().cuGetErrorName != nullptr) {
    CHECK(message->find("CUDA_ERROR_OUT_OF_MEMORY") != std::string::npos);
  } else {
    CHECK(message->find(std::to_string(int(CUDA_ERROR_OUT_OF_MEMORY))) != std::string::npos);
  }
}
