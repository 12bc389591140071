#include "tuning_db/database.hpp"

#include <cmath>
#include <map>
#include <memory>
#include <system_error>

#include "common/env.hpp"
#include "common/error.hpp"
#include "common/json_input.hpp"
#include "common/log.hpp"
#include "tuning_db/files.hpp"

namespace bitjit::db {
namespace {

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
  return edit_index([&](std::map<std::string, nlohmann::json>& index) { index[key] = index_entry(kernel); });
}

bool KernelDatabase::edit_json_file(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
  if (!ensure_layout()) return false;
  try {
    FileLock lock(data_dir() / "lock");
    nlohmann::json json = read_json_or_empty(data_dir() / file, *this);
    json["format"] = kDatabaseFileFormat;
    edit(json);
    write_file_atomically(data_dir() / file, json.dump(1));
  } catch (const std::system_error& failure) {
    degrade(failure.what());
    return false;
  }
  return true;
}

std::map<std::string, nlohmann::json> KernelDatabase::index() {
  return entries_of(read_json_or_empty(data_dir() / "index.json", *this), "kernels", (data_dir() / "index.json").string(),
                    [](const std::string& key) { return is_kernel_key(key); }, *this);
}

bool KernelDatabase::edit_index(const std::function<void(std::map<std::string, nlohmann::json>&)>& edit) {
  return edit_json_file("index.json", [&](nlohmann::json& json) {
    std::map<std::string, nlohmann::json> entries =
        entries_of(json, "kernels", (data_dir() / "index.json").string(), [](const std::string& key) { return is_kernel_key(key); }, *this);
    edit(entries);
    json["kernels"] = entries;
  });
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
