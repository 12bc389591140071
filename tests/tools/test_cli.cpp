// The bitjit CLI as a user runs it: output, exit codes, the kernel database across processes.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/sha256.hpp"
#include "compiler/format_matrix.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/matmul.hpp"
#include "runtime/module.hpp"
#include "runtime/nvrtc.hpp"
#include "runtime/tuning.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/tar_fixture.hpp"
#include "tests/support/text.hpp"
#include "tuning_db/database.hpp"
#include "tuning_db/files.hpp"
#include "tuning_db/kernel_file.hpp"

using namespace bitjit;
using namespace bitjit::testing;
namespace fs = std::filesystem;

namespace {

ProcessResult bitjit_cli(std::vector<std::string> args, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  args.insert(args.begin(), BITJIT_CLI_PATH);
  return run_process(args, env);
}

std::string golden_path(const std::string& name) {
  return std::string(BITJIT_SOURCE_DIR) + "/tests/tools/golden/" + name;
}

// Compares with the golden file; BITJIT_UPDATE_GOLDEN=1 rewrites it instead.
void check_golden(const std::string& name, const std::string& text) {
  if (std::getenv("BITJIT_UPDATE_GOLDEN")) {
    std::ofstream(golden_path(name), std::ios::binary) << text;
    return;
  }
  const std::optional<std::string> golden = db::read_file(golden_path(name));
  REQUIRE(golden);
  CHECK(text == *golden);
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A few small configs of different families, some with M lists, chosen at random from the matrix.
std::vector<MatmulConfig> some_configs(std::mt19937_64& rng, size_t count) {
  MatmulConfig shape;
  shape.M = MSpec::buckets({1, 7});
  shape.N = 16;
  shape.K = 64;
  const std::vector<MatmulConfig> matrix = enumerate_format_matrix(shape, {-1, 32});
  std::vector<MatmulConfig> picked;
  for (size_t i = 0; i < count; ++i) {
    MatmulConfig config = matrix[std::uniform_int_distribution<size_t>(0, matrix.size() - 1)(rng)];
    if (i % 2) config.M = MSpec{int64_t(i + 1)};
    picked.push_back(config);
  }
  return picked;
}

// Kernels Matmul::create builds for the configs on the archs: one per distinct bucket schedule.
size_t kernel_count(const std::vector<MatmulConfig>& configs, const std::vector<std::string>& archs) {
  size_t count = 0;
  for (const MatmulConfig& config : configs)
    for (const std::string& arch : archs) count += default_bucket_schedules(config, arch).size();
  return count;
}

fs::path write_configs(const fs::path& dir, const std::vector<MatmulConfig>& configs) {
  nlohmann::json list = nlohmann::json::array();
  for (const MatmulConfig& config : configs) list.push_back(to_json(config));
  const fs::path path = dir / "configs.json";
  write_text(path, list.dump(1));
  return path;
}

}  // namespace

TEST_CASE("bitjit --help and bitjit formats print what the golden files hold", "[cli]") {
  const ProcessResult help = bitjit_cli({"--help"});
  CHECK(help.exit_code == 0);
  check_golden("help.txt", help.out);
  const ProcessResult formats = bitjit_cli({"formats"});
  CHECK(formats.exit_code == 0);
  check_golden("formats.txt", formats.out);
  for (const char* command : {"formats", "codegen", "prewarm", "db"}) {
    const ProcessResult sub = bitjit_cli({command, "--help"});
    CHECK(sub.exit_code == 0);
    CHECK(contains(sub.out, std::string("usage: bitjit ") + command));
  }
}

TEST_CASE("bitjit formats --json lists the 16 formats of the dtype table", "[cli]") {
  const ProcessResult result = bitjit_cli({"formats", "--json"});
  REQUIRE(result.exit_code == 0);
  const nlohmann::json json = nlohmann::json::parse(result.out);
  CHECK(json.size() == 16);
}

TEST_CASE("usage errors and invalid input exit 2 and name the file, entry and field", "[cli]") {
  TemporaryDirectory dir;
  const fs::path bad_json = fs::path(dir.path()) / "bad.json", bad_field = fs::path(dir.path()) / "field.json";
  write_text(bad_json, "[{\"N\": 8,");
  write_text(bad_field, R"([{"M": 1, "N": 8, "K": 64, "W_dtype": "uint4"}, {"M": 1, "N": 8, "K": 64, "W_dtype": "int5"}])");
  const ProcessResult unknown = bitjit_cli({"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.err, "unknown command 'frobnicate'"));
  const ProcessResult no_config = bitjit_cli({"codegen", "--arch", "sm_80"});
  CHECK(no_config.exit_code == 2);
  CHECK(contains(no_config.err, "--config is required"));
  const ProcessResult json = bitjit_cli({"prewarm", "--configs", bad_json.string(), "--arch", "sm_80"});
  CHECK(json.exit_code == 2);
  CHECK(contains(json.err, bad_json.string() + ": not valid JSON"));
  const ProcessResult field = bitjit_cli({"prewarm", "--configs", bad_field.string(), "--arch", "sm_80"});
  CHECK(field.exit_code == 2);
  CHECK(contains(field.err, "config #1"));
  CHECK(contains(field.err, "W_dtype"));
  CHECK(contains(field.err, "int5"));
  const fs::path good = fs::path(dir.path()) / "good.json";
  write_text(good, R"({"M": 1, "N": 8, "K": 64, "W_dtype": "uint4", "accum_dtype": "float32"})");
  const ProcessResult arch = bitjit_cli({"prewarm", "--configs", good.string(), "--arch", "sm_75"});
  CHECK(arch.exit_code == 2);
  CHECK(contains(arch.err, "sm_75"));
  const ProcessResult jobs = bitjit_cli({"prewarm", "--configs", bad_field.string(), "--arch", "sm_80", "--jobs", "0"});
  CHECK(jobs.exit_code == 2);
  CHECK(contains(jobs.err, "--jobs"));
  CHECK(bitjit_cli({"db"}).exit_code == 2);
  CHECK(bitjit_cli({"db", "ls", "--repair"}).exit_code == 2);
  CHECK(bitjit_cli({"db", "show"}).exit_code == 2);
}

TEST_CASE("codegen writes the generated source, and BITJIT_LOG_LEVEL=debug shows the compile", "[cli]") {
  TemporaryDirectory dir;
  const fs::path config = fs::path(dir.path()) / "config.json", source = fs::path(dir.path()) / "out.cu";
  write_text(config, R"({"M": 1, "N": 16, "K": 64, "W_dtype": "int4", "with_scaling": true, "group_size": 32})");
  const ProcessResult result = bitjit_cli({"codegen", "--config", config.string(), "--arch", "sm_86", "-o", source.string(),
                                           "--compile", "--cache-dir", dir.str() + "/cache"},
                                          {{"BITJIT_LOG_LEVEL", "debug"}});
  CHECK(result.exit_code == 0);
  CHECK(contains(*db::read_file(source), "extern \"C\" __global__"));
  CHECK(contains(result.err, "[bitjit debug] NVRTC compiled"));
  CHECK(contains(result.err, "compiled bitjit_"));
  const ProcessResult bogus = bitjit_cli({"codegen", "--config", config.string(), "--arch", "sm_86"},
                                         {{"BITJIT_LOG_LEVEL", "loud"}});
  CHECK(bogus.exit_code == 0);
  CHECK(contains(bogus.err, "BITJIT_LOG_LEVEL='loud' is not one of"));
}

TEST_CASE("after bitjit prewarm, Matmul::create in another process compiles nothing", "[cli][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const std::vector<MatmulConfig> configs = some_configs(rng, 4);
  const fs::path list = write_configs(dir.path(), configs);
  const std::string cache = dir.str() + "/cache";
  const ProcessResult first = bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_80", "--arch", "sm_90a",
                                          "--jobs", "2", "--cache-dir", cache});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const std::string kernels = std::to_string(kernel_count(configs, {"sm_80", "sm_90a"}));
  CHECK(contains(first.out, kernels + " kernels"));
  CHECK(contains(first.out, "failed; mean compile"));
  CHECK(contains(first.err, "prewarm: " + kernels + "/" + kernels));

  ScopedEnv use_cache("BITJIT_CACHE_DIR", cache);
  forget_process_kernels();
  const uint64_t compiles_before = nvrtc_compile_count();
  for (const MatmulConfig& config : configs) {
    for (const char* arch : {"sm_80", "sm_90a"}) {
      const Matmul matmul = Matmul::create(config, {arch});
      CHECK(matmul.arch() == arch);
    }
  }
  CHECK(nvrtc_compile_count() == compiles_before);

  const ProcessResult again = bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_80", "--arch", "sm_90a",
                                          "--cache-dir", cache});
  CHECK(again.exit_code == 0);
  CHECK(contains(again.out, "0 compiled, " + kernels + " already cached, 0 failed"));
}

TEST_CASE("8 processes prewarming one directory at once leave a valid database", "[cli][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  // One config with two M buckets: each process compiles all its kernels (they start together), so
  // every config more costs 8 compiles per bucket and arch; the race on the index is the same.
  const std::vector<MatmulConfig> configs = some_configs(rng, 1);
  const fs::path list = write_configs(dir.path(), configs);
  const std::string cache = dir.str() + "/cache";
  // A cubin runs only on its own arch: with a GPU, the second arch is the GPU's, so its kernels load.
  const bool gpu = Driver::get().available();
  const std::string gpu_arch = gpu ? current_device_info().arch() : "";
  const std::string second_arch = gpu && gpu_arch != "sm_80" ? gpu_arch : "sm_89";
  std::vector<std::vector<std::string>> commands(
      8, {BITJIT_CLI_PATH, "prewarm", "--configs", list.string(), "--arch", "sm_80", "--arch", second_arch, "--jobs", "1",
          "--cache-dir", cache});
  for (const ProcessResult& result : run_processes_at_once(commands)) {
    INFO(result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "0 failed"));
  }
  const ProcessResult verify = bitjit_cli({"db", "verify", "--cache-dir", cache});
  CHECK(verify.exit_code == 0);
  const size_t kernels = kernel_count(configs, {"sm_80", second_arch});
  CHECK(contains(verify.out, std::to_string(kernels) + " valid kernels, 0 corrupt, 0 unindexed, 0 dangling"));
  db::KernelDatabase database(cache);
  const auto index = database.index();
  CHECK(index.size() == kernels);
  for (const auto& [key, entry] : index) {
    const auto kernel = database.load(key);
    REQUIRE(kernel);
    CHECK(kernel->cubin.size() > 1000);
    if (gpu && entry.at("arch").get<std::string>() == gpu_arch) CHECK(Module(kernel->cubin, key).function("bitjit_matmul") != nullptr);
  }
  for (const auto& entry : fs::directory_iterator(database.data_dir() / "kernels")) {
    CHECK_FALSE(db::is_temporary_name(entry.path().filename().string()));
  }
}

TEST_CASE("a corrupted kernel is reported by db verify and rebuilt by the next prewarm", "[cli][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const std::vector<MatmulConfig> configs = some_configs(rng, 2);
  const fs::path list = write_configs(dir.path(), configs);
  const std::string cache = dir.str() + "/cache";
  REQUIRE(bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_80", "--cache-dir", cache}).exit_code == 0);
  db::KernelDatabase database(cache);
  const std::string key = database.index().begin()->first;
  const fs::path path = database.kernel_path(key);
  std::string bytes = *db::read_file(path);
  bytes[bytes.size() / 2 + std::uniform_int_distribution<size_t>(0, bytes.size() / 4)(rng)] ^= 0x01;
  write_text(path, bytes);

  const ProcessResult verify = bitjit_cli({"db", "verify", "--cache-dir", cache});
  CHECK(verify.exit_code == 1);
  CHECK(contains(verify.out, "corrupt: " + path.string()));
  const ProcessResult rebuild = bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_80", "--cache-dir", cache});
  CHECK(rebuild.exit_code == 0);
  CHECK(contains(rebuild.out, "1 compiled, " + std::to_string(kernel_count(configs, {"sm_80"}) - 1) + " already cached"));
  CHECK(contains(rebuild.err, path.string()));
  CHECK(contains(rebuild.err, "rebuilding it"));
  CHECK(bitjit_cli({"db", "verify", "--cache-dir", cache}).exit_code == 0);
}

TEST_CASE("db ls, show, gc, export and import from the command line", "[cli][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const std::vector<MatmulConfig> configs = some_configs(rng, 2);
  const fs::path list = write_configs(dir.path(), configs);
  const size_t count = kernel_count(configs, {"sm_90a"});  // one per distinct bucket schedule
  const std::string kernels = std::to_string(count) + " kernels";
  const std::string cache = dir.str() + "/cache", other = dir.str() + "/other", archive = dir.str() + "/db.tar";
  REQUIRE(bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_90a", "--cache-dir", cache}).exit_code == 0);
  const ProcessResult ls = bitjit_cli({"db", "ls", "--cache-dir", cache});
  CHECK(ls.exit_code == 0);
  CHECK(contains(ls.out, kernels + ", 0 tuned schedules"));
  const nlohmann::json listed = nlohmann::json::parse(bitjit_cli({"db", "ls", "--json", "--cache-dir", cache}).out);
  REQUIRE(listed.at("kernels").size() == count);
  const std::string key = listed.at("kernels").begin().key();
  const ProcessResult show = bitjit_cli({"db", "show", key.substr(0, 12), "--cache-dir", cache});
  CHECK(show.exit_code == 0);
  CHECK(nlohmann::json::parse(show.out).at("key").get<std::string>() == key);
  CHECK(bitjit_cli({"db", "show", "ffffffffffffffff0", "--cache-dir", cache}).exit_code == 1);

  const ProcessResult gc = bitjit_cli({"db", "gc", "--dry-run", "--cache-dir", cache});
  CHECK(gc.exit_code == 0);
  CHECK(contains(gc.out, "kept " + kernels + "; would remove 0 corrupt, 0 from other versions"));
  const ProcessResult exported = bitjit_cli({"db", "export", archive, "--cache-dir", cache});
  CHECK(exported.exit_code == 0);
  CHECK(contains(exported.out, kernels + " copied"));
  const ProcessResult imported = bitjit_cli({"db", "import", archive, "--cache-dir", other});
  CHECK(imported.exit_code == 0);
  CHECK(contains(imported.out, kernels + " copied, 0 already present, 0 rejected"));
  // The imported database serves the kernels: a prewarm there compiles nothing.
  const ProcessResult warm = bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_90a", "--cache-dir", other});
  CHECK(contains(warm.out, "0 compiled, " + std::to_string(count) + " already cached"));
}

TEST_CASE("db gc removes tuned schedules no lookup can use, and lists why", "[cli][db]") {
  TemporaryDirectory dir;
  const std::string cache = dir.str() + "/cache";
  const MatmulConfig config = w4a16_g128_config(MSpec::buckets({16, 256}), 256, 512);
  const std::string device = "NVIDIA H100 80GB HBM3", arch = "sm_90a", when = "2026-11-25T00:00:00Z";
  const TileSchedule outdated = wgmma_128x128_schedule(2);  // a ring tensor_wgmma now rejects
  {
    db::KernelDatabase database(cache);
    const nlohmann::json usable = to_json(default_schedule(config, arch, 256));
    REQUIRE(database.store_tuned({tuned_entry_key(config, 256), device, arch, usable, 0.1, when}));
    REQUIRE(database.store_tuned({canonical_form(config), device, arch, usable, 0.1, when}));  // before per-bucket keys
    REQUIRE(database.store_tuned({canonical_form(config) + " @M=64", device, arch, usable, 0.1, when}));
    REQUIRE(database.store_tuned({tuned_entry_key(config, 16), device, arch, to_json(outdated), 0.1, when}));
  }
  const fs::path tuned_file = fs::path(cache) / "v1" / "tuned.json";
  nlohmann::json tuned = nlohmann::json::parse(*db::read_file(tuned_file));
  tuned["tuned"]["some device|{}"] = {{"config", 1}};  // unreadable
  write_text(tuned_file, tuned.dump());

  const ProcessResult dry = bitjit_cli({"db", "gc", "--dry-run", "--cache-dir", cache});
  CHECK(dry.exit_code == 0);
  CHECK(contains(dry.out, "would remove 0 corrupt, 0 from other versions, 0 stale temporary files, 4 stale tuned schedules"));
  CHECK(contains(dry.out, canonical_form(config) + ": a dynamic-M config is tuned per M bucket"));
  CHECK(contains(dry.out, "@M=64 is not one of the config's M buckets"));
  CHECK(contains(dry.out, tuned_entry_key(config, 16) + ": its schedule is no longer valid: "));
  CHECK(contains(dry.out, "stages=2 must be 3..8"));
  CHECK(contains(dry.out, "some device|{}: unreadable"));
  CHECK(nlohmann::json::parse(*db::read_file(tuned_file))["tuned"].size() == 5);  // a dry run changes nothing

  const ProcessResult gc = bitjit_cli({"db", "gc", "--cache-dir", cache});
  CHECK(gc.exit_code == 0);
  CHECK(contains(gc.out, "removed 0 corrupt, 0 from other versions, 0 stale temporary files, 4 stale tuned schedules"));
  const nlohmann::json kept = nlohmann::json::parse(*db::read_file(tuned_file))["tuned"];
  REQUIRE(kept.size() == 1);
  CHECK(kept.begin().value().at("config").get<std::string>() == tuned_entry_key(config, 256));
  CHECK(contains(bitjit_cli({"db", "gc", "--cache-dir", cache}).out, "0 stale tuned schedules"));
}

TEST_CASE("an unwritable database: prewarm fails clearly, codegen --compile still works", "[cli][db]") {
  TemporaryDirectory dir;
  const fs::path config = fs::path(dir.path()) / "config.json";
  write_text(config, R"({"M": 1, "N": 16, "K": 64, "W_dtype": "uint2", "A_dtype": "bfloat16", "accum_dtype": "float32",
                        "out_dtype": "bfloat16"})");
  write_text(fs::path(dir.path()) / "file", "not a directory");
  const std::string cache = dir.str() + "/file/cache";
  const ProcessResult prewarm = bitjit_cli({"prewarm", "--configs", config.string(), "--arch", "sm_80", "--cache-dir", cache});
  CHECK(prewarm.exit_code == 1);
  CHECK(contains(prewarm.err, "cannot be written"));
  const ProcessResult codegen = bitjit_cli({"codegen", "--config", config.string(), "--arch", "sm_80", "--compile",
                                            "-o", dir.str() + "/k.cu", "--cache-dir", cache});
  CHECK(codegen.exit_code == 0);
  CHECK(contains(codegen.err, "kept in memory for this process only"));
  CHECK(contains(codegen.err, "compiled bitjit_"));
}

// bitjit bench runs bench_matmul and bench/plot.py from BITJIT_BENCH_DIR (default: the build's
// bench/ folder). Stand-ins here check the orchestration without a GPU; the device runs the real one.
TEST_CASE("bitjit bench runs the timing program, then the plot, and reports each failure", "[cli]") {
  TemporaryDirectory dir;
  const fs::path programs = fs::path(dir.path()) / "bench", out = fs::path(dir.path()) / "out";
  fs::create_directories(programs);
  auto write_script = [&](const std::string& name, const std::string& text) {
    write_text(programs / name, text);
    fs::permissions(programs / name, fs::perms::owner_all);
  };
  // The stand-in timing program writes results.json into --out and records its arguments.
  write_script("bench_matmul", "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --out ] && out=$2; echo \"$1 $2\" >>\"" +
                                   (fs::path(dir.path()) / "args.txt").string() +
                                   "\"; shift 2; done\nmkdir -p \"$out\" && echo '{}' >\"$out/results.json\"\n");
  write_script("plot.py", "import sys\nopen(sys.argv[2], 'w').write('png')\n");
  const std::vector<std::pair<std::string, std::string>> env = {{"BITJIT_BENCH_DIR", programs.string()}};

  const ProcessResult ok =
      bitjit_cli({"bench", "--formats", "int4_g128", "--M", "1", "--out", out.string(), "--clocks", "yes", "--dynamic", "yes",
                  "--timing", "graph"}, env);
  CHECK(ok.exit_code == 0);
  CHECK(contains(ok.out, (out / "speedup.png").string()));
  CHECK(fs::exists(out / "speedup.png"));
  CHECK(db::read_file(fs::path(dir.path()) / "args.txt") ==
        "--formats int4_g128\n--M 1\n--out " + out.string() + "\n--clocks yes\n--dynamic yes\n--timing graph\n");

  write_script("plot.py", "import sys\nsys.exit(1)\n");
  const ProcessResult no_plot = bitjit_cli({"bench", "--out", out.string()}, env);
  CHECK(no_plot.exit_code == 1);
  CHECK(contains(no_plot.err, "the plot was not drawn"));

  write_script("bench_matmul", "#!/bin/sh\nexit 3\n");
  const ProcessResult failed = bitjit_cli({"bench"}, env);
  CHECK(failed.exit_code == 1);
  CHECK(contains(failed.err, "exited with status 3"));

  const ProcessResult missing = bitjit_cli({"bench"}, {{"BITJIT_BENCH_DIR", (fs::path(dir.path()) / "none").string()}});
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.err, "does not exist"));
  CHECK(bitjit_cli({"bench", "--iterations", "3"}).exit_code == 2);
  CHECK(bitjit_cli({"bench", "--M"}).exit_code == 2);
}

TEST_CASE("bitjit tune checks its input and needs a GPU", "[cli]") {
  TemporaryDirectory dir;
  const fs::path config = fs::path(dir.path()) / "config.json";
  write_text(config, R"({"M": [1, 64], "N": 256, "K": 512, "W_dtype": "int4", "with_scaling": true, "group_size": 128})");
  const ProcessResult bad_topk = bitjit_cli({"tune", "--configs", config.string(), "--topk", "0"});
  CHECK(bad_topk.exit_code == 2);
  CHECK(contains(bad_topk.err, "--topk 0: expected a whole number from 1 to 1000"));
  CHECK(bitjit_cli({"tune"}).exit_code == 2);
  if (Driver::get().available()) return;  // the GPU run is tests/gpu/test_tuning.cpp
  const ProcessResult no_gpu = bitjit_cli({"tune", "--configs", config.string(), "--cache-dir", dir.str() + "/cache"});
  CHECK(no_gpu.exit_code == 1);
  CHECK(contains(no_gpu.err, "bitjit tune: no GPU"));
}

TEST_CASE("db show and db import never touch a file outside the cache: exit 2 naming the bad key", "[cli][db][keys]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path outside = fs::path(dir.path()) / "x";
  fs::create_directories(outside);
  write_text(outside / "victim.kernel", "precious");
  const std::string cache = dir.str() + "/cache";
  // `db show /tmp/x/victim` once deleted /tmp/x/victim.kernel as "corrupt".
  const ProcessResult show = bitjit_cli({"db", "show", (outside / "victim").string(), "--cache-dir", cache});
  CHECK(show.exit_code == 2);
  CHECK(contains(show.err, "'" + (outside / "victim").string() + "' is not a kernel key or key prefix"));
  CHECK(db::read_file(outside / "victim.kernel") == "precious");
  CHECK(bitjit_cli({"db", "show", "ABCDEF", "--cache-dir", cache}).exit_code == 2);

  // A member "v1/kernels//<dir>/x/pwned.kernel" once wrote <dir>/x/pwned.kernel.
  db::StoredKernel kernel;
  kernel.cubin.assign(100, 'c');
  kernel.meta = {{"key", (outside / "pwned").string()}, {"arch", "sm_80"}};
  const fs::path archive = fs::path(dir.path()) / "evil.tar";
  for (const std::string& name : {"v1/kernels/" + (outside / "pwned").string() + ".kernel", std::string("v1/kernels/PWNED.kernel"),
                                  std::string("./v1/kernels/../../x/pwned.kernel")}) {
    INFO(name);
    write_text(archive, archive_with_member(fs::path(dir.path()) / "scratch.tar", name, db::encode_kernel_file(kernel)));
    const ProcessResult imported = bitjit_cli({"db", "import", archive.string(), "--cache-dir", cache});
    CHECK(imported.exit_code == 2);
    CHECK(contains(imported.err, archive.string()));
    CHECK(contains(imported.err, name.rfind("./", 0) == 0 ? "'..' component" : name == "v1/kernels/PWNED.kernel" ? "'PWNED' is not 64 lowercase hex digits" : "empty component"));
  }
  CHECK_FALSE(fs::exists(outside / "pwned.kernel"));
  CHECK(fs::exists(outside / "victim.kernel"));
}

TEST_CASE("db import recomputes each kernel's key from its metadata and validates tuned schedules", "[cli][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const std::vector<MatmulConfig> configs = some_configs(rng, 1);
  const fs::path list = write_configs(dir.path(), configs);
  const std::string cache = dir.str() + "/cache", other = dir.str() + "/other";
  REQUIRE(bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_80", "--cache-dir", cache}).exit_code == 0);
  db::KernelDatabase database(cache);
  const std::string key = database.index().begin()->first;
  db::StoredKernel kernel = *database.load(key);
  // Filed under another key with consistent checksums: the metadata does not produce that key.
  const std::string refiled = sha256_hex(key + std::to_string(rng()));
  kernel.meta["key"] = refiled;
  db::write_file_atomically(database.kernel_path(refiled), db::encode_kernel_file(kernel));
  fs::remove(database.kernel_path(key));
  // And a tuned schedule of a family that does not exist, one with a negative latency.
  const std::string tuned_config = tuned_entry_key(configs[0], configs[0].M.values()[0]);
  nlohmann::json tuned = {{"format", db::kDatabaseFileFormat}, {"tuned", nlohmann::json::object()}};
  tuned["tuned"]["GPU|" + tuned_config] = {{"config", tuned_config}, {"device", "GPU"}, {"arch", "sm_80"},
                                           {"schedule", {{"family", "bogus"}}}, {"latency_ms", 0.1}};
  tuned["tuned"]["GPU2|" + tuned_config] = {{"config", tuned_config}, {"device", "GPU2"}, {"arch", "sm_80"},
                                            {"schedule", to_json(default_schedule(configs[0], "sm_80", configs[0].M.values()[0]))},
                                            {"latency_ms", -1}};
  write_text(fs::path(cache) / "v1" / "tuned.json", tuned.dump());
  fs::create_directories(other);
  const ProcessResult imported = bitjit_cli({"db", "import", cache, "--cache-dir", other});
  INFO(imported.err);
  CHECK(imported.exit_code == 1);
  CHECK(contains(imported.err, "gives the key " + key + ", not the key it is filed under"));
  CHECK(contains(imported.err, "family=\"bogus\""));
  CHECK(contains(imported.err, "unreadable tuned entry"));
  CHECK(contains(imported.out, "3 rejected, 0 tuned schedules"));
  CHECK_FALSE(db::KernelDatabase(other).load(refiled));
}

TEST_CASE("db verify --repair on a database it cannot write says so and exits 1", "[cli][db]") {
  BITJIT_RANDOM_ENGINE(rng);
  TemporaryDirectory dir;
  const fs::path list = write_configs(dir.path(), some_configs(rng, 1));
  const std::string cache = dir.str() + "/cache";
  REQUIRE(bitjit_cli({"prewarm", "--configs", list.string(), "--arch", "sm_80", "--cache-dir", cache}).exit_code == 0);
  db::KernelDatabase database(cache);
  const fs::path path = database.kernel_path(database.index().begin()->first);
  std::string bytes = *db::read_file(path);
  bytes.back() ^= 1;
  write_text(path, bytes);
  // Unwritable for root too: the lock file cannot be opened.
  fs::remove(fs::path(cache) / "v1" / "lock");
  fs::create_directory(fs::path(cache) / "v1" / "lock");
  const ProcessResult repair = bitjit_cli({"db", "verify", "--repair", "--cache-dir", cache});
  CHECK(repair.exit_code == 1);
  CHECK_FALSE(contains(repair.out, "(repaired)"));
  CHECK(contains(repair.out, "(NOT repaired)"));
  CHECK(contains(repair.err, "could not repair " + cache));
  CHECK(fs::exists(path));
  const ProcessResult gc = bitjit_cli({"db", "gc", "--cache-dir", cache});
  CHECK(gc.exit_code == 1);
  CHECK(fs::exists(path));
}

TEST_CASE("JSON nested 60 000 deep exits 2 in a user's file and is repaired in the database", "[cli][db][json]") {
  TemporaryDirectory dir;
  const fs::path deep = fs::path(dir.path()) / "deep.json", huge = fs::path(dir.path()) / "huge.json";
  write_text(deep, std::string(100000, '[') + std::string(100000, ']'));
  write_text(huge, R"({"M": 1, "N": 9223372036854775808, "K": 64})");
  for (const auto& command : std::vector<std::vector<std::string>>{{"codegen", "--arch", "sm_80", "--config"},
                                                                   {"prewarm", "--arch", "sm_80", "--configs"}}) {
    for (const fs::path& file : {deep, huge}) {
      std::vector<std::string> args = command;
      args.push_back(file.string());
      const ProcessResult result = bitjit_cli(args);
      CHECK(result.exit_code == 2);
      CHECK(contains(result.err, file.string()));
      CHECK(contains(result.err, file == deep ? "nested deeper than 64 levels" : "N=9223372036854775808 must be between 1 and"));
    }
  }
  const std::string cache = dir.str() + "/cache";
  fs::create_directories(fs::path(cache) / "v1" / "kernels");
  write_text(fs::path(cache) / "v1" / "index.json", "{\"format\": 1, \"kernels\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
  write_text(fs::path(cache) / "v1" / "tuned.json", "{\"format\": 1, \"tuned\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
  for (const char* verb : {"ls", "verify", "gc"}) {
    const ProcessResult result = bitjit_cli({"db", verb, "--cache-dir", cache});
    INFO(verb << ": " << result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "starting it afresh"));
  }
}

// The index is untrusted: a dimension above int64's range is printed as written, not as a negative,
// and one that is no integer makes the entry unreadable, not the listing.
TEST_CASE("db ls prints an index entry's dimensions as the index holds them", "[cli][db]") {
  TemporaryDirectory dir;
  const fs::path config = fs::path(dir.path()) / "config.json";
  write_text(config, R"({"M": [1, 16], "N": 16, "K": 64, "W_dtype": "int4", "with_scaling": true, "group_size": 32})");
  const std::string cache = dir.str() + "/cache";
  REQUIRE(bitjit_cli({"codegen", "--arch", "sm_80", "--config", config.string(), "--compile", "--cache-dir", cache,
                      "-o", dir.str() + "/kernel.cu"})
              .exit_code == 0);
  // The store left the entry in the index's journal; a repair folds it into index.json.
  REQUIRE(bitjit_cli({"db", "verify", "--repair", "--cache-dir", cache}).exit_code == 0);
  fs::path index_path;
  for (const auto& entry : fs::recursive_directory_iterator(cache))
    if (entry.path().filename() == "index.json") index_path = entry.path();
  REQUIRE(!index_path.empty());
  nlohmann::json index = nlohmann::json::parse(db::read_file(index_path).value());
  REQUIRE(index.at("kernels").size() == 1);
  nlohmann::json& listed = index.at("kernels").begin().value().at("config");
  CHECK(contains(bitjit_cli({"db", "ls", "--cache-dir", cache}).out, "M=[1,16] N=16 K=64"));
  listed["M"] = 18446744073709551615ULL;
  listed["K"] = 9223372036854775807LL;
  write_text(index_path, index.dump());
  const ProcessResult huge = bitjit_cli({"db", "ls", "--cache-dir", cache});
  CHECK(huge.exit_code == 0);
  CHECK(contains(huge.out, "M=18446744073709551615 N=16 K=9223372036854775807"));
  listed["N"] = "sixteen";
  write_text(index_path, index.dump());
  const ProcessResult text = bitjit_cli({"db", "ls", "--cache-dir", cache});
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "(unreadable index entry; run bitjit db verify --repair)"));
}

TEST_CASE("an output that cannot be written is exit 1 naming it; export does not overwrite", "[cli]") {
  TemporaryDirectory dir;
  const fs::path config = fs::path(dir.path()) / "config.json";
  write_text(config, R"({"M": 1, "N": 16, "K": 64, "W_dtype": "int4", "with_scaling": true, "group_size": 32})");
  if (fs::exists("/dev/full")) {
    const ProcessResult to_full =
        run_process({"/bin/sh", "-c", std::string(BITJIT_CLI_PATH) + " codegen --arch sm_80 --config " + config.string() + " > /dev/full"});
    CHECK(to_full.exit_code == 1);
    CHECK(contains(to_full.err, "cannot write the output to standard output"));
    const ProcessResult file_full = bitjit_cli({"codegen", "--arch", "sm_80", "--config", config.string(), "-o", "/dev/full"});
    CHECK(file_full.exit_code == 1);
    CHECK(contains(file_full.err, "cannot write /dev/full"));
  }
  const std::string cache = dir.str() + "/cache";
  const fs::path mine = fs::path(dir.path()) / "mine.tar";
  write_text(mine, "mine");
  const ProcessResult refused = bitjit_cli({"db", "export", mine.string(), "--cache-dir", cache});
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, mine.string() + " exists; --force replaces it"));
  CHECK(db::read_file(mine) == "mine");
  CHECK(bitjit_cli({"db", "export", mine.string(), "--force", "--cache-dir", cache}).exit_code == 0);
  const ProcessResult no_tar = bitjit_cli({"db", "export", dir.str() + "/kernels", "--cache-dir", cache});
  CHECK(no_tar.exit_code == 2);
  CHECK_FALSE(fs::exists(fs::path(dir.path()) / "kernels"));
}
