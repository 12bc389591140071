// The benchmark suite of the design card: bitjit against cuBLAS fp16 in the same run, per weight
// format, shape and M. Writes results.json and results.md to --out.
//
//   bench_matmul [--formats a,b,...] [--shapes all|8b|70b|70B_o,...] [--M 1,16,64] [--out DIR]
//                [--schedule '{"threads":256}']
//
// --shapes takes "all", "8b", "70b" or suite names with '_' for the space; --schedule overrides
// fields of each config's default schedule (to compare schedules before tuning picks them).
//
// Method: random data; weights (and cuBLAS's fp16 weights) rotated through enough copies that one
// pass exceeds twice the 50 MB L2; CUDA events around batches of launches after a warm-up; median.
#include <cublas_v2.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/version.hpp"
#include "quant/random.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/matmul.hpp"
#include "runtime/timing.hpp"

using namespace bitjit;

namespace {

struct Shape {
  std::string name;
  int64_t N, K;
};

const std::vector<Shape> kSuite = {
    {"8B qkv", 6144, 4096},      {"8B o", 4096, 4096},        {"8B gate_up", 28672, 4096}, {"8B down", 4096, 14336},
    {"70B qkv", 10240, 8192},    {"70B o", 8192, 8192},       {"70B gate_up", 57344, 8192}, {"70B down", 8192, 28672}};

// Named formats of the suite: fp16 activations (a8_: int8), fp32 accumulation, fp16 output unless named.
MatmulConfig format_config(const std::string& name) {
  MatmulConfig config;
  config.A_dtype = DType::float16;
  config.accum_dtype = DType::float32;
  config.out_dtype = DType::float16;
  auto grouped = [&](DType w, bool zeros) {
    config.W_dtype = w;
    config.with_scaling = true;
    config.group_size = 128;
    if (zeros) {
      config.with_zeros = true;
      config.zeros_mode = ZerosMode::original;
    }
  };
  if (name == "uint4_g128_zeros") grouped(DType::uint4, true);
  else if (name == "int4_g128") grouped(DType::int4, false);
  else if (name == "int8_channel") {
    config.W_dtype = DType::int8;
    config.with_scaling = true;
  }
  else if (name == "int2_g128") grouped(DType::int2, false);
  else if (name == "a8_int4_g128") {  // int8 activations, int4 weights with fp16 scales
    grouped(DType::int4, false);
    config.A_dtype = DType::int8;
  } else if (name == "a8_int8_int32") {  // int8 x int8, exact int32 sums and output
    config.A_dtype = DType::int8;
    config.W_dtype = DType::int8;
    config.accum_dtype = DType::int32;
    config.out_dtype = DType::int32;
  }
  else if (name == "int1_g128") grouped(DType::int1, false);
  else if (name == "nf4_g128") grouped(DType::nf4, false);
  else if (name == "fp4_g128") grouped(DType::fp4_e2m1, false);
  else throw std::runtime_error("unknown format " + name +
                                "; known: uint4_g128_zeros int4_g128 int8_channel int2_g128 int1_g128 nf4_g128 fp4_g128 "
                                "a8_int4_g128 a8_int8_int32");
  return config;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) parts.push_back(part);
  return parts;
}

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + " failed with cuBLAS status " + std::to_string(int(status)));
  }
}

DeviceBuffer random_buffer(size_t bytes, std::mt19937_64& rng, uint8_t mask) {
  std::vector<uint8_t> host(bytes);
  for (auto& byte : host) byte = uint8_t(rng()) & mask;
  DeviceBuffer buffer(std::max<size_t>(bytes, 1));
  if (bytes) buffer.upload(host.data(), bytes);
  return buffer;
}

// Device-to-device copy bandwidth (read + write bytes per second) of a 1 GiB buffer.
double copy_bandwidth_gbps(CUstream stream) {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer from(bytes), to(bytes);
  const double ms = median_launch_ms(stream, [&](int) {
    check_cuda(Driver::get().cuMemcpyDtoDAsync(CUdeviceptr(to.data()), CUdeviceptr(from.data()), bytes, stream), "cuMemcpyDtoDAsync");
  }, {3, 5, 9});
  return 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
}

// A device-to-device copy that moves `bytes` in all (half read, half written), rotated past the L2
// like the weights: what streaming this many bytes costs at this size on this GPU, launch and ramp
// included. Small shapes cannot reach the 1 GiB copy's bandwidth; this is their floor.
double same_bytes_copy_ms(int64_t bytes, CUstream stream) {
  const size_t half = size_t(std::max<int64_t>(bytes / 2, 16));
  const int copies = copies_past_l2(bytes, current_device_info().l2_bytes);
  std::vector<DeviceBuffer> from, to;
  for (int i = 0; i < copies; ++i) {
    from.emplace_back(half);
    to.emplace_back(half);
  }
  return median_launch_ms(stream, [&](int i) {
    check_cuda(Driver::get().cuMemcpyDtoDAsync(CUdeviceptr(to[i % copies].data()), CUdeviceptr(from[i % copies].data()),
                                               half, stream),
               "cuMemcpyDtoDAsync");
  });
}

// cuBLAS fp16 (fp32 accumulation) C[M,N] = A[M,K] · W[N,K]ᵀ, weights rotated like bitjit's.
double cublas_ms(cublasHandle_t handle, CUstream stream, int64_t M, int64_t N, int64_t K, std::mt19937_64& rng) {
  const int copies = copies_past_l2(N * K * 2, current_device_info().l2_bytes);
  std::vector<DeviceBuffer> weights;
  // 0x3B3B..: small finite fp16 values; the values do not change cuBLAS's speed.
  for (int i = 0; i < copies; ++i) weights.push_back(random_buffer(size_t(N * K * 2), rng, 0x3B));
  DeviceBuffer a = random_buffer(size_t(M * K * 2), rng, 0x3B), c(size_t(M * N * 2));
  const float alpha = 1.0f, beta = 0.0f;
  check_cublas(cublasSetStream(handle, stream), "cublasSetStream");
  return median_launch_ms(stream, [&](int i) {
    check_cublas(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &alpha,
                              weights[i % copies].data(), CUDA_R_16F, int(K),
                              a.data(), CUDA_R_16F, int(K), &beta,
                              c.data(), CUDA_R_16F, int(N), CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  });
}

int64_t bytes_moved(const MatmulConfig& config, int64_t M) {
  const OperandSpecs specs = operand_specs(config, M);
  return specs.W.bytes() + specs.scales.bytes() + specs.zeros.bytes() + specs.A.bytes() + specs.C.bytes() +
         specs.bias.bytes();
}

// "all", "8b", "70b", or suite names with '_' for the space ("70B_o,8B_qkv").
std::vector<Shape> selected_shapes(const std::string& selection) {
  std::vector<Shape> shapes;
  for (const std::string& token : split(selection)) {
    const size_t before = shapes.size();
    for (const Shape& shape : kSuite) {
      std::string underscored = shape.name;
      std::replace(underscored.begin(), underscored.end(), ' ', '_');
      const bool size_prefix = (token == "8b" || token == "70b") &&
                               shape.name.rfind(token == "8b" ? "8B " : "70B ", 0) == 0;
      if (token == "all" || size_prefix || token == underscored) shapes.push_back(shape);
    }
    if (shapes.size() == before) {
      throw std::runtime_error("--shapes: unknown shape " + token + "; allowed: all, 8b, 70b, 8B_qkv, 8B_o, 8B_gate_up, "
                               "8B_down, 70B_qkv, 70B_o, 70B_gate_up, 70B_down");
    }
  }
  return shapes;
}

// The default schedule with the fields of --schedule replaced, or no override when it is empty.
MatmulOptions bench_options(const MatmulConfig& config, const std::string& overrides) {
  MatmulOptions options;
  if (overrides.empty()) return options;
  nlohmann::json schedule = to_json(default_schedule(config, current_device_info().arch()));
  schedule.update(nlohmann::json::parse(overrides));
  options.schedule = schedule_from_json(schedule);
  return options;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", std::gmtime(&now));
  return text;
}

}  // namespace

int run(int argc, char** argv) {
  std::map<std::string, std::string> options = {{"--formats", "uint4_g128_zeros,int4_g128"},
                                                {"--shapes", "all"},
                                                {"--M", "1,16"},
                                                {"--out", "bench-out"},
                                                {"--schedule", ""}};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!options.count(argv[i])) {
      std::fprintf(stderr, "unknown option %s; options: --formats --shapes --M --out --schedule\n", argv[i]);
      return 2;
    }
    options[argv[i]] = argv[i + 1];
  }
  std::vector<int64_t> Ms;
  for (const std::string& m : split(options["--M"])) Ms.push_back(std::stoll(m));
  const std::vector<Shape> shapes = selected_shapes(options["--shapes"]);

  ensure_context();
  const DeviceInfo& device = current_device_info();
  Stream stream;
  cublasHandle_t handle;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  std::mt19937_64 rng(std::random_device{}());
  const double copy_gbps = copy_bandwidth_gbps(stream.get());
  std::printf("%s (%s), %d SMs; copy bandwidth %.0f GB/s\n", device.name.c_str(), device.arch().c_str(), device.sm_count, copy_gbps);

  nlohmann::json results = {{"device", device.name}, {"arch", device.arch()}, {"date", today()},
                             {"bitjit", version()}, {"copy_bandwidth_gbps", copy_gbps}, {"rows", nlohmann::json::array()}};
  std::map<std::pair<std::string, int64_t>, double> cublas_cache;  // per (shape, M): measured once per run
  std::ostringstream table;
  table << "| format | shape | M | bitjit µs | cuBLAS fp16 µs | speedup | GB/s | % of copy BW | same-bytes copy µs | "
           "% of same-bytes copy | schedule |\n"
        << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& format : split(options["--formats"])) {
    for (const Shape& shape : shapes) {
      for (int64_t M : Ms) {
        // One kernel per M (static M); dispatching a list of M buckets is the tuning issue's job.
        MatmulConfig config = format_config(format);
        config.M = M;
        config.N = shape.N;
        config.K = shape.K;
        const Matmul matmul = Matmul::create(config, bench_options(config, options["--schedule"]));
        auto& cublas = cublas_cache[{shape.name, M}];
        if (cublas == 0.0) cublas = cublas_ms(handle, stream.get(), M, shape.N, shape.K, rng);
        const double ms = matmul.profile_latency(M, 10, 15);
        const int64_t bytes = bytes_moved(config, M);
        const double gbps = double(bytes) / (ms * 1e-3) / 1e9;
        const double copy_ms = same_bytes_copy_ms(bytes, stream.get());
        char row[640];
        std::snprintf(row, sizeof row, "| %s | %s | %lld | %.1f | %.1f | %.2fx | %.0f | %.0f%% | %.1f | %.0f%% | %s |\n",
                      format.c_str(), shape.name.c_str(), (long long)M, ms * 1e3, cublas * 1e3, cublas / ms, gbps,
                      100.0 * gbps / copy_gbps, copy_ms * 1e3, 100.0 * copy_ms / ms,
                      canonical_form(matmul.schedule()).c_str());
        table << row;
        std::fputs(row, stdout);
        std::fflush(stdout);
        results["rows"].push_back({{"format", format}, {"shape", shape.name}, {"N", shape.N}, {"K", shape.K}, {"M", M},
                                   {"bitjit_us", ms * 1e3}, {"cublas_us", cublas * 1e3}, {"speedup", cublas / ms},
                                   {"gbps", gbps}, {"copy_fraction", gbps / copy_gbps},
                                   {"same_bytes_copy_us", copy_ms * 1e3}, {"same_bytes_copy_fraction", copy_ms / ms},
                                   {"schedule", nlohmann::json::parse(canonical_form(matmul.schedule()))}});
      }
    }
  }
  cublasDestroy(handle);
  std::filesystem::create_directories(options["--out"]);
  std::ofstream(options["--out"] + "/results.json") << results.dump(1) << "\n";
  std::ofstream(options["--out"] + "/results.md")
      << "# bitjit vs cuBLAS fp16 on " << device.name << ", " << today() << "\n\nCopy bandwidth " << int(copy_gbps)
      << " GB/s (read + write). Times are medians per launch.\n\n" << table.str();
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_matmul: %s\n", error.what());
    return 1;
  }
}
