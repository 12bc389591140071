#include "runtime/graph_capture.hpp"

#include <string>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"

namespace bitjit {

std::optional<uint64_t> stream_capture_id(CUstream stream, int device) {
  const DeviceScope scope(device);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
#if CUDA_VERSION >= 12030  // the headers' cuStreamGetCaptureInfo is _v3 (edge data) from CUDA 12.3, _v2 before
  const CUresult result = Driver::get().cuStreamGetCaptureInfo(stream, &status, &id, nullptr, nullptr, nullptr, nullptr);
#else
  const CUresult result = Driver::get().cuStreamGetCaptureInfo(stream, &status, &id, nullptr, nullptr, nullptr);
#endif
  check_cuda(result, "cuStreamGetCaptureInfo", [&] {
    return "asking whether stream " + std::to_string(uintptr_t(stream)) + " of device " + std::to_string(scope.device()) +
           " is being captured";
  });
  if (status == CU_STREAM_CAPTURE_STATUS_NONE) return std::nullopt;
  return uint64_t(id);  // an invalidated capture too: it is still open until its end
}

GraphCapture::~GraphCapture() {
  const Driver& cuda = Driver::get();
  if (exec_ != nullptr) cuda.cuGraphExecDestroy(exec_);
  if (graph_ != nullptr) cuda.cuGraphDestroy(graph_);
}

void GraphCapture::record(const std::function<void()>& body) {
  if (exec_ != nullptr || graph_ != nullptr) throw Error("GraphCapture::record: this capture already holds a graph");
  const Driver& cuda = Driver::get();
  check_cuda(cuda.cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_GLOBAL), "cuStreamBeginCapture");
  try {
    body();
  } catch (...) {
    cuda.cuStreamEndCapture(stream_, &graph_);  // its own error, if any, is the body's consequence
    throw;
  }
  check_cuda(cuda.cuStreamEndCapture(stream_, &graph_), "cuStreamEndCapture");
  check_cuda(cuda.cuGraphInstantiate(&exec_, graph_, 0), "cuGraphInstantiate");
}

void GraphCapture::replay() const {
  if (exec_ == nullptr) throw Error("GraphCapture::replay: nothing recorded");
  check_cuda(Driver::get().cuGraphLaunch(exec_, stream_), "cuGraphLaunch");
}

}  // namespace bitjit
