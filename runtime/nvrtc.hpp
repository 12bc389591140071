#pragma once
// NVRTC: CUDA C source in, cubin (SASS for one arch) out. The device headers of templates/ are handed
// to NVRTC in memory, so no toolkit include path is needed at run time.
#include <cstdint>
#include <string>
#include <vector>

namespace bitjit {

// What NVRTC produces: SASS for the real arch (what bitjit loads), or only the PTX for its virtual
// arch, which skips the assembler, for checks that the source compiles.
enum class CompileOutput { cubin, ptx };

struct CompileRequest {
  std::string source;                    // a complete translation unit
  std::string name;                      // file name for logs and dumps, e.g. "bitjit_ab12cd34.cu"
  std::string arch;                      // a name of the arch table (compiler/arch.hpp); empty: the current device's
  std::vector<std::string> extra_flags;  // after default_compile_flags(arch)
  std::string context;                   // appended to every error (e.g. the canonical config and schedule)
  CompileOutput output = CompileOutput::cubin;
};

struct CompiledKernel {
  std::string arch;
  std::vector<char> cubin;         // an ELF image for cuModuleLoadData (empty for CompileOutput::ptx)
  std::string ptx;                 // the PTX (CompileOutput::ptx only)
  std::string log;                 // NVRTC's log (warnings), often empty
  std::vector<std::string> flags;  // every flag passed to NVRTC
  double compile_ms = 0.0;
};

// Compiles request.source. Safe to call from several threads at once.
// Throws CompileError when NVRTC rejects the source: the message holds the name, arch, flags,
// context, NVRTC's log, the numbered source lines around each error, and the path where the source
// and log were written (BITJIT_DUMP_DIR, else a fresh bitjit-failed-XXXXXX in the temp directory).
// With BITJIT_DUMP_DIR set, every compile writes <dir>/<name>, <name>.flags and <name>.log.
CompiledKernel compile_cuda(const CompileRequest& request);

// NVRTC's version, "13.0".
std::string nvrtc_version();
// The flags compile_cuda passes before a request's extra flags (part of every cache key).
std::vector<std::string> default_compile_flags(const std::string& arch);
// How many times this process has run NVRTC's compiler (failed compiles included).
uint64_t nvrtc_compile_count();

}  // namespace bitjit
