// The kernel database on its own: file format checks, store / load, tuned schedules, verify, gc,
// export / import and tar archives. Kernels here are random bytes: no compiler involved.
#include <sys/stat.h>
#include <unistd.h>


#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <atomic>
#include <thread>

#include "common/error.hpp"
#include "common/sha256.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/tar_fixture.hpp"
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
// The kernel files' own checks only (the CLI adds the key recomputed from the metadata).
const ImportChecks kNoExtraChecks{};

// The 64-byte ELF header of a cubin for sm_<sm> as NVRTC 13 writes it (ELF ABI version 8: the SM
// number in bits 8..15 of e_flags), then random bytes: decoding checks only the header.
std::vector<char> fake_cubin(std::mt19937_64& rng, unsigned sm) {
  std::vector<char> cubin(64 + std::uniform_int_distribution<size_t>(0, 3000)(rng));
  for (char& byte : cubin) byte = char(rng());
  const unsigned char ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0x41, 8, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(cubin.data(), ident, sizeof ident);
  cubin[18] = char(190), cubin[19] = 0;  // e_machine EM_CUDA
  const uint32_t flags = 0x06000004u | (sm << 8);
  for (int i = 0; i < 4; ++i) cubin[48 + i] = char(flags >> (8 * i));
  return cubin;
}

StoredKernel random_kernel(std::mt19937_64& rng, const BuildVersions& versions = kCurrent) {
  StoredKernel kernel;
  kernel.cubin = fake_cubin(rng, 80);
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

// `count` random kernels stored in the database, and a tuned schedule for config "cfg".
std::vector<StoredKernel> populate(std::mt19937_64& rng, KernelDatabase& database, int count) {
  std::vector<StoredKernel> kernels;
  for (int i = 0; i < count; ++i) {
    kernels.push_back(random_kernel(rng));
    REQUIRE(database.store(kernels.back()));
  }
  REQUIRE(database.store_tuned({"cfg", "GPU", "sm_90a", {{"block_n", 8}}, 0.5, ""}));
  return kernels;
}

// The system's tar program, or nullptr.
const char* system_tar() {
  return ::access("/usr/bin/tar", X_OK) == 0 ? "/usr/bin/tar" : ::access("/bin/tar", X_OK) == 0 ? "/bin/tar" : nullptr;
}

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
  CHECK(contains(problem("BITJIT-KERNEL 4 " + bytes.substr(16), key), "not a bitjit kernel file"));
  CHECK(contains(problem("BITJIT-KERNEL 1\n" + bytes.substr(81), key), "kernel file format 1"));
  CHECK(is_older_kernel_format("BITJIT-KERNEL 1\n" + bytes.substr(81)));
  // Format 2: this layout with the flat schedule JSON of before TileSchedule's groups.
  CHECK(contains(problem("BITJIT-KERNEL 2 " + bytes.substr(16), key), "kernel file format 2"));
  CHECK(is_older_kernel_format("BITJIT-KERNEL 2 " + bytes.substr(16)));
  CHECK_FALSE(is_older_kernel_format(bytes));
}

// Format 1 had no checksum over the metadata: a flipped bit in it (here in the arch or the key) went
// unnoticed. Any bit of the metadata line flipped is now found by its SHA-256 in the first line.
TEST_CASE("a flipped bit anywhere in the metadata line is found", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  const StoredKernel kernel = random_kernel(rng);
  const std::string bytes = encode_kernel_file(kernel);
  const size_t line_begin = bytes.find('\n') + 1, line_end = bytes.find('\n', line_begin);
  for (int trial = 0; trial < 20; ++trial) {
    std::string flipped = bytes;
    const size_t at = std::uniform_int_distribution<size_t>(line_begin, line_end - 1)(rng);
    flipped[at] ^= char(1 << std::uniform_int_distribution<int>(0, 6)(rng));
    auto decoded = decode_kernel_file(flipped, key_of(kernel));
    REQUIRE(std::holds_alternative<std::string>(decoded));
    CHECK(contains(std::get<std::string>(decoded), "the metadata's SHA-256 does not match"));
  }
  // And through db verify: the file is reported corrupt.
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  REQUIRE(database.store(kernel));
  std::string stored = *read_file(database.kernel_path(key_of(kernel)));
  stored[stored.find("\"arch\":\"sm_80\"") + 12] ^= 0x08;  // sm_80 -> sm_88
  write_bytes(database.kernel_path(key_of(kernel)), stored);
  const VerifyReport report = verify_database(database, false);
  REQUIRE(report.corrupt.size() == 1);
  CHECK(contains(report.corrupt[0].problem, "metadata's SHA-256"));
}

// An import's rejected entries, one "file: problem" line each, for matching in CHECKs.
std::string problem_lines(const TransferReport& report) {
  std::string lines;
  for (const BadEntry& bad : report.problems) lines += bad.file + ": " + bad.problem + "\n";
  return lines;
}

TEST_CASE("a kernel key is 64 lowercase hex digits; no path is built from anything else", "[tuning_db][keys]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path outside = fs::path(dir.path()) / "outside";
  fs::create_directories(outside);
  write_bytes(outside / "victim.kernel", "precious");
  KernelDatabase database(fs::path(dir.path()) / "cache");
  REQUIRE(database.store(random_kernel(rng)));
  const std::string key = sha256_hex(std::to_string(rng()));
  CHECK(is_kernel_key(key));
  for (const std::string& bad : {(outside / "victim").string(), std::string("../../outside/victim"), std::string(key.substr(1)),
                                 key + "0", std::string(63, 'a') + "A", std::string(63, 'a') + "g", std::string()}) {
    INFO(bad);
    CHECK_FALSE(is_kernel_key(bad));
    CHECK_THROWS_AS(database.kernel_path(bad), ConfigError);
    CHECK_THROWS_AS(database.load(bad), ConfigError);
    CHECK(contains(error_of([&] { database.load(bad); }), "is not a kernel key"));
  }
  CHECK(read_file(outside / "victim.kernel") == "precious");
  // A kernel whose metadata names a key that is not one is never stored.
  StoredKernel forged = random_kernel(rng);
  forged.meta["key"] = (outside / "pwned").string();
  CHECK_THROWS_AS(database.store(forged), ConfigError);
  CHECK_FALSE(fs::exists(outside / "pwned.kernel"));
}

TEST_CASE("the cubin's ELF header must name the arch of the metadata", "[tuning_db][elf]") {
  // NVRTC on the CPU: a tiny kernel for each arch; its header is what a real cubin says.
  const std::string source = "extern \"C\" __global__ void k(int* x) { x[0] = 1; }\n";
  for (const std::string arch : {"sm_80", "sm_86", "sm_89", "sm_90a"}) {
    INFO(arch);
    const CompiledKernel compiled = compile_cuda({source, "elf_check.cu", arch});
    const std::string_view cubin(compiled.cubin.data(), compiled.cubin.size());
    CHECK(cubin_arch_problem(cubin, arch) == std::nullopt);
    const std::string other = arch == "sm_80" ? "sm_90a" : "sm_80";
    const auto wrong = cubin_arch_problem(cubin, other);
    REQUIRE(wrong);
    CHECK(contains(*wrong, "ELF header says sm_" + arch.substr(3, 2) + ", the metadata says " + other));
  }
  BITJIT_RANDOM_ENGINE(rng);
  std::string random(std::uniform_int_distribution<size_t>(0, 500)(rng), '\0');
  for (char& c : random) c = char(rng());
  CHECK(contains(cubin_arch_problem(random, "sm_80").value_or(""), "not an ELF file"));
  std::vector<char> x86 = fake_cubin(rng, 80);
  x86[18] = 62;  // EM_X86_64
  CHECK(contains(cubin_arch_problem({x86.data(), x86.size()}, "sm_80").value_or(""), "machine 62, not for CUDA"));
  // Before ELF ABI version 8 (CUDA 12), the SM number was e_flags' low byte.
  std::vector<char> older = fake_cubin(rng, 80);
  older[8] = 7;
  older[48] = char(90), older[49] = 0;
  CHECK(cubin_arch_problem({older.data(), older.size()}, "sm_90a") == std::nullopt);
  CHECK(contains(cubin_arch_problem({older.data(), older.size()}, "not-an-arch").value_or(""), "is not sm_<number>"));
  // Decoding applies it: a sm_80 binary filed under sm_90a metadata is refused.
  StoredKernel kernel = random_kernel(rng);
  kernel.meta["arch"] = "sm_90a";
  auto decoded = decode_kernel_file(encode_kernel_file(kernel), key_of(kernel));
  REQUIRE(std::holds_alternative<std::string>(decoded));
  CHECK(contains(std::get<std::string>(decoded), "ELF header says sm_80, the metadata says sm_90a"));
}

namespace {

fs::path journal_of(const KernelDatabase& database) { return database.data_dir() / "index-journal.jsonl"; }

size_t lines_of(const fs::path& path) {
  std::ifstream in(path);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) lines += !line.empty();
  return lines;
}

// index.json's own entries, the journal not read.
size_t index_file_kernels(const KernelDatabase& database) {
  std::ifstream in(database.data_dir() / "index.json");
  if (!in) return 0;
  return nlohmann::json::parse(in).at("kernels").size();
}

}  // namespace

// A store appends its index entry to the journal rather than rewriting index.json (which cost each
// store a parse and write of the whole index: ~0.8 s at 21,000 kernels); past 1 MiB of journal the
// next store folds it into index.json. The index lists every kernel either way, in any process.
TEST_CASE("stores append the index to a journal, folded into index.json past 1 MiB", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  std::vector<StoredKernel> kernels = populate(rng, database, 5);
  CHECK(lines_of(journal_of(database)) == 5);
  CHECK(index_file_kernels(database) == 0);
  CHECK(database.index().size() == 5);
  CHECK(database.index().at(key_of(kernels[3])).at("binary_bytes") == kernels[3].cubin.size());
  // Entries of other kernels up to 1 MiB of journal, as other processes' stores would leave them.
  nlohmann::json entry = index_entry(kernels[0]);
  size_t appended = 0;
  while (fs::file_size(journal_of(database)) <= (size_t(1) << 20)) {
    entry["key"] = sha256_hex("entry " + std::to_string(appended++));
    append_to_file(journal_of(database), entry.dump() + "\n");
  }
  kernels.push_back(random_kernel(rng));
  REQUIRE(database.store(kernels.back()));  // folds
  CHECK_FALSE(fs::exists(journal_of(database)));
  const size_t total = 5 + appended + 1;
  CHECK(index_file_kernels(database) == total);
  KernelDatabase other(dir.path());
  const auto index = other.index();
  CHECK(index.size() == total);
  for (const StoredKernel& kernel : kernels) CHECK(index.count(key_of(kernel)) == 1);
  kernels.push_back(random_kernel(rng));
  REQUIRE(other.store(kernels.back()));
  CHECK(lines_of(journal_of(database)) == 1);
  CHECK(database.index().size() == total + 1);
}

// A journal line cut short (a writer killed midway), or one that is not an index entry, is ignored
// and the others listed; rewriting the index (gc, verify --repair) folds the journal in.
TEST_CASE("a journal line cut short or not an entry is ignored; rewriting the index folds the journal", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  const std::vector<StoredKernel> kernels = populate(rng, database, 3);
  const std::string torn = index_entry(random_kernel(rng)).dump();
  append_to_file(journal_of(database), "[1, 2]\n{\"key\": \"../x\"}\n\n" + torn.substr(0, torn.size() / 2));
  const auto index = database.index();
  CHECK(index.size() == 3);
  for (const StoredKernel& kernel : kernels) CHECK(index.count(key_of(kernel)) == 1);
  REQUIRE(database.edit_index([](std::map<std::string, nlohmann::json>&) {}));
  CHECK_FALSE(fs::exists(journal_of(database)));
  CHECK(index_file_kernels(database) == 3);
  const VerifyReport report = verify_database(database, false);
  CHECK(report.unindexed.empty());
  CHECK(report.dangling.empty());
}

// Something other than a regular file at the journal's path (planted, or left by a tool): a FIFO
// fails the store without blocking on it, a symbolic link is never written through; either way the
// database turns read-only with a warning and the index still lists what index.json holds.
TEST_CASE("a FIFO or a symbolic link at the journal's path is never written through, never blocks", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (const bool fifo : {true, false}) {
    INFO((fifo ? "FIFO" : "symbolic link"));
    TemporaryDirectory dir;
    KernelDatabase database(fs::path(dir.path()) / "db");
    const StoredKernel first = random_kernel(rng);
    REQUIRE(database.store(first));
    REQUIRE(database.edit_index([](std::map<std::string, nlohmann::json>&) {}));  // into index.json
    const fs::path outside = fs::path(dir.path()) / "outside.txt";
    write_bytes(outside, "untouched");
    if (fifo) REQUIRE(::mkfifo(journal_of(database).c_str(), 0644) == 0);
    else fs::create_symlink(outside, journal_of(database));
    KernelDatabase fresh(fs::path(dir.path()) / "db");  // not yet turned read-only by an earlier failure
    CHECK_FALSE(fresh.store(random_kernel(rng)));
    CHECK(*read_file(outside) == "untouched");
    const auto index = fresh.index();
    CHECK(index.size() == 1);
    CHECK(index.count(key_of(first)) == 1);
  }
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
  // A kernel file of format 2 (the flat schedule JSON of before TileSchedule's groups): never loaded.
  const StoredKernel format_2 = random_kernel(rng);
  write_bytes(database.kernel_path(key_of(format_2)), "BITJIT-KERNEL 2 " + encode_kernel_file(format_2).substr(16));
  CHECK_FALSE(database.load(key_of(format_2)));
  write_bytes(database.kernel_path(key_of(format_2)), "BITJIT-KERNEL 2 " + encode_kernel_file(format_2).substr(16));
  const fs::path kernels = database.data_dir() / "kernels";
  write_bytes(kernels / ".tmp-1-0-stale.kernel", "half a kernel");
  fs::last_write_time(kernels / ".tmp-1-0-stale.kernel", fs::file_time_type::clock::now() - std::chrono::hours(2));
  write_bytes(kernels / ".tmp-2-0-fresh.kernel", "being written right now");

  const GcReport dry = collect_garbage(database, kCurrent, true);
  CHECK(dry.foreign == 3);
  CHECK(fs::exists(database.kernel_path(key_of(other_nvrtc))));
  const GcReport report = collect_garbage(database, kCurrent, false);
  CHECK(report.kept == 1);
  CHECK(report.foreign == 3);
  CHECK_FALSE(fs::exists(database.kernel_path(key_of(format_2))));
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
  const std::vector<StoredKernel> kernels = populate(rng, source, 3);
  REQUIRE(source.store_tuned({"cfg2", "GPU", "sm_90a", {{"block_n", 8}}, 0.5, ""}));
  fs::create_directories(fs::path(dir.path()) / "export-dir");
  for (const std::string name : {"export-dir", "export.tar"}) {
    const fs::path destination = fs::path(dir.path()) / name;
    const TransferReport exported = export_database(source, destination, false);
    CHECK(exported.copied == 3);
    CHECK(exported.tuned == 2);
    KernelDatabase target(fs::path(dir.path()) / ("target-" + name));
    const TransferReport imported = import_database(target, destination, kNoExtraChecks);
    CHECK(imported.copied == 3);
    CHECK(imported.tuned == 2);
    for (const StoredKernel& kernel : kernels) CHECK(target.load(key_of(kernel)));
    CHECK(target.tuned("cfg", "GPU"));
    CHECK(import_database(target, destination, kNoExtraChecks).already_present == 3);
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
  const TransferReport report = import_database(target, fs::path(dir.path()) / "mixed.tar", kNoExtraChecks);
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
  if (const char* tar = system_tar()) {
    const ProcessResult listed = run_process({tar, "-tf", archive.string()});
    CHECK(listed.exit_code == 0);
    CHECK(contains(listed.out, "v1/kernels/k3.kernel"));
  }
  std::string truncated = *read_file(archive);
  write_bytes(archive, truncated.substr(0, 700));
  CHECK_THROWS_AS(read_tar(archive), std::runtime_error);
  CHECK_THROWS_AS(write_tar(archive, {{"../escape", "x"}}), std::runtime_error);
}


TEST_CASE("an archive member outside the cache directory is never written: exit-2 error naming it", "[tuning_db][tar][keys]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path outside = fs::path(dir.path()) / "x", archive = fs::path(dir.path()) / "evil.tar";
  fs::create_directories(outside);
  StoredKernel kernel = random_kernel(rng);
  const std::string pwned = (outside / "pwned").string();  // an absolute path as the "key"
  kernel.meta["key"] = pwned;
  KernelDatabase target(fs::path(dir.path()) / "cache");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"v1/kernels/" + pwned + ".kernel", "empty component"},  // "v1/kernels//tmp/.../x/pwned.kernel"
      {"v1/kernels/../../x/pwned.kernel", "'..' component"},
      {"/v1/kernels/" + key_of(random_kernel(rng)) + ".kernel", "is absolute"},
      {"v1/kernels/nothex.kernel", "is not named by a kernel key"},
      {"v1//kernels/a.kernel", "empty component"}};
  for (const auto& [name, problem] : cases) {
    INFO(name);
    write_bytes(archive, archive_with_member(fs::path(dir.path()) / "scratch.tar", name, encode_kernel_file(kernel)));
    const std::string message = error_of([&] { import_database(target, archive, kNoExtraChecks); });
    CHECK(contains(message, problem));
    CHECK(contains(message, archive.string()));
  }
  CHECK(fs::is_empty(outside));
  CHECK_FALSE(fs::exists(outside / "pwned.kernel"));
}

TEST_CASE("a GNU tar of a cache directory (members ./v1/...) imports its kernels", "[tuning_db][tar]") {
  const char* tar = system_tar();
  if (!tar) BITJIT_SKIP("no system tar");
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase source(fs::path(dir.path()) / "source");
  const std::vector<StoredKernel> kernels = populate(rng, source, 3);
  const fs::path archive = fs::path(dir.path()) / "gnu.tar";
  REQUIRE(run_process({tar, "-C", source.root().string(), "-cf", archive.string(), "."}).exit_code == 0);
  KernelDatabase target(fs::path(dir.path()) / "target");
  const TransferReport report = import_database(target, archive, kNoExtraChecks);
  CHECK(report.copied == 3);
  CHECK(report.rejected == 0);
  CHECK(report.tuned == 1);
  CHECK(report.ignored.empty());  // ./, ./v1/, v1/lock and v1/index.json are the layout's own
  for (const StoredKernel& kernel : kernels) CHECK(target.load(key_of(kernel)));
}

TEST_CASE("the tar reader bounds what a header claims and checks every field", "[tuning_db][tar]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path archive = fs::path(dir.path()) / "a.tar";
  write_tar(archive, {{"v1/x", std::string(1000, 'x')}});
  const std::string good = *read_file(archive);
  auto with_size = [&](const char* octal) {
    std::string bytes = good;
    std::memcpy(bytes.data() + 124, octal, 12);
    fix_first_checksum(bytes);
    return bytes;
  };
  // A size beyond the file (77777777777 octal = 8 GiB) is never trusted, nor a malformed one.
  write_bytes(archive, with_size("77777777777"));
  CHECK(contains(error_of([&] { list_tar(archive); }), "runs past the end of the file"));
  write_bytes(archive, with_size("12x4\0\0\0\0\0\0\0"));
  CHECK(contains(error_of([&] { list_tar(archive); }), "bad size field"));
  // Any flipped header byte fails the checksum.
  std::string damaged = good;
  damaged[std::uniform_int_distribution<size_t>(0, 147)(rng)] ^= 0x20;
  write_bytes(archive, damaged);
  CHECK(contains(error_of([&] { list_tar(archive); }), "checksum"));
  // A symbolic link member is refused, not followed.
  std::string linked = good;
  linked[156] = '2';
  fix_first_checksum(linked);
  write_bytes(archive, linked);
  CHECK(contains(error_of([&] { list_tar(archive); }), "regular files only"));
  // Not an archive at all: a FIFO is refused without blocking.
  const fs::path fifo = fs::path(dir.path()) / "fifo.tar";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(contains(error_of([&] { list_tar(fifo); }), "not a regular file"));
}

TEST_CASE("importing a directory reads only the database's layout: regular files, no symlinks, bounded", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase target(fs::path(dir.path()) / "target");
  // `bitjit db import /` once read /proc/kmsg and hung: / holds no v1/kernels, so nothing is read.
  CHECK(contains(error_of([&] { import_database(target, "/", kNoExtraChecks); }), "holds no kernel database"));
  CHECK(contains(error_of([&] { import_database(target, fs::path(dir.path()) / "none", kNoExtraChecks); }), "does not exist"));

  const fs::path source = fs::path(dir.path()) / "source";
  KernelDatabase exported(source);
  const StoredKernel good = random_kernel(rng);
  REQUIRE(exported.store(good));
  const fs::path kernels = source / "v1" / "kernels";
  // A FIFO and a symbolic link (to a valid kernel file outside the tree) under kernel names.
  const StoredKernel outside_kernel = random_kernel(rng);
  write_bytes(fs::path(dir.path()) / "outside.kernel", encode_kernel_file(outside_kernel));
  fs::create_symlink(fs::path(dir.path()) / "outside.kernel", kernels / (key_of(outside_kernel) + ".kernel"));
  const std::string fifo_key = key_of(random_kernel(rng));
  REQUIRE(::mkfifo((kernels / (fifo_key + ".kernel")).c_str(), 0644) == 0);
  write_bytes(source / "README", "not read");
  const TransferReport report = import_database(target, source, kNoExtraChecks);
  CHECK(report.copied == 1);
  CHECK(report.rejected == 2);
  const std::string problems = problem_lines(report);
  CHECK(contains(problems, "is a symbolic link; not followed"));
  CHECK(contains(problems, fifo_key + ".kernel: is not a regular file"));
  CHECK_FALSE(target.load(key_of(outside_kernel)));
  // A kernel file larger than kMaxFileBytes is refused by its size alone.
  fs::remove(kernels / (fifo_key + ".kernel"));
  fs::resize_file(kernels / (key_of(good) + ".kernel"), kMaxFileBytes + 1);
  const TransferReport large = import_database(target, source, kNoExtraChecks);
  CHECK(large.rejected == 2);
}

TEST_CASE("imported tuned entries are validated; a bad tuned.json is rejected, not a crash", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path source = fs::path(dir.path()) / "source";
  fs::create_directories(source / "v1" / "kernels");
  nlohmann::json tuned = {{"format", kDatabaseFileFormat}, {"tuned", nlohmann::json::object()}};
  const auto add = [&](const std::string& config, double latency, const nlohmann::json& entry_schedule = {{"family", "simt"}}) {
    tuned["tuned"]["GPU|" + config] = {{"config", config}, {"device", "GPU"}, {"arch", "sm_80"}, {"schedule", entry_schedule}, {"latency_ms", latency}};
  };
  add("good", 0.25);
  add("negative", -1.0);
  add("zero", 0.0);
  add("bogus-family", 0.5, {{"family", "bogus"}});
  tuned["tuned"]["GPU|misfiled"] = tuned["tuned"]["GPU|good"];
  write_bytes(source / "v1" / "tuned.json", tuned.dump());
  KernelDatabase target(fs::path(dir.path()) / "target");
  const ImportChecks checks{nullptr, [](const TunedSchedule& entry) -> std::optional<std::string> {
                              if (entry.schedule.at("family").get<std::string>() == "bogus") return "family 'bogus' does not exist";
                              return std::nullopt;
                            }};
  const TransferReport report = import_database(target, source, checks);
  CHECK(report.tuned == 1);
  CHECK(report.rejected == 4);
  const std::string problems = problem_lines(report);
  CHECK(contains(problems, "'GPU|negative': unreadable tuned entry"));
  CHECK(contains(problems, "'GPU|zero': unreadable tuned entry"));
  CHECK(contains(problems, "family 'bogus' does not exist"));
  CHECK(contains(problems, "'GPU|misfiled': filed under another key"));
  CHECK(target.all_tuned().size() == 1);
  // 60 000 levels deep: rejected with the file named, never a stack overflow.
  write_bytes(source / "v1" / "tuned.json", std::string(100000, '[') + std::string(100000, ']'));
  const TransferReport deep = import_database(target, source, checks);
  CHECK(deep.rejected == 1);
  CHECK(contains(deep.problems.at(0).problem, "nested deeper than 64 levels"));
}

// index.json and tuned.json of format 1 hold the flat schedule JSON of before TileSchedule's groups:
// started afresh (the kernels they index are of an older file format too), and an export's tuned.json
// of format 1 is not imported.
TEST_CASE("index.json and tuned.json of format 1 are another version's", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(fs::path(dir.path()) / "db");
  const StoredKernel kernel = random_kernel(rng);
  REQUIRE(database.store(kernel));
  REQUIRE(database.edit_index([](std::map<std::string, nlohmann::json>&) {}));  // its entry in index.json alone
  const nlohmann::json flat = {{"family", "simt"}, {"threads", 128}, {"block_m", 4}};
  const nlohmann::json entry = {
      {"config", "cfg"}, {"device", "GPU"}, {"arch", "sm_80"}, {"schedule", flat}, {"latency_ms", 0.5}};
  write_bytes(database.data_dir() / "tuned.json", nlohmann::json{{"format", 1}, {"tuned", {{"GPU|cfg", entry}}}}.dump());
  write_bytes(database.data_dir() / "index.json",
              nlohmann::json{{"format", 1}, {"kernels", {{key_of(kernel), {{"arch", "sm_80"}}}}}}.dump());
  CHECK_FALSE(database.tuned("cfg", "GPU"));
  CHECK(database.all_tuned().empty());
  CHECK(database.index().empty());
  CHECK(verify_database(database, true).unindexed.size() == 1);  // rebuilt from the kernel file
  CHECK(database.index().size() == 1);
  REQUIRE(database.store_tuned({"cfg2", "GPU", "sm_80", {{"family", "simt"}}, 0.5, ""}));
  CHECK(database.all_tuned().size() == 1);
  CHECK(contains(*read_file(database.data_dir() / "tuned.json"), "\"format\": 2"));

  const fs::path source = fs::path(dir.path()) / "export";
  fs::create_directories(source / "v1" / "kernels");
  write_bytes(source / "v1" / "tuned.json", nlohmann::json{{"format", 1}, {"tuned", {{"GPU|cfg", entry}}}}.dump());
  KernelDatabase target(fs::path(dir.path()) / "target");
  const TransferReport report = import_database(target, source, {});
  CHECK(report.tuned == 0);
  CHECK(report.rejected == 1);
  CHECK(contains(problem_lines(report), "of format 1, not 2 (another version of bitjit's schedules)"));
  CHECK(target.all_tuned().empty());
}

TEST_CASE("a malformed or deeply nested index.json / tuned.json is started afresh, never a crash", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(dir.path());
  const StoredKernel kernel = random_kernel(rng);
  REQUIRE(database.store(kernel));
  REQUIRE(database.edit_index([](std::map<std::string, nlohmann::json>&) {}));  // its entry in index.json alone
  REQUIRE(database.store_tuned({"cfg", "GPU", "sm_90a", {{"block_n", 8}}, 0.5, ""}));
  const std::string deep = "{\"format\": 1, \"kernels\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  for (const std::string& text : {deep, std::string("{\"format\": 1, \"format\": 1}"), std::string("{\"format\": 1, \"kernels\": {\"../../x\": {}}}")}) {
    write_bytes(database.data_dir() / "index.json", text);
    write_bytes(database.data_dir() / "tuned.json", text);
    CHECK(database.index().empty());
    CHECK(database.all_tuned().empty());
    const VerifyReport report = verify_database(database, true);
    CHECK(report.unindexed.size() == 1);
    CHECK(report.unrepaired.empty());
    CHECK(database.index().size() == 1);  // rebuilt from the kernel files
    CHECK(collect_garbage(database, kCurrent, false).kept == 1);
  }
}

TEST_CASE("verify --repair reports what it could not repair, with the path", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path root = fs::path(dir.path()) / "cache";
  const StoredKernel kernel = random_kernel(rng);
  REQUIRE(KernelDatabase(root).store(kernel));
  // A "kernel file" that cannot be removed: a non-empty directory under a kernel's name.
  const fs::path stuck = root / "v1" / "kernels" / (key_of(random_kernel(rng)) + ".kernel");
  fs::create_directories(stuck / "inside");
  KernelDatabase database(root);
  const VerifyReport report = verify_database(database, true);
  REQUIRE(report.corrupt.size() == 1);
  REQUIRE(report.unrepaired.size() == 1);
  CHECK(report.unrepaired[0].file == stuck.string());
  CHECK(contains(report.unrepaired[0].problem, "cannot remove"));
  fs::remove_all(stuck);
  // A database that cannot be written (its lock cannot be taken, even by root): nothing changes.
  std::string corrupted = *read_file(database.kernel_path(key_of(kernel)));
  corrupted.back() ^= 1;
  write_bytes(database.kernel_path(key_of(kernel)), corrupted);
  fs::remove(root / "v1" / "lock");
  fs::create_directory(root / "v1" / "lock");
  KernelDatabase read_only(root);
  const VerifyReport failed = verify_database(read_only, true);
  CHECK(failed.corrupt.size() == 1);
  REQUIRE(failed.unrepaired.size() == 1);
  CHECK(failed.unrepaired[0].file == root.string());
  CHECK(fs::exists(read_only.kernel_path(key_of(kernel))));
  CHECK(collect_garbage(read_only, kCurrent, false).failures.size() == 1);
}

// gc once rebuilt the index from a scan made without the lock: a kernel stored between the scan and
// the rewrite lost its index entry. Now the scan, removals and rewrite hold the database's lock.
TEST_CASE("gc running while kernels are stored never drops an index entry", "[tuning_db][concurrency]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  std::vector<StoredKernel> kernels;
  for (int i = 0; i < 40; ++i) kernels.push_back(random_kernel(rng));
  std::atomic<bool> storing{true};
  std::thread collector([&] {
    KernelDatabase database(dir.path());  // its own lock file descriptor: flock excludes it like another process
    while (storing) collect_garbage(database, kCurrent, false);
  });
  KernelDatabase writer(dir.path());
  for (const StoredKernel& kernel : kernels) REQUIRE(writer.store(kernel));
  storing = false;
  collector.join();
  const auto index = writer.index();
  for (const StoredKernel& kernel : kernels) CHECK(index.count(key_of(kernel)) == 1);
}

TEST_CASE("export refuses to overwrite or to invent a directory", "[tuning_db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  KernelDatabase database(fs::path(dir.path()) / "cache");
  REQUIRE(database.store(random_kernel(rng)));
  const fs::path archive = fs::path(dir.path()) / "kernels.tar", mine = fs::path(dir.path()) / "mine.tar";
  write_bytes(mine, "my own file");
  CHECK(contains(error_of([&] { export_database(database, mine, false); }), "exists; --force replaces it"));
  CHECK(read_file(mine) == "my own file");
  CHECK(export_database(database, mine, true).copied == 1);
  CHECK(list_tar(mine).size() == 3);
  CHECK(export_database(database, archive, false).copied == 1);
  const fs::path named = fs::path(dir.path()) / "kernels";
  CHECK(contains(error_of([&] { export_database(database, named, false); }), "ending in .tar"));
  CHECK_FALSE(fs::exists(named));
  fs::create_directory(named);
  CHECK(export_database(database, named, false).copied == 1);
  CHECK(contains(error_of([&] { export_database(database, named, false); }), "already holds a kernel database"));
}
