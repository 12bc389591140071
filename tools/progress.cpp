#include "tools/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace bitjit::cli {

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)), total_(total), terminal_(::isatty(STDERR_FILENO) == 1) {}

void Progress::advance(const std::string& detail) {
  std::lock_guard lock(mutex_);
  ++done_;
  constexpr size_t kWidth = 30;
  const size_t filled = total_ ? done_ * kWidth / total_ : kWidth;
  if (terminal_) {
    std::fprintf(stderr, "\r%s [%s%s] %zu/%zu  %s\033[K", label_.c_str(), std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), done_, total_, detail.c_str());
    std::fflush(stderr);
    return;
  }
  const size_t tenth = total_ ? done_ * 10 / total_ : 10;
  if (tenth > last_tenth_) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "%s: %zu/%zu (%s)\n", label_.c_str(), done_, total_, detail.c_str());
  }
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (terminal_) std::fprintf(stderr, "\n");
}

}  // namespace bitjit::cli
