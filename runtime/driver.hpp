#pragma once
// The CUDA Driver API, loaded from libcuda.so.1 at first use. bitjit links no driver library, so it
// loads, generates and compiles kernels, and runs its CPU tests, on machines without a GPU.
#include <cuda.h>

#include <string>
#include <type_traits>

namespace bitjit {

// Every driver entry point bitjit calls. Each name passes through cuda.h's macros before it is used
// (cuMemAlloc becomes cuMemAlloc_v2, cuEventElapsedTime becomes cuEventElapsedTime_v2), so a
// member's type, its name and the symbol looked up in libcuda all name the same ABI version.
#define BITJIT_DRIVER_FUNCTIONS(X) \
  X(cuInit)                        \
  X(cuDriverGetVersion)            \
  X(cuGetErrorName)                \
  X(cuGetErrorString)              \
  X(cuDeviceGet)                   \
  X(cuDeviceGetCount)              \
  X(cuDeviceGetName)               \
  X(cuDeviceGetAttribute)          \
  X(cuDevicePrimaryCtxRetain)      \
  X(cuDevicePrimaryCtxRelease)     \
  X(cuCtxGetCurrent)               \
  X(cuCtxSetCurrent)               \
  X(cuCtxGetDevice)                \
  X(cuCtxPushCurrent)              \
  X(cuCtxPopCurrent)               \
  X(cuCtxSynchronize)              \
  X(cuModuleLoadData)              \
  X(cuModuleUnload)                \
  X(cuModuleGetFunction)           \
  X(cuFuncSetAttribute)            \
  X(cuFuncGetAttribute)            \
  X(cuLaunchKernel)                \
  X(cuLaunchKernelEx)              \
  X(cuOccupancyMaxActiveClusters)  \
  X(cuTensorMapEncodeTiled)        \
  X(cuMemAlloc)                    \
  X(cuMemFree)                     \
  X(cuMemGetInfo)                  \
  X(cuMemcpyHtoD)                  \
  X(cuMemcpyDtoH)                  \
  X(cuMemcpyDtoD)                  \
  X(cuMemcpyDtoDAsync)             \
  X(cuMemcpyHtoDAsync)             \
  X(cuMemcpyDtoHAsync)             \
  X(cuMemsetD8)                    \
  X(cuMemsetD8Async)               \
  X(cuPointerGetAttribute)         \
  X(cuStreamCreate)                \
  X(cuStreamDestroy)               \
  X(cuStreamSynchronize)           \
  X(cuStreamIsCapturing)           \
  X(cuStreamGetCaptureInfo)        \
  X(cuStreamBeginCapture)          \
  X(cuStreamEndCapture)            \
  X(cuGraphInstantiate)            \
  X(cuGraphLaunch)                 \
  X(cuGraphDestroy)                \
  X(cuGraphExecDestroy)            \
  X(cuEventCreate)                 \
  X(cuEventDestroy)                \
  X(cuEventRecord)                 \
  X(cuEventSynchronize)            \
  X(cuEventElapsedTime)

class Driver {
 public:
  // Loads libcuda and calls cuInit(0) on first use (thread-safe); never throws. When anything is
  // missing, available() is false and unavailable_reason() says what.
  static Driver& get();

  // libcuda loaded with every entry point, cuInit succeeded, and at least one device is present.
  bool available() const { return available_; }
  const std::string& unavailable_reason() const { return unavailable_reason_; }
  // Throws CudaError("no GPU present: <reason>") when the driver is not available.
  void require() const;
  // cuDriverGetVersion, e.g. 13000 for CUDA 13.0; 0 when libcuda could not be loaded.
  int version() const { return version_; }
  // "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"; the number when libcuda could not be loaded.
  std::string describe(CUresult result) const;

  // The entry points, called as Driver::get().cuMemAlloc(...). Null when the driver is not available.
#define BITJIT_DECLARE_DRIVER_FUNCTION(name) decltype(&::name) name = nullptr;
  BITJIT_DRIVER_FUNCTIONS(BITJIT_DECLARE_DRIVER_FUNCTION)
#undef BITJIT_DECLARE_DRIVER_FUNCTION

  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

 private:
  Driver();
  void load();
  bool open_library();
  bool resolve_entry_points();
  bool initialize();

  void* library_ = nullptr;
  bool available_ = false;
  std::string unavailable_reason_;
  int version_ = 0;
};

// Driver::get().describe(result).
std::string describe_cuda_result(CUresult result);

// Throws CudaError "<call> failed: CUDA_ERROR_X (<description>)[ while <context>]" unless
// result == CUDA_SUCCESS.
void check_cuda(CUresult result, const char* call, const std::string& context = "");

// check_cuda with the context built only on failure: for the calls of every launch, where building
// the text each time would be host overhead on the hot path.
template <class MakeContext, class = std::enable_if_t<std::is_invocable_r_v<std::string, MakeContext>>>
void check_cuda(CUresult result, const char* call, MakeContext&& make_context) {
  if (result != CUDA_SUCCESS) check_cuda(result, call, std::string(make_context()));
}

}  // namespace bitjit
