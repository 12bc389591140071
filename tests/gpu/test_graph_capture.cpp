// Matmul::run under CUDA graph capture and on an explicit device: after one run on a device (and, with
// the Matmul's own split-K scratch, on the stream), a captured run replays what a plain run computes;
// before it, capture is refused with CaptureError instead of loading a module or allocating inside it.
#include <optional>
#include <random>
#include <utility>
#include <vector>
#include <string>

#include "common/error.hpp"
#include "compiler/schedule.hpp"
#include "quant/random.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/graph_capture.hpp"
#include "runtime/matmul.hpp"
#include "runtime/timing.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

MatmulConfig int4_config() { return w4a16_g128_config(MSpec::buckets({1, 16, 64}), 256, 2048); }

struct Operands {
  OperandSpecs specs;
  DeviceBuffer A, W, scales, C;
  Operands(const MatmulConfig& config, int64_t M, std::mt19937_64& rng) : specs(operand_specs(config, M)) {
    const MatmulOperands host = random_operands_fast(config, M, rng);
    A = upload_host_tensor(host.A);
    W = upload_host_tensor(host.W);
    scales = upload_host_tensor(host.scales);
    C = DeviceBuffer(size_t(specs.C.bytes()));
  }
  void run(const Matmul& matmul, const RunTarget& target) const {
    matmul.run(view_of(A, specs.A), view_of(W, specs.W), view_of(C, specs.C), view_of(scales, specs.scales), {}, {},
               target);
  }
  std::vector<uint8_t> output() const {
    std::vector<uint8_t> bytes(C.size());
    C.download(bytes.data(), bytes.size());
    return bytes;
  }
};

// The CaptureError a capture of one run on `stream` raises ("no error" when it is captured).
std::string refused_capture(const Matmul& matmul, const Operands& operands, const RunTarget& target) {
  GraphCapture refused(target.stream);
  return error_of<CaptureError>([&] { refused.record([&] { operands.run(matmul, target); }); });
}

// A captured run replayed into a poisoned output gives `expected`.
void check_replay(const Matmul& matmul, Operands& operands, const RunTarget& target,
                  const std::vector<uint8_t>& expected, int replays = 1) {
  GraphCapture capture(target.stream);
  capture.record([&] { operands.run(matmul, target); });
  for (int replay = 0; replay < replays; ++replay) {  // split-K counters are left at zero for the next one
    operands.C.fill_bytes(0xff);
    capture.replay();
    check_cuda(Driver::get().cuStreamSynchronize(target.stream), "cuStreamSynchronize");
    CHECK(operands.output() == expected);
  }
}

struct ScratchCase {
  MatmulConfig config;  // a static M
  Matmul matmul;
};

// A Matmul whose runs need split-K / stream-K scratch on this GPU: the arch's default schedules at a
// few M (with split_k = 2 where the family takes it; tensor_wgmma_ws's stream-K needs scratch by
// itself), then sm_80's tensor_gemm default with split_k = 2. Nothing when none does.
std::optional<ScratchCase> scratch_case(const std::string& arch) {
  const std::pair<std::string, int64_t> sources[] = {{arch, 64}, {arch, 256}, {arch, 16}, {"sm_80", 64}};
  for (const auto& [schedule_arch, rows] : sources) {
    MatmulConfig config = int4_config();
    config.M = MSpec(rows);
    for (int split : {2, 1}) {
      TileSchedule schedule = default_schedule(config, schedule_arch, rows);
      schedule.pipeline.split_k = split;
      if (!is_valid_schedule(config, schedule, arch)) continue;
      Matmul matmul = Matmul::create(config, {arch, schedule});
      if (matmul.scratch_need(rows).partial_bytes > 0) return ScratchCase{config, std::move(matmul)};
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a Matmul run is captured into a CUDA graph once its device has run it", "[gpu][graph]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  const MatmulConfig config = int4_config();
  const Matmul matmul = Matmul::create(config);
  Stream stream;
  RunTarget target;
  target.stream = stream.get();
  target.device = ensure_context();
  for (int64_t M : {int64_t(1), int64_t(16), int64_t(50)}) {
    INFO("M=" << M);
    Operands operands(config, M, rng);
    if (M == 1) {  // nothing has run on this device yet: the capture would have to load the kernels
      CHECK(contains(refused_capture(matmul, operands, target), "would need loading its kernels on device"));
      operands.run(matmul, target);  // loads every bucket's kernel on this device
    }
    operands.run(matmul, target);
    stream.synchronize();
    check_replay(matmul, operands, target, operands.output());  // M=16, 50: other buckets, loaded with M=1's
  }
}

// stream_capture_id: nothing outside a capture; one id for every query inside one capture, another
// for the next capture on the same stream (what python/bitjit/ops.py keeps its capture scratch by).
TEST_CASE("stream_capture_id tells one capture from the next and from no capture", "[gpu][graph]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  const int device = ensure_context();
  Stream stream;
  CHECK_FALSE(stream_capture_id(stream.get(), device).has_value());
  DeviceBuffer bytes(256);
  const auto clear = [&] {  // a node, so that no capture is an empty graph
    check_cuda(Driver::get().cuMemsetD8Async(bytes.ptr(), 0, bytes.size(), stream.get()), "cuMemsetD8Async");
  };
  std::optional<uint64_t> first, again, second;
  GraphCapture one(stream.get());
  one.record([&] {
    first = stream_capture_id(stream.get(), device);
    clear();
    again = stream_capture_id(stream.get());  // the current context's: the same device here
  });
  GraphCapture two(stream.get());
  two.record([&] {
    clear();
    second = stream_capture_id(stream.get(), device);
  });
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(again == first);
  CHECK(*second != *first);
  CHECK_FALSE(stream_capture_id(stream.get(), device).has_value());
}

TEST_CASE("split-K scratch: the caller's under capture, or the stream's own after a warm-up run", "[gpu][graph]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  const std::string arch = current_device_info().arch();
  std::optional<ScratchCase> found = scratch_case(arch);
  if (!found) BITJIT_SKIP("no candidate schedule needs split-K or stream-K scratch on " + arch);
  const MatmulConfig& config = found->config;
  const Matmul& matmul = found->matmul;
  const int64_t M = config.M.value();
  INFO("M=" << M << ", schedule " << canonical_form(matmul.schedule()));
  const ScratchNeed need = matmul.scratch_need(M);
  Stream stream;
  Operands operands(config, M, rng);
  RunTarget plain;
  plain.stream = stream.get();
  operands.run(matmul, plain);
  stream.synchronize();
  const std::vector<uint8_t> expected = operands.output();

  SECTION("the caller's scratch") {
    DeviceBuffer partials(need.partial_bytes), counters(need.counter_bytes);
    counters.fill_bytes(0);
    RunTarget target = plain;
    target.scratch = {partials.data(), partials.size(), counters.data(), counters.size()};
    check_replay(matmul, operands, target, expected, 3);
    target.scratch.partial_bytes = need.partial_bytes - 1;
    CHECK(contains(error_of([&] { operands.run(matmul, target); }), "scratch has"));
  }
  SECTION("a new stream's own scratch is refused under capture, then allocated by a plain run") {
    Stream other;
    RunTarget target;
    target.stream = other.get();
    CHECK(contains(refused_capture(matmul, operands, target), "bytes of split-K scratch for this stream"));
    operands.run(matmul, target);
    other.synchronize();
    check_replay(matmul, operands, target, expected);
  }
}

TEST_CASE("a Matmul runs on an explicit device and refuses one of another arch by name", "[gpu][device]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  const MatmulConfig config = int4_config();
  const int device = ensure_context();
  const std::string other_arch = current_device_info().arch() == "sm_80" ? "sm_86" : "sm_80";
  const Matmul foreign = Matmul::create(config, {other_arch, std::nullopt});
  Operands operands(config, 4, rng);
  RunTarget target;
  target.device = device;
  CHECK(contains(error_of([&] { operands.run(foreign, target); }), "but this Matmul was compiled for " + other_arch));
  const Matmul matmul = Matmul::create(config);
  operands.run(matmul, target);
  check_cuda(Driver::get().cuCtxSynchronize(), "cuCtxSynchronize");
  const std::vector<uint8_t> on_device = operands.output();
  operands.run(matmul, RunTarget{});  // the current context's device: the same one here
  check_cuda(Driver::get().cuCtxSynchronize(), "cuCtxSynchronize");
  CHECK(operands.output() == on_device);
}

// The timing of runtime/timing.hpp in a graph: what it launches, and that the replays do the captured work.
TEST_CASE("graph timing captures one batch of at least one launch per rotated input and replays it",
          "[gpu][graph]") {
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

TEST_CASE("profile_latency times a Matmul in a graph as well as eagerly", "[gpu][graph]") {
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
