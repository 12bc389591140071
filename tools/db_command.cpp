// `bitjit db`: look into and maintain the kernel database.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/json_input.hpp"
#include "common/version.hpp"
#include "compiler/arch.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/nvrtc.hpp"
#include "runtime/tuning.hpp"
#include "tools/cli.hpp"
#include "tools/config_files.hpp"
#include "tuning_db/maintenance.hpp"

namespace bitjit::cli {

const char* const kDbHelp =
    "usage: bitjit db <command> [--cache-dir DIR]\n"
    "\n"
    "  ls [--json]          list the kernels (key, arch, formats, shape, size, date) and tuned schedules\n"
    "  show KEY             everything stored about one kernel (KEY: its key or a unique prefix)\n"
    "  verify [--repair]    check every kernel file's checksum against the index; --repair removes\n"
    "                       corrupt files and rewrites the index to list exactly the valid kernels\n"
    "  gc [--dry-run]       remove corrupt kernels, kernels built by another version of bitjit,\n"
    "                       NVRTC or the templates, stale temporary files, and tuned schedules no\n"
    "                       lookup can use (config or schedule no longer valid, per-config entries\n"
    "                       of a dynamic M, which is tuned per bucket)\n"
    "  export PATH [--force]\n"
    "                       write the valid kernels and tuned schedules to PATH: a tar archive if PATH\n"
    "                       ends in .tar, else an existing directory (then usable as BITJIT_CACHE_DIR);\n"
    "                       an existing archive or database there is replaced only with --force\n"
    "  import PATH          add the kernels and tuned schedules of an export (.tar or directory); each\n"
    "                       kernel is checked (checksums, its key recomputed from its metadata, the\n"
    "                       cubin's ELF header against its arch), each tuned schedule validated\n"
    "\n"
    "  --cache-dir DIR      the database (default: BITJIT_CACHE_DIR, else $XDG_CACHE_HOME/bitjit,\n"
    "                       else ~/.cache/bitjit)\n"
    "\n"
    "Exit codes: 0 success (verify: no problem left); 1 a problem found or a failure (verify: corrupt\n"
    "or inconsistent entries without --repair, or a repair that failed; show: no such key; import:\n"
    "rejected entries); 2 usage error or invalid input (a KEY or archive member that is not a kernel\n"
    "key, a malformed archive, an export destination refused).\n";

namespace {

db::BuildVersions current_versions() { return {version(), nvrtc_version(), templates_sha256()}; }

// A dimension as the index holds it: an integer as written (one above int64's range printed as it
// is, not wrapped to a negative), M's buckets as their list; any other JSON is a type_error.
std::string dimension_text(const nlohmann::json& value) {
  if (value.is_array()) return value.dump();
  if (value.is_number_unsigned()) return std::to_string(value.get<unsigned long long>());
  return std::to_string(value.get<long long>());
}

std::string shape_of(const nlohmann::json& config) {
  return "M=" + dimension_text(config.at("M")) + " N=" + dimension_text(config.at("N")) +
         " K=" + dimension_text(config.at("K"));
}

int list(db::KernelDatabase& database, bool json) {
  const auto index = database.index();
  const auto tuned = database.all_tuned();
  if (json) {
    nlohmann::json out = {{"database", database.root().string()}, {"kernels", index}, {"tuned", nlohmann::json::array()}};
    for (const db::TunedSchedule& entry : tuned) {
      out["tuned"].push_back({{"config", entry.config}, {"device", entry.device}, {"arch", entry.arch},
                              {"schedule", entry.schedule}, {"latency_ms", entry.latency_ms}});
    }
    std::printf("%s\n", out.dump(1).c_str());
    return kExitOk;
  }
  std::printf("kernel database %s: %zu kernels, %zu tuned schedules\n", database.root().c_str(), index.size(), tuned.size());
  if (!index.empty()) std::printf("%-16s  %-6s  %-8s %-12s %-9s %-32s %8s  %s\n", "key", "arch", "A", "W", "zeros", "shape", "bytes", "created");
  for (const auto& [key, entry] : index) {
    try {
      const nlohmann::json& config = entry.at("config");
      std::printf("%-16s  %-6s  %-8s %-12s %-9s %-32s %8zu  %s\n", key.substr(0, 16).c_str(),
                  entry.at("arch").get<std::string>().c_str(), config.at("A_dtype").get<std::string>().c_str(),
                  config.at("W_dtype").get<std::string>().c_str(),
                  config.value("with_zeros", false) ? config.value("zeros_mode", "").c_str() : "-",
                  shape_of(config).c_str(), entry.value("binary_bytes", size_t(0)), entry.value("created", "").c_str());
    } catch (const nlohmann::json::exception&) {
      std::printf("%-16s  (unreadable index entry; run bitjit db verify --repair)\n", key.substr(0, 16).c_str());
    }
  }
  for (const db::TunedSchedule& entry : tuned) {
    std::printf("tuned on %s (%s): %.4f ms with %s for %s\n", entry.device.c_str(), entry.arch.c_str(), entry.latency_ms,
                entry.schedule.dump().c_str(), entry.config.c_str());
  }
  return kExitOk;
}

// Whether the kernel metadata describes a kernel this bitjit builds, under the key it is filed by:
// the key is recomputed from the config, schedule and arch exactly as the kernel cache computes it.
std::optional<std::string> imported_kernel_problem(const db::StoredKernel& kernel) {
  const nlohmann::json& meta = kernel.meta;
  const db::BuildVersions current = current_versions();
  const auto field = [&](const char* name) { return meta.contains(name) ? meta[name] : nlohmann::json(); };
  if (field("bitjit") != current.bitjit || field("nvrtc") != current.nvrtc || field("templates") != current.templates) {
    return "built by another version of bitjit, NVRTC or the templates (bitjit " + quote_json(field("bitjit")) +
           ", NVRTC " + quote_json(field("nvrtc")) + "): this bitjit never looks it up";
  }
  try {
    const std::string arch = meta.at("arch");
    check_arch(arch);
    const GeneratedKernel expected = emit_kernel(config_from_json(meta.at("config")), schedule_from_json(meta.at("schedule")), arch);
    if (meta.at("flags") != nlohmann::json(default_compile_flags(arch))) return std::string("compiled with other flags than this bitjit uses");
    if (expected.key != meta.at("key").get<std::string>()) {
      return "its metadata (config, schedule, arch) gives the key " + expected.key + ", not the key it is filed under";
    }
  } catch (const std::exception& error) {
    return std::string("its metadata does not describe a kernel this bitjit builds: ") + error.what();
  }
  return std::nullopt;
}

std::optional<std::string> imported_tuned_problem(const db::TunedSchedule& entry) { return stale_tuned_reason(entry); }

int show(db::KernelDatabase& database, const std::string& prefix) {
  // The argument names a file only through a checked key: never a path.
  const bool hex = std::all_of(prefix.begin(), prefix.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (prefix.empty() || prefix.size() > 64 || !hex) {
    throw UsageError{quote_input(prefix) + " is not a kernel key or key prefix (1 to 64 lowercase hex digits)"};
  }
  std::vector<std::string> matches;
  for (const auto& [key, entry] : database.index()) {
    if (key.rfind(prefix, 0) == 0) matches.push_back(key);
  }
  if (matches.size() > 1) throw UsageError{"key prefix " + prefix + " matches " + std::to_string(matches.size()) + " kernels"};
  // Not indexed (e.g. after a crash): the file itself may still be there under its full key.
  const std::string key = matches.empty() ? prefix : matches.front();
  const std::optional<db::StoredKernel> kernel = db::is_kernel_key(key) ? database.load(key) : std::nullopt;
  if (!kernel) {
    std::fprintf(stderr, "bitjit db show: no valid kernel with key %s in %s\n", prefix.c_str(), database.root().c_str());
    return kExitFailure;
  }
  nlohmann::json shown = kernel->meta;
  shown["file"] = database.kernel_path(key).string();
  std::printf("%s\n", shown.dump(2).c_str());
  return kExitOk;
}

int verify(db::KernelDatabase& database, bool repair) {
  const db::VerifyReport report = db::verify_database(database, repair);
  for (const db::BadEntry& bad : report.corrupt) std::printf("corrupt: %s: %s\n", bad.file.c_str(), bad.problem.c_str());
  for (const std::string& key : report.unindexed) std::printf("not in the index: %s\n", key.c_str());
  for (const std::string& key : report.dangling) std::printf("indexed without a valid file: %s\n", key.c_str());
  for (const db::BadEntry& failed : report.unrepaired) {
    std::fprintf(stderr, "bitjit db verify: could not repair %s: %s\n", failed.file.c_str(), failed.problem.c_str());
  }
  const bool repaired = repair && report.unrepaired.empty();
  std::printf("verify %s: %zu valid kernels, %zu corrupt, %zu unindexed, %zu dangling index entries%s\n",
              database.root().c_str(), report.valid, report.corrupt.size(), report.unindexed.size(),
              report.dangling.size(),
              report.clean() ? "" : repaired ? " (repaired)" : repair ? " (NOT repaired)" : " (run with --repair to fix)");
  return report.clean() || repaired ? kExitOk : kExitFailure;
}

int collect(db::KernelDatabase& database, bool dry_run) {
  const db::GcReport report = db::collect_garbage(database, current_versions(), dry_run);
  for (const db::BadEntry& failed : report.failures) {
    std::fprintf(stderr, "bitjit db gc: could not remove %s: %s\n", failed.file.c_str(), failed.problem.c_str());
  }
  const auto stale = database.remove_stale_tuned(stale_tuned_reason, dry_run);
  if (!stale) {
    std::fprintf(stderr, "bitjit db gc: %s cannot be written; tuned schedules left as they are\n", database.root().c_str());
    return kExitFailure;
  }
  for (const auto& [key, reason] : *stale) std::printf("stale tuned schedule: %s: %s\n", key.c_str(), reason.c_str());
  std::printf("gc %s%s: kept %zu kernels; %s %zu corrupt, %zu from other versions, %zu stale temporary files, "
              "%zu stale tuned schedules (%.1f MB)\n",
              database.root().c_str(), dry_run ? " (dry run)" : "", report.kept, dry_run ? "would remove" : "removed",
              report.corrupt, report.foreign, report.temporary, stale->size(), double(report.bytes_freed) / 1e6);
  return report.failures.empty() ? kExitOk : kExitFailure;
}

int transfer(db::KernelDatabase& database, const std::string& verb, const std::string& path, bool force) {
  const db::TransferReport report =
      verb == "export" ? db::export_database(database, path, force)
                       : db::import_database(database, path, {imported_kernel_problem, imported_tuned_problem});
  for (const db::BadEntry& bad : report.problems) std::fprintf(stderr, "skipped %s: %s\n", bad.file.c_str(), bad.problem.c_str());
  for (const std::string& name : report.ignored) {
    std::fprintf(stderr, "ignored %s: not part of a kernel database's layout\n", name.c_str());
  }
  std::printf("%s %s %s %s: %zu kernels copied, %zu already present, %zu rejected, %zu tuned schedules\n", verb.c_str(),
              database.root().c_str(), verb == "export" ? "to" : "from", path.c_str(), report.copied,
              report.already_present, report.rejected, report.tuned);
  return report.rejected == 0 ? kExitOk : kExitFailure;
}

}  // namespace

int db_command(const std::vector<std::string>& args) {
  Arguments arguments(args, {"--json", "--repair", "--dry-run", "--force"}, {"--cache-dir"});
  const std::vector<std::string>& words = arguments.positional();
  if (words.empty()) throw UsageError{"which db command? ls, show, verify, gc, export or import"};
  use_cache_dir(arguments.option("--cache-dir"));
  db::KernelDatabase& database = db::default_database();
  const std::string& verb = words[0];
  const size_t operands = verb == "show" || verb == "export" || verb == "import" ? 1 : 0;
  if (words.size() != operands + 1) {
    throw UsageError{"db " + verb + (operands ? " takes one operand" : " takes no operand")};
  }
  auto only = [&](const char* flag, const char* owner) {
    if (arguments.flag(flag) && verb != owner) throw UsageError{std::string(flag) + " belongs to db " + owner};
  };
  only("--json", "ls");
  only("--repair", "verify");
  only("--dry-run", "gc");
  only("--force", "export");
  if (verb == "ls") return list(database, arguments.flag("--json"));
  if (verb == "show") return show(database, words[1]);
  if (verb == "verify") return verify(database, arguments.flag("--repair"));
  if (verb == "gc") return collect(database, arguments.flag("--dry-run"));
  if (verb == "export" || verb == "import") return transfer(database, verb, words[1], arguments.flag("--force"));
  throw UsageError{"unknown db command '" + verb + "': ls, show, verify, gc, export or import"};
}

}  // namespace bitjit::cli
