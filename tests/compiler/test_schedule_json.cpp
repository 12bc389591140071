// A TileSchedule's JSON: the groups and fields it is written with, the round trip, and the error for
// every malformed input (the key's path, what is allowed, what was given).
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/families/family.hpp"
#include "compiler/schedule.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

using json = nlohmann::json;

std::string json_error(const std::string& text) {
  return error_of([&] { schedule_from_json(parse_json_input(text, "schedule")); });
}

// Any family, every field any int (the JSON form does not validate).
TileSchedule random_schedule(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> any(std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  TileSchedule s;
  s.family = all_families()[std::uniform_int_distribution<size_t>(0, all_families().size() - 1)(rng)].family;
  s.tile = {.m = any(rng), .n = any(rng)};
  s.warps = {.m = any(rng), .n = any(rng), .k = any(rng)};
  s.pipeline = {.stages = any(rng), .k_per_stage = any(rng), .k_per_round = any(rng), .split_k = any(rng),
                .vector_bytes = any(rng), .wgmma_group = any(rng)};
  // blocks_per_sm 0 and cluster_n 1 (left out of the JSON) in about one schedule of four each.
  const auto mostly = [&](int neutral) { return std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? neutral : any(rng); };
  s.launch = {.raster_group = any(rng), .blocks_per_sm = mostly(0), .cluster_n = mostly(1)};
  return s;
}

}  // namespace

TEST_CASE("a schedule's JSON has every field in its group, keys sorted", "[schedule]") {
  TileSchedule s;
  s.family = KernelFamily::tensor_gemm;
  s.tile = {.m = 64, .n = 128};
  s.warps = {.m = 1, .n = 4, .k = 1};
  s.pipeline = {.stages = 4, .k_per_stage = 128, .k_per_round = 0, .split_k = 2, .vector_bytes = 16, .wgmma_group = 1};
  s.launch = {.raster_group = 1};
  CHECK(canonical_form(s) ==
        R"({"family":"tensor_gemm","launch":{"raster_group":1},)"
        R"("pipeline":{"k_per_round":0,"k_per_stage":128,"split_k":2,"stages":4,"vector_bytes":16,"wgmma_group":1},)"
        R"("tile":{"m":64,"n":128},"warps":{"k":1,"m":1,"n":4}})");
}

TEST_CASE("every schedule round-trips through its JSON text", "[schedule]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (int trial = 0; trial < 200; ++trial) {
    const TileSchedule s = random_schedule(rng);
    const std::string canonical = canonical_form(s);
    INFO(canonical);
    const TileSchedule back = schedule_from_json(parse_json_input(canonical, "schedule"));
    CHECK(canonical_form(back) == canonical);
    CHECK(back.family == s.family);
    CHECK(back.warps.k == s.warps.k);
    CHECK(back.pipeline.k_per_round == s.pipeline.k_per_round);
    CHECK(back.launch.raster_group == s.launch.raster_group);
    CHECK(back.launch.blocks_per_sm == s.launch.blocks_per_sm);
    CHECK(contains(canonical, "blocks_per_sm") == (s.launch.blocks_per_sm != 0));
    CHECK(back.launch.cluster_n == s.launch.cluster_n);
    CHECK(contains(canonical, "cluster_n") == (s.launch.cluster_n != 1));
  }
}

TEST_CASE("launch.cluster_n is written only where it is not 1, so older schedules keep their keys", "[schedule]") {
  BITJIT_RANDOM_ENGINE(rng);
  TileSchedule s;
  s.family = KernelFamily::tensor_wgmma_ws;
  s.launch.cluster_n = std::uniform_int_distribution<int>(2, 16)(rng);
  CHECK(contains(canonical_form(s), R"("launch":{"cluster_n":)" + std::to_string(s.launch.cluster_n) + R"(,"raster_group":1})"));
  s.launch.cluster_n = 1;
  CHECK(contains(canonical_form(s), R"("launch":{"raster_group":1})"));
  CHECK(schedule_from_json(json::parse(R"({"family": "tensor_wgmma_ws"})")).launch.cluster_n == 1);
  CHECK(schedule_from_json(json::parse(R"({"family": "tensor_wgmma_ws", "launch": {"cluster_n": 2}})")).launch.cluster_n == 2);
}

TEST_CASE("launch.blocks_per_sm is written only when set, so older schedules keep their keys", "[schedule]") {
  BITJIT_RANDOM_ENGINE(rng);
  TileSchedule s;
  s.family = KernelFamily::tensor_gemv;
  s.launch.blocks_per_sm = std::uniform_int_distribution<int>(1, 16)(rng);
  const std::string with = canonical_form(s);
  CHECK(contains(with, R"("launch":{"blocks_per_sm":)" + std::to_string(s.launch.blocks_per_sm) + R"(,"raster_group":1})"));
  s.launch.blocks_per_sm = 0;
  CHECK(contains(canonical_form(s), R"("launch":{"raster_group":1})"));
  const TileSchedule read = schedule_from_json(json::parse(R"({"family": "tensor_gemv", "launch": {"blocks_per_sm": 5}})"));
  CHECK(read.launch.blocks_per_sm == 5);
  CHECK(read.launch.raster_group == 1);
}

TEST_CASE("a missing group or field takes TileSchedule's default", "[schedule]") {
  const TileSchedule s = schedule_from_json(json::parse(R"({"family": "tensor_gemv", "warps": {"n": 1, "k": 8}})"));
  TileSchedule expected;  // TileSchedule's defaults but for the family and the two warps' fields given
  expected.family = KernelFamily::tensor_gemv;
  expected.warps.n = 1;
  expected.warps.k = 8;
  CHECK(canonical_form(s) == canonical_form(expected));
  CHECK(block_threads(s) == 32 * 8);
}

TEST_CASE("malformed schedule JSON is refused naming the key's path and what is allowed", "[schedule]") {
  CHECK(json_error(R"({"tile": {"m": 8}})") ==
        "invalid TileSchedule: schedule.family is missing; allowed: simt, gemv, tensor_gemv, tensor_gemm, "
        "tensor_wgmma, tensor_wgmma_ws");
  CHECK(contains(json_error(R"({"family": 3})"), "schedule.family=3 is not a family; allowed: simt, gemv"));
  CHECK(contains(json_error(R"({"family": "wgmma"})"), R"(schedule.family="wgmma" is not a family)"));
  CHECK(json_error(R"([1, 2])") == "invalid TileSchedule: schedule: expected an object, got [1,2]");
  // Unknown keys, at the top and inside a group: the flat fields of the format before the groups too.
  CHECK(json_error(R"({"family": "simt", "threads": 128})") ==
        "invalid TileSchedule: schedule: unknown key 'threads'; allowed: family, tile, warps, pipeline, launch");
  CHECK(json_error(R"({"family": "simt", "pipeline": {"split_k": 1, "swizzle": 1}})") ==
        "invalid TileSchedule: schedule.pipeline: unknown key 'swizzle'; allowed: stages, k_per_stage, k_per_round, "
        "split_k, vector_bytes, wgmma_group");
  CHECK(contains(json_error(R"({"family": "simt", "warps": {"x": 1}})"),
                 "schedule.warps: unknown key 'x'; allowed: m, n, k"));
  CHECK(contains(json_error(R"({"family": "simt", "launch": {"order": 1}})"),
                 "schedule.launch: unknown key 'order'; allowed: raster_group, blocks_per_sm"));
  // Wrong types: a group that is not an object, a field that is not an integer.
  CHECK(json_error(R"({"family": "simt", "tile": 8})") == "invalid TileSchedule: schedule.tile: expected an object, got 8");
  CHECK(json_error(R"({"family": "simt", "pipeline": {"split_k": "x"}})") ==
        R"(invalid TileSchedule: schedule.pipeline.split_k: expected an integer, got "x")");
  CHECK(contains(json_error(R"({"family": "simt", "tile": {"m": 2.5}})"), "schedule.tile.m: expected an integer, got 2.5"));
  CHECK(contains(json_error(R"({"family": "simt", "warps": {"n": true}})"),
                 "schedule.warps.n: expected an integer, got true"));
  CHECK(contains(json_error(R"({"family": "simt", "launch": {"raster_group": null}})"),
                 "schedule.launch.raster_group: expected an integer, got null"));
  // Within int: 2^32 + 16 is not read as 16.
  CHECK(contains(json_error(R"({"family": "simt", "tile": {"n": 4294967312}})"),
                 "schedule.tile.n=4294967312 must be between -2147483648 and 2147483647"));
}
