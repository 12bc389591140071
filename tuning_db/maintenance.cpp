#include "tuning_db/maintenance.hpp"

#include <chrono>
#include <map>
#include <set>
#include <stdexcept>

#include "tuning_db/files.hpp"
#include "tuning_db/tar.hpp"

namespace bitjit::db {
namespace {

constexpr std::string_view kKernelSuffix = ".kernel";

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every file of the kernels directory, decoded.
struct ScannedFile {
  std::filesystem::path path;
  std::string key;  // empty for temporary and unrelated files
  std::variant<StoredKernel, std::string> decoded = std::string("not a kernel file");
};

std::vector<ScannedFile> scan_kernels(const KernelDatabase& database) {
  std::vector<ScannedFile> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(database.data_dir() / "kernels", error)) {
    ScannedFile file{entry.path(), {}};
    const std::string name = entry.path().filename().string();
    if (!is_temporary_name(name) && ends_with(name, kKernelSuffix)) {
      file.key = name.substr(0, name.size() - kKernelSuffix.size());
      const std::optional<std::string> bytes = read_file(entry.path());
      file.decoded = bytes ? decode_kernel_file(*bytes, file.key) : std::string("unreadable");
    }
    files.push_back(std::move(file));
  }
  return files;
}

bool is_valid(const ScannedFile& file) { return std::holds_alternative<StoredKernel>(file.decoded); }

bool is_foreign(const StoredKernel& kernel, const BuildVersions& current) {
  return kernel.meta.value("bitjit", "") != current.bitjit || kernel.meta.value("nvrtc", "") != current.nvrtc ||
         kernel.meta.value("templates", "") != current.templates;
}

bool older_than_an_hour(const std::filesystem::path& path) {
  std::error_code error;
  const auto modified = std::filesystem::last_write_time(path, error);
  return !error && std::filesystem::file_time_type::clock::now() - modified > std::chrono::hours(1);
}

uint64_t remove_file(const std::filesystem::path& path) {
  std::error_code error;
  const uint64_t bytes = std::filesystem::file_size(path, error);
  std::filesystem::remove(path, error);
  return error ? 0 : bytes;
}

// The index as exactly the given kernels.
void reindex(KernelDatabase& database, const std::vector<const StoredKernel*>& kernels) {
  database.edit_index([&](std::map<std::string, nlohmann::json>& index) {
    index.clear();
    for (const StoredKernel* kernel : kernels) index[kernel->meta.at("key")] = index_entry(*kernel);
  });
}

// An export's files: relative path -> bytes.
std::map<std::string, std::string> read_export(const std::filesystem::path& source) {
  std::map<std::string, std::string> files;
  if (ends_with(source.string(), ".tar")) {
    for (TarMember& member : read_tar(source)) files[member.name] = std::move(member.bytes);
    return files;
  }
  if (!std::filesystem::is_directory(source)) throw std::runtime_error(source.string() + " is neither a directory nor a .tar");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = std::filesystem::relative(entry.path(), source).generic_string();
    if (const auto bytes = read_file(entry.path())) files[name] = *bytes;
  }
  return files;
}

void write_export(const std::filesystem::path& destination, const std::map<std::string, std::string>& files) {
  if (ends_with(destination.string(), ".tar")) {
    std::vector<TarMember> members;
    for (const auto& [name, bytes] : files) members.push_back({name, bytes});
    return write_tar(destination, members);
  }
  for (const auto& [name, bytes] : files) {
    const std::filesystem::path path = destination / name;
    std::filesystem::create_directories(path.parent_path());
    write_file_atomically(path, bytes);
  }
}

}  // namespace

VerifyReport verify_database(KernelDatabase& database, bool repair) {
  VerifyReport report;
  const std::vector<ScannedFile> files = scan_kernels(database);
  const std::map<std::string, nlohmann::json> index = database.index();
  std::vector<const StoredKernel*> valid;
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
  if (repair && !report.clean()) {
    for (const BadEntry& bad : report.corrupt) remove_file(bad.file);
    reindex(database, valid);
  }
  return report;
}

GcReport collect_garbage(KernelDatabase& database, const BuildVersions& current, bool dry_run) {
  GcReport report;
  std::vector<const StoredKernel*> kept;
  const std::vector<ScannedFile> files = scan_kernels(database);
  for (const ScannedFile& file : files) {
    const std::string name = file.path.filename().string();
    size_t* reason = nullptr;
    if (file.key.empty()) {
      if (is_temporary_name(name) && older_than_an_hour(file.path)) reason = &report.temporary;
    } else if (!is_valid(file)) {
      reason = &report.corrupt;
    } else if (is_foreign(std::get<StoredKernel>(file.decoded), current)) {
      reason = &report.foreign;
    } else {
      kept.push_back(&std::get<StoredKernel>(file.decoded));
    }
    if (!reason) continue;
    ++*reason;
    if (dry_run) {
      std::error_code error;
      report.bytes_freed += std::filesystem::file_size(file.path, error);
    } else {
      report.bytes_freed += remove_file(file.path);
    }
  }
  report.kept = kept.size();
  if (!dry_run) reindex(database, kept);
  return report;
}

TransferReport export_database(KernelDatabase& database, const std::filesystem::path& destination) {
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
    files["v1/kernels/" + file.path.filename().string()] = encode_kernel_file(kernel);
    valid.push_back(&kernel);
    ++report.copied;
  }
  nlohmann::json index = {{"format", 1}, {"kernels", nlohmann::json::object()}};
  for (const StoredKernel* kernel : valid) index["kernels"][kernel->meta.at("key").get<std::string>()] = index_entry(*kernel);
  files["v1/index.json"] = index.dump(1);
  if (const auto tuned = read_file(database.data_dir() / "tuned.json")) {
    files["v1/tuned.json"] = *tuned;
    report.tuned = database.all_tuned().size();
  }
  write_export(destination, files);
  return report;
}

TransferReport import_database(KernelDatabase& database, const std::filesystem::path& source) {
  TransferReport report;
  const std::map<std::string, std::string> files = read_export(source);
  for (const auto& [name, bytes] : files) {
    const std::string prefix = "v1/kernels/";
    if (name.rfind(prefix, 0) != 0 || !ends_with(name, kKernelSuffix)) continue;
    const std::string key = name.substr(prefix.size(), name.size() - prefix.size() - kKernelSuffix.size());
    auto decoded = decode_kernel_file(bytes, key);
    if (auto* problem = std::get_if<std::string>(&decoded)) {
      ++report.rejected;
      report.problems.push_back({name, *problem});
    } else if (database.load(key)) {
      ++report.already_present;
    } else if (database.store(std::get<StoredKernel>(decoded))) {
      ++report.copied;
    } else {
      throw std::runtime_error("the kernel database at " + database.root().string() + " cannot be written");
    }
  }
  if (auto found = files.find("v1/tuned.json"); found != files.end()) {
    nlohmann::json json = nlohmann::json::parse(found->second, nullptr, false);
    if (json.is_object() && json.contains("tuned")) {
      for (const auto& [key, entry] : json["tuned"].items()) {
        const std::optional<TunedSchedule> tuned = tuned_from_json(entry);
        if (!tuned) {
          ++report.rejected;
          report.problems.push_back({"v1/tuned.json: " + key, "unreadable tuned entry"});
          continue;
        }
        if (database.tuned(tuned->config, tuned->device)) continue;
        if (database.store_tuned(*tuned)) ++report.tuned;
      }
    }
  }
  return report;
}

}  // namespace bitjit::db
