// Matmul::create with a tuned schedule stored in the kernel database for this GPU.
#include "quant/random.hpp"
#include "quant/reference.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/matmul.hpp"
#include "runtime/tuning.hpp"
#include "tests/gpu/gpu_check.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scoped_env.hpp"
#include "tuning_db/database.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("Matmul::create takes the schedule tuned for this GPU from the database", "[gpu][runtime][db]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  ScopedEnv cache("BITJIT_CACHE_DIR", dir.str());
  ensure_context();
  const DeviceInfo device = current_device_info();
  const MatmulConfig config = small_w4_rescale_config();
  TileSchedule tuned = default_schedule(config, device.arch());
  tuned.tile.n = 16;
  tuned.warps.k = 8;  // tensor_gemv's warps split K
  REQUIRE_NOTHROW(validate_schedule(config, tuned, device.arch()));
  // One tuned entry per M bucket; the bucket of 5 rows only, so the bucket of 1 keeps its default.
  REQUIRE(db::default_database().store_tuned(
      {tuned_entry_key(config, 5), device.name, device.arch(), to_json(tuned), 0.001, "2026-11-25T00:00:00Z"}));

  const Matmul matmul = Matmul::create(config);
  CHECK(canonical_form(matmul.schedule_for(5)) == canonical_form(tuned));
  CHECK(canonical_form(matmul.schedule_for(1)) == canonical_form(default_schedule(config, device.arch(), 1)));
  GpuChecker checker;
  for (int64_t M : {1, 5}) {
    checker.check_random(matmul, M, rng);
  }
  CHECK(checker.failures() == 0);
  // This GPU's arch named (BitBLAS's quick start passes target=auto_detect_nvidia_target()): the
  // tuned schedule too. The bench named it, and timed the defaults on a tuned database unnoticed.
  const Matmul named = Matmul::create(config, {device.arch()});
  CHECK(canonical_form(named.schedule_for(5)) == canonical_form(tuned));
  CHECK(canonical_form(named.schedule_for(1)) == canonical_form(default_schedule(config, device.arch(), 1)));
  // Another arch named is compiled ahead for another GPU: the default schedule.
  const std::string other_arch = device.arch() == "sm_80" ? "sm_86" : "sm_80";
  CHECK(canonical_form(Matmul::create(config, {other_arch}).schedule()) ==
        canonical_form(default_schedule(config, other_arch)));
}
