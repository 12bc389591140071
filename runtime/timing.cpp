#include "runtime/timing.hpp"

#include <algorithm>
#include <vector>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/graph_capture.hpp"

namespace bitjit {

const char* to_string(LaunchTiming timing) { return timing == LaunchTiming::graph ? "graph" : "eager"; }

LaunchTiming launch_timing_from_string(const std::string& text, const std::string& what) {
  if (text == "eager") return LaunchTiming::eager;
  if (text == "graph") return LaunchTiming::graph;
  throw ConfigError(what + ": allowed eager or graph, got '" + text + "'");
}

namespace {

void check_plan(const TimingPlan& plan) {
  const auto require = [](bool holds, const std::string& field, int value, const char* allowed) {
    if (!holds) throw ConfigError("timing plan: " + field + "=" + std::to_string(value) + " must be " + allowed);
  };
  require(plan.warmup >= 0, "warmup", plan.warmup, "at least 0");
  require(plan.batch >= 1, "batch", plan.batch, "at least 1");
  require(plan.repeats >= 1, "repeats", plan.repeats, "at least 1");
  require(plan.rotation >= 1, "rotation", plan.rotation, "at least 1");
}

// The median of the per-launch times of `repeats` timed batches, each timed by `batch_on_stream`.
double median_of_batches(CUstream stream, int repeats, int launches_per_batch, const std::function<void()>& batch_on_stream) {
  Event start, stop;
  std::vector<double> per_launch;
  for (int r = 0; r < repeats; ++r) {
    start.record(stream);
    batch_on_stream();
    stop.record(stream);
    stop.synchronize();
    per_launch.push_back(Event::elapsed_ms(start, stop) / launches_per_batch);
  }
  std::nth_element(per_launch.begin(), per_launch.begin() + per_launch.size() / 2, per_launch.end());
  return per_launch[per_launch.size() / 2];
}

}  // namespace

double median_launch_ms(CUstream stream, const std::function<void(int)>& launch, const TimingPlan& plan) {
  check_plan(plan);
  int launched = 0;
  for (int i = 0; i < plan.warmup; ++i) launch(launched++);
  if (plan.timing == LaunchTiming::eager) {
    return median_of_batches(stream, plan.repeats, plan.batch, [&] {
      for (int i = 0; i < plan.batch; ++i) launch(launched++);
    });
  }
  const int batch = std::max(plan.batch, plan.rotation);
  GraphCapture graph(stream);
  graph.record([&] {
    for (int i = 0; i < batch; ++i) launch(launched++);
  });
  graph.replay();  // the graph's own first launch (its upload to the device) untimed
  return median_of_batches(stream, plan.repeats, batch, [&] { graph.replay(); });
}

int copies_past_l2(int64_t bytes, int64_t l2_bytes) {
  return int(std::clamp<int64_t>((2 * l2_bytes + bytes - 1) / std::max<int64_t>(bytes, 1) + 1, 2, 64));
}

}  // namespace bitjit
