// The timing the bench, the tuner and profile_latency share (runtime/timing.hpp): the plan's refusals
// without a GPU; on a GPU, what each timing launches and that a graph's replays do the captured work.
#include <string>
#include <vector>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
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

TEST_CASE("graph timing captures one batch of at least one launch per rotated input and replays it",
          "[runtime][timing][gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  ensure_context();
  Stream stream;
  constexpr int kCopies = 5;
  std::vector<DeviceBuffer> buffers;
  for (int i = 0; i < kCopies; ++i) buffers.emplace_back(size_t(1) << 20);
  std::vector<int> indices;
  // Launch i fills copy i mod 5 with the byte i + 1, so each copy's byte says which launch wrote it last.
  const auto launch = [&](int i) {
    indices.push_back(i);
    const DeviceBuffer& copy = buffers[size_t(i % kCopies)];
    check_cuda(Driver::get().cuMemsetD8Async(copy.ptr(), uint8_t(i + 1), copy.size(), stream.get()), "cuMemsetD8Async");
  };

  SECTION("graph: the warm-up eagerly, then one capture of max(batch, rotation) launches, replayed") {
    const double ms = median_launch_ms(stream.get(), launch, {2, 3, 4, LaunchTiming::graph, kCopies});
    CHECK(ms > 0.0);
    CHECK(indices == std::vector<int>{0, 1, 2, 3, 4, 5, 6});  // 2 warm-up, then 5 captured (batch 3 < rotation 5)
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    check_cuda(Driver::get().cuStreamIsCapturing(stream.get(), &status), "cuStreamIsCapturing");
    CHECK(status == CU_STREAM_CAPTURE_STATUS_NONE);
    stream.synchronize();
    // The replays wrote launches 2..6: copy 0 by launch 5, copy 1 by 6 (over the warm-up's 1 and 2),
    // copies 2, 3, 4 by launches 2, 3, 4.
    const std::vector<uint8_t> expected = {6, 7, 3, 4, 5};
    for (int c = 0; c < kCopies; ++c) {
      std::vector<uint8_t> bytes(buffers[size_t(c)].size());
      buffers[size_t(c)].download(bytes.data(), bytes.size());
      INFO("copy " << c);
      CHECK(bytes.front() == expected[size_t(c)]);
      CHECK(bytes.back() == expected[size_t(c)]);
    }
  }
  SECTION("eager: the warm-up, then every repeat's batch launched from the host") {
    const double ms = median_launch_ms(stream.get(), launch, {1, 3, 2, LaunchTiming::eager, kCopies});
    CHECK(ms > 0.0);
    CHECK(indices == std::vector<int>{0, 1, 2, 3, 4, 5, 6});  // 1 + 2 repeats x 3
  }
}

TEST_CASE("profile_latency times a Matmul in a graph as well as eagerly", "[runtime][timing][gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  ensure_context();
  const Matmul matmul = Matmul::create(w4a16_g128_config(MSpec::buckets({1, 64}), 4096, 4096));
  for (const int64_t M : {int64_t(1), int64_t(64)}) {
    INFO("M=" << M);
    const double graph_ms = matmul.profile_latency(M, 2, 5, LaunchTiming::graph);
    const double eager_ms = matmul.profile_latency(M, 2, 5, LaunchTiming::eager);
    CHECK(graph_ms > 0.0);
    CHECK(eager_ms > 0.0);
  }
}
