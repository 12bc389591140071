// hardware_aware_finetune on the GPU: every bucket tuned, the choice stored and picked up by the
// next Matmul::create, and the tuned kernels still match the float64 reference.
#include "common/error.hpp"
#include "quant/random.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/matmul.hpp"
#include "tests/gpu/gpu_check.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scoped_env.hpp"
#include "tuning_db/database.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

// Tunes the config's buckets with topk 4, checks what is stored and that a new Matmul runs it right.
void tune_and_check(const MatmulConfig& config, std::mt19937_64& rng) {
  TemporaryDirectory cache;
  ScopedEnv use_cache("BITJIT_CACHE_DIR", cache.str());
  Matmul matmul = Matmul::create(config);
  int calls = 0;
  const TuningReport report = matmul.hardware_aware_finetune(4, [&](int64_t, int, int) { ++calls; });
  REQUIRE(report.buckets.size() == 2);
  CHECK(calls == report.buckets[0].candidates_timed + report.buckets[1].candidates_timed);
  for (const BucketTuning& bucket : report.buckets) {
    INFO("M=" << bucket.rows << " " << canonical_form(bucket.chosen));
    CHECK(bucket.candidates_timed == 5);  // the current schedule and the top 4
    CHECK(bucket.chosen_ms <= bucket.before_ms);  // the current one is among those timed
    CHECK(bucket.compile_seconds > 0.0);
    CHECK(bucket.compile_seconds < bucket.seconds);  // the timing comes after the compiling
    CHECK(canonical_form(matmul.schedule_for(bucket.rows)) == canonical_form(bucket.chosen));
    const auto stored = db::default_database().tuned(tuned_entry_key(config, bucket.rows), current_device_info().name);
    REQUIRE(stored);
    CHECK(stored->schedule == to_json(bucket.chosen));
  }
  WARN("tuned 2 buckets with topk 4 in " << report.seconds << " s");

  const Matmul again = Matmul::create(config);
  GpuChecker checker;
  for (const BucketTuning& bucket : report.buckets) {
    CHECK(canonical_form(again.schedule_for(bucket.rows)) == canonical_form(bucket.chosen));
    checker.check_random(again, bucket.rows, rng);
  }
  CHECK(checker.failures() == 0);
  CHECK_THROWS_AS(matmul.hardware_aware_finetune(0), ConfigError);
}

}  // namespace

TEST_CASE("hardware_aware_finetune tunes each M bucket and stores the choice", "[gpu][tuning]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  tune_and_check(uint4_zeros_config(MSpec::buckets({4, 100}), 1000, 2048, 128), rng);
}

// From 64 rows on a Hopper GPU the default and every candidate are one of the Hopper families
// (tensor_wgmma, tensor_wgmma_ws: their weight layout).
TEST_CASE("hardware_aware_finetune tunes tensor_wgmma buckets on a Hopper GPU", "[gpu][tuning][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma");
  BITJIT_RANDOM_ENGINE(rng);
  const MatmulConfig config = uint4_zeros_config(MSpec::buckets({64, 200}), 1000, 2048, 128);
  CHECK(is_hopper_family(Matmul::create(config).schedule_for(64).family));
  tune_and_check(config, rng);
}
