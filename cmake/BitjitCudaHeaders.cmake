# The CUDA headers bitjit is compiled against: cuda.h (the driver API's types) and nvrtc.h. Both
# libraries are opened at run time (runtime/driver.cpp, runtime/nvrtc_library.cpp), so nothing is
# linked. Defines the interface target bitjit_cuda_headers.
#
# From the CUDA toolkit when CMake finds one (CUDAToolkit_ROOT, CUDA_PATH, nvcc on PATH,
# /usr/local/cuda); else from the nvidia-cuda-runtime (cuda.h) and nvidia-cuda-nvrtc (nvrtc.h) wheels
# of the Python that builds the package, as on a machine that has PyTorch but no toolkit.
find_package(CUDAToolkit QUIET)
add_library(bitjit_cuda_headers INTERFACE)
if(CUDAToolkit_FOUND)
  target_link_libraries(bitjit_cuda_headers INTERFACE CUDA::toolkit)
  set(BITJIT_CUDA_INCLUDE_DIRS "${CUDAToolkit_INCLUDE_DIRS}")
  set(BITJIT_CUDA_HEADERS_FROM "the CUDA toolkit in ${CUDAToolkit_LIBRARY_ROOT}")
  return()
endif()

find_package(Python 3.9 COMPONENTS Interpreter)
set(wheel_folders "")
if(Python_Interpreter_FOUND)
  # Every include/ folder of the `nvidia` namespace package: nvidia/cu13/include for CUDA 13's
  # wheels, nvidia/cuda_runtime/include and nvidia/cuda_nvrtc/include for CUDA 12's.
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util, pathlib\nspec = importlib.util.find_spec('nvidia')\nfor root in (spec.submodule_search_locations if spec else []):\n    for include in sorted(pathlib.Path(root).glob('*/include')):\n        print(include)"
    OUTPUT_VARIABLE wheel_folders OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  string(REPLACE "\n" ";" wheel_folders "${wheel_folders}")
endif()
find_path(BITJIT_CUDA_H cuda.h PATHS ${wheel_folders} NO_DEFAULT_PATH)
find_path(BITJIT_NVRTC_H nvrtc.h PATHS ${wheel_folders} NO_DEFAULT_PATH)
if(NOT BITJIT_CUDA_H OR NOT BITJIT_NVRTC_H)
  message(FATAL_ERROR
    "bitjit needs cuda.h and nvrtc.h to build (no CUDA library is linked). Searched: the CUDA toolkit "
    "(not found: set CUDAToolkit_ROOT or CUDA_PATH, or put nvcc on PATH), then the include folders of "
    "the Python package `nvidia` of ${Python_EXECUTABLE}: [${wheel_folders}] (cuda.h: ${BITJIT_CUDA_H}, "
    "nvrtc.h: ${BITJIT_NVRTC_H}). Install the toolkit, or `pip install nvidia-cuda-runtime nvidia-cuda-nvrtc` "
    "and build with that Python (pip install --no-build-isolation .).")
endif()
set(BITJIT_CUDA_INCLUDE_DIRS "${BITJIT_CUDA_H};${BITJIT_NVRTC_H}")
list(REMOVE_DUPLICATES BITJIT_CUDA_INCLUDE_DIRS)
target_include_directories(bitjit_cuda_headers SYSTEM INTERFACE ${BITJIT_CUDA_INCLUDE_DIRS})
set(BITJIT_CUDA_HEADERS_FROM "Python wheels (${BITJIT_CUDA_INCLUDE_DIRS})")
