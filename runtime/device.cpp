#include "runtime/device.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "common/env.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "compiler/arch.hpp"
#include "quant/host_tensor.hpp"
#include "runtime/driver.hpp"

namespace bitjit {
namespace {

const Driver& driver() { return Driver::get(); }

CUdevice device_handle(int ordinal) {
  int count = 0;
  check_cuda(driver().cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (ordinal >= count) {
    throw CudaError("CUDA device " + std::to_string(ordinal) + " does not exist: this machine has " +
                    std::to_string(count) + " (BITJIT_DEVICE picks the device)");
  }
  CUdevice device = 0;
  check_cuda(driver().cuDeviceGet(&device, ordinal), "cuDeviceGet", "getting device " + std::to_string(ordinal));
  return device;
}

// Each device's primary context is retained once and never released: kernels and buffers bitjit hands
// out may outlive any object that could own the reference, and the driver frees it at process exit.
CUcontext retained_primary_context(int ordinal) {
  static std::mutex mutex;
  static std::map<int, CUcontext> contexts;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = contexts.find(ordinal);
  if (found != contexts.end()) return found->second;
  CUcontext context = nullptr;
  check_cuda(driver().cuDevicePrimaryCtxRetain(&context, device_handle(ordinal)), "cuDevicePrimaryCtxRetain",
             "retaining the primary context of device " + std::to_string(ordinal));
  contexts.emplace(ordinal, context);
  return context;
}

int device_attribute(CUdevice device, CUdevice_attribute attribute, const char* attribute_name) {
  int value = 0;
  check_cuda(driver().cuDeviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute",
             std::string("reading ") + attribute_name + " of device " + std::to_string(device));
  return value;
}

DeviceInfo query_device_info(int ordinal) {
  const CUdevice device = device_handle(ordinal);
  DeviceInfo info;
  info.ordinal = ordinal;
  char name[256] = {};
  check_cuda(driver().cuDeviceGetName(name, sizeof(name) - 1, device), "cuDeviceGetName");
  info.name = name;
#define BITJIT_READ_ATTRIBUTE(field, attribute) \
  info.field = device_attribute(device, CU_DEVICE_ATTRIBUTE_##attribute, #attribute)
  BITJIT_READ_ATTRIBUTE(cc_major, COMPUTE_CAPABILITY_MAJOR);
  BITJIT_READ_ATTRIBUTE(cc_minor, COMPUTE_CAPABILITY_MINOR);
  BITJIT_READ_ATTRIBUTE(sm_count, MULTIPROCESSOR_COUNT);
  BITJIT_READ_ATTRIBUTE(max_shared_per_block_optin, MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  BITJIT_READ_ATTRIBUTE(shared_per_sm, MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
  BITJIT_READ_ATTRIBUTE(regs_per_block, MAX_REGISTERS_PER_BLOCK);
  BITJIT_READ_ATTRIBUTE(l2_bytes, L2_CACHE_SIZE);
  BITJIT_READ_ATTRIBUTE(max_threads_per_block, MAX_THREADS_PER_BLOCK);
#undef BITJIT_READ_ATTRIBUTE
  log().debug("device {}: {} ({}), {} SMs", ordinal, info.name, info.arch(), info.sm_count);
  return info;
}

// Destructors run when the driver may already be shut down (static objects at exit); an error there
// can neither be thrown nor acted on, so it is only logged.
void warn_on_release_failure(CUresult result, const char* call) {
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_DEINITIALIZED) {
    log().warn("{} failed in a destructor: {}", call, describe_cuda_result(result));
  }
}

}  // namespace

std::string DeviceInfo::arch() const {
  return arch_for_compute_capability(cc_major, cc_minor);
}

namespace {

// The device of the calling thread's current context; nullopt when none is current.
std::optional<int> current_context_device() {
  CUcontext current = nullptr;
  check_cuda(driver().cuCtxGetCurrent(&current), "cuCtxGetCurrent");
  if (current == nullptr) return std::nullopt;
  CUdevice device = 0;
  check_cuda(driver().cuCtxGetDevice(&device), "cuCtxGetDevice");
  return int(device);
}

}  // namespace

int ensure_context() {
  driver().require();
  if (const std::optional<int> device = current_context_device()) return *device;
  check_cuda(driver().cuCtxSetCurrent(retained_primary_context(env::device_ordinal())), "cuCtxSetCurrent");
  CUdevice device = 0;
  check_cuda(driver().cuCtxGetDevice(&device), "cuCtxGetDevice");
  return int(device);
}

std::optional<int> device_in_use() {
  if (!driver().available()) return std::nullopt;
  if (const std::optional<int> device = current_context_device()) return device;
  return env::device_ordinal();
}

DeviceScope::DeviceScope(int ordinal) {
  device_ = ensure_context();
  check_cuda(driver().cuCtxGetCurrent(&context_), "cuCtxGetCurrent");
  if (ordinal < 0 || ordinal == device_) return;
  CUcontext primary = retained_primary_context(ordinal);
  check_cuda(driver().cuCtxPushCurrent(primary), "cuCtxPushCurrent",
             [&] { return "making device " + std::to_string(ordinal) + "'s primary context current"; });
  device_ = ordinal;
  context_ = primary;
  pushed_ = true;
}

DeviceScope::~DeviceScope() {
  if (!pushed_) return;
  CUcontext popped = nullptr;
  warn_on_release_failure(driver().cuCtxPopCurrent(&popped), "cuCtxPopCurrent");
}

const DeviceInfo& device_info(int ordinal) {
  driver().require();
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<DeviceInfo>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[ordinal];
  if (!slot) slot = std::make_unique<DeviceInfo>(query_device_info(ordinal));
  return *slot;
}

const DeviceInfo& current_device_info() { return device_info(ensure_context()); }

// ---- DeviceBuffer ---------------------------------------------------------------------------------

DeviceBuffer::DeviceBuffer(size_t bytes) : size_(bytes) {
  ensure_context();
  // cuMemAlloc rejects 0 bytes; an empty buffer simply owns nothing.
  if (bytes == 0) return;
  check_cuda(driver().cuMemAlloc(&ptr_, bytes), "cuMemAlloc", "allocating " + std::to_string(bytes) + " bytes");
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, 0)), size_(std::exchange(other.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, 0);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (ptr_ != 0) warn_on_release_failure(driver().cuMemFree(ptr_), "cuMemFree");
  ptr_ = 0;
  size_ = 0;
}

void DeviceBuffer::check_range(const char* operation, size_t bytes, size_t offset) const {
  if (offset <= size_ && bytes <= size_ - offset) return;
  throw Error(std::string("DeviceBuffer::") + operation + " of " + std::to_string(bytes) + " bytes at offset " +
              std::to_string(offset) + " overruns the buffer's " + std::to_string(size_) + " bytes");
}

void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  check_range("upload", bytes, offset);
  if (bytes == 0) return;
  check_cuda(driver().cuMemcpyHtoD(ptr_ + offset, host, bytes), "cuMemcpyHtoD");
}

void DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  check_range("download", bytes, offset);
  if (bytes == 0) return;
  check_cuda(driver().cuMemcpyDtoH(host, ptr_ + offset, bytes), "cuMemcpyDtoH");
}

void DeviceBuffer::upload_async(const void* host, size_t bytes, CUstream stream, size_t offset) {
  check_range("upload_async", bytes, offset);
  if (bytes == 0) return;
  check_cuda(driver().cuMemcpyHtoDAsync(ptr_ + offset, host, bytes, stream), "cuMemcpyHtoDAsync");
}

void DeviceBuffer::download_async(void* host, size_t bytes, CUstream stream, size_t offset) const {
  check_range("download_async", bytes, offset);
  if (bytes == 0) return;
  check_cuda(driver().cuMemcpyDtoHAsync(host, ptr_ + offset, bytes, stream), "cuMemcpyDtoHAsync");
}

void DeviceBuffer::fill_bytes(uint8_t value) {
  if (size_ == 0) return;
  check_cuda(driver().cuMemsetD8(ptr_, value, size_), "cuMemsetD8");
  check_cuda(driver().cuCtxSynchronize(), "cuCtxSynchronize", "after cuMemsetD8");
}

DeviceBuffer upload_host_tensor(const HostTensor& host) {
  DeviceBuffer buffer(std::max<size_t>(host.bytes.size(), 1));
  if (!host.bytes.empty()) buffer.upload(host.bytes.data(), host.bytes.size());
  return buffer;
}

// ---- Stream ---------------------------------------------------------------------------------------

Stream::Stream() {
  ensure_context();
  check_cuda(driver().cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
}

Stream::~Stream() { release(); }

Stream::Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    release();
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

void Stream::release() noexcept {
  if (stream_ != nullptr) warn_on_release_failure(driver().cuStreamDestroy(stream_), "cuStreamDestroy");
  stream_ = nullptr;
}

void Stream::synchronize() const { check_cuda(driver().cuStreamSynchronize(stream_), "cuStreamSynchronize"); }

// ---- Event ----------------------------------------------------------------------------------------

Event::Event() {
  ensure_context();
  check_cuda(driver().cuEventCreate(&event_, CU_EVENT_DEFAULT), "cuEventCreate");
}

Event::~Event() { release(); }

Event::Event(Event&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    release();
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

void Event::release() noexcept {
  if (event_ != nullptr) warn_on_release_failure(driver().cuEventDestroy(event_), "cuEventDestroy");
  event_ = nullptr;
}

void Event::record(CUstream stream) { check_cuda(driver().cuEventRecord(event_, stream), "cuEventRecord"); }

void Event::synchronize() const { check_cuda(driver().cuEventSynchronize(event_), "cuEventSynchronize"); }

float Event::elapsed_ms(const Event& start, const Event& end) {
  end.synchronize();
  float milliseconds = 0.0f;
  check_cuda(driver().cuEventElapsedTime(&milliseconds, start.event_, end.event_), "cuEventElapsedTime");
  return milliseconds;
}

}  // namespace bitjit
