// On a GPU: a kernel compiled by compile_cuda loads, launches and computes what the CPU computes.
#include <cmath>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/module.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("a compiled kernel loads, launches and matches the CPU", "[runtime][gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(random);
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  const int count = 10007;  // not a multiple of the block size: the bounds check matters
  const float scale = uniform(random);
  std::vector<float> x(count), y(count);
  for (float& value : x) value = uniform(random);
  for (float& value : y) value = uniform(random);

  // No arch: compile_cuda targets the current device.
  const CompiledKernel kernel = compile_cuda({kScaleAndAddSource, "scale_and_add.cu", "", {}, "gpu launch test"});
  CHECK(kernel.arch == current_device_info().arch());
  Module module(kernel.cubin, "gpu launch test");
  CUfunction function = module.function("scale_and_add");

  DeviceBuffer x_device(count * sizeof(float));
  DeviceBuffer y_device(count * sizeof(float));
  x_device.upload(x.data(), count * sizeof(float));
  y_device.upload(y.data(), count * sizeof(float));
  CUdeviceptr x_ptr = x_device.ptr();
  CUdeviceptr y_ptr = y_device.ptr();
  int n = count;
  float a = scale;
  void* arguments[] = {&x_ptr, &y_ptr, &a, &n};
  const unsigned block = 256;
  const unsigned grid = (unsigned(count) + block - 1) / block;
  Stream stream;
  check_cuda(Driver::get().cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, stream.get(), arguments, nullptr),
             "cuLaunchKernel");
  stream.synchronize();

  std::vector<float> result(count);
  y_device.download(result.data(), count * sizeof(float));
  int mismatches = 0;
  for (int i = 0; i < count; ++i) {
    const float expected = std::fma(scale, x[size_t(i)], y[size_t(i)]);
    if (result[size_t(i)] != expected && ++mismatches <= 5) {
      INFO("index " << i << ": got " << result[size_t(i)] << ", expected " << expected);
      CHECK(result[size_t(i)] == expected);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("Module::function names a kernel the module lacks", "[runtime][gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  const CompiledKernel kernel = compile_cuda({kScaleAndAddSource, "scale_and_add.cu", "", {}, ""});
  Module module(kernel.cubin, "config X");
  bool named = false;
  try {
    module.function("no_such_kernel");
  } catch (const CudaError& error) {
    const std::string message = error.what();
    named = message.find("cuModuleGetFunction failed") != std::string::npos &&
            message.find("no_such_kernel") != std::string::npos && message.find("config X") != std::string::npos;
  }
  CHECK(named);
}
