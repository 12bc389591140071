#include "runtime/tuning.hpp"

#include "runtime/device.hpp"

namespace bitjit {

std::string tuned_entry_key(const MatmulConfig& config, int64_t rows) {
  const std::string canonical = canonical_form(config);
  return config.M.is_dynamic() ? canonical + " @M=" + std::to_string(rows) : canonical;
}

TargetDevice target_device(const DeviceInfo& device) {
  TargetDevice target = TargetDevice::from_arch(device.arch());
  target.sm_count = device.sm_count;
  target.shared_bytes_per_block = device.max_shared_per_block_optin;
  target.shared_bytes_per_sm = device.shared_per_sm;
  return target;
}

}  // namespace bitjit
