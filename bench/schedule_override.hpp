#pragma once
// bench_matmul's --schedule: fields of each case's default schedule replaced by a JSON merge patch
// (RFC 7396: nested objects merge, so '{"pipeline":{"split_k":2}}' replaces that one field).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "compiler/families/select.hpp"
#include "compiler/schedule.hpp"

namespace bitjit::bench {

// The default schedule of the config on the arch with the overrides merged in; nullopt for no
// overrides. Overrides that are not JSON, or that name an unknown field or a value not an integer,
// throw: that is the run's mistake, the same for every case. A family's refusal of the result
// (schedule_refusal) is one case's: tile.n=128 fits the 128 x 128 defaults but not 70B qkv's
// 128 x 192 one, whose 12 warps along N stay; the bench lists such a case and times the others.
inline std::optional<TileSchedule> overridden_schedule(const MatmulConfig& config, const std::string& overrides,
                                                       const std::string& arch) {
  if (overrides.empty()) return std::nullopt;
  nlohmann::json schedule = to_json(default_schedule(config, arch));
  schedule.merge_patch(nlohmann::json::parse(overrides));
  return schedule_from_json(schedule);
}

}  // namespace bitjit::bench
