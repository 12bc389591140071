// The timing the bench, the tuner and profile_latency share (runtime/timing.hpp): the plan's refusals,
// without a GPU (tests/gpu/test_graph_capture.cpp times on one).
#include <string>

#include "common/error.hpp"
#include "runtime/matmul.hpp"
#include "runtime/timing.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

// The ConfigError text of median_launch_ms for `plan`, and whether it launched anything first.
std::string plan_refusal(const TimingPlan& plan, int& launches) {
  launches = 0;
  try {
    median_launch_ms(nullptr, [&](int) { ++launches; }, plan);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a timing plan out of range is refused by field before anything is launched", "[runtime][timing]") {
  int launches = -1;
  CHECK(contains(plan_refusal({-1, 20, 15}, launches), "warmup=-1 must be at least 0"));
  CHECK(launches == 0);
  CHECK(contains(plan_refusal({10, 0, 15}, launches), "batch=0 must be at least 1"));
  CHECK(contains(plan_refusal({10, 20, 0}, launches), "repeats=0 must be at least 1"));
  CHECK(contains(plan_refusal({10, 20, 15, LaunchTiming::graph, 0}, launches), "rotation=0 must be at least 1"));
  CHECK(launches == 0);
}

TEST_CASE("launch timing names: eager and graph, anything else refused naming the option", "[runtime][timing]") {
  CHECK(launch_timing_from_string("eager", "--timing") == LaunchTiming::eager);
  CHECK(launch_timing_from_string("graph", "--timing") == LaunchTiming::graph);
  CHECK(std::string(to_string(LaunchTiming::graph)) == "graph");
  CHECK(std::string(to_string(LaunchTiming::eager)) == "eager");
  try {
    launch_timing_from_string("Graph", "--timing");
    FAIL("accepted 'Graph'");
  } catch (const ConfigError& error) {
    CHECK(std::string(error.what()) == "--timing: allowed eager or graph, got 'Graph'");
  }
}

TEST_CASE("profile_latency with graph timing needs a warm-up run, and says why", "[runtime][timing]") {
  // Compiled for sm_90a without a GPU: the refusal comes before anything is loaded or launched.
  const Matmul matmul = Matmul::create(w4a16_g128_config(MSpec(16), 256, 1024), {"sm_90a", std::nullopt});
  try {
    matmul.profile_latency(16, 0, 5, LaunchTiming::graph);
    FAIL("graph timing without a warm-up accepted");
  } catch (const ConfigError& error) {
    CHECK(contains(error.what(), "warmup=0 must be at least 1 with graph timing"));
  }
  try {
    matmul.profile_latency(16, -1, 5);
    FAIL("a negative warm-up accepted");
  } catch (const ConfigError& error) {
    CHECK(contains(error.what(), "warmup=-1 must be at least 0"));
  }
}
