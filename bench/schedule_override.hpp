#pragma once
// bench_matmul's --schedule: fields of each case's default schedule replaced by a JSON merge patch
// (RFC 7396: nested objects merge, so '{"pipeline":{"split_k":2}}' replaces that one field).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "compiler/families/select.hpp"
#include "compiler/schedule.hpp"

namespace bitjit::bench {

// The default schedule of the config on the arch with the overrides merged in; nullopt for no
// overrides. Overrides that are not JSON, or that name an unknown field or a value not an integer,
// throw: that is the run's mistake, the same for every case.
inline std::optional<TileSchedule> overridden_schedule(const MatmulConfig& config, const std::string& overrides,
                                                       const std::string& arch) {
  if (overrides.empty()) return std::nullopt;
  nlohmann::json schedule = to_json(default_schedule(config, arch));
  schedule.merge_patch(nlohmann::json::parse(overrides));
  return schedule_from_json(schedule);
}

// Why the family refuses the overridden schedule for this config on the arch, or "" where it takes
// it. That is one case's: tile.n=128 fits the 128 x 128 defaults but not 70B qkv's 128 x 192 one,
// whose 12 warps along N stay; the run lists the case and times the others.
inline std::string override_refusal(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  try {
    validate_schedule(config, schedule, arch);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

}  // namespace bitjit::bench
