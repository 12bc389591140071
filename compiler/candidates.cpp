#include "compiler/candidates.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "compiler/lower.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }


// ---- enumeration ----------------------------------------------------------------------------------

void add_tensor_gemv(const MatmulConfig& config, const MmaRunLayout& layout, std::vector<TileSchedule>& out) {
  const int k_block = layout.k_block(info(config.W_dtype).bits);
  for (int threads : {64, 128, 256})
    for (int block_m : {8, 16})
      for (int block_n : {16, 32, 48, 64})
        for (int blocks_k : {1, 2, 4, 8}) {
          TileSchedule s;
          s.family = KernelFamily::tensor_gemv;
          s.threads = threads;
          s.warp_m = 1;
          s.warp_n = threads / 32;
          s.block_m = block_m;
          s.block_n = block_n;
          s.block_k = blocks_k * k_block;
          s.vector_bytes = layout.load_bytes;
          out.push_back(s);
        }
}

void add_tensor_gemm(const MatmulConfig& config, const MmaRunLayout& layout, std::vector<TileSchedule>& out) {
  const int k_block = layout.k_block(info(config.W_dtype).bits);
  const std::pair<int, int> warp_grids[] = {{1, 2}, {1, 4}, {2, 2}, {2, 4}, {4, 2}};
  for (int block_m : {32, 64, 128, 256})
    for (int block_n : {64, 128, 256})
      for (auto [warp_m, warp_n] : warp_grids)
        for (int stages : {2, 3, 4})
          for (int blocks_k : {1, 2, 4})
            for (int split_k : {1, 2, 4}) {
              TileSchedule s;
              s.family = KernelFamily::tensor_gemm;
              s.threads = 32 * warp_m * warp_n;
              s.warp_m = warp_m;
              s.warp_n = warp_n;
              s.block_m = block_m;
              s.block_n = block_n;
              s.block_k = blocks_k * k_block;
              s.stages = stages;
              s.split_k = split_k;
              s.vector_bytes = layout.load_bytes;
              out.push_back(s);
            }
}

// The Hopper family (sm_90a): 64 channels per warpgroup, wgmma N = 64 / 128 / 256 rows. A tuned
// schedule must keep the default's weight layout, so a config the family serves is tuned within it.
void add_tensor_wgmma(const MatmulConfig& config, const TileSchedule& base, std::vector<TileSchedule>& out) {
  const bool eight_bit = same_8bit_operands(config);
  for (int block_m : {64, 128, 256})
    for (int block_n : {64, 128, 192, 256})
      for (int stages : {3, 4, 5})
        for (int k_factor : {1, 2})
          for (int split_k : {1, 2, 4}) {
            if (eight_bit && split_k > 1) continue;
            TileSchedule s = base;
            s.block_m = block_m;
            s.block_n = block_n;
            s.threads = 2 * block_n;
            s.warp_n = s.threads / 32;
            s.stages = stages;
            s.block_k = base.block_k * k_factor;
            s.split_k = split_k;
            out.push_back(s);
          }
}

// The warp-specialized Hopper family: tensor_wgmma's tiles plus a producer warpgroup, unsplit (its
// grid is persistent), half, once and twice the base's k per stage (the default's may be either),
// tile orders of 1, 8 or 16 row blocks per group.
void add_tensor_wgmma_ws(const TileSchedule& base, std::vector<TileSchedule>& out) {
  for (int block_m : {64, 128, 256})
    for (int block_n : {64, 128, 192, 256})
      for (int stages : {2, 3, 4, 5, 6})
        for (int block_k : {base.block_k / 2, base.block_k, base.block_k * 2})
          for (int raster_group : {1, 8, 16}) {
            TileSchedule s = base;
            s.block_m = block_m;
            s.block_n = block_n;
            s.stages = stages;
            s.block_k = block_k;
            s.split_k = 1;
            out.push_back(warp_specialized(s, raster_group));
          }
}

// The CUDA-core families: a few thread counts, row blocks and load widths around the default.
void add_general(const TileSchedule& base, int64_t rows, std::vector<TileSchedule>& out) {
  for (int threads : {128, 256})
    for (int block_m : {1, 2, 4, 8, 16}) {
      if (block_m > std::max<int64_t>(rows, 1) * 2 && block_m > 1) continue;
      for (int vector_bytes : {base.vector_bytes, base.vector_bytes / 2}) {
        if (vector_bytes < 1) continue;
        TileSchedule s = base;
        s.threads = threads;
        s.warp_n = threads / 32;
        s.block_n = base.block_n * threads / base.threads;
        s.block_m = block_m;
        s.vector_bytes = vector_bytes;
        out.push_back(s);
      }
    }
}

// ---- the cost model -------------------------------------------------------------------------------

struct Footprint {
  int threads = 128;
  int shared_bytes = 0;
  int registers = 64;
  double instructions_per_mma = 0.0;  // 0: CUDA-core family
  double pipe_share = 1.0;            // of the tensor cores' peak the family's structure keeps busy
};

// The share of wgmma's peak a tensor_wgmma_ws tile keeps busy, growing with the rows each decoded
// fragment feeds (wgmma N): 683 TFLOP/s of 990 at 70B gate_up, M = 4096 with 256 rows, 0.88 of that
// with 128 rows (bench/results/2026-11-27-h100-wgmma-ws); 64 rows, not measured at many rows, taken
// lower. tensor_wgmma keeps 0.5 / 0.7 of it (its tensor pipe 49 % busy at 256 rows).
double wgmma_pipe_share(int block_m) { return block_m >= 256 ? 0.7 : block_m >= 128 ? 0.62 : 0.45; }

Footprint footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  Footprint f;
  const double most_registers = arch_info(arch).max_registers_per_thread;
  f.threads = s.threads;
  f.shared_bytes = dynamic_shared_bytes(config, s) + static_shared_bytes(config, s.family);
  if (s.family == KernelFamily::tensor_gemm) {
    const double m_tiles = s.block_m / s.warp_m / 8.0, n_tiles = s.block_n / s.warp_n / 16.0;
    f.registers = int(std::min(most_registers, 48 + 4 * m_tiles * n_tiles + 4 * m_tiles + 8 * n_tiles));
    // Per k16 step of a warp: m x n mmas, 16 instructions of decode and scaling per channel tile,
    // half a 16-byte shared load per row tile, ~24 of copies and bookkeeping (measured on sm_90a:
    // 4.4 instructions per mma with 8 x 2 tiles).
    f.instructions_per_mma = (m_tiles * n_tiles + 16 * n_tiles + m_tiles / 2 + 24) / (m_tiles * n_tiles);
  } else if (s.family == KernelFamily::tensor_wgmma) {
    // Per warp and 16-k step: one wgmma of 16 channels x block_m rows (block_m / 8 mma.sync tiles'
    // work) and ~30 instructions of decoding, scaling and bookkeeping (the sm_90a SASS of the int4
    // kernel: ~300 per 128-k stage of 8 steps); accumulators block_m / 2 floats.
    // The tensor pipe: 49 % busy at 70B gate_up, M = 4096 (Nsight Compute), every warp waiting on
    // its own wgmmas at each stage's block-wide barrier.
    const double mma_tiles = s.block_m / 8.0;
    f.registers = int(std::min(most_registers, 72 + s.block_m / 2.0));
    f.instructions_per_mma = (1 + 30) / mma_tiles;
    f.pipe_share = wgmma_pipe_share(s.block_m) * 0.5 / 0.7;
  } else if (s.family == KernelFamily::tensor_wgmma_ws) {
    // The consumer warps do what tensor_wgmma's do, less the copies (~6 of the ~30 instructions per
    // step); one producer thread issues a few TMA requests per stage.
    // Registers: the launch's share (validation keeps the sums within what the consumers get).
    const double mma_tiles = s.block_m / 8.0;
    f.registers = warp_specialized_registers(s, arch).per_thread;
    f.instructions_per_mma = (1 + 24) / mma_tiles;
    f.pipe_share = wgmma_pipe_share(s.block_m);
  } else if (s.family == KernelFamily::tensor_gemv) {
    const double m_tiles = s.block_m > 8 ? 2 : 1, n_tiles = s.block_n / 16.0;
    f.registers = 96;
    f.shared_bytes += s.threads / 32 * int(n_tiles) * int(m_tiles) * 4 * 32 * 4;
    f.instructions_per_mma = (m_tiles * n_tiles + 16 * n_tiles + 4) / (m_tiles * n_tiles);
  }
  return f;
}

int blocks_per_sm(const Footprint& f, const TargetDevice& device) {
  int blocks = std::min(32, 2048 / std::max(32, f.threads));
  if (f.shared_bytes > 0) blocks = std::min(blocks, device.shared_bytes_per_sm / (f.shared_bytes + 1024));
  blocks = std::min(blocks, device.registers_per_sm / (f.threads * std::max(32, (f.registers + 7) / 8 * 8)));
  return std::max(blocks, 0);
}

}  // namespace

TargetDevice TargetDevice::from_arch(const std::string& arch) {
  const ArchInfo& row = arch_info(arch);
  TargetDevice d;
  d.arch = arch;
  d.sm_count = row.reference.sm_count;
  d.shared_bytes_per_block = row.shared_bytes_per_block;
  d.shared_bytes_per_sm = row.shared_bytes_per_sm;
  d.registers_per_sm = row.registers_per_sm;
  d.dram_gbps = row.reference.dram_gbps;
  d.l2_gbps = row.reference.l2_gbps;
  d.mma_tflops = row.reference.mma_tflops;
  d.wgmma_tflops = row.reference.wgmma_tflops;
  d.clock_ghz = row.reference.clock_ghz;
  return d;
}

double predicted_microseconds(const MatmulConfig& config, const TileSchedule& s, const TargetDevice& device,
                              int64_t rows) {
  const int64_t N = config.N, K = config.K;
  const int64_t weight_bytes = N * K * info(config.W_dtype).bits / 8 +
                               (config.with_scaling ? N * ceil_div(K, effective_group_size(config)) * 2 : 0) *
                                   (config.with_zeros ? 2 : 1);
  const int64_t activation_bytes = rows * K * info(config.A_dtype).storage_bytes();
  const int64_t output_bytes = rows * N * info(config.out_dtype).storage_bytes();
  const int64_t n_blocks = ceil_div(N, s.block_n), m_blocks = ceil_div(rows, s.block_m);
  const int64_t blocks = n_blocks * m_blocks * s.split_k;
  const int64_t partial_bytes = s.split_k > 1 ? 2 * int64_t(s.split_k) * rows * N * 4 : 0;
  // Blocks sweep N fastest, so W streams from DRAM once per row of blocks; A stays in L2.
  const double dram = double(weight_bytes * m_blocks + activation_bytes + output_bytes);
  const double l2 = double(weight_bytes * m_blocks + activation_bytes * n_blocks + output_bytes + partial_bytes);

  const Footprint f = footprint(config, s, device.arch);
  const int resident = blocks_per_sm(f, device);
  if (resident == 0) return 1e12;  // cannot launch
  // Up to one full wave, the SMs without a block idle; beyond it, the last partial wave does.
  const double slots = double(device.sm_count) * resident;
  double wave_efficiency = double(blocks) <= slots ? std::min(1.0, double(blocks) / device.sm_count)
                                                   : double(blocks) / (std::ceil(double(blocks) / slots) * slots);
  double piece_bytes = 0;
  if (s.family == KernelFamily::tensor_wgmma_ws && stream_k_tiles(blocks, s.block_m, device.sm_count) > 0) {
    // Stream-K: every SM busy (in shares of kLeastStreamKShare stages at least); each block's first and last
    // piece of a tile written and read back.
    wave_efficiency = std::min(1.0, double(blocks) * double(ceil_div(K, s.block_k)) / (double(kLeastStreamKShare) * device.sm_count));
    piece_bytes = 2.0 * 2.0 * device.sm_count * s.block_m * s.block_n * 4;
  }
  const double blocks_on_an_sm = std::min<double>(resident, std::ceil(double(blocks) / device.sm_count));
  const double padded_rows = double(m_blocks) * s.block_m;  // rows past M are computed too
  const double flops = 2.0 * padded_rows * double(N) * double(K);
  double compute_us;
  if (f.instructions_per_mma > 0) {
    // One instruction per cycle per scheduler at best; measured 0.43 with 2 warps per scheduler.
    const double warps_per_scheduler = blocks_on_an_sm * f.threads / 32.0 / 4.0;
    const double issue = std::min(1.0, 0.2 * warps_per_scheduler);
    const double mma_per_us = device.sm_count * 4.0 * device.clock_ghz * 1e3 * issue / f.instructions_per_mma;
    const double peak_tflops = reads_wgmma_fragments(s.family) ? device.wgmma_tflops : device.mma_tflops;
    const double peak_mma_per_us = peak_tflops * f.pipe_share * 1e6 / 4096.0;
    compute_us = flops / 4096.0 / std::min(mma_per_us, peak_mma_per_us);
  } else {
    const double fma_per_us = device.sm_count * 128.0 * device.clock_ghz * 1e3 / 2.0;  // half for the decoding
    compute_us = flops / 2.0 / fma_per_us;
  }
  const double memory_us = std::max(dram / (device.dram_gbps * 1e3), (l2 + piece_bytes) / (device.l2_gbps * 1e3));
  const double launch_us = 2.0 + (s.split_k > 1 ? 1.0 : 0.0);
  return std::max(memory_us, compute_us) / wave_efficiency + launch_us;
}

std::vector<RankedSchedule> candidate_schedules(const MatmulConfig& config, const TargetDevice& device, int64_t rows) {
  std::vector<TileSchedule> all;
  const TileSchedule fallback = default_schedule(config, device.arch, rows);
  all.push_back(fallback);
  if (reads_wgmma_fragments(fallback.family)) {
    TileSchedule unspecialized = fallback;
    unspecialized.family = KernelFamily::tensor_wgmma;
    unspecialized.swizzle = 1;
    add_tensor_wgmma(config, unspecialized, all);
    add_tensor_wgmma_ws(fallback, all);
  } else if (const std::optional<MmaRunLayout> layout = mma_run_layout(config);
             layout && (fallback.family == KernelFamily::tensor_gemv || fallback.family == KernelFamily::tensor_gemm)) {
    add_tensor_gemv(config, *layout, all);
    add_tensor_gemm(config, *layout, all);
  } else {
    add_general(fallback, rows, all);
  }
  std::vector<RankedSchedule> ranked;
  std::set<std::string> seen;
  for (const TileSchedule& s : all) {
    const std::string form = canonical_form(s);
    if (!seen.insert(form).second || !is_valid_schedule(config, s, device.arch)) continue;
    ranked.push_back({s, predicted_microseconds(config, s, device, rows)});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const RankedSchedule& a, const RankedSchedule& b) { return a.predicted_us < b.predicted_us; });
  return ranked;
}

}  // namespace bitjit
