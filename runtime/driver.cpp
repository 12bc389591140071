#include "runtime/driver.hpp"

#include <dlfcn.h>

#include <exception>

#include "common/error.hpp"
#include "common/log.hpp"

namespace bitjit {
namespace {

constexpr const char* kDriverLibrary = "libcuda.so.1";

// Two steps, so that the argument (cuMemAlloc) is macro-expanded (cuMemAlloc_v2) before it is quoted.
#define BITJIT_QUOTE(text) #text
#define BITJIT_SYMBOL_NAME(name) BITJIT_QUOTE(name)

std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

}  // namespace

Driver& Driver::get() {
  static Driver driver;
  return driver;
}

Driver::Driver() {
  try {
    load();
  } catch (const std::exception& error) {
    available_ = false;
    unavailable_reason_ = std::string("loading the CUDA driver failed: ") + error.what();
  }
  if (!available_) log().debug("CUDA driver not available: {}", unavailable_reason_);
}

void Driver::load() {
  available_ = open_library() && resolve_entry_points() && initialize();
}

bool Driver::open_library() {
  // RTLD_LOCAL: the driver's symbols stay out of the global namespace, where a process that also
  // links libcuda (PyTorch) has its own.
  library_ = dlopen(kDriverLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library_ != nullptr) return true;
  const char* why = dlerror();
  unavailable_reason_ = std::string("no CUDA driver: ") + kDriverLibrary + " not found (dlopen: " +
                        (why != nullptr ? why : "unknown error") + ")";
  return false;
}

bool Driver::resolve_entry_points() {
  std::string missing;
#define BITJIT_RESOLVE_DRIVER_FUNCTION(name)                                                 \
  name = reinterpret_cast<decltype(name)>(dlsym(library_, BITJIT_SYMBOL_NAME(name)));        \
  if (name == nullptr) missing += std::string(missing.empty() ? "" : ", ") + BITJIT_SYMBOL_NAME(name);
  BITJIT_DRIVER_FUNCTIONS(BITJIT_RESOLVE_DRIVER_FUNCTION)
#undef BITJIT_RESOLVE_DRIVER_FUNCTION
  if (missing.empty()) return true;
  unavailable_reason_ = std::string(kDriverLibrary) + " lacks " + missing +
                        " (a driver older than the CUDA " + cuda_version_text(CUDA_VERSION) +
                        " headers bitjit was built with?)";
  return false;
}

bool Driver::initialize() {
  CUresult result = cuInit(0);
  if (result != CUDA_SUCCESS) {
    unavailable_reason_ = "cuInit failed: " + describe(result);
    return false;
  }
  result = cuDriverGetVersion(&version_);
  if (result != CUDA_SUCCESS) {
    unavailable_reason_ = "cuDriverGetVersion failed: " + describe(result);
    return false;
  }
  int device_count = 0;
  result = cuDeviceGetCount(&device_count);
  if (result != CUDA_SUCCESS) {
    unavailable_reason_ = "cuDeviceGetCount failed: " + describe(result);
    return false;
  }
  if (device_count == 0) {
    unavailable_reason_ = "the CUDA driver (" + cuda_version_text(version_) + ") sees no device";
    return false;
  }
  if (version_ < CUDA_VERSION) {
    log().warn("the CUDA driver ({}) is older than the CUDA {} toolkit bitjit compiles with; kernels may fail to load",
               cuda_version_text(version_), cuda_version_text(CUDA_VERSION));
  }
  log().debug("CUDA driver {} loaded, {} device(s)", cuda_version_text(version_), device_count);
  return true;
}

void Driver::require() const {
  if (!available_) throw CudaError("no GPU present: " + unavailable_reason_);
}

std::string Driver::describe(CUresult result) const {
  const char* name = nullptr;
  const char* description = nullptr;
  // Both lookups work before (and without) a successful cuInit.
  if (cuGetErrorName != nullptr) cuGetErrorName(result, &name);
  if (cuGetErrorString != nullptr) cuGetErrorString(result, &description);
  std::string text = name != nullptr ? name : "CUresult " + std::to_string(int(result));
  if (description != nullptr) text += std::string(" (") + description + ")";
  return text;
}

std::string describe_cuda_result(CUresult result) { return Driver::get().describe(result); }

void check_cuda(CUresult result, const char* call, const std::string& context) {
  if (result == CUDA_SUCCESS) return;
  std::string message = std::string(call) + " failed: " + describe_cuda_result(result);
  if (!context.empty()) message += " while " + context;
  throw CudaError(message);
}

}  // namespace bitjit
