#pragma once
// Launches captured from a stream into a CUDA graph (stream capture), instantiated for replay on that
// stream. The driver refuses work that cannot be captured (a module load, an allocation, a
// synchronization): see Matmul::run's CaptureError for what a Matmul must have done first.
#include <cuda.h>

#include <cstdint>
#include <functional>
#include <optional>

namespace bitjit {

// The id of the capture sequence `stream` is part of (the driver gives each a process-unique one,
// cuStreamGetCaptureInfo), or nothing when the stream is not being captured. device: the CUDA device
// whose primary context the stream belongs to (-1: the current context's), made current for the query
// (the legacy default stream, handle 0, is the current context's). A caller that keeps memory per
// capture (python/bitjit/ops.py: split-K scratch from PyTorch's allocator) tells captures apart by it.
std::optional<uint64_t> stream_capture_id(CUstream stream, int device = -1);

class GraphCapture {
 public:
  explicit GraphCapture(CUstream stream) : stream_(stream) {}
  ~GraphCapture();
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;

  // Captures what `body` launches on the stream (global capture mode) and instantiates the graph. If
  // body throws, the capture is ended (a stream must not be left capturing) and the error rethrown.
  // Once per GraphCapture.
  void record(const std::function<void()>& body);
  // Launches the recorded graph on the stream.
  void replay() const;

 private:
  CUstream stream_;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
};

}  // namespace bitjit
