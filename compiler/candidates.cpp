#include "compiler/candidates.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "compiler/families/family.hpp"
#include "compiler/families/select.hpp"
#include "compiler/lower.hpp"

namespace bitjit {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }


// The family fills what it adds (compiler/families/family.hpp).
KernelFootprint footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  KernelFootprint f;
  f.threads = block_threads(s);
  f.shared_bytes = dynamic_shared_bytes(config, s) + static_shared_bytes(config, s, arch);
  kernel_traits(config, s.family).footprint(config, s, arch, f);
  return f;
}

int blocks_per_sm(const KernelFootprint& f, const TargetDevice& device) {
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
  const int64_t n_blocks = ceil_div(N, s.tile.n), m_blocks = ceil_div(rows, s.tile.m);
  const int64_t blocks = n_blocks * m_blocks * s.pipeline.split_k;
  const int64_t partial_bytes = s.pipeline.split_k > 1 ? 2 * int64_t(s.pipeline.split_k) * rows * N * 4 : 0;
  // Blocks sweep N fastest, so W streams from DRAM once per row of blocks; A stays in L2, read once
  // per cluster of blocks along N (launch.cluster_n: the pair's activation boxes multicast).
  const double dram = double(weight_bytes * m_blocks + activation_bytes + output_bytes);
  const double l2 = double(weight_bytes * m_blocks + activation_bytes * n_blocks / s.launch.cluster_n + output_bytes +
                           partial_bytes);

  const KernelFootprint f = footprint(config, s, device.arch);
  const int resident = blocks_per_sm(f, device);
  if (resident == 0) return 1e12;  // cannot launch
  // Up to one full wave, the SMs without a block idle; beyond it, the last partial wave does.
  const double slots = double(device.sm_count) * resident;
  double wave_efficiency = double(blocks) <= slots ? std::min(1.0, double(blocks) / device.sm_count)
                                                   : double(blocks) / (std::ceil(double(blocks) / slots) * slots);
  double piece_bytes = 0;
  if (f.stream_k && stream_k_tiles(blocks, s.tile.m, device.sm_count) > 0) {
    // Stream-K: every SM busy (in shares of kLeastStreamKShare stages at least); each block's first and last
    // piece of a tile written and read back.
    const double k_stages = double(ceil_div(K, s.pipeline.k_per_stage));
    wave_efficiency = std::min(1.0, double(blocks) * k_stages / (double(kLeastStreamKShare) * device.sm_count));
    piece_bytes = 2.0 * 2.0 * device.sm_count * s.tile.m * s.tile.n * 4;
  }
  const double blocks_on_an_sm = std::min<double>(resident, std::ceil(double(blocks) / device.sm_count));
  const double padded_rows = double(m_blocks) * s.tile.m;  // rows past M are computed too
  const double flops = 2.0 * padded_rows * double(N) * double(K);
  double compute_us;
  if (f.instructions_per_mma > 0) {
    // One instruction per cycle per scheduler at best; measured 0.43 with 2 warps per scheduler.
    const double warps_per_scheduler = blocks_on_an_sm * f.threads / 32.0 / 4.0;
    const double issue = std::min(1.0, 0.2 * warps_per_scheduler);
    const double mma_per_us = device.sm_count * 4.0 * device.clock_ghz * 1e3 * issue / f.instructions_per_mma;
    const double peak_tflops = is_hopper_family(s.family) ? device.wgmma_tflops : device.mma_tflops;
    const double peak_mma_per_us = peak_tflops * f.pipe_share * 1e6 / 4096.0;
    compute_us = flops / 4096.0 / std::min(mma_per_us, peak_mma_per_us);
  } else {
    const double fma_per_us = device.sm_count * 128.0 * device.clock_ghz * 1e3 / 2.0;  // half for the decoding
    compute_us = flops / 2.0 / fma_per_us;
  }
  const double memory_us = std::max(dram / (device.dram_gbps * 1e3), (l2 + piece_bytes) / (device.l2_gbps * 1e3));
  const double launch_us = 2.0 + (s.pipeline.split_k > 1 ? 1.0 : 0.0);
  return std::max(memory_us, compute_us) / wave_efficiency + launch_us;
}

std::vector<RankedSchedule> candidate_schedules(const MatmulConfig& config, const TargetDevice& device, int64_t rows) {
  std::vector<TileSchedule> all;
  const TileSchedule fallback = default_schedule(config, device.arch, rows);
  all.push_back(fallback);
  add_tuning_candidates(config, fallback, rows, all);
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

std::vector<RankedSchedule> timing_order(const std::vector<RankedSchedule>& ranked) {
  // Each schedule's place among the schedules of its geometry (0: the geometry's best).
  using Geometry = std::tuple<KernelFamily, int, int, int, int, int, int>;
  std::map<Geometry, int> seen_of_geometry;
  std::vector<std::pair<int, size_t>> order;  // (place in its geometry, rank)
  for (size_t rank = 0; rank < ranked.size(); ++rank) {
    const TileSchedule& s = ranked[rank].schedule;
    const Geometry geometry{s.family, s.tile.m, s.tile.n, s.warps.m, s.warps.n, s.warps.k, s.pipeline.split_k};
    order.emplace_back(seen_of_geometry[geometry]++, rank);
  }
  std::sort(order.begin(), order.end());
  std::vector<RankedSchedule> timed;
  timed.reserve(ranked.size());
  for (const auto& [place, rank] : order) timed.push_back(ranked[rank]);
  return timed;
}

}  // namespace bitjit
