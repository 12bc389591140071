// Fuzz target: `bitjit db import` of a tar archive (tuning_db/maintenance, tar, kernel_file and
// database together), into an empty scratch database, with the CLI's check of tuned entries
// (runtime/tuning's stale_tuned_reason). The CLI's other check, that a kernel's metadata regenerates
// its key, needs the code generator and is left out: the database must be safe without it. Whatever the archive holds, the import writes
// nothing outside the database, files only kernels named by a 64-hex-digit key, every stored kernel
// decodes under its key, and the index lists exactly the stored kernels. A canary file beside the
// database (outside/<key>.kernel) must survive untouched.
//
// A vulnerable build could write or remove files outside the scratch directory before the checks
// run: scripts/fuzz.sh runs the targets where everything outside their run directory is read-only.
#include <regex>

#include "fuzz/support.hpp"
#include "tuning_db/files.hpp"
#include "runtime/tuning.hpp"
#include "tuning_db/kernel_file.hpp"
#include "tuning_db/maintenance.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCanaryBytes = "canary: no import may touch this file\n";

// Independent of db::is_kernel_key, which is under test.
bool is_key(const std::string& text) {
  static const std::regex hex64("[0-9a-f]{64}");
  return std::regex_match(text, hex64);
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

void check_outside_untouched(const fs::path& scratch, const fs::path& canary) {
  const std::set<std::string> expected = {"input.tar", "db", "outside"};
  FUZZ_CHECK(names_in(scratch) == expected, "the import created files beside the database");
  FUZZ_CHECK(names_in(canary.parent_path()) == std::set<std::string>{canary.filename().string()},
             "the import created files in a directory beside the database");
  FUZZ_CHECK(bitjit::db::read_file(canary) == std::string(kCanaryBytes), "the import changed or removed the canary");
}

void check_database(bitjit::db::KernelDatabase& database) {
  const fs::path kernels = database.data_dir() / "kernels";
  std::set<std::string> stored;
  for (const std::string& name : names_in(kernels)) {
    const std::string key = name.size() > 7 ? name.substr(0, name.size() - 7) : "";
    FUZZ_CHECK(name.size() > 7 && name.substr(name.size() - 7) == ".kernel" && is_key(key),
               "the import filed '" + name + "' in the kernels directory");
    FUZZ_CHECK(database.load(key).has_value(), "the imported kernel " + key + " does not load");
    stored.insert(key);
  }
  std::set<std::string> indexed;
  for (const auto& [key, entry] : database.index()) indexed.insert(key);
  FUZZ_CHECK(indexed == stored, "the index lists " + std::to_string(indexed.size()) + " kernels, the directory holds " +
                                    std::to_string(stored.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  const fs::path& scratch = fuzz::scratch_dir();
  const fs::path archive = scratch / "input.tar";
  const fs::path canary = scratch / "outside" / "0000000000000000000000000000000000000000000000000000000000000000.kernel";
  fuzz::reset_dir(scratch / "db");
  fuzz::reset_dir(canary.parent_path());
  fuzz::write_file(canary, kCanaryBytes);
  fuzz::write_file(archive, fuzz::as_text(data, size));

  db::KernelDatabase database(scratch / "db");
  try {
    const db::TransferReport report = db::import_database(database, archive, {nullptr, stale_tuned_reason});
    for (const db::BadEntry& problem : report.problems) fuzz::check_error_message(problem.problem);
  } catch (const std::runtime_error& error) {
    fuzz::check_error_message(error.what());
  }
  check_outside_untouched(scratch, canary);
  if (fs::exists(database.data_dir() / "kernels")) check_database(database);
  return 0;
}
