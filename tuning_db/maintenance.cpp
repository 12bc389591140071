#include "tuning_db/maintenance.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "tuning_db/files.hpp"
#include "tuning_db/tar.hpp"

namespace bitjit::db {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kKernelSuffix = ".kernel";
constexpr std::string_view kKernelsFolder = "v1/kernels/";
constexpr std::string_view kTunedFile = "v1/tuned.json";

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every file of the kernels directory, decoded.
struct ScannedFile {
  fs::path path;
  std::string key;  // empty for temporary and unrelated files
  bool older_format = false;
  std::variant<StoredKernel, std::string> decoded = std::string("not a kernel file");
};

ScannedFile scan_file(const fs::path& path) {
  ScannedFile file{path, {}};
  const std::string name = path.filename().string();
  if (is_temporary_name(name) || !ends_with(name, kKernelSuffix)) return file;
  file.key = name.substr(0, name.size() - kKernelSuffix.size());
  if (!is_kernel_key(file.key)) {
    file.decoded = "not named <key>.kernel with a kernel key (64 lowercase hex digits)";
    return file;
  }
  try {
    const std::optional<std::string> bytes = read_file(path);
    if (!bytes) {
      file.decoded = std::string("vanished while being read");
      return file;
    }
    file.older_format = is_older_kernel_format(*bytes);
    file.decoded = decode_kernel_file(*bytes, file.key);
  } catch (const ConfigError& error) {
    file.decoded = std::string(error.what());  // a symbolic link, a directory, a FIFO, too large
  }
  return file;
}

std::vector<ScannedFile> scan_kernels(const KernelDatabase& database) {
  std::vector<ScannedFile> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(database.data_dir() / "kernels", error)) {
    files.push_back(scan_file(entry.path()));
  }
  return files;
}

bool is_valid(const ScannedFile& file) { return std::holds_alternative<StoredKernel>(file.decoded); }

bool is_foreign(const StoredKernel& kernel, const BuildVersions& current) {
  return kernel.meta.value("bitjit", "") != current.bitjit || kernel.meta.value("nvrtc", "") != current.nvrtc ||
         kernel.meta.value("templates", "") != current.templates;
}

bool older_than_an_hour(const fs::path& path) {
  std::error_code error;
  const auto modified = fs::last_write_time(path, error);
  return !error && fs::file_time_type::clock::now() - modified > std::chrono::hours(1);
}

// Removes one entry of the kernels directory (never a directory tree); its size, or the failure.
std::variant<uint64_t, std::string> remove_file(const fs::path& path) {
  std::error_code error;
  const uint64_t bytes = fs::is_regular_file(fs::symlink_status(path, error)) ? fs::file_size(path, error) : 0;
  if (!fs::remove(path, error) || error) {
    return "cannot remove: " + (error ? error.message() : std::string("it is gone"));
  }
  return bytes;
}

// The index as exactly the given kernels.
void reindex(std::map<std::string, nlohmann::json>& index, const std::vector<const StoredKernel*>& kernels) {
  index.clear();
  for (const StoredKernel* kernel : kernels) index[kernel->meta.at("key")] = index_entry(*kernel);
}

VerifyReport inspect(const std::vector<ScannedFile>& files, const std::map<std::string, nlohmann::json>& index,
                     std::vector<const StoredKernel*>& valid) {
  VerifyReport report;
  std::set<std::string> valid_keys;
  for (const ScannedFile& file : files) {
    if (file.key.empty()) continue;
    if (!is_valid(file)) {
      report.corrupt.push_back({file.path.string(), std::get<std::string>(file.decoded)});
      continue;
    }
    valid.push_back(&std::get<StoredKernel>(file.decoded));
    valid_keys.insert(file.key);
    if (!index.count(file.key)) report.unindexed.push_back(file.key);
  }
  for (const auto& [key, entry] : index) {
    if (!valid_keys.count(key)) report.dangling.push_back(key);
  }
  report.valid = valid.size();
  return report;
}

std::string cannot_write() {
  return "the database cannot be written (see the warning above); nothing was changed";
}

// ---- export ---------------------------------------------------------------------------------

void check_export_destination(const fs::path& destination, bool force) {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(destination, error);
  if (ends_with(destination.string(), ".tar")) {
    if (fs::is_directory(status)) throw ConfigError(destination.string() + " is a directory; an archive is written to a file");
    if (fs::exists(status) && !force) throw ConfigError(destination.string() + " exists; --force replaces it");
    return;
  }
  if (!fs::is_directory(status)) {
    throw ConfigError("export destination " + destination.string() +
                      ": give a path ending in .tar (an archive) or an existing directory (a cache directory is "
                      "written into it); nothing written");
  }
  if (fs::exists(destination / "v1") && !force) {
    throw ConfigError(destination.string() + " already holds a kernel database (v1/); --force replaces its files");
  }
}

void write_export(const fs::path& destination, const std::map<std::string, std::string>& files) {
  if (ends_with(destination.string(), ".tar")) {
    std::vector<TarMember> members;
    for (const auto& [name, bytes] : files) members.push_back({name, bytes});
    return write_tar(destination, members);
  }
  fs::create_directories(destination / kKernelsFolder);
  for (const auto& [name, bytes] : files) write_file_atomically(destination / name, bytes);
}

// ---- import ---------------------------------------------------------------------------------

// One file of an export, read only when its turn comes.
struct ExportFile {
  std::string name;  // relative to the export's root, '/' separators
  std::function<std::string()> read;
};

enum class LayoutRole { kernel, tuned, skipped, ignored };

// What an export's file is; a name under v1/kernels/ ending in .kernel must carry a kernel key.
LayoutRole role_of(const std::string& name, const std::string& source) {
  if (name == kTunedFile) return LayoutRole::tuned;
  if (name == "v1/index.json" || name == "v1/index-journal.jsonl" || name == "v1/lock") return LayoutRole::skipped;
  if (name.rfind(kKernelsFolder, 0) != 0) return LayoutRole::ignored;
  const std::string file = name.substr(kKernelsFolder.size());
  if (is_temporary_name(file)) return LayoutRole::skipped;
  if (!ends_with(file, kKernelSuffix)) return LayoutRole::ignored;
  const std::string key = file.substr(0, file.size() - kKernelSuffix.size());
  if (!is_kernel_key(key)) {
    throw ConfigError(source + ": " + quote_input(name) + " is not named by a kernel key: " + quote_input(key) +
                      " is not 64 lowercase hex digits; nothing imported");
  }
  return LayoutRole::kernel;
}

std::vector<ExportFile> tar_files(const fs::path& source) {
  std::vector<ExportFile> files;
  for (const TarEntry& entry : list_tar(source)) {
    files.push_back({entry.name, [source, entry] { return read_tar_member(source, entry); }});
  }
  return files;
}

// Of a directory only v1/kernels/* and v1/tuned.json, never a symbolic link out of the tree.
std::vector<ExportFile> directory_files(const fs::path& source) {
  std::error_code error;
  for (const fs::path& folder : {source / "v1", source / "v1" / "kernels"}) {
    if (!fs::is_directory(fs::symlink_status(folder, error))) {
      throw ConfigError(source.string() + " holds no kernel database (" + folder.string() +
                        " is not a directory); nothing imported");
    }
  }
  std::vector<ExportFile> files;
  auto add = [&](const std::string& name) {
    const fs::path path = source / name;
    files.push_back({name, [path] { return read_file(path).value_or(""); }});
  };
  for (const auto& entry : fs::directory_iterator(source / "v1" / "kernels", error)) {
    add(std::string(kKernelsFolder) + entry.path().filename().string());
  }
  if (error) throw ConfigError(source.string() + ": cannot list v1/kernels: " + error.message());
  if (fs::exists(fs::symlink_status(source / kTunedFile, error))) add(std::string(kTunedFile));
  return files;
}

void import_kernel(KernelDatabase& database, const ExportFile& file, const ImportChecks& checks, TransferReport& report) {
  const std::string key = file.name.substr(kKernelsFolder.size(), file.name.size() - kKernelsFolder.size() - kKernelSuffix.size());
  std::variant<StoredKernel, std::string> decoded;
  try {
    decoded = decode_kernel_file(file.read(), key);
  } catch (const ConfigError& error) {
    decoded = std::string(error.what());
  }
  if (const auto* kernel = std::get_if<StoredKernel>(&decoded); kernel && checks.kernel_problem) {
    if (std::optional<std::string> problem = checks.kernel_problem(*kernel)) decoded = *problem;
  }
  if (auto* problem = std::get_if<std::string>(&decoded)) {
    ++report.rejected;
    report.problems.push_back({file.name, *problem});
  } else if (database.load(key)) {
    ++report.already_present;
  } else if (database.store(std::get<StoredKernel>(decoded))) {
    ++report.copied;
  } else {
    throw std::runtime_error("the kernel database at " + database.root().string() + " cannot be written");
  }
}

void import_tuned(KernelDatabase& database, const ExportFile& file, const ImportChecks& checks, TransferReport& report) {
  std::map<std::string, nlohmann::json> entries;
  try {
    const nlohmann::json json = parse_json_input(file.read(), file.name);
    const auto tuned = json.is_object() ? json.find("tuned") : json.end();
    if (tuned == json.end() || !tuned->is_object()) throw ConfigError(file.name + ": no \"tuned\" object");
    const auto format = json.find("format");
    if (format == json.end() || *format != kDatabaseFileFormat) {
      throw ConfigError(file.name + ": of format " + (format == json.end() ? std::string("none") : quote_json(*format)) +
                        ", not " + std::to_string(kDatabaseFileFormat) + " (another version of bitjit's schedules)");
    }
    for (const auto& [key, entry] : tuned->items()) entries[key] = entry;
  } catch (const ConfigError& error) {
    ++report.rejected;
    report.problems.push_back({file.name, error.what()});
    return;
  }
  for (const auto& [key, entry] : entries) {
    const std::string where = file.name + ": " + quote_input(key);
    const std::optional<TunedSchedule> tuned = tuned_from_json(entry);
    std::optional<std::string> problem;
    if (!tuned) problem = "unreadable tuned entry (a field missing or of the wrong type, or a latency not finite and > 0)";
    else if (tuned_key(tuned->device, tuned->config) != key) problem = "filed under another key than its device and config";
    else if (checks.tuned_problem) problem = checks.tuned_problem(*tuned);
    if (problem) {
      ++report.rejected;
      report.problems.push_back({where, *problem});
      continue;
    }
    if (database.tuned(tuned->config, tuned->device)) continue;
    if (!database.store_tuned(*tuned)) throw std::runtime_error("the kernel database at " + database.root().string() + " cannot be written");
    ++report.tuned;
  }
}

}  // namespace

VerifyReport verify_database(KernelDatabase& database, bool repair) {
  std::vector<const StoredKernel*> valid;
  if (!repair) {
    const std::vector<ScannedFile> files = scan_kernels(database);
    return inspect(files, database.index(), valid);
  }
  VerifyReport report;
  std::vector<ScannedFile> files;
  const bool written = database.edit_index([&](std::map<std::string, nlohmann::json>& index) {
    files = scan_kernels(database);
    report = inspect(files, index, valid);
    if (report.clean()) return;
    for (const BadEntry& bad : report.corrupt) {
      const auto removed = remove_file(bad.file);
      if (const auto* failure = std::get_if<std::string>(&removed)) report.unrepaired.push_back({bad.file, *failure});
    }
    reindex(index, valid);
  });
  if (!written) {
    files = scan_kernels(database);
    valid.clear();
    report = inspect(files, database.index(), valid);
    if (!report.clean()) report.unrepaired.push_back({database.root().string(), cannot_write()});
  }
  return report;
}

GcReport collect_garbage(KernelDatabase& database, const BuildVersions& current, bool dry_run) {
  GcReport report;
  std::vector<ScannedFile> files;
  const auto collect = [&](std::map<std::string, nlohmann::json>* index) {
    report = GcReport();
    files = scan_kernels(database);
    std::vector<const StoredKernel*> kept;
    for (const ScannedFile& file : files) {
      const std::string name = file.path.filename().string();
      size_t* reason = nullptr;
      if (file.key.empty()) {
        if (is_temporary_name(name) && older_than_an_hour(file.path)) reason = &report.temporary;
      } else if (file.older_format) {
        reason = &report.foreign;
      } else if (!is_valid(file)) {
        reason = &report.corrupt;
      } else if (is_foreign(std::get<StoredKernel>(file.decoded), current)) {
        reason = &report.foreign;
      } else {
        kept.push_back(&std::get<StoredKernel>(file.decoded));
      }
      if (!reason) continue;
      ++*reason;
      if (!index) {
        std::error_code error;
        report.bytes_freed += fs::is_regular_file(fs::symlink_status(file.path, error)) ? fs::file_size(file.path, error) : 0;
        continue;
      }
      const auto removed = remove_file(file.path);
      if (const auto* bytes = std::get_if<uint64_t>(&removed)) report.bytes_freed += *bytes;
      else report.failures.push_back({file.path.string(), std::get<std::string>(removed)});
    }
    report.kept = kept.size();
    if (index) reindex(*index, kept);
  };
  if (dry_run) {
    collect(nullptr);
  } else if (!database.edit_index([&](std::map<std::string, nlohmann::json>& index) { collect(&index); })) {
    collect(nullptr);  // to report what would go
    report.failures.push_back({database.root().string(), cannot_write()});
  }
  return report;
}

TransferReport export_database(KernelDatabase& database, const fs::path& destination, bool force) {
  check_export_destination(destination, force);
  TransferReport report;
  std::map<std::string, std::string> files;
  std::vector<const StoredKernel*> valid;
  const std::vector<ScannedFile> scanned = scan_kernels(database);
  for (const ScannedFile& file : scanned) {
    if (file.key.empty()) continue;
    if (!is_valid(file)) {
      ++report.rejected;
      report.problems.push_back({file.path.string(), std::get<std::string>(file.decoded)});
      continue;
    }
    const StoredKernel& kernel = std::get<StoredKernel>(file.decoded);
    files[std::string(kKernelsFolder) + file.key + std::string(kKernelSuffix)] = encode_kernel_file(kernel);
    valid.push_back(&kernel);
    ++report.copied;
  }
  nlohmann::json index = {{"format", kDatabaseFileFormat}, {"kernels", nlohmann::json::object()}};
  for (const StoredKernel* kernel : valid) index["kernels"][kernel->meta.at("key").get<std::string>()] = index_entry(*kernel);
  files["v1/index.json"] = index.dump(1);
  // The readable entries, rewritten: nothing the database itself would ignore travels on.
  nlohmann::json tuned = {{"format", kDatabaseFileFormat}, {"tuned", nlohmann::json::object()}};
  for (const TunedSchedule& entry : database.all_tuned()) {
    tuned["tuned"][tuned_key(entry.device, entry.config)] = tuned_to_json(entry);
    ++report.tuned;
  }
  files[std::string(kTunedFile)] = tuned.dump(1);
  write_export(destination, files);
  return report;
}

TransferReport import_database(KernelDatabase& database, const fs::path& source, const ImportChecks& checks) {
  std::error_code error;
  const fs::file_status status = fs::status(source, error);
  std::vector<ExportFile> files;
  if (fs::is_directory(status)) files = directory_files(source);
  else if (fs::is_regular_file(status)) files = tar_files(source);
  else throw ConfigError(source.string() + " is neither a directory nor a .tar archive (or does not exist); nothing imported");
  // Every name is checked before anything is imported.
  std::vector<std::pair<LayoutRole, const ExportFile*>> roles;
  for (const ExportFile& file : files) roles.emplace_back(role_of(file.name, source.string()), &file);
  TransferReport report;
  for (const auto& [role, file] : roles) {
    if (role == LayoutRole::kernel) import_kernel(database, *file, checks, report);
    else if (role == LayoutRole::tuned) import_tuned(database, *file, checks, report);
    else if (role == LayoutRole::ignored) report.ignored.push_back(file->name);
  }
  return report;
}

}  // namespace bitjit::db
