#pragma once
// What `bitjit db verify / gc / export / import` do, on a KernelDatabase.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
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
  std::vector<BadEntry> unrepaired;      // repair: what could not be removed or rewritten, and why
  bool clean() const { return corrupt.empty() && unindexed.empty() && dangling.empty(); }
};

// Checks every kernel file and the index against each other; with repair, removes corrupt files
// and makes the index list exactly the valid kernels, all under the database's lock (a process
// storing a kernel meanwhile adds its index entry after the repair, never loses it). Whatever could
// not be repaired is in `unrepaired` with its path.
VerifyReport verify_database(KernelDatabase& database, bool repair);

struct GcReport {
  size_t kept = 0, corrupt = 0, foreign = 0, temporary = 0;
  uint64_t bytes_freed = 0;
  std::vector<BadEntry> failures;  // files that could not be removed, the index if it could not be written
};

// Removes corrupt kernels, kernels built by other versions of bitjit / NVRTC / the templates or in
// an older file format, and temporary files older than an hour (left by a crashed writer); the
// index follows. Runs under the database's lock like verify's repair. dry_run: count only.
GcReport collect_garbage(KernelDatabase& database, const BuildVersions& current, bool dry_run);

struct TransferReport {
  size_t copied = 0, already_present = 0, rejected = 0, tuned = 0;
  std::vector<BadEntry> problems;     // rejected entries and why
  std::vector<std::string> ignored;   // files or members outside the database's layout
};

// Writes the valid kernels, the index and the readable tuned schedules to `destination`: a path
// ending in .tar is written as a tar archive (atomically); any other path must be an existing
// directory, which receives the layout of a cache directory (so BITJIT_CACHE_DIR can point at it).
// An existing archive, or a directory already holding v1/, is replaced only with `force`.
// Throws ConfigError (nothing written) for a destination it refuses.
TransferReport export_database(KernelDatabase& database, const std::filesystem::path& destination, bool force);

// The checks an import makes beyond the kernel file's own (checksums, key syntax, the cubin's ELF
// header against the arch): each gives the reason to reject an entry, or nullopt. The CLI's recompute
// the key from the metadata as the kernel cache does, and validate tuned schedules for their config.
struct ImportChecks {
  std::function<std::optional<std::string>(const StoredKernel&)> kernel_problem;
  std::function<std::optional<std::string>(const TunedSchedule&)> tuned_problem;
};

// Adds what an export holds (a .tar archive or a directory laid out as a cache directory). Only the
// database's own layout is read: v1/kernels/<key>.kernel and v1/tuned.json (v1/index.json is rebuilt
// from the kernels, v1/lock and temporary files are skipped, anything else is listed in `ignored`).
// Of a directory only regular files are read, no symbolic link is followed, and each file is at most
// kMaxFileBytes. Throws ConfigError (nothing imported) for a malformed archive, a member or file
// named by something other than a kernel key, or a source without a database in it.
TransferReport import_database(KernelDatabase& database, const std::filesystem::path& source, const ImportChecks& checks);

}  // namespace bitjit::db
