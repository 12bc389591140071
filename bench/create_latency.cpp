// How long Matmul::create takes cold (lower + emit + NVRTC + store) and warm (from the kernel
// database, in a process that has compiled nothing), for every config of a JSON list. Needs no GPU.
//
//   bench_create_latency CONFIGS.json [--arch sm_90a] [--repeats 20]
//
// Uses a fresh temporary database, so the cold numbers are real compiles.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/kernel_cache.hpp"
#include "runtime/matmul.hpp"

using namespace bitjit;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::vector<MatmulConfig> read_configs(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  const nlohmann::json json = nlohmann::json::parse(file);
  std::vector<MatmulConfig> configs;
  for (const nlohmann::json& entry : json.is_array() ? json : nlohmann::json::array({json})) {
    configs.push_back(config_from_json(entry));
  }
  return configs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONFIGS.json [--arch A] [--repeats N]\n", argv[0]);
    return 2;
  }
  std::string arch = "sm_90a";
  int repeats = 20;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--arch") arch = argv[i + 1];
    if (std::string(argv[i]) == "--repeats") repeats = std::stoi(argv[i + 1]);
  }
  std::string scratch = (std::filesystem::temp_directory_path() / "bitjit-bench-XXXXXX").string();
  if (!mkdtemp(scratch.data())) return 1;
  setenv("BITJIT_CACHE_DIR", scratch.c_str(), 1);

  const std::vector<MatmulConfig> configs = read_configs(argv[1]);
  std::printf("| config | cold create ms | warm create ms (median of %d) | compiles while warm |\n|---|---|---|---|\n", repeats);
  std::vector<double> colds, warms;
  for (const MatmulConfig& config : configs) {
    const Clock::time_point cold_start = Clock::now();
    Matmul::create(config, {arch});
    const double cold = ms_since(cold_start);
    const uint64_t compiles = nvrtc_compile_count();
    std::vector<double> warm;
    for (int r = 0; r < repeats; ++r) {
      forget_process_kernels();  // as a new process would: nothing compiled in memory
      const Clock::time_point start = Clock::now();
      Matmul::create(config, {arch});
      warm.push_back(ms_since(start));
    }
    colds.push_back(cold);
    warms.push_back(median(warm));
    std::printf("| %s %s N=%lld K=%lld | %.1f | %.3f | %llu |\n", std::string(to_string(config.W_dtype)).c_str(),
                std::string(to_string(config.A_dtype)).c_str(), (long long)config.N, (long long)config.K, cold,
                warms.back(), (unsigned long long)(nvrtc_compile_count() - compiles));
  }
  std::printf("\n%zu configs for %s: cold create median %.1f ms, warm create median %.3f ms (max %.3f ms)\n",
              configs.size(), arch.c_str(), median(colds), median(warms), *std::max_element(warms.begin(), warms.end()));
  std::filesystem::remove_all(scratch);
  return 0;
}
