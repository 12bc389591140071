#include "compiler/schedule.hpp"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/arch.hpp"
#include "compiler/families/common.hpp"
#include "compiler/families/family.hpp"

namespace bitjit {
namespace {

using json = nlohmann::json;
using families::reject_schedule;

// One integer field of a group, by its JSON name; an optional one is left out of the JSON at its
// neutral value (TileSchedule's default), so that adding it kept the older schedules' keys.
template <class Group>
struct Field {
  const char* name;
  int Group::*member;
  bool optional = false;
  int neutral = 0;
};

using Tile = TileSchedule::Tile;
using Warps = TileSchedule::Warps;
using Pipeline = TileSchedule::Pipeline;
using Launch = TileSchedule::Launch;

constexpr Field<Tile> kTileFields[] = {{"m", &Tile::m}, {"n", &Tile::n}};
constexpr Field<Warps> kWarpsFields[] = {{"m", &Warps::m}, {"n", &Warps::n}, {"k", &Warps::k}};
constexpr Field<Pipeline> kPipelineFields[] = {
    {"stages", &Pipeline::stages},   {"k_per_stage", &Pipeline::k_per_stage},   {"k_per_round", &Pipeline::k_per_round},
    {"split_k", &Pipeline::split_k}, {"vector_bytes", &Pipeline::vector_bytes}, {"wgmma_group", &Pipeline::wgmma_group}};
constexpr Field<Launch> kLaunchFields[] = {{"raster_group", &Launch::raster_group},
                                           {"blocks_per_sm", &Launch::blocks_per_sm, true},
                                           {"cluster_n", &Launch::cluster_n, true, 1}};

// Calls visit(name, group, fields) for each group of s, in one order for writing and reading.
template <class Schedule, class Visit>
void for_each_group(Schedule& s, Visit visit) {
  visit("tile", s.tile, kTileFields);
  visit("warps", s.warps, kWarpsFields);
  visit("pipeline", s.pipeline, kPipelineFields);
  visit("launch", s.launch, kLaunchFields);
}

template <class Names>
std::string listed(const Names& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + std::string(name);
  return text;
}

std::string family_names() {
  std::vector<std::string_view> names;
  for (const KernelFamilyTraits& family : all_families()) names.push_back(family.name);
  return listed(names);
}

// Keys of `object` (at `path`) outside `allowed` are refused, naming the allowed ones.
void require_known_keys(const json& object, const std::string& path, const std::vector<std::string>& allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      reject_schedule(path + ": unknown key " + quote_input(key) + "; allowed: " + listed(allowed));
    }
  }
}

template <class Group, size_t N>
void read_group(const json& object, const std::string& path, Group& group, const Field<Group> (&fields)[N]) {
  if (!object.is_object()) reject_schedule(path + ": expected an object, got " + quote_json(object));
  std::vector<std::string> names;
  for (const Field<Group>& field : fields) names.push_back(field.name);
  require_known_keys(object, path, names);
  for (const Field<Group>& field : fields) {
    const auto value = object.find(field.name);
    if (value == object.end()) continue;
    const std::string field_path = path + "." + field.name;
    if (!value->is_number_integer()) reject_schedule(field_path + ": expected an integer, got " + quote_json(*value));
    // Within int: get<int>() would wrap 2^32 + 16 to 16. The family's validation bounds it further.
    try {
      group.*field.member =
          int(json_integer(*value, field_path, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
    } catch (const ConfigError& error) {
      reject_schedule(error.what());
    }
  }
}

KernelFamily read_family(const json& object) {
  const auto family = object.find("family");
  if (family == object.end()) reject_schedule("schedule.family is missing; allowed: " + family_names());
  const std::optional<KernelFamily> named = family_named(family->is_string() ? family->get<std::string>() : "");
  if (!named) reject_schedule("schedule.family=" + quote_json(*family) + " is not a family; allowed: " + family_names());
  return *named;
}

}  // namespace

// launch.blocks_per_sm: 0, or blocks that leave each thread at least 32 registers on the arch (the
// compiler spills what does not fit). The families with a producer warpgroup also set their
// warpgroups' own counts (setmaxnreg) from an SM's share and size their persistent grid by it; their
// own validation checks that a consumer's sums fit and that the blocks' shared memory does.
void validate_blocks_per_sm(const TileSchedule& s, const std::string& arch) {
  const int blocks = s.launch.blocks_per_sm;
  if (blocks == 0) return;
  constexpr int kLeastRegisters = 32;
  const int64_t threads = block_threads(s);
  const int64_t most = arch_info(arch).registers_per_sm / (kLeastRegisters * std::max<int64_t>(threads, 1));
  if (blocks < 0 || blocks > most) {
    reject_schedule("launch.blocks_per_sm=" + std::to_string(blocks) + " must be 0 (the compiler's count) or 1.." +
                    std::to_string(most) + " (at least " + std::to_string(kLeastRegisters) + " registers for each of " +
                    std::to_string(threads) + " threads on " + arch + ")");
  }
}

std::string_view to_string(KernelFamily family) {
  if (size_t(family) >= all_families().size()) return "?";
  return family_traits(family).name;
}

bool is_hopper_family(KernelFamily family) {
  return family_traits(family).reads == WeightLayout::mma_fragments;
}

int block_threads(const TileSchedule& s) {
  // Validation bounds the warps; any other schedule saturates at int's limits instead of overflowing.
  constexpr int64_t kMost = std::numeric_limits<int>::max();
  int64_t threads = 32;
  for (const int warps : {s.warps.m, s.warps.n, s.warps.k}) threads = std::clamp<int64_t>(threads * warps, -kMost, kMost);
  const int producer = family_traits(s.family).producer_warpgroup ? 128 : 0;
  return int(std::clamp<int64_t>(threads + producer, -kMost, kMost));
}

void validate_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  const KernelTraits& kernel = kernel_traits(config, schedule.family);
  if (schedule.pipeline.wgmma_group != 1 && !kernel.groups_wgmmas) {
    reject_schedule("pipeline.wgmma_group=" + std::to_string(schedule.pipeline.wgmma_group) +
                    ": only tensor_wgmma and tensor_wgmma_ws decoding weights for fp16 / bf16 activations group their "
                    "wgmmas; pipeline.wgmma_group=1");
  }
  if (schedule.launch.cluster_n != 1 && !kernel.pairs_blocks) {
    reject_schedule("launch.cluster_n=" + std::to_string(schedule.launch.cluster_n) +
                    ": only tensor_wgmma_ws on 8-bit activations and weights of one type (W8A8) runs its blocks in "
                    "clusters; launch.cluster_n=1");
  }
  kernel.validate(config, schedule, arch);
  validate_blocks_per_sm(schedule, arch);  // after the family's checks: its threads are valid then
}

bool is_valid_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  return schedule_refusal(config, schedule, arch).empty();
}

std::string schedule_refusal(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  try {
    validate_schedule(config, schedule, arch);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

json to_json(const TileSchedule& s) {
  json object{{"family", to_string(s.family)}};
  for_each_group(s, [&](const char* name, const auto& group, const auto& fields) {
    json& members = object[name] = json::object();
    for (const auto& field : fields) {
      if (!field.optional || group.*field.member != field.neutral) members[field.name] = group.*field.member;
    }
  });
  return object;
}

TileSchedule schedule_from_json(const json& object) {
  if (!object.is_object()) reject_schedule("schedule: expected an object, got " + quote_json(object));
  require_known_keys(object, "schedule", {"family", "tile", "warps", "pipeline", "launch"});
  TileSchedule s;
  s.family = read_family(object);
  for_each_group(s, [&](const char* name, auto& group, const auto& fields) {
    const auto found = object.find(name);
    if (found != object.end()) read_group(*found, std::string("schedule.") + name, group, fields);
  });
  return s;
}

std::string canonical_form(const TileSchedule& schedule) { return to_json(schedule).dump(); }

int static_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  // The cubins' .nv.shared from sm_90 on: tensor_gemv int4 9216 bytes (8192 on sm_80-sm_89), a
  // tensor_gemm ring with no variables 1024 (0), the Hopper kernels their rounded variables + 1024.
  constexpr int kReservedFromSm90 = 1024;
  const int own = kernel_traits(config, schedule.family).static_shared_bytes(config, schedule);
  const bool uses_shared = own > 0 || dynamic_shared_bytes(config, schedule) > 0;
  return own + (uses_shared && arch_info(arch).cc_major >= 9 ? kReservedFromSm90 : 0);
}

int dynamic_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule) {
  return kernel_traits(config, schedule.family).dynamic_shared_bytes(config, schedule);
}

}  // namespace bitjit
