// `bitjit prewarm`: compiles every config of a JSON list for the named arches into the kernel
// database, on several threads, with no GPU needed.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/tuning.hpp"
#include "tools/cli.hpp"
#include "tools/config_files.hpp"
#include "tools/progress.hpp"
#include "tuning_db/database.hpp"

namespace bitjit::cli {

const char* const kPrewarmHelp =
    "usage: bitjit prewarm --configs F.json [--arch A ...] [--jobs N] [--cache-dir DIR]\n"
    "\n"
    "Compiles the kernel of every config in F.json (a list of MatmulConfig objects, {\"configs\": [...]},\n"
    "or one object; M may be a list) for each arch into the kernel database, so that Matmul::create\n"
    "later compiles nothing. Kernels already in the database are not compiled again. Needs no GPU.\n"
    "  --configs F.json    the configs\n"
    "  --arch A            the target, e.g. sm_80 or sm_90a (docs/architecture.md lists them); repeat for\n"
    "                      several (default: this machine's GPU)\n"
    "  --jobs N            compile on N threads (default: the number of cores)\n"
    "  --cache-dir DIR     the kernel database (default: BITJIT_CACHE_DIR, else ~/.cache/bitjit)\n"
    "\n"
    "Prints a summary (compiled / already cached / failed); exit 0 when every kernel is in the\n"
    "database, 1 when any failed to compile or the database cannot be written, 2 on bad input.\n";

namespace {

struct Job {
  size_t config_index;
  std::string arch;
  TileSchedule schedule;
};

// What Matmul::create can ask for on arch: the default schedule of each M bucket, and any schedule
// tuned for one of its buckets on a device of that arch (Matmul::create prefers those on that device).
std::vector<TileSchedule> schedules_for(const MatmulConfig& config, const std::string& arch,
                                        const std::vector<db::TunedSchedule>& tuned) {
  std::vector<TileSchedule> schedules = default_bucket_schedules(config, arch);
  std::vector<std::string> keys;
  for (int64_t rows : config.M.values()) keys.push_back(tuned_entry_key(config, rows));
  for (const db::TunedSchedule& entry : tuned) {
    if (std::find(keys.begin(), keys.end(), entry.config) == keys.end() || entry.arch != arch) continue;
    try {
      TileSchedule schedule = schedule_from_json(entry.schedule);
      validate_schedule(config, schedule, arch);
      const bool listed = std::any_of(schedules.begin(), schedules.end(), [&](const TileSchedule& other) {
        return canonical_form(other) == canonical_form(schedule);
      });
      if (!listed) schedules.push_back(schedule);
    } catch (const ConfigError&) {
      // Matmul::create skips an unusable tuned entry (and says so) too.
    }
  }
  return schedules;
}

struct Tally {
  std::atomic<size_t> compiled{0}, cached{0}, failed{0};
  std::atomic<double> compile_ms{0.0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
};

unsigned parse_jobs(const std::optional<std::string>& text) {
  if (!text) return std::max(1u, std::thread::hardware_concurrency());
  try {
    size_t used = 0;
    const int jobs = std::stoi(*text, &used);
    if (used == text->size() && jobs >= 1 && jobs <= 256) return unsigned(jobs);
  } catch (const std::exception&) {
  }
  throw UsageError{"--jobs must be a whole number from 1 to 256, got '" + *text + "'"};
}

void run_job(const Job& job, const std::vector<MatmulConfig>& configs, Tally& tally) {
  const MatmulConfig& config = configs[job.config_index];
  try {
    const GeneratedKernel kernel = generate_kernel(config, job.schedule, job.arch);
    if (kernel.origin == KernelSource::compiled) {
      ++tally.compiled;
      tally.compile_ms = tally.compile_ms + kernel.binary->compile_ms;
    } else {
      ++tally.cached;
    }
  } catch (const std::exception& error) {
    ++tally.failed;
    std::lock_guard lock(tally.failures_mutex);
    tally.failures.push_back("config #" + std::to_string(job.config_index) + " for " + job.arch + ": " + error.what());
  }
}

}  // namespace

int prewarm_command(const std::vector<std::string>& args) {
  Arguments arguments(args, {}, {"--configs", "--jobs", "--cache-dir"}, {"--arch"});
  if (!arguments.positional().empty()) throw UsageError{"unexpected argument " + arguments.positional()[0]};
  use_cache_dir(arguments.option("--cache-dir"));
  const std::string path = arguments.required("--configs");
  const std::vector<MatmulConfig> configs = read_config_list(path);
  const std::vector<std::string> arches = arches_or_current_gpu(arguments.all("--arch"));
  const unsigned threads = parse_jobs(arguments.option("--jobs"));

  db::KernelDatabase& database = db::default_database();
  if (!database.writable()) {
    std::fprintf(stderr, "bitjit prewarm: the kernel database at %s cannot be written\n", database.root().c_str());
    return kExitFailure;
  }
  const std::vector<db::TunedSchedule> tuned = database.all_tuned();
  std::vector<Job> jobs;
  for (size_t i = 0; i < configs.size(); ++i) {
    for (const std::string& arch : arches) {
      for (TileSchedule& schedule : schedules_for(configs[i], arch, tuned)) jobs.push_back({i, arch, std::move(schedule)});
    }
  }
  Tally tally;
  Progress progress("prewarm", jobs.size());
  for_each_index_in_parallel(jobs.size(), threads, [&](size_t i) {
    run_job(jobs[i], configs, tally);
    progress.advance("compiled " + std::to_string(tally.compiled) + ", cached " + std::to_string(tally.cached) +
                     ", failed " + std::to_string(tally.failed));
  });
  progress.finish();

  for (const std::string& failure : tally.failures) std::fprintf(stderr, "failed: %s: %s\n", path.c_str(), failure.c_str());
  const bool saved = database.writable();  // a write that failed midway (e.g. a full disk) turns it off
  std::printf("prewarm %s: %zu kernels (%zu configs, %zu arches, %u threads): %zu compiled, %zu already cached, "
              "%zu failed; mean compile %.0f ms; database %s%s\n",
              path.c_str(), jobs.size(), configs.size(), arches.size(), std::min<unsigned>(threads, unsigned(jobs.size())), tally.compiled.load(),
              tally.cached.load(), tally.failed.load(), tally.compiled ? tally.compile_ms / double(tally.compiled) : 0.0,
              database.root().c_str(), saved ? "" : " (NOT SAVED: the database could not be written)");
  return tally.failed == 0 && saved ? kExitOk : kExitFailure;
}

}  // namespace bitjit::cli
