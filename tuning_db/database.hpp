#pragma once
// The on-disk kernel database: compiled kernels keyed by a hash of everything that changes the
// binary, a JSON index of them, and the tuned schedule per (config, device).
//
//   <root>/v1/kernels/<key>.kernel   one kernel (see kernel_file.hpp)
//   <root>/v1/index.json             {"format": 2, "kernels": {<key>: summary}}
//   <root>/v1/index-journal.jsonl    the summaries stored since index.json was last rewritten, a line each
//   <root>/v1/tuned.json             {"format": 2, "tuned": {<device>|<config>: TunedSchedule}}
//   <root>/v1/lock                   flock'ed around every read-modify-write of the two JSON files
//
// Every write but the journal's appends is atomic (temp + rename). Lookups read only the kernel's own file, never the index,
// so a lookup costs one file read and one SHA-256. A corrupt entry is logged once and removed so that
// it is rebuilt; a directory that cannot be written turns the database read-only (logged once) and
// bitjit goes on with its in-process cache.
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tuning_db/kernel_file.hpp"

namespace bitjit::db {

// The format of index.json and tuned.json: 2 since schedules are grouped JSON (TileSchedule's tile,
// warps, pipeline, launch); a file of another format is started afresh.
inline constexpr int kDatabaseFileFormat = 2;

// The best schedule measured for one config on one device.
struct TunedSchedule {
  std::string config;        // canonical form
  std::string device;        // device name, e.g. "NVIDIA H100 80GB HBM3"
  std::string arch;          // e.g. "sm_90a"
  nlohmann::json schedule;   // the TileSchedule's JSON
  double latency_ms = 0.0;   // its measured median
  std::string measured;      // UTC time, ISO 8601
};

class KernelDatabase {
 public:
  explicit KernelDatabase(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path data_dir() const { return root_ / "v1"; }
  std::filesystem::path kernel_path(const std::string& key) const;

  // The kernel stored under key; nullopt when absent or unreadable (a corrupt file is logged once
  // and removed so that the caller's rebuild replaces it).
  std::optional<StoredKernel> load(const std::string& key);
  // Stores kernel.meta["key"]'s kernel and indexes it. False when the database is read-only.
  bool store(const StoredKernel& kernel);

  std::optional<TunedSchedule> tuned(const std::string& config, const std::string& device);
  std::vector<TunedSchedule> all_tuned();
  bool store_tuned(const TunedSchedule& tuned);
  // The tuned entries for which why_stale gives a reason (unreadable ones get "unreadable"), as
  // {"<device>|<config>", reason}; removed unless dry_run. nullopt: the database cannot be written.
  std::optional<std::vector<std::pair<std::string, std::string>>> remove_stale_tuned(
      const std::function<std::optional<std::string>(const TunedSchedule&)>& why_stale, bool dry_run);

  // The index's entries by key (what `bitjit db ls` prints): index.json's with the journal's on top.
  std::map<std::string, nlohmann::json> index();
  // Replaces the index under the database's lock with edit(index): whatever edit does (maintenance
  // scans and removes files in it) is atomic with respect to every other writer's index update.
  // Entries whose keys are not kernel keys are dropped. False when the database cannot be written.
  bool edit_index(const std::function<void(std::map<std::string, nlohmann::json>&)>& edit);

  bool writable();
  // Logs (once per distinct message) a problem that bitjit works around.
  void warn_once(const std::string& message);

 private:
  bool ensure_layout();
  void degrade(const std::string& why);
  bool edit_json_file(const std::string& file, const std::function<void(nlohmann::json&)>& edit);
  // Runs body under the database's lock; false (the database turned read-only) when the lock or a
  // write in body fails.
  bool with_lock(const std::function<void()>& body);
  // index.json rewritten with the journal folded in and edit applied, the journal removed; the caller
  // holds the lock.
  void rewrite_index(const std::function<void(std::map<std::string, nlohmann::json>&)>& edit);
  // The journal's entries over `entries`, later lines winning; a malformed or cut-short line is
  // ignored with a warning.
  void apply_journal(std::map<std::string, nlohmann::json>& entries);
  // index.json's entries with the journal's over them (the caller takes the lock where it needs it).
  std::map<std::string, nlohmann::json> read_index();
  // tuned.json's entries by "<device>|<config>" (malformed ones dropped with a warning).
  std::map<std::string, nlohmann::json> tuned_entries(const nlohmann::json& json);

  std::filesystem::path root_;
  std::mutex mutex_;
  std::optional<bool> writable_;
  std::set<std::string> warned_;
};

// The database under env::cache_dir() as it is now (BITJIT_CACHE_DIR can change between calls).
KernelDatabase& default_database();

// A tuned.json entry, or nullopt when a field is missing or of the wrong type, the schedule is not an
// object, or the latency is not a finite positive number.
std::optional<TunedSchedule> tuned_from_json(const nlohmann::json& json);

// tuned.json's key of an entry, "<device>|<config>", and the entry as written there.
std::string tuned_key(const std::string& device, const std::string& config);
nlohmann::json tuned_to_json(const TunedSchedule& tuned);

// The index summary of a stored kernel: its metadata without the checksum fields.
nlohmann::json index_entry(const StoredKernel& kernel);

}  // namespace bitjit::db
