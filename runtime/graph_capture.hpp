#pragma once
// Launches captured from a stream into a CUDA graph (stream capture), instantiated for replay on that
// stream. The driver refuses work that cannot be captured (a module load, an allocation, a
// synchronization): see Matmul::run's CaptureError for what a Matmul must have done first.
#include <cuda.h>

#include <functional>

namespace bitjit {

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
