#pragma once
// A progress line on standard error: redrawn in place on a terminal, a line per tenth otherwise
// (so logs of scripted runs stay short).
#include <cstddef>
#include <mutex>
#include <string>

namespace bitjit::cli {

class Progress {
 public:
  Progress(std::string label, size_t total);
  // One more item done; the counts are shown beside the bar.
  void advance(size_t compiled, size_t cached, size_t failed);
  void finish();

 private:
  std::string label_;
  size_t total_, done_ = 0, last_tenth_ = 0;
  bool terminal_;
  std::mutex mutex_;
};

}  // namespace bitjit::cli
