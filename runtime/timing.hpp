#pragma once
// GPU timing as the benchmarks and profile_latency do it: CUDA events around a batch of launches
// (one event pair per launch would add the event's own ~2 µs to a 5 µs kernel), a warm-up first,
// and the median over repeats of the per-launch time.
#include <cuda.h>

#include <functional>
#include <string>

namespace bitjit {

// How a batch of launches is timed. eager: issued one by one from the host each repeat, as an eager
// framework runs them, so a kernel shorter than the host's own work per launch (Matmul::run's checks,
// the TMA descriptors of each new weight address, the driver's launch) is timed at the host's pace,
// and back-to-back launches leave their gaps. graph: captured once into a CUDA graph after the
// warm-up and replayed each repeat: the kernels' own time back to back, as a served model's CUDA
// graphs run them (and as bench/peers.py times every library).
enum class LaunchTiming { eager, graph };

const char* to_string(LaunchTiming timing);
// "eager" or "graph"; throws ConfigError naming `what` (an option or a field), the allowed and the given.
LaunchTiming launch_timing_from_string(const std::string& text, const std::string& what);

struct TimingPlan {
  int warmup = 10;     // launches before timing (module load, clocks, caches); eager in both timings,
                       // so a graph is captured only after every module is loaded and scratch allocated
  int batch = 20;      // launches between one pair of events
  int repeats = 15;    // batches; the median batch is reported
  LaunchTiming timing = LaunchTiming::eager;
  // The launches rotate through this many inputs (weight copies that together exceed the L2): a
  // captured batch holds at least this many launches, so that every replay still reads each copy.
  int rotation = 1;
};

// Median milliseconds per launch of launch(i) on stream, i counting every launch from 0 (so the
// caller can rotate through weight copies; in a graph the batch's indices are those of its capture,
// replayed). Throws ConfigError for a plan out of range, naming the field.
double median_launch_ms(CUstream stream, const std::function<void(int)>& launch, const TimingPlan& plan = {});

// How many copies of `bytes` make one pass over them exceed twice the L2, so each launch reads HBM.
int copies_past_l2(int64_t bytes, int64_t l2_bytes);

}  // namespace bitjit
