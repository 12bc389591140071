#pragma once
// Invariants of an accepted MatmulConfig / TileSchedule, shared by the targets that parse them.
#include <string>

#include "compiler/config.hpp"
#include "compiler/schedule.hpp"

namespace bitjit::fuzz {

// The canonical form re-parses to the same canonical form, to_json round-trips, and the operand
// sizes of the largest M compute without overflow (UBSan watches the arithmetic).
void check_accepted_config(const MatmulConfig& config);
// to_json round-trips to the same canonical form.
void check_accepted_schedule(const TileSchedule& schedule);

}  // namespace bitjit::fuzz
