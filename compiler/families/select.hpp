#pragma once
// Which family and which weight layout serve a config: the policy over the family table. Defines
// mma_run_layout (weight_layout.hpp), family_layout, family_weight_layout, default_schedule and
// default_bucket_schedules (schedule.hpp); declares what the tuner asks of it.
#include <cstdint>
#include <vector>

#include "compiler/schedule.hpp"

namespace bitjit {

// Appends the tuning candidates of the families timed for a bucket whose default is `fallback`:
// those reading the weight layout it reads (a tuned schedule must keep the layout the weights were
// packed in), or for the general layout its own family.
void add_tuning_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                           std::vector<TileSchedule>& out);

}  // namespace bitjit
