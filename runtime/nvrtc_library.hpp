#pragma once
// NVRTC, opened at first use like the driver (runtime/driver.hpp): bitjit links no CUDA library, so
// one build, and one Python wheel, generates and compiles kernels wherever an NVRTC library can be
// found: the CUDA toolkit, or the nvidia-cuda-nvrtc wheel that PyTorch installs.
#include <nvrtc.h>

#include <string>
#include <vector>

namespace bitjit {

// Every NVRTC entry point bitjit calls (runtime/nvrtc.cpp).
#define BITJIT_NVRTC_FUNCTIONS(X) \
  X(nvrtcVersion)                 \
  X(nvrtcGetErrorString)          \
  X(nvrtcCreateProgram)           \
  X(nvrtcDestroyProgram)          \
  X(nvrtcCompileProgram)          \
  X(nvrtcGetProgramLogSize)       \
  X(nvrtcGetProgramLog)           \
  X(nvrtcGetCUBINSize)            \
  X(nvrtcGetCUBIN)                \
  X(nvrtcGetPTXSize)              \
  X(nvrtcGetPTX)

// One place NVRTC may be.
struct NvrtcCandidate {
  enum class Lookup {
    path,          // `library` is an absolute path
    loader,        // `library` is a file name the dynamic loader searches for
    already_loaded // `library` is a file name; only a copy already in the process counts
  };
  std::string library;
  Lookup lookup = Lookup::path;
  std::string place;  // the place in words, for the error that lists every place searched
};

// What the search depends on: nvrtc_search_inputs() for this process, or set by hand in tests.
struct NvrtcSearchInputs {
  std::string explicit_library;  // BITJIT_NVRTC_LIBRARY, or empty
  std::string cuda_home;         // CUDA_HOME, else CUDA_PATH, or empty
  std::string binary_directory;  // the folder of the file holding bitjit's code, or empty
  int preferred_major = 0;       // the CUDA major version of the headers bitjit was built with
  std::vector<std::string> python_nvidia_folders;  // set_python_nvidia_folders()
};

// The `nvidia` package folders of the Python bitjit runs in (one per sys.path entry that has one),
// where PyTorch's nvidia-* wheels may be when bitjit is installed elsewhere (a --target folder, a
// venv over the system's packages). The extension module sets them at import; before NVRTC's first use.
void set_python_nvidia_folders(std::vector<std::string> folders);

// The environment of this process, and the folder bitjit's code was loaded from.
NvrtcSearchInputs nvrtc_search_inputs();

// The places NVRTC is looked for, in order:
//  1. BITJIT_NVRTC_LIBRARY (an absolute path), when set;
//  2. a libnvrtc already loaded into the process (by PyTorch, say), so that both use one copy;
//  3. the nvidia-cuda-nvrtc wheel: in the folder next to bitjit's own (site-packages/nvidia/cu13/lib
//     for CUDA 13, site-packages/nvidia/cuda_nvrtc/lib for 12), then in each of the Python's
//     `nvidia` package folders (set_python_nvidia_folders);
//  4. $CUDA_HOME (else $CUDA_PATH): lib64/ and lib/;
//  5. the dynamic loader's search: LD_LIBRARY_PATH, the ldconfig cache, the system folders;
//  6. /usr/local/cuda: lib64/ and lib/.
// Each place is tried for the headers' major version first, then for the other supported one (12,
// 13: the entry points bitjit calls are the same in both).
std::vector<NvrtcCandidate> nvrtc_candidates(const NvrtcSearchInputs& inputs);

class Nvrtc {
 public:
  // The process's NVRTC, from nvrtc_candidates(nvrtc_search_inputs()), loaded at first use
  // (thread-safe). Throws CudaError when none loads, at that and every later call: the message
  // lists every place searched and why each failed.
  static const Nvrtc& get();
  // The first candidate that loads with every entry point. Throws CudaError listing each candidate
  // and its failure when none does.
  static Nvrtc load(const std::vector<NvrtcCandidate>& candidates);

  // The file loaded, and the place it was found in words.
  const std::string& path() const { return path_; }
  const std::string& place() const { return place_; }

#define BITJIT_DECLARE_NVRTC_FUNCTION(name) decltype(&::name) name = nullptr;
  BITJIT_NVRTC_FUNCTIONS(BITJIT_DECLARE_NVRTC_FUNCTION)
#undef BITJIT_DECLARE_NVRTC_FUNCTION

 private:
  Nvrtc() = default;
  std::string path_, place_;
};

}  // namespace bitjit
