// Fuzz target: a MatmulConfig from JSON text, as the Python binding (MatmulConfig(**fields) and
// from_json) and the C++ API read it: parse, config_from_json (which validates), then the
// invariants of an accepted config (fuzz/config_checks.hpp).
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "compiler/config.hpp"
#include "fuzz/config_checks.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  const nlohmann::json json = nlohmann::json::parse(fuzz::as_text(data, size), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return 0;
  MatmulConfig config;
  try {
    config = config_from_json(json);
  } catch (const ConfigError& error) {
    fuzz::check_error_message(error.what());
    return 0;
  }
  fuzz::check_accepted_config(config);
  return 0;
}
