#include "runtime/kernel_cache.hpp"

#include "common/text.hpp"

#include <chrono>
#include <ctime>
#include <map>
#include <mutex>

#include "common/log.hpp"
#include "common/sha256.hpp"
#include "common/version.hpp"
#include "compiler/arch.hpp"
#include "runtime/embedded_templates.hpp"
#include "tuning_db/database.hpp"

namespace bitjit {
namespace {

std::string binary_key(const KernelPlan& plan, const std::string& source) {
  Sha256 hash;
  hash.update("bitjit=").update(version()).update("\ntemplates=").update(templates_sha256());
  hash.update("\nconfig=").update(canonical_form(plan.config)).update("\nschedule=").update(canonical_form(plan.schedule));
  hash.update("\narch=").update(plan.arch).update("\nnvrtc=").update(nvrtc_version());
  for (const std::string& flag : default_compile_flags(plan.arch)) hash.update("\nflag=").update(flag);
  hash.update("\nsource=").update(source);
  return hash.hex_digest();
}

db::StoredKernel to_stored(const GeneratedKernel& kernel) {
  const CompiledKernel& binary = *kernel.binary;
  nlohmann::json meta = {{"key", kernel.key},
                         {"name", kernel.file_name},
                         {"config", nlohmann::json::parse(canonical_form(kernel.plan.config))},
                         {"schedule", to_json(kernel.plan.schedule)},
                         {"arch", kernel.plan.arch},
                         {"nvrtc", nvrtc_version()},
                         {"bitjit", version()},
                         {"templates", templates_sha256()},
                         {"flags", binary.flags},
                         {"compile_ms", binary.compile_ms},
                         {"created", utc_now()}};
  return {std::move(meta), binary.cubin};
}

std::shared_ptr<const CompiledKernel> from_stored(db::StoredKernel stored) {
  auto binary = std::make_shared<CompiledKernel>();
  binary->arch = stored.meta.at("arch");
  binary->flags = stored.meta.at("flags").get<std::vector<std::string>>();
  binary->compile_ms = stored.meta.value("compile_ms", 0.0);
  binary->cubin = std::move(stored.cubin);
  return binary;
}

struct ProcessCache {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<const CompiledKernel>> binaries;

  std::shared_ptr<const CompiledKernel> find(const std::string& key) {
    std::lock_guard lock(mutex);
    auto found = binaries.find(key);
    return found == binaries.end() ? nullptr : found->second;
  }
  // The first binary stored under a key wins (two threads racing on one key made identical ones).
  std::shared_ptr<const CompiledKernel> insert(const std::string& key, std::shared_ptr<const CompiledKernel> binary) {
    std::lock_guard lock(mutex);
    return binaries.emplace(key, std::move(binary)).first->second;
  }
};

ProcessCache& process_cache() {
  static ProcessCache cache;
  return cache;
}

}  // namespace

const std::string& templates_sha256() {
  static const std::string hash = [] {
    Sha256 sha;
    for (const EmbeddedHeader& header : embedded_templates()) {
      sha.update(header.name).update(std::string(1, '\0')).update(header.content).update(std::string(1, '\0'));
    }
    return sha.hex_digest();
  }();
  return hash;
}

GeneratedKernel emit_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  check_arch(arch);
  GeneratedKernel kernel;
  kernel.plan = plan_kernel(config, schedule, arch);
  kernel.source = emit_cuda(kernel.plan);
  kernel.key = binary_key(kernel.plan, kernel.source);
  kernel.file_name = "bitjit_" + kernel.key.substr(0, 16) + ".cu";
  return kernel;
}

GeneratedKernel generate_kernel(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  GeneratedKernel kernel = emit_kernel(config, schedule, arch);
  ProcessCache& cache = process_cache();
  if ((kernel.binary = cache.find(kernel.key))) {
    kernel.origin = KernelSource::process_cache;
    return kernel;
  }
  db::KernelDatabase& database = db::default_database();
  if (std::optional<db::StoredKernel> stored = database.load(kernel.key)) {
    kernel.binary = cache.insert(kernel.key, from_stored(std::move(*stored)));
    kernel.origin = KernelSource::database;
    return kernel;
  }
  // Compile outside any lock: NVRTC is thread-safe and a compile takes ~0.2 s.
  CompileRequest request{kernel.source, kernel.file_name, arch, {},
                         "config " + canonical_form(config) + ", schedule " + canonical_form(schedule)};
  kernel.binary = cache.insert(kernel.key, std::make_shared<const CompiledKernel>(compile_cuda(request)));
  kernel.origin = KernelSource::compiled;
  database.store(to_stored(kernel));
  return kernel;
}

void forget_process_kernels() {
  ProcessCache& cache = process_cache();
  std::lock_guard lock(cache.mutex);
  cache.binaries.clear();
}

}  // namespace bitjit
