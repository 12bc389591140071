#pragma once
// Hardware-aware tuning (Matmul::hardware_aware_finetune): what it reports, and how tuned schedules
// are keyed in the kernel database.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/candidates.hpp"
#include "compiler/config.hpp"
#include "compiler/schedule.hpp"
#include "tuning_db/database.hpp"

namespace bitjit {

struct DeviceInfo;

// The database key of the schedule tuned for calls of `rows` rows: the config's canonical form for
// a static M, with " @M=<rows>" appended for each bucket of a dynamic M.
std::string tuned_entry_key(const MatmulConfig& config, int64_t rows);

// Why a stored tuned entry can no longer be used, or nullopt when it can: its config text is not
// the canonical form of a valid config (written by another version), its key's M does not name one
// of the config's buckets (per-config entries of a dynamic config predate per-bucket tuning), or
// its schedule no longer passes validate_schedule for the entry's arch.
std::optional<std::string> stale_tuned_reason(const db::TunedSchedule& entry);

// The cost model's view of a GPU: the arch's reference figures with this device's SM count, shared
// memory and registers.
TargetDevice target_device(const DeviceInfo& device);

struct BucketTuning {
  int64_t rows = 0;
  TileSchedule chosen;           // the fastest timed candidate (now used by the Matmul and stored)
  double chosen_ms = 0.0;
  TileSchedule before;           // what the Matmul ran for these rows before tuning
  double before_ms = 0.0;
  int candidates_timed = 0;
  double seconds = 0.0;          // compile + timing of this bucket
  double compile_seconds = 0.0;  // of which compiling the candidates (or loading them from the database)
};

struct TuningReport {
  std::vector<BucketTuning> buckets;
  double seconds = 0.0;
};

}  // namespace bitjit
