// Lowering and emission: the plan binds the right formats and constants, schedules are checked,
// and every variant of the format matrix compiles with NVRTC for sm_80 and sm_90a (no GPU needed).
#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.hpp"
#include "compiler/candidates.hpp"
#include "compiler/families/select.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"
#include "compiler/format_matrix.hpp"
#include "compiler/lower.hpp"
#include "compiler/weight_layout.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/sample.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

MatmulConfig w4a16_quantized_zeros() {
  MatmulConfig config;
  config.M = 3;
  config.N = 40;
  config.K = 96;
  config.W_dtype = DType::uint4;
  config.accum_dtype = DType::float32;
  config.with_scaling = config.with_zeros = config.with_bias = true;
  config.group_size = 32;
  config.zeros_mode = ZerosMode::quantized;
  return config;
}


std::string schedule_error(const MatmulConfig& config, const TileSchedule& schedule) {
  return schedule_error_on(config, schedule, "sm_80");
}

// What decides a tensor-core kernel's decoding code: the formats, the zeros mode and scaling.
std::string decode_path(const MatmulConfig& c) {
  std::string path;
  for (std::string_view part : {to_string(c.A_dtype), to_string(c.W_dtype), c.with_zeros ? to_string(c.zeros_mode) : "none",
                                std::string_view(c.with_scaling ? "scaled" : "")}) {
    path += std::string(part) + " ";
  }
  return path;
}

// Calls compile(i, arch) for every i < count and arch on all cores (NVRTC is thread-safe); returns
// the failures as "arch: message" (an arch of nullptr: compile picks it, and the message names it).
// A long run prints its progress on stderr.
std::vector<std::string> compile_everywhere(size_t count, const std::vector<const char*>& archs,
                                            const std::function<void(size_t, const char*)>& compile) {
  testing::Progress progress("compiled (config, arch) pairs", count * archs.size());
  std::atomic<size_t> next{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::future<void>> workers;
  for (unsigned t = 0; t < std::max(2u, std::thread::hardware_concurrency()); ++t) {
    workers.push_back(std::async(std::launch::async, [&] {
      for (size_t i = next++; i < count; i = next++) {
        for (const char* arch : archs) {
          try {
            compile(i, arch);
          } catch (const std::exception& error) {
            std::lock_guard lock(failures_mutex);
            failures.push_back((arch != nullptr ? std::string(arch) + ": " : std::string()) + error.what());
          }
          progress.advance();
        }
      }
    }));
  }
  for (auto& worker : workers) worker.get();
  return failures;
}

// A generated kernel assembled for `arch` (compile_cuda throws where NVRTC or ptxas fails).
CompiledKernel assemble(const GeneratedKernel& kernel, const std::string& arch, const MatmulConfig& config) {
  return compile_cuda({kernel.source, kernel.file_name, arch, {}, canonical_form(config), CompileOutput::cubin});
}

// Whether what came out is a cubin (an ELF file).
bool is_cubin(const CompiledKernel& binary) { return binary.cubin.size() > 4 && binary.cubin[0] == 0x7f; }

// Assembles each (config, schedule) for `arch` on all cores; returns the failures (as
// compile_everywhere) and how many cubins came out. A log naming one of `refused` (ptxas's notes,
// e.g. C7512: the wgmmas run one at a time) fails that kernel too.
std::pair<std::vector<std::string>, size_t> assemble_for(const char* arch,
                                                         const std::vector<std::pair<MatmulConfig, TileSchedule>>& kernels,
                                                         std::initializer_list<const char*> refused = {}) {
  std::atomic<size_t> assembled{0};
  const auto compile_one = [&](size_t i, const char* arch) {  // on worker threads: no Catch2 assertions here
    const CompiledKernel binary = assemble(emit_kernel(kernels[i].first, kernels[i].second, arch), arch, kernels[i].first);
    for (const char* note : refused)
      if (contains(binary.log, note)) throw std::runtime_error(canonical_form(kernels[i].second) + ": " + binary.log);
    if (is_cubin(binary)) ++assembled;
  };
  std::vector<std::string> failures = compile_everywhere(kernels.size(), {arch}, compile_one);
  return {std::move(failures), assembled.load()};
}

}  // namespace

TEST_CASE("the generated source instantiates the family with the config's formats and constants", "[codegen]") {
  const MatmulConfig config = w4a16_quantized_zeros();
  const TileSchedule schedule = default_schedule(config, "sm_90a");
  const KernelPlan plan = plan_kernel(config, schedule, "sm_90a");
  const std::string source = emit_cuda(plan);
  CHECK(contains(source, "#include \"bitjit/kernels/tensor_gemv.cuh\""));  // fp16 activations: tensor cores
  CHECK(contains(source, "using A = bitjit::fmt::Float16;"));
  CHECK(contains(source, "using W = bitjit::fmt::Uint4;"));
  CHECK(contains(source, "using Out = bitjit::fmt::Float16;"));
  CHECK(contains(source, "static constexpr long long K = 96;"));
  CHECK(contains(source, "static constexpr long long kGroups = 3;"));
  CHECK(contains(source, "kZerosMode = bitjit::Zeros::quantized;"));
  CHECK(contains(source, "static constexpr bool kBias = true;"));
  CHECK(contains(source, "extern \"C\" __global__ void __launch_bounds__(128)"));
  CHECK(contains(source, canonical_form(config)));
  // K = 96 fits k-blocks of 32 uint4 codes: 4-byte loads per lane, runs of 8 k (groups of 32).
  // A is read 16 bytes (two mma steps' fragments) at a time, the other fp16 operands 2 bytes.
  CHECK(schedule.family == KernelFamily::tensor_gemv);
  CHECK(schedule.pipeline.vector_bytes == 4);
  CHECK(contains(source, "static constexpr int kRun = 8;"));
  CHECK(plan.alignment == std::array<int, 6>{16, 4, 2, 1, 2, 2});
  // Groups of 16 leave runs of 4: one 8-byte fragment at a time.
  MatmulConfig short_groups = config;
  short_groups.group_size = 16;
  short_groups.K = 128;
  const TileSchedule short_runs = default_schedule(short_groups, "sm_90a");
  const KernelPlan short_plan = plan_kernel(short_groups, short_runs, "sm_90a");
  CHECK(contains(emit_cuda(short_plan), "static constexpr int kRun = 4;"));
  CHECK(short_plan.alignment[0] == 8);
  // Its weights are in the mma_runs layout, which the simt and gemv families do not read.
  TileSchedule simt = schedule;
  simt.family = KernelFamily::simt;
  CHECK(contains(schedule_error(config, simt), "use family=tensor_gemv"));
  // Where the layout is general (1-bit codes: K = 96 is shorter than a k-block), gemv and simt run;
  // gemv reads A 16 bytes at a time, simt element by element.
  MatmulConfig general = config;
  general.W_dtype = DType::uint1;
  general.zeros_mode = ZerosMode::original;
  const TileSchedule gemv = default_schedule(general, "sm_90a");
  CHECK(gemv.family == KernelFamily::gemv);
  CHECK(contains(emit_cuda(plan_kernel(general, gemv, "sm_90a")), "#include \"bitjit/kernels/gemv_matmul.cuh\""));
  simt = gemv;
  simt.family = KernelFamily::simt;
  simt.tile.n = 8;
  const KernelPlan simt_plan = plan_kernel(general, simt, "sm_90a");
  CHECK(contains(emit_cuda(simt_plan), "#include \"bitjit/kernels/simt_matmul.cuh\""));
  CHECK(simt_plan.alignment[0] == 2);
  // Emission is a pure function of the plan.
  CHECK(emit_cuda(plan_kernel(config, schedule, "sm_90a")) == source);
}

TEST_CASE("integer configs accumulate in int and float16 accumulation is carried in float32", "[codegen]") {
  MatmulConfig config;
  config.M = 1;
  config.N = 16;
  config.K = 64;
  config.A_dtype = DType::int8;
  config.W_dtype = DType::int2;
  config.accum_dtype = DType::int32;
  config.out_dtype = DType::int8;
  std::string source = emit_cuda(plan_kernel(config, default_schedule(config, "sm_80"), "sm_80"));
  CHECK(contains(source, "using Accum = int;"));
  CHECK(contains(source, "using W = bitjit::fmt::Int2;"));
  CHECK(contains(source, "using Out = bitjit::fmt::Int8;"));

  MatmulConfig half;
  half.M = 1;
  half.N = 16;
  half.K = 64;
  half.W_dtype = DType::nf4;
  half.with_scaling = true;
  source = emit_cuda(plan_kernel(half, default_schedule(half, "sm_80"), "sm_80"));
  CHECK(contains(source, "using Accum = float;"));
  CHECK(contains(source, "using Scale = bitjit::fmt::Float16;"));
}

TEST_CASE("schedules are checked against the config and the family", "[codegen]") {
  const MatmulConfig config = w4a16_quantized_zeros();
  TileSchedule s = default_schedule(config, "sm_80");
  CHECK(schedule_error(config, s).empty());
  TileSchedule bad = s;
  bad.warps.k = 17;
  CHECK(contains(schedule_error(config, bad), "warps.k=17 must be 1..16"));
  bad = s;
  bad.warps.n = 2;  // tensor_gemv's warps split K, not N
  CHECK(contains(schedule_error(config, bad), "warps.n=2: tensor_gemv takes warps.n=1"));
  bad = s;
  bad.pipeline.vector_bytes = 32;
  CHECK(contains(schedule_error(config, bad), "pipeline.vector_bytes=32"));
  bad = s;
  bad.pipeline.split_k = 4;  // K = 96: 3 k-blocks of 32
  CHECK(contains(schedule_error(config, bad), "pipeline.split_k=4 must be 1..16 and at most the 3 k-blocks of 32 in K"));
  bad = s;
  bad.tile.m = 0;
  CHECK(contains(schedule_error(config, bad), "tile.m=0"));
  bad = s;
  bad.pipeline.k_per_stage = 3 * s.pipeline.k_per_round;  // rounds a loop step: 2, 4 or 8
  CHECK(contains(schedule_error(config, bad), "pipeline.k_per_stage=" + std::to_string(bad.pipeline.k_per_stage) +
                                                  " must be 0 (a round a loop step) or 2, 4 or 8 rounds"));
  // K = 98 uint4: 49-byte rows take only 1-byte loads.
  MatmulConfig odd = config;
  odd.K = 98;
  odd.group_size = -1;
  bad = default_schedule(odd, "sm_80");
  CHECK(bad.family == KernelFamily::gemv);
  bad.pipeline.vector_bytes = 2;
  CHECK(contains(schedule_error(odd, bad), "does not divide a weight row of 49 bytes"));
  bad = default_schedule(odd, "sm_80");
  bad.pipeline.k_per_round = 64;
  CHECK(contains(schedule_error(odd, bad), "pipeline.k_per_round=64: gemv takes pipeline.k_per_round=0"));
  // tensor_gemv's own knobs: whole 8-column tiles, whole k-blocks, the layout's load width.
  bad = s;
  bad.tile.n = 8;
  CHECK(contains(schedule_error(config, bad), "tile.n=8 must be 16, 32, 48 or 64"));
  bad = s;
  bad.pipeline.k_per_round = 48;
  CHECK(contains(schedule_error(config, bad), "pipeline.k_per_round=48 must be 1 to 8 k-blocks of 32"));
  bad = s;
  bad.pipeline.vector_bytes = 16;
  CHECK(contains(schedule_error(config, bad), "the mma_runs layout of this config has 4-byte loads"));
  // fp8 activations take tensor_gemv on sm_89 and newer only (the fp8 mma), with 4-bit or their own
  // fp8 weights; int8 activations have their own path (m16n8k32 on bytes).
  MatmulConfig fp8_activations = config;
  fp8_activations.A_dtype = DType::float8_e4m3;
  fp8_activations.with_zeros = false;
  CHECK(contains(schedule_error(fp8_activations, s), "the fp8 mma.sync needs one of sm_89, sm_90a, sm_100a, sm_120a; use family=simt"));
  fp8_activations.W_dtype = DType::uint2;
  CHECK(contains(schedule_error(fp8_activations, s), "family=tensor_gemv needs A_dtype float16 or bfloat16"));
  MatmulConfig int8_activations = fp8_activations;
  int8_activations.A_dtype = DType::int8;
  int8_activations.W_dtype = DType::uint4;
  CHECK(default_schedule(int8_activations, "sm_80").family == KernelFamily::tensor_gemv);
  CHECK(contains(emit_cuda(plan_kernel(int8_activations, default_schedule(int8_activations, "sm_80"), "sm_80")),
                 "bitjit::tensor_gemv_8bit<Problem, Tiles>"));
  CHECK(default_schedule(odd, "sm_80").pipeline.vector_bytes == 1);
}

TEST_CASE("schedules round-trip through JSON", "[codegen]") {
  const MatmulConfig config = w4a16_quantized_zeros();
  TileSchedule s = default_schedule(config, "sm_80");
  MatmulConfig odd = config;
  odd.K = 98;
  odd.group_size = -1;
  CHECK(default_schedule(odd, "sm_80").pipeline.vector_bytes == 1);

  // JSON round trip and unknown fields (tests/compiler/test_schedule_json.cpp: every error).
  CHECK(canonical_form(schedule_from_json(to_json(s))) == canonical_form(s));
  CHECK_THROWS_AS(schedule_from_json(nlohmann::json{{"family", "simt"}, {"blockm", 4}}), ConfigError);
  CHECK_THROWS_AS(schedule_from_json(nlohmann::json{{"family", "wgmma2"}}), ConfigError);
}

TEST_CASE("launch shapes cover the output", "[codegen]") {
  const MatmulConfig config = w4a16_quantized_zeros();
  const KernelPlan plan = plan_kernel(config, default_schedule(config, "sm_80"), "sm_80");
  const LaunchShape shape = launch_shape(plan, 255);
  CHECK(shape.grid[0] * uint32_t(plan.schedule.tile.n) >= uint32_t(config.N));
  CHECK(shape.grid[1] * uint32_t(plan.schedule.tile.m) >= 255u);
  CHECK((shape.grid[1] - 1) * uint32_t(plan.schedule.tile.m) < 255u);
  CHECK(shape.block[0] == 128u);
  CHECK_THROWS_AS(launch_shape(plan, 0), ConfigError);
}

// NVVM's optimizer is ~90% of a compile (230 ms of PTX for one config here, 22 ms with -G), so every
// variant goes through the front end to unoptimized PTX (-G) for both archs, and one config of each
// (A, W, accum, out, zeros mode) combination is compiled in full, optimized and assembled to a
// cubin: the inline assembly that only ptxas checks differs along those axes alone.
// [sampled]: in CI every 31st config of the matrix (a prime stride, so that no loop of the
// enumeration is always or never taken) and the first of each weight format, which is assembled
// (the others to PTX only); the whole matrix, each combination of formats assembled once, with
// BITJIT_TEST_FULL=1 (ctest's test_compiler.full).
TEST_CASE("every variant of the format matrix compiles with NVRTC for sm_80 and sm_90a", "[codegen][nvrtc][sampled]") {
  MatmulConfig shape;
  shape.M = MSpec{1, 16};
  shape.N = 40;
  shape.K = 96;
  const std::vector<MatmulConfig> matrix = enumerate_format_matrix(shape, {-1, 32});
  REQUIRE(matrix.size() > 2000);
  std::set<DType> weight_formats;
  std::vector<bool> first_of_format;
  for (const MatmulConfig& c : matrix) first_of_format.push_back(weight_formats.insert(c.W_dtype).second);
  const std::vector<MatmulConfig> configs = testing::take_sample(matrix, 31, first_of_format);
  std::set<std::string> assembled_combinations;
  std::vector<bool> to_cubin(configs.size());  // assembled, not only compiled to PTX
  for (size_t i = 0; i < configs.size(); ++i) {
    const MatmulConfig& c = configs[i];
    std::string combination;
    for (std::string_view part : {to_string(c.A_dtype), to_string(c.W_dtype), to_string(c.accum_dtype),
                                  to_string(c.out_dtype), c.with_zeros ? to_string(c.zeros_mode) : "none"}) {
      combination += std::string(part) + " ";
    }
    // ptxas is most of the time: the CI sample assembles one config per weight format.
    if (!testing::full_run()) combination = to_string(c.W_dtype);
    to_cubin[i] = assembled_combinations.insert(combination).second;
  }

  std::atomic<size_t> compiled{0}, assembled{0};
  auto compile_one = [&](size_t i, const char* arch) {
    const GeneratedKernel kernel = emit_kernel(configs[i], default_schedule(configs[i], arch), arch);
    CompileRequest request{kernel.source, kernel.file_name, arch, {}, canonical_form(configs[i]),
                           to_cubin[i] ? CompileOutput::cubin : CompileOutput::ptx};
    if (!to_cubin[i]) request.extra_flags = {"-G"};
    const CompiledKernel binary = compile_cuda(request);
    if (to_cubin[i] && is_cubin(binary)) ++assembled;
    if (!to_cubin[i] && binary.ptx.find(".entry bitjit_matmul") != std::string::npos) ++compiled;
  };
  const std::vector<std::string> failures = compile_everywhere(configs.size(), {"sm_80", "sm_90a"}, compile_one);
  INFO(configs.size() << " configs; first failure: " << (failures.empty() ? "none" : failures.front()));
  CHECK(failures.empty());
  CHECK(assembled == 2 * assembled_combinations.size());
  CHECK(compiled + assembled == 2 * configs.size());
  WARN(configs.size() << " of the matrix's " << matrix.size() << " configs compiled for sm_80 and sm_90a; "
                      << assembled_combinations.size() << " of them assembled to cubins");
}

namespace {

MatmulConfig w4a16_many_rows() { return w4a16_g128_config(MSpec::buckets({1, 64, 4096}), 8192, 8192); }

// schedule_error_on for `schedule` after `change(schedule)`.
template <class Change>
std::string error_after(const MatmulConfig& config, TileSchedule schedule, Change change, const std::string& arch) {
  change(schedule);
  return schedule_error_on(config, schedule, arch);
}

}  // namespace

// A config with buckets of 16 rows or fewer (tensor_gemv's) packs its weights in runs of 8 k. From 17
// rows sm_80 - sm_89 run tensor_gemm on them; sm_90a runs the Hopper family, which gathers them into
// fragment order after loading (kStoredRun 8), so every bucket reads the one copy of the weights.
TEST_CASE("more than 16 rows get tensor_gemm sized to the arch, or on sm_90a the Hopper family on the same weights", "[codegen]") {
  const MatmulConfig config = w4a16_many_rows();
  for (const char* arch : {"sm_80", "sm_86", "sm_89"}) {
    const TileSchedule s = default_schedule(config, arch);
    INFO(arch << " " << canonical_form(s));
    CHECK(s.family == KernelFamily::tensor_gemm);
    CHECK(s.tile.m == 128);
    CHECK(block_threads(s) == 32 * s.warps.m * s.warps.n);
    CHECK(s.pipeline.stages >= 2);
    CHECK(dynamic_shared_bytes(config, s) <= (std::string(arch) == "sm_86" || std::string(arch) == "sm_89" ? 101376 : 166912));
    const std::string source = emit_cuda(plan_kernel(config, s, arch));
    CHECK(contains(source, "bitjit::tensor_gemm<Problem, Tiles>"));
    CHECK(contains(source, "static constexpr int kRun = 8;"));
  }
  for (int64_t rows : {64, 4096}) {
    const TileSchedule hopper = default_schedule(config, "sm_90a", rows);
    INFO(rows << " rows: " << canonical_form(hopper));
    CHECK(hopper.family == KernelFamily::tensor_wgmma_ws);
    CHECK(family_weight_layout(config, hopper.family) == WeightLayout::mma_runs);
    const std::string source = emit_cuda(plan_kernel(config, hopper, "sm_90a"));
    CHECK(contains(source, "static constexpr int kRun = 2;"));
    CHECK(contains(source, "static constexpr int kStoredRun = 8;"));
  }
  CHECK(default_schedule(config, "sm_90a", 1).family == KernelFamily::tensor_gemv);
  // 70B o at 64 rows: 64 blocks of 128 channels (or 128 of 64) would leave SMs idle, so K is split
  // until every SM has two blocks (the tuned choice on the H100 for tensor_gemm; here sm_100a's 148
  // SMs, an arch without wgmma, so tensor_gemm's own default).
  MatmulConfig skinny = config;
  skinny.M = MSpec::buckets({16, 64});
  const TileSchedule s = default_schedule(skinny, "sm_100a", 64);
  CHECK(s.family == KernelFamily::tensor_gemm);
  CHECK(s.tile.m == 64);
  CHECK(s.tile.n == 128);
  CHECK(s.pipeline.split_k == 4);
  // At most 16 rows stay on tensor_gemv; from 17 rows a static M takes the Hopper family's 64-row
  // tiles (faster than tensor_gemm's there: bench/results/2026-11-29-h200-m17-63).
  skinny.M = 16;
  CHECK(default_schedule(skinny, "sm_90a").family == KernelFamily::tensor_gemv);
  for (int64_t rows : {17, 32, 48}) {
    skinny.M = rows;
    CHECK(default_schedule(skinny, "sm_90a").family == KernelFamily::tensor_wgmma_ws);
    CHECK(default_schedule(skinny, "sm_90a").tile.m == (rows <= 32 ? 32 : 64));
    CHECK(default_schedule(skinny, "sm_89").family == KernelFamily::tensor_gemm);
  }

  // The launch: blocks over N and M, slices of K on z, the ring as dynamic shared memory, and the
  // split-K workspace sized for the rows of this call.
  TileSchedule split = default_schedule(config, "sm_80");
  split.pipeline.split_k = 3;
  const LaunchShape shape = launch_shape(plan_kernel(config, split, "sm_80"), 200);
  CHECK(shape.grid[0] == uint32_t(8192 / split.tile.n));
  CHECK(shape.grid[1] == 2u);
  CHECK(shape.grid[2] == 3u);
  CHECK(shape.shared_bytes == uint32_t(dynamic_shared_bytes(config, split)));
  CHECK(shape.workspace_bytes == 3 * 200 * 8192 * 4);
  CHECK(shape.tile_counters == int64_t(shape.grid[0]) * 2);
}

// BitBLAS's default buckets (MSpec's: 1, 16, 32, ..., 1024, what every bitjit.Linear gets) on sm_90a:
// tensor_gemv for 1 and 16 rows, the Hopper family from 32, all on one copy of the weights in runs of
// 8 k, for int4 and uint4 with packed zero points, fp16 and bf16 activations; tensor_gemm from 32 on
// sm_89. The 70B shapes of the suite.
TEST_CASE("the default buckets run tensor_gemv up to 16 rows and the Hopper family above on sm_90a", "[codegen]") {
  for (const auto& [N, K] : {std::pair<int64_t, int64_t>{10240, 8192}, {8192, 8192}, {57344, 8192}, {8192, 28672}})
    for (DType activations : {DType::float16, DType::bfloat16})
      for (bool zeros : {false, true}) {
        MatmulConfig config = w4a16_g128_config(MSpec(), N, K);
        config.A_dtype = config.out_dtype = activations;
        if (zeros) {
          config.W_dtype = DType::uint4;
          config.with_zeros = true;
          config.zeros_mode = ZerosMode::quantized;
        }
        INFO(canonical_form(config));
        for (int64_t rows : config.M.values()) {
          const KernelFamily expected = rows <= 16 ? KernelFamily::tensor_gemv : KernelFamily::tensor_wgmma_ws;
          CHECK(default_schedule(config, "sm_90a", rows).family == expected);
          if (rows > 16) CHECK(default_schedule(config, "sm_89", rows).family == KernelFamily::tensor_gemm);
          CHECK(family_weight_layout(config, default_schedule(config, "sm_90a", rows).family) == WeightLayout::mma_runs);
        }
      }
}

// The Hopper kernels that gather runs of 8 into fragment order, one per weight format that gets them
// (codes of at most 4 bits), with fp16 or bf16 by the format: the default at 4096 rows of a dynamic M from
// one row compiles to a cubin for sm_90a (its results are checked on the GPU: test_gpu "the Hopper
// families read tensor_gemv's runs of 8 and match the reference").
TEST_CASE("the Hopper kernels reading runs of 8 compile for every format of at most 4 bits", "[codegen][nvrtc]") {
  MatmulConfig shape;
  shape.M = MSpec::buckets({1, 16, 4096});
  shape.N = 4096;
  shape.K = 4096;
  std::set<DType> compiled;
  for (const MatmulConfig& config : enumerate_format_matrix(shape, {128})) {
    const std::optional<MmaRunLayout> layout = wgmma_layout(config);
    if (!layout || layout->run != 8 || compiled.count(config.W_dtype)) continue;
    if (config.A_dtype != (int(config.W_dtype) % 2 == 0 ? DType::float16 : DType::bfloat16)) continue;
    const TileSchedule s = default_schedule(config, "sm_90a", 4096);
    INFO(canonical_form(config) << " " << canonical_form(s));
    CHECK(s.family == KernelFamily::tensor_wgmma_ws);
    CHECK(default_schedule(config, "sm_90a", 16).family == KernelFamily::tensor_gemv);
    const GeneratedKernel kernel = emit_kernel(config, s, "sm_90a");
    CHECK(contains(kernel.source, "static constexpr int kStoredRun = 8;"));
    CHECK(contains(kernel.source, "static constexpr bool kChannelTiles = true;"));  // N whole tiles: 4-D TMA boxes
    CHECK(is_cubin(assemble(kernel, "sm_90a", config)));
    compiled.insert(config.W_dtype);
  }
  CHECK(compiled.count(DType::int4) + compiled.count(DType::uint4) + compiled.count(DType::nf4) +
            compiled.count(DType::fp4_e2m1) == 4);
  CHECK(compiled.size() >= 6);
}

// tensor_gemv split along K: blockIdx.z slices of the k-blocks, the float32 workspace and the tile
// counters of tensor_gemm's split-K, fp16 / bf16 activations only; the kernel compiles for sm_80 and
// sm_90a (its results are checked on the GPU: test_gpu "tensor_gemv matches the reference split along K").
TEST_CASE("tensor_gemv splits K across blocks", "[codegen][nvrtc]") {
  MatmulConfig config = w4a16_quantized_zeros();
  config.K = 4096;
  config.group_size = 128;
  TileSchedule s = default_schedule(config, "sm_80");
  REQUIRE(s.family == KernelFamily::tensor_gemv);
  s.pipeline.split_k = 3;
  CHECK(schedule_error(config, s).empty());
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const GeneratedKernel kernel = emit_kernel(config, s, arch);
    CHECK(contains(kernel.source, "static constexpr int kSplitK = 3;"));
    CHECK(is_cubin(assemble(kernel, arch, config)));
  }
  const LaunchShape shape = launch_shape(plan_kernel(config, s, "sm_80"), 3);
  CHECK(shape.grid[0] == uint32_t((40 + s.tile.n - 1) / s.tile.n));
  CHECK(shape.grid[1] == 1u);
  CHECK(shape.grid[2] == 3u);
  CHECK(shape.shared_bytes == 0u);
  CHECK(shape.workspace_bytes == 3 * 3 * 40 * 4);
  CHECK(shape.tile_counters == int64_t(shape.grid[0]));
  s.pipeline.split_k = 1;
  CHECK(launch_shape(plan_kernel(config, s, "sm_80"), 3).workspace_bytes == 0);
  MatmulConfig int8_activations = config;
  int8_activations.A_dtype = DType::int8;
  int8_activations.with_zeros = false;
  TileSchedule byte_split = default_schedule(int8_activations, "sm_80");
  REQUIRE(byte_split.family == KernelFamily::tensor_gemv);
  byte_split.pipeline.split_k = 2;
  CHECK(contains(schedule_error(int8_activations, byte_split),
                 "pipeline.split_k=2: tensor_gemv with int8 activations takes pipeline.split_k=1"));
  // Among the tuner's candidates for fp16 / bf16 activations, not for int8 ones.
  const std::vector<RankedSchedule> ranked = candidate_schedules(config, TargetDevice::from_arch("sm_80"), 1);
  CHECK(std::any_of(ranked.begin(), ranked.end(), [](const RankedSchedule& r) { return r.schedule.pipeline.split_k > 1; }));
  const std::vector<RankedSchedule> ranked_int8 =
      candidate_schedules(int8_activations, TargetDevice::from_arch("sm_80"), 1);
  CHECK(std::none_of(ranked_int8.begin(), ranked_int8.end(),
                     [](const RankedSchedule& r) { return r.schedule.pipeline.split_k > 1; }));
}

// pipeline.k_per_stage on tensor_gemv: 2, 4 or 8 rounds a step of the warps' k-loop, unrolled
// (kRoundsPerStep); 0 keeps a round a step. Refused by value otherwise, and for int8 activations; the
// unrolled loop reaches the machine code (a larger cubin), for sm_80 and sm_90a. Its results are
// checked on the GPU: test_gpu "tensor_gemv matches the reference split along K", variants 9 to 11.
TEST_CASE("tensor_gemv unrolls its k-loop by pipeline.k_per_stage", "[codegen][nvrtc]") {
  MatmulConfig config = w4a16_quantized_zeros();
  config.M = 8;
  config.K = 4096;
  config.group_size = 128;
  TileSchedule s = default_schedule(config, "sm_90a");
  REQUIRE(s.family == KernelFamily::tensor_gemv);
  REQUIRE(s.pipeline.k_per_stage == 0);
  const int round = s.pipeline.k_per_round;
  CHECK(contains(emit_kernel(config, s, "sm_90a").source, "static constexpr int kRoundsPerStep = 1;"));
  for (int rounds : {2, 4, 8}) {
    s.pipeline.k_per_stage = rounds * round;
    CHECK(schedule_error(config, s).empty());
  }
  for (int k : {round, 3 * round, 16 * round, round / 2}) {
    s.pipeline.k_per_stage = k;
    CHECK(contains(schedule_error(config, s), "pipeline.k_per_stage=" + std::to_string(k) +
                                                  " must be 0 (a round a loop step) or 2, 4 or 8 rounds of "
                                                  "pipeline.k_per_round=" + std::to_string(round)));
  }
  MatmulConfig int8_activations = config;
  int8_activations.A_dtype = DType::int8;
  int8_activations.with_zeros = false;
  TileSchedule byte_schedule = default_schedule(int8_activations, "sm_90a");
  REQUIRE(byte_schedule.family == KernelFamily::tensor_gemv);
  byte_schedule.pipeline.k_per_stage = 2 * byte_schedule.pipeline.k_per_round;
  CHECK(contains(schedule_error(int8_activations, byte_schedule),
                 "tensor_gemv with int8 activations takes pipeline.k_per_stage=0"));
  for (const char* arch : {"sm_80", "sm_90a"}) {
    TileSchedule rolled = default_schedule(config, arch);
    REQUIRE(rolled.family == KernelFamily::tensor_gemv);
    TileSchedule unrolled = rolled;
    unrolled.pipeline.k_per_stage = 4 * unrolled.pipeline.k_per_round;
    const GeneratedKernel kernel = emit_kernel(config, unrolled, arch);
    CHECK(contains(kernel.source, "static constexpr int kRoundsPerStep = 4;"));
    const size_t unrolled_bytes = assemble(kernel, arch, config).cubin.size();
    const size_t rolled_bytes = assemble(emit_kernel(config, rolled, arch), arch, config).cubin.size();
    INFO(arch << ": cubin bytes unrolled " << unrolled_bytes << ", rolled " << rolled_bytes);
    CHECK(unrolled_bytes > rolled_bytes * 13 / 10);
  }
  // The tuner times both at up to 8 rows (fp16 / bf16), not for int8 activations.
  const auto unrolled = [](const RankedSchedule& r) {
    return r.schedule.family == KernelFamily::tensor_gemv && r.schedule.pipeline.k_per_stage > 0;
  };
  const std::vector<RankedSchedule> ranked = candidate_schedules(config, TargetDevice::from_arch("sm_90a"), 8);
  CHECK(std::any_of(ranked.begin(), ranked.end(), unrolled));
  CHECK(std::none_of(ranked.begin(), ranked.end(), [&unrolled](const RankedSchedule& r) {
    return unrolled(r) && (r.schedule.tile.m > 8 || r.schedule.pipeline.split_k > 1);
  }));
  const std::vector<RankedSchedule> ranked_int8 = candidate_schedules(int8_activations, TargetDevice::from_arch("sm_90a"), 8);
  CHECK(std::none_of(ranked_int8.begin(), ranked_int8.end(), unrolled));
}

// The default's rounds a step (unroll_rounds_where_they_pay): four at up to 8 rows on 4-warp unsplit
// blocks of two channel tiles a warp (any 2- or 4-bit format there), and for int4 / uint4 codes
// without zero points as values on at most five blocks an SM; a round a step elsewhere (one tile a
// warp on many blocks; nf4, fp4 and zero points as values on few blocks; 8-warp blocks; 16 rows; int8
// activations).
TEST_CASE("tensor_gemv's default unrolls four rounds a step where they measured faster", "[codegen]") {
  MatmulConfig config = w4a16_quantized_zeros();
  config.with_zeros = config.with_bias = false;
  config.group_size = 128;
  struct Case {
    DType W;
    ZerosMode zeros;  // original: none unless with_zeros
    bool with_zeros;
    int64_t N, K, M;
    bool unrolled;
  };
  const Case cases[] = {
      {DType::int4, ZerosMode::original, false, 57344, 8192, 8, true},    // 70B gate_up, two tiles
      {DType::nf4, ZerosMode::original, false, 57344, 8192, 8, true},     // two tiles: every format
      {DType::int2, ZerosMode::original, false, 28672, 4096, 8, true},
      {DType::int4, ZerosMode::original, false, 57344, 8192, 1, false},   // one tile, many blocks
      {DType::int4, ZerosMode::original, false, 8192, 28672, 1, true},    // 70B down: few blocks
      {DType::int4, ZerosMode::original, false, 10240, 8192, 8, true},    // 70B qkv: five an SM
      {DType::uint4, ZerosMode::quantized, true, 8192, 8192, 1, true},    // packed zeros
      {DType::uint4, ZerosMode::original, true, 8192, 8192, 1, false},    // zeros as values
      {DType::nf4, ZerosMode::original, false, 10240, 8192, 1, false},    // nf4 on few blocks
      {DType::nf4, ZerosMode::original, false, 57344, 8192, 1, false},    // nf4's two tiles of whole loads
      {DType::fp4_e2m1, ZerosMode::original, false, 8192, 8192, 1, false},
      {DType::int4, ZerosMode::original, false, 4096, 4096, 1, false},    // 8B o: eight warps
      {DType::int4, ZerosMode::original, false, 57344, 8192, 16, false},  // 16 rows
      {DType::int4, ZerosMode::original, false, 8192, 28672, 16, false},
  };
  for (const Case& c : cases) {
    MatmulConfig m = config;
    m.W_dtype = c.W;
    m.with_zeros = c.with_zeros;
    m.zeros_mode = c.zeros;
    m.N = c.N, m.K = c.K, m.M = c.M;
    INFO(to_string(c.W) << " zeros " << c.with_zeros << " N=" << c.N << " K=" << c.K << " M=" << c.M);
    const TileSchedule s = default_schedule(m, "sm_90a");
    REQUIRE(s.family == KernelFamily::tensor_gemv);
    CHECK(s.pipeline.k_per_stage == (c.unrolled ? 4 * s.pipeline.k_per_round : 0));
    CHECK(schedule_error_on(m, s, "sm_90a").empty());
  }
  MatmulConfig bf16 = config;
  bf16.A_dtype = bf16.out_dtype = DType::bfloat16;
  bf16.W_dtype = DType::int4;
  bf16.N = 8192, bf16.K = 28672, bf16.M = 1;
  const TileSchedule bf16_schedule = default_schedule(bf16, "sm_90a");
  CHECK(bf16_schedule.pipeline.k_per_stage == 4 * bf16_schedule.pipeline.k_per_round);
  MatmulConfig int8_activations = bf16;
  int8_activations.A_dtype = DType::int8;
  int8_activations.group_size = -1;
  int8_activations.accum_dtype = int8_activations.out_dtype = DType::int32;
  CHECK(default_schedule(int8_activations, "sm_90a").pipeline.k_per_stage == 0);
}

// pipeline.stages = 2 on tensor_gemv: the next k-block's activations are loaded during this one
// (kActivationsAhead); fp16 / bf16 activations in runs of whole 16-byte quads only, refused by name
// otherwise; it compiles for sm_80 and sm_90a with 8 and 16 rows, split and unsplit (its results are
// checked on the GPU: test_gpu "tensor_gemv matches the reference split along K", variants 6 and 7).
TEST_CASE("tensor_gemv loads the activations a k-block ahead at pipeline.stages 2", "[codegen][nvrtc]") {
  BITJIT_RANDOM_ENGINE(rng);
  const int64_t rows = std::uniform_int_distribution<int64_t>(1, 16)(rng);
  const MatmulConfig config = w4a16_g128_config(MSpec::buckets({rows, 64}), 256, 2048);
  TileSchedule s = default_schedule(config, "sm_80", rows);
  REQUIRE(s.family == KernelFamily::tensor_gemv);
  INFO(canonical_form(s));
  for (int split_k : {1, 2}) {
    s.pipeline.stages = 2;
    s.pipeline.split_k = split_k;
    REQUIRE(schedule_error(config, s).empty());
    for (const char* arch : {"sm_80", "sm_90a"}) {
      const GeneratedKernel kernel = emit_kernel(config, s, arch);
      CHECK(contains(kernel.source, "static constexpr bool kActivationsAhead = true;"));
      CHECK(is_cubin(assemble(kernel, arch, config)));
    }
    s.pipeline.stages = 1;
    CHECK(contains(emit_kernel(config, s, "sm_80").source, "static constexpr bool kActivationsAhead = false;"));
  }
  s.pipeline.stages = 3;
  CHECK(contains(schedule_error(config, s), "pipeline.stages=3: tensor_gemv takes 1 (activations loaded as each "
                                            "k-block starts) or 2 (a k-block ahead)"));
  // Runs of 4 k (int8 weights in groups of 16): 8-byte activation loads, nothing to take a quad ahead.
  MatmulConfig runs_of_4 = config;
  runs_of_4.W_dtype = DType::int8;
  runs_of_4.group_size = 16;
  TileSchedule short_runs = default_schedule(runs_of_4, "sm_80", rows);
  REQUIRE(short_runs.family == KernelFamily::tensor_gemv);
  short_runs.pipeline.stages = 2;
  CHECK(contains(schedule_error(runs_of_4, short_runs), "needs runs of 8 k or more (16-byte activation loads); this "
                                                        "config's layout has runs of 4"));
  MatmulConfig int8_activations = config;
  int8_activations.A_dtype = DType::int8;
  TileSchedule bytes = default_schedule(int8_activations, "sm_80", rows);
  REQUIRE(bytes.family == KernelFamily::tensor_gemv);
  bytes.pipeline.stages = 2;
  CHECK(contains(schedule_error(int8_activations, bytes),
                 "pipeline.stages=2 (activations a k-block ahead): tensor_gemv with int8 activations takes "
                 "pipeline.stages=1"));
}

// The default splits K where few channel blocks stream a long K at 9 to 16 rows (slices of at least
// 7168 k, at most four, while the blocks are under four per SM; never at up to 8 rows), and widens
// where the blocks would be under two per SM: one channel tile per warp (9 to 16 rows; fewer rows
// have that already), then eight warps
// (families/tensor_gemv.cpp has the measurements). The suite's shapes on sm_90a (132 SMs): 8B o has
// 256 blocks at one row, under the 264 of two per SM; 8B qkv's 384 are not. Eight warps need eight
// rounds of K (256 k each at one row for int4). The activations go a k-block ahead where that measured
// faster (activations_ahead_pays, families/tensor_gemv.cpp).
TEST_CASE("tensor_gemv's default splits a long K and widens few blocks", "[codegen]") {
  MatmulConfig config = w4a16_quantized_zeros();
  config.with_zeros = false;
  config.group_size = 128;
  struct Case {
    int64_t N, K, M;
    int split, tile_n, warps_k, stages, zero_value_stages;
  };
  // stages 2 (the activations a k-block ahead): 9 to 16 rows split along K, and up to 8 rows (never
  // split) on at most five blocks an SM (660 on 132 SMs): 8B down's 256 at one row (on eight warps: under
  // two an SM), 70B down's 512, not 70B qkv's 768. Zero points as values: up to 8 rows on at most four
  // blocks an SM (528: 70B qkv's 640 not), 9 to 16 rows split along K with two channel tiles a warp
  // (70B down, not 8B down's one).
  for (const Case& c : {Case{4096, 14336, 1, 1, 16, 8, 2, 2}, Case{4096, 14336, 16, 2, 16, 4, 2, 1},
                        Case{8192, 28672, 1, 1, 16, 4, 2, 2}, Case{8192, 28672, 16, 4, 32, 4, 2, 2},
                        Case{8192, 8192, 16, 1, 16, 4, 1, 1}, Case{4096, 4096, 1, 1, 16, 8, 2, 2},
                        Case{6144, 4096, 1, 1, 16, 4, 2, 2}, Case{8192, 8192, 1, 1, 16, 4, 2, 2},
                        Case{4096, 4096, 16, 1, 16, 8, 1, 1}, Case{6144, 4096, 16, 1, 16, 4, 1, 1},
                        Case{10240, 8192, 16, 1, 32, 4, 1, 1}, Case{57344, 8192, 1, 1, 16, 4, 1, 1},
                        Case{28672, 28672, 1, 1, 16, 4, 1, 1}, Case{256, 1024, 1, 1, 16, 4, 2, 2},
                        Case{256, 2048, 1, 1, 16, 8, 2, 2}, Case{10240, 8192, 1, 1, 16, 4, 2, 1}}) {
    config.N = c.N, config.K = c.K, config.M = c.M;
    INFO("N=" << c.N << " K=" << c.K << " M=" << c.M);
    const TileSchedule s = default_schedule(config, "sm_90a");
    REQUIRE(s.family == KernelFamily::tensor_gemv);
    CHECK(s.pipeline.split_k == c.split);
    CHECK(s.tile.n == c.tile_n);
    CHECK(s.warps.k == c.warps_k);
    CHECK(s.pipeline.stages == c.stages);
    CHECK(schedule_error_on(config, s, "sm_90a").empty());
    // Blocks of four warps at up to 8 rows over four an SM but at most five (70B qkv's 640 at one row)
    // are bounded to five an SM, so that a kernel of more than 102 registers still runs in one wave.
    const int one_wave_bound = c.M <= 8 && c.N == 10240 ? 5 : 0;
    // Where it measured slower, the activations stay as each k-block starts: packed zero points, zero
    // points as values past their own rule; int2 and int1 (8 and 16 activation loads a k-block and row
    // half). nf4 and int8 per channel take it as int4 does.
    for (ZerosMode mode : {ZerosMode::quantized, ZerosMode::original}) {
      MatmulConfig zeros = config;
      zeros.W_dtype = DType::uint4;
      zeros.with_zeros = true;
      zeros.zeros_mode = mode;
      const TileSchedule with_zeros = default_schedule(zeros, "sm_90a");
      const int stages = mode == ZerosMode::quantized ? 1 : c.zero_value_stages;
      CHECK(with_zeros.pipeline.stages == stages);
      // 16-row tiles of 4 warps under a launch bound of 4 blocks an SM (128 registers, not the
      // compiler's 140), 3 with the activations ahead; 8-warp blocks keep the compiler's count, as do
      // up to 8 rows but for the one-wave bound.
      CHECK(with_zeros.launch.blocks_per_sm == (c.M > 8 && c.warps_k == 4 ? (stages == 2 ? 3 : 4) : one_wave_bound));
      CHECK(schedule_error_on(zeros, with_zeros, "sm_90a").empty());
      if (c.M > 8) {
        MatmulConfig dynamic = zeros;
        dynamic.M = MSpec::buckets({1, c.M, 64});
        CHECK(default_schedule(dynamic, "sm_90a", c.M).launch.blocks_per_sm == with_zeros.launch.blocks_per_sm);
      } else {  // a dynamic M's runs of 8 take it as the static one's whole-load runs do
        MatmulConfig dynamic = zeros;
        dynamic.M = MSpec::buckets({c.M, 64});
        CHECK(default_schedule(dynamic, "sm_90a", c.M).pipeline.stages == stages);
      }
    }
    CHECK(s.launch.blocks_per_sm == one_wave_bound);
    for (DType narrow : {DType::int2, DType::int1}) {
      MatmulConfig few_bits = config;
      few_bits.W_dtype = narrow;
      CHECK(default_schedule(few_bits, "sm_90a").pipeline.stages == 1);
    }
    MatmulConfig nf4 = config;
    nf4.W_dtype = DType::nf4;
    CHECK(default_schedule(nf4, "sm_90a").pipeline.stages == c.stages);
    MatmulConfig per_channel = config;
    per_channel.W_dtype = DType::int8;
    per_channel.group_size = -1;
    CHECK(default_schedule(per_channel, "sm_90a").pipeline.stages == c.stages);
    // The one-wave bound is for runs of 8 only: nf4 at one row and int8 read whole loads (nf4 measured
    // slower under it), as do 2-bit codes at 3 rows.
    CHECK(default_schedule(nf4, "sm_90a").launch.blocks_per_sm == (c.M == 1 ? 0 : one_wave_bound));
    CHECK(default_schedule(per_channel, "sm_90a").launch.blocks_per_sm == 0);
    MatmulConfig int2_three_rows = config;
    int2_three_rows.W_dtype = DType::int2;
    int2_three_rows.M = c.M == 1 ? 3 : c.M;
    CHECK(default_schedule(int2_three_rows, "sm_90a").launch.blocks_per_sm == (c.M == 1 ? 0 : one_wave_bound));
    if (c.M <= 8) {  // a dynamic M's runs of 8 take it as the static one's whole-load runs do
      MatmulConfig dynamic = config;
      dynamic.M = MSpec::buckets({c.M, 64});
      CHECK(default_schedule(dynamic, "sm_90a", c.M).pipeline.stages == c.stages);
    }
  }
  config.N = 4096, config.K = 14336, config.M = 16;
  config.A_dtype = DType::int8;
  const TileSchedule int8_activations = default_schedule(config, "sm_90a");
  REQUIRE(int8_activations.family == KernelFamily::tensor_gemv);
  CHECK(int8_activations.pipeline.split_k == 1);
  CHECK(int8_activations.tile.n == 32);
  CHECK(int8_activations.warps.k == 4);
  CHECK(int8_activations.pipeline.stages == 1);
  config.W_dtype = DType::uint4;  // zero points with 8-bit activations: untimed, no launch bound
  config.with_zeros = true;
  CHECK(default_schedule(config, "sm_90a").launch.blocks_per_sm == 0);
}

// Codes of 1 or 2 bits at up to 8 rows with fp16 activations pair two channel tiles a warp on eight
// warps, one k-block a round, where those blocks are one to two an SM (132 to 264 on 132 SMs): the
// 8192-channel 70B o and down (256) and 8B qkv (192); not 70B qkv (320) nor gate_up, not 4096
// channels (128: SMs idle); never with zero points, bf16 activations, int4, 16 rows, or on runs of 8:
// a dynamic M's (its one-row bucket keeps 16-channel tiles), and int2's at one row and above 4 rows
// (compiler/families/select.cpp), so int2 pairs at 2 to 4 rows, int1 at 1 to 8.
TEST_CASE("tensor_gemv's default pairs channel tiles for 1- and 2-bit codes where blocks are few", "[codegen]") {
  MatmulConfig config = w4a16_quantized_zeros();
  config.with_zeros = false;
  config.group_size = 128;
  for (DType narrow : {DType::int2, DType::int1}) {
    config.W_dtype = narrow;
    config.M = narrow == DType::int2 ? 3 : 1;
    const int k_block = narrow == DType::int2 ? 256 : 512;  // one 16-byte load of codes a lane, four lanes
    for (const auto& [N, K, paired] : {std::tuple{8192, 8192, true}, {8192, 28672, true}, {6144, 4096, true},
                                        {10240, 8192, false}, {57344, 8192, false}, {4096, 4096, false},
                                        {4096, 14336, false}}) {
      config.N = N, config.K = K;
      INFO(to_string(narrow) << " N=" << N << " K=" << K);
      const TileSchedule s = default_schedule(config, "sm_90a");
      REQUIRE(s.family == KernelFamily::tensor_gemv);
      CHECK(s.tile.n == (paired ? 32 : 16));
      CHECK(s.pipeline.k_per_round == (paired ? k_block : 2 * k_block));
      if (paired) CHECK(s.warps.k == 8);
      CHECK(schedule_error_on(config, s, "sm_90a").empty());
      MatmulConfig bf16 = config;
      bf16.A_dtype = bf16.out_dtype = DType::bfloat16;
      CHECK(default_schedule(bf16, "sm_90a").tile.n == 16);
      MatmulConfig zeros = config;
      zeros.W_dtype = narrow == DType::int2 ? DType::uint2 : DType::uint1;
      zeros.with_zeros = true;
      CHECK(default_schedule(zeros, "sm_90a").tile.n == 16);
      MatmulConfig int4 = config;
      int4.W_dtype = DType::int4;
      CHECK(default_schedule(int4, "sm_90a").tile.n == 16);
      MatmulConfig sixteen = config;
      sixteen.M = 16;
      if (paired) CHECK(default_schedule(sixteen, "sm_90a").warps.k == 4);
      MatmulConfig dynamic = config;
      dynamic.M = MSpec::buckets({1, 16, 64});
      CHECK(default_schedule(dynamic, "sm_90a", 1).tile.n == 16);
      for (int64_t runs_of_8_rows : {1, 6}) {
        MatmulConfig runs = config;
        runs.M = runs_of_8_rows;
        const bool int2_runs_of_8 = narrow == DType::int2;
        // int2 at 6 rows of gate_up's many blocks: two tiles a warp by two_tiles_for_many_blocks
        const bool many_blocks = int2_runs_of_8 && runs_of_8_rows == 6 && N == 57344;
        CHECK(default_schedule(runs, "sm_90a").tile.n == ((paired && !int2_runs_of_8) || many_blocks ? 32 : 16));
      }
    }
  }
}

// 5 to 8 rows of 2- or 4-bit codes (runs of 8) with fp16 / bf16 activations, where 16-channel tiles
// make at least 8 blocks an SM (1056 on 132 SMs: the gate_up shapes' 1792 and 3584), take two channel
// tiles a warp and one k-block a round; not 70B qkv's 640, not 4 rows (whole loads), one row, 1- or
// 8-bit codes, or 8-bit activations.
TEST_CASE("tensor_gemv's default gives many blocks of 5 to 8 rows two channel tiles a warp", "[codegen]") {
  MatmulConfig config = w4a16_quantized_zeros();
  config.with_zeros = false;
  config.group_size = 128;
  struct Format {
    DType W, A;
    bool zeros;
  };
  for (const Format& f : {Format{DType::int4, DType::float16, false}, Format{DType::uint4, DType::float16, true},
                          Format{DType::nf4, DType::float16, false}, Format{DType::int2, DType::float16, false},
                          Format{DType::fp4_e2m1, DType::float16, false}, Format{DType::int4, DType::bfloat16, false}}) {
    for (const auto& [N, K, many] : {std::tuple{28672, 4096, true}, {57344, 8192, true}, {10240, 8192, false},
                                     {8192, 28672, false}}) {
      for (int64_t M : {1, 4, 5, 8}) {
        MatmulConfig c = config;
        c.W_dtype = f.W;
        c.A_dtype = c.out_dtype = f.A;
        c.with_zeros = f.zeros;
        c.N = N, c.K = K, c.M = M;
        INFO(to_string(f.W) << " " << to_string(f.A) << " N=" << N << " K=" << K << " M=" << M);
        const TileSchedule s = default_schedule(c, "sm_90a");
        REQUIRE(s.family == KernelFamily::tensor_gemv);
        const int k_block = mma_run_layout(c)->k_block(info(f.W).bits);
        const bool two_tiles = many && M > 4;
        // int2 at 4 rows (whole loads) pairs tiles on 70B down's few blocks instead (the test above)
        const bool paired = f.W == DType::int2 && f.A == DType::float16 && M == 4 && N == 8192;
        // nf4 at one row pairs tiles on many blocks for its table fills (the test below)
        const bool table_fills = f.W == DType::nf4 && f.A == DType::float16 && M == 1 && many;
        CHECK(s.tile.n == (two_tiles || paired || table_fills ? 32 : 16));
        if (two_tiles) CHECK(s.pipeline.k_per_round == k_block);
        CHECK(schedule_error_on(c, s, "sm_90a").empty());
      }
    }
  }
  // 18432 channels: 1152 blocks of 16 (8.7 an SM) become 576 of 32 (4.4 an SM), where the activations
  // ahead and the one-wave bound would otherwise apply; the two tiles take neither (never timed so).
  config.N = 18432, config.K = 4096, config.M = 8;
  const TileSchedule two_tiles = default_schedule(config, "sm_90a");
  CHECK(two_tiles.tile.n == 32);
  CHECK(two_tiles.pipeline.stages == 1);
  CHECK(two_tiles.launch.blocks_per_sm == 0);
  config.N = 28672, config.K = 4096, config.M = 8;
  for (DType other : {DType::int1, DType::int8}) {
    MatmulConfig c = config;
    c.W_dtype = other;
    if (other == DType::int8) c.group_size = -1;
    CHECK(default_schedule(c, "sm_90a").tile.n == 16);
  }
  MatmulConfig int8_activations = config;
  int8_activations.A_dtype = DType::int8;
  int8_activations.group_size = -1;
  int8_activations.accum_dtype = int8_activations.out_dtype = DType::int32;
  CHECK(default_schedule(int8_activations, "sm_90a").tile.n != 32);
}

TEST_CASE("tensor_gemm schedules are checked field by field", "[codegen]") {
  const MatmulConfig config = w4a16_many_rows();
  const TileSchedule good = default_schedule(config, "sm_80");
  CHECK(schedule_error_on(config, good, "sm_80").empty());
  auto error_with = [&](auto change, const std::string& arch = "sm_80") { return error_after(config, good, change, arch); };
  CHECK(contains(error_with([](TileSchedule& s) { s.warps.k = 2; }), "warps.k=2: tensor_gemm takes warps.k=1"));
  CHECK(contains(error_with([](TileSchedule& s) { s.warps = {.m = 4, .n = 8, .k = 1}; }), "at most 16 (512 threads)"));
  CHECK(contains(error_with([](TileSchedule& s) { s.warps.n = 3, s.tile.n = 96; }), "powers of two"));
  CHECK(contains(error_with([](TileSchedule& s) { s.tile.m = 132; }), "tile.m=132 must be 8..256 and a multiple of"));
  CHECK(contains(error_with([](TileSchedule& s) { s.tile.n = 72; }), "tile.n=72 must be 16..256"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.k_per_stage = 192; }),
                 "pipeline.k_per_stage=192 must be 1, 2, 4 or 8 k-blocks of 128"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.k_per_round = 128; }),
                 "pipeline.k_per_round=128: tensor_gemm takes pipeline.k_per_round=0"));
  CHECK(contains(error_with([](TileSchedule& s) { s.launch.raster_group = 8; }),
                 "launch.raster_group=8: tensor_gemm takes launch.raster_group=1"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.stages = 1; }), "pipeline.stages=1 must be 2..8"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.split_k = 100; }), "pipeline.split_k=100 must be 1..16"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.vector_bytes = 8; }), "has 16-byte loads"));
  CHECK(contains(error_with([](TileSchedule& s) { s.tile.m = 256, s.warps.m = 1; }), "128 float accumulators"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.stages = 8; }), "sm_80 allows 166912 per block"));
  CHECK(contains(error_with([](TileSchedule& s) { s.pipeline.stages = 3; }, "sm_86"), "sm_86 allows 101376 per block"));
  // The layout for 2 to 4 rows of int4 has whole-load runs (32 k), which tensor_gemm does not read.
  MatmulConfig few_rows = config;
  few_rows.M = 3;
  CHECK(contains(schedule_error_on(few_rows, good, "sm_80"), "runs of 32 (whole loads, a layout of at most 8 rows)"));
  // int8 activations with zero points (W4A8 without them is tensor_gemm_w4a8's: its own test).
  MatmulConfig int8_activations = config;
  int8_activations.A_dtype = DType::int8;
  int8_activations.W_dtype = DType::uint4;
  int8_activations.with_zeros = true;
  CHECK(contains(schedule_error_on(int8_activations, good, "sm_80"), "family=tensor_gemm needs A_dtype float16 or bfloat16"));
}

// One config per (A, W, zeros mode) combination that tensor_gemm serves, assembled to a cubin for
// every supported arch: the stage count, and so the shared-memory ring, differs between them.
// [sampled]: in CI each config is compiled for one of the four archs, in turn, so that every decode
// path and every arch is compiled; each config for all four with BITJIT_TEST_FULL=1.
TEST_CASE("tensor_gemm compiles for every weight format on sm_80, sm_86, sm_89 and sm_90a", "[codegen][nvrtc][sampled]") {
  MatmulConfig shape;
  shape.M = MSpec::buckets({1, 64});
  shape.N = 40;
  shape.K = 256;
  std::set<std::string> seen;
  std::vector<MatmulConfig> configs;
  for (MatmulConfig c : enumerate_format_matrix(shape, {-1, 32})) {
    if (configs.size() % 2 == 1) c.N = 48;  // every other config in whole tiles of 16 channels: channel tiles
    if (default_schedule(c, "sm_80").family != KernelFamily::tensor_gemm) continue;
    if (seen.insert(decode_path(c)).second) configs.push_back(c);
  }
  REQUIRE(configs.size() >= 20);
  const std::vector<const char*> archs = {"sm_80", "sm_86", "sm_89", "sm_90a"};
  std::atomic<size_t> assembled{0};
  const auto compile_one = [&](size_t i, const char* arch) {
    if (arch == nullptr) arch = archs[i % archs.size()];  // the sample: the arch of config i
    const GeneratedKernel kernel = emit_kernel(configs[i], default_schedule(configs[i], arch), arch);
    if (is_cubin(assemble(kernel, arch, configs[i]))) ++assembled;
  };
  // In the sample one pass with no arch given, so that the progress counts the compiles made.
  const std::vector<std::string> failures =
      compile_everywhere(configs.size(), testing::full_run() ? archs : std::vector<const char*>{nullptr}, compile_one);
  INFO(configs.size() << " configs; first failure: " << (failures.empty() ? "none" : failures.front()));
  CHECK(failures.empty());
  CHECK(assembled == (testing::full_run() ? 4 * configs.size() : configs.size()));
}

// tensor_wgmma schedules: each field checked, and every weight format compiled for sm_90a.
// [sampled]: in CI every 3rd decode path is compiled; all with BITJIT_TEST_FULL=1.
TEST_CASE("tensor_wgmma schedules are checked and compile for every weight format on sm_90a", "[codegen][nvrtc][sampled]") {
  const MatmulConfig config = w4a16_many_rows();
  const TileSchedule s = wgmma_128x128_schedule(3);
  CHECK(schedule_error_on(config, s, "sm_90a").empty());
  CHECK(contains(schedule_error_on(config, s, "sm_80"), "family=tensor_wgmma needs wgmma (archs with it: sm_90a), got arch=sm_80"));
  auto error_with = [&](auto change) { return error_after(config, s, change, "sm_90a"); };
  CHECK(contains(error_with([](TileSchedule& b) { b.tile.m = 96; }), "tile.m=96 must be 64, 128 or 256"));
  // 192 rows are W8A8's alone (its wgmma reads both operands from shared memory).
  CHECK(contains(error_with([](TileSchedule& b) { b.tile.m = 192; }), "tile.m=192 must be 64, 128 or 256 (wgmma N)"));
  CHECK(contains(error_with([](TileSchedule& b) { b.warps.n = 4; }), "warps.n=tile.n/16=8"));
  CHECK(error_with([](TileSchedule& b) { b.pipeline.split_k = 2; }).empty());
  CHECK(contains(error_with([](TileSchedule& b) { b.pipeline.split_k = 17; }), "pipeline.split_k=17 must be 1..16"));
  CHECK(contains(error_with([](TileSchedule& b) { b.pipeline.stages = 8; }), "sm_90a allows"));
  CHECK(contains(error_with([](TileSchedule& b) { b.pipeline.stages = 2; }), "pipeline.stages=2 must be 3..8"));

  MatmulConfig shape;
  shape.M = MSpec::buckets({1, 128});
  shape.N = 40;
  shape.K = 256;
  // The schedule above with each config's load width and 128 k (at least one k-block) per stage;
  // every other config split in two along K.
  const auto fitted_for = [&](const MatmulConfig& c) {
    TileSchedule fitted = s;
    fitted.pipeline.split_k = 1 + int(std::hash<std::string>{}(canonical_form(c)) % 2);
    const MmaRunLayout layout = *mma_run_layout(c);
    fitted.pipeline.vector_bytes = layout.load_bytes;
    const int k_block = layout.k_block(info(c.W_dtype).bits);
    fitted.pipeline.k_per_stage = std::max(k_block, 128 / k_block * k_block);
    return fitted;
  };
  std::set<std::string> seen;
  std::vector<MatmulConfig> configs;
  for (MatmulConfig c : enumerate_format_matrix(shape, {-1, 32})) {
    if (configs.size() % 2 == 1) c.N = 48;  // every other config in whole tiles of 16 channels: channel tiles
    if (!mma_run_layout(c) || !schedule_error_on(c, fitted_for(c), "sm_90a").empty()) continue;
    if (seen.insert(decode_path(c)).second) configs.push_back(c);
  }
  REQUIRE(configs.size() >= 20);
  configs = testing::take_sample(configs, 3);
  std::atomic<size_t> assembled{0};
  const auto compile_one = [&](size_t i, const char* arch) {
    const GeneratedKernel kernel = emit_kernel(configs[i], fitted_for(configs[i]), arch);
    if (is_cubin(assemble(kernel, arch, configs[i]))) ++assembled;
  };
  const std::vector<std::string> failures = compile_everywhere(configs.size(), {"sm_90a"}, compile_one);
  INFO(configs.size() << " configs; first failure: " << (failures.empty() ? "none" : failures.front()));
  CHECK(failures.empty());
  CHECK(assembled == configs.size());
}

// The Hopper families are sm_90a's default when they serve every M bucket (64 rows and up): rows per
// block grow with M, the warp-specialized tensor_wgmma_ws runs unsplit (stream-K fills the SMs at 64
// rows), its channels per block chosen by the weights' size at 64 rows and by the waves of tiles
// above; the weights are packed for both families (mma_fragments; W8A8: plain rows).
// nf4 at one row (static M, whole loads, fp16 activations) on more than 7 blocks of 16 channels an SM
// of sm_90a's 132: two channel tiles a warp, the round and the loop step as they were
// (two_tiles_for_table_fills); not on fewer blocks, at 2 rows, with bf16, on a dynamic M's runs of 8,
// nor for int4.
TEST_CASE("tensor_gemv's default gives nf4 at one row on many blocks two channel tiles a warp", "[codegen]") {
  MatmulConfig config = w4a16_g128_config(1, 57344, 8192);
  config.W_dtype = DType::nf4;
  const int k_block = mma_run_layout(config)->k_block(info(DType::nf4).bits);
  struct Case {
    const char* what;
    int64_t N;
    DType W, A;
    MSpec M;
    bool two_tiles;
  };
  const Case cases[] = {
      {"70B gate_up", 57344, DType::nf4, DType::float16, 1, true},
      {"8B gate_up", 28672, DType::nf4, DType::float16, 1, true},
      {"over 7 blocks an SM", 7 * 132 * 16 + 16, DType::nf4, DType::float16, 1, true},
      {"7 blocks an SM", 7 * 132 * 16, DType::nf4, DType::float16, 1, false},
      {"70B qkv", 10240, DType::nf4, DType::float16, 1, false},
      {"two rows", 57344, DType::nf4, DType::float16, 2, false},
      {"bf16", 57344, DType::nf4, DType::bfloat16, 1, false},
      {"int4", 57344, DType::int4, DType::float16, 1, false},
      {"dynamic M", 57344, DType::nf4, DType::float16, MSpec::buckets({1, 16}), false},
  };
  for (const Case& c : cases) {
    MatmulConfig m = config;
    m.N = c.N;
    m.W_dtype = c.W;
    m.A_dtype = m.out_dtype = c.A;
    m.M = c.M;
    INFO(c.what);
    // a dynamic M's one-row bucket, or the static M
    const TileSchedule s = c.M.is_dynamic() ? default_schedule(m, "sm_90a", 1) : default_schedule(m, "sm_90a");
    REQUIRE(s.family == KernelFamily::tensor_gemv);
    CHECK(s.tile.n == (c.two_tiles ? 32 : 16));
    if (c.two_tiles) {
      CHECK(s.pipeline.k_per_round == 2 * k_block);
      CHECK(s.pipeline.k_per_stage == 0);
      CHECK(s.pipeline.split_k == 1);
    }
    CHECK(schedule_error_on(m, s, "sm_90a").empty());
  }
}

TEST_CASE("tensor_wgmma is sm_90a's default from 64 rows", "[codegen]") {
  const auto chosen = [](MSpec M, int64_t N, int64_t K, const char* arch = "sm_90a") {
    return default_schedule(w4a16_g128_config(M, N, K), arch);
  };
  // 2^26 weights: 64 channels, one consumer warpgroup, two blocks an SM, 5 stages of 128 k.
  const TileSchedule o64 = chosen(64, 8192, 8192);
  CHECK(o64.family == KernelFamily::tensor_wgmma_ws);
  CHECK(o64.tile.m == 64);
  CHECK(o64.tile.n == 64);
  CHECK(o64.launch.blocks_per_sm == 2);
  CHECK(o64.pipeline.k_per_stage == 128);
  CHECK(o64.pipeline.stages == 5);
  CHECK(block_threads(o64) == 256);
  CHECK(o64.pipeline.split_k == 1);
  CHECK(o64.launch.raster_group == 8);
  // Two blocks' rings fit the SM's shared memory, and a dynamic M's 64-row bucket gets the same tiles.
  CHECK(2 * (dynamic_shared_bytes(w4a16_g128_config(64, 8192, 8192), o64) + 1024) <= arch_info("sm_90a").shared_bytes_per_sm);
  const TileSchedule bucket64 = default_schedule(w4a16_g128_config(MSpec::buckets({1, 16, 64, 256}), 8192, 8192), "sm_90a", 64);
  CHECK(bucket64.tile.n == 64);
  CHECK(bucket64.launch.blocks_per_sm == 2);
  const TileSchedule down64 = chosen(64, 8192, 28672);  // 2^27.8 weights: 256 channels, one block an SM
  CHECK(down64.family == KernelFamily::tensor_wgmma_ws);
  CHECK(down64.tile.n == 256);
  CHECK(down64.launch.blocks_per_sm == 0);
  CHECK(down64.pipeline.k_per_stage == 128);
  CHECK(block_threads(down64) == 640);
  const TileSchedule gate_up64 = chosen(64, 57344, 8192);
  CHECK(gate_up64.family == KernelFamily::tensor_wgmma_ws);
  CHECK(gate_up64.tile.n == 256);
  CHECK(gate_up64.pipeline.stages == 4);
  CHECK(chosen(256, 8192, 8192).tile.m == 128);
  CHECK(chosen(256, 8192, 8192).tile.n == 128);    // 128 tiles: one wave
  CHECK(chosen(256, 10240, 8192).tile.n == 192);   // 108 tiles of 192 against 160 of 128
  // 185 to 256 rows on 256 x 128 tiles where those make 1.5 waves (198 on 132 SMs): 8B gate_up's 224
  // and 70B gate_up's 448, on 3 stages; not 80 (70B qkv), nor at 184 rows, nor for int2 (256 k a stage:
  // the tile does not fit) or 8-bit codes (2 stages), which keep 128 rows.
  for (const int64_t N : {28672, 57344}) {
    INFO("N=" << N);
    const TileSchedule tall = chosen(256, N, 4096);
    CHECK(tall.family == KernelFamily::tensor_wgmma_ws);
    CHECK(tall.tile.m == 256);
    CHECK(tall.tile.n == 128);
    CHECK(tall.pipeline.stages == 3);
    CHECK(chosen(185, N, 4096).tile.m == 256);
    CHECK(chosen(192, N, 4096).tile.m == 256);
    CHECK(chosen(184, N, 4096).tile.m == 128);
    const MatmulConfig dynamic = w4a16_g128_config(MSpec::buckets({1, 16, 64, 256, 4096}), N, 4096);
    CHECK(default_schedule(dynamic, "sm_90a", 256).tile.m == 256);
    MatmulConfig int2 = w4a16_g128_config(256, N, 4096);
    int2.W_dtype = DType::int2;
    CHECK(default_schedule(int2, "sm_90a").tile.m == 128);
    CHECK(default_schedule(int2, "sm_90a").family == KernelFamily::tensor_wgmma_ws);
    MatmulConfig per_channel = w4a16_g128_config(256, N, 4096);
    per_channel.W_dtype = DType::int8;
    per_channel.group_size = -1;
    CHECK(default_schedule(per_channel, "sm_90a").tile.m == 128);
  }
  CHECK(chosen(256, 10240, 4096).tile.m == 128);  // 80 tiles of 256 x 128
  CHECK(chosen(256, 24576, 4096).tile.m == 128);  // 192: under 1.5 waves
  const TileSchedule big = chosen(4096, 57344, 8192);
  CHECK(big.family == KernelFamily::tensor_wgmma_ws);
  CHECK(big.tile.m == 256);
  CHECK(big.tile.n == 128);
  CHECK(big.pipeline.stages == 3);
  CHECK(is_hopper_family(chosen(MSpec::buckets({64, 4096}), 8192, 8192).family));
  CHECK(default_schedule(w4a16_g128_config(MSpec::buckets({64, 4096}), 8192, 8192), "sm_90a", 4096).tile.m == 256);
  // A 16-row bucket (tensor_gemv's) puts the weights in runs of 8, which the Hopper family reads too.
  CHECK(chosen(MSpec::buckets({16, 4096}), 8192, 8192).family == KernelFamily::tensor_wgmma_ws);
  CHECK(family_weight_layout(w4a16_g128_config(MSpec::buckets({16, 4096}), 8192, 8192), KernelFamily::tensor_wgmma_ws) ==
        WeightLayout::mma_runs);
  CHECK(chosen(4096, 8192, 8192, "sm_80").family == KernelFamily::tensor_gemm);
  CHECK(family_weight_layout(w4a16_g128_config(4096, 8192, 8192), o64.family) == WeightLayout::mma_fragments);
  CHECK(family_weight_layout(w4a16_g128_config(4096, 8192, 8192), big.family) == WeightLayout::mma_fragments);

  // Every weight format the family takes gets a valid default at 64 and 4096 rows, shrunk to fit
  // (1-bit k-blocks are 512 k long).
  MatmulConfig shape;
  shape.M = 4096;
  shape.N = 4096;
  shape.K = 4096;
  int served = 0;
  for (const MatmulConfig& c : enumerate_format_matrix(shape, {-1, 128})) {
    for (int64_t rows : {64, 4096}) {
      MatmulConfig sized = c;
      sized.M = rows;
      const TileSchedule s = default_schedule(sized, "sm_90a");
      INFO(canonical_form(sized) << " " << canonical_form(s));
      CHECK(schedule_error_on(sized, s, "sm_90a").empty());
      if (is_hopper_family(s.family)) ++served;
    }
  }
  CHECK(served >= 100);

  // W8A16: a 256 x 128 tile of 128 k holds two stages of 8-bit codes and fp16 rows, so the default
  // keeps 256 rows with 64 k a stage (4 stages) rather than halving the rows; 200 rows keep 128 x 128
  // of 128 k. nf4's k-block is 128 k long (one stage at least), so its stages stay 128 k.
  for (DType weights : {DType::int8, DType::uint8, DType::float8_e4m3, DType::float8_e5m2}) {
    MatmulConfig w8a16 = w4a16_g128_config(4096, 8192, 8192);
    w8a16.W_dtype = weights;
    w8a16.group_size = -1;
    INFO(canonical_form(w8a16));
    const TileSchedule many = default_schedule(w8a16, "sm_90a");
    CHECK(many.family == KernelFamily::tensor_wgmma_ws);
    CHECK(many.tile.m == 256);
    CHECK(many.pipeline.k_per_stage == 64);
    CHECK(many.pipeline.stages == 4);
    w8a16.M = 200;
    const TileSchedule fewer = default_schedule(w8a16, "sm_90a");
    CHECK(fewer.tile.m == 128);
    CHECK(fewer.pipeline.k_per_stage == 128);
  }
  MatmulConfig nf4 = w4a16_g128_config(4096, 8192, 8192);
  nf4.W_dtype = DType::nf4;
  CHECK(default_schedule(nf4, "sm_90a").pipeline.k_per_stage == 128);

  // W8A8: warp-specialized, int8 at 256 rows for many rows, fp8 at 192 (its two accumulator sets)
  // above 256 rows and 128 up to them; never split.
  MatmulConfig w8a8 = w4a16_g128_config(4096, 57344, 8192);
  w8a8.A_dtype = w8a8.W_dtype = DType::int8;
  w8a8.accum_dtype = w8a8.out_dtype = DType::int32;
  w8a8.with_scaling = false;
  w8a8.group_size = -1;
  w8a8.with_zeros = false;
  const TileSchedule int8 = default_schedule(w8a8, "sm_90a");
  CHECK(int8.family == KernelFamily::tensor_wgmma_ws);
  CHECK(int8.tile.m == 256);
  CHECK(int8.tile.n == 128);
  CHECK(block_threads(int8) == 384);
  CHECK(int8.pipeline.stages == 4);
  CHECK(int8.pipeline.split_k == 1);
  w8a8.A_dtype = w8a8.W_dtype = DType::float8_e4m3;
  w8a8.accum_dtype = DType::float32;
  w8a8.out_dtype = DType::float16;
  const TileSchedule fp8 = default_schedule(w8a8, "sm_90a");
  CHECK(fp8.family == KernelFamily::tensor_wgmma_ws);
  CHECK(fp8.tile.m == 192);
  CHECK(fp8.tile.n == 128);
  CHECK(fp8.pipeline.stages == 4);
  w8a8.M = MSpec::buckets({256});
  CHECK(default_schedule(w8a8, "sm_90a").tile.m == 128);
  w8a8.M = MSpec::buckets({257});
  CHECK(default_schedule(w8a8, "sm_90a").tile.m == 192);
  w8a8.with_scaling = true;  // scales: not the 8-bit wgmma kernel's
  w8a8.group_size = 128;
  CHECK_FALSE(is_hopper_family(default_schedule(w8a8, "sm_90a").family));
}

// tensor_wgmma_ws: consumer warpgroups of 64 channels plus a producer warpgroup, TMA-loadable rows,
// registers that hold the sums, no split (its grid is persistent); each error names the field.
TEST_CASE("tensor_wgmma_ws schedules are validated", "[codegen][schedule]") {
  const MatmulConfig config = w4a16_many_rows();
  const TileSchedule s = wgmma_ws_schedule(config, *fragment_order_layout(config), 128, 128, 4, 8);
  CHECK(schedule_error_on(config, s, "sm_90a").empty());
  CHECK(contains(schedule_error_on(config, s, "sm_80"), "family=tensor_wgmma_ws needs wgmma (archs with it: sm_90a), got arch=sm_80"));
  auto error_with = [&](auto change) { return error_after(config, s, change, "sm_90a"); };
  CHECK(contains(error_with([](TileSchedule& b) { b.warps.n = 4; }), "warps.n=tile.n/16=8"));
  CHECK(contains(error_with([](TileSchedule& b) { b.warps.k = 2; }), "warps.k=1"));
  CHECK(contains(error_with([](TileSchedule& b) { b.pipeline.split_k = 2; }),
                 "pipeline.split_k=2: tensor_wgmma_ws takes pipeline.split_k=1"));
  CHECK(contains(error_with([](TileSchedule& b) { b.launch.raster_group = 0; }), "launch.raster_group=0 must be 1..64"));
  CHECK(contains(error_with([](TileSchedule& b) { b.pipeline.stages = 9; }), "pipeline.stages=9 must be 2..8"));
  CHECK(error_with([](TileSchedule& b) { b.pipeline.stages = 2; }).empty());  // no stage kept for a pending wgmma
  CHECK(contains(error_with([](TileSchedule& b) { b.tile = {.m = 256, .n = 192}, b.warps.n = 12; }),
                 "the 128 sums of a consumer thread need about 200"));
  MatmulConfig odd_k = config;
  odd_k.K = 4100;  // not whole 16-byte rows of fp16
  odd_k.group_size = -1;
  if (fragment_order_layout(odd_k)) {
    CHECK(contains(schedule_error_on(odd_k, s, "sm_90a"), "K divisible by 8"));
  }
  MatmulConfig nf3 = config;  // weights not exact in fp16 and no pair table: not the mma_fragments layout
  nf3.W_dtype = DType::uint8;
  nf3.A_dtype = DType::float8_e4m3;
  CHECK(contains(schedule_error_on(nf3, s, "sm_90a"), "use family=tensor_wgmma or tensor_gemm"));
  CHECK(schedule_from_json(to_json(s)).family == KernelFamily::tensor_wgmma_ws);

  // W8A8: both operands' rows by TMA, no decoding; the W8A8 rules of tensor_wgmma.
  MatmulConfig int8 = config;
  int8.A_dtype = int8.W_dtype = DType::int8;
  int8.accum_dtype = int8.out_dtype = DType::int32;
  int8.with_scaling = false;
  int8.group_size = -1;
  TileSchedule w8 = s;
  w8.tile.m = 256;
  w8.pipeline.stages = 4;
  CHECK(schedule_error_on(int8, w8, "sm_90a").empty());
  CHECK(contains(plan_kernel(int8, w8, "sm_90a").family_function, "tensor_wgmma_ws_8bit"));
  MatmulConfig fp8 = int8;
  fp8.A_dtype = fp8.W_dtype = DType::float8_e4m3;
  fp8.accum_dtype = DType::float32;
  fp8.out_dtype = DType::float16;
  CHECK(contains(schedule_error_on(fp8, w8, "sm_90a"), "tile.m=256 must be 64, 128 or 192 with float8_e4m3"));
  // 192 rows: fp8's two accumulator sets, 96 + 96 floats a consumer thread, within its 232 registers;
  // int8 takes them too, and so does tensor_wgmma's W8A8 kernel; 160 rows are no wgmma tile.
  w8.tile.m = 192;
  CHECK(schedule_error_on(fp8, w8, "sm_90a").empty());
  CHECK(schedule_error_on(int8, w8, "sm_90a").empty());
  TileSchedule unspecialized_192 = w8;
  unspecialized_192.family = KernelFamily::tensor_wgmma;
  unspecialized_192.launch.raster_group = 1;
  CHECK(schedule_error_on(fp8, unspecialized_192, "sm_90a").empty());
  w8.tile.m = 160;
  CHECK(contains(schedule_error_on(fp8, w8, "sm_90a"), "tile.m=160 must be 64, 128, 192 or 256 (wgmma N)"));
  fp8.with_scaling = true;
  fp8.group_size = 128;
  w8.tile.m = 128;
  CHECK(contains(schedule_error_on(fp8, w8, "sm_90a"), "family=tensor_wgmma_ws multiplies 8-bit activations"));

  // The producer's registers go to the consumers where the launch's share is not already the most.
  CHECK(warp_specialized_registers(s, "sm_90a").per_thread == 168);
  CHECK(warp_specialized_registers(s, "sm_90a").consumer == 232);  // 128 x 40 + 256 x 232 <= 384 x 168
  const TileSchedule one = wgmma_ws_schedule(config, *fragment_order_layout(config), 64, 64, 4, 8);
  CHECK(warp_specialized_registers(one, "sm_90a").consumer == 0);  // 256 threads: 255 each already
}

// launch.cluster_n 2: W8A8 pairs of blocks along N on the same rows, each loading half of the
// activation box for both (TMA multicast, templates/bitjit/ptx/cluster.cuh).
TEST_CASE("W8A8 pairs of blocks: validated, planned and launched as clusters of two", "[codegen][schedule]") {
  BITJIT_RANDOM_ENGINE(rng);
  // N a few 128-channel blocks and a part of one: an odd or even count of them.
  const int64_t n = 128 * std::uniform_int_distribution<int64_t>(3, 63)(rng) + 72;
  MatmulConfig int8 = w4a16_g128_config(4096, n, 8192);
  int8.A_dtype = int8.W_dtype = DType::int8;
  int8.accum_dtype = int8.out_dtype = DType::int32;
  int8.with_scaling = false;
  int8.group_size = -1;
  MatmulConfig fp8 = int8;
  fp8.A_dtype = fp8.W_dtype = DType::float8_e4m3;
  fp8.accum_dtype = DType::float32;
  fp8.out_dtype = DType::float16;
  for (const MatmulConfig& config : {int8, fp8}) {
    INFO(canonical_form(config));
    TileSchedule s = default_schedule(config, "sm_90a");
    REQUIRE(s.family == KernelFamily::tensor_wgmma_ws);
    // The default pairs int8's blocks past two waves of tiles on the reference part's 132 SMs (4096
    // rows: 16 row blocks of 256, 4 to 64 channel blocks), never fp8's.
    const int64_t tiles = (n + s.tile.n - 1) / s.tile.n * (4096 / s.tile.m);
    CHECK(s.launch.cluster_n == (config.A_dtype == DType::int8 && tiles > 2 * 132 ? 2 : 1));
    s.launch.cluster_n = 2;
    REQUIRE(schedule_error_on(config, s, "sm_90a").empty());
    const KernelPlan plan = plan_kernel(config, s, "sm_90a");
    CHECK(contains(emit_kernel(config, s, "sm_90a").source, "static constexpr int kClusterN = 2;"));
    // The activation box is half the tile's rows, the weights' box the block's own channels.
    const std::array<TmaTensor, 2> boxes = kernel_traits(config, s.family).tma_tensors(plan, 4096);
    CHECK(boxes[0].box_rows == uint32_t(s.tile.m / 2));
    CHECK(boxes[1].box_rows == uint32_t(s.tile.n));
    // One pair per two SMs (an odd SM left idle), at most one a tile of the pair's 2 x tile.n
    // channels, whole tiles, none shared out.
    const int64_t channel_pairs = (n + 2 * s.tile.n - 1) / (2 * s.tile.n);
    const int64_t pair_tiles = channel_pairs * ((4096 + s.tile.m - 1) / s.tile.m);
    const int sms = 2 * std::uniform_int_distribution<int>(30, 80)(rng) + std::uniform_int_distribution<int>(0, 1)(rng);
    const LaunchShape many = launch_shape(plan, 4096, sms);
    INFO(sms << " SMs, " << pair_tiles << " pair tiles");
    CHECK(many.cluster == 2);
    CHECK(many.grid[0] == uint32_t(2 * std::min<int64_t>(pair_tiles, sms / 2)));
    CHECK(many.stream_k_tiles == 0);
    CHECK(many.workspace_bytes == 0);
    // Fewer pair tiles than pairs: a pair each (one row block: the channel pairs).
    const LaunchShape few = launch_shape(plan, s.tile.m, int(4 * channel_pairs + 2));
    CHECK(few.grid[0] == uint32_t(2 * channel_pairs));
    CHECK(few.cluster == 2);
    // Without pairs: no cluster.
    s.launch.cluster_n = 1;
    CHECK(launch_shape(plan_kernel(config, s, "sm_90a"), 4096, sms).cluster == 1);
    CHECK(contains(emit_kernel(config, s, "sm_90a").source, "static constexpr int kClusterN = 1;"));
    s.launch.cluster_n = 4;
    CHECK(contains(schedule_error_on(config, s, "sm_90a"), "launch.cluster_n=4 must be 1 (no cluster) or 2"));
  }
  // Not at 256 rows (2 row blocks of 128, whatever N: measured slower there); at 1024 (4 row blocks
  // of 256) past 264 tiles, N of 67 blocks of 128 channels and more.
  int8.M = MSpec(256);
  int8.N = 128 * 200;
  CHECK(default_schedule(int8, "sm_90a").launch.cluster_n == 1);
  int8.M = MSpec(1024);
  int8.N = 128 * 66;
  CHECK(default_schedule(int8, "sm_90a").tile.m == 256);
  CHECK(default_schedule(int8, "sm_90a").launch.cluster_n == 1);
  int8.N = 128 * 67;
  CHECK(default_schedule(int8, "sm_90a").launch.cluster_n == 2);
  // The other entry points take no cluster.
  const MatmulConfig int4 = w4a16_g128_config(4096, 8192, 8192);
  TileSchedule decoding = default_schedule(int4, "sm_90a");
  REQUIRE(decoding.family == KernelFamily::tensor_wgmma_ws);
  decoding.launch.cluster_n = 2;
  CHECK(contains(schedule_error_on(int4, decoding, "sm_90a"),
                 "launch.cluster_n=2: only tensor_wgmma_ws on 8-bit activations and weights of one type"));
  TileSchedule gemv = default_schedule(w4a16_g128_config(1, 8192, 8192), "sm_90a");
  gemv.launch.cluster_n = 2;
  CHECK(contains(schedule_error_on(w4a16_g128_config(1, 8192, 8192), gemv, "sm_90a"), "launch.cluster_n=1"));
  // The tuner's W8A8 candidates hold pairs, at the default's ring.
  const std::vector<RankedSchedule> ranked = candidate_schedules(int8, TargetDevice::from_arch("sm_90a"), 4096);
  const auto paired = [](const RankedSchedule& r) { return r.schedule.launch.cluster_n == 2; };
  CHECK(std::any_of(ranked.begin(), ranked.end(), paired));
  // The model reads the activations from L2 once a pair: a pair scores no slower than its tile alone.
  for (const RankedSchedule& r : ranked) {
    if (!paired(r)) continue;
    TileSchedule alone = r.schedule;
    alone.launch.cluster_n = 1;
    CHECK(r.predicted_us <= predicted_microseconds(int8, alone, TargetDevice::from_arch("sm_90a"), 4096));
  }
}

// launch.blocks_per_sm caps the registers through __launch_bounds__'s minimum blocks per SM.
TEST_CASE("launch.blocks_per_sm is validated and emitted as the launch bound's least blocks", "[codegen][schedule]") {
  BITJIT_RANDOM_ENGINE(rng);
  MatmulConfig config = w4a16_g128_config(MSpec(16), 8192, 8192);
  TileSchedule s = default_schedule(config, "sm_90a");
  REQUIRE(s.family == KernelFamily::tensor_gemv);
  REQUIRE(block_threads(s) == 128);
  const int blocks = std::uniform_int_distribution<int>(1, 16)(rng);  // 16 leaves 32 registers a thread
  s.launch.blocks_per_sm = blocks;
  CHECK(schedule_error_on(config, s, "sm_90a").empty());
  CHECK(contains(emit_cuda(plan_kernel(config, s, "sm_90a")),
                 "__global__ void __launch_bounds__(128, " + std::to_string(blocks) + ")\n"));
  s.launch.blocks_per_sm = 0;
  CHECK(contains(emit_cuda(plan_kernel(config, s, "sm_90a")), "__global__ void __launch_bounds__(128)\n"));
  for (int refused : {-1, 17}) {
    s.launch.blocks_per_sm = refused;
    CHECK(schedule_error_on(config, s, "sm_90a") ==
          "invalid TileSchedule: launch.blocks_per_sm=" + std::to_string(refused) +
              " must be 0 (the compiler's count) or 1..16 (at least 32 registers for each of 128 threads on sm_90a)");
  }
  s.warps.k = 8;  // 256 threads: half as many blocks
  s.launch.blocks_per_sm = 9;
  CHECK(contains(schedule_error_on(config, s, "sm_90a"), "must be 0 (the compiler's count) or 1..8"));
  s.warps.k = 32;  // the family's own error first: the threads it counts blocks by are not valid
  CHECK(contains(schedule_error_on(config, s, "sm_90a"), "warps.k=32 must be 1..16"));
}

namespace {

// The schedule error of the W4A8 warp-specialized kernel's default at `rows` (config with activations
// of type `activations`) after `change`.
template <class Change>
std::string w4a8_ws_error_after(MatmulConfig config, DType activations, int64_t rows, Change change) {
  config.A_dtype = activations;
  TileSchedule s = default_schedule(config, "sm_90a", rows);
  REQUIRE(s.family == KernelFamily::tensor_wgmma_ws);
  change(s);
  return schedule_error_on(config, s, "sm_90a");
}

}  // namespace

// tensor_wgmma_ws with launch.blocks_per_sm: its warpgroups' registers from an SM's share
// (setmaxnreg), a persistent grid of that many blocks an SM, and the shared memory of all of them;
// the W8A8 and W4A8 kernels and pairs of blocks keep one.
TEST_CASE("tensor_wgmma_ws runs two blocks an SM where registers and shared memory allow", "[codegen][schedule]") {
  const MatmulConfig config = w4a16_g128_config(MSpec::buckets({64, 256}), 8192, 8192);
  const MmaRunLayout layout = *fragment_order_layout(config);
  TileSchedule two = wgmma_ws_schedule(config, layout, 64, 64, 5, 8);
  two.launch.blocks_per_sm = 2;
  REQUIRE(schedule_error_on(config, two, "sm_90a").empty());
  const KernelPlan plan = plan_kernel(config, two, "sm_90a");
  const std::string source = emit_cuda(plan);
  CHECK(contains(source, "__global__ void __launch_bounds__(256, 2)\n"));
  // 65536 registers / (2 x 256 threads) = 128 at launch; the producer keeps 40, the consumers 216.
  CHECK(contains(source, "static constexpr int kConsumerRegisters = 216;"));
  CHECK(contains(source, "static constexpr int kProducerRegisters = 40;"));
  CHECK(contains(source, "a persistent grid walks the output tiles, 2 blocks an SM"));
  // 128 tiles of 64 channels, 64 stages each, over two blocks an SM: all shared out by stream-K
  // across 264 blocks.
  const LaunchShape shape = launch_shape(plan, 64, 132);
  CHECK(shape.grid[0] == 264);
  CHECK(shape.stream_k_tiles == 128);
  CHECK(shape.workspace_bytes == 264u * 2 * 64 * 64 * 4);
  TileSchedule one = two;
  one.launch.blocks_per_sm = 0;
  CHECK(launch_shape(plan_kernel(config, one, "sm_90a"), 64, 132).grid[0] == 132);

  // Two consumer warpgroups of 64 rows on half the registers: 96 each, the sums need about 104.
  TileSchedule wide = wgmma_ws_schedule(config, layout, 64, 128, 4, 8);
  wide.launch.blocks_per_sm = 2;
  CHECK(schedule_error_on(config, wide, "sm_90a") ==
        "invalid TileSchedule: tile.m=64 with tile.n=128: 384 threads in each of launch.blocks_per_sm=2 blocks an SM get "
        "96 registers each, the 32 sums of a consumer thread need about 104; a smaller tile.m or tile.n, or fewer "
        "blocks an SM");
  // Past the blocks that leave each thread 32 registers: the range, not the consumers' registers
  // (which would be 0 each).
  TileSchedule too_many = two;
  too_many.launch.blocks_per_sm = 100;
  CHECK(schedule_error_on(config, too_many, "sm_90a") ==
        "invalid TileSchedule: launch.blocks_per_sm=100 must be 0 (the compiler's count) or 1..8 (at least 32 registers "
        "for each of 256 threads on sm_90a)");
  // Three blocks of 5 stages of 20 KiB: past the SM's shared memory.
  TileSchedule three = two;
  three.launch.blocks_per_sm = 3;
  CHECK(contains(schedule_error_on(config, three, "sm_90a"), "launch.blocks_per_sm=3: each block needs "));
  CHECK(contains(schedule_error_on(config, three, "sm_90a"), "sm_90a has 233472 an SM"));
  three.pipeline.stages = 3;
  CHECK(schedule_error_on(config, three, "sm_90a").empty());
  // Pairs of blocks run one block an SM; so do the W8A8 and W4A8 kernels.
  MatmulConfig int8 = config;
  int8.A_dtype = int8.W_dtype = DType::int8;
  int8.accum_dtype = int8.out_dtype = DType::int32;
  int8.with_scaling = false;
  int8.group_size = -1;
  TileSchedule pairs = warp_specialized(wgmma_128x128_schedule(4), 8);
  pairs.launch.cluster_n = 2;
  REQUIRE(schedule_error_on(int8, pairs, "sm_90a").empty());
  pairs.launch.blocks_per_sm = 2;
  CHECK(contains(schedule_error_on(int8, pairs, "sm_90a"), "launch.blocks_per_sm=2: tensor_wgmma_ws's W8A8 kernel runs one block an SM"));
  CHECK(contains(w4a8_ws_error_after(config, DType::int8, 256, [](TileSchedule& s) { s.launch.blocks_per_sm = 2; }),
                 "launch.blocks_per_sm=2: tensor_wgmma_ws's W4A8 kernel runs one block an SM"));
  // The tuner's 64 x 64 candidates carry a two-block twin.
  std::vector<TileSchedule> candidates;
  add_tuning_candidates(config, default_schedule(config, "sm_90a", 64), 64, candidates);
  CHECK(std::any_of(candidates.begin(), candidates.end(), [&](const TileSchedule& c) {
    return c.family == KernelFamily::tensor_wgmma_ws && c.tile.n == 64 && c.launch.blocks_per_sm == 2 &&
           is_valid_schedule(config, c, "sm_90a");
  }));
}

namespace {

// NVRTC's PTX of the config's kernel under schedule s for `arch`.
std::string ptx_of(const MatmulConfig& config, const TileSchedule& s, const std::string& arch = "sm_90a") {
  const GeneratedKernel kernel = emit_kernel(config, s, arch);
  return compile_cuda({kernel.source, kernel.file_name, arch, {}, canonical_form(config), CompileOutput::ptx}).ptx;
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

}  // namespace

// NVRTC carries the least blocks into the PTX (.minnctapersm), where ptxas sizes the registers by it.
TEST_CASE("launch.blocks_per_sm reaches the PTX as the least blocks per SM", "[codegen][nvrtc]") {
  BITJIT_RANDOM_ENGINE(rng);
  const MatmulConfig config = w4a16_g128_config(MSpec(16), 57344, 8192);
  TileSchedule s = default_schedule(config, "sm_90a");
  s.launch.blocks_per_sm = std::uniform_int_distribution<int>(2, 8)(rng);
  const std::string ptx = ptx_of(config, s);
  INFO(canonical_form(s));
  CHECK(contains(ptx, ".minnctapersm " + std::to_string(s.launch.blocks_per_sm)));
  CHECK(contains(ptx, ".maxntid 128, 1, 1"));
}

// Tiles of 16 and 32 rows: the warp-specialized decoding kernel alone (m64n16k16 and m64n32k16); the
// default from 17 to 32 rows, static or a dynamic M's bucket, two blocks an SM (32 x 64 tiles of 7
// stages, 32 x 128 of 5 from 2^27 weights); the tuner's candidates at up to 32 rows.
TEST_CASE("tensor_wgmma_ws takes tiles of 16 and 32 rows, the default from 17 to 32 rows", "[codegen][schedule]") {
  const MatmulConfig config = w4a16_g128_config(MSpec(32), 4096, 14336);  // 8B down: 2^25.8 weights
  const MmaRunLayout layout = *fragment_order_layout(config);
  for (int rows : {16, 32}) {
    TileSchedule s = wgmma_ws_schedule(config, layout, rows, 64, 4, 8);
    CHECK(schedule_error_on(config, s, "sm_90a").empty());
    s.tile.m = rows + 8;
    CHECK(schedule_error_on(config, s, "sm_90a") ==
          "invalid TileSchedule: tile.m=" + std::to_string(rows + 8) + " must be 16, 32, 64, 128 or 256 (wgmma N)");
  }
  // tensor_wgmma (cp.async ring) and the 8-bit-activation entry points keep 64 rows at least.
  TileSchedule unspecialized = wgmma_128x128_schedule(3);
  unspecialized.tile.m = 32;
  CHECK(schedule_error_on(config, unspecialized, "sm_90a") ==
        "invalid TileSchedule: tile.m=32 must be 64, 128 or 256 (wgmma N); 16 and 32: family=tensor_wgmma_ws with "
        "fp16 or bf16 activations");
  CHECK(contains(w4a8_ws_error_after(config, DType::float8_e4m3, 32, [](TileSchedule& s) { s.tile.m = 32; }),
                 "tile.m=32 must be 64"));

  for (int64_t rows : {17, 32}) {
    MatmulConfig at = config;
    at.M = rows;
    const TileSchedule s = default_schedule(at, "sm_90a");
    INFO(canonical_form(s));
    CHECK(s.family == KernelFamily::tensor_wgmma_ws);
    CHECK(s.tile.m == 32);
    CHECK(s.tile.n == 64);
    CHECK(s.launch.blocks_per_sm == 2);
    CHECK(s.pipeline.stages == 7);
    CHECK(s.pipeline.k_per_stage == 128);
    CHECK(2 * (dynamic_shared_bytes(at, s) + static_shared_bytes(at, s, "sm_90a") + 1024) <=
          arch_info("sm_90a").shared_bytes_per_sm);
    const std::string ptx = ptx_of(at, s);
    CHECK(contains(ptx, "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16"));
    CHECK_FALSE(contains(ptx, "m64n64k16"));
  }
  // A dynamic M's 32-row bucket (weights in tensor_gemv's runs of 8) the same; 64 rows as before.
  const MatmulConfig buckets = w4a16_g128_config(MSpec::buckets({1, 16, 32, 64}), 4096, 14336);
  CHECK(default_schedule(buckets, "sm_90a", 32).tile.m == 32);
  CHECK(default_schedule(buckets, "sm_90a", 64).tile.m == 64);
  CHECK(default_schedule(buckets, "sm_90a", 16).family == KernelFamily::tensor_gemv);
  // 2^27 weights or more (70B down): 32 x 128 tiles, two blocks of two consumer warpgroups, 5 stages.
  const TileSchedule down = default_schedule(w4a16_g128_config(MSpec(32), 8192, 28672), "sm_90a");
  CHECK(down.tile.m == 32);
  CHECK(down.tile.n == 128);
  CHECK(down.launch.blocks_per_sm == 2);
  CHECK(down.pipeline.stages == 5);
  // Below 2^27 weights, more channels than k (8B qkv and gate_up, 70B qkv): three blocks of 4 stages,
  // static or a dynamic M's bucket; as many channels as k (8B o) keeps two; 70B gate_up 32 x 128.
  for (const MSpec& M : {MSpec(32), MSpec::buckets({1, 16, 32, 64})})
    for (auto [N, K] : {std::pair<int64_t, int64_t>{6144, 4096}, {28672, 4096}, {10240, 8192}}) {
      const TileSchedule wide = default_schedule(w4a16_g128_config(M, N, K), "sm_90a", 32);
      INFO(N << " x " << K << ": " << canonical_form(wide));
      CHECK(wide.family == KernelFamily::tensor_wgmma_ws);
      CHECK(wide.tile.m == 32);
      CHECK(wide.tile.n == 64);
      CHECK(wide.launch.blocks_per_sm == 3);
      CHECK(wide.pipeline.stages == 4);
    }
  CHECK(default_schedule(w4a16_g128_config(MSpec(32), 4096, 4096), "sm_90a").launch.blocks_per_sm == 2);
  const TileSchedule gate_up_70b = default_schedule(w4a16_g128_config(MSpec(32), 57344, 8192), "sm_90a");
  CHECK(gate_up_70b.tile.n == 128);
  CHECK(gate_up_70b.launch.blocks_per_sm == 2);
  // 8-bit codes: a block's half of shared memory holds 6 stages of 32 x 64.
  MatmulConfig int8 = config;
  int8.W_dtype = DType::int8;
  int8.group_size = -1;
  const TileSchedule int8_rows = default_schedule(int8, "sm_90a");
  CHECK(int8_rows.tile.m == 32);
  CHECK(int8_rows.pipeline.stages == 6);

  // The tuner tries 16- and 32-row tiles (one and two blocks an SM; 32 x 64 also three) up to 32 rows,
  // not above. Three blocks of 32 x 64 (the default where channels outnumber k, at 4 stages; the GPU
  // test's last variant) fit the SM's shared memory up to 6 stages of 128 k (12 KiB each), not 7.
  const auto has_rows = [&](const MatmulConfig& c, int64_t rows, int tile_rows, int blocks) {
    std::vector<TileSchedule> candidates;
    add_tuning_candidates(c, default_schedule(c, "sm_90a", rows), rows, candidates);
    return std::any_of(candidates.begin(), candidates.end(), [&](const TileSchedule& t) {
      return t.family == KernelFamily::tensor_wgmma_ws && t.tile.m == tile_rows && t.launch.blocks_per_sm == blocks &&
             is_valid_schedule(c, t, "sm_90a");
    });
  };
  for (int tile_rows : {16, 32})
    for (int blocks : {0, 2}) {
      CHECK(has_rows(config, 32, tile_rows, blocks));
      CHECK(has_rows(buckets, 16, tile_rows, blocks));
      CHECK_FALSE(has_rows(buckets, 64, tile_rows, blocks));
    }
  CHECK(has_rows(config, 32, 32, 3));
  CHECK_FALSE(has_rows(config, 32, 16, 3));
  CHECK_FALSE(has_rows(buckets, 64, 32, 3));
  TileSchedule three = wgmma_ws_schedule(config, layout, 32, 64, 4, 8);
  three.launch.blocks_per_sm = 3;
  CHECK(schedule_error_on(config, three, "sm_90a").empty());
  CHECK(3 * (dynamic_shared_bytes(config, three) + static_shared_bytes(config, three, "sm_90a") + 1024) <=
        arch_info("sm_90a").shared_bytes_per_sm);
  three.pipeline.stages = 6;
  CHECK(schedule_error_on(config, three, "sm_90a").empty());
  three.pipeline.stages = 7;
  CHECK(contains(schedule_error_on(config, three, "sm_90a"), "launch.blocks_per_sm=3"));
}

// The decoding GEMM kernels multiply per-channel scales into the float sums at the end (kScaleSums in
// mma/wgmma_decode_warp.cuh and mma/gemm_warp.cuh), not into every decoded pair: the f16x2
// multiply-adds of a per-channel kernel are the decode's alone, half those of the same kernel with
// scales per 128 k. Zero points keep the per-pair path.
TEST_CASE("the GEMM kernels scale per-channel sums once, not every pair", "[codegen][nvrtc]") {
  for (auto [arch, family] : {std::pair{"sm_90a", KernelFamily::tensor_wgmma_ws}, std::pair{"sm_80", KernelFamily::tensor_gemm}}) {
    MatmulConfig config = w4a16_g128_config(MSpec(256), 8192, 8192);
    config.W_dtype = DType::int8;
    auto pair_multiplies = [&] {
      const TileSchedule s = default_schedule(config, arch);
      REQUIRE(s.family == family);
      return occurrences(ptx_of(config, s, arch), "fma.rn.f16x2");
    };
    const size_t grouped = pair_multiplies();
    config.group_size = -1;
    const size_t per_channel = pair_multiplies();
    INFO(arch << ": f16x2 fma " << grouped << " with groups of 128, " << per_channel << " per channel");
    CHECK(per_channel > 0);
    CHECK(2 * per_channel == grouped);
    config.W_dtype = DType::uint8;  // zero points: scaled and shifted pair by pair
    config.with_zeros = true;
    CHECK(pair_multiplies() > per_channel);
  }
  // tensor_gemv (few rows) scales each run's float sums: per channel, only its sums at the end.
  MatmulConfig config = w4a16_g128_config(MSpec(1), 8192, 8192);
  config.W_dtype = DType::int8;
  auto run_scalings = [&] {
    const TileSchedule s = default_schedule(config, "sm_90a");
    REQUIRE(s.family == KernelFamily::tensor_gemv);
    return occurrences(ptx_of(config, s), "fma.rn.f32");
  };
  const size_t grouped = run_scalings();
  config.group_size = -1;
  INFO("tensor_gemv f32 fma: " << grouped << " with groups of 128");
  CHECK(run_scalings() < grouped);
}

// tensor_gemv with fp16 activations and scales leaves fp4 pairs as placed (x 2^-14) and folds the
// 2^14 into each run's scale: its loop has no f16x2 multiply. bf16 (whose placed values would leave
// float's range) and unscaled fp4 keep the multiply per pair. The values are the GPU tests' question
// (the format sweep's fp4 configs, tests/gpu).
TEST_CASE("tensor_gemv folds fp4's placement multiply into fp16 scales", "[codegen][nvrtc]") {
  MatmulConfig config = w4a16_g128_config(MSpec(1), 4096, 4096);
  config.W_dtype = DType::fp4_e2m1;
  auto tensor_gemv_ptx = [&] {
    const TileSchedule s = default_schedule(config, "sm_90a");
    REQUIRE(s.family == KernelFamily::tensor_gemv);
    INFO(canonical_form(config));
    return ptx_of(config, s);
  };
  CHECK_FALSE(contains(tensor_gemv_ptx(), "fma.rn.f16x2"));
  config.A_dtype = config.out_dtype = DType::bfloat16;
  CHECK(contains(tensor_gemv_ptx(), "fma.rn.bf16x2"));
  config.A_dtype = config.out_dtype = DType::float16;
  config.with_scaling = false;
  config.group_size = -1;
  CHECK(contains(tensor_gemv_ptx(), "fma.rn.f16x2"));
}

// wgmma_group: the decoding Hopper kernels issue that many 16-k steps' wgmmas as one group. It must
// divide a k-block's steps (int4 with 16-byte loads: 8; 8-bit weights: 4), exists only for those
// kernels, is serialized in the pipeline group, and reaches the kernel as kWgmmaGroup.
TEST_CASE("wgmma_group is validated, serialized and emitted", "[codegen][schedule]") {
  const MatmulConfig config = w4a16_many_rows();
  TileSchedule s = wgmma_ws_schedule(config, *fragment_order_layout(config), 64, 128, 4, 8);
  CHECK(contains(canonical_form(s), "\"wgmma_group\":1"));
  s.pipeline.wgmma_group = 4;
  CHECK(schedule_error_on(config, s, "sm_90a").empty());
  CHECK(contains(canonical_form(s), "\"wgmma_group\":4"));
  CHECK(schedule_from_json(to_json(s)).pipeline.wgmma_group == 4);
  CHECK(contains(emit_cuda(plan_kernel(config, s, "sm_90a")), "static constexpr int kWgmmaGroup = 4;"));
  TileSchedule unspecialized = wgmma_128x128_schedule(3);
  unspecialized.pipeline.wgmma_group = 8;
  CHECK(schedule_error_on(config, unspecialized, "sm_90a").empty());
  CHECK(contains(emit_cuda(plan_kernel(config, unspecialized, "sm_90a")), "static constexpr int kWgmmaGroup = 8;"));
  s.pipeline.wgmma_group = 3;
  CHECK(contains(schedule_error_on(config, s, "sm_90a"),
                 "pipeline.wgmma_group=3 must be 1, 2, 4 or 8 and divide the 8 steps"));
  MatmulConfig eight_bit_weights = config;
  eight_bit_weights.W_dtype = DType::int8;
  const std::optional<MmaRunLayout> byte_layout = fragment_order_layout(eight_bit_weights);
  REQUIRE(byte_layout);
  TileSchedule bytes = wgmma_ws_schedule(eight_bit_weights, *byte_layout, 64, 128, 4, 8);
  bytes.pipeline.wgmma_group = 8;
  CHECK(contains(schedule_error_on(eight_bit_weights, bytes, "sm_90a"), "divide the 4 steps"));
  TileSchedule gemm = default_schedule(config, "sm_80");
  gemm.pipeline.wgmma_group = 2;
  CHECK(contains(schedule_error_on(config, gemm, "sm_80"),
                 "pipeline.wgmma_group=2: only tensor_wgmma and tensor_wgmma_ws"));
  CHECK_THROWS_AS(schedule_from_json(nlohmann::json{{"family", "tensor_wgmma"}, {"pipeline", {{"wgmma_group", "4"}}}}),
                  ConfigError);
}

// The generated kernel takes the TMA maps as a second, grid-constant parameter and is launched as a
// programmatic dependent launch; the grid is one block per SM, or one per tile where there are
// fewer, and with 64-row tiles a short last wave is shared out by k-stages (stream-K), with the
// workspace that needs; tiles of more rows only where they would keep fewer than half the SMs busy.
TEST_CASE("tensor_wgmma_ws kernels take tensor maps on a persistent grid", "[codegen]") {
  const MatmulConfig config = w4a16_many_rows();
  const TileSchedule s = wgmma_ws_schedule(config, *fragment_order_layout(config), 128, 128, 4, 8);
  const KernelPlan plan = plan_kernel(config, s, "sm_90a");
  CHECK(plan.tensor_maps);
  CHECK(plan.programmatic_launch);  // the kernel waits for the grid before it (ptx/griddepcontrol.cuh)
  CHECK_FALSE(plan_kernel(config, wgmma_128x128_schedule(3), "sm_90a").programmatic_launch);
  const std::string source = emit_cuda(plan);
  CHECK(contains(source, "const __grid_constant__ bitjit::TensorMaps maps"));
  CHECK(contains(source, "static constexpr int kThreads = 256;"));
  CHECK(contains(source, "static constexpr int kRasterGroup = 8;"));
  CHECK(contains(source, "static constexpr int kConsumerRegisters = 232;"));
  CHECK_FALSE(contains(emit_cuda(plan_kernel(config, wgmma_128x128_schedule(3), "sm_90a")), "TensorMaps"));
  const int64_t tiles_at_4096 = (config.N + 127) / 128 * (4096 / 128);
  REQUIRE(tiles_at_4096 > 132);
  const LaunchShape at_4096 = launch_shape(plan, 4096, 132);
  CHECK(at_4096.grid == std::array<uint32_t, 3>{132, 1, 1});
  CHECK(at_4096.block[0] == 384);
  CHECK(at_4096.stream_k_tiles == 0);  // 128-row tiles stay whole
  CHECK(at_4096.workspace_bytes == 0);
  // Fewer tiles than SMs but more than half: a block per tile, whole.
  const int64_t tiles_at_100 = (config.N + 127) / 128;
  const LaunchShape one_each = launch_shape(plan, 100, int(tiles_at_100 * 3 / 2));
  CHECK(one_each.grid[0] == uint32_t(tiles_at_100));
  CHECK(one_each.stream_k_tiles == 0);

  // 64-row tiles share out a short last wave by k-stages (stream-K).
  const KernelPlan rows64 = plan_kernel(config, wgmma_ws_schedule(config, *fragment_order_layout(config), 64, 128, 4, 8), "sm_90a");
  // 64 tiles of 64 stages on 132 SMs: all shared, in shares of 32 stages ending inside tiles: a first
  // and a last piece of 64 x 128 sums per block, a counter per tile and consumer warp.
  const LaunchShape few_tiles = launch_shape(rows64, 64, 132);
  CHECK(few_tiles.stream_k_tiles == 64);
  CHECK(few_tiles.grid[0] == 132);
  CHECK(few_tiles.workspace_bytes == 132 * 2 * 64 * 128 * 4);
  CHECK(few_tiles.tile_counters == 64 * 8);
  // On many SMs, shares of four stages at least: 64 x 64 / 4 blocks.
  CHECK(launch_shape(rows64, 64, 100000).grid[0] == 64 * 64 / 4);
  // 640 tiles: three whole waves, then the last 112 tiles and one wave before them shared.
  const LaunchShape waves = launch_shape(rows64, 640, 132);
  CHECK(waves.stream_k_tiles == 112 + 132);
  CHECK(waves.grid[0] == 132);
  // 64 tiles on 64 SMs: one whole tile each, nothing shared.
  const LaunchShape one_wave = launch_shape(rows64, 64, 64);
  CHECK(one_wave.stream_k_tiles == 0);
  CHECK(one_wave.grid[0] == 64);
  CHECK(one_wave.workspace_bytes == 0);
  // 128-row tiles: whole while they keep half the SMs busy, shared out below that (34 tiles of 128
  // channels at 256 rows on 132 SMs: N = 2176).
  MatmulConfig narrow = config;
  narrow.N = 2176;
  const KernelPlan few_wide =
      plan_kernel(narrow, wgmma_ws_schedule(narrow, *fragment_order_layout(narrow), 128, 128, 4, 8), "sm_90a");
  const LaunchShape quarter = launch_shape(few_wide, 256, 132);
  CHECK(quarter.stream_k_tiles == 34);
  CHECK(quarter.workspace_bytes > 0);
  CHECK(launch_shape(few_wide, 512, 132).stream_k_tiles == 0);  // 68 tiles: more than half
  // Between one and two waves, a second wave at most half full is shared out with the first: 160
  // tiles of 128 x 128 (70B qkv, N = 10240, at 256 rows) on 132 SMs, a second wave of 28; 200 tiles
  // (a second wave of 68) stay whole, and so do 292 (three waves, the last of 28).
  const auto tall_tiles_at_256 = [&](int64_t N) {  // 128 x 128 tiles, 256 rows, 132 SMs
    MatmulConfig wide = config;
    wide.N = N;
    return launch_shape(plan_kernel(wide, wgmma_ws_schedule(wide, *fragment_order_layout(wide), 128, 128, 4, 8), "sm_90a"),
                        256, 132);
  };
  const LaunchShape short_last_wave = tall_tiles_at_256(10240);
  CHECK(short_last_wave.stream_k_tiles == 160);
  CHECK(short_last_wave.grid[0] == 132);
  CHECK(short_last_wave.workspace_bytes > 0);
  CHECK(tall_tiles_at_256(12800).stream_k_tiles == 0);
  CHECK(tall_tiles_at_256(18688).stream_k_tiles == 0);  // 146 channel blocks: 292 tiles
  CHECK_THROWS_AS(launch_shape(plan, 4096), ConfigError);  // no SM count
}

// The hazard scan itself on two small listings: a copy of the accumulators at a loop's top is a
// hazard when the loop's back edge leaves a wgmma running there, and not when the loop starts after
// the copy. (A scan in instruction order, as the script's first version was, misses the first.)
TEST_CASE("wgmma-hazards.py follows a loop's back edge", "[sass]") {
  const auto listing = [](const std::string& loop_top) {
    return "        /*0000*/                   MOV R30, R1 ;\n"
           "        /*0010*/                   WARPGROUP.ARRIVE ;\n"
           "        /*0020*/                   HGMMA.64x64x16.F32 R24, R152, gdesc[UR16], R24, gsb0 ;\n"
           "        /*0030*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n"
           "        /*0040*/              @!P0 BRA " + loop_top + " ;\n"
           "        /*0050*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;\n"
           "        /*0060*/                   STG.E [R2.64], R30 ;\n"
           "        /*0070*/                   EXIT ;\n";
  };
  const testing::TemporaryDirectory folder;
  std::ofstream(folder.path() / "copy-in-loop.sass") << listing("0x0");
  std::ofstream(folder.path() / "copy-before-loop.sass") << listing("0x10");
  const std::string script = std::string(BITJIT_SOURCE_DIR) + "/scripts/wgmma-hazards.py";
  const testing::ProcessResult in_loop =
      testing::run_process({"/usr/bin/env", "python3", script, "--sass", (folder.path() / "copy-in-loop.sass").string()});
  INFO(in_loop.out << in_loop.err);
  CHECK(in_loop.exit_code == 1);
  CHECK(contains(in_loop.out, "line 0: MOV R30, R1"));
  const testing::ProcessResult before_loop =
      testing::run_process({"/usr/bin/env", "python3", script, "--sass", (folder.path() / "copy-before-loop.sass").string()});
  INFO(before_loop.out << before_loop.err);
  CHECK(before_loop.exit_code == 0);
  CHECK(contains(before_loop.out, "1 wgmma kernels checked, 0 with accumulator hazards"));
}

// The SASS of tensor_wgmma never touches the accumulators of a wgmma that may still be running
// (scripts/wgmma-hazards.py): ptxas once copied them at a loop's back edge behind a pending wgmma,
// which only a device run could see as wrong sums (64 x 64 blocks, float32 output, K = 320). One
// config per decode path at that shape, with float32 output, at 64 x 64 on one warpgroup and at
// 128 x 128 split in two, and tensor_wgmma_ws at 64 x 64, 64 x 256 and 256 x 128, with wgmma groups
// of 1 and of 4 (ws) or 2 steps; W8A8 int8 and fp8 at 64, 128, 192 and (int8) 256 rows, on both
// families, and from 128 rows as pairs of blocks (launch.cluster_n 2). No kernel may have its wgmmas serialized by ptxas. [sampled]: in CI every 23rd kernel
// (a prime stride: each of the 7 schedules per decode path is taken for some paths) and every W8A8
// kernel; all of them with BITJIT_TEST_FULL=1 (ctest's test_compiler.full).
TEST_CASE("no tensor_wgmma kernel touches a pending wgmma's accumulators", "[codegen][nvrtc][sass][sampled]") {
  MatmulConfig shape;
  shape.M = MSpec::buckets({33, 130});
  shape.N = 136;
  shape.K = 320;
  std::vector<std::pair<MatmulConfig, TileSchedule>> all_kernels;
  std::set<std::string> seen;
  for (MatmulConfig c : enumerate_format_matrix(shape, {32})) {
    c.out_dtype = DType::float32;
    const std::optional<MmaRunLayout> layout = fragment_order_layout(c);
    if (!layout || !seen.insert(decode_path(c)).second) continue;
    const TileSchedule one = wgmma_64x64_schedule(c, *layout);
    TileSchedule two = wgmma_128x128_schedule(4);
    two.pipeline.vector_bytes = one.pipeline.vector_bytes;
    two.pipeline.k_per_stage = one.pipeline.k_per_stage;
    two.pipeline.split_k = 2;
    // The warp-specialized family: one consumer warpgroup with the launch's registers, and two with
    // 256 rows each, which take their registers from the producer (setmaxnreg).
    const TileSchedule specialized_one = wgmma_ws_schedule(c, *layout, 64, 64, 4, 8);
    const TileSchedule specialized_two = wgmma_ws_schedule(c, *layout, 256, 128, 3, 8);
    // wgmma groups of 4 and 2 steps (where a k-block holds whole groups): several wgmmas in flight
    // between waits.
    TileSchedule grouped_one = specialized_one, grouped_two = two;
    grouped_one.pipeline.wgmma_group = 4;
    grouped_two.pipeline.wgmma_group = 2;
    for (const TileSchedule& s : {one, two, specialized_one, specialized_two, grouped_one, grouped_two})
      if (schedule_error_on(c, s, "sm_90a").empty()) all_kernels.emplace_back(c, s);
    // Four consumer warpgroups of 64 rows (the M = 64 default of large layers): about 100 registers
    // a thread, the tightest budget.
    const TileSchedule specialized_four = wgmma_ws_schedule(c, *layout, 64, 256, 4, 8);
    if (schedule_error_on(c, specialized_four, "sm_90a").empty()) all_kernels.emplace_back(c, specialized_four);
  }
  for (DType type : {DType::int8, DType::float8_e4m3}) {
    MatmulConfig c = shape;
    c.K = 1040;
    c.A_dtype = c.W_dtype = type;
    c.accum_dtype = type == DType::int8 ? DType::int32 : DType::float32;
    c.out_dtype = type == DType::int8 ? DType::int32 : DType::float32;
    for (int rows : {64, 128, 192, 256}) {
      TileSchedule s = wgmma_128x128_schedule(rows >= 192 ? 3 : 4);
      s.tile.m = rows;
      if (schedule_error_on(c, s, "sm_90a").empty()) all_kernels.emplace_back(c, s);
      // int8 keeps a stage's group running across the loop's back edge.
      const TileSchedule specialized = warp_specialized(s, 8);
      if (schedule_error_on(c, specialized, "sm_90a").empty()) all_kernels.emplace_back(c, specialized);
      // Pairs of blocks (clusters, multicast activation boxes): the same consumers.
      TileSchedule paired = specialized;
      paired.launch.cluster_n = 2;
      if (rows != 64 && schedule_error_on(c, paired, "sm_90a").empty()) all_kernels.emplace_back(c, paired);
    }
  }
  // W4A8 (8-bit wgmma, decoded codes): int8 and fp8 activations, groups of 128 and per channel
  // (fp8: sums added once a stage), 64 and 128 rows; every run.
  const std::pair<DType, DType> w4a8_operand_types[] = {
      {DType::int8, DType::int4},        {DType::int8, DType::uint2},         {DType::int8, DType::int1},
      {DType::float8_e4m3, DType::int4}, {DType::float8_e5m2, DType::fp4_e2m1}, {DType::float8_e4m3, DType::uint4}};
  for (const auto& [activations, weights] : w4a8_operand_types)
    for (int64_t group : {int64_t(128), int64_t(-1)}) {
      MatmulConfig c = w4a16_g128_config(MSpec::buckets({1, 130}), 136, 1536);
      c.A_dtype = activations;
      c.W_dtype = weights;
      c.group_size = group;
      c.out_dtype = DType::float32;
      for (int64_t rows : {64, 130}) all_kernels.emplace_back(c, default_schedule(c, "sm_90a", rows));
    }
  REQUIRE(all_kernels.size() >= 40);
  const auto grouped = [](const auto& k) { return k.second.pipeline.wgmma_group > 1; };
  REQUIRE(std::count_if(all_kernels.begin(), all_kernels.end(), grouped) >= 100);
  std::vector<bool> always;  // the W8A8 and W4A8 kernels: few, and each of its own structure
  for (const auto& [config, schedule] : all_kernels) always.push_back(info(config.W_dtype).bits == 8 && config.A_dtype == config.W_dtype || w4a8_operands(config));
  const auto kernels = testing::take_sample(all_kernels, 23, always);
  const testing::TemporaryDirectory cubins, specialized;  // specialized: the tensor_wgmma_ws kernels again
  const auto compile_one = [&](size_t i, const char* arch) {
    const GeneratedKernel kernel = emit_kernel(kernels[i].first, kernels[i].second, arch);
    const CompiledKernel binary = compile_cuda(
        {kernel.source, kernel.file_name, arch, {}, canonical_form(kernels[i].first), CompileOutput::cubin});
    // ptxas's C7512: it ran the wgmmas one at a time for want of registers (correct, but the
    // pipelining the kernel is built on is gone).
    if (contains(binary.log, "C7512"))
      throw std::runtime_error(canonical_form(kernels[i].second) + ": wgmmas serialized: " + binary.log);
    for (const testing::TemporaryDirectory* folder : {&cubins, &specialized}) {
      if (folder == &specialized && kernels[i].second.family != KernelFamily::tensor_wgmma_ws) continue;
      std::ofstream(folder->path() / (std::to_string(i) + ".cubin"), std::ios::binary)
          .write(reinterpret_cast<const char*>(binary.cubin.data()), std::streamsize(binary.cubin.size()));
    }
  };
  const std::vector<std::string> failures = compile_everywhere(kernels.size(), {"sm_90a"}, compile_one);
  INFO("first failure: " << (failures.empty() ? "none" : failures.front()));
  REQUIRE(failures.empty());
  const testing::ProcessResult scan =
      testing::run_process({"/usr/bin/env", "python3", std::string(BITJIT_SOURCE_DIR) + "/scripts/wgmma-hazards.py", cubins.str()});
  if (scan.exit_code == 3) BITJIT_SKIP("no cuobjdump to read the SASS with (scripts/install-deps.sh installs it)");
  INFO(scan.out << scan.err);
  CHECK(scan.exit_code == 0);
  CHECK(contains(scan.out, std::to_string(kernels.size()) + " wgmma kernels checked, 0 with accumulator hazards"));

  // tensor_wgmma_ws as designed: wgmma, TMA loads waited on through mbarriers, no cp.async, one
  // block-wide barrier (after the barriers' initialization), registers moved by setmaxnreg where
  // the consumers need more than the launch's share, and the programmatic launch's two instructions
  // (griddepcontrol.wait is ACQBULK, launch_dependents PREEXIT): without the wait, a launch that may
  // overlap the grid before it would read its output too early.
  const auto specialized_count = size_t(std::count_if(kernels.begin(), kernels.end(), [](const auto& k) {
    return k.second.family == KernelFamily::tensor_wgmma_ws;
  }));
  REQUIRE(specialized_count >= (testing::full_run() ? 20u : 4u));
  const testing::ProcessResult structure = testing::run_process(
      {"/usr/bin/env", "python3", std::string(BITJIT_SOURCE_DIR) + "/scripts/sass-opcodes.py", "--expect",
       "HGMMA|IGMMA|QGMMA", "--expect", "UTMALDG", "--expect", "SYNCS.PHASECHK", "--expect", "ACQBULK", "--expect",
       "PREEXIT", "--forbid", "LDGSTS", "--most",
       "BAR.SYNC=1", specialized.str()});
  INFO(structure.out << structure.err);
  CHECK(structure.exit_code == 0);
  CHECK(contains(structure.out, std::to_string(specialized_count) + " kernels checked, 0 breaking the rules"));
}

// W8A8 on the Hopper family: activations and weights of one 8-bit type, no decoding, both operands
// from shared memory (templates/bitjit/kernels/tensor_wgmma_8bit.cuh).
TEST_CASE("tensor_wgmma takes W8A8 configs: checked, and assembled for sm_90a", "[codegen][nvrtc]") {
  const auto w8a8 = [](DType type) {
    MatmulConfig config;
    config.M = MSpec::buckets({16, 256});
    config.N = 200;
    config.K = 1040;  // not a multiple of the stage
    config.A_dtype = config.W_dtype = type;
    config.accum_dtype = type == DType::int8 ? DType::int32 : DType::float32;
    config.out_dtype = type == DType::int8 ? DType::int32 : DType::bfloat16;
    return config;
  };
  const TileSchedule s = wgmma_128x128_schedule(4);
  CHECK(schedule_error_on(w8a8(DType::int8), s, "sm_90a").empty());
  CHECK(dynamic_shared_bytes(w8a8(DType::int8), s) == 4 * (128 + 128) * 128);
  CHECK(family_weight_layout(w8a8(DType::float8_e4m3), KernelFamily::tensor_wgmma) == WeightLayout::general);
  MatmulConfig scaled = w8a8(DType::float8_e4m3);
  scaled.with_scaling = true;
  CHECK(contains(schedule_error_on(scaled, s, "sm_90a"), "without scales or zeros"));
  MatmulConfig float_sums = w8a8(DType::int8);
  float_sums.accum_dtype = DType::float32;
  float_sums.out_dtype = DType::float16;
  CHECK(contains(schedule_error_on(float_sums, s, "sm_90a"), "needs accum_dtype=int32"));
  TileSchedule odd_k = s;
  odd_k.pipeline.k_per_stage = 96;
  CHECK(contains(schedule_error_on(w8a8(DType::int8), odd_k, "sm_90a"), "pipeline.k_per_stage=96 must be 128 or 256"));
  TileSchedule split = s;
  split.pipeline.split_k = 2;
  CHECK(contains(schedule_error_on(w8a8(DType::int8), split, "sm_90a"), "8-bit operands takes pipeline.split_k=1"));
  TileSchedule fp8_wide = s;
  fp8_wide.tile.m = 256;
  fp8_wide.pipeline.stages = 3;
  CHECK(schedule_error_on(w8a8(DType::int8), fp8_wide, "sm_90a").empty());
  CHECK(contains(schedule_error_on(w8a8(DType::float8_e4m3), fp8_wide, "sm_90a"), "tile.m=256 must be 64, 128 or 192"));
  TileSchedule too_deep = s;
  too_deep.tile.m = 256;
  too_deep.pipeline.k_per_stage = 256;
  CHECK(contains(schedule_error_on(w8a8(DType::int8), too_deep, "sm_90a"), "sm_90a allows"));

  std::vector<std::pair<MatmulConfig, TileSchedule>> kernels;
  for (DType type : {DType::int8, DType::float8_e4m3, DType::float8_e5m2}) {
    for (int rows : {64, 128, 256}) {
      if (rows == 256 && type != DType::int8) continue;  // fp8: at most 128 rows (checked above)
      TileSchedule shaped = s;
      shaped.tile.m = rows;
      shaped.pipeline.stages = rows == 256 ? 3 : 4;
      kernels.emplace_back(w8a8(type), shaped);
    }
  }
  CHECK(contains(emit_kernel(kernels[0].first, kernels[0].second, "sm_90a").source, "bitjit::tensor_wgmma_8bit<Problem, Tiles>"));
  const auto [failures, assembled] = assemble_for("sm_90a", kernels);
  INFO("first failure: " << (failures.empty() ? "none" : failures.front()));
  CHECK(failures.empty());
  CHECK(assembled == kernels.size());
}

// W4A8 on the Hopper family (templates/bitjit/kernels/tensor_wgmma_w4a8.cuh): int8 activations,
// sub-byte integer weights decoded into the int8 wgmma, read from tensor_gemv_8bit's mma_runs
// layout, so a dynamic M runs tensor_gemv_8bit up to 16 rows and the wgmma kernel from 64 on one copy
// of the weights. Checked field by field, and every format's kernels assembled for sm_90a without
// ptxas serializing their wgmmas (its results are checked on the GPU: test_gpu "tensor_wgmma W4A8
// matches the reference on a Hopper GPU").
namespace {

// A W4A8 config (int8 activations, `weights` codes in groups of `group`) at the decode and prefill
// buckets.
MatmulConfig w4a8(DType weights, int64_t group) {
  MatmulConfig config = w4a16_g128_config(MSpec::buckets({1, 16, 64, 256, 4096}), 4096, 4096);
  config.A_dtype = DType::int8;
  config.W_dtype = weights;
  config.group_size = group;
  return config;
}

// Whether tensor_gemm_w4a8's default fits three stages of 64 rows in the arch's shared memory.
bool gemm_w4a8_fits(DType weights, const char* arch) {
  return info(weights).bits > 1 || std::string(arch) == "sm_80";
}

}  // namespace

TEST_CASE("the Hopper families take W4A8 configs: tensor_wgmma_ws chosen from 64 rows, tensor_wgmma checked and assembled for sm_90a", "[codegen][nvrtc]") {
  const DType formats[] = {DType::int4, DType::uint4, DType::int2, DType::uint2, DType::int1, DType::uint1};
  for (DType weights : formats) {
    const MatmulConfig config = w4a8(weights, 128);
    INFO(canonical_form(config));
    REQUIRE(w4a8_operands(config));
    CHECK(family_weight_layout(config, KernelFamily::tensor_wgmma) == WeightLayout::mma_runs);
    CHECK(family_weight_layout(config, KernelFamily::tensor_gemv) == WeightLayout::mma_runs);
    for (int64_t rows : config.M.values()) {
      const TileSchedule s = default_schedule(config, "sm_90a", rows);
      CHECK(s.family == (rows <= 16 ? KernelFamily::tensor_gemv : KernelFamily::tensor_wgmma_ws));
      CHECK(std::string(kernel_traits(config, s.family).function) ==
            (rows <= 16 ? "bitjit::tensor_gemv_8bit" : "bitjit::tensor_wgmma_ws_w4a8"));
      for (const char* arch : {"sm_80", "sm_86", "sm_89"}) {  // tensor_gemm_w4a8 there: test below
        CHECK(default_schedule(config, arch, rows).family ==
              (rows < 64 || !gemm_w4a8_fits(weights, arch) ? KernelFamily::tensor_gemv : KernelFamily::tensor_gemm));
      }
    }
  }
  // What it does not take: zero points, int32 sums, 8-bit weights; and a static M of 64 rows alone runs it too.
  MatmulConfig zeros = w4a8(DType::uint4, 128);
  zeros.with_zeros = true;
  CHECK_FALSE(w4a8_operands(zeros));
  CHECK(default_schedule(zeros, "sm_90a", 4096).family == KernelFamily::tensor_gemv);
  MatmulConfig exact = w4a8(DType::int4, -1);
  exact.with_scaling = false;
  exact.accum_dtype = exact.out_dtype = DType::int32;
  CHECK_FALSE(w4a8_operands(exact));
  CHECK_FALSE(w4a8_operands(w4a8(DType::int8, 128)));
  MatmulConfig static_rows = w4a8(DType::int4, 128);
  static_rows.M = 64;
  CHECK(std::string(kernel_traits(static_rows, default_schedule(static_rows, "sm_90a").family).function) ==
        "bitjit::tensor_wgmma_ws_w4a8");
  // With int8 activations from 33 rows on sm_90a (64-row tiles, rows past M dropped), static or as a
  // bucket; with fp8 from 17; tensor_gemv_8bit below and on the archs without wgmma, tensor_gemm_w4a8
  // there from 64.
  MatmulConfig fp8_rows = static_rows;
  fp8_rows.A_dtype = DType::float8_e4m3;
  for (int64_t rows : {17, 32, 33, 48, 63}) {
    static_rows.M = rows;
    fp8_rows.M = rows;
    INFO(rows << " rows");
    const TileSchedule int8_default = default_schedule(static_rows, "sm_90a");
    CHECK(int8_default.family == (rows >= 33 ? KernelFamily::tensor_wgmma_ws : KernelFamily::tensor_gemv));
    CHECK(std::string(kernel_traits(fp8_rows, default_schedule(fp8_rows, "sm_90a").family).function) ==
          "bitjit::tensor_wgmma_ws_w4a8");
    CHECK(default_schedule(fp8_rows, "sm_90a").tile.m == 64);
    if (rows >= 33) CHECK(int8_default.tile.m == 64);
    CHECK(default_schedule(static_rows, "sm_89").family == KernelFamily::tensor_gemv);
    CHECK(default_schedule(fp8_rows, "sm_89").family == KernelFamily::tensor_gemv);
  }
  MatmulConfig small_buckets = w4a8(DType::int4, 128);
  small_buckets.M = MSpec::buckets({1, 32, 48});
  CHECK(default_schedule(small_buckets, "sm_90a", 1).family == KernelFamily::tensor_gemv);
  CHECK(default_schedule(small_buckets, "sm_90a", 32).family == KernelFamily::tensor_gemv);
  CHECK(default_schedule(small_buckets, "sm_90a", 48).family == KernelFamily::tensor_wgmma_ws);
  small_buckets.A_dtype = DType::float8_e5m2;
  CHECK(default_schedule(small_buckets, "sm_90a", 32).family == KernelFamily::tensor_wgmma_ws);

  // tensor_wgmma's W4A8 kernel, which schedules and the tuner still name: validation, field by field.
  const MatmulConfig config = w4a8(DType::int4, 128);
  const KernelTraits& unspecialized = kernel_traits(config, KernelFamily::tensor_wgmma);
  const TileSchedule s = *unspecialized.default_for(config, "sm_90a", 4096);
  CHECK(s.tile.m == 128);
  CHECK(s.pipeline.k_per_stage == 128);
  CHECK(dynamic_shared_bytes(config, s) == s.pipeline.stages * (128 * 128 + 128 * 64));
  TileSchedule wide = s;
  wide.tile.m = 256;
  wide.pipeline.stages = 3;
  CHECK(contains(schedule_error_on(config, wide, "sm_90a"), "tile.m=256 must be 64 or 128"));
  TileSchedule split = s;
  split.pipeline.split_k = 2;
  CHECK(contains(schedule_error_on(config, split, "sm_90a"), "pipeline.split_k=2"));
  TileSchedule odd_stage = s;
  odd_stage.pipeline.k_per_stage = 192;
  CHECK(contains(schedule_error_on(config, odd_stage, "sm_90a"), "must be 1 to 8 k-blocks of 128 and a multiple of 128"));
  MatmulConfig odd_group = w4a8(DType::int4, 384);
  odd_group.K = 3072;
  TileSchedule two_blocks = s;
  two_blocks.pipeline.k_per_stage = 256;
  CHECK(contains(schedule_error_on(odd_group, two_blocks, "sm_90a"), "must divide the group size 384 or be a multiple of it"));
  MatmulConfig long_rows = w4a8(DType::int4, -1);
  long_rows.K = 131072;
  CHECK(contains(schedule_error_on(long_rows, s, "sm_90a"), "could overflow it; at most 65536"));
  MatmulConfig short_loads = w4a8(DType::int4, 32);  // groups of 32: runs of 8 k, no whole step per load
  CHECK_FALSE(wgmma_layout(short_loads).has_value());
  CHECK(contains(schedule_error_on(short_loads, s, "sm_90a"), "needs 16-byte loads of runs of at least 32 k"));
  CHECK(contains(schedule_error_on(config, s, "sm_89"), "needs wgmma"));

  // Every format's kernels: the default at 64 and 4096 rows, groups of 128 and per channel, and
  // groups spanning stages (512 k groups, 128 k stages).
  std::vector<std::pair<MatmulConfig, TileSchedule>> kernels;
  for (DType weights : formats)
    for (int64_t group : {int64_t(128), int64_t(-1)})
      for (int64_t rows : {64, 4096}) {
        const MatmulConfig c = w4a8(weights, group);
        kernels.emplace_back(c, *kernel_traits(c, KernelFamily::tensor_wgmma).default_for(c, "sm_90a", rows));
      }
  kernels.emplace_back(w4a8(DType::uint4, 512), s);
  CHECK(contains(emit_kernel(kernels[0].first, kernels[0].second, "sm_90a").source, "bitjit::tensor_wgmma_w4a8<Problem, Tiles>"));
  // ptxas's C7512-C7514: it ran the wgmmas one at a time (correct, but unpipelined).
  const auto [failures, assembled] = assemble_for("sm_90a", kernels, {"C7512", "C7513", "C7514"});
  INFO("first failure: " << (failures.empty() ? "none" : failures.front()));
  CHECK(failures.empty());
  CHECK(assembled == kernels.size());
}

// W4A8 warp-specialized (templates/bitjit/kernels/tensor_wgmma_ws_w4a8.cuh): tensor_wgmma_w4a8's warp
// on a producer warpgroup's TMA ring, the Hopper default for W4A8 from 64 rows. Its TMA boxes (activations in the 128-byte swizzle, each k-block's
// pieces in the 64-byte one, which is SwizzledPieces' chunk order), its checks, and every format's
// kernels assembled without ptxas serializing the wgmmas; the results are checked on the GPU
// (test_gpu "tensor_wgmma_ws W4A8 matches the reference on a Hopper GPU").
TEST_CASE("tensor_wgmma_ws takes W4A8 configs by default: checked and assembled for sm_90a", "[codegen][nvrtc]") {
  const MatmulConfig config = w4a8(DType::int4, 128);
  const KernelTraits& kernel = kernel_traits(config, KernelFamily::tensor_wgmma_ws);
  CHECK(std::string(kernel.function) == "bitjit::tensor_wgmma_ws_w4a8");
  CHECK(kernel_traits(config, KernelFamily::tensor_wgmma).function == std::string("bitjit::tensor_wgmma_w4a8"));
  CHECK(default_schedule(config, "sm_90a", 4096).family == KernelFamily::tensor_wgmma_ws);
  const std::optional<TileSchedule> s = kernel.default_for(config, "sm_90a", 4096);
  REQUIRE(s.has_value());
  CHECK(s->tile.m == 128);
  CHECK(s->tile.n == 128);
  CHECK(block_threads(*s) == 384);  // two consumer warpgroups and the producer
  CHECK(dynamic_shared_bytes(config, *s) == s->pipeline.stages * (128 * 128 + 128 * 64));
  const std::array<TmaTensor, 2> tensors = kernel.tma_tensors(plan_kernel(config, *s, "sm_90a"), 4096);
  CHECK(tensors[0].element_bytes == 1);
  CHECK(tensors[0].box_columns == 128);
  CHECK(tensors[0].box_rows == 128);
  CHECK(tensors[0].swizzle == TmaSwizzle::bytes128);
  CHECK(tensors[1].columns == uint64_t(config.K / 2));
  CHECK(tensors[1].box_columns == 64);
  CHECK(tensors[1].box_rows == 128);
  CHECK(tensors[1].swizzle == TmaSwizzle::bytes64);
  // The consumer threads' registers: 64 x 256 leaves them about 112, its sums need more.
  TileSchedule wide = *s;
  wide.tile = {.m = 64, .n = 256};
  wide.warps = {.m = 1, .n = 16, .k = 1};
  CHECK(contains(schedule_error_on(config, wide, "sm_90a"), "registers each"));
  TileSchedule deep = *s;
  deep.pipeline.stages = 9;
  CHECK_FALSE(schedule_error_on(config, deep, "sm_90a").empty());
  CHECK(contains(schedule_error_on(config, *s, "sm_89"), "needs wgmma"));
  // The tuner offers it beside tensor_wgmma's.
  std::vector<TileSchedule> candidates;
  add_tuning_candidates(config, default_schedule(config, "sm_90a", 4096), 4096, candidates);
  CHECK(std::any_of(candidates.begin(), candidates.end(),
                    [](const TileSchedule& c) { return c.family == KernelFamily::tensor_wgmma_ws; }));

  // Every int8 format and fp8 with int4: groups of 128, per channel and of 512 (spanning 128-k
  // stages), 64 and 4096 rows (64-row tiles: stream-K shares).
  std::vector<std::pair<MatmulConfig, TileSchedule>> kernels;
  for (DType weights : {DType::int4, DType::uint4, DType::int2, DType::uint2, DType::int1, DType::uint1})
    for (int64_t group : {int64_t(128), int64_t(-1), int64_t(512)})
      for (int64_t rows : {64, 4096}) {
        const MatmulConfig c = w4a8(weights, group);
        const std::optional<TileSchedule> ws = kernel_traits(c, KernelFamily::tensor_wgmma_ws).default_for(c, "sm_90a", rows);
        REQUIRE(ws.has_value());
        kernels.emplace_back(c, *ws);
      }
  MatmulConfig fp8 = w4a8(DType::int4, 128);
  fp8.A_dtype = DType::float8_e4m3;
  kernels.emplace_back(fp8, *kernel_traits(fp8, KernelFamily::tensor_wgmma_ws).default_for(fp8, "sm_90a", 4096));
  CHECK(contains(emit_kernel(kernels[0].first, kernels[0].second, "sm_90a").source,
                 "bitjit::tensor_wgmma_ws_w4a8<Problem, Tiles>"));
  const auto [failures, assembled] = assemble_for("sm_90a", kernels, {"C7512", "C7513", "C7514"});
  INFO("first failure: " << (failures.empty() ? "none" : failures.front()));
  CHECK(failures.empty());
  CHECK(assembled == kernels.size());
}

// W4A8 on the archs without wgmma (templates/bitjit/kernels/tensor_gemm_w4a8.cuh): the same block,
// weights and checks as tensor_wgmma_w4a8, one mma.sync m16n8k32 per warp and 8 rows instead of the
// warpgroup's wgmma. Chosen from 64 rows on sm_80, sm_86 and sm_89 (tensor_gemv_8bit below, the
// same weight bytes) where three stages fit: 1-bit codes' 512-k blocks (64 KB of activations per
// stage at 128 rows) do not in sm_86's and sm_89's 99 KB; valid on sm_90a too when a schedule
// names it; assembled for sm_80 and sm_89.
TEST_CASE("tensor_gemm takes W4A8 configs on the archs without wgmma: chosen, checked, assembled", "[codegen][nvrtc]") {
  const DType formats[] = {DType::int4, DType::uint4, DType::int2, DType::uint2, DType::int1, DType::uint1};
  for (DType weights : formats)
    for (const char* arch : {"sm_80", "sm_86", "sm_89"}) {
      const MatmulConfig config = w4a8(weights, 128);
      INFO(canonical_form(config) << " on " << arch);
      CHECK(family_weight_layout(config, KernelFamily::tensor_gemm) == family_weight_layout(config, KernelFamily::tensor_gemv));
      for (int64_t rows : config.M.values()) {
        const TileSchedule s = default_schedule(config, arch, rows);
        const bool gemm = rows >= 64 && gemm_w4a8_fits(weights, arch);
        CHECK(std::string(kernel_traits(config, s.family).function) ==
              (gemm ? "bitjit::tensor_gemm_w4a8" : "bitjit::tensor_gemv_8bit"));
        if (gemm) CHECK(s.launch.raster_group == 8);
      }
    }
  // fp16 activations keep tensor_gemm's own kernel.
  CHECK(std::string(kernel_traits(w4a16_g128_config(MSpec::buckets({64}), 4096, 4096), KernelFamily::tensor_gemm).function) ==
        "bitjit::tensor_gemm");

  // Validation names the family; a tensor_gemm W4A8 schedule is valid on sm_90a too.
  const MatmulConfig config = w4a8(DType::int4, 128);
  const TileSchedule s = default_schedule(config, "sm_89", 4096);
  CHECK(s.family == KernelFamily::tensor_gemm);
  CHECK(s.tile.m == 128);
  CHECK(is_valid_schedule(config, s, "sm_90a"));
  CHECK(is_valid_schedule(config, s, "sm_80"));
  TileSchedule split = s;
  split.pipeline.split_k = 2;
  CHECK(contains(schedule_error_on(config, split, "sm_89"), "pipeline.split_k=2: tensor_gemm takes pipeline.split_k=1"));
  TileSchedule no_raster = s;
  no_raster.launch.raster_group = 0;
  CHECK(contains(schedule_error_on(config, no_raster, "sm_89"), "launch.raster_group=0 must be 1..64"));
  MatmulConfig long_rows = w4a8(DType::int4, -1);
  long_rows.K = 131072;
  CHECK(contains(schedule_error_on(long_rows, s, "sm_89"), "family=tensor_gemm sums each scale group in int32"));
  MatmulConfig short_loads = w4a8(DType::int4, 32);
  CHECK(contains(schedule_error_on(short_loads, s, "sm_89"), "family=tensor_gemm with int8 activations and int4 weights needs"));
  // The tuner's candidates for a W4A8 bucket include this kernel's, in both tile orders.
  std::vector<TileSchedule> candidates;
  add_tuning_candidates(config, s, 4096, candidates);
  const auto gemm_w4a8 = [&](int raster) {
    return std::count_if(candidates.begin(), candidates.end(), [&](const TileSchedule& c) {
      return c.family == KernelFamily::tensor_gemm && c.launch.raster_group == raster && is_valid_schedule(config, c, "sm_89");
    });
  };
  CHECK(gemm_w4a8(1) >= 8);
  CHECK(gemm_w4a8(8) == gemm_w4a8(1));

  // Every format's default at 64 and 4096 rows, groups of 128, per channel and spanning stages.
  for (const char* arch : {"sm_80", "sm_89"}) {
    std::vector<std::pair<MatmulConfig, TileSchedule>> kernels;
    for (DType weights : formats)
      for (int64_t group : {int64_t(128), int64_t(-1)})
        for (int64_t rows : {64, 4096}) {
          const MatmulConfig c = w4a8(weights, group);
          kernels.emplace_back(c, default_schedule(c, arch, rows));
        }
    kernels.emplace_back(w4a8(DType::uint4, 512), s);
    CHECK(contains(emit_kernel(kernels[0].first, kernels[0].second, arch).source, "bitjit::tensor_gemm_w4a8<Problem, Tiles>"));
    const auto [failures, assembled] = assemble_for(arch, kernels);
    INFO(arch << ": first failure: " << (failures.empty() ? "none" : failures.front()));
    CHECK(failures.empty());
    CHECK(assembled == kernels.size());
  }
}

// fp8 activations with 4-bit weights from 64 rows (W4A8 on the fp8 tensor cores): the W4A8 kernels
// with the weights' values as e4m3 bytes (templates/bitjit/decode/wgmma_code_bytes.cuh), float32
// sums added once a stage; the weights in general_compress's order, which tensor_gemv_8bit reads
// below 64 rows. tensor_wgmma_ws_w4a8 on sm_90a (tensor_wgmma_w4a8 where a schedule names it, checked
// below), tensor_gemm_w4a8 on sm_89 (the fp8 mma.sync), simt on
// sm_80 and sm_86. Results on the GPU: test_gpu "the W4A8 kernels match the reference with fp8
// activations".
TEST_CASE("fp8 activations with 4-bit weights take the W4A8 kernels from 64 rows: chosen, checked, assembled",
          "[codegen][nvrtc]") {
  const auto fp8_config = [](DType activations, DType weights, int64_t group) {
    MatmulConfig config = w4a8(weights, group);
    config.A_dtype = activations;
    return config;
  };
  const std::pair<DType, DType> operand_types[] = {
      {DType::float8_e4m3, DType::int4}, {DType::float8_e4m3, DType::uint4}, {DType::float8_e4m3, DType::fp4_e2m1},
      {DType::float8_e5m2, DType::int4}, {DType::float8_e5m2, DType::uint4}, {DType::float8_e5m2, DType::fp4_e2m1}};
  for (const auto& [activations, weights] : operand_types) {
    const MatmulConfig config = fp8_config(activations, weights, 128);
    INFO(canonical_form(config));
    REQUIRE(w4a8_operands(config));
    const std::optional<MmaRunLayout> layout = w4a8_layout(config);
    REQUIRE(layout);
    CHECK_FALSE(reorders_weights(config, *layout));  // the bytes simt and tensor_gemv_8bit read
    CHECK(family_weight_layout(config, KernelFamily::tensor_wgmma) == WeightLayout::mma_runs);
    for (int64_t rows : config.M.values()) {
      const bool w4a8_rows = rows >= 64;
      CHECK(std::string(kernel_traits(config, default_schedule(config, "sm_90a", rows).family).function) ==
            (w4a8_rows ? "bitjit::tensor_wgmma_ws_w4a8" : "bitjit::tensor_gemv_8bit"));
      CHECK(std::string(kernel_traits(config, default_schedule(config, "sm_89", rows).family).function) ==
            (w4a8_rows ? "bitjit::tensor_gemm_w4a8" : "bitjit::tensor_gemv_8bit"));
      for (const char* arch : {"sm_80", "sm_86"}) CHECK(default_schedule(config, arch, rows).family == KernelFamily::simt);
    }
    const std::string plan = emit_cuda(plan_kernel(config, default_schedule(config, "sm_90a", 4096), "sm_90a"));
    CHECK(contains(plan, "into the e4m3 register operand"));
    CHECK(contains(plan, "float32 sums per scale group and stage"));
  }
  // What it does not take: zero points, nf4, 2-bit codes.
  MatmulConfig zeros = fp8_config(DType::float8_e4m3, DType::uint4, 128);
  zeros.with_zeros = true;
  CHECK_FALSE(w4a8_operands(zeros));
  CHECK(default_schedule(zeros, "sm_90a", 4096).family == KernelFamily::tensor_gemv);
  CHECK_FALSE(w4a8_operands(fp8_config(DType::float8_e4m3, DType::nf4, 128)));
  CHECK_FALSE(w4a8_operands(fp8_config(DType::float8_e4m3, DType::int2, 128)));

  // Checks: the fp8 mma on the arch, no int32 bound on the group (the sums are float32).
  const MatmulConfig config = fp8_config(DType::float8_e4m3, DType::int4, 128);
  const TileSchedule wgmma = *kernel_traits(config, KernelFamily::tensor_wgmma).default_for(config, "sm_90a", 4096);
  const TileSchedule gemm = default_schedule(config, "sm_89", 4096);
  CHECK(gemm.family == KernelFamily::tensor_gemm);
  CHECK(contains(schedule_error_on(config, gemm, "sm_80"),
                 "family=tensor_gemm needs the fp8 mma (archs with it: sm_89, sm_90a, sm_100a, sm_120a), got arch=sm_80"));
  CHECK(contains(schedule_error_on(config, wgmma, "sm_89"), "family=tensor_wgmma needs wgmma"));
  MatmulConfig long_rows = fp8_config(DType::float8_e4m3, DType::int4, -1);
  long_rows.K = 131072;
  CHECK(schedule_error_on(long_rows, wgmma, "sm_90a").empty());
  TileSchedule wide = wgmma;
  wide.tile.m = 256;
  wide.pipeline.stages = 3;
  CHECK(contains(schedule_error_on(config, wide, "sm_90a"),
                 "tile.m=256 must be 64 or 128 with float8_e4m3 activations and int4 weights"));

  // Every pair's kernels at 64 and 4096 rows, groups of 128 and per channel, and groups spanning
  // stages (512 k groups, 128 k stages): sm_90a's wgmma unserialized, sm_89's mma.sync.
  for (const char* arch : {"sm_90a", "sm_89"}) {
    std::vector<std::pair<MatmulConfig, TileSchedule>> kernels;
    for (const auto& [activations, weights] : operand_types)
      for (int64_t group : {int64_t(128), int64_t(-1)})
        for (int64_t rows : {64, 4096}) {
          const MatmulConfig c = fp8_config(activations, weights, group);
          kernels.emplace_back(c, default_schedule(c, arch, rows));
        }
    kernels.emplace_back(fp8_config(DType::float8_e5m2, DType::int4, 512), arch == std::string("sm_90a") ? wgmma : gemm);
    const auto [failures, assembled] = assemble_for(arch, kernels, {"C7512", "C7513", "C7514"});
    INFO(arch << ": first failure: " << (failures.empty() ? "none" : failures.front()));
    CHECK(failures.empty());
    CHECK(assembled == kernels.size());
  }
}

// fp8 activations run on the fp8 mma.sync where the arch has it (sm_89, sm_90a below the Hopper
// families' 64 rows) with weights of their fp8 type or 4-bit weights e4m3 holds exactly, and on
// simt elsewhere, from the same bytes of W.
TEST_CASE("fp8 activations take the fp8 mma from sm_89 and simt before", "[codegen][nvrtc]") {
  const std::pair<DType, DType> operands[] = {
      {DType::float8_e4m3, DType::float8_e4m3}, {DType::float8_e5m2, DType::float8_e5m2},
      {DType::float8_e4m3, DType::int4},        {DType::float8_e5m2, DType::uint4},
      {DType::float8_e4m3, DType::fp4_e2m1},
  };
  for (auto [fp8, weights] : operands) {
    MatmulConfig config;
    config.M = MSpec::buckets({1, 16, 48});
    config.N = 256;
    config.K = 1024;
    config.A_dtype = fp8;
    config.W_dtype = weights;
    config.accum_dtype = DType::float32;
    config.with_scaling = true;
    config.with_zeros = weights == DType::uint4;
    config.group_size = 128;
    INFO(canonical_form(config));
    const std::optional<MmaRunLayout> layout = mma_run_layout(config);
    REQUIRE(layout);
    CHECK(layout->step_codes == 8);
    CHECK_FALSE(reorders_weights(config, *layout));
    for (const std::string arch : {"sm_80", "sm_86"}) {
      const TileSchedule s = default_schedule(config, arch, 16);
      CHECK(s.family == KernelFamily::simt);
      TileSchedule mma = default_schedule(config, "sm_89", 16);
      CHECK(contains(schedule_error_on(config, mma, arch), "the fp8 mma.sync needs one of sm_89, sm_90a, sm_100a, sm_120a; use family=simt"));
    }
    for (const std::string arch : {"sm_89", "sm_90a"}) {
      for (int64_t rows : {1, 16, 48}) {
        const TileSchedule s = default_schedule(config, arch, rows);
        // W4A8 (4-bit weights without zero points) takes the Hopper kernel from 17 rows there.
        const bool hopper_w4a8 = arch == "sm_90a" && rows > 16 && w4a8_operands(config);
        CHECK(s.family == (hopper_w4a8 ? KernelFamily::tensor_wgmma_ws : KernelFamily::tensor_gemv));
        if (hopper_w4a8) continue;
        const std::string source = emit_cuda(plan_kernel(config, s, arch));
        CHECK(contains(source, "bitjit::tensor_gemv_8bit<Problem, Tiles>"));
        CHECK(contains(source, "using A = bitjit::fmt::" + std::string(fp8 == DType::float8_e4m3 ? "Float8E4M3" : "Float8E5M2")));
        CHECK(contains(source, "mma.sync m16n8k32 " +
                                   std::string(info(weights).bits == 4 ? "float8_e4m3" : to_string(weights)) + " x " +
                                   std::string(to_string(fp8))));
      }
      // ptxas checks the mma's types for the arch (sm_89: QMMA; sm_90a lowers it to HMMA).
      const GeneratedKernel kernel = emit_kernel(config, default_schedule(config, arch, 16), arch);
      CHECK(is_cubin(assemble(kernel, arch, config)));
      // simt reads the same bytes (the layout moves no code), so it stays a valid choice.
      TileSchedule simt = default_schedule(config, "sm_80", 16);
      CHECK(schedule_error_on(config, simt, arch).empty());
    }
    // A group that a whole-load run would straddle: no run layout, so simt everywhere.
    MatmulConfig small_groups = config;
    small_groups.group_size = info(weights).bits == 4 ? 8 : 16;
    CHECK_FALSE(mma_run_layout(small_groups));
    CHECK(default_schedule(small_groups, "sm_89", 16).family == KernelFamily::simt);
  }
  // Weights e4m3 does not hold exactly (int8, nf4), or 2- and 1-bit codes: simt on every arch.
  for (DType weights : {DType::int8, DType::uint8, DType::nf4, DType::int2, DType::uint1}) {
    MatmulConfig config;
    config.M = 16;
    config.N = 256;
    config.K = 1024;
    config.A_dtype = DType::float8_e4m3;
    config.W_dtype = weights;
    config.accum_dtype = DType::float32;
    config.with_scaling = true;
    config.group_size = 128;
    INFO(canonical_form(config));
    CHECK_FALSE(mma_run_layout(config));
    CHECK(default_schedule(config, "sm_89").family == KernelFamily::simt);
  }
}
