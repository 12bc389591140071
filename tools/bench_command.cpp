// bitjit bench: the benchmark suite against cuBLAS fp16 in one command. The timing program links
// cuBLAS, which the library and this tool never do, so the command runs it (bench/bench_matmul of
// the same build) and then draws the plot with bench/plot.py.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "tools/cli.hpp"

namespace bitjit::cli {
namespace {

std::filesystem::path this_program() {
  std::error_code error;
  const std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::filesystem::path() : path;
}

// BITJIT_BENCH_DIR, else the bench/ folder of the build tree this bitjit was built in.
std::filesystem::path bench_directory() {
  if (const char* dir = std::getenv("BITJIT_BENCH_DIR"); dir && *dir) return dir;
  return this_program().parent_path() / "bench";
}

// Runs argv, inheriting stdout and stderr; returns its exit status (127: could not start it).
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  for (const std::string& arg : argv) pointers.push_back(const_cast<char*>(arg.c_str()));
  pointers.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed while starting " + argv[0]);
  if (child == 0) {
    execvp(pointers[0], pointers.data());
    std::fprintf(stderr, "bitjit bench: could not start %s\n", argv[0].c_str());
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) < 0) throw std::runtime_error("waitpid failed for " + argv[0]);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  std::string out = "bench-out";
  std::vector<std::string> forwarded;
  for (size_t i = 0; i < args.size(); ++i) {
    static const char* kOptions[] = {"--formats", "--shapes", "--M", "--out", "--schedule", "--clocks", "--dynamic", "--timing"};
    if (std::find(std::begin(kOptions), std::end(kOptions), args[i]) == std::end(kOptions)) {
      throw UsageError{"unknown option " + args[i] + "; options: --formats --shapes --M --out --schedule --clocks --dynamic --timing"};
    }
    if (i + 1 == args.size()) throw UsageError{args[i] + " needs a value"};
    if (args[i] == "--out") out = args[i + 1];
    forwarded.push_back(args[i]);
    forwarded.push_back(args[++i]);
  }
  const std::filesystem::path dir = bench_directory();
  const std::filesystem::path program = dir / "bench_matmul";
  if (!std::filesystem::exists(program)) {
    throw std::runtime_error("the benchmark program " + program.string() +
                         " does not exist: build the bench_matmul target (it needs cuBLAS), or point "
                         "BITJIT_BENCH_DIR at the folder that holds it");
  }
  std::vector<std::string> command = {program.string()};
  command.insert(command.end(), forwarded.begin(), forwarded.end());
  if (const int status = run_program(command); status != 0) {
    throw std::runtime_error(program.string() + " exited with status " + std::to_string(status));
  }
  const std::filesystem::path results = std::filesystem::path(out) / "results.json";
  const std::filesystem::path plot = std::filesystem::path(out) / "speedup.png";
  if (run_program({"python3", (dir / "plot.py").string(), results.string(), plot.string()}) != 0) {
    throw std::runtime_error("results are in " + results.string() + " and results.md, but the plot was not drawn: " +
                         "bench/plot.py needs python3 with matplotlib (see its message above)");
  }
  std::printf("bitjit bench: %s, %s/results.md and %s\n", results.c_str(), out.c_str(), plot.c_str());
  return kExitOk;
}

const char* const kBenchHelp =
    "usage: bitjit bench [--formats a,b,...] [--shapes all|8b|70b|NAME,...] [--M 1,16,...] [--out DIR]\n"
    "                    [--schedule JSON] [--clocks yes] [--dynamic yes|both] [--timing graph]\n"
    "\n"
    "Runs the benchmark suite of docs/performance.md on this machine's GPU: each weight format, shape\n"
    "and M timed against cuBLAS fp16 (bf16 for the _bf16 formats) in the same run (CUDA events,\n"
    "warm-up, medians, weights rotated past the L2), with a device-to-device copy of the same bytes\n"
    "as the floor for that size; then\n"
    "writes DIR/results.json, DIR/results.md and the plot DIR/speedup.png.\n"
    "  --formats LIST   uint4_g128_zeros uint4_g128_qzeros int4_g128 int8_channel int2_g128 int1_g128\n"
    "                   nf4_g128 fp4_g128, each also with bf16 activations and output (int4_g128_bf16),\n"
    "                   and with int8 activations a8_int4_g128 a8_int8_int32, and w8a8_fp8\n"
    "                   (default: uint4_g128_zeros,int4_g128)\n"
    "  --shapes SET     all (default), 8b or 70b: the Llama-3 layers of the suite; or names such as\n"
    "                   70B_o,8B_qkv\n"
    "  --M LIST         rows of A (default: 1,16)\n"
    "  --out DIR        where the results go (default: bench-out)\n"
    "  --schedule JSON  a JSON merge patch on each default schedule: the fields given replace the\n"
    "                   default's, e.g. '{\"pipeline\":{\"split_k\":2}}' (docs/tuning.md: the fields)\n"
    "  --clocks yes     also sample the SM clock and board power (NVML) while each is timed\n"
    "  --dynamic yes    one Matmul per format and shape whose M is the --M list as buckets (dynamic M),\n"
    "                   each M run on its bucket's kernel; uses tuned database entries like any Matmul;\n"
    "                   both: that and a Matmul per M, timed in turn (rows marked dynamic_m)\n"
    "  --timing MODE    eager (default): each batch of launches issued from the host, the host's work\n"
    "                   per launch included where it is the longer; graph: each batch captured once\n"
    "                   into a CUDA graph and replayed, the kernels' own time (bitjit, cuBLAS and the\n"
    "                   copy alike)\n"
    "The timing program is bench/bench_matmul of the same build (it links cuBLAS; the library does\n"
    "not); BITJIT_BENCH_DIR names another folder holding bench_matmul and plot.py. The plot needs\n"
    "python3 with matplotlib.\n";

}  // namespace bitjit::cli
