// bitjit: the command-line tool. `bitjit --help` lists the subcommands.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "tools/cli.hpp"

namespace {

using namespace bitjit::cli;

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
  const char* const* help;
};

const Subcommand kSubcommands[] = {
    {"formats", "list the numeric formats and their value sets", formats_command, &kFormatsHelp},
    {"codegen", "generate (and optionally compile) the CUDA C for one config", codegen_command, &kCodegenHelp},
    {"prewarm", "compile a list of configs into the kernel database (no GPU needed)", prewarm_command, &kPrewarmHelp},
    {"tune", "time the best tile schedules of a list of configs on this GPU and keep the fastest", tune_command,
     &kTuneHelp},
    {"db", "list, show, verify, gc, export or import the kernel database", db_command, &kDbHelp},
    {"bench", "time the benchmark suite against cuBLAS fp16 on this GPU (JSON, markdown, plot)", bench_command,
     &kBenchHelp},
};

void print_usage(FILE* stream) {
  std::fprintf(stream, "usage: bitjit <command> [options]   (bitjit <command> --help for its options)\n\ncommands:\n");
  for (const auto& sub : kSubcommands) std::fprintf(stream, "  %-10s %s\n", sub.name, sub.summary);
  std::fprintf(stream, "\nexit codes: 0 success, 1 failure while working, 2 usage error or invalid input\n");
}

// What a command printed must have reached its destination: `bitjit codegen > /dev/full` or a
// closed pipe is a failure (exit 1), never a success with the output lost.
int finish_output(const char* command, int exit_code) {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "bitjit %s: cannot write the output to standard output: %s\n", command, std::strerror(errno));
    return kExitFailure;
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  bitjit::log();  // reads BITJIT_LOG_LEVEL now, so a bad value is reported even by commands that never log
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("bitjit %s\n", BITJIT_VERSION);
    return kExitOk;
  }
  for (const auto& sub : kSubcommands) {
    if (std::strcmp(argv[1], sub.name) != 0) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    for (const auto& arg : args) {
      if (arg == "--help" || arg == "-h") {
        std::fputs(*sub.help, stdout);
        return kExitOk;
      }
    }
    try {
      return finish_output(sub.name, sub.run(args));
    } catch (const UsageError& error) {
      std::fprintf(stderr, "bitjit %s: %s\n\n%s", sub.name, error.message.c_str(), *sub.help);
      return kExitUsage;
    } catch (const bitjit::ConfigError& error) {
      std::fprintf(stderr, "bitjit %s: %s\n", sub.name, error.what());
      return kExitUsage;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "bitjit %s: %s\n", sub.name, error.what());
      return kExitFailure;
    }
  }
  std::fprintf(stderr, "bitjit: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return kExitUsage;
}
