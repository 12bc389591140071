// The GPU sweep: every config of the format matrix, at awkward shapes and M = 1, 3, 17, 255, run
// through Matmul on the device and compared with the float64 CPU reference on fresh random data,
// with the output poisoned before each launch. Skips without a GPU.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "compiler/arch.hpp"
#include "compiler/families/tensor_wgmma_ws.hpp"
#include "compiler/format_matrix.hpp"
#include "compiler/weight_layout.hpp"
#include "quant/host_tensor.hpp"
#include "quant/random.hpp"
#include "quant/reference.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/matmul.hpp"
#include "tests/gpu/gpu_check.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scoped_env.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

const std::vector<int64_t> kSweepM = {1, 3, 17, 255};

// Shapes per config: the smallest legal (N, K), then two that are not powers of two.
std::vector<std::pair<int64_t, int64_t>> sweep_shapes(const MatmulConfig& config) {
  const int per_byte = info(config.W_dtype).elements_per_byte();
  const int64_t smallest_n = config.with_zeros && config.zeros_mode == ZerosMode::quantized ? per_byte : 1;
  const int64_t smallest_k = config.group_size > 0 ? config.group_size : per_byte;
  std::vector<std::pair<int64_t, int64_t>> shapes = {{smallest_n, smallest_k}, {40, 96}, {136, 320}};
  // 1- and 2-bit codes fill a tensor-core k-block (4 lanes x 4 to 16 bytes) only from K = 128 or 256.
  if (info(config.W_dtype).bits <= 2) shapes.push_back({24, 512});
  return shapes;
}

// Whether text is a whole number of 1 to 4 digits (what the sweeps' settings take).
bool is_small_whole_number(const std::string& text) {
  return !text.empty() && text.size() <= 4 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// BITJIT_SWEEP_STRIDE=n keeps every n-th config (for slow tools such as compute-sanitizer); default 1.
// A malformed value is an error, not the whole sweep run as if no stride had been given.
size_t parse_sweep_stride(const std::string& text) {
  if (!is_small_whole_number(text) || std::stoul(text) < 1) {
    throw std::invalid_argument("BITJIT_SWEEP_STRIDE='" + text + "': expected a whole number from 1 to 9999");
  }
  return std::stoul(text);
}

size_t sweep_stride() {
  const char* value = std::getenv("BITJIT_SWEEP_STRIDE");
  return value ? parse_sweep_stride(value) : 1;
}

// BITJIT_SWEEP_SHARD=k/n keeps the k-th of n interleaved parts (k from 0) of the configs a sweep takes
// after its stride, so that a sweep too long for one run goes in several: the format matrix's is
// 7462 configs and about 21,000 kernels to compile (sm_90a), past ten minutes of a 16-core machine.
// Default: the whole (0/1). A malformed value is an error, not the whole sweep run as if unsharded.
struct SweepShard {
  size_t index = 0, count = 1;
};

SweepShard parse_sweep_shard(const std::string& text) {
  const auto refuse = [&text] {
    return std::invalid_argument("BITJIT_SWEEP_SHARD='" + text + "': expected k/n, whole numbers with 0 <= k < n <= 1000 (e.g. 0/4)");
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos || !is_small_whole_number(text.substr(0, slash)) ||
      !is_small_whole_number(text.substr(slash + 1))) {
    throw refuse();
  }
  const SweepShard shard{std::stoul(text.substr(0, slash)), std::stoul(text.substr(slash + 1))};
  if (shard.count < 1 || shard.count > 1000 || shard.index >= shard.count) throw refuse();
  return shard;
}

SweepShard sweep_shard() {
  const char* value = std::getenv("BITJIT_SWEEP_SHARD");
  return value ? parse_sweep_shard(value) : SweepShard{};
}

// ", shard k of n" for a sweep's summary line, so that a shard's pass never reads as the whole's.
std::string sweep_shard_text() {
  const SweepShard shard = sweep_shard();
  return shard.count > 1 ? ", shard " + std::to_string(shard.index) + " of " + std::to_string(shard.count) : "";
}

// BITJIT_SWEEP_MATCH=text keeps only the configs whose canonical form contains the text (to rerun
// a failure's neighbours, e.g. '"K":320'), or each of several texts separated by ';' (e.g.
// '"A_dtype":"float8_e4m3";"W_dtype":"int4"'); default all.
bool matches_sweep_filter(const MatmulConfig& config) {
  const char* texts = std::getenv("BITJIT_SWEEP_MATCH");
  if (texts == nullptr) return true;
  const std::string form = canonical_form(config);
  std::string_view rest = texts;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find(';'), rest.size());
    if (form.find(rest.substr(0, end)) == std::string::npos) return false;
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  return true;
}

// The configs a family's sweep must take at least: about 100 / (stride x shards) of the matrix, or one under
// BITJIT_SWEEP_MATCH, which keeps a few configs, maybe none of that family (the caller skips then).
size_t least_swept_configs() {
  return std::getenv("BITJIT_SWEEP_MATCH") ? 1 : std::max<size_t>(1, 100 / (sweep_stride() * sweep_shard().count));
}

// Whether BITJIT_SWEEP_MATCH left a family's sweep nothing to run: a skip, not a failure (the filter
// kept the configs of another family, e.g. 2-bit codes, which the Hopper sweeps' families do not take).
bool filtered_to_none(size_t taken) { return taken == 0 && std::getenv("BITJIT_SWEEP_MATCH") != nullptr; }

// Every stride-th config of the format matrix at the sweep's shapes, with the M buckets Ms (of those,
// BITJIT_SWEEP_SHARD's part).
std::vector<MatmulConfig> sweep_configs(const std::vector<int64_t>& Ms, size_t stride) {
  MatmulConfig shape;
  shape.M = MSpec::buckets(Ms);
  shape.N = 8;
  shape.K = 96;
  std::vector<MatmulConfig> configs;
  for (const MatmulConfig& format : enumerate_format_matrix(shape, {-1, 32})) {
    for (auto [n, k] : sweep_shapes(format)) {
      MatmulConfig config = format;
      config.N = n;
      config.K = k;
      if (config.group_size != -1 && k % config.group_size != 0) continue;
      if (!matches_sweep_filter(config)) continue;
      configs.push_back(config);
    }
  }
  std::vector<MatmulConfig> kept;
  const SweepShard shard = sweep_shard();
  for (size_t i = 0; i < configs.size(); i += stride) {
    if ((i / stride) % shard.count == shard.index) kept.push_back(configs[i]);
  }
  return kept;
}

// The schedule a sweep runs a config with: empty for the default one of each M bucket.
using ScheduleChoice = std::function<std::optional<TileSchedule>(const MatmulConfig&)>;
const ScheduleChoice kDefaultSchedules = [](const MatmulConfig&) { return std::optional<TileSchedule>(); };

// Compiles kernels up front on all cores into the kernel cache (NVRTC is thread-safe), so the
// checks after only run them. A flushed progress line every kCompileProgressKernels kernels, with the
// threads and the seconds so far: a format sweep at stride 1 is over 20,000 kernels, and one cut by a
// time limit while compiling said nothing of its rate.
void compile_kernels(const std::vector<std::pair<MatmulConfig, TileSchedule>>& kernels, const std::string& arch,
                     const char* label = "") {
  constexpr size_t kCompileProgressKernels = 1000;
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const auto started = std::chrono::steady_clock::now();
  std::atomic<size_t> done{0};
  for_each_index_in_parallel(kernels.size(), threads, [&](size_t i) {
    generate_kernel(kernels[i].first, kernels[i].second, arch);
    const size_t count = ++done;
    if (count % kCompileProgressKernels == 0) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("sweep progress%s: compiling, %zu of %zu kernels on %u threads in %.0f s\n", label, count,
                  kernels.size(), threads, seconds);
      std::fflush(stdout);
    }
  });
}

// The kernels of each config: the chosen schedule's, else the default one of each M bucket.
std::vector<std::pair<MatmulConfig, TileSchedule>> sweep_kernels(const std::vector<MatmulConfig>& configs,
                                                                 const std::string& arch, const ScheduleChoice& choice) {
  std::vector<std::pair<MatmulConfig, TileSchedule>> kernels;
  for (const MatmulConfig& config : configs) {
    if (const std::optional<TileSchedule> chosen = choice(config)) {
      kernels.emplace_back(config, *chosen);
      continue;
    }
    for (const TileSchedule& s : default_bucket_schedules(config, arch)) kernels.emplace_back(config, s);
  }
  return kernels;
}

size_t compile_all(const std::vector<MatmulConfig>& configs, const std::string& arch, const ScheduleChoice& choice,
                   const char* label) {
  const std::vector<std::pair<MatmulConfig, TileSchedule>> kernels = sweep_kernels(configs, arch, choice);
  compile_kernels(kernels, arch, label);
  return kernels.size();
}

struct Prepared {
  MatmulOperands operands;
  ReferenceResult reference;
};

// Runs every config at each of Ms against the float64 reference and checks that all pass.
void sweep(const std::vector<MatmulConfig>& configs, const std::vector<int64_t>& Ms, size_t stride,
           const ScheduleChoice& choice = kDefaultSchedules, const char* label = "") {
  BITJIT_RANDOM_ENGINE(rng);
  ensure_context();
  const std::string arch = current_device_info().arch();
  const auto started = std::chrono::steady_clock::now();
  const auto seconds = [&started] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const size_t kernels = compile_all(configs, arch, choice, label);
  // Progress lines, flushed, so that a sweep stopped by a time limit still says how far it got and
  // that nothing failed before (its summary below is printed only at the end).
  std::printf("sweep progress%s: %zu kernels of %zu configs compiled in %.0f s\n", label, kernels, configs.size(),
              seconds());
  std::fflush(stdout);
  constexpr size_t kRunsPerProgressLine = 200;

  GpuChecker checker;
  size_t runs = 0;
  for (const MatmulConfig& config : configs) {
    const Matmul matmul = Matmul::create(config, {arch, choice(config)});
    // Operands and references for the next config's M values are built on other threads.
    std::vector<std::future<Prepared>> prepared;
    for (int64_t M : Ms) {
      const uint64_t seed = rng();
      prepared.push_back(std::async(std::launch::async, [&config, M, seed] {
        std::mt19937_64 local(seed);
        Prepared p{random_operands(config, M, local), {}};
        p.reference = reference_matmul(config, M, p.operands);
        return p;
      }));
    }
    for (size_t i = 0; i < Ms.size(); ++i) {
      Prepared p = prepared[i].get();
      checker.check(matmul, Ms[i], p.operands, p.reference);
      if (++runs % kRunsPerProgressLine == 0) {
        std::printf("sweep progress%s: %zu of %zu runs, %zu failed, %.0f s\n", label, runs, configs.size() * Ms.size(),
                    checker.failures(), seconds());
        std::fflush(stdout);
      }
    }
  }
  std::printf("GPU sweep%s on %s (%s, config stride %zu%s, M up to %lld): %zu configs x %zu M values = %zu runs, %zu passed, "
              "%zu failed\n",
              label, current_device_info().name.c_str(), arch.c_str(), stride, sweep_shard_text().c_str(), (long long)Ms.back(),
              configs.size(), Ms.size(),
              runs, runs - checker.failures(), checker.failures());
  CHECK(checker.failures() == 0);
  CHECK(runs == configs.size() * Ms.size());
}

}  // namespace

// The checks' error bound (tests/gpu/gpu_check.cpp) for kernels that scale float32 sums rather than
// weights. It used to add a rounding to A's 16-bit type for every scaled config of tensor_gemm and
// the Hopper families, W4A8 included, whose int8 activations have no float codec: the empty codec
// read as zero mantissa bits made the bound the whole sum |a * w|, so no scale error could fail.
// Now such kernels get float32's accumulation bound and the output's ulp; fp16 activations keep the
// rounding of each scaled weight.
TEST_CASE("the error bound of the W4A8 kernels is float32's, not a 16-bit type's", "[tolerance]") {
  MatmulConfig w4a8 = w4a16_g128_config(MSpec::buckets({1, 256}), 256, 1536);
  w4a8.A_dtype = DType::int8;
  REQUIRE(w4a8_operands(w4a8));
  const double magnitude = 1000.0, exact = 1.0;
  const double float32_bound = (1536 / 8.0 + 41.0) * std::ldexp(magnitude, -24)  // accumulation
                               + std::ldexp(exact, -10) + std::ldexp(1.0, -24);   // fp16 output: ulp, subnormal
  for (KernelFamily family : {KernelFamily::tensor_wgmma, KernelFamily::tensor_gemm}) {
    CHECK(tolerance(w4a8, family, exact, magnitude) == Approx(float32_bound).epsilon(1e-12));
  }
  MatmulConfig w4a16 = w4a8;
  w4a16.A_dtype = DType::float16;
  CHECK(tolerance(w4a16, KernelFamily::tensor_wgmma, exact, magnitude) ==
        Approx(float32_bound + std::ldexp(magnitude, -10)).epsilon(1e-12));
  // No config of the format matrix on any family gets a bound near the sum it checks: the largest,
  // bf16 with nf4 and scales, is nf4's level and the scaled weight rounded to bf16 (2^-8 + 2^-7 of
  // the sum) and a bf16 ulp of the output (2^-8 of it at |exact| = 1/2): under 2^-5.
  MatmulConfig shape;
  shape.M = 16;
  shape.N = 64;
  shape.K = 1024;
  int bounded = 0;
  for (const MatmulConfig& config : enumerate_format_matrix(shape, {-1, 128}))
    for (const KernelFamilyTraits& family : all_families()) {
      INFO(canonical_form(config) << " on " << family.name);
      CHECK(tolerance(config, family.family, 0.5, 1.0) < 1.0 / 32);
      ++bounded;
    }
  CHECK(bounded > 300);
}

// The shards of a sweep (BITJIT_SWEEP_SHARD) are disjoint and together its whole, in its order, at
// stride 1 and at the Hopper sweeps' stride 4; a malformed value names the variable, the form and
// what was given. No GPU needed.
TEST_CASE("BITJIT_SWEEP_SHARD splits a sweep's configs into parts that cover it once", "[sweep_shard]") {
  ScopedEnv no_match("BITJIT_SWEEP_MATCH", std::nullopt);
  ScopedEnv no_stride("BITJIT_SWEEP_STRIDE", std::nullopt);
  for (size_t stride : {size_t(1), size_t(4)}) {
    std::vector<std::string> whole;
    {
      ScopedEnv unsharded("BITJIT_SWEEP_SHARD", std::nullopt);
      for (const MatmulConfig& config : sweep_configs(kSweepM, stride)) whole.push_back(canonical_form(config));
    }
    REQUIRE(whole.size() > 100);
    const size_t count = 3;
    std::vector<std::vector<std::string>> shards(count);
    for (size_t index = 0; index < count; ++index) {
      ScopedEnv sharded("BITJIT_SWEEP_SHARD", std::to_string(index) + "/" + std::to_string(count));
      for (const MatmulConfig& config : sweep_configs(kSweepM, stride)) shards[index].push_back(canonical_form(config));
    }
    INFO("stride " << stride);
    std::vector<std::string> merged;
    for (size_t j = 0; j < whole.size(); ++j) {
      const std::vector<std::string>& shard = shards[j % count];
      if (j / count >= shard.size()) break;  // a shard short of its part: merged != whole below
      merged.push_back(shard[j / count]);
    }
    CHECK(merged == whole);
    CHECK(shards[0].size() + shards[1].size() + shards[2].size() == whole.size());
  }
  for (const std::string given : {"4/4", "1", "a/3", "0/0", "-1/3", "1/3x", "", "0/1001", "00001/2"}) {
    INFO("BITJIT_SWEEP_SHARD=" << given);
    try {
      parse_sweep_shard(given);
      FAIL("accepted");
    } catch (const std::invalid_argument& error) {
      CHECK(std::string(error.what()) == "BITJIT_SWEEP_SHARD='" + given +
                                             "': expected k/n, whole numbers with 0 <= k < n <= 1000 (e.g. 0/4)");
    }
  }
  CHECK(parse_sweep_shard("3/4").index == 3);
  CHECK(parse_sweep_shard("0/1000").count == 1000);
}

// BITJIT_SWEEP_STRIDE takes whole numbers from 1 and names anything else (it used to read "x" or
// "0" as no stride and run the whole sweep).
TEST_CASE("BITJIT_SWEEP_STRIDE takes a whole number from 1 and names a malformed value", "[sweep_shard]") {
  CHECK(parse_sweep_stride("1") == 1);
  CHECK(parse_sweep_stride("20") == 20);
  CHECK(parse_sweep_stride("9999") == 9999);
  for (const std::string given : {"0", "x", "", "-2", "2.5", "10000", " 4"}) {
    INFO("BITJIT_SWEEP_STRIDE=" << given);
    try {
      parse_sweep_stride(given);
      FAIL("accepted");
    } catch (const std::invalid_argument& error) {
      CHECK(std::string(error.what()) == "BITJIT_SWEEP_STRIDE='" + given + "': expected a whole number from 1 to 9999");
    }
  }
}

// What the format sweep compiles under the sweep's settings (BITJIT_SWEEP_STRIDE, _SHARD, _MATCH) for
// sm_90a, printed as "format sweep plan: C configs, K kernels ...": scripts/device-run.sh's check of a
// chain reads it, since a sweep cut by its limit while compiling has cost whole device calls. Two
// shards' kernels add up to the whole. No GPU needed.
TEST_CASE("the format sweep's plan counts the kernels it compiles", "[sweep_plan]") {
  const size_t stride = sweep_stride();
  const std::vector<MatmulConfig> configs = sweep_configs(kSweepM, stride);
  const size_t kernels = sweep_kernels(configs, "sm_90a", kDefaultSchedules).size();
  std::printf("format sweep plan: %zu configs, %zu kernels for sm_90a (config stride %zu%s)\n", configs.size(), kernels,
              stride, sweep_shard_text().c_str());
  CHECK(kernels >= configs.size());
  if (std::getenv("BITJIT_SWEEP_SHARD") != nullptr) return;
  size_t sharded = 0;
  for (const char* shard : {"0/2", "1/2"}) {
    ScopedEnv half("BITJIT_SWEEP_SHARD", shard);
    sharded += sweep_kernels(sweep_configs(kSweepM, stride), "sm_90a", kDefaultSchedules).size();
  }
  CHECK(sharded == kernels);
}

TEST_CASE("every config of the format matrix matches the float64 reference on the GPU", "[gpu][sweep]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  sweep(sweep_configs(kSweepM, sweep_stride()), kSweepM, sweep_stride());
}

namespace {

// Sweeps every 4th config of the matrix in the mma_fragments layout at M 33 and 130 with the schedule
// make(config, layout) gives, where it is valid on sm_90a (long k-blocks of 1 and 2 bits past the
// shared memory, or rows TMA cannot load, are left out); at least 100 configs at stride 1 (BITJIT_SWEEP_STRIDE
// divides that too) unless filtered.
template <class Make>
void sweep_fragment_configs(const char* family, Make make) {
  const ScheduleChoice choice = [make](const MatmulConfig& config) -> std::optional<TileSchedule> {
    const std::optional<MmaRunLayout> layout = fragment_order_layout(config);
    if (!layout) return std::nullopt;
    const TileSchedule s = make(config, *layout);
    return is_valid_schedule(config, s, "sm_90a") ? std::optional<TileSchedule>(s) : std::nullopt;
  };
  const std::vector<int64_t> Ms = {33, 130};
  std::vector<MatmulConfig> taken;
  for (const MatmulConfig& config : sweep_configs(Ms, 4 * sweep_stride())) {
    if (choice(config)) taken.push_back(config);
  }
  if (filtered_to_none(taken.size())) BITJIT_SKIP(std::string("BITJIT_SWEEP_MATCH keeps no config of ") + family);
  REQUIRE(taken.size() >= least_swept_configs());
  sweep(taken, Ms, 4 * sweep_stride(), choice, (std::string(" of ") + family).c_str());
}

}  // namespace

// The Hopper family on every config of the matrix it takes (fp16 / bf16 activations; the 8-bit
// W8A8 kernel has its own test above): 64 rows x 64 channels, 3 stages, every other config split
// in two along K. Rows not a multiple of 8, K not a multiple of the stage. Every 4th config (the
// kernels compile per config: about a second each).
TEST_CASE("every config tensor_wgmma takes matches the float64 reference on a Hopper GPU", "[gpu][sweep][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma");
  sweep_fragment_configs("tensor_wgmma", [](const MatmulConfig& config, const MmaRunLayout& layout) {
    TileSchedule s = wgmma_64x64_schedule(config, layout);
    const bool split = config.K >= 2 * s.pipeline.k_per_stage && std::hash<std::string>{}(canonical_form(config)) % 2;
    s.pipeline.split_k = split ? 2 : 1;
    return s;
  });
}

// The warp-specialized Hopper family on the same configs as tensor_wgmma's sweep: 64 x 64 tiles,
// 3 stages, tiles in groups of 8 row blocks.
TEST_CASE("every config tensor_wgmma_ws takes matches the float64 reference on a Hopper GPU", "[gpu][sweep][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  sweep_fragment_configs("tensor_wgmma_ws", [](const MatmulConfig& config, const MmaRunLayout& layout) {
    return wgmma_ws_schedule(config, layout, 64, 64, 3, 8);
  });
}

// Configs whose rows never exceed 8 get the tensor-core layout with whole-load runs or runs of 8 by
// their rows and code width (docs/formats.md), which the sweep above (buckets up to 255) does not
// reach: every 4th config at M 1 and 3 (whole loads for every format) and at M 1 and
// 5 (runs of 8 for 2- and 4-bit codes, whole loads for the others).
TEST_CASE("the small-M weight layouts match the reference on the GPU", "[gpu][sweep]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  for (const std::vector<int64_t>& small_m : {std::vector<int64_t>{1, 3}, std::vector<int64_t>{1, 5}})
    sweep(sweep_configs(small_m, 4 * sweep_stride()), small_m, 4 * sweep_stride());
}

// The sweeps' N (1, 24, 40, 136) are no multiple of 16, so their weights lie in rows whole: here every
// 4th config of the format matrix at N = 48 (three 16-channel tiles; blocks of 32 channels and more
// run past N, the TMA's boxes too) in channel tiles wherever the config allows them
// (compiler/weight_layout.hpp: some bucket of at most 16 rows): buckets 1 and 16 (tensor_gemv, runs of
// 8), 1 and 3 (whole loads), 1, 17 and 130 (tensor_gemv with the Hopper kernels or tensor_gemm on one
// layout) and 16, 33 and 130 (the Hopper kernels' fragment order, or tensor_gemm).
TEST_CASE("weights in channel tiles match the reference on the GPU", "[gpu][sweep]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  for (const std::vector<int64_t>& Ms : {std::vector<int64_t>{1, 16}, std::vector<int64_t>{1, 3},
                                         std::vector<int64_t>{1, 17, 130}, std::vector<int64_t>{16, 33, 130}}) {
    std::vector<MatmulConfig> configs = sweep_configs(Ms, 4 * sweep_stride());
    size_t in_tiles = 0;
    for (MatmulConfig& config : configs) {
      config.N = 48;
      const std::optional<MmaRunLayout> layout = mma_run_layout(config);
      in_tiles += layout && layout->channel_tiles;
    }
    if (filtered_to_none(configs.size())) BITJIT_SKIP("BITJIT_SWEEP_MATCH keeps no config");
    // About a third of these configs read tiles (657 of 1866 at stride 4, 84 of 234 at stride 32, 19 of
    // 78 at stride 96; the others: no tensor-core layout at the smallest K, fp8 activations, 16-bit
    // weights, general order); not the BITJIT_SWEEP_MATCH subsets.
    if (std::getenv("BITJIT_SWEEP_MATCH") == nullptr) CHECK(in_tiles * 5 >= configs.size());
    sweep(configs, Ms, 4 * sweep_stride(), kDefaultSchedules, " in channel tiles");
  }
}

// nf4 at one row on many blocks: the default's two channel tiles a warp of whole loads
// (two_tiles_for_table_fills, compiler/families/tensor_gemv.cpp), which the sweeps' small N never
// reach: 28672 channels are 1792 blocks of 16, more than 7 an SM of every arch's reference GPU (188 SMs
// the most, compiler/arch.cpp).
TEST_CASE("nf4 at one row on many blocks runs two channel tiles a warp and matches the reference", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  MatmulConfig config = w4a16_g128_config(1, 28672, 1024);
  config.W_dtype = DType::nf4;
  const Matmul matmul = Matmul::create(config);
  REQUIRE(matmul.schedule().family == KernelFamily::tensor_gemv);
  CHECK(matmul.schedule().tile.n == 32);
  checker.check_random(matmul, 1, rng);
  CHECK(checker.failures() == 0);
}

TEST_CASE("a static M runs the kernel specialised for it", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (int64_t M : {1, 3, 16}) {
    const MatmulConfig config = uint4_zeros_config(M, 72, 256, 64);
    const Matmul matmul = Matmul::create(config);
    CHECK(matmul.schedule().family == KernelFamily::tensor_gemv);  // fp16 activations
    CHECK(matmul.schedule().tile.m == (M <= 8 ? 8 : 16));
    checker.check_random(matmul, M, rng);
  }
  CHECK(checker.failures() == 0);
}

namespace {

// One config of 8-bit activations for tensor_gemv_8bit (N = 200, K = 1024, bias at M = 5).
struct EightBitCase {
  DType A, W, accum, out;
  bool scaling, zeros;
  ZerosMode mode;
  int64_t group;
};

// Each case at each M through Matmul's default (tensor_gemv_8bit; on a Hopper GPU W4A8 takes
// tensor_wgmma_ws from 17 rows with fp8 activations, from 33 with int8) against the float64 reference.
void check_8bit_activations(const std::vector<EightBitCase>& cases, std::initializer_list<int64_t> Ms) {
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (const EightBitCase& c : cases) {
    for (int64_t M : Ms) {
      MatmulConfig config;
      config.M = M;
      config.N = 200;
      config.K = 1024;
      config.A_dtype = c.A;
      config.W_dtype = c.W;
      config.accum_dtype = c.accum;
      config.out_dtype = c.out;
      config.with_scaling = c.scaling;
      config.with_zeros = c.zeros;
      config.zeros_mode = c.mode;
      config.group_size = c.group;
      config.with_bias = M == 5;
      const Matmul matmul = Matmul::create(config);
      INFO(canonical_form(config));
      // The 8-bit wgmma reads W4A8's runs only where each 32-k step is one lane's 16-byte load
      // (w4a8_layout): fp4 with groups of 32 k stays on tensor_gemv_8bit.
      const int64_t hopper_w4a8_rows = fp8_activations(config) ? 17 : 33;
      const bool hopper_w4a8 =
          M >= hopper_w4a8_rows && w4a8_layout(config).has_value() && current_device_info().arch() == "sm_90a";
      CHECK(matmul.schedule().family == (hopper_w4a8 ? KernelFamily::tensor_wgmma_ws : KernelFamily::tensor_gemv));
      CHECK(matmul.source().find(hopper_w4a8 ? "tensor_wgmma_ws_w4a8" : "tensor_gemv_8bit") != std::string::npos);
      checker.check_random(matmul, M, rng);
    }
  }
  CHECK(checker.failures() == 0);
}

}  // namespace

TEST_CASE("int8 activations run on the tensor cores (m16n8k32) and match the reference", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  const DType i8 = DType::int8, f32 = DType::float32;
  check_8bit_activations(
      {
          {i8, DType::int8, DType::int32, DType::int32, false, false, ZerosMode::original, -1},
          {i8, DType::int4, DType::int32, DType::int8, false, false, ZerosMode::original, -1},
          {i8, DType::uint4, f32, DType::float16, true, true, ZerosMode::original, 128},
          {i8, DType::uint2, f32, DType::bfloat16, true, true, ZerosMode::quantized, 64},
          {i8, DType::int2, f32, DType::float32, true, false, ZerosMode::original, 32},
          {i8, DType::int1, f32, DType::float16, true, false, ZerosMode::original, 128},
          {i8, DType::uint8, f32, DType::float16, true, true, ZerosMode::rescale, 256},
      },
      {1, 5, 16, 40});
}

// fp8 activations with fp8 or 4-bit weights on the fp8 mma.sync: below the Hopper families' 64 rows
// (17 for 4-bit weights without zero points in w4a8_layout, which 40 rows check there), and on sm_89
// at any M.
TEST_CASE("fp8 activations run on the fp8 mma.sync and match the reference", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  ensure_context();
  const std::string arch = current_device_info().arch();
  if (!arch_info(arch).has_fp8_mma) BITJIT_SKIP("no fp8 mma.sync on " + arch);
  const DType e4m3 = DType::float8_e4m3, e5m2 = DType::float8_e5m2, f32 = DType::float32;
  const ZerosMode original = ZerosMode::original;
  check_8bit_activations(
      {
          {e4m3, e4m3, f32, DType::float16, false, false, original, -1},
          {e4m3, e4m3, f32, DType::bfloat16, true, false, original, -1},
          {e4m3, e4m3, f32, DType::float32, true, false, original, 128},
          {e5m2, e5m2, f32, DType::float16, true, false, original, 64},
          {e5m2, e5m2, f32, DType::float32, false, false, original, -1},
          {e4m3, DType::int4, f32, DType::float16, true, false, original, 128},
          {e5m2, DType::int4, f32, DType::float32, false, false, original, -1},
          {e4m3, DType::uint4, f32, DType::float16, true, true, original, 128},
          {e4m3, DType::uint4, f32, DType::bfloat16, true, true, ZerosMode::rescale, 64},
          {e5m2, DType::uint4, f32, DType::float16, true, true, ZerosMode::quantized, 32},
          {e4m3, DType::fp4_e2m1, f32, DType::float16, true, false, original, 32},
          {e5m2, DType::fp4_e2m1, f32, DType::float32, false, false, original, -1},
      },
      {1, 5, 16, 40});
}

namespace {

// One config per decode path and zeros mode, for the staged families: K is whole groups and k-blocks
// but not whole stages of 256 k (int1: 5 stages, for 3 slices of split-K), and M buckets {33, 200}.
std::vector<MatmulConfig> staged_family_configs() {
  struct Case {
    DType A, W;
    bool zeros;
    ZerosMode mode;
    int64_t group, K;
  };
  const Case cases[] = {
      {DType::float16, DType::int4, false, ZerosMode::original, 128, 1152},
      {DType::bfloat16, DType::uint4, true, ZerosMode::original, 64, 1088},
      {DType::float16, DType::uint2, true, ZerosMode::quantized, 64, 1088},
      {DType::bfloat16, DType::uint8, true, ZerosMode::rescale, 128, 1152},
      {DType::float16, DType::int1, false, ZerosMode::original, 512, 2560},
      {DType::bfloat16, DType::nf4, false, ZerosMode::original, 32, 1088},
      {DType::float16, DType::fp4_e2m1, false, ZerosMode::original, 64, 1088},
      {DType::float16, DType::float8_e4m3, false, ZerosMode::original, 128, 1152},
      {DType::bfloat16, DType::float8_e5m2, false, ZerosMode::original, -1, 1088},
      {DType::float16, DType::int8, false, ZerosMode::original, 16, 1088},  // group 16: runs of 4
      // W8A16 per channel (fp16 activations, the magic decode); e5m2 above is the other per-channel case.
      {DType::float16, DType::int8, false, ZerosMode::original, -1, 1152},
  };
  std::vector<MatmulConfig> configs;
  for (const Case& c : cases) {
    MatmulConfig config;
    config.M = MSpec::buckets({33, 200});
    config.N = 136;
    config.K = c.K;
    config.A_dtype = c.A;
    config.W_dtype = c.W;
    config.accum_dtype = DType::float32;
    config.out_dtype = c.A;
    config.with_scaling = true;
    config.with_zeros = c.zeros;
    config.zeros_mode = c.mode;
    config.group_size = c.group;
    config.with_bias = c.W == DType::uint4 || c.W == DType::nf4;
    configs.push_back(config);
  }
  return configs;
}

// k per stage: 256, or one k-block where that is longer.
int two_hundred_fifty_six_k(const MatmulConfig& config, const MmaRunLayout& layout) {
  const int k_block = layout.k_block(info(config.W_dtype).bits);
  return std::max(k_block, 2 * (128 / k_block) * k_block);
}

// Runs the config at each of `rows` (M 33 and 200 unless given; the config's buckets must hold them)
// with the schedule against the reference.
void check_schedule(GpuChecker& checker, const MatmulConfig& config, const TileSchedule& s, std::mt19937_64& rng,
                    std::initializer_list<int64_t> rows = {33, 200}) {
  INFO(canonical_form(config) << " " << canonical_form(s));
  const Matmul matmul = Matmul::create(config, {"", s});
  for (int64_t M : rows) {
    checker.check_random(matmul, M, rng);
  }
}

// check_schedule on every (config, schedule), their kernels compiled on all cores for this GPU first
// (compile_kernels): one NVRTC compile after another took 86-97 s a test case on the H200.
void check_schedules(GpuChecker& checker, const std::vector<std::pair<MatmulConfig, TileSchedule>>& kernels,
                     std::mt19937_64& rng, std::initializer_list<int64_t> rows = {33, 200}) {
  ensure_context();
  compile_kernels(kernels, current_device_info().arch());
  for (const auto& [config, s] : kernels) check_schedule(checker, config, s, rng, rows);
}

// Runs check_schedule on every staged-family config in the layout the Hopper kernels read for it
// (wgmma_layout: mma_fragments for these buckets) with each schedule make(config, layout) gives that
// is valid there (long k-blocks of 1 and 2 bits with many rows do not fit in shared memory: skipped);
// returns how many ran. With one_row_bucket the configs get a bucket of 1 row too, so that codes of
// at most 4 bits lie in tensor_gemv's runs of 8 (the layout of a dynamic M from one row) and the
// Hopper kernels decode them in fragment order from each quad's loads; the other configs keep mma_fragments.
// Each kernel runs at each of `rows`.
template <class Make>
int check_fragment_schedules(GpuChecker& checker, std::mt19937_64& rng, Make make, bool one_row_bucket = false,
                             std::initializer_list<int64_t> rows = {33, 200}) {
  std::vector<std::pair<MatmulConfig, TileSchedule>> valid;
  for (MatmulConfig config : staged_family_configs()) {
    if (one_row_bucket) config.M = MSpec::buckets({1, 33, 200});
    const std::optional<MmaRunLayout> layout = wgmma_layout(config);
    REQUIRE(layout);
    for (const TileSchedule& s : make(config, *layout))
      if (is_valid_schedule(config, s, "sm_90a")) valid.emplace_back(config, s);
  }
  check_schedules(checker, valid, rng, rows);
  return int(valid.size());
}

// The W8A8 tests' config: both operands `type`, int32 sums and output for int8, float32 sums and
// fp16 (e4m3) or bf16 (e5m2) output for fp8; N = 200 and K = 1040, not multiples of the tiles.
MatmulConfig w8a8_test_config(DType type) {
  MatmulConfig config;
  config.M = MSpec::buckets({33, 200});
  config.N = 200;
  config.K = 1040;
  config.A_dtype = config.W_dtype = type;
  config.accum_dtype = type == DType::int8 ? DType::int32 : DType::float32;
  config.out_dtype = type == DType::int8 ? DType::int32 : type == DType::float8_e4m3 ? DType::float16 : DType::bfloat16;
  config.with_bias = type != DType::float8_e5m2;
  return config;
}

}  // namespace

// W8A8 on the Hopper family: int8 (exact int32 sums), fp8 e4m3 and e5m2 (float32 sums), with and
// without bias, 64, 128, 192 and (int8) 256 rows per block, N and K not multiples of the tiles.
TEST_CASE("tensor_wgmma W8A8 matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (DType type : {DType::int8, DType::float8_e4m3, DType::float8_e5m2}) {
    MatmulConfig config = w8a8_test_config(type);
    for (int rows : {64, 128, 192, 256}) {
      if (rows == 256 && type != DType::int8) continue;  // fp8 keeps two accumulator sets: 192 rows at most
      TileSchedule s = wgmma_128x128_schedule(rows >= 192 ? 3 : 4);
      s.tile.m = rows;
      check_schedule(checker, config, s, rng);
    }
  }
  CHECK(checker.failures() == 0);
}

namespace {

// check_schedule with s at each of `rows` rows a block; 256 rows for int8 alone (fp8 keeps two
// accumulator sets: 192 rows at most).
void check_w8a8_tiles(GpuChecker& checker, const MatmulConfig& config, TileSchedule s, std::initializer_list<int> rows,
                      std::mt19937_64& rng) {
  for (int block_m : rows) {
    if (block_m == 256 && config.A_dtype != DType::int8) continue;
    s.tile.m = block_m;
    check_schedule(checker, config, s, rng);
  }
}

// M = 2000 and N = 1040 at each of `rows` rows a block: more tiles than SMs, each block (or pair of
// blocks) taking several.
void check_w8a8_many_tiles(GpuChecker& checker, MatmulConfig config, TileSchedule s, std::initializer_list<int> rows,
                           std::mt19937_64& rng) {
  config.M = MSpec::buckets({2000});
  config.N = 1040;
  for (int block_m : rows) {
    s.tile.m = block_m;
    INFO(canonical_form(config) << " " << canonical_form(s));
    const Matmul many_tiles = Matmul::create(config, {"", s});
    checker.check_random(many_tiles, 2000, rng);
  }
}

}  // namespace

// W8A8 on the warp-specialized family (TMA boxes of both operands' rows, persistent grid): the
// same types and shapes at 64, 128, 192 and (int8) 256 rows and with 256 k per stage, then more tiles
// than SMs (M = 2000, N = 1040) so that each block takes several.
TEST_CASE("tensor_wgmma_ws W8A8 matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (DType type : {DType::int8, DType::float8_e4m3, DType::float8_e5m2}) {
    const MatmulConfig config = w8a8_test_config(type);
    const TileSchedule s = warp_specialized(wgmma_128x128_schedule(4), 8);
    check_w8a8_tiles(checker, config, s, {64, 128, 192, 256}, rng);
    // 256 k per stage: fp8's float32 sums take a stage's chain of 8 wgmmas (the bound's most).
    TileSchedule long_stage = s;
    long_stage.tile.m = 128;
    long_stage.pipeline.k_per_stage = 256;
    long_stage.pipeline.stages = 3;
    check_schedule(checker, config, long_stage, rng);
    check_w8a8_many_tiles(checker, config, s, {64, 192}, rng);  // 192: a tail row block of 80 rows
  }
  CHECK(checker.failures() == 0);
}

// W8A8 as pairs of blocks (launch.cluster_n 2: two blocks on the same rows, channel blocks side by
// side, each copying half of the activation box into both by TMA multicast): int8, fp8 e4m3 and e5m2
// at 128, 192 and (int8) 256 rows; N = 200 and 328 (two and three 128-channel blocks: the second
// pair's other block lies past N and stores nothing), K = 1040; M of 33 and 200 rows (a pair's second
// half of the rows past M); then more pair tiles than pairs (M = 2000, N = 1040: nine channel blocks).
TEST_CASE("tensor_wgmma_ws W8A8 pairs of blocks match the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (DType type : {DType::int8, DType::float8_e4m3, DType::float8_e5m2}) {
    MatmulConfig config = w8a8_test_config(type);
    TileSchedule s = warp_specialized(wgmma_128x128_schedule(4), 8);
    s.launch.cluster_n = 2;
    for (int64_t n : {200, 328}) {
      config.N = n;
      check_w8a8_tiles(checker, config, s, {128, 192, 256}, rng);
    }
    check_w8a8_many_tiles(checker, config, s, {128, 192}, rng);
  }
  CHECK(checker.failures() == 0);
}

namespace {

// A W4A8 config: `activations` (int8, or fp8 with 4-bit weights), `weights` codes, float32 sums,
// fp16 scales per `group` k (-1: per channel; 0: none), N = 200 (not a multiple of the tiles), K = 1536 (whole k-blocks of every width: 512 k for
// 1-bit codes), buckets 1 and 16 (tensor_gemv_8bit's) and 33, 200 and 257 (the wgmma kernel's), so
// the weights lie in the mma_runs layout both read.
MatmulConfig w4a8_test_config(DType weights, int64_t group, DType out, DType activations = DType::int8) {
  MatmulConfig config;
  config.M = MSpec::buckets({1, 16, 33, 200, 257});
  config.N = 200;
  config.K = 1536;
  config.A_dtype = activations;
  config.W_dtype = weights;
  config.accum_dtype = DType::float32;
  config.out_dtype = out;
  config.with_scaling = group != 0;
  config.group_size = group == 0 ? -1 : group;
  config.with_bias = weights == DType::int4 || weights == DType::uint2;
  return config;
}

// The W4A8 kernels (kernels/tensor_wgmma_w4a8.cuh, tensor_wgmma_ws_w4a8.cuh, tensor_gemm_w4a8.cuh) of
// `family` on `arch`
// with `activations`: every sub-byte format the kernels take with them (int8: the integer ones;
// fp8: int4, uint4, fp4) decoded into the 8-bit tensor-core operand, scales per group of 128
// (several per stage) or 512, per channel, or none; 64 and 128 rows, one to four warpgroups (or
// their warps' mma.sync), 3 and 4 stages of one to four k-blocks (groups spanning
// stages where 128 k stages meet groups of 512); tiles in row-major order and in raster groups of 2
// and 3 row blocks (4 and 5 row blocks at 200 and 257 rows: a short last group); fp16, bf16 and
// float32 output. tensor_wgmma_ws shares the 64-row tiles out along K (stream-K: fewer tiles than
// SMs), so shares that start and end inside groups of 512 k are checked too. with_defaults: the same Matmul's default kernels at 1, 16, 33, 64 and 257 rows too
// (tensor_gemv_8bit to 16 rows; from 17 the Hopper kernel on sm_90a, from 64 tensor_gemm elsewhere; same weights).
void check_w4a8_kernels(KernelFamily family, const std::string& arch, bool with_defaults,
                        DType activations = DType::int8) {
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  int checked = 0;
  const DType outputs[] = {DType::float16, DType::bfloat16, DType::float32};
  const std::vector<DType> formats = activations == DType::int8
                                         ? std::vector<DType>{DType::int4, DType::uint4, DType::int2, DType::uint2,
                                                              DType::int1, DType::uint1}
                                         : std::vector<DType>{DType::int4, DType::uint4, DType::fp4_e2m1};
  // The configs and schedules first, their kernels (and the defaults') compiled on all cores, then
  // the checks.
  std::vector<std::pair<MatmulConfig, TileSchedule>> schedules, kernels;
  std::vector<MatmulConfig> defaults_of;  // the configs whose default kernels run too
  size_t variant = 0;
  for (DType weights : formats)
    for (int64_t group : {int64_t(128), int64_t(512), int64_t(-1), int64_t(0)}) {
      const MatmulConfig config = w4a8_test_config(weights, group, outputs[variant++ % 3], activations);
      INFO(canonical_form(config));
      REQUIRE(w4a8_operands(config));
      const std::optional<MmaRunLayout> layout = mma_run_layout(config);
      REQUIRE(layout);
      const int k_block = layout->k_block(info(weights).bits);
      for (const auto& [rows, channels, stages, blocks, raster] :
           {std::array<int, 5>{64, 64, 3, 1, 1}, {128, 128, 4, 1, 2}, {64, 128, 4, 2, 3}, {128, 64, 3, 4, 1},
            {64, 192, 3, 2, 2}, {64, 256, 3, 1, 3}}) {
        TileSchedule s;
        s.family = family;
        s.tile = {.m = rows, .n = channels};
        s.warps = {.m = 1, .n = channels / 16, .k = 1};
        s.pipeline.stages = stages;
        s.pipeline.k_per_stage = std::max(128, k_block) * blocks;
        s.pipeline.vector_bytes = 16;
        s.launch.raster_group = raster;
        if (!is_valid_schedule(config, s, arch)) continue;  // e.g. 4 k-blocks of 1-bit codes past shared memory
        schedules.emplace_back(config, s);
        kernels.emplace_back(config, s);
      }
      if (with_defaults) {
        defaults_of.push_back(config);
        for (const TileSchedule& s : default_bucket_schedules(config, arch)) kernels.emplace_back(config, s);
      }
    }
  compile_kernels(kernels, arch);
  for (const auto& [config, s] : schedules) {
    check_schedule(checker, config, s, rng, {33, 200, 257});
    ++checked;
  }
  for (const MatmulConfig& config : defaults_of) {
    INFO(canonical_form(config));
    const Matmul defaults = Matmul::create(config);
    for (int64_t M : {1, 16, 33, 64, 257}) checker.check_random(defaults, M, rng);
  }
  // int8: 96 of the 144 (format, group, schedule) combinations are valid on sm_90a; fp8: 60 of 72 (the
  // 4-k-block stages of 128 rows exceed its shared memory). tensor_wgmma_ws: fewer (its consumers'
  // registers leave out 64 x 256), at least half.
  const size_t combinations = formats.size() * 4 * 6;
  if (arch == "sm_90a" && family != KernelFamily::tensor_wgmma_ws) CHECK(checked * 3 >= int(combinations) * 2);
  if (family == KernelFamily::tensor_wgmma_ws) CHECK(checked * 2 >= int(combinations));
  CHECK(checked * 18 >= int(combinations) * 5);
  CHECK(checker.failures() == 0);
}

}  // namespace

TEST_CASE("tensor_wgmma W4A8 matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma");
  check_w4a8_kernels(KernelFamily::tensor_wgmma, "sm_90a", true);
}

// The warp-specialized W4A8 kernel (consumer warpgroups free of each other's phase), the same checks.
TEST_CASE("tensor_wgmma_ws W4A8 matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  check_w4a8_kernels(KernelFamily::tensor_wgmma_ws, "sm_90a", true);
}

// The mma.sync kernel runs on every arch of the table; on a Hopper GPU only when a schedule names it.
TEST_CASE("tensor_gemm W4A8 matches the reference on the GPU", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  ensure_context();
  const std::string arch = current_device_info().arch();
  check_w4a8_kernels(KernelFamily::tensor_gemm, arch, arch != "sm_90a");
}

// fp8 activations (e4m3, e5m2) with int4, uint4 and fp4 weights on the same kernels: the weights'
// values as e4m3 bytes into the fp8 wgmma (sm_90a) and the fp8 mma.sync (sm_89 and newer, where a
// schedule names tensor_gemm on sm_90a), float32 sums added once a stage.
TEST_CASE("the W4A8 kernels match the reference with fp8 activations", "[gpu][wgmma]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  ensure_context();
  const std::string arch = current_device_info().arch();
  if (!arch_info(arch).has_fp8_mma) BITJIT_SKIP("no fp8 mma on " + arch);
  for (DType activations : {DType::float8_e4m3, DType::float8_e5m2}) {
    if (arch == "sm_90a") check_w4a8_kernels(KernelFamily::tensor_wgmma, arch, true, activations);
    if (arch == "sm_90a") check_w4a8_kernels(KernelFamily::tensor_wgmma_ws, arch, false, activations);
    check_w4a8_kernels(KernelFamily::tensor_gemm, arch, arch != "sm_90a", activations);
  }
}

// The W4A8 kernels' int32 group sums at their extremes (int4 codes as value x 16, groups of 256:
// 256 x 128 x 128 = 2^22), converted to float and scaled: rows of -128 against codes of -8 reach
// +2^22 in every group, rows of 127 reach -127 x 128 x 256, the rest stay random; every weight code
// -8 (byte 0x00), random scales, float32 output.
TEST_CASE("the W4A8 kernels add extreme group sums exactly on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  MatmulConfig config = w4a8_test_config(DType::int4, 256, DType::float32);
  config.with_bias = false;
  for (KernelFamily family : {KernelFamily::tensor_wgmma, KernelFamily::tensor_wgmma_ws, KernelFamily::tensor_gemm}) {
    TileSchedule s;
    s.family = family;
    s.tile = {.m = 64, .n = 128};
    s.warps = {.m = 1, .n = 8, .k = 1};
    s.pipeline.stages = 4;
    s.pipeline.k_per_stage = 256;
    s.pipeline.vector_bytes = 16;
    REQUIRE(is_valid_schedule(config, s, "sm_90a"));
    const Matmul matmul = Matmul::create(config, {"", s});
    for (int64_t M : {64, 200}) {
      MatmulOperands operands = random_operands(config, M, rng);
      std::fill(operands.W.bytes.begin(), operands.W.bytes.end(), uint8_t(0));  // int4 code 0 is -8
      for (int64_t row = 0; row < M; ++row) {
        if (row % 3 == 2) continue;
        const uint8_t extreme = row % 3 == 0 ? uint8_t(0x80) : uint8_t(0x7F);  // -128, 127
        std::fill_n(operands.A.bytes.begin() + row * config.K, config.K, extreme);
      }
      checker.check(matmul, M, operands, reference_matmul(config, M, operands));
    }
  }
  CHECK(checker.failures() == 0);
}

// Two tensor_wgmma_ws launches in a row on one stream, the second reading the first's output as its
// activations. They are programmatic dependent launches: the second's blocks start while the first
// finishes, and must still read the finished output (wait_for_prior_grids). Three rounds, the
// intermediate poisoned with NaN before each; the second's reference is computed from the
// intermediate as the GPU wrote it.
TEST_CASE("a tensor_wgmma_ws launch reads the output of the launch before it on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  constexpr int64_t M = 200;
  MatmulConfig first;
  first.M = MSpec::buckets({M});
  first.N = 2048;
  first.K = 8192;
  first.A_dtype = first.out_dtype = DType::float16;
  first.W_dtype = DType::int4;
  first.with_scaling = true;
  first.group_size = 128;
  MatmulConfig second = first;
  second.K = first.N;
  second.N = 512;
  const Matmul producer = Matmul::create(first), consumer = Matmul::create(second);
  REQUIRE(producer.schedule_for(M).family == KernelFamily::tensor_wgmma_ws);
  REQUIRE(consumer.schedule_for(M).family == KernelFamily::tensor_wgmma_ws);

  const MatmulOperands one = random_operands(first, M, rng), two = random_operands(second, M, rng);
  const HostTensor w1 = producer.transform_weight(one.W), w2 = consumer.transform_weight(two.W);
  const DeviceBuffer a = upload_host_tensor(one.A), w1_device = upload_host_tensor(w1), s1 = upload_host_tensor(one.scales),
                     w2_device = upload_host_tensor(w2), s2 = upload_host_tensor(two.scales);
  HostTensor middle = make_host_tensor(DType::float16, {M, first.N}), out = make_host_tensor(DType::float16, {M, second.N});
  DeviceBuffer middle_device(middle.bytes.size()), out_device(out.bytes.size());
  const TensorView middle_view(middle_device.data(), DType::float16, middle.shape);
  Stream stream;
  size_t failures = 0;
  for (int round = 0; round < 3; ++round) {
    middle_device.fill_bytes(0xFF);
    out_device.fill_bytes(0xFF);
    producer.run(TensorView(a.data(), one.A.dtype, one.A.shape), TensorView(w1_device.data(), w1.dtype, w1.shape),
                 middle_view, TensorView(s1.data(), one.scales.dtype, one.scales.shape), {}, {}, stream.get());
    consumer.run(middle_view, TensorView(w2_device.data(), w2.dtype, w2.shape),
                 TensorView(out_device.data(), out.dtype, out.shape),
                 TensorView(s2.data(), two.scales.dtype, two.scales.shape), {}, {}, stream.get());
    stream.synchronize();
    middle_device.download(middle.bytes.data(), middle.bytes.size());
    out_device.download(out.bytes.data(), out.bytes.size());
    for (int64_t i = 0; i < M * first.N; ++i) REQUIRE(std::isfinite(get_value(middle, i)));
    MatmulOperands chained = two;
    chained.A = middle;
    const ReferenceResult reference = reference_matmul(second, M, chained);
    for (int64_t i = 0; i < M * second.N; ++i) {
      const double got = get_value(out, i);
      const double bound = tolerance(second, KernelFamily::tensor_wgmma_ws, reference.exact[i], reference.magnitude[i]);
      if (!(std::fabs(got - reference.exact[i]) <= bound) && failures++ < 5)
        std::printf("MISMATCH round %d at C[%lld, %lld]: got %.9g, expected %.9g\n", round, (long long)(i / second.N),
                    (long long)(i % second.N), got, reference.exact[i]);
    }
  }
  CHECK(failures == 0);
}

// tensor_gemm beyond what the sweep's default schedules reach: split-K (3 slices: uneven shares of
// K's stages), K not a multiple of the stage, rows not a multiple of 8, 2- and 3-stage rings, both
// warp grids, for one config of each weight-decoding path and zeros mode.
TEST_CASE("tensor_gemm matches the reference with split-K, uneven K and odd M", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (const MatmulConfig& config : staged_family_configs()) {
    const std::optional<MmaRunLayout> layout = mma_run_layout(config);
    REQUIRE(layout);
    for (int variant = 0; variant < 2; ++variant) {
      TileSchedule s;
      s.family = KernelFamily::tensor_gemm;
      s.pipeline.vector_bytes = layout->load_bytes;
      s.warps = {.m = variant == 0 ? 2 : 1, .n = variant == 0 ? 2 : 4, .k = 1};
      s.tile.m = variant == 0 ? 32 : 64;
      s.tile.n = variant == 0 ? 64 : 128;
      s.pipeline.k_per_stage = two_hundred_fifty_six_k(config, *layout);
      s.pipeline.stages = variant == 0 ? 2 : 3;
      s.pipeline.split_k = variant == 0 ? 1 : 3;
      check_schedule(checker, config, s, rng);
    }
  }
  CHECK(checker.failures() == 0);
}

namespace {

// Runs check_schedule at M 1, 5 and 16 on every staged-family config (buckets 1, 5, 16, so tensor_gemv's
// mma_runs layout) with each of kVariants schedules make(config, layout, variant) that is valid on
// sm_80; returns how many ran per variant.
template <size_t kVariants, class Make>
std::array<int, kVariants> check_decode_size_variants(GpuChecker& checker, std::mt19937_64& rng, Make make) {
  std::array<int, kVariants> checked{};
  std::vector<std::pair<MatmulConfig, TileSchedule>> valid;
  for (MatmulConfig config : staged_family_configs()) {
    config.M = MSpec::buckets({1, 5, 16});
    const std::optional<MmaRunLayout> layout = mma_run_layout(config);
    REQUIRE(layout);
    for (size_t variant = 0; variant < kVariants; ++variant) {
      const TileSchedule s = make(config, *layout, int(variant));
      if (!is_valid_schedule(config, s, "sm_80")) continue;
      valid.emplace_back(config, s);
      ++checked[variant];
    }
  }
  check_schedules(checker, valid, rng, {1, 5, 16});
  return checked;
}

}  // namespace

// tensor_gemm with the few rows of decoding (M 1, 5, 16): 8 and 16 rows per block, the ring 3 and 4
// stages deep, unsplit and in 2 and 4 slices of K: the Marlin-like shapes the M = 16 experiments time
// against tensor_gemv (docs/performance.md).
TEST_CASE("tensor_gemm matches the reference at decode sizes", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  const auto make = [](const MatmulConfig& config, const MmaRunLayout& layout, int variant) {
    TileSchedule s;
    s.family = KernelFamily::tensor_gemm;
    s.pipeline.vector_bytes = layout.load_bytes;
    s.warps = {.m = 1, .n = variant == 2 ? 2 : 4, .k = 1};
    s.tile.m = variant == 1 ? 8 : 16;
    s.tile.n = variant == 0 ? 128 : variant == 1 ? 256 : 64;
    s.pipeline.k_per_stage = layout.k_block(info(config.W_dtype).bits);
    s.pipeline.stages = variant == 1 ? 3 : 4;
    s.pipeline.split_k = variant == 0 ? 2 : variant == 1 ? 1 : 4;
    return s;
  };
  const auto checked = check_decode_size_variants<3>(checker, rng, make);
  for (int count : checked) CHECK(count >= 8);
  CHECK(checker.failures() == 0);
}

// tensor_gemv split along K (blockIdx.z slices summed by the last to finish): 2, 3 and 5 slices, so
// slices of unequal k-blocks and, for 5, K's tail in a short last slice; 8 and 16 rows per block,
// one and several channel tiles, on the staged configs with fp16 / bf16 activations at decode sizes.
// Variants 3 and 4: 16 rows on one channel tile and one k-block per round, with 8 warps along K
// unsplit and with 4 warps in two slices (the M = 16 schedules bench/results/2026-11-29-h200-peers
// times). Variant 5: variant 3's tile with 4 warps and launch.blocks_per_sm = 8 (64 registers a
// thread: what the kernel keeps beyond them spills to local memory). Variants 6 and 7: the
// activations a k-block ahead (pipeline.stages = 2). Variant 8: 8 rows on two channel tiles a warp,
// one k-block a round, unsplit (the default of 5 to 8 rows on many blocks, two_tiles_for_many_blocks).
// Variants 9 to 11: rounds a loop step (pipeline.k_per_stage), on the decode sizes' short K a step
// past the warp's last round too: variant 8 with 4 rounds a step, variant 6 (split) with 2 and
// variant 7 with 8.
TEST_CASE("tensor_gemv matches the reference split along K", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  const auto base = [](const MatmulConfig& config, const MmaRunLayout& layout, int variant) {
    const int k_block = layout.k_block(info(config.W_dtype).bits);
    TileSchedule s;
    s.family = KernelFamily::tensor_gemv;
    s.pipeline.vector_bytes = layout.load_bytes;
    s.warps = {.m = 1, .n = 1, .k = variant == 1 ? 2 : variant == 3 ? 8 : 4};  // warps split K
    s.tile = {.m = variant == 0 ? 8 : 16, .n = variant == 2 ? 64 : variant >= 3 ? 16 : 32};
    s.pipeline.k_per_round = k_block * (variant == 1 || variant >= 3 ? 1 : 2);
    s.pipeline.split_k = variant == 0 || variant == 4 ? 2 : variant == 1 ? 3 : variant == 2 ? 5 : 1;
    // Eight blocks an SM: 64 registers a thread, the rest spilled to local memory.
    s.launch.blocks_per_sm = variant == 5 ? 8 : 0;
    // The activations a k-block ahead (runs of 8 k or more): 16 rows in 2 slices (variant 6, variant
    // 4's tile), 8 rows unsplit with two k-blocks a round (variant 7, the dynamic one-row default's).
    if (variant >= 6) {
      s.pipeline.stages = 2;
      s.tile = {.m = variant == 6 ? 16 : 8, .n = 16};
      s.pipeline.k_per_round = k_block * (variant == 6 ? 1 : 2);
      s.pipeline.split_k = variant == 6 ? 2 : 1;
    }
    if (variant == 8) {
      s.pipeline.stages = 1;
      s.tile = {.m = 8, .n = 32};
      s.pipeline.k_per_round = k_block;
      s.pipeline.split_k = 1;
    }
    return s;
  };
  const auto make = [&base](const MatmulConfig& config, const MmaRunLayout& layout, int variant) {
    if (variant < 9) return base(config, layout, variant);
    TileSchedule s = base(config, layout, variant == 9 ? 8 : variant - 4);
    s.pipeline.k_per_stage = (variant == 9 ? 4 : variant == 10 ? 2 : 8) * s.pipeline.k_per_round;
    return s;
  };
  const auto checked = check_decode_size_variants<12>(checker, rng, make);
  for (size_t variant = 0; variant < checked.size(); ++variant) {
    INFO("variant " << variant);
    const bool runs_of_8_or_more = variant == 6 || variant == 7 || variant >= 10;  // all 11 configs take the others
    CHECK(checked[variant] >= (runs_of_8_or_more ? 6 : 8));
  }
  CHECK(checker.failures() == 0);
}

// The lanes of rows past M in an 8-row tensor_gemv tile on runs of 8 (a dynamic M's buckets of up to
// 8 rows) read rows inside M, and at a k-block's first load another run of that row
// (idle_rows_spread, pipeline/gemv_stream.cuh): every row count of one tile, 1 to 8, each spreading
// the idle lanes differently, and 13 rows (a second row block of 5), on the staged configs in runs of
// 8 (buckets above 8 rows); the rows inside M must come out as the reference's.
TEST_CASE("tensor_gemv's lanes past M in 8-row tiles leave the rows inside M exact", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  int spread = 0;
  for (MatmulConfig config : staged_family_configs()) {
    config.M = MSpec::buckets({1, 8, 16});
    const std::optional<MmaRunLayout> layout = mma_run_layout(config);
    REQUIRE(layout);
    TileSchedule s;
    s.family = KernelFamily::tensor_gemv;
    s.pipeline.vector_bytes = layout->load_bytes;
    s.warps = {.m = 1, .n = 1, .k = 4};
    s.tile = {.m = 8, .n = 16};
    s.pipeline.k_per_round = 2 * layout->k_block(info(config.W_dtype).bits);
    for (int stages : {1, 2}) {  // the activations as each k-block starts, and a k-block ahead
      s.pipeline.stages = stages;
      if (!is_valid_schedule(config, s, "sm_80")) continue;
      check_schedule(checker, config, s, rng, {1, 2, 3, 4, 5, 6, 7, 8, 13});
      if (layout->run == 8 && stages == 1) ++spread;
    }
  }
  CHECK(spread >= 6);  // runs of 8: every staged config of fp16 / bf16 activations but int8 in groups of 16
  CHECK(checker.failures() == 0);
}

// Packed (quantized) zero points on the decode kernels. With fp16 activations the pairs of a word
// that share one shift carry their codes higher up the magic float's mantissa (a "lift" of 4, 2 x k or
// k bits for 4-, 2- and 1-bit codes) and take the zero lifted with them (decode/weight_pairs.cuh);
// bf16 has no lift. Static M 1 and 16 (tensor_gemv on whole-load runs), 17 (tensor_gemm), and a
// dynamic M of 1, 16 and 64 (runs of 8; 64 rows on the Hopper or the mma.sync GEMM); every zero
// code occurs (random bytes over 8 groups x 96 channels).
TEST_CASE("packed zero points match the reference at every lift of the pairs", "[gpu]") {
  if (!Driver::get().available()) BITJIT_SKIP("no GPU: " + Driver::get().unavailable_reason());
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  int checked = 0;
  for (DType weights : {DType::uint4, DType::uint2, DType::uint1})
    for (DType activations : {DType::float16, DType::bfloat16}) {
      MatmulConfig config = uint4_zeros_config(1, 96, 1024, 128, ZerosMode::quantized);
      config.W_dtype = weights;
      config.A_dtype = config.out_dtype = activations;
      for (int64_t M : {1, 16, 17}) {
        config.M = M;
        INFO(canonical_form(config));
        checker.check_random(Matmul::create(config), M, rng);
        ++checked;
      }
      config.M = MSpec::buckets({1, 16, 64});
      INFO(canonical_form(config));
      const Matmul dynamic = Matmul::create(config);
      for (int64_t M : {1, 16, 64}) checker.check_random(dynamic, M, rng), ++checked;
    }
  CHECK(checked == 36);
  CHECK(checker.failures() == 0);
}

// The Hopper family on the same configs (its own weight layout, mma_fragments): 64, 128 and 256 rows
// per block (wgmma N), one and two warpgroups, 3 and 4 stages, K not a multiple of the stage, split-K,
// wgmma groups of two steps.
TEST_CASE("tensor_wgmma matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  const int checked = check_fragment_schedules(checker, rng, [](const MatmulConfig& config, const MmaRunLayout& layout) {
    std::vector<TileSchedule> schedules;
    for (int variant = 0; variant < 4; ++variant) {
      const int k_block = layout.k_block(info(config.W_dtype).bits);
      TileSchedule s;
      s.family = KernelFamily::tensor_wgmma;
      s.pipeline.vector_bytes = layout.load_bytes;
      s.tile.m = variant == 0 ? 64 : variant == 2 ? 256 : 128;
      s.tile.n = variant == 0 ? 64 : 128;
      s.warps = {.m = 1, .n = s.tile.n / 16, .k = 1};  // a warpgroup per 64 channels
      s.pipeline.k_per_stage = variant == 2 ? k_block : std::max(k_block, 128);
      s.pipeline.stages = variant == 1 || variant == 3 ? 4 : 3;
      s.pipeline.split_k = variant == 0 ? 3 : 1;  // uneven shares of K's stages, summed through the workspace
      s.pipeline.wgmma_group = variant == 3 ? 2 : 1;  // variant 3: variant 1 with wgmma groups of two steps
      schedules.push_back(s);
    }
    return schedules;
  });
  CHECK(checked >= 12);
  CHECK(checker.failures() == 0);
}

// The warp-specialized family (tensor_wgmma_ws) on the same configs: 64 to 256 rows, one to four
// consumer warpgroups (the tiles of the sm_90a defaults among them), 2 to 6 stages, tile orders of 1
// to 8 row blocks, wgmma groups of 1, 2 and 4 steps.
TEST_CASE("tensor_wgmma_ws matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  const int checked = check_fragment_schedules(checker, rng, [](const MatmulConfig& config, const MmaRunLayout& layout) {
    const int variants[][4] = {{64, 64, 2, 1},  {64, 128, 6, 8},  {64, 256, 4, 8},
                               {128, 128, 4, 8}, {256, 128, 3, 2}, {128, 192, 3, 1}};  // rows, channels, stages, group
    std::vector<TileSchedule> schedules;
    for (const auto& v : variants) schedules.push_back(wgmma_ws_schedule(config, layout, v[0], v[1], v[2], v[3]));
    // wgmma groups of 4 and 2 steps (skipped where a k-block does not hold whole groups).
    for (const auto& [index, group] : {std::pair<int, int>{1, 4}, {4, 2}}) {
      schedules.push_back(schedules[size_t(index)]);
      schedules.back().pipeline.wgmma_group = group;
    }
    return schedules;
  });
  CHECK(checked >= 24);
  CHECK(checker.failures() == 0);
}

// Two blocks of tensor_wgmma_ws an SM (launch.blocks_per_sm 2: half the registers and at most half
// the shared memory each, a grid of two blocks an SM): one consumer warpgroup of 64 or 128 rows, 2 to
// 5 stages, so that stream-K shares the tiles over twice as many blocks; the weights in fragment
// order (static M from 33 rows) and, with a one-row bucket, in tensor_gemv's runs of 8 (a dynamic
// M's 64-row bucket takes this default).
TEST_CASE("tensor_wgmma_ws two blocks an SM match the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  const auto two_blocks = [](const MatmulConfig& config, const MmaRunLayout& layout) {
    std::vector<TileSchedule> schedules;
    for (const auto& [rows, stages] : {std::pair<int, int>{64, 2}, {64, 5}, {128, 3}}) {
      schedules.push_back(wgmma_ws_schedule(config, layout, rows, 64, stages, 1));
      schedules.back().launch.blocks_per_sm = 2;
    }
    return schedules;
  };
  CHECK(check_fragment_schedules(checker, rng, two_blocks) >= 8);
  CHECK(check_fragment_schedules(checker, rng, two_blocks, /*one_row_bucket=*/true) >= 8);
  CHECK(checker.failures() == 0);
}

// tensor_wgmma_ws on tiles of 16 and 32 rows (wgmma m64n16k16 and m64n32k16): one and two consumer
// warpgroups, one, two and three blocks an SM, 3 to 8 stages, wgmma groups of 1 and 2 steps; at 5 rows (a
// part tile: the TMA fills the rows past M with zeros), 16, 33 and 200 (many row tiles, the last a
// part), in fragment order and on tensor_gemv's runs of 8.
TEST_CASE("tensor_wgmma_ws on tiles of 16 and 32 rows matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  const auto few_rows = [](const MatmulConfig& config, const MmaRunLayout& layout) {
    const int variants[][5] = {{16, 64, 8, 1, 2}, {16, 128, 4, 1, 1}, {32, 64, 6, 2, 2}, {32, 128, 3, 1, 1},
                               {32, 128, 5, 1, 2}, {32, 64, 4, 1, 3}};
    std::vector<TileSchedule> schedules;  // rows, channels, stages, wgmma group, blocks an SM
    for (const auto& v : variants) {
      schedules.push_back(wgmma_ws_schedule(config, layout, v[0], v[1], v[2], 8));
      schedules.back().pipeline.wgmma_group = v[3];
      schedules.back().launch.blocks_per_sm = v[4];
    }
    return schedules;
  };
  CHECK(check_fragment_schedules(checker, rng, few_rows, false, {5, 16, 33, 200}) >= 16);
  CHECK(check_fragment_schedules(checker, rng, few_rows, /*one_row_bucket=*/true, {5, 16, 33, 200}) >= 16);
  CHECK(checker.failures() == 0);
}

namespace {

// The config's Matmul, asserting that a call of `rows` runs tensor_wgmma_ws on tiles of `tile_rows`
// rows (its schedule in the log where it does not).
Matmul matmul_on_ws_tiles(const MatmulConfig& config, int64_t rows, int tile_rows) {
  Matmul matmul = Matmul::create(config);
  const TileSchedule s = matmul.schedule_for(rows);
  INFO(canonical_form(s));
  CHECK(s.family == KernelFamily::tensor_wgmma_ws);
  CHECK(s.tile.m == tile_rows);
  return matmul;
}

}  // namespace

// The default from 17 to 32 rows, 32-row tiles two blocks an SM (the 32 x 64 form; 32 x 128 is the
// test above's last variant), and three blocks of 4 stages where the layer has more channels than k:
// int4 g128, uint4 with packed zero points, nf4 with bf16 activations, int8 per channel and uint2 with
// zero points as values; static M of 17 and 32 rows, and a dynamic M's 32-row bucket (the weights in
// tensor_gemv's runs of 8) at 17, 24 and 32 rows; N not a multiple of the tiles, K of 9 and 3 k-blocks
// (fewer than the three-block ring's stages). int8 codes of a dynamic M from one row lie in runs of 16, which the Hopper
// kernels do not read (tensor_gemm takes that bucket): static M only.
TEST_CASE("the 32-row default from 17 to 32 rows matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  struct Weights {
    DType W, A;
    int64_t group;
    bool zeros;
    ZerosMode mode;
  };
  const Weights formats[] = {{DType::int4, DType::float16, 128, false, ZerosMode::original},
                             {DType::uint4, DType::float16, 128, true, ZerosMode::quantized},
                             {DType::nf4, DType::bfloat16, 64, false, ZerosMode::original},
                             {DType::int8, DType::float16, -1, false, ZerosMode::original},
                             {DType::uint2, DType::float16, 64, true, ZerosMode::original}};
  struct Layer {
    int64_t N, K, blocks_per_sm;
  };
  int checked = 0;
  for (const Layer& layer : {Layer{328, 1152, 2}, Layer{1160, 384, 3}}) {
    for (const Weights& f : formats)
      for (const MSpec& M : {MSpec(17), MSpec(32), MSpec::buckets({1, 16, 32, 64})}) {
        if (M.is_dynamic() && f.W == DType::int8) continue;
        MatmulConfig config = w4a16_g128_config(M, layer.N, layer.K);
        config.W_dtype = f.W;
        config.A_dtype = config.out_dtype = f.A;
        config.group_size = f.group;
        config.with_zeros = f.zeros;
        config.zeros_mode = f.mode;
        INFO(canonical_form(config));
        const int64_t rows = M.is_dynamic() ? 32 : M.value();
        const Matmul matmul = matmul_on_ws_tiles(config, rows, 32);
        CHECK(matmul.schedule_for(rows).launch.blocks_per_sm == layer.blocks_per_sm);
        for (int64_t m : M.is_dynamic() ? std::vector<int64_t>{17, 24, 32} : std::vector<int64_t>{rows}) {
          checker.check_random(matmul, m, rng);
          ++checked;
        }
      }
  }
  CHECK(checked == 44);
  CHECK(checker.failures() == 0);
}

// W8A16 past 256 rows: the default keeps 256-row tiles with 64 k a stage (8-bit codes leave a 256 x
// 128 tile of 128 k two stages), so the k-block's 64 k of 8-bit codes and each stage's single
// activation box are exercised at the default; int8, uint8 and fp8 weights, fp16 and bf16
// activations, scales per channel or none, K not a multiple of the stage, 300 and 600 rows.
TEST_CASE("the W8A16 default at many rows matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  int variant = 0;
  for (DType weights : {DType::int8, DType::uint8, DType::float8_e4m3, DType::float8_e5m2})
    for (DType activations : {DType::float16, DType::bfloat16}) {
      MatmulConfig config;
      config.M = MSpec::buckets({300, 600});
      config.N = 200;
      config.K = 1088;  // 17 stages of 64 k
      config.A_dtype = activations;
      config.W_dtype = weights;
      config.accum_dtype = DType::float32;
      config.out_dtype = activations;
      config.with_scaling = variant++ % 2 == 0;
      config.group_size = -1;
      INFO(canonical_form(config));
      const Matmul matmul = matmul_on_ws_tiles(config, 300, 256);
      CHECK(matmul.schedule_for(300).pipeline.k_per_stage == 64);
      for (int64_t M : {300, 600}) checker.check_random(matmul, M, rng);
    }
  CHECK(checker.failures() == 0);
}

// 185 to 256 rows on 256 x 128 tiles where those make 1.5 waves (N of 25344 or more on 132 SMs):
// the default of int4 and of uint4 with zero points, static (256 rows, and 190: 66 rows of the tile
// past M) and on a dynamic M's runs of 8 (200 rows, a part tile, and 256).
TEST_CASE("the 256-row default at 256 rows matches the reference on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  for (const bool zeros : {false, true})
    for (const bool dynamic : {false, true}) {
      MatmulConfig config = w4a16_g128_config(dynamic ? MSpec::buckets({1, 16, 64, 256}) : MSpec(256), 25344, 256);
      if (zeros) {
        config.W_dtype = DType::uint4;
        config.with_zeros = true;
      }
      INFO(canonical_form(config));
      const Matmul matmul = matmul_on_ws_tiles(config, 256, 256);
      if (dynamic) checker.check_random(matmul, 200, rng);
      checker.check_random(matmul, 256, rng);
      if (!dynamic) {
        config.M = MSpec(190);
        checker.check_random(matmul_on_ws_tiles(config, 190, 256), 190, rng);
      }
    }
  CHECK(checker.failures() == 0);
}

// Between one and two waves, a second wave at most half full of tiles taller than 64 rows is shared
// out with the first by k-stages (stream-K): int4 g128 on 128 x 64 tiles and fp8 W8A8 on 192 x 64 tiles,
// each with this GPU's SM count plus a quarter of it as tiles, so that every block's share ends
// inside a tile and the pieces are added across blocks; 100 and 150 rows leave part of the tile past M.
TEST_CASE("tensor_wgmma_ws shares a short last wave of tall tiles out by k-stages on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  ensure_context();
  const DeviceInfo& gpu = current_device_info();
  const int64_t tiles = gpu.sm_count + gpu.sm_count / 4;
  for (const bool fp8 : {false, true}) {
    const int rows = fp8 ? 192 : 128, fewer_rows = fp8 ? 150 : 100;
    MatmulConfig config = w4a16_g128_config(MSpec::buckets({fewer_rows, rows}), 64 * tiles, fp8 ? 512 : 1024);
    TileSchedule s;
    if (fp8) {
      config.A_dtype = config.W_dtype = DType::float8_e4m3;
      config.with_scaling = false;
      config.group_size = -1;
      s = warp_specialized(wgmma_128x128_schedule(4), 8);
      s.tile = {.m = rows, .n = 64};
      s.warps = {.m = 1, .n = 4, .k = 1};
    } else {
      s = wgmma_ws_schedule(config, *wgmma_layout(config), rows, 64, 4, 8);
    }
    INFO(canonical_form(config) << " " << canonical_form(s));
    const KernelPlan plan = plan_kernel(config, s, gpu.arch());
    const LaunchShape shape = launch_shape(plan, rows, gpu.sm_count);
    CHECK(shape.stream_k_tiles == tiles);
    CHECK(shape.workspace_bytes > 0);  // shares end inside tiles
    const Matmul matmul = Matmul::create(config, {"", s});
    for (int64_t M : {rows, fewer_rows}) checker.check_random(matmul, M, rng);
  }
  CHECK(checker.failures() == 0);
}

// A dynamic M from one row packs codes of at most 4 bits in tensor_gemv's runs of 8 k, and the Hopper
// kernels read them there (gathered into fragment order after loading): tensor_wgmma_ws's tiles of
// the sweep above and of the defaults, tensor_wgmma split along K and with wgmma groups of two steps.
TEST_CASE("the Hopper families read tensor_gemv's runs of 8 and match the reference", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  int gathered = 0;
  const int checked = check_fragment_schedules(
      checker, rng,
      [&gathered](const MatmulConfig& config, const MmaRunLayout& layout) {
        gathered += layout.run == 8 ? 1 : 0;
        std::vector<TileSchedule> schedules;
        for (const auto& v : {std::array<int, 4>{64, 64, 3, 1}, {64, 256, 4, 8}, {128, 192, 3, 1}, {256, 128, 3, 8}})
          schedules.push_back(wgmma_ws_schedule(config, layout, v[0], v[1], v[2], v[3]));
        schedules.push_back(schedules[1]);
        schedules.back().pipeline.wgmma_group = 4;
        TileSchedule split = wgmma_64x64_schedule(config, layout);
        split.pipeline.split_k = 3;
        schedules.push_back(split);
        split.pipeline.split_k = 1;
        split.tile.m = 128;
        split.pipeline.wgmma_group = 2;
        schedules.push_back(split);
        return schedules;
      },
      true);
  CHECK(gathered == 6);  // int4, uint4, uint2, int1, nf4, fp4: runs of 8; uint8, fp8, int8 (group 16): fragments
  CHECK(checked >= 40);
  CHECK(checker.failures() == 0);
}

// Every 8th config of the matrix whose buckets above 16 rows take the Hopper family at a dynamic M from
// one row (codes of at most 4 bits, which it reads in tensor_gemv's runs of 8; the other configs stay
// on tensor_gemm, which the format sweep covers), each bucket on its default: tensor_gemv at 1 and
// 16 rows, the Hopper family at 33 and 130.
TEST_CASE("a dynamic M from one row matches the reference on every bucket on a Hopper GPU", "[gpu][sweep][wgmma]") {
  BITJIT_REQUIRE_HOPPER("the Hopper family");
  const std::vector<int64_t> Ms = {1, 16, 33, 130};
  std::vector<MatmulConfig> hopper;
  // Every 8th: the Hopper step's time (the whole [wgmma] set in one run on the device) stays near 6 minutes.
  for (const MatmulConfig& config : sweep_configs(Ms, 8 * sweep_stride())) {
    if (is_hopper_family(default_schedule(config, "sm_90a", 130).family)) hopper.push_back(config);
  }
  if (filtered_to_none(hopper.size())) BITJIT_SKIP("BITJIT_SWEEP_MATCH keeps no config of the Hopper family");
  REQUIRE(hopper.size() >= least_swept_configs());
  sweep(hopper, Ms, 8 * sweep_stride(), kDefaultSchedules, " at dynamic M, Hopper from 17 rows");
}

// Stream-K with many blocks per tile: 64-row tiles of 128 or 64 channels (N = 200), 40 or 200 rows
// and K = 4096 give 2 to 16 tiles, all shared out in shares of four to sixteen stages, and 128-row
// tiles of 128 channels (2 to 4 tiles: fewer than half the SMs); each Matmul runs twice, so the
// second launch sees the counters the first one left (at zero).
TEST_CASE("tensor_wgmma_ws shares tiles among blocks along K on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  // int4 per 128 k, uint4 with zero points and bias, and int8 per channel (the last config).
  const size_t per_channel = staged_family_configs().size() - 1;
  for (size_t index : {size_t(0), size_t(1), per_channel}) {
    MatmulConfig config = staged_family_configs()[index];
    REQUIRE((index != per_channel || config.group_size == -1));
    config.N = 200;
    config.K = 4096;
    config.M = MSpec::buckets({40, 200});
    for (const auto& [block_m, block_n, stages] :
         std::vector<std::array<int, 3>>{{64, 128, 4}, {64, 64, 3}, {128, 128, 4}}) {
      const TileSchedule s = wgmma_ws_schedule(config, *fragment_order_layout(config), block_m, block_n, stages, 8);
      INFO(canonical_form(config) << " " << canonical_form(s));
      const Matmul matmul = Matmul::create(config, {"", s});
      for (int64_t M : {40, 200})
        for (int launch = 0; launch < 2; ++launch) {
          checker.check_random(matmul, M, rng);
        }
    }
  }
  CHECK(checker.failures() == 0);
}

// More output tiles than SMs, so each block of the persistent grid takes several, in groups of 3 row
// blocks that do not divide the 16 (a short last group), N not a multiple of the block; one and two
// consumer warpgroups. BITJIT_WS_WALK="tile_m,tile_n,stages,raster_group" runs that variant alone.
TEST_CASE("tensor_wgmma_ws walks many tiles per block on a Hopper GPU", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("tensor_wgmma_ws");
  BITJIT_RANDOM_ENGINE(rng);
  GpuChecker checker;
  MatmulConfig config = staged_family_configs()[1];  // bf16 x uint4 with original zeros and bias
  int64_t M = 1000;
  config.N = 2000;  // 64 x 64 tiles: 16 x 32 = 512, three whole waves on 132 SMs, then 248 shared out
  std::vector<std::array<int, 4>> variants = {{64, 64, 4, 3}, {128, 128, 3, 3}};
  if (const char* chosen = std::getenv("BITJIT_WS_WALK")) {
    std::array<int, 4> v{};
    int index = 1, N = 2000, K = int(config.K), rows = 1000;
    REQUIRE(std::sscanf(chosen, "%d,%d,%d,%d,%d,%d,%d,%d", &v[0], &v[1], &v[2], &v[3], &index, &N, &K, &rows) >= 4);
    variants = {v};
    config = staged_family_configs()[size_t(index)];
    config.N = N;
    config.K = K;
    M = rows;
  }
  config.M = MSpec::buckets({M});
  for (const auto& [block_m, block_n, stages, raster_group] : variants) {
    const TileSchedule s = wgmma_ws_schedule(config, *fragment_order_layout(config), block_m, block_n, stages, raster_group);
    INFO(canonical_form(config) << " " << canonical_form(s));
    const Matmul matmul = Matmul::create(config, {"", s});
    checker.check_random(matmul, M, rng);
  }
  CHECK(checker.failures() == 0);
}
