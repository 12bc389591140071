#pragma once
// A loaded cubin: cuModuleLoadData on construction, cuModuleUnload on destruction.
#include <cuda.h>

#include <string>
#include <vector>

namespace bitjit {

class Module {
 public:
  Module() = default;
  // Loads into the current context (made current by ensure_context() if there is none). context is
  // appended to errors, as in CompileRequest.
  explicit Module(const std::vector<char>& cubin, const std::string& context = "");
  ~Module();
  Module(Module&& other) noexcept;
  Module& operator=(Module&& other) noexcept;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CUmodule get() const { return module_; }
  // The extern "C" kernel of that name; throws CudaError naming it when the module has none.
  CUfunction function(const std::string& name) const;

 private:
  void release() noexcept;
  CUmodule module_ = nullptr;
  std::string context_;
};

}  // namespace bitjit
