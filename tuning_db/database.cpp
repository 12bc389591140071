#include "tuning_db/database.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string_view>
#include <system_error>

#include "common/env.hpp"
#include "common/error.hpp"
#include "common/json_input.hpp"
#include "common/log.hpp"
#include "tuning_db/files.hpp"

namespace bitjit::db {
namespace {

// The index's journal: a line of JSON per kernel stored since index.json was last rewritten. A store
// appends its line; once the journal passes kJournalFoldBytes (about 800 entries) that store folds it
// into index.json. Rewriting index.json on every store cost each one a parse and a write of the whole
// index under the lock: ~0.8 s at 21,000 kernels (a format sweep's), quadratic in all.
constexpr const char* kIndexFile = "index.json";
constexpr const char* kIndexJournal = "index-journal.jsonl";
constexpr size_t kJournalFoldBytes = size_t(1) << 20;

// A database JSON file (index.json, tuned.json) as an object of format kDatabaseFileFormat; an empty
// object when it is absent. A file that is unreadable, malformed, too large, too deep or of another
// format (format 1: the tuned schedules' flat JSON of before TileSchedule's groups) is started afresh
// with one warning: the kernels themselves are the truth and the index is rebuilt from them by
// `db verify --repair`; tuned schedules of another format are tuned again.
nlohmann::json read_json_or_empty(const std::filesystem::path& path, KernelDatabase& database) {
  std::string problem;
  try {
    const std::optional<std::string> text = read_file(path);
    if (!text) return nlohmann::json::object();
    nlohmann::json json = parse_json_input(*text, path.string());
    const auto format = json.is_object() ? json.find("format") : json.end();
    if (format != json.end() && *format == kDatabaseFileFormat) return json;
    problem = "of format " + (format == json.end() ? std::string("none") : quote_json(*format)) + ", not " +
              std::to_string(kDatabaseFileFormat) + " (another version of bitjit)";
  } catch (const ConfigError& error) {
    problem = error.what();
  }
  database.warn_once("kernel database: " + path.string() + " is unreadable or " +
                     "of another version (" + problem + "); starting it afresh");
  return nlohmann::json::object();
}

// The entries of a JSON file's object member (index.json's "kernels", tuned.json's "tuned"); an
// entry whose key fails key_ok is dropped with a warning.
std::map<std::string, nlohmann::json> entries_of(const nlohmann::json& json, const char* member, const std::string& file,
                                                 const std::function<bool(const std::string&)>& key_ok,
                                                 KernelDatabase& database) {
  std::map<std::string, nlohmann::json> entries;
  const auto found = json.find(member);
  if (found == json.end()) return entries;
  if (!found->is_object()) {
    database.warn_once("kernel database: " + file + ": \"" + member + "\" is not an object; ignoring it");
    return entries;
  }
  for (const auto& [key, entry] : found->items()) {
    if (key_ok(key)) {
      entries[key] = entry;
    } else {
      database.warn_once("kernel database: " + file + ": dropping the malformed entry " + quote_input(key));
    }
  }
  return entries;
}

}  // namespace

std::string tuned_key(const std::string& device, const std::string& config) { return device + "|" + config; }

nlohmann::json tuned_to_json(const TunedSchedule& tuned) {
  return {{"config", tuned.config},     {"device", tuned.device},         {"arch", tuned.arch},
          {"schedule", tuned.schedule}, {"latency_ms", tuned.latency_ms}, {"measured", tuned.measured}};
}

std::optional<TunedSchedule> tuned_from_json(const nlohmann::json& json) {
  if (!json.is_object()) return std::nullopt;
  const auto text = [&](const char* field) { return json.contains(field) && json[field].is_string(); };
  if (!text("config") || !text("device") || !text("arch") || !json.contains("schedule") || !json["schedule"].is_object() ||
      !json.contains("latency_ms") || !json["latency_ms"].is_number()) {
    return std::nullopt;
  }
  const double latency_ms = json["latency_ms"];
  // A measured time: finite and positive (a negative or zero one would win every comparison).
  if (!std::isfinite(latency_ms) || latency_ms <= 0) return std::nullopt;
  if (json.contains("measured") && !json["measured"].is_string()) return std::nullopt;
  return TunedSchedule{json["config"], json["device"], json["arch"], json["schedule"], latency_ms,
                       json.value("measured", "")};
}

KernelDatabase::KernelDatabase(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path KernelDatabase::kernel_path(const std::string& key) const {
  return data_dir() / "kernels" / (checked_kernel_key(key) + ".kernel");
}

void KernelDatabase::warn_once(const std::string& message) {
  std::lock_guard lock(mutex_);
  if (warned_.insert(message).second) log().warn("{}", message);
}

void KernelDatabase::degrade(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    writable_ = false;
  }
  warn_once("kernel database at " + root_.string() + " cannot be written (" + why +
            "); compiled kernels are kept in memory for this process only");
}

bool KernelDatabase::ensure_layout() {
  {
    std::lock_guard lock(mutex_);
    if (writable_) return *writable_;
  }
  std::error_code error;
  std::filesystem::create_directories(data_dir() / "kernels", error);
  if (error) {
    degrade(error.message());
    return false;
  }
  try {
    FileLock probe(data_dir() / "lock");  // also proves the directory takes new files
  } catch (const std::system_error& failure) {
    degrade(failure.what());
    return false;
  }
  std::lock_guard lock(mutex_);
  writable_ = true;
  return true;
}

bool KernelDatabase::writable() { return ensure_layout(); }

std::optional<StoredKernel> KernelDatabase::load(const std::string& key) {
  const std::filesystem::path path = kernel_path(key);
  std::string problem;
  try {
    const std::optional<std::string> bytes = read_file(path);
    if (!bytes) return std::nullopt;
    if (is_older_kernel_format(*bytes)) {
      // Written by an earlier bitjit: expected after an upgrade, so no warning.
      log().debug("kernel database: {} is of an older file format; rebuilding it", path.string());
    } else {
      auto decoded = decode_kernel_file(*bytes, key);
      if (auto* kernel = std::get_if<StoredKernel>(&decoded)) return std::move(*kernel);
      problem = std::get<std::string>(decoded);
    }
  } catch (const ConfigError& error) {
    problem = error.what();  // a symbolic link, a FIFO, a file too large
  }
  if (!problem.empty()) warn_once("kernel database: " + path.string() + ": " + problem + "; rebuilding it");
  // The rebuild's atomic store would replace it anyway; a failure here changes nothing.
  std::error_code error;
  if (writable()) std::filesystem::remove(path, error);
  return std::nullopt;
}

bool KernelDatabase::store(const StoredKernel& kernel) {
  if (!ensure_layout()) return false;
  const std::string key = kernel.meta.at("key");  // kernel_path checks it
  try {
    write_file_atomically(kernel_path(key), encode_kernel_file(kernel));
  } catch (const std::system_error& failure) {
    degrade(failure.what());  // e.g. a full disk
    return false;
  }
  const std::filesystem::path journal = data_dir() / kIndexJournal;
  return with_lock([&] {
    append_to_file(journal, index_entry(kernel).dump() + "\n");
    std::error_code error;
    if (std::filesystem::file_size(journal, error) > kJournalFoldBytes && !error) rewrite_index([](auto&) {});
  });
}

bool KernelDatabase::with_lock(const std::function<void()>& body) {
  if (!ensure_layout()) return false;
  try {
    FileLock lock(data_dir() / "lock");
    body();
  } catch (const std::system_error& failure) {
    degrade(failure.what());
    return false;
  }
  return true;
}

bool KernelDatabase::edit_json_file(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
  return with_lock([&] {
    nlohmann::json json = read_json_or_empty(data_dir() / file, *this);
    json["format"] = kDatabaseFileFormat;
    edit(json);
    write_file_atomically(data_dir() / file, json.dump(1));
  });
}

std::map<std::string, nlohmann::json> KernelDatabase::read_index() {
  const std::filesystem::path path = data_dir() / kIndexFile;
  std::map<std::string, nlohmann::json> entries = entries_of(
      read_json_or_empty(path, *this), "kernels", path.string(), [](const std::string& key) { return is_kernel_key(key); }, *this);
  apply_journal(entries);
  return entries;
}

void KernelDatabase::apply_journal(std::map<std::string, nlohmann::json>& entries) {
  const std::filesystem::path path = data_dir() / kIndexJournal;
  std::optional<std::string> text;
  try {
    text = read_file(path);
  } catch (const ConfigError& error) {
    warn_once("kernel database: " + path.string() + " cannot be read (" + error.what() + "); ignoring it");
    return;
  }
  if (!text) return;
  size_t ignored = 0;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (line.empty()) continue;
    try {
      nlohmann::json entry = parse_json_input(std::string(line), path.string());
      const auto key = entry.is_object() ? entry.find("key") : entry.end();
      if (key != entry.end() && key->is_string() && is_kernel_key(key->get<std::string>())) {
        const std::string name = key->get<std::string>();
        entries[name] = std::move(entry);
        continue;
      }
    } catch (const ConfigError&) {
    }
    ++ignored;  // a line cut short by a writer killed midway, or not an entry
  }
  if (ignored > 0) {
    warn_once("kernel database: " + path.string() + ": ignoring " + std::to_string(ignored) +
              " line(s) that are not index entries; `bitjit db verify --repair` lists every kernel again");
  }
}

void KernelDatabase::rewrite_index(const std::function<void(std::map<std::string, nlohmann::json>&)>& edit) {
  std::map<std::string, nlohmann::json> entries = read_index();
  edit(entries);
  const nlohmann::json json = {{"format", kDatabaseFileFormat}, {"kernels", entries}};
  write_file_atomically(data_dir() / kIndexFile, json.dump(1));
  std::error_code error;
  std::filesystem::remove(data_dir() / kIndexJournal, error);
  if (error) throw std::system_error(error, "cannot remove " + (data_dir() / kIndexJournal).string());
}

std::map<std::string, nlohmann::json> KernelDatabase::index() {
  // Under the lock where one is there to take: a fold between reading index.json and the journal would
  // hide the folded entries. A database that cannot be locked (read-only) has no writer to race.
  std::optional<FileLock> lock;
  const std::filesystem::path lock_file = data_dir() / "lock";
  std::error_code error;
  if (std::filesystem::is_regular_file(lock_file, error)) {
    try {
      lock.emplace(lock_file);
    } catch (const std::system_error&) {
    }
  }
  return read_index();
}

bool KernelDatabase::edit_index(const std::function<void(std::map<std::string, nlohmann::json>&)>& edit) {
  return with_lock([&] { rewrite_index(edit); });
}

std::map<std::string, nlohmann::json> KernelDatabase::tuned_entries(const nlohmann::json& json) {
  return entries_of(json, "tuned", (data_dir() / "tuned.json").string(), [](const std::string&) { return true; }, *this);
}

std::optional<TunedSchedule> KernelDatabase::tuned(const std::string& config, const std::string& device) {
  const auto entries = tuned_entries(read_json_or_empty(data_dir() / "tuned.json", *this));
  const std::string key = tuned_key(device, config);
  const auto found = entries.find(key);
  if (found == entries.end()) return std::nullopt;
  std::optional<TunedSchedule> tuned = tuned_from_json(found->second);
  if (!tuned) warn_once("kernel database: tuned entry " + quote_input(key) + " is unreadable; ignoring it");
  return tuned;
}

std::vector<TunedSchedule> KernelDatabase::all_tuned() {
  std::vector<TunedSchedule> entries;
  for (const auto& [key, entry] : tuned_entries(read_json_or_empty(data_dir() / "tuned.json", *this))) {
    if (std::optional<TunedSchedule> tuned = tuned_from_json(entry)) {
      entries.push_back(std::move(*tuned));
    } else {
      warn_once("kernel database: tuned entry " + quote_input(key) + " is unreadable; ignoring it");
    }
  }
  return entries;
}

bool KernelDatabase::store_tuned(const TunedSchedule& tuned) {
  return edit_json_file("tuned.json", [&](nlohmann::json& json) {
    if (!json.contains("tuned") || !json["tuned"].is_object()) json["tuned"] = nlohmann::json::object();
    json["tuned"][tuned_key(tuned.device, tuned.config)] = tuned_to_json(tuned);
  });
}

std::optional<std::vector<std::pair<std::string, std::string>>> KernelDatabase::remove_stale_tuned(
    const std::function<std::optional<std::string>(const TunedSchedule&)>& why_stale, bool dry_run) {
  std::vector<std::pair<std::string, std::string>> stale;
  const auto find_stale = [&](const nlohmann::json& json) {
    stale.clear();
    for (const auto& [key, entry] : tuned_entries(json)) {
      const std::optional<TunedSchedule> tuned = tuned_from_json(entry);
      if (!tuned) stale.emplace_back(key, "unreadable");
      else if (std::optional<std::string> reason = why_stale(*tuned)) stale.emplace_back(key, *reason);
    }
  };
  if (dry_run) {
    find_stale(read_json_or_empty(data_dir() / "tuned.json", *this));
    return stale;
  }
  const bool written = edit_json_file("tuned.json", [&](nlohmann::json& json) {
    find_stale(json);  // under the lock: what another process stored meanwhile is judged too
    if (!json.contains("tuned") || !json["tuned"].is_object()) json["tuned"] = nlohmann::json::object();
    for (const auto& [key, reason] : stale) json["tuned"].erase(key);
  });
  if (!written) return std::nullopt;
  return stale;
}

KernelDatabase& default_database() {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<KernelDatabase>> databases;
  const std::string root = env::cache_dir();
  std::lock_guard lock(mutex);
  auto& database = databases[root];
  if (!database) database = std::make_unique<KernelDatabase>(root);
  return *database;
}

nlohmann::json index_entry(const StoredKernel& kernel) {
  nlohmann::json entry = kernel.meta;
  entry.erase("binary_sha256");
  entry["binary_bytes"] = kernel.cubin.size();
  return entry;
}

}  // namespace bitjit::db
