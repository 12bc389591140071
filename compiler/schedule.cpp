#include "compiler/schedule.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {
namespace {

using json = nlohmann::json;

[[noreturn]] void reject(const std::string& message) { throw ConfigError("invalid TileSchedule: " + message); }

bool is_power_of_two(int value) { return value > 0 && (value & (value - 1)) == 0; }

int64_t weight_row_bytes(const MatmulConfig& config) { return config.K * info(config.W_dtype).bits / 8; }

// The widest load (up to 16 bytes) that divides a weight row, so every row starts aligned.
int widest_row_load(const MatmulConfig& config) {
  int bytes = 16;
  while (weight_row_bytes(config) % bytes != 0) bytes /= 2;
  return bytes;
}

void validate_simt(const MatmulConfig& config, const TileSchedule& s) {
  if (s.threads % 32 != 0 || s.threads < 32 || s.threads > 1024) {
    reject("threads=" + std::to_string(s.threads) + " must be a multiple of 32 between 32 and 1024");
  }
  if (s.block_m < 1 || s.block_m > 16) reject("block_m=" + std::to_string(s.block_m) + " must be 1..16");
  if (s.block_n < 1 || s.block_n > 1024) reject("block_n=" + std::to_string(s.block_n) + " must be 1..1024");
  if (!is_power_of_two(s.vector_bytes) || s.vector_bytes > 16) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " must be 1, 2, 4, 8 or 16");
  }
  if (weight_row_bytes(config) % s.vector_bytes != 0) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " does not divide a weight row of " +
           std::to_string(weight_row_bytes(config)) + " bytes (K=" + std::to_string(config.K) + ")");
  }
  if (s.vector_bytes * 8 < info(config.W_dtype).bits) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " is narrower than one " +
           std::string(to_string(config.W_dtype)) + " element");
  }
  // The simt family streams K in one pass per warp with no staging: these knobs have one value.
  if (s.block_k != 0) reject("block_k=" + std::to_string(s.block_k) + ": the simt and gemv families take block_k=0");
  if (s.stages != 1) reject("stages=" + std::to_string(s.stages) + ": the simt and gemv families take stages=1");
  if (s.split_k != 1) reject("split_k=" + std::to_string(s.split_k) + ": the simt and gemv families take split_k=1");
  if (s.swizzle != 1) reject("swizzle=" + std::to_string(s.swizzle) + ": the simt and gemv families take swizzle=1");
  if (s.warp_m != 1 || s.warp_n * 32 != s.threads) {
    reject("warp_m=" + std::to_string(s.warp_m) + ", warp_n=" + std::to_string(s.warp_n) +
           ": the simt and gemv families lay their threads/32 warps along N (warp_m=1, warp_n=threads/32)");
  }
}

bool gemv_applies(const MatmulConfig& config) {
  const bool float_activations = config.A_dtype == DType::float16 || config.A_dtype == DType::bfloat16;
  return float_activations && config.accum_dtype != DType::int32;
}

// Codes per gemv load: at most 32 (registers), never straddling a group.
int gemv_codes_per_load(const MatmulConfig& config, int vector_bytes) {
  return vector_bytes * 8 / info(config.W_dtype).bits;
}

int widest_gemv_load(const MatmulConfig& config) {
  const int64_t group = config.group_size > 0 ? config.group_size : config.K;
  int bytes = widest_row_load(config);
  while (bytes > 1 && (gemv_codes_per_load(config, bytes) > 32 || group % gemv_codes_per_load(config, bytes) != 0)) bytes /= 2;
  return bytes;
}

void validate_gemv(const MatmulConfig& config, const TileSchedule& s) {
  if (!gemv_applies(config)) {
    reject("family=gemv needs A_dtype float16 or bfloat16 and float accumulation (got A_dtype=" +
           std::string(to_string(config.A_dtype)) + ", accum_dtype=" + std::string(to_string(config.accum_dtype)) +
           "); use family=simt");
  }
  validate_simt(config, s);  // the same thread layout and knobs
  const int codes = gemv_codes_per_load(config, s.vector_bytes);
  const int64_t group = config.group_size > 0 ? config.group_size : config.K;
  if (codes < 1 || codes > 32 || group % codes != 0) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + " loads " + std::to_string(codes) + " " +
           std::string(to_string(config.W_dtype)) + " codes; gemv takes 1..32 codes per load, dividing the group of " +
           std::to_string(group));
  }
}

// The simt and gemv families read general_compress's layout; configs laid out for tensor cores
// (weight_layout.hpp) run only on the family that reads that layout.
void require_general_layout(const MatmulConfig& config, const TileSchedule& s) {
  if (mma_run_layout(config)) {
    reject("family=" + std::string(to_string(s.family)) +
           " reads the general weight layout, but this config's weights use the mma_runs layout "
           "(tensor-core path); use family=tensor_gemv");
  }
}

void validate_tensor_gemv(const MatmulConfig& config, const TileSchedule& s) {
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout) {
    reject("family=tensor_gemv needs A_dtype float16 or bfloat16 with float accumulation and weights exact in A's "
           "type (or nf4), or A_dtype int8 with integer weights; a group size divisible by 16 (32 for int8 A) and K "
           "divisible into k-blocks; use family=gemv or simt");
  }
  if (s.threads % 32 != 0 || s.threads < 32 || s.threads > 512) {
    reject("threads=" + std::to_string(s.threads) + " must be a multiple of 32 between 32 and 512");
  }
  if (s.block_m != 8 && s.block_m != 16) {
    reject("block_m=" + std::to_string(s.block_m) + ": tensor_gemv takes 8 (one mma per 16 channels) or 16 (two)");
  }
  if (s.block_n % 16 != 0 || s.block_n < 16 || s.block_n > 64) {
    reject("block_n=" + std::to_string(s.block_n) + " must be 16, 32, 48 or 64 (16 output channels per mma tile)");
  }
  if (s.vector_bytes != layout->load_bytes) {
    reject("vector_bytes=" + std::to_string(s.vector_bytes) + ": the mma_runs layout of this config has " +
           std::to_string(layout->load_bytes) + "-byte loads (fixed by the config, so tuning never repacks W)");
  }
  const int block = 4 * layout->codes_per_load(info(config.W_dtype).bits);
  if (s.block_k % block != 0 || s.block_k / block < 1 || s.block_k / block > 8) {
    reject("block_k=" + std::to_string(s.block_k) + " must be 1 to 8 k-blocks of " + std::to_string(block));
  }
  if (s.stages != 1) reject("stages=" + std::to_string(s.stages) + ": tensor_gemv takes stages=1 (loads in flight: block_k)");
  if (s.split_k != 1) reject("split_k=" + std::to_string(s.split_k) + ": tensor_gemv splits K across the warps of a block; split_k=1");
  if (s.swizzle != 1) reject("swizzle=" + std::to_string(s.swizzle) + ": tensor_gemv takes swizzle=1");
  if (s.warp_m != 1 || s.warp_n * 32 != s.threads) {
    reject("warp_m=" + std::to_string(s.warp_m) + ", warp_n=" + std::to_string(s.warp_n) +
           ": tensor_gemv lays its threads/32 warps along K (warp_m=1, warp_n=threads/32)");
  }
}

int read_int(const json& object, const char* field, int fallback) {
  if (!object.contains(field)) return fallback;
  if (!object[field].is_number_integer()) reject(std::string(field) + " must be an integer, got " + object[field].dump());
  return object[field].get<int>();
}

}  // namespace

std::string_view to_string(KernelFamily family) {
  switch (family) {
    case KernelFamily::simt: return "simt";
    case KernelFamily::gemv: return "gemv";
    case KernelFamily::tensor_gemv: return "tensor_gemv";
  }
  return "?";
}

void validate_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch) {
  (void)arch;  // every family so far runs on sm_80 and newer alike
  switch (schedule.family) {
    case KernelFamily::simt:
      require_general_layout(config, schedule);
      validate_simt(config, schedule);
      return;
    case KernelFamily::gemv:
      require_general_layout(config, schedule);
      validate_gemv(config, schedule);
      return;
    case KernelFamily::tensor_gemv: validate_tensor_gemv(config, schedule); return;
  }
  reject("unknown family");
}

json to_json(const TileSchedule& s) {
  return json{{"family", to_string(s.family)}, {"threads", s.threads},   {"block_m", s.block_m},
              {"block_n", s.block_n},          {"block_k", s.block_k},   {"warp_m", s.warp_m},
              {"warp_n", s.warp_n},            {"stages", s.stages},     {"split_k", s.split_k},
              {"swizzle", s.swizzle},          {"vector_bytes", s.vector_bytes}};
}

TileSchedule schedule_from_json(const json& object) {
  if (!object.is_object()) reject("a schedule must be a JSON object, got " + object.dump());
  TileSchedule s;
  if (object.contains("family")) {
    const json& family = object["family"];
    const std::string name = family.is_string() ? family.get<std::string>() : "";
    if (name == to_string(KernelFamily::simt)) s.family = KernelFamily::simt;
    else if (name == to_string(KernelFamily::gemv)) s.family = KernelFamily::gemv;
    else if (name == to_string(KernelFamily::tensor_gemv)) s.family = KernelFamily::tensor_gemv;
    else reject("family=" + family.dump() + " is not supported; allowed: simt, gemv, tensor_gemv");
  }
  for (const auto& [key, value] : object.items()) {
    static const char* kFields[] = {"family", "threads", "block_m", "block_n", "block_k", "warp_m",
                                    "warp_n", "stages", "split_k", "swizzle", "vector_bytes"};
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      reject("unknown field '" + key + "'");
    }
  }
  s.threads = read_int(object, "threads", s.threads);
  s.block_m = read_int(object, "block_m", s.block_m);
  s.block_n = read_int(object, "block_n", s.block_n);
  s.block_k = read_int(object, "block_k", s.block_k);
  s.warp_m = read_int(object, "warp_m", s.warp_m);
  s.warp_n = read_int(object, "warp_n", s.warp_n);
  s.stages = read_int(object, "stages", s.stages);
  s.split_k = read_int(object, "split_k", s.split_k);
  s.swizzle = read_int(object, "swizzle", s.swizzle);
  s.vector_bytes = read_int(object, "vector_bytes", s.vector_bytes);
  return s;
}

std::string canonical_form(const TileSchedule& schedule) { return to_json(schedule).dump(); }

namespace {

// Up to 8 rows: one 16-channel tile per warp (many blocks, to fill the SMs at small N), two k-blocks
// per round; 9 to 16 rows: two mmas per tile, two tiles per warp, so each activation fragment feeds
// four mmas. Either way four loads per lane per round, and the next round is in flight meanwhile.
TileSchedule default_tensor_gemv(const MatmulConfig& config, const MmaRunLayout& layout) {
  TileSchedule s;
  s.family = KernelFamily::tensor_gemv;
  s.threads = 128;
  s.warp_m = 1;
  s.warp_n = 4;
  s.block_m = config.M.largest() <= 8 ? 8 : 16;
  s.block_n = s.block_m == 8 ? 16 : 32;
  s.vector_bytes = layout.load_bytes;
  const int loads_per_block = 2 * s.block_n / 16;  // two channels per lane per tile
  s.block_k = 4 * layout.codes_per_load(info(config.W_dtype).bits) * std::max(1, 4 / loads_per_block);
  return s;
}

}  // namespace

TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch) {
  if (const std::optional<MmaRunLayout> layout = mma_run_layout(config)) {
    TileSchedule s = default_tensor_gemv(config, *layout);
    validate_schedule(config, s, arch);
    return s;
  }
  TileSchedule s;
  s.family = gemv_applies(config) ? KernelFamily::gemv : KernelFamily::simt;
  s.threads = 128;
  s.warp_m = 1;
  s.warp_n = 4;
  s.block_n = s.family == KernelFamily::gemv ? 4 : 8;  // gemv: one column per warp
  // Rows per block trade weight re-reads (M / block_m passes over W) against registers.
  const int row_limit = s.family == KernelFamily::gemv ? 16 : 8;
  s.block_m = int(std::min<int64_t>(config.M.largest(), row_limit));
  s.vector_bytes = s.family == KernelFamily::gemv ? widest_gemv_load(config) : widest_row_load(config);
  validate_schedule(config, s, arch);
  return s;
}

}  // namespace bitjit
