#pragma once
// A compiled kernel as Matmul runs it: its module loaded once in each context (device) it runs in,
// and the TMA maps of its last operands (runtime/matmul.cpp launches it).
#include <cstdint>
#include <map>
#include <mutex>

#include "runtime/driver.hpp"
#include "runtime/kernel_cache.hpp"
#include "templates/bitjit/core/matmul_params.cuh"

namespace bitjit {

// One compiled kernel and its module in each context (device) it has run in.
struct LoadedKernel {
  GeneratedKernel kernel;
  std::mutex modules_mutex;
  struct InContext {
    CUmodule module = nullptr;
    CUfunction function = nullptr;
  };
  std::map<CUcontext, InContext> modules;
  // The TMA maps last encoded for this kernel (tensor_wgmma_ws) and the operands they describe: a
  // model's layer runs the same weights, and often the same activation buffer, launch after launch,
  // so the two driver encodes are spent only when one of them changes. An encode is host work only
  // (no device call), so it may happen during graph capture.
  std::mutex maps_mutex;
  const void* maps_A = nullptr;
  const void* maps_W = nullptr;
  int64_t maps_M = 0;
  TensorMaps maps;

  TensorMaps tensor_maps_for(const void* A, const void* W, int64_t M);
  // Each module is unloaded in its own context (cuModuleUnload acts on the current one). Errors are
  // ignored: at process exit the driver may be shut down already, and nothing is left to free then.
  ~LoadedKernel();
  // The function in `context` (current on this thread), or null before load_in(context).
  CUfunction function_in(CUcontext context);
  // Loads the module in `context` (current on this thread) once; the function.
  CUfunction load_in(CUcontext context, int device);
};

}  // namespace bitjit
