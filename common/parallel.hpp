#pragma once
// A shared work queue for the host's parallel compiles (prewarm, the benchmark, the GPU tests):
// NVRTC is thread-safe, so independent kernels compile at once.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <future>
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

}  // namespace bitjit
