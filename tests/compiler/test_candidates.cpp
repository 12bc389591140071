// Tuning candidates: every one legal, ranked by the cost model, the default always among them, and
// the model's preferences where the measurements are unambiguous (docs/performance.md).
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>
#include "common/error.hpp"
#include "compiler/candidates.hpp"
#include "runtime/tuning.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;

namespace {

MatmulConfig w4a16(int64_t N, int64_t K) {
  return testing::w4a16_g128_config(MSpec::buckets({1, 16, 64, 256, 4096}), N, K);
}

bool contains_schedule(const std::vector<RankedSchedule>& ranked, const TileSchedule& s) {
  for (const RankedSchedule& r : ranked)
    if (canonical_form(r.schedule) == canonical_form(s)) return true;
  return false;
}

}  // namespace

TEST_CASE("candidates are legal, ranked, and include the default", "[candidates]") {
  const MatmulConfig config = w4a16(8192, 8192);
  for (const char* arch : {"sm_80", "sm_86", "sm_89", "sm_90a"}) {
    const TargetDevice device = TargetDevice::from_arch(arch);
    for (int64_t rows : config.M.values()) {
      INFO(arch << " rows " << rows);
      const std::vector<RankedSchedule> ranked = candidate_schedules(config, device, rows);
      REQUIRE(ranked.size() > 50);
      CHECK(contains_schedule(ranked, default_schedule(config, arch, rows)));
      for (size_t i = 0; i < ranked.size(); ++i) {
        CHECK_NOTHROW(validate_schedule(config, ranked[i].schedule, arch));
        CHECK(ranked[i].predicted_us > 0.0);
        if (i > 0) CHECK(ranked[i - 1].predicted_us <= ranked[i].predicted_us);
      }
    }
  }
}

// A dynamic M from one row on sm_90a: its weights lie in runs of 8, which tensor_gemv, tensor_gemm and
// both Hopper families read, so every bucket is tuned across all four (the fastest measured wins,
// whatever its family); on sm_80 the Hopper ones are not legal and drop out; 8-bit weights keep the
// Hopper families out (they would need mma_fragments).
TEST_CASE("a dynamic M from one row is tuned across every family reading its weights", "[candidates]") {
  const MatmulConfig config = w4a16(8192, 8192);
  for (int64_t rows : config.M.values()) {
    INFO("rows " << rows);
    std::set<KernelFamily> families;
    for (const RankedSchedule& r : candidate_schedules(config, TargetDevice::from_arch("sm_90a"), rows))
      families.insert(r.schedule.family);
    CHECK(families == std::set<KernelFamily>{KernelFamily::tensor_gemv, KernelFamily::tensor_gemm,
                                             KernelFamily::tensor_wgmma, KernelFamily::tensor_wgmma_ws});
    std::set<KernelFamily> ampere;
    for (const RankedSchedule& r : candidate_schedules(config, TargetDevice::from_arch("sm_80"), rows))
      ampere.insert(r.schedule.family);
    CHECK(ampere == std::set<KernelFamily>{KernelFamily::tensor_gemv, KernelFamily::tensor_gemm});
  }
  MatmulConfig eight_bit = config;
  eight_bit.W_dtype = DType::uint8;
  for (const RankedSchedule& r : candidate_schedules(eight_bit, TargetDevice::from_arch("sm_90a"), 256))
    CHECK_FALSE(is_hopper_family(r.schedule.family));
}

TEST_CASE("the cost model prefers what the H100 measurements prefer", "[candidates]") {
  const TargetDevice h100 = TargetDevice::from_arch("sm_90a");
  const MatmulConfig config = w4a16(57344, 8192);
  // One row: stream the weights (tensor_gemv), within 10 % of the 2.43 TB/s floor's 100 µs.
  const std::vector<RankedSchedule> one_row = candidate_schedules(config, h100, 1);
  CHECK(one_row.front().schedule.family == KernelFamily::tensor_gemv);
  CHECK(one_row.front().predicted_us > 70.0);
  // 4096 rows: the Hopper family, which reads this dynamic config's mma_runs layout (its buckets of
  // 1 and 16 rows stay on tensor_gemv), and more rows cost more with the same schedule.
  const std::vector<RankedSchedule> many_rows = candidate_schedules(config, h100, 4096);
  CHECK(many_rows.front().schedule.family == KernelFamily::tensor_wgmma_ws);
  const TileSchedule s = default_schedule(config, "sm_90a", 4096);
  CHECK(s.family == KernelFamily::tensor_wgmma_ws);
  CHECK(predicted_microseconds(config, s, h100, 4096) > predicted_microseconds(config, s, h100, 1024));
  // Measured on the H100 with the Hopper defaults: 154 µs at 64 rows and 5.64 ms at 4096
  // (bench/results/2026-11-27-h100-wgmma-ws/default); the model is within 2x.
  const double m64 = predicted_microseconds(config, default_schedule(config, "sm_90a", 64), h100, 64);
  CHECK(m64 > 154.0 / 2);
  CHECK(m64 < 154.0 * 2);
  const double m4096 = predicted_microseconds(config, s, h100, 4096);
  CHECK(m4096 > 5630.0 / 2);
  CHECK(m4096 < 5630.0 * 2);
}

// A config tensor_wgmma serves (sm_90a, every bucket >= 64 rows) is tuned within the Hopper
// families, which read the same weight layout (any other family would need the weights repacked);
// both are among the candidates.
TEST_CASE("a config tensor_wgmma serves gets tensor_wgmma candidates", "[candidates]") {
  const TargetDevice h100 = TargetDevice::from_arch("sm_90a");
  const MatmulConfig config = testing::w4a16_g128_config(MSpec::buckets({64, 256, 4096}), 57344, 8192);
  for (int64_t rows : config.M.values()) {
    INFO("rows " << rows);
    const std::vector<RankedSchedule> ranked = candidate_schedules(config, h100, rows);
    REQUIRE(ranked.size() > 50);
    CHECK(contains_schedule(ranked, default_schedule(config, "sm_90a", rows)));
    int specialized = 0;
    for (const RankedSchedule& r : ranked) {
      CHECK(is_hopper_family(r.schedule.family));
      CHECK_NOTHROW(validate_schedule(config, r.schedule, "sm_90a"));
      if (r.schedule.family == KernelFamily::tensor_wgmma_ws) ++specialized;
    }
    CHECK(specialized > 20);
    CHECK(specialized < int(ranked.size()));
  }
  // tensor_wgmma_ws ran every 70B shape faster than tensor_wgmma from 256 rows on the H100
  // (0.84-0.97x cuBLAS against 0.42-0.69x), so the model ranks it first there.
  for (const auto& [N, K] : {std::pair<int64_t, int64_t>{10240, 8192}, {8192, 8192}, {57344, 8192}, {8192, 28672}})
    for (int64_t rows : {256, 4096}) {
      const MatmulConfig shape = testing::w4a16_g128_config(MSpec::buckets({64, 256, 4096}), N, K);
      INFO("N " << N << " K " << K << " rows " << rows);
      const std::vector<RankedSchedule> ranked = candidate_schedules(shape, h100, rows);
      CHECK(ranked.front().schedule.family == KernelFamily::tensor_wgmma_ws);
      // The defaults, the best tiles measured there (256 rows at M = 4096, 128 at 256), rank among
      // the model's first 20: the share of wgmma's peak grows with the rows per tile. gate_up's
      // 256 x 128 tiles at 256 rows (measured faster, tensor_wgmma_ws.cpp) rank 30th: the model puts
      // them at 462.8 us against 450.7 for 128 x 128 and 434.5 for 128 x 192, whose stage and tile-order
      // variants, scored alike, take the first 30 places. The tuner times the current schedule besides
      // its top k (and one schedule of each geometry first: timing_order), so the rank does not keep it
      // from being timed.
      const TileSchedule default_at_rows = default_schedule(shape, "sm_90a", rows);
      const std::string chosen = canonical_form(default_at_rows);
      const auto at = std::find_if(ranked.begin(), ranked.end(),
                                   [&](const RankedSchedule& r) { return canonical_form(r.schedule) == chosen; });
      const bool tall_at_256 = rows == 256 && default_at_rows.tile.m == 256;
      CHECK(tall_at_256 == (rows == 256 && N == 57344));
      CHECK(at - ranked.begin() < (tall_at_256 ? 32 : 20));
    }
  // The same weights on an A100: tensor_gemm.
  CHECK(candidate_schedules(config, TargetDevice::from_arch("sm_80"), 4096).front().schedule.family ==
        KernelFamily::tensor_gemm);
}

// The tuner times the model's best of each tile geometry (family, tile, warps, slices of K) before a
// second schedule of any (timing_order): the model scores stage counts, k per stage and tile orders of
// one geometry alike, so a small top k in its plain order times one or two tiles. A permutation of the
// ranking that keeps its best first and each geometry's own order, on a random suite shape and
// bucket; on 70B gate_up at 256 rows the first four are four geometries, the default's among them.
TEST_CASE("the tuner times one schedule of each tile geometry before a second of any", "[candidates]") {
  BITJIT_RANDOM_ENGINE(rng);
  const auto geometry = [](const TileSchedule& s) {
    return std::string(to_string(s.family)) + " " + std::to_string(s.tile.m) + "x" + std::to_string(s.tile.n) + " " +
           std::to_string(s.warps.m) + "x" + std::to_string(s.warps.n) + "x" + std::to_string(s.warps.k) + " " +
           std::to_string(s.pipeline.split_k);
  };
  const std::pair<int64_t, int64_t> shapes[] = {{6144, 4096}, {4096, 4096},  {28672, 4096}, {4096, 14336},
                                                {10240, 8192}, {8192, 8192}, {57344, 8192}, {8192, 28672}};
  const auto [N, K] = shapes[std::uniform_int_distribution<size_t>(0, 7)(rng)];
  const int64_t rows = std::vector<int64_t>{1, 16, 64, 256, 4096}[std::uniform_int_distribution<size_t>(0, 4)(rng)];
  INFO("N " << N << " K " << K << " rows " << rows);
  const MatmulConfig config = w4a16(N, K);
  const std::vector<RankedSchedule> ranked = candidate_schedules(config, TargetDevice::from_arch("sm_90a"), rows);
  const std::vector<RankedSchedule> timed = timing_order(ranked);
  REQUIRE(timed.size() == ranked.size());
  CHECK(canonical_form(timed.front().schedule) == canonical_form(ranked.front().schedule));
  std::multiset<std::string> ranked_forms, timed_forms;
  std::map<std::string, std::vector<std::string>> ranked_by_geometry, timed_by_geometry;
  for (size_t i = 0; i < ranked.size(); ++i) {
    ranked_forms.insert(canonical_form(ranked[i].schedule));
    timed_forms.insert(canonical_form(timed[i].schedule));
    ranked_by_geometry[geometry(ranked[i].schedule)].push_back(canonical_form(ranked[i].schedule));
    timed_by_geometry[geometry(timed[i].schedule)].push_back(canonical_form(timed[i].schedule));
  }
  CHECK(timed_forms == ranked_forms);
  CHECK(timed_by_geometry == ranked_by_geometry);  // each geometry's schedules in the model's order
  std::set<std::string> first_of_each;
  for (size_t i = 0; i < ranked_by_geometry.size(); ++i) first_of_each.insert(geometry(timed[i].schedule));
  CHECK(first_of_each.size() == ranked_by_geometry.size());  // every geometry once before any twice
  CHECK(ranked_by_geometry.size() > 3);

  const MatmulConfig gate_up = testing::w4a16_g128_config(MSpec::buckets({64, 256, 4096}), 57344, 8192);
  const std::vector<RankedSchedule> gate_up_timed =
      timing_order(candidate_schedules(gate_up, TargetDevice::from_arch("sm_90a"), 256));
  std::set<std::string> first_four;
  bool default_among_them = false;
  const std::string chosen = canonical_form(default_schedule(gate_up, "sm_90a", 256));
  for (size_t i = 0; i < 4; ++i) {
    first_four.insert(geometry(gate_up_timed[i].schedule));
    default_among_them = default_among_them || canonical_form(gate_up_timed[i].schedule) == chosen;
  }
  CHECK(first_four.size() == 4);
  CHECK(default_among_them);
}

TEST_CASE("configs off the tensor-core layout get CUDA-core candidates", "[candidates]") {
  MatmulConfig odd = w4a16(40, 98);
  odd.group_size = -1;
  odd.W_dtype = DType::uint4;
  const std::vector<RankedSchedule> ranked = candidate_schedules(odd, TargetDevice::from_arch("sm_80"), 16);
  REQUIRE_FALSE(ranked.empty());
  for (const RankedSchedule& r : ranked) CHECK(r.schedule.family != KernelFamily::tensor_gemm);
  CHECK_THROWS_AS(TargetDevice::from_arch("sm_75"), ConfigError);
}

TEST_CASE("tuned schedules are keyed per M bucket", "[candidates]") {
  MatmulConfig config = w4a16(256, 512);
  CHECK(tuned_entry_key(config, 64) == canonical_form(config) + " @M=64");
  config.M = 64;
  CHECK(tuned_entry_key(config, 64) == canonical_form(config));
}

// W4A8 from 17 to 32 rows: the default on sm_90a is tensor_gemv_8bit with int8 activations (two
// passes over W; as fast as the ws kernel on 8192-channel shapes) and tensor_wgmma_ws with fp8 ones;
// both read one layout, so the tuner times both for either, and picks the ws kernel where it wins
// (70B qkv and gate_up with int8 activations: 0.83-0.91x tensor_gemv_8bit's time at 32 rows).
TEST_CASE("W4A8 buckets of 17 to 32 rows are tuned across tensor_gemv_8bit and the ws kernel", "[candidates]") {
  for (const DType activations : {DType::int8, DType::float8_e4m3}) {
    MatmulConfig config = testing::w4a16_g128_config(MSpec::buckets({1, 32, 4096}), 10240, 8192);
    config.A_dtype = activations;
    INFO(canonical_form(config));
    std::set<KernelFamily> families;
    for (const RankedSchedule& r : candidate_schedules(config, TargetDevice::from_arch("sm_90a"), 32))
      families.insert(r.schedule.family);
    CHECK(families.count(KernelFamily::tensor_gemv) == 1);
    CHECK(families.count(KernelFamily::tensor_wgmma_ws) == 1);
    const KernelFamily chosen = default_schedule(config, "sm_90a", 32).family;
    CHECK(chosen == (activations == DType::int8 ? KernelFamily::tensor_gemv : KernelFamily::tensor_wgmma_ws));
  }
}

// tensor_gemv's candidates come with their twins that load the activations a k-block ahead
// (pipeline.stages 2) where the activations allow it (fp16 / bf16 in runs of 8 k or more), so the
// tuner times both; the model tells a twin from its base by the registers it holds alone: level with
// it where the blocks are too few for them to matter (one row of 70B o, 512 blocks of 4 warps), apart
// where they are many (70B gate_up, 3584).
TEST_CASE("tensor_gemv's candidates carry twins with the activations a k-block ahead", "[candidates]") {
  const TargetDevice device = TargetDevice::from_arch("sm_90a");
  const auto predicted = [](const std::vector<RankedSchedule>& ranked, const TileSchedule& s) {
    for (const RankedSchedule& r : ranked)
      if (canonical_form(r.schedule) == canonical_form(s)) return r.predicted_us;
    FAIL("not among the candidates: " << canonical_form(s));
    return 0.0;
  };
  for (int64_t N : {8192, 57344}) {
    INFO("N=" << N);
    const MatmulConfig config = testing::w4a16_g128_config(MSpec(1), N, 8192);
    const std::vector<RankedSchedule> ranked = candidate_schedules(config, device, 1);
    const auto twins = std::count_if(ranked.begin(), ranked.end(), [](const RankedSchedule& r) {
      return r.schedule.family == KernelFamily::tensor_gemv && r.schedule.pipeline.stages == 2;
    });
    CHECK(twins >= 50);
    TileSchedule one_row = default_schedule(config, "sm_90a", 1);
    one_row.pipeline.stages = 1;
    TileSchedule ahead = one_row;
    ahead.pipeline.stages = 2;
    if (N == 8192) CHECK(predicted(ranked, ahead) == predicted(ranked, one_row));
    if (N == 57344) CHECK(predicted(ranked, ahead) != predicted(ranked, one_row));
  }
  // int8 activations (tensor_gemv_8bit) and runs of 4 k have no twin.
  MatmulConfig int8_activations = testing::w4a16_g128_config(MSpec(1), 8192, 8192);
  int8_activations.A_dtype = DType::int8;
  MatmulConfig runs_of_4 = testing::w4a16_g128_config(MSpec(1), 8192, 8192);
  runs_of_4.W_dtype = DType::int8;
  runs_of_4.group_size = 16;
  for (const MatmulConfig& config : {int8_activations, runs_of_4}) {
    const std::vector<RankedSchedule> ranked = candidate_schedules(config, device, 1);
    CHECK(std::none_of(ranked.begin(), ranked.end(), [](const RankedSchedule& r) {
      return r.schedule.family == KernelFamily::tensor_gemv && r.schedule.pipeline.stages == 2;
    }));
  }
}

// Zero points' 16-row tiles of 4 warps come as the compiler leaves them and with the default's launch
// bound of 4 blocks an SM, so the tuner times both; other tensor_gemv tiles and formats without zero
// points have no bounded twin (tensor_wgmma_ws's 64 x 64 tiles have one of two blocks an SM: their
// own test in test_codegen).
TEST_CASE("tensor_gemv's candidates with zero points carry twins under the launch bound", "[candidates]") {
  const TargetDevice device = TargetDevice::from_arch("sm_90a");
  MatmulConfig zeros = testing::w4a16_g128_config(MSpec(16), 57344, 8192);
  zeros.W_dtype = DType::uint4;
  zeros.with_zeros = true;
  for (ZerosMode mode : {ZerosMode::original, ZerosMode::quantized}) {
    zeros.zeros_mode = mode;
    const std::vector<RankedSchedule> ranked = candidate_schedules(zeros, device, 16);
    std::set<std::string> forms;
    for (const RankedSchedule& r : ranked) forms.insert(canonical_form(r.schedule));
    int bounded = 0;
    for (const RankedSchedule& r : ranked) {
      if (r.schedule.family != KernelFamily::tensor_gemv || r.schedule.launch.blocks_per_sm == 0) continue;
      ++bounded;
      // Three blocks an SM where the activations go a k-block ahead (bound_zero_point_blocks).
      CHECK(r.schedule.launch.blocks_per_sm == (r.schedule.pipeline.stages == 2 ? 3 : 4));
      CHECK(r.schedule.tile.m == 16);
      CHECK(r.schedule.warps.k == 4);
      TileSchedule unbounded = r.schedule;
      unbounded.launch.blocks_per_sm = 0;
      CHECK(forms.count(canonical_form(unbounded)) == 1);
    }
    CHECK(bounded >= 20);
    CHECK(default_schedule(zeros, "sm_90a", 16).launch.blocks_per_sm == 4);
  }
  const MatmulConfig no_zeros = testing::w4a16_g128_config(MSpec(16), 57344, 8192);
  const std::vector<RankedSchedule> ranked = candidate_schedules(no_zeros, device, 16);
  CHECK(std::none_of(ranked.begin(), ranked.end(), [](const RankedSchedule& r) {
    return r.schedule.family == KernelFamily::tensor_gemv && r.schedule.launch.blocks_per_sm != 0;
  }));
}
