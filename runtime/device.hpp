#pragma once
// The device bitjit runs on: its context, its properties, and RAII owners of device memory, streams
// and events. Everything here needs the driver and throws CudaError("no GPU present: ...") without one.
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace bitjit {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  int max_shared_per_block_optin = 0;  // bytes a block may use after cuFuncSetAttribute opt-in
  int shared_per_sm = 0;               // bytes
  int regs_per_block = 0;
  int l2_bytes = 0;
  int max_threads_per_block = 0;

  // The NVRTC target: the arch table's row for this compute capability ("sm_90a" for 9.0, whose wgmma
  // exists only in arch-specific code; compiler/arch.hpp), else "sm_<major><minor>", which is refused.
  std::string arch() const;
};

// Makes a context current on this thread and returns its device. A context the caller already made
// current is kept (so bitjit shares PyTorch's); otherwise the primary context of env::device_ordinal()
// (BITJIT_DEVICE) is retained, once per process, and made current.
int ensure_context();

// The context runs on device `ordinal` use, current for the scope's lifetime: the context already current
// when it belongs to that device (PyTorch's, which is the device's primary context, or the caller's
// own), else the device's primary context, retained once per process, pushed and popped on exit.
// ordinal -1: ensure_context()'s device. A model whose layers sit on several GPUs (Hugging Face's
// device_map="auto") runs each layer on its own device without changing the thread's current device.
class DeviceScope {
 public:
  explicit DeviceScope(int ordinal);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

  int device() const { return device_; }
  CUcontext context() const { return context_; }

 private:
  int device_ = 0;
  CUcontext context_ = nullptr;
  bool pushed_ = false;
};

// The device ensure_context() would use (the current context's, else BITJIT_DEVICE's primary one)
// without making any context current; nullopt on a machine without a GPU. For choices that depend on
// the GPU without claiming it: Matmul::create for an arch the caller named.
std::optional<int> device_in_use();

// Properties of a device, queried once per ordinal and cached.
const DeviceInfo& device_info(int ordinal);
// device_info(ensure_context()).
const DeviceInfo& current_device_info();

// cuMemAlloc'ed device memory, freed on destruction. The copies are synchronous with the host; like
// cuMemcpy they do not wait for work queued on non-blocking streams (synchronize those first, or use
// the *_async variants on the same stream).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  CUdeviceptr ptr() const { return ptr_; }
  void* data() const { return reinterpret_cast<void*>(ptr_); }
  size_t size() const { return size_; }

  void upload(const void* host, size_t bytes, size_t offset = 0);
  void download(void* host, size_t bytes, size_t offset = 0) const;
  void upload_async(const void* host, size_t bytes, CUstream stream, size_t offset = 0);
  void download_async(void* host, size_t bytes, CUstream stream, size_t offset = 0) const;
  // Every byte set to value, done when it returns (cuMemsetD8 alone may still run after it returns,
  // unordered with work queued on a non-blocking stream).
  void fill_bytes(uint8_t value);

 private:
  void check_range(const char* operation, size_t bytes, size_t offset) const;
  void release() noexcept;

  CUdeviceptr ptr_ = 0;
  size_t size_ = 0;
};

struct HostTensor;
// A device copy of a host tensor's bytes (one byte for an empty tensor, so the pointer is valid).
DeviceBuffer upload_host_tensor(const HostTensor& host);

// A non-blocking stream (no implicit synchronization with the legacy default stream).
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  CUstream get() const { return stream_; }
  void synchronize() const;

 private:
  void release() noexcept;
  CUstream stream_ = nullptr;
};

// A timing event.
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  CUevent get() const { return event_; }
  void record(CUstream stream = nullptr);
  void synchronize() const;
  // Milliseconds from start to end, both recorded; waits for end to complete.
  static float elapsed_ms(const Event& start, const Event& end);

 private:
  void release() noexcept;
  CUevent event_ = nullptr;
};

}  // namespace bitjit
