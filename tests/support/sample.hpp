#pragma once
// Exhaustive tests over many configs (tagged [sampled]) run on a deterministic sample by default, so
// that CI on a 2-core machine stays fast; BITJIT_TEST_FULL=1 runs them whole. ctest runs each binary
// sampled (test_<folder>) and, with label `full`, whole (test_<folder>.full); the CI preset leaves
// the label out and scripts/device-run.sh runs it.
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace bitjit::testing {

// BITJIT_TEST_FULL=1.
bool full_run();

// Which of `count` items a [sampled] test takes: all in a full run; else item i when `always[i]` is
// true (what the test must cover every time, e.g. the first config of each decode path) or when i is
// a multiple of `stride`. The same items every run, so a failure reproduces.
std::vector<size_t> sample_indices(size_t count, size_t stride, const std::vector<bool>& always = {});

// The selected items.
template <class T>
std::vector<T> take_sample(const std::vector<T>& items, size_t stride, const std::vector<bool>& always = {}) {
  std::vector<T> taken;
  for (size_t i : sample_indices(items.size(), stride, always)) taken.push_back(items[i]);
  return taken;
}

// Progress of a long test on stderr, at most every `interval`: "<what>: 120/2210 (35 s)", and a last
// line at finish(). Safe to call from several threads.
class Progress {
 public:
  Progress(std::string what, size_t total, std::chrono::seconds interval = std::chrono::seconds(15));
  void advance(size_t done = 1);
  void finish();

 private:
  void print(size_t done);
  std::string what_;
  size_t total_;
  std::chrono::seconds interval_;
  std::chrono::steady_clock::time_point start_, last_;
  size_t done_ = 0;
};

}  // namespace bitjit::testing
