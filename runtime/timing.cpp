#include "runtime/timing.hpp"

#include <algorithm>
#include <vector>

#include "common/error.hpp"
#include "runtime/device.hpp"

namespace bitjit {

namespace {

// A batch of launches captured into a CUDA graph, to be launched as one: on the GPU the batch then
// runs back to back however busy the host is. Launched one by one, a host thread that loses its core
// for a moment (NVRTC compiling on every core beside the benchmark, say) leaves the GPU idle inside
// the timed batch, and the idle time counts as the kernel's.
class CapturedBatch {
 public:
  CapturedBatch(CUstream stream, const std::function<void(int)>& launch, int first, int count) : stream_(stream) {
    const Driver& cuda = Driver::get();
    // Relaxed: a launch may call what capture forbids in the global mode (a library's lazy
    // allocation, say); the warm-up before has already done what cannot be captured.
    check_cuda(cuda.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED), "cuStreamBeginCapture (timing)");
    try {
      for (int i = 0; i < count; ++i) launch(first + i);
    } catch (...) {
      cuda.cuStreamEndCapture(stream, &graph_);  // a capture must be ended; the launch's error goes on
      throw;
    }
    check_cuda(cuda.cuStreamEndCapture(stream, &graph_), "cuStreamEndCapture (timing)");
    check_cuda(cuda.cuGraphInstantiate(&exec_, graph_, 0), "cuGraphInstantiate (timing)");
  }
  ~CapturedBatch() {
    if (exec_ != nullptr) Driver::get().cuGraphExecDestroy(exec_);
    if (graph_ != nullptr) Driver::get().cuGraphDestroy(graph_);
  }
  CapturedBatch(const CapturedBatch&) = delete;
  CapturedBatch& operator=(const CapturedBatch&) = delete;

  void launch() const { check_cuda(Driver::get().cuGraphLaunch(exec_, stream_), "cuGraphLaunch (timing)"); }

 private:
  CUstream stream_;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
};

}  // namespace

double median_launch_ms(CUstream stream, const std::function<void(int)>& launch, const TimingPlan& plan) {
  if (plan.batch < 1 || plan.repeats < 1 || plan.warmup < 0) {
    throw ConfigError("timing: batch and repeats must be at least 1, warmup at least 0");
  }
  int launched = 0;
  // At least one launch as it is: a first launch may load a module or allocate scratch, which a
  // capture refuses.
  for (int i = 0; i < std::max(plan.warmup, 1); ++i) launch(launched++);
  Event start, stop;
  std::vector<double> per_launch;
  for (int r = 0; r < plan.repeats; ++r) {
    // Each batch captured anew, so that launch(i) keeps counting (the caller's weight copies rotate).
    const CapturedBatch batch(stream, launch, launched, plan.batch);
    launched += plan.batch;
    start.record(stream);
    batch.launch();
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
