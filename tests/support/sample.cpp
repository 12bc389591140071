#include "tests/support/sample.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace bitjit::testing {
namespace {
std::mutex progress_mutex;
}  // namespace

bool full_run() {
  const char* value = std::getenv("BITJIT_TEST_FULL");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

std::vector<size_t> sample_indices(size_t count, size_t stride, const std::vector<bool>& always) {
  std::vector<size_t> indices;
  const bool everything = full_run() || stride <= 1;
  for (size_t i = 0; i < count; ++i) {
    if (everything || i % stride == 0 || (i < always.size() && always[i])) indices.push_back(i);
  }
  return indices;
}

Progress::Progress(std::string what, size_t total, std::chrono::seconds interval)
    : what_(std::move(what)), total_(total), interval_(interval), start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::advance(size_t done) {
  std::lock_guard lock(progress_mutex);
  done_ += done;
  if (std::chrono::steady_clock::now() - last_ >= interval_) print(done_);
}

void Progress::finish() {
  std::lock_guard lock(progress_mutex);
  print(done_);
}

void Progress::print(size_t done) {
  last_ = std::chrono::steady_clock::now();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(last_ - start_).count();
  std::fprintf(stderr, "%s: %zu/%zu (%lld s)\n", what_.c_str(), done, total_, static_cast<long long>(seconds));
  std::fflush(stderr);
}

}  // namespace bitjit::testing
