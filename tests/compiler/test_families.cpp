// The family table (compiler/families/family.hpp): every family and entry point in it is complete,
// its name round-trips through a schedule's JSON, its own default validates and is the one lowered,
// and its validation refuses the schedules of the families shaped differently.
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "compiler/families/family.hpp"
#include "compiler/lower.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

// A config and arch each entry point runs, named by its device function. Adding an entry point to
// the table needs a sample here (the test below requires one).
struct KernelSample {
  MatmulConfig config;
  std::string arch;
  int64_t rows;
};

MatmulConfig eight_bit_config(DType type, int64_t M) {
  MatmulConfig config;
  config.M = M;
  config.N = 512;
  config.K = 1024;
  config.A_dtype = config.W_dtype = type;
  config.accum_dtype = type == DType::int8 ? DType::int32 : DType::float32;
  config.out_dtype = DType::float16;
  return config;
}

const std::map<std::string, KernelSample>& kernel_samples() {
  static const std::map<std::string, KernelSample> samples = [] {
    MatmulConfig fp8_int8 = w4a16_g128_config(4, 64, 256);  // int8 weights are not exact in e4m3: simt only
    fp8_int8.A_dtype = DType::float8_e4m3;
    fp8_int8.W_dtype = DType::int8;
    MatmulConfig int8_int4 = w4a16_g128_config(4, 256, 1024);
    int8_int4.A_dtype = DType::int8;
    return std::map<std::string, KernelSample>{
        {"bitjit::simt_matmul", {fp8_int8, "sm_80", 4}},
        {"bitjit::gemv_matmul", {uint4_zeros_config(16, 64, 256, 8), "sm_80", 16}},  // groups of 8: no mma layout
        {"bitjit::tensor_gemv", {w4a16_g128_config(16, 256, 1024), "sm_80", 16}},
        {"bitjit::tensor_gemv_8bit", {int8_int4, "sm_80", 4}},
        {"bitjit::tensor_gemm", {w4a16_g128_config(128, 256, 1024), "sm_80", 128}},
        {"bitjit::tensor_wgmma", {w4a16_g128_config(4096, 8192, 8192), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_8bit", {eight_bit_config(DType::int8, 4096), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_ws", {w4a16_g128_config(4096, 8192, 8192), "sm_90a", 4096}},
        {"bitjit::tensor_wgmma_ws_8bit", {eight_bit_config(DType::float8_e4m3, 4096), "sm_90a", 4096}},
    };
  }();
  return samples;
}

// Every entry point with its sample and its family's own default for it.
struct SampledKernel {
  const KernelTraits* kernel;
  KernelSample sample;
  TileSchedule schedule;
};

std::vector<SampledKernel> sampled_kernels() {
  std::vector<SampledKernel> all;
  for (const KernelFamilyTraits& family : all_families()) {
    for (const KernelTraits* kernel : family.kernels) {
      const auto found = kernel_samples().find(kernel->function);
      REQUIRE(found != kernel_samples().end());
      const KernelSample& sample = found->second;
      const std::optional<TileSchedule> s = kernel->default_for(sample.config, sample.arch, sample.rows);
      REQUIRE(s.has_value());
      all.push_back({kernel, sample, *s});
    }
  }
  return all;
}

}  // namespace

TEST_CASE("every family of the table has its enum's place, a name that round-trips and complete entry points",
          "[families]") {
  std::set<std::string_view> names;
  for (size_t i = 0; i < all_families().size(); ++i) {
    const KernelFamilyTraits& family = all_families()[i];
    INFO(family.name);
    CHECK(size_t(family.family) == i);
    CHECK(&family_traits(family.family) == &family);
    CHECK(to_string(family.family) == family.name);
    CHECK(family_named(family.name) == family.family);
    CHECK(names.insert(family.name).second);
    TileSchedule s;
    s.family = family.family;
    const nlohmann::json json = to_json(s);
    CHECK(json.at("family") == std::string(family.name));
    CHECK(schedule_from_json(nlohmann::json::parse(json.dump())).family == family.family);
    REQUIRE_FALSE(family.kernels.empty());
    CHECK(family.kernels.back()->takes == nullptr);  // the last entry point takes what the others leave
    for (const KernelTraits* kernel : family.kernels) {
      INFO(kernel->function);
      CHECK(kernel->family == family.family);
      CHECK(std::string(kernel->header).starts_with("bitjit/"));
      CHECK((kernel->validate && kernel->default_for && kernel->add_candidates && kernel->footprint &&
             kernel->static_shared_bytes && kernel->dynamic_shared_bytes && kernel->tiles && kernel->stages &&
             kernel->alignment && kernel->launch));
      CHECK((kernel->tma_tensors != nullptr) == kernel->tensor_maps);
    }
  }
  CHECK_FALSE(family_named("tensor_gemv ").has_value());
  const std::string refused = error_of<ConfigError>([] { schedule_from_json({{"family", "wgmma"}}); });
  for (std::string_view name : names) CHECK_THAT(refused, Catch::Contains(std::string(name)));
}

TEST_CASE("every entry point's own default runs its sample config, lowered to that entry point", "[families]") {
  for (const SampledKernel& k : sampled_kernels()) {
    INFO(k.kernel->function << " " << canonical_form(k.sample.config) << " on " << k.sample.arch);
    CHECK(k.schedule.family == k.kernel->family);
    CHECK(&kernel_traits(k.sample.config, k.kernel->family) == k.kernel);
    CHECK_NOTHROW(validate_schedule(k.sample.config, k.schedule, k.sample.arch));
    const KernelPlan plan = plan_kernel(k.sample.config, k.schedule, k.sample.arch);
    CHECK(plan.family_function == k.kernel->function);
    CHECK(emit_cuda(plan).find("#include \"" + std::string(k.kernel->header) + "\"") != std::string::npos);
    const LaunchShape shape = launch_shape(plan, k.sample.rows, 132);
    CHECK(shape.block[0] == uint32_t(k.schedule.threads));
    CHECK(shape.shared_bytes == uint32_t(dynamic_shared_bytes(k.sample.config, k.schedule)));
  }
}

// Each family's validation refuses another family's default relabelled as its own, on the config and
// arch that default was made for, naming a field; except where the shapes coincide: simt takes gemv's
// thread layout (gemv adds conditions on the formats, so not the other way round here), and
// tensor_gemm's warp grid takes tensor_wgmma's one warpgroup per 64 channels.
TEST_CASE("validation refuses a schedule of another family's shape", "[families]") {
  const std::set<std::pair<std::string_view, std::string_view>> alike = {
      {"gemv", "simt"}, {"tensor_wgmma", "tensor_gemm"}};
  for (const SampledKernel& k : sampled_kernels()) {
    for (const KernelFamilyTraits& other : all_families()) {
      if (other.family == k.kernel->family) continue;
      TileSchedule relabelled = k.schedule;
      relabelled.family = other.family;
      const std::string from(to_string(k.kernel->family));
      INFO(k.kernel->function << "'s default as " << other.name << ": " << canonical_form(relabelled));
      if (alike.count({from, other.name}) > 0) continue;
      const std::string error = error_of<ConfigError>(
          [&] { validate_schedule(k.sample.config, relabelled, k.sample.arch); });
      CHECK_THAT(error, Catch::StartsWith("invalid TileSchedule: ") && Catch::Contains("="));
    }
  }
}
