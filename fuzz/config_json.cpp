// Fuzz target: a MatmulConfig from JSON text, as the Python binding reads it (bindings.cpp:
// parse_json_input, then config_from_json, which validates), then the invariants of an accepted
// config (fuzz/config_checks.hpp). A rejection is a ConfigError with a bounded message.
#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/config.hpp"
#include "fuzz/config_checks.hpp"
#include "fuzz/support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  MatmulConfig config;
  try {
    config = config_from_json(parse_json_input(fuzz::as_text(data, size), "config"));
  } catch (const ConfigError& error) {
    fuzz::check_error_message(error.what());
    return 0;
  }
  fuzz::check_accepted_config(config);
  return 0;
}
