#include "runtime/module.hpp"

#include <utility>

#include "common/error.hpp"
#include "common/log.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"

namespace bitjit {

Module::Module(const std::vector<char>& cubin, const std::string& context) : context_(context) {
  ensure_context();
  if (cubin.empty()) throw CudaError("cuModuleLoadData: the cubin is empty" + (context.empty() ? "" : " while " + context));
  check_cuda(Driver::get().cuModuleLoadData(&module_, cubin.data()), "cuModuleLoadData", context);
}

Module::~Module() { release(); }

Module::Module(Module&& other) noexcept
    : module_(std::exchange(other.module_, nullptr)), context_(std::move(other.context_)) {}

Module& Module::operator=(Module&& other) noexcept {
  if (this != &other) {
    release();
    module_ = std::exchange(other.module_, nullptr);
    context_ = std::move(other.context_);
  }
  return *this;
}

void Module::release() noexcept {
  if (module_ == nullptr) return;
  const CUresult result = Driver::get().cuModuleUnload(module_);
  // At process exit the driver may be gone before static modules are; nothing is left to free then.
  if (result != CUDA_SUCCESS && result != CUDA_ERROR_DEINITIALIZED) {
    log().warn("cuModuleUnload failed in a destructor: {}", describe_cuda_result(result));
  }
  module_ = nullptr;
}

CUfunction Module::function(const std::string& name) const {
  if (module_ == nullptr) throw CudaError("cuModuleGetFunction: no module is loaded (looking up " + name + ")");
  CUfunction function = nullptr;
  std::string what = "looking up kernel '" + name + "'";
  if (!context_.empty()) what += " in " + context_;
  check_cuda(Driver::get().cuModuleGetFunction(&function, module_, name.c_str()), "cuModuleGetFunction", what);
  return function;
}

}  // namespace bitjit
