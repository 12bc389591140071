#include "compiler/families/select.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "compiler/families/family.hpp"
#include "compiler/families/gemv.hpp"
#include "compiler/families/tensor_gemv.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {
namespace {

// Whether every weight value reaches the tensor core unchanged in A's 16-bit type. Integers up to
// 8 bits, fp4 and both fp8 formats fit fp16 and bf16 alike; a 16-bit float only fits itself. nf4's
// levels are rounded to A's type (documented in docs/formats.md).
bool weights_fit_activation_type(const MatmulConfig& config) {
  const DTypeInfo& w = info(config.W_dtype);
  if (w.bits == 16) return config.W_dtype == config.A_dtype;
  return w.bits <= 8;
}

// Weights the fp8 mma takes with fp8 activations: of the activations' own type, or 4-bit formats
// whose every value e4m3 holds exactly (int4, uint4 and fp4; not nf4's levels). 2- and 1-bit codes
// would need the byte-lane order, which simt cannot read on the archs without the fp8 mma.
bool fp8_mma_takes_weights(const MatmulConfig& config) {
  const DType w = config.W_dtype;
  return w == config.A_dtype || w == DType::int4 || w == DType::uint4 || w == DType::fp4_e2m1;
}

// Whether fp16 / bf16 activations read the weights in runs of 8 k rather than whole loads (each
// lane's 16, 8 or 4 bytes of codes consecutive in k). With more than 8 rows of A (two mma row
// halves), runs of 8 let the four lanes of a row read one 64-byte piece of A per two mma steps: L1
// serves a warp's 16 rows in 16 wavefronts instead of 64 (measured: 70B gate_up M=16 195 -> 135 us).
// Up to 8 rows, 2- and 4-bit codes take runs of 8 at one row and above 4 rows: on them tensor_gemv's
// lanes of rows past M fetch the k-block's other sectors (idle_rows_spread), and the time stops
// growing with the rows (before that spread, whole loads were faster at one row: 70B down 55 against
// 63 us). Measured on the H200, static M, runs of 8 over whole loads
// (bench/results/2026-11-30-h200x2-small-m-runs-of-8): 8 rows int4 0.82-0.90 of the time (70B
// gate_up 109.5 -> 90.7 us), zero points, fp4, nf4, bf16 0.79-0.96, int2 0.65-1.02; 6 rows int2
// 0.74-1.06; one row int4 0.92-1.02, int2 0.90-0.99. Not from 2 to 4 rows, where runs of 8 were
// slower on many shapes (int2 at 2 rows: 70B gate_up 53.2 -> 65.6 us, 70B o 1.10x; int4 at 4 rows:
// 8B gate_up 1.10x), nor nf4 at one row (1.01-1.05x on 6 of 8 shapes), nor 1-bit codes, whose
// dynamic one-row bucket on runs of 8 was mixed against whole loads (70B o 11.8 against 10.7 us,
// 2026-11-30-h200x2-narrow-codes), nor 8-bit codes (not timed). 8-bit activations read whole loads
// at every M (the caller's byte operands).
bool reads_runs_of_8(const MatmulConfig& config) {
  const int64_t rows = config.M.largest();
  if (rows > 8) return true;
  const int bits = info(config.W_dtype).bits;
  if (bits != 2 && bits != 4) return false;
  if (rows == 1) return config.W_dtype != DType::nf4;
  return rows > families::kMostWholeLoadRows;
}

}  // namespace

// Channel tiles (MmaRunLayout::channel_tiles) wherever a bucket runs tensor_gemv: its warps then read
// 512 consecutive bytes a load instead of 64 from each of eight rows K/2 bytes apart. Every family
// reads them, so a dynamic M's larger buckets run on the same copy; but where no bucket is that small
// the rows stay whole, because the staged families lost a little in tiles. H200, 70B int4 and uint4 +
// zeros (bench/results/2026-12-01-h200-tiles-everywhere), tiles over rows whole: dynamic 1 ... 4096
// at 1 and 16 rows 0.83-0.94, at 64 rows 1.00-1.08, at 256 0.98-1.08; static 256 rows 1.01-1.05,
// 4096 0.98-1.02.
std::optional<MmaRunLayout> mma_run_layout(const MatmulConfig& config) {
  const DTypeInfo& w = info(config.W_dtype);
  const bool int8_activations = config.A_dtype == DType::int8 && w.is_integer() && w.bits <= 8;
  const bool fp8_mma = fp8_activations(config) && fp8_mma_takes_weights(config);
  const bool byte_operands = int8_activations || fp8_mma;
  const bool float_path = float16_activations(config) && config.accum_dtype != DType::int32 &&
                          weights_fit_activation_type(config);
  if (!byte_operands && !float_path) return std::nullopt;
  const int step_codes = byte_operands ? 8 : 4;  // k per lane per mma step: m16n8k32 or m16n8k16
  const int64_t group = effective_group_size(config);
  if (group % (4 * step_codes) != 0) return std::nullopt;
  for (int load_bytes : {16, 8, 4}) {
    const int codes = load_bytes * 8 / w.bits;
    if (codes < step_codes || config.K % (4 * codes) != 0) continue;
    MmaRunLayout layout;
    layout.load_bytes = load_bytes;
    layout.step_codes = step_codes;
    // Split order for the codes the pair decode places bit by bit (templates/bitjit/decode/
    // weight_pairs.cuh): integers, and fp4, whose natural order cost a byte extraction and a spread
    // per pair (SASS of the sm_90a one-row loop, 70B o: 548 -> 436 instructions per 4096 weights).
    const bool placed_bits = w.is_integer() || config.W_dtype == DType::fp4_e2m1;
    layout.split_pairs = !byte_operands && placed_bits && w.bits <= 8;
    layout.byte_lanes = int8_activations && w.bits < 8;
    layout.run = byte_operands || !reads_runs_of_8(config) ? codes : std::min(codes, 2 * step_codes);
    while (group % (4 * layout.run) != 0) layout.run /= 2;  // ends at step_codes at the latest
    // With fp8 activations the weights keep general_compress's order, so that the families without
    // an fp8 mma (sm_80, sm_86: simt) read the same bytes: whole loads as runs, or no run layout.
    if (fp8_mma && layout.run != codes) continue;
    // 16-bit weights keep their rows whole, so that a plain [N, K] tensor of them runs as it is.
    layout.channel_tiles = config.N % kLayoutChannelTile == 0 && !fp8_mma && w.bits < 16 &&
                           config.M.smallest() <= kMostGemvRows;
    return layout;
  }
  return std::nullopt;
}

std::optional<MmaRunLayout> family_layout(const MatmulConfig& config, KernelFamily family) {
  if (!is_hopper_family(family)) return mma_run_layout(config);
  if (same_8bit_operands(config)) return std::nullopt;  // plain rows of bytes
  return wgmma_layout(config);
}

std::string weight_layout_id(const MatmulConfig& config, KernelFamily family) {
  std::string id = std::string(to_string(family_weight_layout(config, family))) + " W=" +
                   std::string(to_string(config.W_dtype)) + " N=" + std::to_string(config.N) + " K=" +
                   std::to_string(config.K);
  if (const std::optional<MmaRunLayout> layout = family_layout(config, family)) {
    const char* pairs = layout->split_pairs ? "split" : layout->byte_lanes ? "byte_lanes" : "natural";
    id += " load=" + std::to_string(layout->load_bytes) + " run=" + std::to_string(layout->run) +
          " step=" + std::to_string(layout->step_codes) + " pairs=" + pairs;
    if (layout->channel_tiles) id += " tiles=" + std::to_string(kLayoutChannelTile);
  }
  return id + " rev=" + std::to_string(kWeightLayoutRevision);
}

WeightLayout family_weight_layout(const MatmulConfig& config, KernelFamily family) {
  const std::optional<MmaRunLayout> layout = family_layout(config, family);
  if (!layout) return WeightLayout::general;
  return is_hopper_family(family) && layout->run == 2 ? WeightLayout::mma_fragments : WeightLayout::mma_runs;
}

namespace {

std::optional<TileSchedule> family_default(KernelFamily family, const MatmulConfig& config, const std::string& arch,
                                           int64_t rows) {
  return kernel_traits(config, family).default_for(config, arch, rows);
}

// The Hopper default: tensor_wgmma_ws where it takes the config, else tensor_wgmma; nullopt for a
// config neither takes. W4A8 included: its ws kernel took 0.77-0.93x tensor_wgmma_w4a8's time at 256
// and 4096 rows on the H200's 70B shapes (bench/results/2026-11-30-h200-branches).
std::optional<TileSchedule> default_tensor_wgmma(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  if (std::optional<TileSchedule> s = family_default(KernelFamily::tensor_wgmma_ws, config, arch, rows)) return s;
  return family_default(KernelFamily::tensor_wgmma, config, arch, rows);
}

// The fewest rows from which W4A8 runs on the 8-bit wgmma's 64-row tiles (rows past M computed and
// dropped) rather than tensor_gemv_8bit, which reads W once per 16 rows. H200, 70B shapes
// (bench/results/2026-11-30-h200-w4a8-17-48), ws over tensor_gemv_8bit's time: fp8 activations
// 0.54-0.77 at 17 and 32 rows, 0.44-0.53 at 48; int8 0.86-1.15 at 17, 0.83-1.09 at 32 (tensor_gemv_8bit's
// int8 mma.sync is the faster of the two at two passes), 0.51-0.72 at 48.
int64_t w4a8_hopper_least_rows(const MatmulConfig& config) {
  return fp8_activations(config) ? 17 : 33;
}

// The Hopper family serves a config only when it serves every bucket (the weights are packed once,
// in its layout): on an arch with wgmma, for the configs it takes, from 17 rows with fp16 / bf16
// activations, from w4a8_hopper_least_rows with W4A8 and from 64 with W8A8. From 17 to 63 rows its
// 64-row tiles (rows past M computed and dropped) beat tensor_gemm's in 22 of 24 suite cases on the
// H200, up to 2.4x (bench/results/2026-11-29-h200-m17-63). W8A8 there (tensor_gemv's m16n8k32) was
// not measured.
bool wgmma_serves(const MatmulConfig& config, const std::string& arch) {
  const int64_t least_rows = float16_activations(config) ? 17 : w4a8_operands(config) ? w4a8_hopper_least_rows(config) : 64;
  const int64_t fewest = config.M.smallest();
  return fewest >= least_rows && default_tensor_wgmma(config, arch, fewest).has_value();
}

// Whether the Hopper families read this config's mma_runs layout on the arch (wgmma_layout), so that
// its buckets above 16 rows take them while the small ones stay on tensor_gemv: every bucket of a
// dynamic-M config on its own family from one copy of the weights.
bool hopper_reads_runs(const MatmulConfig& config, const std::string& arch) {
  return arch_info(arch).has_wgmma && family_weight_layout(config, KernelFamily::tensor_wgmma) == WeightLayout::mma_runs;
}

}  // namespace

TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch) {
  return default_schedule(config, arch, config.M.largest());
}

std::vector<TileSchedule> default_bucket_schedules(const MatmulConfig& config, const std::string& arch) {
  std::vector<TileSchedule> schedules;
  for (int64_t rows : config.M.values()) {
    TileSchedule s = default_schedule(config, arch, rows);
    const bool seen = std::any_of(schedules.begin(), schedules.end(),
                                  [&](const TileSchedule& other) { return canonical_form(other) == canonical_form(s); });
    if (!seen) schedules.push_back(s);
  }
  return schedules;
}

TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch, int64_t rows) {
  if (wgmma_serves(config, arch)) {
    if (std::optional<TileSchedule> s = default_tensor_wgmma(config, arch, rows)) return *s;
    throw ConfigError("default_schedule: tensor_wgmma serves " + canonical_form(config) + " but has no schedule for " +
                      std::to_string(rows) + " rows");  // its fallbacks end where they end for the smallest bucket
  }
  const std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (layout && arch_has_activation_mma(config, arch)) {
    const bool many_rows = rows > kMostGemvRows && float16_activations(config) && layout->run <= 8;
    // W4A8 on the 8-bit wgmma's 64-row tiles from w4a8_hopper_least_rows, or from 64 rows on the
    // archs without it tensor_gemm's m16n8k32 (17 to 63 rows stay on tensor_gemv_8bit there: not
    // measured).
    const bool w4a8_hopper_rows = w4a8_operands(config) && rows >= w4a8_hopper_least_rows(config);
    const bool w4a8_rows = rows >= 64 && w4a8_operands(config);
    if ((many_rows || w4a8_hopper_rows) && hopper_reads_runs(config, arch)) {
      if (std::optional<TileSchedule> s = default_tensor_wgmma(config, arch, rows)) return *s;
    }
    if (w4a8_rows) {
      if (std::optional<TileSchedule> s = family_default(KernelFamily::tensor_gemm, config, arch, rows)) return *s;
    }
    TileSchedule s = *family_default(many_rows ? KernelFamily::tensor_gemm : KernelFamily::tensor_gemv, config, arch, rows);
    validate_schedule(config, s, arch);
    return s;
  }
  TileSchedule s = *family_default(gemv_applies(config) ? KernelFamily::gemv : KernelFamily::simt, config, arch, rows);
  validate_schedule(config, s, arch);
  return s;
}

void add_tuning_candidates(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                           std::vector<TileSchedule>& out) {
  // Every family reading the fallback's layout for this config (the weights are packed once): the
  // same bytes, so the layouts' ids, not their names (tensor_gemm reads mma_runs in rows whole where
  // tensor_gemv may read it in channel tiles).
  const bool general = family_weight_layout(config, fallback.family) == WeightLayout::general;
  const std::string reads = weight_layout_id(config, fallback.family);
  for (const KernelFamilyTraits& family : all_families()) {
    const bool tuned = general ? family.family == fallback.family : weight_layout_id(config, family.family) == reads;
    if (tuned) kernel_traits(config, family.family).add_candidates(config, fallback, rows, out);
  }
}

}  // namespace bitjit
