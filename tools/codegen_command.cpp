// `bitjit codegen`: a config file in, the generated CUDA C out, optionally compiled with NVRTC.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/kernel_cache.hpp"
#include "tools/cli.hpp"
#include "tools/config_files.hpp"

namespace bitjit::cli {

const char* const kCodegenHelp =
    "usage: bitjit codegen --config F.json [--schedule S.json] [--arch A] [-o OUT.cu] [--compile]\n"
    "\n"
    "Writes the CUDA C that bitjit generates for one MatmulConfig (a JSON object with BitBLAS's field\n"
    "names) to OUT.cu, or to standard output.\n"
    "  --config F.json     the config\n"
    "  --schedule S.json   a TileSchedule (its JSON: docs/tuning.md) to use instead of the default one\n"
    "  --arch A            the target, e.g. sm_80 or sm_90a (docs/architecture.md lists them; default: this GPU's)\n"
    "  -o, --output OUT    where to write the source\n"
    "  --compile           also compile it (or find it in the kernel database) and report the cubin\n"
    "                      size and compile time\n"
    "  --cache-dir DIR     the kernel database to use (default: BITJIT_CACHE_DIR, else ~/.cache/bitjit)\n";

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  if (!file) throw Error("cannot open " + path + " for writing: " + std::strerror(errno));
  file << text;
  file.close();  // the data reaches the file system only here: a full disk fails now, not before
  if (!file) throw Error("cannot write " + path + ": " + std::strerror(errno));
}

}  // namespace

int codegen_command(const std::vector<std::string>& args) {
  Arguments arguments(args, {"--compile"}, {"--config", "--schedule", "--arch", "-o", "--output", "--cache-dir"});
  if (!arguments.positional().empty()) throw UsageError{"unexpected argument " + arguments.positional()[0]};
  const MatmulConfig config = read_single_config(arguments.required("--config"));
  use_cache_dir(arguments.option("--cache-dir"));
  const std::string arch = arches_or_current_gpu(arguments.all("--arch")).front();
  const TileSchedule schedule = arguments.option("--schedule") ? read_schedule(*arguments.option("--schedule"))
                                                               : default_schedule(config, arch);
  auto output = arguments.option("-o");
  if (!output) output = arguments.option("--output");

  const GeneratedKernel kernel = arguments.flag("--compile") ? generate_kernel(config, schedule, arch)
                                                             : emit_kernel(config, schedule, arch);
  if (output) {
    write_file(*output, kernel.source);
    std::fprintf(stderr, "wrote %s (%s, %s)\n", output->c_str(), kernel.file_name.c_str(), arch.c_str());
  } else {
    std::fputs(kernel.source.c_str(), stdout);
  }
  if (kernel.binary) {
    const char* how = kernel.origin == KernelSource::compiled ? "compiled" : "found in the kernel database";
    std::fprintf(stderr, "%s %s for %s: cubin %zu bytes (compile took %.0f ms)\n", how, kernel.file_name.c_str(),
                 arch.c_str(), kernel.binary->cubin.size(), kernel.binary->compile_ms);
  }
  return kExitOk;
}

}  // namespace bitjit::cli
