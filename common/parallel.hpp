#pragma once
// A shared work queue for the host's parallel compiles (prewarm, the benchmark, the GPU tests):
// NVRTC is thread-safe, so independent kernels compile at once. And contiguous ranges of a large
// host loop (the CPU reference, the weights' rearrangement) over the host's cores.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <thread>
#include <vector>

namespace bitjit {

// Calls work(i) for every i < count on min(threads, count) threads, each taking the next index as it
// finishes one. Returns when all are done; an exception from work ends its thread's share and is
// rethrown here (the first thread's first), after every other thread has finished.
inline void for_each_index_in_parallel(size_t count, unsigned threads, const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::vector<std::future<void>> workers;
  const size_t used = std::min<size_t>(std::max(threads, 1u), count);
  for (size_t t = 0; t < used; ++t) {
    workers.push_back(std::async(std::launch::async, [&] {
      for (size_t i = next++; i < count; i = next++) work(i);
    }));
  }
  std::exception_ptr failure;
  for (auto& worker : workers) {
    try {
      worker.get();
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// Calls body(begin, end) over contiguous ranges covering [0, count): one range per host thread (at
// most 32, at most count) where worth_threads, else one range on this thread. The ranges are disjoint,
// so a body that writes only its own range's outputs needs no locks; exceptions as above.
template <typename Body>
void for_each_range_in_parallel(int64_t count, bool worth_threads, Body body) {
  if (count <= 0) return;
  constexpr int64_t kMostThreads = 32;
  const int64_t ranges =
      worth_threads ? std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::min(count, kMostThreads)) : 1;
  if (ranges == 1) return body(int64_t(0), count);
  for_each_index_in_parallel(size_t(ranges), unsigned(ranges), [&](size_t range) {
    body(count * int64_t(range) / ranges, count * int64_t(range + 1) / ranges);
  });
}

}  // namespace bitjit
