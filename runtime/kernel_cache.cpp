#include "runtime/kernel_cache.hpp"

#include <map>
#include <mutex>

#include "common/sha256.hpp"

namespace bitjit {
namespace {

std::string binary_key(const std::string& source, const std::string& arch) {
  Sha256 hash;
  hash.update(source).update("\narch=").update(arch).update("\nnvrtc=").update(nvrtc_version());
  for (const std::string& flag : default_compile_flags(arch)) hash.update("\nflag=").update(flag);
  return hash.hex_digest();
}

struct ProcessCache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const CompiledKernel>> binaries;
};

ProcessCache& process_cache() {
  static ProcessCache cache;
  return cache;
}

}  // namespace

GeneratedKernel emit_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  check_arch(arch);
  GeneratedKernel kernel;
  kernel.plan = plan_kernel(config, schedule, arch);
  kernel.source = emit_cuda(kernel.plan);
  kernel.key = binary_key(kernel.source, arch);
  kernel.file_name = "bitjit_" + kernel.key.substr(0, 16) + ".cu";
  return kernel;
}

GeneratedKernel generate_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  GeneratedKernel kernel = emit_kernel(config, schedule, arch);
  ProcessCache& cache = process_cache();
  {
    std::lock_guard lock(cache.mutex);
    auto found = cache.binaries.find(kernel.key);
    if (found != cache.binaries.end()) {
      kernel.binary = found->second;
      return kernel;
    }
  }
  // Compile outside the lock: NVRTC is thread-safe and compiles take ~0.2 s. Two threads racing on
  // one key both compile; the first result stored wins, and both are identical anyway.
  CompileRequest request{kernel.source, kernel.file_name, arch, {},
                         "config " + canonical_form(config) + ", schedule " + canonical_form(schedule)};
  auto binary = std::make_shared<const CompiledKernel>(compile_cuda(request));
  std::lock_guard lock(cache.mutex);
  kernel.binary = cache.binaries.emplace(kernel.key, binary).first->second;
  return kernel;
}

}  // namespace bitjit
