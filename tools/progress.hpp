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
  // One more item done; `detail` (e.g. counts so far) is shown beside the bar.
  void advance(const std::string& detail);
  void finish();

 private:
  std::string label_;
  size_t total_, done_ = 0, last_tenth_ = 0;
  bool terminal_;
  std::mutex mutex_;
};

}  // namespace bitjit::cli
