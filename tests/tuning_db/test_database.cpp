// The kernel database on its own: file format checks, store / load, tuned schedules, verify, gc,
// export / import and tar archives. Kernels here are random bytes: no compiler involved.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/sha256.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"
#include "tuning_db/files.hpp"
#include "tuning_db/kernel_file.hpp"
#include "tuning_db/maintenance.hpp"
#include "tuning_db/tar.hpp"

using namespace bitjit;
using namespace bitjit::db;
using namespace bitjit::testing;
namespace fs = std::filesystem;

namespace {

const BuildVersions kCurrent{"1.0", "13.0", "templates-a"};

StoredKernel random_kernel(std::mt19937_64& rng, const BuildVersions& versions = kCurrent) {
  StoredKernel kernel;
  kernel.cubin.resize(std::uniform_int_distribution<size_t>(1, 3000)(rng));
  for (char& byte : kernel.cubin) byte = char(rng());
  const std::string key = sha256_hex(std::string(kernel.cubin.begin(), kernel.cubin.end()) + std::to_string(rng()));
  kernel.meta = {{"key", key},
                 {"config", {{"M", 1}, {"N", 8}, {"K", 64}, {"A_dtype", "float16"}, {"W_dtype", "uint4"}}},
                 {"arch", "sm_80"},
                 {"bitjit", versions.bitjit},
                 {"nvrtc", versions.nvrtc},
                 {"templates", versions.templates},
                 {"flags", {"-std=c++17"}}};
  return kernel;
}

std::string key_of(const StoredKernel& kernel) { return kernel.meta.at("key"); }

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << bytes;
}

}  // namespace

TEST_CASE("a kernel file decodes to what was encoded", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  const StoredKernel kernel = random_kernel(rng);
  auto decoded = decode_kernel_file(encode_kernel_file(kernel), key_of(kernel));
  REQUIRE(std::holds_alternative<StoredKernel>(decoded));
  CHECK(std::get<StoredKernel>(decoded).cubin == kernel.cubin);
  CHECK(std::get<StoredKernel>(decoded).meta.at("arch") == "sm_80");
  CHECK(std::get<StoredKernel>(decoded).meta.at("binary_bytes") == kernel.cubin.size());
}

TEST_CASE("truncated, corrupted, renamed and foreign kernel files are recognised", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  const StoredKernel kernel = random_kernel(rng);
  const std::string bytes = encode_kernel_file(kernel), key = key_of(kernel);
  auto problem = [&](const std::string& file_bytes, const std::string& expected_key) {
    auto decoded = decode_kernel_file(file_bytes, expected_key);
    return std::holds_alternative<std::string>(decoded) ? std::get<std::string>(decoded) : std::string("decoded");
  };
  // Cut anywhere: in the magic, the metadata, or the binary.
  const size_t cut = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
  CHECK(problem(bytes.substr(0, cut), key) != "decoded");
  CHECK(contains(problem(bytes.substr(0, bytes.size() - 1), key), "truncated"));
  // One flipped bit in the binary.
  std::string flipped = bytes;
  flipped[bytes.size() - 1 - std::uniform_int_distribution<size_t>(0, kernel.cubin.size() - 1)(rng)] ^= 0x10;
  CHECK(contains(problem(flipped, key), "SHA-256"));
  CHECK(contains(problem(bytes, std::string(64, '0')), "not the key it is named by"));
  CHECK(contains(problem("BITJIT-KERNEL 2\n" + bytes.substr(16), key), "not a bitjit kernel file"));
  CHECK(contains(problem(std::string(bytes).replace(17, 1, "#"), key), "unreadable metadata"));
}

TEST_CASE("stored kernels load back and are indexed; tuned schedules round-trip", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  CHECK_FALSE(database.load(std::string(64, 'a')));
  std::vector<StoredKernel> kernels;
  for (int i = 0; i < 5; ++i) kernels.push_back(random_kernel(rng));
  for (const StoredKernel& kernel : kernels) REQUIRE(database.store(kernel));
  for (const StoredKernel& kernel : kernels) {
    const auto loaded = database.load(key_of(kernel));
    REQUIRE(loaded);
    CHECK(loaded->cubin == kernel.cubin);
  }
  CHECK(database.index().size() == kernels.size());
  CHECK(database.index().at(key_of(kernels[2])).at("binary_bytes") == kernels[2].cubin.size());

  const TunedSchedule tuned{"{\"K\":64}", "NVIDIA H100 80GB HBM3", "sm_90a", {{"block_n", 16}}, 0.0123, "2026-11-25T00:00:00Z"};
  REQUIRE(database.store_tuned(tuned));
  CHECK_FALSE(database.tuned(tuned.config, "NVIDIA A100"));
  const auto found = database.tuned(tuned.config, tuned.device);
  REQUIRE(found);
  CHECK(found->schedule == tuned.schedule);
  CHECK(found->latency_ms == tuned.latency_ms);
  CHECK(database.all_tuned().size() == 1);
  // Nothing but the database's own files, and no temporary file left behind.
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    CHECK_FALSE(is_temporary_name(entry.path().filename().string()));
  }
}

TEST_CASE("a corrupt kernel file is reported, removed and not returned", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  const StoredKernel kernel = random_kernel(rng);
  REQUIRE(database.store(kernel));
  const fs::path path = database.kernel_path(key_of(kernel));
  write_bytes(path, read_file(path)->substr(0, fs::file_size(path) / 2));
  CHECK_FALSE(database.load(key_of(kernel)));
  CHECK_FALSE(fs::exists(path));
  REQUIRE(database.store(kernel));
  CHECK(database.load(key_of(kernel)));
}

TEST_CASE("a database that cannot be written degrades to read-only, never throws", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  // A path below a regular file can never be created, whoever runs the test (root included).
  write_bytes(fs::path(dir.path()) / "file", "x");
  KernelDatabase impossible(fs::path(dir.path()) / "file" / "cache");
  CHECK_FALSE(impossible.writable());
  CHECK_FALSE(impossible.store(random_kernel(rng)));
  CHECK_FALSE(impossible.load(std::string(64, 'b')));
  CHECK_FALSE(impossible.store_tuned({"c", "d", "sm_80", {}, 1.0, ""}));

  // A populated database whose files may no longer be changed still serves its kernels.
  const fs::path populated = fs::path(dir.path()) / "populated";
  const StoredKernel kernel = random_kernel(rng);
  REQUIRE(KernelDatabase(populated).store(kernel));
  if (::geteuid() != 0) {
    fs::permissions(populated / "v1", fs::perms::owner_read | fs::perms::owner_exec);
    fs::permissions(populated / "v1" / "kernels", fs::perms::owner_read | fs::perms::owner_exec);
  } else {
    // Root writes anywhere; a lock file that cannot be opened makes the same read-only database.
    fs::remove(populated / "v1" / "lock");
    fs::create_directory(populated / "v1" / "lock");
  }
  KernelDatabase read_only(populated);
  CHECK_FALSE(read_only.writable());
  const auto loaded = read_only.load(key_of(kernel));
  REQUIRE(loaded);
  CHECK(loaded->cubin == kernel.cubin);
  CHECK_FALSE(read_only.store_tuned({"c", "d", "sm_80", {}, 1.0, ""}));
  fs::permissions(populated / "v1", fs::perms::owner_all);
  fs::permissions(populated / "v1" / "kernels", fs::perms::owner_all);
}

TEST_CASE("verify finds corrupt, unindexed and dangling entries, and repair fixes them", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  std::vector<StoredKernel> kernels;
  for (int i = 0; i < 4; ++i) {
    kernels.push_back(random_kernel(rng));
    REQUIRE(database.store(kernels.back()));
  }
  CHECK(verify_database(database, false).clean());
  // Corrupt one, remove one's file (dangling), add one behind the index's back (unindexed).
  std::string corrupted = *read_file(database.kernel_path(key_of(kernels[0])));
  corrupted.back() ^= 1;
  write_bytes(database.kernel_path(key_of(kernels[0])), corrupted);
  fs::remove(database.kernel_path(key_of(kernels[1])));
  const StoredKernel extra = random_kernel(rng);
  write_file_atomically(database.kernel_path(key_of(extra)), encode_kernel_file(extra));

  const VerifyReport report = verify_database(database, false);
  CHECK(report.valid == 3);
  REQUIRE(report.corrupt.size() == 1);
  CHECK(contains(report.corrupt[0].file, key_of(kernels[0])));
  CHECK(report.unindexed == std::vector<std::string>{key_of(extra)});
  CHECK(report.dangling.size() == 2);  // the removed file and the corrupt one
  verify_database(database, true);
  CHECK(verify_database(database, false).clean());
  CHECK(database.index().size() == 3);
}

TEST_CASE("gc removes corrupt kernels, other versions' kernels and stale temporary files", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  const StoredKernel current = random_kernel(rng), other_nvrtc = random_kernel(rng, {"1.0", "12.8", "templates-a"}),
                     other_templates = random_kernel(rng, {"1.0", "13.0", "templates-b"});
  for (const StoredKernel* kernel : {&current, &other_nvrtc, &other_templates}) REQUIRE(database.store(*kernel));
  const fs::path kernels = database.data_dir() / "kernels";
  write_bytes(kernels / ".tmp-1-0-stale.kernel", "half a kernel");
  fs::last_write_time(kernels / ".tmp-1-0-stale.kernel", fs::file_time_type::clock::now() - std::chrono::hours(2));
  write_bytes(kernels / ".tmp-2-0-fresh.kernel", "being written right now");

  const GcReport dry = collect_garbage(database, kCurrent, true);
  CHECK(dry.foreign == 2);
  CHECK(fs::exists(database.kernel_path(key_of(other_nvrtc))));
  const GcReport report = collect_garbage(database, kCurrent, false);
  CHECK(report.kept == 1);
  CHECK(report.foreign == 2);
  CHECK(report.temporary == 1);
  CHECK(report.bytes_freed > 0);
  CHECK(fs::exists(kernels / ".tmp-2-0-fresh.kernel"));
  CHECK_FALSE(fs::exists(database.kernel_path(key_of(other_templates))));
  CHECK(database.index().size() == 1);
  CHECK(database.load(key_of(current)));
}

TEST_CASE("export to a directory or a tar and import elsewhere carries kernels and tuned schedules", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase source(fs::path(dir.path()) / "source");
  std::vector<StoredKernel> kernels;
  for (int i = 0; i < 3; ++i) {
    kernels.push_back(random_kernel(rng));
    REQUIRE(source.store(kernels.back()));
  }
  REQUIRE(source.store_tuned({"cfg", "GPU", "sm_90a", {{"block_n", 8}}, 0.5, ""}));
  for (const std::string name : {"export-dir", "export.tar"}) {
    const fs::path destination = fs::path(dir.path()) / name;
    const TransferReport exported = export_database(source, destination);
    CHECK(exported.copied == 3);
    CHECK(exported.tuned == 1);
    KernelDatabase target(fs::path(dir.path()) / ("target-" + name));
    const TransferReport imported = import_database(target, destination);
    CHECK(imported.copied == 3);
    CHECK(imported.tuned == 1);
    for (const StoredKernel& kernel : kernels) CHECK(target.load(key_of(kernel)));
    CHECK(target.tuned("cfg", "GPU"));
    CHECK(import_database(target, destination).already_present == 3);
  }
  // An exported directory is itself a database.
  CHECK(KernelDatabase(fs::path(dir.path()) / "export-dir").load(key_of(kernels[0])));
}

TEST_CASE("an import rejects kernels that fail their checks", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const StoredKernel good = random_kernel(rng), bad = random_kernel(rng);
  std::string damaged = encode_kernel_file(bad);
  damaged.back() ^= 0x40;
  write_tar(fs::path(dir.path()) / "mixed.tar", {{"v1/kernels/" + key_of(good) + ".kernel", encode_kernel_file(good)},
                                                  {"v1/kernels/" + key_of(bad) + ".kernel", damaged}});
  KernelDatabase target(fs::path(dir.path()) / "target");
  const TransferReport report = import_database(target, fs::path(dir.path()) / "mixed.tar");
  CHECK(report.copied == 1);
  CHECK(report.rejected == 1);
  CHECK_FALSE(target.load(key_of(bad)));
}

TEST_CASE("tar archives round-trip and are readable by the system tar", "[tuning_db][tar]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  std::vector<TarMember> members = {{"empty", ""}, {"a/block", std::string(512, 'x')}};
  for (int i = 0; i < 4; ++i) {
    std::string bytes(std::uniform_int_distribution<size_t>(1, 5000)(rng), '\0');
    for (char& c : bytes) c = char(rng());
    members.push_back({"v1/kernels/k" + std::to_string(i) + ".kernel", bytes});
  }
  const fs::path archive = fs::path(dir.path()) / "a.tar";
  write_tar(archive, members);
  const std::vector<TarMember> read = read_tar(archive);
  REQUIRE(read.size() == members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    CHECK(read[i].name == members[i].name);
    CHECK(read[i].bytes == members[i].bytes);
  }
  if (::access("/usr/bin/tar", X_OK) == 0 || ::access("/bin/tar", X_OK) == 0) {
    const ProcessResult listed = run_process({::access("/usr/bin/tar", X_OK) == 0 ? "/usr/bin/tar" : "/bin/tar", "-tf", archive.string()});
    CHECK(listed.exit_code == 0);
    CHECK(contains(listed.out, "v1/kernels/k3.kernel"));
  }
  std::string truncated = *read_file(archive);
  write_bytes(archive, truncated.substr(0, 700));
  CHECK_THROWS_AS(read_tar(archive), std::runtime_error);
  CHECK_THROWS_AS(write_tar(archive, {{"../escape", "x"}}), std::runtime_error);
}
