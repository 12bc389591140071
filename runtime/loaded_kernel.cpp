#include "runtime/loaded_kernel.hpp"

#include <string>

#include "common/error.hpp"
#include "compiler/families/family.hpp"
#include "compiler/lower.hpp"
#include "runtime/tensor_maps.hpp"

namespace bitjit {

TensorMaps LoadedKernel::tensor_maps_for(const void* A, const void* W, int64_t M) {
  std::lock_guard<std::mutex> lock(maps_mutex);
  if (A != maps_A || W != maps_W || M != maps_M) {
    maps = encode_tensor_maps(kernel.plan, A, W, M);
    maps_A = A, maps_W = W, maps_M = M;
  }
  return maps;
}

LoadedKernel::~LoadedKernel() {
  const Driver& cuda = Driver::get();
  if (!cuda.available()) return;
  for (const auto& [context, loaded] : modules) {
    if (cuda.cuCtxPushCurrent(context) != CUDA_SUCCESS) continue;
    cuda.cuModuleUnload(loaded.module);
    CUcontext popped = nullptr;
    cuda.cuCtxPopCurrent(&popped);
  }
}

CUfunction LoadedKernel::function_in(CUcontext context) {
  std::lock_guard<std::mutex> lock(modules_mutex);
  const auto found = modules.find(context);
  return found == modules.end() ? nullptr : found->second.function;
}

CUfunction LoadedKernel::load_in(CUcontext context, int device) {
  std::lock_guard<std::mutex> lock(modules_mutex);
  if (const auto found = modules.find(context); found != modules.end()) return found->second.function;
  const Driver& cuda = Driver::get();
  const std::string what = "loading " + kernel.file_name + " for " + kernel.plan.arch + " on device " + std::to_string(device);
  InContext loaded;
  check_cuda(cuda.cuModuleLoadData(&loaded.module, kernel.binary->cubin.data()), "cuModuleLoadData", what);
  modules.emplace(context, loaded);  // owned from here: the destructor unloads it even if a call below fails
  check_cuda(cuda.cuModuleGetFunction(&loaded.function, loaded.module, kKernelName), "cuModuleGetFunction", what);
  const int shared = dynamic_shared_bytes(kernel.plan.config, kernel.plan.schedule);
  // Any dynamic shared memory: with the static part (nf4's pair table) past 48 KB it needs the opt-in.
  if (shared > 0) {
    check_cuda(cuda.cuFuncSetAttribute(loaded.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, shared),
               "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", what + ", " + std::to_string(shared) + " bytes");
  }
  // Two warp-specialized blocks an SM each hold up to half of its shared memory: the whole carveout
  // for shared memory, or the driver may pick one that fits a single block.
  const TileSchedule& schedule = kernel.plan.schedule;
  if (family_traits(schedule.family).producer_warpgroup && schedule.launch.blocks_per_sm > 1) {
    check_cuda(cuda.cuFuncSetAttribute(loaded.function, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT,
                                       CU_SHAREDMEM_CARVEOUT_MAX_SHARED),
               "cuFuncSetAttribute(PREFERRED_SHARED_MEMORY_CARVEOUT)", what + ", " +
                   std::to_string(schedule.launch.blocks_per_sm) + " blocks an SM");
  }
  modules[context].function = loaded.function;
  return loaded.function;
}

}  // namespace bitjit
