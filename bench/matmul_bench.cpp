// The benchmark suite of the design card: bitjit against cuBLAS fp16 in the same run, per weight
// format, shape and M; the W8A8 formats also against cuBLASLt on the same 8-bit types (int8: what
// cuBLASLt's int8 GEMM gives; fp8: what torch._scaled_mm runs). Writes results.json and results.md.
//
//   bench_matmul [--formats a,b,...] [--shapes all|8b|70b|70B_o,...] [--M 1,16,64] [--out DIR]
//                [--schedule '{"pipeline":{"split_k":2}}'] [--clocks yes] [--timing eager|graph]
//                [--dynamic yes|no|both]
//
// --shapes takes "all", "8b", "70b" or suite names with '_' for the space; --schedule overrides
// fields of each config's default schedule (to compare schedules before tuning picks them); a case
// whose family refuses the result is listed with the reason (results.md, results.json "refused",
// standard error), the others timed, and the exit status is then 1.
// --clocks yes samples the SM clock and board power (NVML) while bitjit and cuBLAS are timed, and
// adds them to the rows and to a second table (clock_sampler.hpp).
// --timing graph times every library's batch as one CUDA graph replayed (runtime/timing.hpp: the
// kernels' own time, no host work between launches); eager (the default) launches from the host.
// --dynamic yes times one Matmul per format and shape whose buckets are the --M list; both times it
// and a Matmul per M side by side, each M static then dynamic in turn, in one process (a time limit
// that ends the run leaves pairs, not one half; rows say which with dynamic_m).
//
// Method: random data; weights (and cuBLAS's fp16 weights) rotated through enough copies that one
// pass exceeds twice the device's L2 (queried: 50 MB on the H100, 60 MB on the H200); CUDA events
// around batches of launches after a warm-up; median.
#include <cublasLt.h>
#include <cublas_v2.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <tuple>
#include <optional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "bench/clock_sampler.hpp"
#include "bench/schedule_override.hpp"
#include "compiler/arch.hpp"
#include "common/parallel.hpp"
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

MatmulConfig base_format_config(const std::string& name);

// Named formats of the suite: fp16 activations (a8_: int8), fp32 accumulation, fp16 output unless
// named; a name ending in _bf16 takes a format of fp16 activations with bf16 activations and output
// (int4_g128_bf16), and cuBLAS is then timed in bf16 too.
MatmulConfig format_config(const std::string& name) {
  const std::string suffix = "_bf16";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return base_format_config(name);
  }
  MatmulConfig config = base_format_config(name.substr(0, name.size() - suffix.size()));
  if (config.A_dtype != DType::float16 || config.out_dtype != DType::float16) {
    throw std::runtime_error("format " + name + ": _bf16 takes a format of fp16 activations and output, not " +
                             std::string(to_string(config.A_dtype)) + " activations with " +
                             std::string(to_string(config.out_dtype)) + " output");
  }
  config.A_dtype = config.out_dtype = DType::bfloat16;
  return config;
}

MatmulConfig base_format_config(const std::string& name) {
  MatmulConfig config;
  config.A_dtype = DType::float16;
  config.accum_dtype = DType::float32;
  config.out_dtype = DType::float16;
  auto grouped = [&](DType w, bool zeros, ZerosMode mode = ZerosMode::original) {
    config.W_dtype = w;
    config.with_scaling = true;
    config.group_size = 128;
    if (zeros) {
      config.with_zeros = true;
      config.zeros_mode = mode;
    }
  };
  if (name == "uint4_g128_zeros") grouped(DType::uint4, true);  // zero points as fp16 values
  else if (name == "uint4_g128_qzeros") grouped(DType::uint4, true, ZerosMode::quantized);  // as packed uint4 codes
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
  else if (name == "fp8a_int4_g128") {  // fp8 e4m3 activations, int4 weights with fp16 scales
    grouped(DType::int4, false);
    config.A_dtype = DType::float8_e4m3;
  }
  else if (name == "w8a8_fp8") {  // fp8 e4m3 x fp8 e4m3, fp16 output
    config.A_dtype = DType::float8_e4m3;
    config.W_dtype = DType::float8_e4m3;
  }
  else if (name == "int1_g128") grouped(DType::int1, false);
  else if (name == "nf4_g128") grouped(DType::nf4, false);
  else if (name == "fp4_g128") grouped(DType::fp4_e2m1, false);
  else throw std::runtime_error("unknown format " + name +
                                "; known: uint4_g128_zeros uint4_g128_qzeros int4_g128 int8_channel int2_g128 int1_g128 nf4_g128 fp4_g128 "
                                "a8_int4_g128 a8_int8_int32 fp8a_int4_g128 w8a8_fp8, each of fp16 activations also with _bf16");
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

// Timing of a batch rotating through `copies` inputs, as the run's --timing asks.
TimingPlan rotating_plan(LaunchTiming timing, int copies) { return {10, 20, 15, timing, copies}; }

// A device-to-device copy that moves `bytes` in all (half read, half written), rotated past the L2
// like the weights: what streaming this many bytes costs at this size on this GPU, launch and ramp
// included. Small shapes cannot reach the 1 GiB copy's bandwidth; this is their floor.
double same_bytes_copy_ms(int64_t bytes, CUstream stream, LaunchTiming timing) {
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
  }, rotating_plan(timing, copies));
}

// cuBLAS in fp16, or bf16 where bf16 (fp32 accumulation) C[M,N] = A[M,K] · W[N,K]ᵀ, weights rotated
// like bitjit's.
double cublas_ms(cublasHandle_t handle, CUstream stream, int64_t M, int64_t N, int64_t K, bool bf16,
                 std::mt19937_64& rng, LaunchTiming timing) {
  const cudaDataType_t type = bf16 ? CUDA_R_16BF : CUDA_R_16F;
  const int copies = copies_past_l2(N * K * 2, current_device_info().l2_bytes);
  std::vector<DeviceBuffer> weights;
  // 0x3B3B..: small finite fp16 (and bf16) values; the values do not change cuBLAS's speed.
  for (int i = 0; i < copies; ++i) weights.push_back(random_buffer(size_t(N * K * 2), rng, 0x3B));
  DeviceBuffer a = random_buffer(size_t(M * K * 2), rng, 0x3B), c(size_t(M * N * 2));
  const float alpha = 1.0f, beta = 0.0f;
  check_cublas(cublasSetStream(handle, stream), "cublasSetStream");
  return median_launch_ms(stream, [&](int i) {
    check_cublas(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &alpha,
                              weights[i % copies].data(), type, int(K),
                              a.data(), type, int(K), &beta,
                              c.data(), type, int(N), CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
  }, rotating_plan(timing, copies));
}

void check_cublaslt(cublasStatus_t status, const char* call, const std::string& what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(call) + " failed with cuBLAS status " + std::to_string(int(status)) + " (" + what + ")");
  }
}

// The cuBLASLt GEMM on the format's 8-bit activation type, or nullopt for 16-bit activations: int8 x
// int8 with int32 sums and output, or fp8 e4m3 x e4m3 with float32 accumulation and fp16 output. For
// the W4A8 formats (a8_int4_g128, fp8a_int4_g128) it is the 8-bit GEMM of the same shapes, the speed
// a user would otherwise get by keeping 8-bit weights.
// Both in cuBLASLt's "TN" form, the one its 8-bit kernels take: C^T[N, M] = W[N, K] . A[M, K]^T.
struct LtTypes {
  cudaDataType_t ab, c;
  cublasComputeType_t compute;
  cudaDataType_t scale;
  int c_bytes;
};

std::optional<LtTypes> lt_types(const MatmulConfig& config) {
  if (config.A_dtype == DType::int8) return LtTypes{CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, 4};
  if (config.A_dtype == DType::float8_e4m3) return LtTypes{CUDA_R_8F_E4M3, CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F, 2};
  return std::nullopt;
}

// Median ms of cuBLASLt on `types` for C[M,N] = A[M,K] . W[N,K]^T, weights rotated like bitjit's.
double cublaslt_ms(cublasLtHandle_t handle, CUstream stream, const LtTypes& types, int64_t M, int64_t N, int64_t K,
                   std::mt19937_64& rng, LaunchTiming timing) {
  const std::string what = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
  const int copies = copies_past_l2(N * K, current_device_info().l2_bytes);
  std::vector<DeviceBuffer> weights;
  for (int i = 0; i < copies; ++i) weights.push_back(random_buffer(size_t(N * K), rng, 0x3B));  // finite e4m3 too
  DeviceBuffer a = random_buffer(size_t(M * K), rng, 0x3B), c(size_t(M * N * types.c_bytes));
  const size_t workspace_bytes = size_t(32) << 20;
  DeviceBuffer workspace(workspace_bytes);

  cublasLtMatmulDesc_t operation;
  check_cublaslt(cublasLtMatmulDescCreate(&operation, types.compute, types.scale), "cublasLtMatmulDescCreate", what);
  const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  check_cublaslt(cublasLtMatmulDescSetAttribute(operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose),
                 "cublasLtMatmulDescSetAttribute(TRANSA)", what);
  check_cublaslt(cublasLtMatmulDescSetAttribute(operation, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep),
                 "cublasLtMatmulDescSetAttribute(TRANSB)", what);
  cublasLtMatrixLayout_t w_layout, a_layout, c_layout;
  check_cublaslt(cublasLtMatrixLayoutCreate(&w_layout, types.ab, uint64_t(K), uint64_t(N), K), "cublasLtMatrixLayoutCreate(W)", what);
  check_cublaslt(cublasLtMatrixLayoutCreate(&a_layout, types.ab, uint64_t(K), uint64_t(M), K), "cublasLtMatrixLayoutCreate(A)", what);
  check_cublaslt(cublasLtMatrixLayoutCreate(&c_layout, types.c, uint64_t(N), uint64_t(M), N), "cublasLtMatrixLayoutCreate(C)", what);
  cublasLtMatmulPreference_t preference;
  check_cublaslt(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate", what);
  check_cublaslt(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &workspace_bytes, sizeof workspace_bytes),
                 "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", what);
  cublasLtMatmulHeuristicResult_t heuristic;
  int found = 0;
  check_cublaslt(cublasLtMatmulAlgoGetHeuristic(handle, operation, w_layout, a_layout, c_layout, c_layout, preference, 1,
                                                &heuristic, &found),
                 "cublasLtMatmulAlgoGetHeuristic", what);
  if (found == 0) throw std::runtime_error("cublasLtMatmulAlgoGetHeuristic found no algorithm (" + what + ")");

  const int32_t alpha_int = 1, beta_int = 0;
  const float alpha_float = 1.0f, beta_float = 0.0f;
  const void* alpha = types.scale == CUDA_R_32I ? static_cast<const void*>(&alpha_int) : &alpha_float;
  const void* beta = types.scale == CUDA_R_32I ? static_cast<const void*>(&beta_int) : &beta_float;
  const double ms = median_launch_ms(stream, [&](int i) {
    check_cublaslt(cublasLtMatmul(handle, operation, alpha, weights[i % copies].data(), w_layout, a.data(), a_layout, beta,
                                  c.data(), c_layout, c.data(), c_layout, &heuristic.algo, workspace.data(),
                                  workspace_bytes, reinterpret_cast<cudaStream_t>(stream)),
                   "cublasLtMatmul", what);
  }, rotating_plan(timing, copies));
  cublasLtMatmulPreferenceDestroy(preference);
  cublasLtMatrixLayoutDestroy(c_layout);
  cublasLtMatrixLayoutDestroy(a_layout);
  cublasLtMatrixLayoutDestroy(w_layout);
  cublasLtMatmulDescDestroy(operation);
  return ms;
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

// One Matmul of the run: a format on a shape, at one M (static) or at every M of the run (dynamic,
// M = 0 in the key).
using MatmulKey = std::tuple<std::string, std::string, int64_t>;

// The (M, dynamic) pairs a (format, shape) is timed at: M by M, each in every mode of the run (a
// static M before the dynamic Matmul's bucket).
std::vector<std::pair<int64_t, bool>> timed_runs(const std::vector<int64_t>& Ms, const std::vector<bool>& modes) {
  std::vector<std::pair<int64_t, bool>> runs;
  for (int64_t M : Ms)
    for (bool dynamic : modes) runs.emplace_back(M, dynamic);
  return runs;
}

// The Matmuls a (format, shape) needs, by their M in MatmulKey: one per M for a static M, one (M 0)
// for the dynamic Matmul.
std::vector<std::pair<int64_t, bool>> matmul_keys(const std::vector<int64_t>& Ms, const std::vector<bool>& modes) {
  std::vector<std::pair<int64_t, bool>> keys;
  for (bool dynamic : modes) {
    if (dynamic) keys.emplace_back(0, true);
    else
      for (int64_t M : Ms) keys.emplace_back(M, false);
  }
  return keys;
}

// The config of a (format, shape) at M (static) or with every M of the run as its buckets (dynamic).
MatmulConfig bench_config(const std::string& format, const Shape& shape, const std::vector<int64_t>& Ms,
                          std::optional<int64_t> M) {
  MatmulConfig config = format_config(format);
  config.N = shape.N;
  config.K = shape.K;
  config.M = M ? MSpec(*M) : MSpec::buckets(Ms);
  return config;
}

// Every Matmul of the run, compiled before any timing on `threads` threads (NVRTC is thread-safe),
// rather than one after another between the timings. The first failure in job order is rethrown
// once every job is done, as creating it alone would have thrown.
std::map<MatmulKey, Matmul> compile_matmuls(const std::vector<std::pair<MatmulKey, std::function<Matmul()>>>& jobs,
                                            unsigned threads) {
  std::vector<std::optional<Matmul>> built(jobs.size());
  std::vector<std::exception_ptr> failures(jobs.size());
  for_each_index_in_parallel(jobs.size(), threads, [&](size_t i) {
    try {
      built[i].emplace(jobs[i].second());
    } catch (...) {
      failures[i] = std::current_exception();
    }
  });
  std::map<MatmulKey, Matmul> matmuls;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (failures[i]) std::rethrow_exception(failures[i]);
    matmuls.emplace(jobs[i].first, std::move(*built[i]));
  }
  return matmuls;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", std::gmtime(&now));
  return text;
}

// --check ARCH, without a GPU: each case's schedule on ARCH (the default with --schedule's overrides
// merged; a dynamic M's per bucket), or why its family refuses it, a line a case, and the count. The
// options' mistakes (an unknown format or shape, an override that is not JSON) throw as in a run: for
// checking a device run's options before it (scripts/device-run.sh, DEVICE_RUN_CHECK_ONLY).
int check_cases(const std::string& arch, const std::vector<std::string>& formats, const std::vector<Shape>& shapes,
                const std::vector<int64_t>& Ms, const std::vector<bool>& modes, const std::string& overrides) {
  check_arch(arch);  // an unknown arch throws, naming the allowed ones
  int cases = 0, refused = 0;
  for (const std::string& format : formats)
    for (const Shape& shape : shapes)
      for (const auto& [M, dynamic] : timed_runs(Ms, modes)) {
        const MatmulConfig config = bench_config(format, shape, Ms, dynamic ? std::nullopt : std::optional<int64_t>(M));
        const std::optional<TileSchedule> overridden = bench::overridden_schedule(config, overrides, arch);
        const TileSchedule schedule = overridden ? *overridden : default_schedule(config, arch, M);
        const std::string refusal = schedule_refusal(config, schedule, arch);
        ++cases;
        if (!refusal.empty()) ++refused;
        std::printf("%s: %s %s M=%lld%s: %s\n", refusal.empty() ? "case" : "refused", format.c_str(), shape.name.c_str(),
                    (long long)M, dynamic ? " (bucket)" : "", refusal.empty() ? canonical_form(schedule).c_str() : refusal.c_str());
      }
  std::printf("%d cases on %s, %d refused\n", cases, arch.c_str(), refused);
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  std::map<std::string, std::string> options = {{"--formats", "uint4_g128_zeros,int4_g128"},
                                                {"--shapes", "all"},
                                                {"--M", "1,16"},
                                                {"--out", "bench-out"},
                                                {"--schedule", ""},
                                                {"--clocks", "no"},
                                                {"--dynamic", "no"},
                                                {"--timing", "eager"},
                                                {"--check", ""}};
  for (int i = 1; i < argc; i += 2) {
    if (!options.count(argv[i])) {
      std::fprintf(stderr, "unknown option %s; options: --formats --shapes --M --out --schedule --clocks --dynamic --timing --check\n",
                   argv[i]);
      return 2;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "%s needs a value\n", argv[i]);
      return 2;
    }
    options[argv[i]] = argv[i + 1];
  }
  std::vector<int64_t> Ms;
  for (const std::string& m : split(options["--M"])) {
    // Digits only, at most 9 of them: std::stoll would take "16abc" as 16 and name nothing on "abc".
    if (m.empty() || m.size() > 9 || m.find_first_not_of("0123456789") != std::string::npos || std::stoll(m) < 1) {
      std::fprintf(stderr, "--M: '%s' is not a whole number of rows from 1 to 999999999 (--M %s)\n", m.c_str(),
                   options["--M"].c_str());
      return 2;
    }
    Ms.push_back(std::stoll(m));
  }
  if (Ms.empty()) {
    std::fprintf(stderr, "--M: no rows given; a comma-separated list such as 1,16,64\n");
    return 2;
  }
  const std::vector<Shape> shapes = selected_shapes(options["--shapes"]);
  // An empty list would time nothing and write empty results as if the run had happened.
  for (const char* option : {"--formats", "--shapes"}) {
    if (split(options[option]).empty()) {
      std::fprintf(stderr, "%s: nothing given; a comma-separated list (bench_matmul's header lists the names)\n", option);
      return 2;
    }
  }
  if (options["--clocks"] != "yes" && options["--clocks"] != "no") {
    std::fprintf(stderr, "--clocks must be yes or no, got %s\n", options["--clocks"].c_str());
    return 2;
  }
  const std::string& dynamic_option = options["--dynamic"];
  if (dynamic_option != "yes" && dynamic_option != "no" && dynamic_option != "both") {
    std::fprintf(stderr, "--dynamic must be yes, no or both, got %s\n", dynamic_option.c_str());
    return 2;
  }
  // Dynamic: one Matmul per (format, shape) whose M is the list of --M as buckets, each M run on its
  // bucket's kernel, as an application serving every batch size runs it. The modes a case is timed
  // in, static before dynamic.
  const std::vector<bool> modes = dynamic_option == "both" ? std::vector<bool>{false, true}
                                                           : std::vector<bool>{dynamic_option == "yes"};
  const LaunchTiming timing = launch_timing_from_string(options["--timing"], "--timing");
  if (dynamic_option != "no" && !options["--schedule"].empty()) {
    std::fprintf(stderr, "--schedule overrides one static M's default; it cannot be combined with --dynamic %s\n",
                 dynamic_option.c_str());
    return 2;
  }
  if (!options["--check"].empty())
    return check_cases(options["--check"], split(options["--formats"]), shapes, Ms, modes, options["--schedule"]);
  std::optional<ClockSampler> sampler;
  if (options["--clocks"] == "yes") sampler.emplace();
  // Runs a timing (returning ms), sampling the clocks meanwhile when asked to.
  const auto timed = [&](ClockReading& reading, const std::function<double()>& timing) {
    if (!sampler) return timing();
    double ms = 0;
    reading = sampler->during([&] { ms = timing(); });
    return ms;
  };

  ensure_context();
  const DeviceInfo& device = current_device_info();
  Stream stream;
  cublasHandle_t handle;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  cublasLtHandle_t lt_handle;
  check_cublas(cublasLtCreate(&lt_handle), "cublasLtCreate");
  std::mt19937_64 rng(std::random_device{}());
  const double copy_gbps = copy_bandwidth_gbps(stream.get());
  std::printf("%s (%s), %d SMs; copy bandwidth %.0f GB/s\n", device.name.c_str(), device.arch().c_str(), device.sm_count, copy_gbps);

  nlohmann::json results = {{"device", device.name}, {"arch", device.arch()}, {"date", today()},
                             {"bitjit", version()}, {"copy_bandwidth_gbps", copy_gbps}, {"timing", to_string(timing)},
                             {"rows", nlohmann::json::array()}};
  // cuBLAS once per run for each (shape, M, bf16 or fp16)
  std::map<std::tuple<std::string, int64_t, bool>, std::pair<double, ClockReading>> cublas_cache;
  std::ostringstream table;
  table << "| format | shape | M | bitjit µs | cuBLAS µs (fp16, bf16 for _bf16) | speedup | GB/s | % of copy BW | same-bytes copy µs | "
           "% of same-bytes copy | cuBLASLt 8-bit µs | vs cuBLASLt 8-bit | schedule |\n"
        << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::ostringstream clocks_table;
  clocks_table << "| format | shape | M | bitjit SM MHz | bitjit W | cuBLAS SM MHz | cuBLAS W |\n|---|---|---|---|---|---|---|\n";
  std::vector<std::pair<MatmulKey, std::function<Matmul()>>> jobs;
  nlohmann::json refused = nlohmann::json::array();  // cases whose family refuses the --schedule override
  std::ostringstream refused_list;                     // the same for results.md
  for (const std::string& format : split(options["--formats"]))
    for (const Shape& shape : shapes)
      for (const auto& [M, dynamic] : matmul_keys(Ms, modes)) {
        const MatmulConfig config = bench_config(format, shape, Ms, dynamic ? std::nullopt : std::optional<int64_t>(M));
        MatmulOptions matmul_options;
        matmul_options.arch = device.arch();
        matmul_options.schedule = bench::overridden_schedule(config, options["--schedule"], device.arch());
        const std::string refusal =
            matmul_options.schedule ? schedule_refusal(config, *matmul_options.schedule, device.arch()) : "";
        if (!refusal.empty()) {
          std::fprintf(stderr, "refused: %s %s M=%lld: %s\n", format.c_str(), shape.name.c_str(), (long long)M, refusal.c_str());
          refused.push_back({{"format", format}, {"shape", shape.name}, {"M", M}, {"reason", refusal}});
          refused_list << "- " << format << " " << shape.name << " M=" << M << ": " << refusal << "\n";
          continue;
        }
        jobs.push_back({{format, shape.name, M}, [config, matmul_options] { return Matmul::create(config, matmul_options); }});
      }
  const auto compile_start = std::chrono::steady_clock::now();
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const std::map<MatmulKey, Matmul> matmuls = compile_matmuls(jobs, threads);
  std::printf("%zu Matmuls created in %.1f s on %zu threads\n", matmuls.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - compile_start).count(),
              std::min<size_t>(threads, jobs.size()));
  for (const std::string& format : split(options["--formats"])) {
    for (const Shape& shape : shapes) {
      for (const std::pair<int64_t, bool>& run : timed_runs(Ms, modes)) {
        // Plain copies, not structured bindings: the timing lambdas below capture them (clang before
        // 16 refuses to capture a structured binding).
        const int64_t M = run.first;
        const bool dynamic = run.second;
        const auto built = matmuls.find({format, shape.name, dynamic ? 0 : M});
        if (built == matmuls.end()) continue;  // refused above
        const Matmul& matmul = built->second;
        const MatmulConfig& config = matmul.config();
        const bool bf16 = config.A_dtype == DType::bfloat16;
        auto& [cublas, cublas_clock] = cublas_cache[{shape.name, M, bf16}];
        if (cublas == 0.0) {
          cublas = timed(cublas_clock, [&] { return cublas_ms(handle, stream.get(), M, shape.N, shape.K, bf16, rng, timing); });
        }
        ClockReading clock;
        const double ms = timed(clock, [&] { return matmul.profile_latency(M, 10, 15, timing); });
        const int64_t bytes = bytes_moved(config, M);
        const double gbps = double(bytes) / (ms * 1e-3) / 1e9;
        const double copy_ms = same_bytes_copy_ms(bytes, stream.get(), timing);
        const std::optional<LtTypes> lt = lt_types(config);
        const double lt_ms = lt ? cublaslt_ms(lt_handle, stream.get(), *lt, M, shape.N, shape.K, rng, timing) : 0.0;
        char peer[64] = "– | –";
        if (lt) std::snprintf(peer, sizeof peer, "%.1f | %.2fx", lt_ms * 1e3, lt_ms / ms);
        char row[704];
        // Both modes in one table: the dynamic Matmul's rows say so beside M.
        const char* mode_mark = modes.size() > 1 && dynamic ? " (dynamic)" : "";
        std::snprintf(row, sizeof row, "| %s | %s | %lld%s | %.1f | %.1f | %.2fx | %.0f | %.0f%% | %.1f | %.0f%% | %s | %s |\n",
                      format.c_str(), shape.name.c_str(), (long long)M, mode_mark, ms * 1e3, cublas * 1e3, cublas / ms, gbps,
                      100.0 * gbps / copy_gbps, copy_ms * 1e3, 100.0 * copy_ms / ms, peer,
                      canonical_form(matmul.schedule_for(M)).c_str());
        table << row;
        std::fputs(row, stdout);
        std::fflush(stdout);
        results["rows"].push_back({{"format", format}, {"shape", shape.name}, {"N", shape.N}, {"K", shape.K}, {"M", M},
                                   {"bitjit_us", ms * 1e3}, {"cublas_us", cublas * 1e3},
                                   {"cublas_dtype", bf16 ? "bfloat16" : "float16"}, {"speedup", cublas / ms},
                                   {"gbps", gbps}, {"copy_fraction", gbps / copy_gbps},
                                   {"same_bytes_copy_us", copy_ms * 1e3}, {"same_bytes_copy_fraction", copy_ms / ms},
                                   {"dynamic_m", dynamic},
                                   {"schedule", nlohmann::json::parse(canonical_form(matmul.schedule_for(M)))}});
        if (lt) {
          results["rows"].back()["cublaslt_8bit_us"] = lt_ms * 1e3;
          results["rows"].back()["speedup_vs_cublaslt_8bit"] = lt_ms / ms;
        }
        if (sampler) {
          results["rows"].back()["clocks"] = {{"bitjit_sm_mhz", clock.sm_mhz}, {"bitjit_watts", clock.watts},
                                              {"cublas_sm_mhz", cublas_clock.sm_mhz}, {"cublas_watts", cublas_clock.watts}};
          std::snprintf(row, sizeof row, "| %s | %s | %lld%s | %.0f | %.0f | %.0f | %.0f |\n", format.c_str(), shape.name.c_str(),
                        (long long)M, mode_mark, clock.sm_mhz, clock.watts, cublas_clock.sm_mhz, cublas_clock.watts);
          clocks_table << row;
          std::printf("  clocks: %s", row);
        }
      }
    }
  }
  cublasLtDestroy(lt_handle);
  cublasDestroy(handle);
  if (!refused.empty()) results["refused"] = refused;
  std::filesystem::create_directories(options["--out"]);
  std::ofstream(options["--out"] + "/results.json") << results.dump(1) << "\n";
  std::ofstream(options["--out"] + "/results.md")
      << "# bitjit vs cuBLAS fp16 on " << device.name << ", " << today() << "\n\nCopy bandwidth " << int(copy_gbps)
      << " GB/s (read + write). Times are medians per launch, "
      << (timing == LaunchTiming::graph ? "each batch of launches one CUDA graph replayed" : "launched from the host")
      << " (--timing " << to_string(timing) << ").\n\n" << table.str()
      << (sampler ? "\nSM clock and board power (NVML) while each was timed:\n\n" + clocks_table.str() : "")
      << (refused.empty() ? "" : "\nNot timed: the family refuses the --schedule override here:\n\n" + refused_list.str());
  if (!refused.empty()) std::fprintf(stderr, "%zu case(s) refused the --schedule override (listed in results.md)\n", refused.size());
  return refused.empty() ? 0 : 1;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_matmul: %s\n", error.what());
    return 1;
  }
}
