#include "tuning_db/database.hpp"

#include <map>
#include <memory>
#include <system_error>

#include "common/env.hpp"
#include "common/log.hpp"
#include "tuning_db/files.hpp"

namespace bitjit::db {
namespace {

constexpr int kFormat = 1;

nlohmann::json read_json_or_empty(const std::filesystem::path& path, KernelDatabase& database) {
  const std::optional<std::string> text = read_file(path);
  if (!text) return nlohmann::json::object();
  try {
    nlohmann::json json = nlohmann::json::parse(*text);
    if (json.is_object() && json.value("format", 0) == kFormat) return json;
  } catch (const nlohmann::json::exception&) {
  }
  database.warn_once("kernel database: " + path.string() + " is unreadable or of another version; starting it afresh");
  return nlohmann::json::object();
}

std::string tuned_key(const std::string& device, const std::string& config) { return device + "|" + config; }

nlohmann::json tuned_to_json(const TunedSchedule& tuned) {
  return {{"config", tuned.config},     {"device", tuned.device},         {"arch", tuned.arch},
          {"schedule", tuned.schedule}, {"latency_ms", tuned.latency_ms}, {"measured", tuned.measured}};
}

}  // namespace

std::optional<TunedSchedule> tuned_from_json(const nlohmann::json& json) {
  try {
    return TunedSchedule{json.at("config"),   json.at("device"),     json.at("arch"),
                         json.at("schedule"), json.at("latency_ms"), json.value("measured", "")};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

KernelDatabase::KernelDatabase(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path KernelDatabase::kernel_path(const std::string& key) const {
  return data_dir() / "kernels" / (key + ".kernel");
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
  const std::optional<std::string> bytes = read_file(path);
  if (!bytes) return std::nullopt;
  auto decoded = decode_kernel_file(*bytes, key);
  if (auto* kernel = std::get_if<StoredKernel>(&decoded)) return std::move(*kernel);
  warn_once("kernel database: " + path.string() + ": " + std::get<std::string>(decoded) + "; rebuilding it");
  if (writable()) std::filesystem::remove(path);  // the rebuild's atomic store would replace it anyway
  return std::nullopt;
}

bool KernelDatabase::store(const StoredKernel& kernel) {
  if (!ensure_layout()) return false;
  const std::string key = kernel.meta.at("key");
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
    json["format"] = kFormat;
    edit(json);
    write_file_atomically(data_dir() / file, json.dump(1));
  } catch (const std::system_error& failure) {
    degrade(failure.what());
    return false;
  }
  return true;
}

std::map<std::string, nlohmann::json> KernelDatabase::index() {
  const nlohmann::json json = read_json_or_empty(data_dir() / "index.json", *this);
  std::map<std::string, nlohmann::json> entries;
  if (json.contains("kernels")) {
    for (const auto& [key, entry] : json["kernels"].items()) entries[key] = entry;
  }
  return entries;
}

bool KernelDatabase::edit_index(const std::function<void(std::map<std::string, nlohmann::json>&)>& edit) {
  return edit_json_file("index.json", [&](nlohmann::json& json) {
    std::map<std::string, nlohmann::json> entries;
    if (json.contains("kernels")) {
      for (const auto& [key, entry] : json["kernels"].items()) entries[key] = entry;
    }
    edit(entries);
    json["kernels"] = entries;
  });
}

std::optional<TunedSchedule> KernelDatabase::tuned(const std::string& config, const std::string& device) {
  const nlohmann::json json = read_json_or_empty(data_dir() / "tuned.json", *this);
  const std::string key = tuned_key(device, config);
  if (!json.contains("tuned") || !json["tuned"].contains(key)) return std::nullopt;
  std::optional<TunedSchedule> tuned = tuned_from_json(json["tuned"][key]);
  if (!tuned) warn_once("kernel database: tuned entry " + key + " is unreadable; ignoring it");
  return tuned;
}

std::vector<TunedSchedule> KernelDatabase::all_tuned() {
  const nlohmann::json json = read_json_or_empty(data_dir() / "tuned.json", *this);
  std::vector<TunedSchedule> entries;
  if (!json.contains("tuned")) return entries;
  for (const auto& [key, entry] : json["tuned"].items()) {
    if (std::optional<TunedSchedule> tuned = tuned_from_json(entry)) {
      entries.push_back(std::move(*tuned));
    } else {
      warn_once("kernel database: tuned entry " + key + " is unreadable; ignoring it");
    }
  }
  return entries;
}

bool KernelDatabase::store_tuned(const TunedSchedule& tuned) {
  return edit_json_file("tuned.json", [&](nlohmann::json& json) {
    json["tuned"][tuned_key(tuned.device, tuned.config)] = tuned_to_json(tuned);
  });
}

std::optional<std::vector<std::pair<std::string, std::string>>> KernelDatabase::remove_stale_tuned(
    const std::function<std::optional<std::string>(const TunedSchedule&)>& why_stale, bool dry_run) {
  std::vector<std::pair<std::string, std::string>> stale;
  const auto find_stale = [&](const nlohmann::json& json) {
    stale.clear();
    if (!json.contains("tuned") || !json["tuned"].is_object()) return;
    for (const auto& [key, entry] : json["tuned"].items()) {
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
