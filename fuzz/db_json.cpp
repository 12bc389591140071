// Fuzz target: the database's JSON files, index.json, the index's journal (index-journal.jsonl) and
// tuned.json (tuning_db/database), as `bitjit db ls / verify / gc` and every lookup of a tuned schedule
// read them. The input is written as all three files of a scratch database; then every reader runs, the maintenance that rewrites the index, and
// the staleness check of tuned entries that `db gc` applies (runtime/tuning). An unreadable file is
// started afresh, never a crash; rewriting the index keeps the entries it read.
#include "fuzz/support.hpp"
#include "runtime/tuning.hpp"
#include "tuning_db/database.hpp"
#include "tuning_db/maintenance.hpp"

namespace {

const std::filesystem::path& database_root() {
  static const std::filesystem::path root = bitjit::fuzz::scratch_dir() / "db";
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitjit;
  const std::string_view bytes = fuzz::as_text(data, size);
  db::KernelDatabase database(database_root());
  fuzz::reset_dir(database.data_dir() / "kernels");
  fuzz::write_file(database.data_dir() / "index.json", bytes);
  fuzz::write_file(database.data_dir() / "index-journal.jsonl", bytes);
  fuzz::write_file(database.data_dir() / "tuned.json", bytes);

  const std::map<std::string, nlohmann::json> index = database.index();
  for (const db::TunedSchedule& tuned : database.all_tuned()) {
    (void)stale_tuned_reason(tuned);
    (void)database.tuned(tuned.config, tuned.device);
  }
  (void)database.remove_stale_tuned(stale_tuned_reason, /*dry_run=*/true);

  FUZZ_CHECK(database.edit_index([](std::map<std::string, nlohmann::json>&) {}), "the index cannot be rewritten");
  FUZZ_CHECK(database.index() == index, "rewriting the index unchanged changes its entries");
  // No kernel file exists, so every index entry dangles; the repair empties the index.
  const db::VerifyReport report = db::verify_database(database, /*repair=*/true);
  FUZZ_CHECK(report.dangling.size() == index.size(), "verify counts " + std::to_string(report.dangling.size()) +
                                                         " dangling entries of " + std::to_string(index.size()));
  FUZZ_CHECK(database.index().empty(), "verify --repair leaves index entries without kernel files");
  (void)database.remove_stale_tuned(stale_tuned_reason, /*dry_run=*/false);
  return 0;
}
