// `bitjit tune`: hardware_aware_finetune for every config of a JSON list, on this machine's GPU.
#include <cstdio>

#include "common/error.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/matmul.hpp"
#include "tools/cli.hpp"
#include "tools/config_files.hpp"
#include "tools/progress.hpp"
#include "tuning_db/database.hpp"

namespace bitjit::cli {

const char* const kTuneHelp =
    "usage: bitjit tune --configs F.json [--topk N] [--cache-dir DIR]\n"
    "\n"
    "Tunes every config in F.json (a list of MatmulConfig objects, {\"configs\": [...]}, or one object;\n"
    "M may be a list) on this machine's GPU: for each M bucket, the cost model ranks the legal tile\n"
    "schedules, the best N and the current one are compiled in parallel and timed, and the fastest is\n"
    "stored in the kernel database for (config, bucket, GPU). Matmul::create then uses it on this GPU.\n"
    "  --configs F.json    the configs\n"
    "  --topk N            candidates timed per bucket besides the current schedule (default 20)\n"
    "  --cache-dir DIR     the kernel database (default: BITJIT_CACHE_DIR, else ~/.cache/bitjit)\n"
    "\n"
    "Prints one line per bucket (chosen schedule, its time, the time before, seconds spent and how many\n"
    "of them compiling); exit 0 when every config was tuned, 1 without a GPU or on a CUDA / compile\n"
    "error, 2 on bad input.\n";

namespace {

int parse_topk(const std::optional<std::string>& text) {
  if (!text) return 20;
  try {
    size_t used = 0;
    const int value = std::stoi(*text, &used);
    if (used == text->size() && value >= 1 && value <= 1000) return value;
  } catch (const std::exception&) {
  }
  throw UsageError{"--topk " + *text + ": expected a whole number from 1 to 1000"};
}

}  // namespace

int tune_command(const std::vector<std::string>& args) {
  Arguments arguments(args, {}, {"--configs", "--topk", "--cache-dir"});
  if (!arguments.positional().empty()) throw UsageError{"unexpected argument " + arguments.positional()[0]};
  use_cache_dir(arguments.option("--cache-dir"));
  const std::string path = arguments.required("--configs");
  const std::vector<MatmulConfig> configs = read_config_list(path);
  const int topk = parse_topk(arguments.option("--topk"));
  if (!Driver::get().available()) {
    std::fprintf(stderr, "bitjit tune: no GPU (%s); tuning times kernels on the GPU they will run on\n",
                 Driver::get().unavailable_reason().c_str());
    return kExitFailure;
  }
  if (!db::default_database().writable()) {
    std::fprintf(stderr, "bitjit tune: the kernel database at %s cannot be written\n",
                 db::default_database().root().c_str());
    return kExitFailure;
  }
  double total_seconds = 0.0;
  size_t buckets = 0;
  for (size_t i = 0; i < configs.size(); ++i) {
    Matmul matmul = Matmul::create(configs[i]);
    const std::string label = "tune " + std::to_string(i + 1) + "/" + std::to_string(configs.size());
    std::unique_ptr<Progress> progress;
    int64_t current_rows = -1;
    const TuningReport report = matmul.hardware_aware_finetune(topk, [&](int64_t rows, int done, int total) {
      if (rows != current_rows) {  // a new bucket
        if (progress) progress->finish();
        current_rows = rows;
        progress = std::make_unique<Progress>(label + " M=" + std::to_string(rows), size_t(total));
      }
      progress->advance("timed " + std::to_string(done));
    });
    if (progress) progress->finish();
    for (const BucketTuning& bucket : report.buckets) {
      std::printf("%s M=%lld: %.4f ms with %s (was %.4f ms with %s), %d candidates in %.1f s (%.1f s compiling)\n",
                  canonical_form(configs[i]).c_str(), (long long)bucket.rows, bucket.chosen_ms,
                  canonical_form(bucket.chosen).c_str(), bucket.before_ms, canonical_form(bucket.before).c_str(),
                  bucket.candidates_timed, bucket.seconds, bucket.compile_seconds);
    }
    total_seconds += report.seconds;
    buckets += report.buckets.size();
  }
  std::printf("tune %s: %zu configs, %zu buckets on %s in %.1f s; database %s\n", path.c_str(), configs.size(), buckets,
              current_device_info().name.c_str(), total_seconds, db::default_database().root().c_str());
  return kExitOk;
}

}  // namespace bitjit::cli
