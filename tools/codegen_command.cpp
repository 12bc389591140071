// `bitjit codegen`: a config file in, the generated CUDA C out, optionally compiled with NVRTC.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
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
    "  --schedule S.json   a TileSchedule to use instead of the default one\n"
    "  --arch A            sm_80, sm_86, sm_89 or sm_90a (default: the GPU of this machine)\n"
    "  -o, --output OUT    where to write the source\n"
    "  --compile           also compile it with NVRTC and report the cubin size and compile time\n";

namespace {

std::string arch_or_current_gpu(const Arguments& arguments) {
  if (auto arch = arguments.option("--arch")) return *arch;
  if (!Driver::get().available()) {
    throw UsageError{"--arch is required on a machine without a GPU (" + Driver::get().unavailable_reason() + ")"};
  }
  ensure_context();
  return current_device_info().arch();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
  if (!file.flush()) throw Error("cannot write " + path);
}

}  // namespace

int codegen_command(const std::vector<std::string>& args) {
  Arguments arguments(args, {"--compile"}, {"--config", "--schedule", "--arch", "-o", "--output"});
  if (!arguments.positional().empty()) throw UsageError{"unexpected argument " + arguments.positional()[0]};
  const MatmulConfig config = read_single_config(arguments.required("--config"));
  const std::string arch = arch_or_current_gpu(arguments);
  check_arch_for_cli(arch);
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
    std::fprintf(stderr, "compiled %s for %s: cubin %zu bytes in %.0f ms\n", kernel.file_name.c_str(), arch.c_str(),
                 kernel.binary->cubin.size(), kernel.binary->compile_ms);
  }
  return kExitOk;
}

}  // namespace bitjit::cli
