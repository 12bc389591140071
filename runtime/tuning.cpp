#include "runtime/tuning.hpp"

#include <algorithm>

#include "runtime/device.hpp"

namespace bitjit {

std::string tuned_entry_key(const MatmulConfig& config, int64_t rows) {
  const std::string canonical = canonical_form(config);
  return config.M.is_dynamic() ? canonical + " @M=" + std::to_string(rows) : canonical;
}

std::optional<std::string> stale_tuned_reason(const db::TunedSchedule& entry) {
  const size_t bucket_mark = entry.config.find(" @M=");
  const std::string config_text = entry.config.substr(0, bucket_mark);
  MatmulConfig config;
  try {
    config = config_from_json(nlohmann::json::parse(config_text));
    if (canonical_form(config) != config_text) return "its config is not in this version's canonical form";
  } catch (const std::exception& error) {
    return std::string("its config is not valid: ") + error.what();
  }
  if (bucket_mark == std::string::npos) {
    if (config.M.is_dynamic()) return "a dynamic-M config is tuned per M bucket (\"<config> @M=<rows>\")";
  } else {
    const std::vector<int64_t> buckets = config.M.values();
    const std::string rows = entry.config.substr(bucket_mark + 4);
    const bool named = config.M.is_dynamic() && std::any_of(buckets.begin(), buckets.end(), [&](int64_t bucket) {
                         return std::to_string(bucket) == rows;
                       });
    if (!named) return "@M=" + rows + " is not one of the config's M buckets";
  }
  try {
    validate_schedule(config, schedule_from_json(entry.schedule), entry.arch);
  } catch (const std::exception& error) {
    return std::string("its schedule is no longer valid: ") + error.what();
  }
  return std::nullopt;
}

TargetDevice target_device(const DeviceInfo& device) {
  TargetDevice target = TargetDevice::from_arch(device.arch());
  target.sm_count = device.sm_count;
  target.shared_bytes_per_block = device.max_shared_per_block_optin;
  target.shared_bytes_per_sm = device.shared_per_sm;
  return target;
}

}  // namespace bitjit
