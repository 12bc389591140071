#include "compiler/schedule.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/family.hpp"

namespace bitjit {
namespace {

using json = nlohmann::json;
using families::reject_schedule;

int read_int(const json& object, const char* field, int fallback) {
  if (!object.contains(field)) return fallback;
  // Within int: get<int>() would wrap 2^32 + 16 to 16. The family's validation bounds it further.
  try {
    return int(json_integer(object[field], field, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  } catch (const ConfigError& error) {
    reject_schedule(error.what());
  }
}

std::string family_names() {
  std::string names;
  for (const KernelFamilyTraits& family : all_families()) names += (names.empty() ? "" : ", ") + std::string(family.name);
  return names;
}

}  // namespace

std::string_view to_string(KernelFamily family) {
  if (size_t(family) >= all_families().size()) return "?";
  return family_traits(family).name;
}

bool reads_wgmma_fragments(KernelFamily family) {
  return family_traits(family).reads == WeightLayout::mma_fragments;
}

void validate_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  const KernelTraits& kernel = kernel_traits(config, schedule.family);
  if (schedule.wgmma_group != 1 && !kernel.groups_wgmmas) {
    reject_schedule("wgmma_group=" + std::to_string(schedule.wgmma_group) + ": only tensor_wgmma and tensor_wgmma_ws "
                    "decoding weights for fp16 / bf16 activations group their wgmmas; wgmma_group=1");
  }
  kernel.validate(config, schedule, arch);
}

bool is_valid_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  try {
    validate_schedule(config, schedule, arch);
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

json to_json(const TileSchedule& s) {
  json object{{"family", to_string(s.family)}, {"threads", s.threads},   {"block_m", s.block_m},
              {"block_n", s.block_n},          {"block_k", s.block_k},   {"warp_m", s.warp_m},
              {"warp_n", s.warp_n},            {"stages", s.stages},     {"split_k", s.split_k},
              {"swizzle", s.swizzle},          {"vector_bytes", s.vector_bytes}};
  // Only where it is not 1: the canonical form (and kernel-database key) of every other schedule
  // stays what it was before the field existed.
  if (s.wgmma_group != 1) object["wgmma_group"] = s.wgmma_group;
  return object;
}

TileSchedule schedule_from_json(const json& object) {
  if (!object.is_object()) reject_schedule("a schedule must be a JSON object, got " + quote_json(object));
  TileSchedule s;
  if (object.contains("family")) {
    const json& family = object["family"];
    const std::optional<KernelFamily> named = family_named(family.is_string() ? family.get<std::string>() : "");
    if (!named) reject_schedule("family=" + quote_json(family) + " is not supported; allowed: " + family_names());
    s.family = *named;
  }
  for (const auto& [key, value] : object.items()) {
    static const char* kFields[] = {"family", "threads", "block_m", "block_n", "block_k", "warp_m",
                                    "warp_n", "stages", "split_k", "swizzle", "vector_bytes", "wgmma_group"};
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      reject_schedule("unknown field " + quote_input(key));
    }
  }
  s.threads = read_int(object, "threads", s.threads);
  s.block_m = read_int(object, "block_m", s.block_m);
  s.block_n = read_int(object, "block_n", s.block_n);
  s.block_k = read_int(object, "block_k", s.block_k);
  s.warp_m = read_int(object, "warp_m", s.warp_m);
  s.warp_n = read_int(object, "warp_n", s.warp_n);
  s.stages = read_int(object, "stages", s.stages);
  s.split_k = read_int(object, "split_k", s.split_k);
  s.swizzle = read_int(object, "swizzle", s.swizzle);
  s.vector_bytes = read_int(object, "vector_bytes", s.vector_bytes);
  s.wgmma_group = read_int(object, "wgmma_group", s.wgmma_group);
  return s;
}

std::string canonical_form(const TileSchedule& schedule) { return to_json(schedule).dump(); }

int static_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule) {
  return kernel_traits(config, schedule.family).static_shared_bytes(config, schedule);
}

int dynamic_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule) {
  return kernel_traits(config, schedule.family).dynamic_shared_bytes(config, schedule);
}

}  // namespace bitjit
