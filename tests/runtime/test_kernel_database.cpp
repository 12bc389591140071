// generate_kernel with the kernel database: where binaries come from, what the key depends on, and
// rebuilds of corrupt entries.
#include <fstream>

#include "runtime/kernel_cache.hpp"
#include "tests/runtime/runtime_test_support.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/random.hpp"
#include "tuning_db/database.hpp"
#include "tuning_db/files.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("kernels come from the process cache, then the database, then NVRTC", "[runtime][db]") {
  TempDir dir;
  ScopedEnv cache("BITJIT_CACHE_DIR", dir.str());
  forget_process_kernels();
  const MatmulConfig config = small_w4_rescale_config();
  const TileSchedule schedule = default_schedule(config, "sm_89");
  const uint64_t compiles = nvrtc_compile_count();
  const GeneratedKernel cold = generate_kernel(config, schedule, "sm_89");
  CHECK(cold.origin == KernelSource::compiled);
  CHECK(nvrtc_compile_count() == compiles + 1);
  CHECK(generate_kernel(config, schedule, "sm_89").origin == KernelSource::process_cache);
  forget_process_kernels();
  const GeneratedKernel warm = generate_kernel(config, schedule, "sm_89");
  CHECK(warm.origin == KernelSource::database);
  CHECK(warm.binary->cubin == cold.binary->cubin);
  CHECK(nvrtc_compile_count() == compiles + 1);
  const auto stored = db::KernelDatabase(dir.path()).load(cold.key);
  REQUIRE(stored);
  CHECK(stored->meta.at("templates") == templates_sha256());
  CHECK(stored->meta.at("arch") == "sm_89");
  CHECK(stored->meta.at("schedule") == to_json(schedule));
}

TEST_CASE("the key changes with the arch, the schedule and the config", "[runtime][db]") {
  const MatmulConfig config = small_w4_rescale_config();
  const TileSchedule schedule = default_schedule(config, "sm_80");
  const std::string key = emit_kernel(config, schedule, "sm_80").key;
  CHECK(emit_kernel(config, schedule, "sm_80").key == key);
  CHECK(emit_kernel(config, schedule, "sm_86").key != key);
  TileSchedule other = schedule;
  other.tile.n *= 2;
  CHECK(emit_kernel(config, other, "sm_80").key != key);
  MatmulConfig biased = config;
  biased.with_bias = true;
  CHECK(emit_kernel(biased, default_schedule(biased, "sm_80"), "sm_80").key != key);
  CHECK(templates_sha256().size() == 64);
}

TEST_CASE("a corrupt database entry is rebuilt by the next generate_kernel", "[runtime][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TempDir dir;
  ScopedEnv cache("BITJIT_CACHE_DIR", dir.str());
  forget_process_kernels();
  const MatmulConfig config = small_w4_rescale_config();
  const TileSchedule schedule = default_schedule(config, "sm_80");
  const GeneratedKernel first = generate_kernel(config, schedule, "sm_80");
  const std::filesystem::path path = db::KernelDatabase(dir.path()).kernel_path(first.key);
  std::string bytes = *db::read_file(path);
  bytes.resize(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));  // truncated anywhere
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;

  forget_process_kernels();
  const uint64_t compiles = nvrtc_compile_count();
  const GeneratedKernel rebuilt = generate_kernel(config, schedule, "sm_80");
  CHECK(rebuilt.origin == KernelSource::compiled);
  CHECK(nvrtc_compile_count() == compiles + 1);
  forget_process_kernels();
  CHECK(generate_kernel(config, schedule, "sm_80").origin == KernelSource::database);
}
