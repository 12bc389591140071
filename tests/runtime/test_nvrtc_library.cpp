// NVRTC is opened at run time (runtime/nvrtc_library.hpp): the places searched and their order, the
// error that lists them when none loads, and the nvidia-cuda-nvrtc wheel's layout next to bitjit.
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/error.hpp"
#include "runtime/nvrtc.hpp"
#include "runtime/nvrtc_library.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using bitjit::testing::contains;
using bitjit::testing::ScopedEnv;
using Lookup = NvrtcCandidate::Lookup;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> libraries(const std::vector<NvrtcCandidate>& candidates) {
  std::vector<std::string> names;
  for (const NvrtcCandidate& candidate : candidates) names.push_back(candidate.library);
  return names;
}

// The candidates at one place.
std::vector<NvrtcCandidate> at_place(const std::vector<NvrtcCandidate>& candidates, const std::string& place) {
  std::vector<NvrtcCandidate> found;
  std::copy_if(candidates.begin(), candidates.end(), std::back_inserter(found),
               [&](const NvrtcCandidate& candidate) { return candidate.place == place; });
  return found;
}

}  // namespace

TEST_CASE("NVRTC is looked for in a fixed order, the headers' major version first at each place", "[runtime][nvrtc]") {
  NvrtcSearchInputs inputs;
  inputs.explicit_library = "/opt/nvrtc/libnvrtc.so.13";
  inputs.cuda_home = "/opt/cuda";
  inputs.binary_directory = "/venv/lib/python3.12/site-packages/bitjit";
  inputs.preferred_major = 13;
  const std::vector<std::string> expected = {
      "/opt/nvrtc/libnvrtc.so.13",
      "libnvrtc.so.13",
      "libnvrtc.so.12",
      "/venv/lib/python3.12/site-packages/nvidia/cu13/lib/libnvrtc.so.13",
      "/venv/lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12",
      "/opt/cuda/lib64/libnvrtc.so.13",
      "/opt/cuda/lib/libnvrtc.so.13",
      "/opt/cuda/lib64/libnvrtc.so.12",
      "/opt/cuda/lib/libnvrtc.so.12",
      "libnvrtc.so.13",
      "libnvrtc.so.12",
      "/usr/local/cuda/lib64/libnvrtc.so.13",
      "/usr/local/cuda/lib/libnvrtc.so.13",
      "/usr/local/cuda/lib64/libnvrtc.so.12",
      "/usr/local/cuda/lib/libnvrtc.so.12",
  };
  const std::vector<NvrtcCandidate> candidates = nvrtc_candidates(inputs);
  CHECK(libraries(candidates) == expected);
  CHECK(candidates[0].place == "BITJIT_NVRTC_LIBRARY");
  CHECK(candidates[1].lookup == Lookup::already_loaded);
  CHECK(candidates[3].place == "the nvidia-cuda-nvrtc wheel next to bitjit");
  CHECK(candidates[9].lookup == Lookup::loader);
  CHECK(candidates.back().lookup == Lookup::path);

  // Python's `nvidia` package folders come after the one next to bitjit, which is not tried twice.
  inputs.python_nvidia_folders = {"/venv/lib/python3.12/site-packages/nvidia/", "/opt/torch/site-packages/nvidia"};
  const std::vector<NvrtcCandidate> with_python = nvrtc_candidates(inputs);
  REQUIRE(with_python.size() == candidates.size() + 2);
  CHECK(with_python[5].library == "/opt/torch/site-packages/nvidia/cu13/lib/libnvrtc.so.13");
  CHECK(with_python[6].library == "/opt/torch/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
  CHECK(with_python[5].place == "the nvidia-cuda-nvrtc wheel on Python's path");

  // A CUDA 12 build tries 12 first; without the optional inputs those places are left out.
  NvrtcSearchInputs bare;
  bare.preferred_major = 12;
  const std::vector<NvrtcCandidate> cuda12 = nvrtc_candidates(bare);
  CHECK(libraries(cuda12) == std::vector<std::string>{"libnvrtc.so.12", "libnvrtc.so.13", "libnvrtc.so.12",
                                                      "libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.12",
                                                      "/usr/local/cuda/lib/libnvrtc.so.12",
                                                      "/usr/local/cuda/lib64/libnvrtc.so.13",
                                                      "/usr/local/cuda/lib/libnvrtc.so.13"});
}

TEST_CASE("the search reads BITJIT_NVRTC_LIBRARY, CUDA_HOME else CUDA_PATH, and bitjit's own folder", "[runtime][nvrtc]") {
  const ScopedEnv library("BITJIT_NVRTC_LIBRARY", "/somewhere/libnvrtc.so.13");
  const ScopedEnv home("CUDA_HOME", std::nullopt);
  const ScopedEnv path("CUDA_PATH", "/opt/cuda-13");
  const NvrtcSearchInputs inputs = nvrtc_search_inputs();
  CHECK(inputs.explicit_library == "/somewhere/libnvrtc.so.13");
  CHECK(inputs.cuda_home == "/opt/cuda-13");
  CHECK(inputs.preferred_major >= 12);
  // Linked statically into this test program: its folder.
  CHECK(fs::equivalent(inputs.binary_directory, fs::canonical("/proc/self/exe").parent_path()));
  const ScopedEnv home_first("CUDA_HOME", "/opt/cuda-home");
  CHECK(nvrtc_search_inputs().cuda_home == "/opt/cuda-home");
}

TEST_CASE("when no NVRTC loads, the error lists every place searched and why each failed", "[runtime][nvrtc]") {
  const testing::TemporaryDirectory folder;
  // A real shared library without NVRTC's entry points: the C library this test runs with.
  Dl_info libc{};
  REQUIRE(dladdr(reinterpret_cast<void*>(&std::fopen), &libc) != 0);
  const std::vector<NvrtcCandidate> candidates = {
      {"relative/libnvrtc.so.13", Lookup::path, "BITJIT_NVRTC_LIBRARY"},
      {(folder.path() / "nvidia/cu13/lib/libnvrtc.so.13").string(), Lookup::path, "the nvidia-cuda-nvrtc wheel next to bitjit"},
      {"libnvrtc.so.77", Lookup::already_loaded, "the process"},
      {"libnvrtc.so.77", Lookup::loader, "the dynamic loader"},
      {fs::canonical(libc.dli_fname).string(), Lookup::path, "CUDA_HOME / CUDA_PATH"},
  };
  std::string message;
  try {
    Nvrtc::load(candidates);
  } catch (const CudaError& error) {
    message = error.what();
  }
  INFO(message);
  CHECK(contains(message, "no NVRTC library could be loaded"));
  CHECK(contains(message, "1. BITJIT_NVRTC_LIBRARY: relative/libnvrtc.so.13: not an absolute path"));
  CHECK(contains(message, "2. the nvidia-cuda-nvrtc wheel next to bitjit: " + candidates[1].library + ": no such file"));
  CHECK(contains(message, "3. the process: libnvrtc.so.77 already in the process: not loaded"));
  CHECK(contains(message, "4. the dynamic loader: libnvrtc.so.77 through the dynamic loader: libnvrtc.so.77"));
  CHECK(contains(message, "5. CUDA_HOME / CUDA_PATH: " + candidates[4].library + ": lacks nvrtcVersion, nvrtcGetErrorString"));
  CHECK(contains(message, "nvidia-cuda-nvrtc wheel into bitjit's Python environment"));
  CHECK(contains(message, "BITJIT_NVRTC_LIBRARY"));
}

TEST_CASE("NVRTC is found in the nvidia-cuda-nvrtc wheel's folder next to bitjit's", "[runtime][nvrtc]") {
  // The NVRTC this process uses (the toolkit's here), laid out as the CUDA 13 wheel installs it in
  // site-packages, next to a bitjit package folder.
  const std::string real = Nvrtc::get().path();
  REQUIRE(fs::is_regular_file(real));
  const testing::TemporaryDirectory site;
  const int major = std::stoi(nvrtc_version());
  const fs::path wheel_folder =
      site.path() / (major >= 13 ? "nvidia/cu" + std::to_string(major) + "/lib" : std::string("nvidia/cuda_nvrtc/lib"));
  fs::create_directories(wheel_folder);
  fs::create_directories(site.path() / "bitjit");
  fs::create_symlink(real, wheel_folder / ("libnvrtc.so." + std::to_string(major)));

  NvrtcSearchInputs inputs;
  inputs.binary_directory = (site.path() / "bitjit").string();
  inputs.preferred_major = major;
  const std::vector<NvrtcCandidate> wheel = at_place(nvrtc_candidates(inputs), "the nvidia-cuda-nvrtc wheel next to bitjit");
  REQUIRE(wheel.size() == 2);
  const Nvrtc loaded = Nvrtc::load(wheel);
  CHECK(loaded.place() == "the nvidia-cuda-nvrtc wheel next to bitjit");
  int got_major = 0, got_minor = 0;
  REQUIRE(loaded.nvrtcVersion(&got_major, &got_minor) == NVRTC_SUCCESS);
  CHECK(got_major == major);
}

TEST_CASE("the process's NVRTC is loaded once, from a named place, with every entry point", "[runtime][nvrtc]") {
  const Nvrtc& nvrtc = Nvrtc::get();
  CHECK(&nvrtc == &Nvrtc::get());
  CHECK(fs::path(nvrtc.path()).is_absolute());
  CHECK(contains(fs::path(nvrtc.path()).filename().string(), "libnvrtc"));
  CHECK_FALSE(nvrtc.place().empty());
#define BITJIT_CHECK_RESOLVED(name) CHECK(nvrtc.name != nullptr);
  BITJIT_NVRTC_FUNCTIONS(BITJIT_CHECK_RESOLVED)
#undef BITJIT_CHECK_RESOLVED
}
