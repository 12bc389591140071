// NVRTC is thread-safe, and the tuner compiles candidates on several threads at once.
#include <thread>

#include "compiler/arch.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("four threads compiling at once all succeed", "[runtime]") {
  TempDir dump;
  REQUIRE(!dump.path().empty());
  ScopedEnv dump_dir("BITJIT_DUMP_DIR", dump.path().string());
  constexpr int kThreads = 4;
  const uint64_t before = nvrtc_compile_count();
  std::vector<CompiledKernel> kernels(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        const std::string arch = supported_archs()[size_t(t) % supported_archs().size()];
        // All threads dump under one name too, to exercise concurrent writes of the same file.
        kernels[size_t(t)] = compile_cuda({kScaleAndAddSource, "bitjit_threaded.cu", arch, {}, "thread " + std::to_string(t)});
      } catch (const std::exception& error) {
        errors[size_t(t)] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t << ": " << errors[size_t(t)]);
    CHECK(errors[size_t(t)].empty());
    CHECK(kernels[size_t(t)].cubin.size() > 4);
  }
  CHECK(nvrtc_compile_count() == before + kThreads);
  CHECK(read_text_file(dump.path() / "bitjit_threaded.cu") == kScaleAndAddSource);
}
