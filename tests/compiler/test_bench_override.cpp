// bench_matmul's --schedule override (bench/schedule_override.hpp): merged into each case's default,
// a malformed override refused for the whole run, a family's refusal reported per case.
#include <nlohmann/json.hpp>

#include "bench/schedule_override.hpp"
#include "common/error.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("the bench's schedule override merges into the default and names a case the family refuses", "[schedule]") {
  BITJIT_RANDOM_ENGINE(rng);
  // 70B qkv at 256 rows: 128 x 192 tiles (12 warps along N) by default on sm_90a; 70B o: 128 x 128.
  const MatmulConfig qkv = w4a16_g128_config(MSpec(256), 10240, 8192);
  const MatmulConfig o = w4a16_g128_config(MSpec(256), 8192, 8192);
  REQUIRE(default_schedule(qkv, "sm_90a").tile.n == 192);
  REQUIRE(default_schedule(o, "sm_90a").tile.n == 128);
  CHECK_FALSE(bench::overridden_schedule(qkv, "", "sm_90a").has_value());

  const int stages = std::uniform_int_distribution<int>(2, 3)(rng);
  const std::string narrower = R"({"tile":{"n":128},"pipeline":{"stages":)" + std::to_string(stages) + "}}";
  const TileSchedule o_narrower = *bench::overridden_schedule(o, narrower, "sm_90a");
  CHECK(o_narrower.pipeline.stages == stages);
  CHECK(o_narrower.pipeline.k_per_stage == default_schedule(o, "sm_90a").pipeline.k_per_stage);  // kept
  CHECK(schedule_refusal(o, o_narrower, "sm_90a").empty());
  const TileSchedule qkv_narrower = *bench::overridden_schedule(qkv, narrower, "sm_90a");
  CHECK(qkv_narrower.warps.n == 12);
  CHECK(contains(schedule_refusal(qkv, qkv_narrower, "sm_90a"), "warps.n=12"));
  const std::string with_warps = R"({"tile":{"n":128},"warps":{"n":8}})";
  CHECK(schedule_refusal(qkv, *bench::overridden_schedule(qkv, with_warps, "sm_90a"), "sm_90a").empty());

  // The run's mistakes, the same for every case: thrown, not listed per case.
  CHECK_THROWS_AS(bench::overridden_schedule(o, "{\"tile\":", "sm_90a"), nlohmann::json::parse_error);
  CHECK_THROWS_WITH(bench::overridden_schedule(o, R"({"pipeline":{"swizzle":1}})", "sm_90a"),
                    contains_text("schedule.pipeline: unknown key 'swizzle'"));
}
