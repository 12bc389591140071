#pragma once
// What `bitjit db verify / gc / export / import` do, on a KernelDatabase.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tuning_db/database.hpp"

namespace bitjit::db {

// The versions the running bitjit builds with: entries made under others can never be looked up.
struct BuildVersions {
  std::string bitjit, nvrtc, templates;
};

struct BadEntry {
  std::string file;
  std::string problem;
};

struct VerifyReport {
  size_t valid = 0;
  std::vector<BadEntry> corrupt;         // kernel files that fail their checks
  std::vector<std::string> unindexed;    // valid kernels missing from the index
  std::vector<std::string> dangling;     // index entries without a valid kernel file
  bool clean() const { return corrupt.empty() && unindexed.empty() && dangling.empty(); }
};

// Checks every kernel file and the index against each other; with repair, removes corrupt files
// and makes the index list exactly the valid kernels.
VerifyReport verify_database(KernelDatabase& database, bool repair);

struct GcReport {
  size_t kept = 0, corrupt = 0, foreign = 0, temporary = 0;
  uint64_t bytes_freed = 0;
};

// Removes corrupt kernels, kernels built by other versions of bitjit / NVRTC / the templates, and
// temporary files older than an hour (left by a crashed writer); the index follows. dry_run: count only.
GcReport collect_garbage(KernelDatabase& database, const BuildVersions& current, bool dry_run);

struct TransferReport {
  size_t copied = 0, already_present = 0, rejected = 0, tuned = 0;
  std::vector<BadEntry> problems;
};

// Writes the valid kernels, the index and the tuned schedules to a directory (laid out as a cache
// directory, so BITJIT_CACHE_DIR can point at it) or, for a path ending in .tar, a tar archive.
TransferReport export_database(KernelDatabase& database, const std::filesystem::path& destination);
// Adds what an export holds: every kernel is checked first; tuned schedules the database lacks are added.
TransferReport import_database(KernelDatabase& database, const std::filesystem::path& source);

}  // namespace bitjit::db
