#include "runtime/nvrtc_library.hpp"

#include <cuda.h>  // CUDA_VERSION: the toolkit the headers came from
#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <variant>

#include "common/env.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace bitjit {
namespace fs = std::filesystem;
namespace {

constexpr int kSupportedMajors[] = {13, 12};

// The preferred major first, then the other supported ones.
std::vector<int> majors_in_order(int preferred) {
  std::vector<int> majors;
  if (preferred > 0) majors.push_back(preferred);
  for (int major : kSupportedMajors)
    if (major != preferred) majors.push_back(major);
  return majors;
}

std::string library_name(int major) { return "libnvrtc.so." + std::to_string(major); }

// Where a wheel of that major puts the library inside the `nvidia` package folder: nvidia-cuda-nvrtc
// (13 and later) shares cu13/ with the other CUDA 13 wheels; nvidia-cuda-nvrtc-cu12 has cuda_nvrtc/.
fs::path wheel_library_folder(int major) {
  return major >= 13 ? fs::path("cu" + std::to_string(major)) / "lib" : fs::path("cuda_nvrtc/lib");
}

// dlopen's text for the last failure, or `fallback`.
std::string dl_error(const char* fallback) {
  const char* why = dlerror();
  return why != nullptr ? why : fallback;
}

// The candidate's library opened, or the reason it could not be.
void* open_candidate(const NvrtcCandidate& candidate, std::string& failure) {
  switch (candidate.lookup) {
    case NvrtcCandidate::Lookup::path:
      if (!fs::path(candidate.library).is_absolute()) {
        failure = "not an absolute path";
        return nullptr;
      }
      if (std::error_code error; !fs::is_regular_file(candidate.library, error)) {
        failure = "no such file";
        return nullptr;
      }
      break;
    case NvrtcCandidate::Lookup::already_loaded: {
      // RTLD_LOCAL: NVRTC's symbols stay out of the global namespace, as the driver's do.
      void* handle = dlopen(candidate.library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
      if (handle == nullptr) failure = "not loaded";
      return handle;
    }
    case NvrtcCandidate::Lookup::loader:
      break;
  }
  void* handle = dlopen(candidate.library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) failure = dl_error("dlopen failed");
  return handle;
}

// The file a loaded library came from (the loader's own search may have chosen it).
std::string loaded_file(void* symbol, const std::string& fallback) {
  Dl_info info{};
  if (dladdr(symbol, &info) != 0 && info.dli_fname != nullptr && *info.dli_fname != '\0') return info.dli_fname;
  return fallback;
}

// A folder's path for comparisons: "a/./b/" and "a/b" are the same folder.
fs::path folder_key(const fs::path& folder) {
  fs::path normal = folder.lexically_normal();
  return normal.has_filename() ? normal : normal.parent_path();
}

std::mutex python_folders_mutex;
std::vector<std::string>& python_folders() {
  static std::vector<std::string> folders;
  return folders;
}

std::string candidate_text(const NvrtcCandidate& candidate) {
  switch (candidate.lookup) {
    case NvrtcCandidate::Lookup::already_loaded: return candidate.library + " already in the process";
    case NvrtcCandidate::Lookup::loader: return candidate.library + " through the dynamic loader";
    case NvrtcCandidate::Lookup::path: break;
  }
  return candidate.library;
}

}  // namespace

void set_python_nvidia_folders(std::vector<std::string> folders) {
  std::lock_guard lock(python_folders_mutex);
  python_folders() = std::move(folders);
}

NvrtcSearchInputs nvrtc_search_inputs() {
  NvrtcSearchInputs inputs;
  {
    std::lock_guard lock(python_folders_mutex);
    inputs.python_nvidia_folders = python_folders();
  }
  inputs.explicit_library = env::nvrtc_library().value_or("");
  inputs.cuda_home = env::cuda_home().value_or("");
  inputs.preferred_major = CUDA_VERSION / 1000;
  // The shared object this function is in: the Python module, libbitjit.so, or a program linked
  // with the static library.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&nvrtc_search_inputs), &info) != 0 && info.dli_fname != nullptr) {
    std::error_code error;
    const fs::path binary = fs::absolute(info.dli_fname, error);
    if (!error) inputs.binary_directory = binary.parent_path().string();
  }
  return inputs;
}

std::vector<NvrtcCandidate> nvrtc_candidates(const NvrtcSearchInputs& inputs) {
  using Lookup = NvrtcCandidate::Lookup;
  const std::vector<int> majors = majors_in_order(inputs.preferred_major);
  std::vector<NvrtcCandidate> candidates;
  if (!inputs.explicit_library.empty())
    candidates.push_back({inputs.explicit_library, Lookup::path, "BITJIT_NVRTC_LIBRARY"});
  for (int major : majors) candidates.push_back({library_name(major), Lookup::already_loaded, "the process"});
  const auto wheel = [&](const fs::path& nvidia, const std::string& place) {
    for (int major : majors)
      candidates.push_back({(nvidia / wheel_library_folder(major) / library_name(major)).string(), Lookup::path, place});
  };
  fs::path next_to_bitjit;
  if (!inputs.binary_directory.empty()) {
    next_to_bitjit = fs::path(inputs.binary_directory).parent_path() / "nvidia";
    wheel(next_to_bitjit, "the nvidia-cuda-nvrtc wheel next to bitjit");
  }
  for (const std::string& folder : inputs.python_nvidia_folders)
    if (folder_key(folder) != folder_key(next_to_bitjit)) wheel(folder, "the nvidia-cuda-nvrtc wheel on Python's path");
  const auto toolkit = [&](const fs::path& root, const std::string& place) {
    for (int major : majors)
      for (const char* folder : {"lib64", "lib"})
        candidates.push_back({(root / folder / library_name(major)).string(), Lookup::path, place});
  };
  if (!inputs.cuda_home.empty()) toolkit(inputs.cuda_home, "CUDA_HOME / CUDA_PATH");
  for (int major : majors) candidates.push_back({library_name(major), Lookup::loader, "the dynamic loader"});
  toolkit("/usr/local/cuda", "the default toolkit folder");
  return candidates;
}

Nvrtc Nvrtc::load(const std::vector<NvrtcCandidate>& candidates) {
  std::string searched;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const NvrtcCandidate& candidate = candidates[i];
    std::string failure;
    void* handle = open_candidate(candidate, failure);
    Nvrtc nvrtc;
    if (handle != nullptr) {
      std::string missing;
#define BITJIT_RESOLVE_NVRTC_FUNCTION(name)                                      \
  nvrtc.name = reinterpret_cast<decltype(nvrtc.name)>(dlsym(handle, #name));     \
  if (nvrtc.name == nullptr) missing += std::string(missing.empty() ? "" : ", ") + #name;
      BITJIT_NVRTC_FUNCTIONS(BITJIT_RESOLVE_NVRTC_FUNCTION)
#undef BITJIT_RESOLVE_NVRTC_FUNCTION
      if (missing.empty()) {
        nvrtc.path_ = loaded_file(reinterpret_cast<void*>(nvrtc.nvrtcVersion), candidate.library);
        nvrtc.place_ = candidate.place;
        return nvrtc;
      }
      dlclose(handle);
      failure = "lacks " + missing;
    }
    searched += "\n  " + std::to_string(i + 1) + ". " + candidate.place + ": " + candidate_text(candidate) + ": " + failure;
  }
  throw CudaError("no NVRTC library could be loaded (bitjit compiles its kernels with NVRTC at run time). Searched, "
                  "in order:" + searched +
                  "\nInstall the CUDA toolkit (and set CUDA_HOME if it is not in /usr/local/cuda), or the "
                  "nvidia-cuda-nvrtc wheel into bitjit's Python environment, or set BITJIT_NVRTC_LIBRARY to the "
                  "library's absolute path.");
}

const Nvrtc& Nvrtc::get() {
  // Loaded once; a failure is kept and thrown again at every call, so each caller sees why.
  static const std::variant<Nvrtc, std::string> loaded = []() -> std::variant<Nvrtc, std::string> {
    try {
      Nvrtc nvrtc = load(nvrtc_candidates(nvrtc_search_inputs()));
      log().debug("NVRTC loaded from {} ({})", nvrtc.path(), nvrtc.place());
      return nvrtc;
    } catch (const CudaError& error) {
      return std::string(error.what());
    }
  }();
  if (const std::string* failure = std::get_if<std::string>(&loaded)) throw CudaError(*failure);
  return std::get<Nvrtc>(loaded);
}

}  // namespace bitjit
