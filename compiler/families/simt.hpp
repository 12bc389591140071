#pragma once
// simt: CUDA-core FMA over general_compress's layout; it runs every accepted config, the baseline the
// other families must match. gemv shares its thread layout, knobs and tuning candidates.
#include <vector>

#include "compiler/families/family.hpp"

namespace bitjit {

extern const KernelTraits kSimtKernel;

namespace families {

// The thread layout and knobs of simt and gemv: warps along N, K streamed in one pass.
void validate_simt_knobs(const MatmulConfig& config, const TileSchedule& s);
// simt and gemv read general_compress's layout: they refuse a config whose weights are reordered.
void require_general_layout(const MatmulConfig& config, const TileSchedule& s);
// The default's thread layout for rows of a block, loads of load_bytes.
TileSchedule general_schedule(KernelFamily family, int block_n, int block_m, int load_bytes);
std::vector<PlanConstant> general_tiles(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
// A few thread counts, row blocks and load widths around the bucket's default.
void add_general_candidates(const MatmulConfig& config, const TileSchedule& base, int64_t rows,
                            std::vector<TileSchedule>& out);
int no_shared_bytes(const MatmulConfig& config, const TileSchedule& s);
void no_footprint(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, KernelFootprint& f);

}  // namespace families
}  // namespace bitjit
