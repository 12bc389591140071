#pragma once
// GPU timing as the benchmarks and profile_latency do it: CUDA events around a batch of launches
// (one event pair per launch would add the event's own ~2 µs to a 5 µs kernel), a warm-up first,
// and the median over repeats of the per-launch time.
#include <cuda.h>

#include <functional>

namespace bitjit {

struct TimingPlan {
  int warmup = 10;     // launches before timing (module load, clocks, caches)
  int batch = 20;      // launches between one pair of events
  int repeats = 15;    // batches; the median batch is reported
};

// Median milliseconds per launch of launch(i) on stream, i counting every launch from 0 (so the
// caller can rotate through weight copies).
double median_launch_ms(CUstream stream, const std::function<void(int)>& launch, const TimingPlan& plan = {});

// How many copies of `bytes` make one pass over them exceed twice the L2, so each launch reads HBM.
int copies_past_l2(int64_t bytes, int64_t l2_bytes);

}  // namespace bitjit
