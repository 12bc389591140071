// The weights' TMA tensor map in channel tiles, checked without a GPU: a box copy is emulated from the
// map's dimensions, strides and box (as the TMA walks them: innermost dimension first, into dense
// shared memory) at the coordinates the kernel gives (templates/bitjit/pipeline/warp_specialized.cuh,
// load_stage_boxes), and must land the bytes the 2-D box of the same weights in rows whole lands.
#include <random>
#include <vector>

#include "compiler/families/family.hpp"
#include "compiler/lower.hpp"
#include "compiler/schedule.hpp"
#include "compiler/weight_layout.hpp"
#include "runtime/tensor_maps.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;

namespace {

// The box at element coordinates `at` (innermost first) of a map over `bytes`, as dense bytes; outside
// the tensor's dimensions zeros, as the TMA fills them.
std::vector<uint8_t> copy_box(const std::vector<uint8_t>& bytes, const TensorMapShape& shape,
                              const std::vector<uint64_t>& at) {
  std::vector<uint8_t> box;
  std::vector<uint64_t> index(shape.rank, 0);
  for (;;) {
    bool inside = true;
    uint64_t offset = 0;
    for (uint32_t d = 0; d < shape.rank; ++d) {
      const uint64_t coordinate = at[d] + index[d];
      inside = inside && coordinate < shape.sizes[d];
      offset += coordinate * (d == 0 ? 1 : shape.strides[d - 1]);
    }
    box.push_back(inside ? bytes.at(offset) : 0);
    uint32_t d = 0;
    while (d < shape.rank && ++index[d] == shape.box[d]) index[d++] = 0;
    if (d == shape.rank) return box;
  }
}

}  // namespace

TEST_CASE("weights in channel tiles land in a TMA box as they do from rows whole", "[tma]") {
  BITJIT_RANDOM_ENGINE(rng);
  std::uniform_int_distribution<int> byte(0, 255);
  for (DType format : {DType::int4, DType::int2, DType::nf4, DType::uint1}) {
    MatmulConfig config;
    config.M = MSpec::buckets({1, 256});
    config.N = 80;  // five tiles: 64-channel boxes run past N
    config.K = 1024;
    config.W_dtype = format;
    config.accum_dtype = DType::float32;
    config.with_scaling = true;
    config.group_size = 128;
    const TileSchedule schedule = default_schedule(config, "sm_90a", 256);
    REQUIRE(schedule.family == KernelFamily::tensor_wgmma_ws);
    const KernelPlan plan = plan_kernel(config, schedule, "sm_90a");
    const TmaTensor tiles = kernel_traits(config, schedule.family).tma_tensors(plan, 256)[1];
    INFO(to_string(format) << " " << canonical_form(schedule));
    REQUIRE(tiles.channel_tiles);
    TmaTensor rows = tiles;
    rows.channel_tiles = false;
    const TensorMapShape tiled_shape = tensor_map_shape(tiles, "test"), rows_shape = tensor_map_shape(rows, "test");
    CHECK(tiled_shape.rank == 4);
    for (uint64_t stride : tiled_shape.strides) CHECK(stride % 16 == 0);  // the driver's rule

    const std::optional<MmaRunLayout> layout = family_layout(config, schedule.family);
    REQUIRE(layout);
    std::vector<uint8_t> general(size_t(config.N * config.K * info(format).bits / 8));
    for (uint8_t& b : general) b = uint8_t(byte(rng));
    MmaRunLayout rows_layout = *layout;
    rows_layout.channel_tiles = false;
    const std::vector<uint8_t> tiled_bytes = to_mma_runs(general, config, *layout);
    const std::vector<uint8_t> row_bytes = to_mma_runs(general, config, rows_layout);

    const uint64_t piece = tiles.box_columns, k_blocks = tiles.columns / piece;
    for (uint64_t n_block = 0; n_block < uint64_t(config.N); n_block += tiles.box_rows) {
      for (uint64_t k_block = 0; k_block < k_blocks; ++k_block) {
        INFO("n_block " << n_block << " k_block " << k_block);
        REQUIRE(copy_box(tiled_bytes, tiled_shape, {0, 0, k_block, n_block / 16}) ==
                copy_box(row_bytes, rows_shape, {k_block * piece, n_block}));
      }
    }
  }
}
