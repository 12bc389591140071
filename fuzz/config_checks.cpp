#include "fuzz/config_checks.hpp"

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "fuzz/support.hpp"

namespace bitjit::fuzz {

void check_accepted_config(const MatmulConfig& config) {
  const std::string canonical = canonical_form(config);  // validated already: must not throw
  MatmulConfig reparsed;
  try {
    reparsed = config_from_json(parse_json_input(canonical, "canonical form"));
  } catch (const std::exception& error) {
    invariant_failed(__FILE__, __LINE__, "the canonical form parses", canonical + ": " + error.what());
  }
  FUZZ_CHECK(canonical_form(reparsed) == canonical, canonical + " re-parses as " + canonical_form(reparsed));
  FUZZ_CHECK(canonical_form(config_from_json(to_json(config))) == canonical,
             "to_json round trip of " + canonical);
  FUZZ_CHECK(config_hash(reparsed) == config_hash(config), "the hash of " + canonical);
  const OperandSpecs specs = operand_specs(config, config.M.largest());
  for (const auto& [name, spec] : specs.named()) {
    FUZZ_CHECK(!spec->used() || spec->bytes() > 0, std::string("an empty operand ") + name + " of " + canonical);
  }
}

void check_accepted_schedule(const TileSchedule& schedule) {
  const std::string canonical = canonical_form(schedule);
  FUZZ_CHECK(canonical_form(schedule_from_json(parse_json_input(canonical, "canonical schedule"))) == canonical,
             "the schedule " + canonical + " does not round-trip");
}

}  // namespace bitjit::fuzz
