#include "runtime/timing.hpp"

#include <algorithm>
#include <vector>

#include "common/error.hpp"
#include "runtime/device.hpp"

namespace bitjit {

double median_launch_ms(CUstream stream, const std::function<void(int)>& launch, const TimingPlan& plan) {
  if (plan.batch < 1 || plan.repeats < 1 || plan.warmup < 0) {
    throw ConfigError("timing: batch and repeats must be at least 1, warmup at least 0");
  }
  int launched = 0;
  for (int i = 0; i < plan.warmup; ++i) launch(launched++);
  Event start, stop;
  std::vector<double> per_launch;
  for (int r = 0; r < plan.repeats; ++r) {
    start.record(stream);
    for (int i = 0; i < plan.batch; ++i) launch(launched++);
    stop.record(stream);
    stop.synchronize();
    per_launch.push_back(Event::elapsed_ms(start, stop) / plan.batch);
  }
  std::nth_element(per_launch.begin(), per_launch.begin() + per_launch.size() / 2, per_launch.end());
  return per_launch[per_launch.size() / 2];
}

int copies_past_l2(int64_t bytes, int64_t l2_bytes) {
  return int(std::clamp<int64_t>((2 * l2_bytes + bytes - 1) / std::max<int64_t>(bytes, 1) + 1, 2, 64));
}

}  // namespace bitjit
