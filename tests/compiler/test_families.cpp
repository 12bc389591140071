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
#include "tests/support/kernel_samples.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

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
  for (std::string_view name : names) CHECK_THAT(refused, bitjit::testing::contains_text(std::string(name)));
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
    CHECK(shape.block[0] == uint32_t(block_threads(k.schedule)));
    CHECK(shape.shared_bytes == uint32_t(dynamic_shared_bytes(k.sample.config, k.schedule)));
  }
}

// Each family's validation refuses another family's default relabelled as its own, on the config and
// arch that default was made for, naming a field; except where the shapes coincide: simt takes gemv's
// thread layout (gemv adds conditions on the formats, so not the other way round here),
// tensor_gemm's warp grid takes tensor_wgmma's one warpgroup per 64 channels, and tensor_wgmma_ws
// takes tensor_wgmma's tile, warps and ring as they are (its producer warpgroup comes with the family);
// the W4A8 entry points of the three share one block shape (compiler/families/w4a8.cpp), so
// tensor_wgmma_ws_w4a8's default is tensor_wgmma_w4a8's and tensor_gemm_w4a8's too.
TEST_CASE("validation refuses a schedule of another family's shape", "[families]") {
  const std::set<std::pair<std::string_view, std::string_view>> alike = {
      {"gemv", "simt"}, {"tensor_wgmma", "tensor_gemm"}, {"tensor_wgmma", "tensor_wgmma_ws"}};
  for (const SampledKernel& k : sampled_kernels()) {
    for (const KernelFamilyTraits& other : all_families()) {
      if (other.family == k.kernel->family) continue;
      TileSchedule relabelled = k.schedule;
      relabelled.family = other.family;
      const std::string from(to_string(k.kernel->family));
      INFO(k.kernel->function << "'s default as " << other.name << ": " << canonical_form(relabelled));
      if (alike.count({from, other.name}) > 0) continue;
      const auto w4a8_family = [](KernelFamily f) {
        return f == KernelFamily::tensor_wgmma || f == KernelFamily::tensor_wgmma_ws || f == KernelFamily::tensor_gemm;
      };
      if (w4a8_operands(k.sample.config) && w4a8_family(k.kernel->family) && w4a8_family(other.family)) continue;
      const std::string error = error_of<ConfigError>(
          [&] { validate_schedule(k.sample.config, relabelled, k.sample.arch); });
      CHECK_THAT(error, bitjit::testing::starts_with_text("invalid TileSchedule: ") && bitjit::testing::contains_text("="));
    }
  }
}
