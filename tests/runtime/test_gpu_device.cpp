// On a GPU: device properties, memory round trips, streams and event timing.
#include <algorithm>
#include <thread>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;

#define BITJIT_REQUIRE_GPU() \
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason())

TEST_CASE("DeviceInfo describes the current device", "[runtime][gpu]") {
  BITJIT_REQUIRE_GPU();
  const DeviceInfo& info = current_device_info();
  INFO(info.name << " " << info.arch());
  CHECK(&info == &current_device_info());
  CHECK(!info.name.empty());
  CHECK(info.cc_major >= 7);
  CHECK(info.sm_count > 0);
  CHECK(info.max_shared_per_block_optin >= 48 * 1024);
  CHECK(info.shared_per_sm >= info.max_shared_per_block_optin);
  CHECK(info.regs_per_block >= 32 * 1024);
  CHECK(info.l2_bytes > 0);
  CHECK(info.max_threads_per_block >= 256);
  std::string expected_arch = "sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor);
  if (info.cc_major == 9 && info.cc_minor == 0) expected_arch += "a";
  CHECK(info.arch() == expected_arch);
}

TEST_CASE("ensure_context keeps the current context and works on a new thread", "[runtime][gpu]") {
  BITJIT_REQUIRE_GPU();
  const int device = ensure_context();
  CUcontext first = nullptr;
  REQUIRE(Driver::get().cuCtxGetCurrent(&first) == CUDA_SUCCESS);
  REQUIRE(first != nullptr);
  CHECK(ensure_context() == device);
  CUcontext again = nullptr;
  REQUIRE(Driver::get().cuCtxGetCurrent(&again) == CUDA_SUCCESS);
  CHECK(again == first);

  CUcontext on_thread = nullptr;
  int device_on_thread = -1;
  std::thread([&] {
    device_on_thread = ensure_context();
    Driver::get().cuCtxGetCurrent(&on_thread);
  }).join();
  CHECK(device_on_thread == device);
  CHECK(on_thread == first);  // the same primary context
}

TEST_CASE("DeviceBuffer round-trips random bytes", "[runtime][gpu]") {
  BITJIT_REQUIRE_GPU();
  BITJIT_RANDOM_ENGINE(random);
  const size_t bytes = 1 << 20;
  std::vector<uint8_t> host(bytes);
  for (uint8_t& byte : host) byte = uint8_t(random());

  DeviceBuffer buffer(bytes);
  REQUIRE(buffer.size() == bytes);
  REQUIRE(buffer.ptr() != 0);
  buffer.upload(host.data(), bytes);
  std::vector<uint8_t> back(bytes);
  buffer.download(back.data(), bytes);
  CHECK(back == host);

  SECTION("at an offset") {
    const std::vector<uint8_t> patch = {1, 2, 3, 4, 5};
    buffer.upload(patch.data(), patch.size(), 1000);
    std::vector<uint8_t> read(patch.size());
    buffer.download(read.data(), read.size(), 1000);
    CHECK(read == patch);
  }
  SECTION("fill_bytes") {
    buffer.fill_bytes(0xab);
    buffer.download(back.data(), bytes);
    CHECK(std::all_of(back.begin(), back.end(), [](uint8_t byte) { return byte == 0xab; }));
  }
  SECTION("async copies on a stream") {
    Stream stream;
    std::reverse(host.begin(), host.end());
    buffer.upload_async(host.data(), bytes, stream.get());
    buffer.download_async(back.data(), bytes, stream.get());
    stream.synchronize();
    CHECK(back == host);
  }
  SECTION("moves hand over the allocation") {
    const CUdeviceptr ptr = buffer.ptr();
    DeviceBuffer moved(std::move(buffer));
    CHECK(moved.ptr() == ptr);
    CHECK(buffer.ptr() == 0);  // NOLINT(bugprone-use-after-move): moved-from state is defined
    CHECK(buffer.size() == 0);
  }
  SECTION("copies past the end are refused") {
    bool threw = false;
    try {
      buffer.upload(host.data(), 16, bytes - 8);
    } catch (const Error& error) {
      threw = std::string(error.what()).find("overruns") != std::string::npos;
    }
    CHECK(threw);
  }
}

TEST_CASE("Event timing measures work on a stream", "[runtime][gpu]") {
  BITJIT_REQUIRE_GPU();
  Stream stream;
  DeviceBuffer buffer(size_t(256) << 20);
  Event start;
  Event end;
  start.record(stream.get());
  for (int i = 0; i < 4; ++i) {
    check_cuda(Driver::get().cuMemsetD8Async(buffer.ptr(), uint8_t(i), buffer.size(), stream.get()), "cuMemsetD8Async");
  }
  end.record(stream.get());
  const float milliseconds = Event::elapsed_ms(start, end);
  INFO(milliseconds << " ms");
  CHECK(milliseconds > 0.0f);
  CHECK(milliseconds < 10000.0f);
}
