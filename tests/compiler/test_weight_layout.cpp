// The mma_runs weight layout: which configs get it with which parameters, and that every code lands
// where a tensor_gemv lane reads it. The reader below is written from the kernel's side (block,
// lane, position, word, pair), independently of the layout code's own (position -> k) mapping.
#include <algorithm>
#include <random>
#include <vector>

#include "compiler/schedule.hpp"
#include "compiler/weight_layout.hpp"
#include "quant/packing.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;

namespace {

MatmulConfig half_activations(DType W, int64_t K, int64_t group) {
  MatmulConfig config;
  config.M = 1;
  config.N = 3;
  config.K = K;
  config.W_dtype = W;
  config.accum_dtype = DType::float32;
  config.with_scaling = group > 0;
  config.group_size = group;
  return config;
}

// The code at `position` of lane `lane`'s load in k-block `block` of row n, decoded as the kernels do.
uint32_t code_at(std::span<const uint8_t> runs, const MatmulConfig& config, const MmaRunLayout& layout, int64_t n,
                 int64_t block, int64_t lane, int64_t position) {
  const int bits = info(config.W_dtype).bits;
  const int per_word = 32 / bits;
  const int64_t row_bytes = config.K * bits / 8;
  // A channel's piece of a k-block is its four lanes' loads; in channel tiles the 16 channels' pieces
  // of each k-block follow each other, the tile's k-blocks in order, tiles 16 rows' bytes apart.
  const int64_t piece = 4 * layout.load_bytes;
  const int64_t piece_at = layout.channel_tiles ? n / 16 * 16 * row_bytes + (block * 16 + n % 16) * piece
                                                : n * row_bytes + block * piece;
  const uint8_t* load = runs.data() + piece_at + lane * layout.load_bytes;
  const int64_t word_index = position / per_word;
  uint32_t word = 0;
  for (int b = 0; b < 4; ++b) word |= uint32_t(load[word_index * 4 + b]) << (8 * b);
  const int element = int(position % per_word);
  // Split order: pair q = element / 2 sits at fields q and P/2 + q. Byte lanes (int8 activations):
  // tensor_gemv_8bit shifts the word by s * bits and masks byte j, i.e. element 4s + j is field
  // s + j * (8 / bits). Natural order: field = element.
  int field = element;
  if (layout.split_pairs) field = element / 2 + (element % 2) * (per_word / 2);
  if (layout.byte_lanes) field = element / 4 + (element % 4) * (8 / bits);
  return (word >> (field * bits)) & ((1u << bits) - 1u);
}

// The code a tensor_gemv lane decodes for logical (n, k), found by walking the kernel's indexing.
uint32_t code_read_by_kernel(std::span<const uint8_t> runs, const MatmulConfig& config, const MmaRunLayout& layout,
                             int64_t n, int64_t k) {
  const int codes = layout.codes_per_load(info(config.W_dtype).bits);
  const int64_t block = k / (4 * codes);
  const int64_t in_block = k % (4 * codes);
  // Run r covers k [4*run*r, 4*run*(r+1)) of the block; lane t holds its run*t .. run*t+run-1.
  const int64_t run = in_block / (4 * layout.run), lane = (in_block % (4 * layout.run)) / layout.run;
  return code_at(runs, config, layout, n, block, lane, run * layout.run + in_block % layout.run);
}

// The code tensor_wgmma puts at logical (n, k): in 16-k step s of a k-block, fragment slot j = k % 16
// belongs to lane (j % 8) / 2, which decodes it as code 4s + 2 (j >= 8) + j % 2 of its load.
uint32_t code_read_by_wgmma(std::span<const uint8_t> runs, const MatmulConfig& config, const MmaRunLayout& layout,
                            int64_t n, int64_t k) {
  const int codes = layout.codes_per_load(info(config.W_dtype).bits);
  const int64_t block = k / (4 * codes), step = k % (4 * codes) / 16, slot = k % 16;
  return code_at(runs, config, layout, n, block, slot % 8 / 2, 4 * step + 2 * (slot / 8) + slot % 2);
}

// The code the Hopper kernels put at logical (n, k) when they read runs of 8 (decode_runs_operand in
// templates/bitjit/decode/quad_runs.cuh): fragment slot j of 16-k step s belongs to lane
// t = (j % 8) / 2 as fragment position p = 4s + 2 (j >= 8) + j % 2; pair y of p's word comes from
// pair 4 (y / 4) + t of the same word of quad lane y % 4's load.
uint32_t code_read_by_wgmma_from_runs(std::span<const uint8_t> runs, const MatmulConfig& config,
                                      const MmaRunLayout& layout, int64_t n, int64_t k) {
  const int bits = info(config.W_dtype).bits, per_word = 32 / bits;
  const int codes = layout.codes_per_load(bits);
  const int64_t block = k / (4 * codes), step = k % (4 * codes) / 16, slot = k % 16;
  const int64_t lane = slot % 8 / 2, position = 4 * step + 2 * (slot / 8) + slot % 2;
  const int64_t word = position / per_word, pair = position % per_word / 2;
  const int64_t source = pair % 4, source_pair = pair / 4 * 4 + lane;
  return code_at(runs, config, layout, n, block, source, word * per_word + 2 * source_pair + position % 2);
}

// Random general_compress bytes of W [N, K] and the code of each (n, k) read straight from them.
struct RandomWeights {
  std::vector<uint8_t> general;
  std::vector<uint8_t> fields;  // the unpacked codes of sub-16-bit formats
  int64_t K;
  int bits;

  RandomWeights(const MatmulConfig& config, std::mt19937_64& rng) : K(config.K), bits(info(config.W_dtype).bits) {
    std::uniform_int_distribution<uint32_t> byte(0, 255);
    general.resize(size_t(config.N * K * bits / 8));
    for (uint8_t& b : general) b = uint8_t(byte(rng));
    if (bits != 16) fields = general_decompress(general, config.N, K, bits);
  }

  uint32_t code(int64_t n, int64_t k) const {
    const size_t at = size_t(n * K + k);
    return bits == 16 ? uint32_t(general[2 * at]) | uint32_t(general[2 * at + 1]) << 8 : fields[at];
  }
};

// The weights through the layout: back again unchanged, and every code where the tensor_gemv lane
// reads it. Returns the laid-out bytes.
std::vector<uint8_t> check_every_code_where_read(const MatmulConfig& config, const MmaRunLayout& layout,
                                                 const RandomWeights& weights) {
  const std::vector<uint8_t> runs = to_mma_runs(weights.general, config, layout);
  CHECK(from_mma_runs(runs, config, layout) == weights.general);
  for (int64_t n = 0; n < config.N; ++n) {
    for (int64_t k = 0; k < config.K; ++k) {
      INFO(to_string(config.W_dtype) << " A=" << to_string(config.A_dtype) << " M=" << config.M.largest()
                                     << " K=" << config.K << " group=" << config.group_size << " n=" << n << " k=" << k);
      REQUIRE(code_read_by_kernel(runs, config, layout, n, k) == weights.code(n, k));
    }
  }
  return runs;
}

}  // namespace

TEST_CASE("the tensor-core layout is chosen from the config alone", "[layout]") {
  auto layout_of = [](const MatmulConfig& config) { return mma_run_layout(config); };
  // W4A16 g128 at LLM shapes, M = 3: 16-byte loads, runs of the whole load (32 k); at one row runs of
  // 8 (the next test).
  MatmulConfig w4_m3 = half_activations(DType::int4, 8192, 128);
  w4_m3.M = 3;
  auto w4 = layout_of(w4_m3);
  REQUIRE(w4);
  CHECK(w4->load_bytes == 16);
  CHECK(w4->run == 32);
  CHECK(w4->split_pairs);
  // More than 8 rows (a static M or any bucket): runs of 8 k, two mma steps, so the four lanes of a
  // row read 64 contiguous bytes of A.
  MatmulConfig w4_m16 = half_activations(DType::int4, 8192, 128);
  w4_m16.M = MSpec{1, 16, 64};
  REQUIRE(layout_of(w4_m16));
  CHECK(layout_of(w4_m16)->run == 8);
  // 1-bit codes: 128 per 16-byte load, so g128 needs runs of 32 to keep each mma step in one group.
  auto w1 = layout_of(half_activations(DType::int1, 8192, 128));
  REQUIRE(w1);
  CHECK(w1->load_bytes == 16);
  CHECK(w1->run == 32);
  // Short K takes narrower loads; small groups shorter runs.
  auto small = layout_of(half_activations(DType::uint4, 96, 32));
  REQUIRE(small);
  CHECK(small->load_bytes == 4);
  CHECK(small->run == 8);
  // Lookup formats keep natural order (a byte is a pair); fp4, whose pairs are placed bit by bit,
  // takes the integers' split order with 16-bit float activations (fp8 activations: below).
  auto nf4 = layout_of(half_activations(DType::nf4, 4096, 64));
  REQUIRE(nf4);
  CHECK_FALSE(nf4->split_pairs);
  CHECK(nf4->run == 16);
  auto fp4 = layout_of(half_activations(DType::fp4_e2m1, 4096, 64));
  REQUIRE(fp4);
  CHECK(fp4->split_pairs);
  MatmulConfig fp4_fp8 = half_activations(DType::fp4_e2m1, 4096, 128);  // the fp8 mma's byte operands
  fp4_fp8.A_dtype = DType::float8_e4m3;
  auto fp4_bytes = layout_of(fp4_fp8);
  REQUIRE(fp4_bytes);
  CHECK_FALSE(fp4_bytes->split_pairs);
  CHECK_FALSE(reorders_weights(fp4_fp8, *fp4_bytes));
  // Groups of 16 hold one mma step per lane: runs of 4.
  CHECK(layout_of(half_activations(DType::int4, 4096, 16))->run == 4);
  // int8 activations: m16n8k32 steps of 8 codes per lane, sub-byte codes in byte lanes; groups
  // must hold whole 32-k steps.
  MatmulConfig int8_activations = half_activations(DType::int4, 4096, -1);
  int8_activations.A_dtype = DType::int8;
  int8_activations.accum_dtype = DType::int32;
  int8_activations.out_dtype = DType::int32;
  auto i8 = layout_of(int8_activations);
  REQUIRE(i8);
  CHECK(i8->step_codes == 8);
  CHECK(i8->byte_lanes);
  CHECK_FALSE(i8->split_pairs);
  CHECK(i8->run == 32);
  MatmulConfig int8_g16 = half_activations(DType::uint4, 4096, 16);
  int8_g16.A_dtype = DType::int8;
  CHECK_FALSE(layout_of(int8_g16));
  // Not for the tensor cores: too short a K for a 1-bit k-block, integer accumulation with float
  // activations, a 16-bit weight of the other type, groups not divisible by 16.
  CHECK_FALSE(layout_of(half_activations(DType::uint1, 96, 32)));
  MatmulConfig int32_sums = half_activations(DType::int4, 4096, -1);
  int32_sums.accum_dtype = DType::int32;
  CHECK_FALSE(layout_of(int32_sums));
  MatmulConfig other_half = half_activations(DType::float16, 4096, -1);
  other_half.A_dtype = DType::bfloat16;
  CHECK_FALSE(layout_of(other_half));
  CHECK(layout_of(half_activations(DType::float16, 4096, -1)));
  CHECK_FALSE(layout_of(half_activations(DType::int4, 4104, 24)));
  CHECK(weight_layout(half_activations(DType::int4, 8192, 128), "sm_80") == WeightLayout::mma_runs);
  CHECK(weight_layout(int8_activations, "sm_90a") == WeightLayout::mma_runs);
  CHECK(weight_layout(int32_sums, "sm_90a") == WeightLayout::general);
}

TEST_CASE("every code lands where the tensor_gemv lane reads it, and the layout inverts", "[layout]") {
  BITJIT_RANDOM_ENGINE(rng);
  const DType formats[] = {DType::int8, DType::uint8, DType::int4, DType::uint4, DType::int2, DType::uint2,
                           DType::int1, DType::uint1, DType::nf4,  DType::fp4_e2m1, DType::float8_e4m3,
                           DType::float8_e5m2, DType::float16};
  const std::pair<int64_t, int64_t> shapes[] = {{4096 / 8, -1}, {512, 128}, {512, 32}, {320, 32}, {96, -1}, {1024, 16}};
  int checked = 0;
  for (DType format : formats) {
    for (auto [K, group] : shapes) {
      for (auto [activations, M] : {std::pair{DType::float16, 1}, std::pair{DType::float16, 16}, std::pair{DType::int8, 16}}) {
        MatmulConfig config = half_activations(format, K, group);
        config.A_dtype = activations;
        config.M = M;
        config.N = 5;
        const std::optional<MmaRunLayout> layout = mma_run_layout(config);
        if (!layout) continue;
        check_every_code_where_read(config, *layout, RandomWeights(config, rng));
        ++checked;
      }
    }
  }
  CHECK(checked >= 90);
}

TEST_CASE("in channel tiles every code lands where the tensor_gemv lane reads it, and the layout inverts", "[layout]") {
  BITJIT_RANDOM_ENGINE(rng);
  const DType formats[] = {DType::int8, DType::int4, DType::uint4, DType::int2, DType::int1, DType::nf4,
                           DType::fp4_e2m1, DType::float8_e4m3};
  int checked = 0;
  for (DType format : formats) {
    for (auto [K, group] : {std::pair<int64_t, int64_t>{512, 128}, {1024, -1}, {320, 32}}) {
      for (auto [activations, M] : {std::pair{DType::float16, 1}, std::pair{DType::bfloat16, 16}, std::pair{DType::int8, 8}}) {
        MatmulConfig config = half_activations(format, K, group);
        config.A_dtype = activations;
        config.M = M;
        config.N = 48;  // three tiles
        const std::optional<MmaRunLayout> layout = mma_run_layout(config);
        if (!layout) continue;
        REQUIRE(layout->channel_tiles);
        const RandomWeights weights(config, rng);
        const std::vector<uint8_t> tiles = check_every_code_where_read(config, *layout, weights);
        MmaRunLayout rows = *layout;
        rows.channel_tiles = false;
        // One k-block a row: a tile's pieces lie as its rows do.
        if (K > layout->k_block(info(format).bits)) CHECK(tiles != to_mma_runs(weights.general, config, rows));
        ++checked;
      }
    }
  }
  CHECK(checked >= 50);
}

// Channel tiles wherever N is whole tiles, for every bucket and every family reading the tensor-core
// layouts (the Hopper families' fragment order and W4A8's runs too); rows whole for other N, for fp8
// activations, whose weights keep general_compress's bytes, and for 16-bit weights (a plain [N, K]
// tensor).
TEST_CASE("the tensor-core layouts lie in channel tiles where N is whole tiles and a bucket runs tensor_gemv", "[layout]") {
  MatmulConfig config = half_activations(DType::int4, 4096, 128);
  config.N = 64;
  const auto tiles = [](const MatmulConfig& c) { return mma_run_layout(c)->channel_tiles; };
  for (int64_t M : {1, 8, 16}) {
    config.M = M;
    CHECK(tiles(config));
  }
  // No bucket on tensor_gemv: rows whole, where the staged families were faster.
  for (int64_t M : {17, 64, 4096}) {
    config.M = M;
    CHECK_FALSE(tiles(config));
  }
  config.M = MSpec::buckets({17, 4096});
  CHECK_FALSE(tiles(config));
  config.M = MSpec::buckets({4096, 16, 1024});  // the smallest bucket decides, in any order
  CHECK(tiles(config));
  for (KernelFamily family : {KernelFamily::tensor_gemv, KernelFamily::tensor_gemm, KernelFamily::tensor_wgmma,
                              KernelFamily::tensor_wgmma_ws}) {
    INFO(to_string(family));
    CHECK(family_layout(config, family)->channel_tiles);
  }
  config.M = 256;
  CHECK_FALSE(fragment_order_layout(config)->channel_tiles);
  config.M = MSpec::buckets({1, 256});
  CHECK(fragment_order_layout(config)->channel_tiles);
  config.M = 16;
  config.N = 40;
  CHECK_FALSE(tiles(config));
  config.N = 64;
  config.A_dtype = DType::int8;
  CHECK(tiles(config));
  config.with_scaling = true;
  config.accum_dtype = DType::float32;
  config.M = MSpec::buckets({1, 4096});
  if (const std::optional<MmaRunLayout> w4a8 = w4a8_layout(config)) CHECK(w4a8->channel_tiles);
  config.A_dtype = DType::float8_e4m3;
  REQUIRE(mma_run_layout(config));
  CHECK_FALSE(tiles(config));
  config.A_dtype = DType::float16;
  config.W_dtype = DType::float16;
  config.with_scaling = false;
  REQUIRE(mma_run_layout(config));
  CHECK_FALSE(tiles(config));
}

// Which rows read runs of 8 k and which whole loads (each lane's 16 bytes of codes consecutive in k,
// cut to fit the group of 128: 32 k), as measured in compiler/families/select.cpp (reads_runs_of_8):
// 2- and 4-bit codes at one row (not nf4) and above 4 rows; 1- and 8-bit codes whole loads up to 8 rows;
// everything runs of 8 above 8 rows, a dynamic M's largest bucket deciding; 8-bit activations whole
// loads at every M.
TEST_CASE("runs of 8 at one row and above 4 rows for 2- and 4-bit codes, whole loads between", "[layout]") {
  constexpr int kWholeLoads = 32, kRunsOf8 = 8;
  const std::vector<DType> two_and_four_bits = {DType::int2, DType::uint2, DType::int4, DType::uint4, DType::fp4_e2m1};
  for (DType activations : {DType::float16, DType::bfloat16}) {
    for (int64_t rows : {1, 2, 3, 4, 5, 6, 8, 9, 16}) {
      for (DType format : {DType::int2, DType::uint2, DType::int4, DType::uint4, DType::fp4_e2m1, DType::nf4, DType::int1,
                           DType::uint1, DType::int8}) {
        MatmulConfig config = half_activations(format, 4096, 128);
        config.A_dtype = config.out_dtype = activations;
        config.M = rows;
        INFO(to_string(format) << " " << to_string(activations) << " M=" << rows);
        const bool listed = std::find(two_and_four_bits.begin(), two_and_four_bits.end(), format) != two_and_four_bits.end();
        const bool nibbles_or_pairs = listed || format == DType::nf4;
        const bool runs_of_8 = rows > 8 || (rows == 1 && listed) || (rows > 4 && nibbles_or_pairs);
        const int whole = format == DType::int8 ? 16 : kWholeLoads;  // int8: 16 codes a load
        CHECK(mma_run_layout(config)->run == (runs_of_8 ? kRunsOf8 : whole));
        if (rows == 1) continue;
        MatmulConfig dynamic = config;
        dynamic.M = MSpec::buckets({1, rows});
        CHECK(mma_run_layout(dynamic)->run == mma_run_layout(config)->run);
      }
    }
  }
  MatmulConfig int8_activations = half_activations(DType::int2, 4096, 128);
  int8_activations.A_dtype = DType::int8;
  for (int64_t rows : {1, 6, 16}) {
    int8_activations.M = rows;
    CHECK(mma_run_layout(int8_activations)->run == 32);  // whole loads (64 codes) cut to fit the group of 128
  }
}

// Weights of millions of codes are rearranged in row ranges on several threads
// (compiler/weight_layout.cpp): every row must come out as that row alone does (a one-row config, one
// range), both ways, for a 4-bit and a 2-bit format at 16 rows (runs of 8) and 3 rows (whole loads).
TEST_CASE("large weights are rearranged row by row as each row alone is", "[layout]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (DType format : {DType::int4, DType::uint2}) {
    for (int64_t rows : {3, 16}) {
      MatmulConfig config = half_activations(format, 4096, 128);
      config.N = 2048 + 7;  // 8 M 4-bit codes and more: several ranges, not all of one size
      config.M = rows;
      const std::optional<MmaRunLayout> layout = mma_run_layout(config);
      REQUIRE(layout);
      INFO(to_string(format) << " M=" << rows << " run " << layout->run);
      const int64_t row_bytes = config.K * info(format).bits / 8;
      std::vector<uint8_t> general(size_t(config.N * row_bytes));
      std::uniform_int_distribution<int> byte(0, 255);
      for (uint8_t& b : general) b = uint8_t(byte(rng));
      const std::vector<uint8_t> runs = to_mma_runs(general, config, *layout);
      CHECK(from_mma_runs(runs, config, *layout) == general);
      MatmulConfig one_row = config;
      one_row.N = 1;
      int64_t differing_rows = 0;
      for (int64_t n = 0; n < config.N; ++n) {
        const std::span<const uint8_t> row(general.data() + n * row_bytes, size_t(row_bytes));
        const std::vector<uint8_t> alone = to_mma_runs(row, one_row, *layout);
        differing_rows += !std::equal(alone.begin(), alone.end(), runs.begin() + n * row_bytes);
      }
      CHECK(differing_rows == 0);
      CHECK(runs != general);  // the layout moves codes (split pairs, runs shorter than a load or both)
    }
  }
}

TEST_CASE("the mma_fragments layout puts each step's codes in the wgmma fragment's k order", "[layout]") {
  BITJIT_RANDOM_ENGINE(rng);
  const DType formats[] = {DType::int8, DType::uint4, DType::int2, DType::uint1, DType::nf4, DType::fp4_e2m1,
                           DType::float8_e5m2, DType::float16};
  int checked = 0;
  for (DType format : formats) {
    for (auto [K, group] : {std::pair<int64_t, int64_t>{512, 128}, {1024, 16}, {4096 / 8, -1}}) {
      MatmulConfig config = half_activations(format, K, group);
      config.M = MSpec::buckets({1, 256});
      config.N = 32;  // two channel tiles (16-bit weights: rows whole)
      const std::optional<MmaRunLayout> layout = fragment_order_layout(config);
      if (!layout) continue;
      CHECK(layout->run == 2);
      CHECK(layout->load_bytes == mma_run_layout(config)->load_bytes);  // the same k-blocks as tensor_gemm's
      const RandomWeights weights(config, rng);
      const std::vector<uint8_t> fragments = to_mma_runs(weights.general, config, *layout);
      CHECK(from_mma_runs(fragments, config, *layout) == weights.general);
      for (int64_t n = 0; n < config.N; ++n)
        for (int64_t k = 0; k < K; ++k) {
          INFO(to_string(format) << " K=" << K << " group=" << group << " n=" << n << " k=" << k);
          REQUIRE(code_read_by_wgmma(fragments, config, *layout, n, k) == weights.code(n, k));
        }
      ++checked;
    }
  }
  CHECK(checked >= 20);
  MatmulConfig int8_activations = half_activations(DType::int4, 512, 128);
  int8_activations.A_dtype = DType::int8;
  CHECK(mma_run_layout(int8_activations));
  CHECK_FALSE(fragment_order_layout(int8_activations));  // m16n8k32 steps: no wgmma family for int8 yet
}

// A bucket of at most 16 rows puts codes of at most 4 bits in tensor_gemv's runs of 8, and the Hopper
// kernels read that layout too, each lane decoding its fragment-order pairs from its quad's loads;
// every logical (n, k) must land where wgmma expects it. 8-bit codes (and runs shorter than 8) keep
// mma_fragments for the Hopper kernels.
TEST_CASE("the Hopper kernels read tensor_gemv's runs of 8 in the wgmma fragment's k order", "[layout]") {
  BITJIT_RANDOM_ENGINE(rng);
  const DType formats[] = {DType::int4, DType::uint4, DType::nf4, DType::fp4_e2m1, DType::int2, DType::uint2,
                           DType::int1, DType::uint1};
  int checked = 0;
  for (DType format : formats) {
    for (DType activations : {DType::float16, DType::bfloat16}) {
      MatmulConfig config = half_activations(format, 1024, 128);
      config.A_dtype = activations;
      config.M = MSpec::buckets({1, 16, 256});
      config.N = 32;  // two channel tiles
      const std::optional<MmaRunLayout> layout = wgmma_layout(config);
      REQUIRE(layout);
      CHECK(layout->channel_tiles);
      CHECK(layout->run == 8);
      CHECK(layout->load_bytes == mma_run_layout(config)->load_bytes);
      const RandomWeights weights(config, rng);
      const std::vector<uint8_t> runs = to_mma_runs(weights.general, config, *layout);
      for (int64_t n = 0; n < config.N; ++n)
        for (int64_t k = 0; k < config.K; ++k) {
          INFO(to_string(format) << " " << to_string(activations) << " n=" << n << " k=" << k);
          REQUIRE(code_read_by_wgmma_from_runs(runs, config, *layout, n, k) == weights.code(n, k));
          REQUIRE(code_read_by_kernel(runs, config, *layout, n, k) == weights.code(n, k));  // tensor_gemv's view
        }
      ++checked;
      // Every bucket above 16 rows: mma_fragments, as before.
      config.M = MSpec::buckets({17, 256});
      CHECK(wgmma_layout(config)->run == 2);
    }
  }
  CHECK(checked == 16);
  MatmulConfig eight_bit = half_activations(DType::uint8, 1024, 128);
  eight_bit.M = MSpec::buckets({1, 16, 256});
  CHECK(wgmma_layout(eight_bit)->run == 2);  // a word holds half a run: no per-word pattern to decode
  CHECK(mma_run_layout(eight_bit)->run == 8);
}

// weight_layout_id names every parameter that moves a code, so that stored weights are refused by
// kernels reading other bytes: the runs a three-row config reads (whole loads) against a dynamic M's
// (runs of 8), fp4's pair order per activation type, the weight type. The families that share one
// layout (tensor_gemv and the Hopper kernels of a dynamic M from one row) share one id.
TEST_CASE("weight_layout_id tells apart the layouts that give other bytes", "[layout]") {
  MatmulConfig few_rows = half_activations(DType::int4, 4096, 128);
  few_rows.N = 64;
  few_rows.M = 3;
  MatmulConfig buckets = few_rows;
  buckets.M = MSpec::buckets({1, 16, 256});
  const std::string few_rows_id = weight_layout_id(few_rows, KernelFamily::tensor_gemv);
  CHECK(few_rows_id == "mma_runs W=int4 N=64 K=4096 load=16 run=32 step=4 pairs=split tiles=16 rev=1");
  CHECK(weight_layout_id(few_rows, KernelFamily::tensor_gemm) == few_rows_id);
  CHECK(weight_layout_id(buckets, KernelFamily::tensor_gemv) ==
        "mma_runs W=int4 N=64 K=4096 load=16 run=8 step=4 pairs=split tiles=16 rev=1");
  CHECK(weight_layout_id(buckets, KernelFamily::tensor_wgmma_ws) == weight_layout_id(buckets, KernelFamily::tensor_gemv));
  MatmulConfig many_rows = few_rows;
  many_rows.M = 256;
  CHECK(weight_layout_id(many_rows, KernelFamily::tensor_wgmma_ws) ==
        "mma_fragments W=int4 N=64 K=4096 load=16 run=2 step=4 pairs=split rev=1");  // no bucket on tensor_gemv
  MatmulConfig from_one_row = many_rows;
  from_one_row.M = MSpec::buckets({1, 256});
  CHECK(weight_layout_id(from_one_row, KernelFamily::tensor_wgmma_ws) ==
        "mma_runs W=int4 N=64 K=4096 load=16 run=8 step=4 pairs=split tiles=16 rev=1");
  MatmulConfig rows_whole = from_one_row;
  rows_whole.N = 40;
  CHECK(weight_layout_id(rows_whole, KernelFamily::tensor_wgmma_ws) ==
        "mma_runs W=int4 N=40 K=4096 load=16 run=8 step=4 pairs=split rev=1");
  MatmulConfig other_type = few_rows;
  other_type.W_dtype = DType::uint4;
  CHECK(weight_layout_id(other_type, KernelFamily::tensor_gemv) != few_rows_id);
  MatmulConfig int32_sums = half_activations(DType::int4, 4096, -1);  // no tensor-core layout
  int32_sums.N = 64;
  int32_sums.accum_dtype = DType::int32;
  CHECK(weight_layout_id(int32_sums, KernelFamily::simt) == "general W=int4 N=64 K=4096 rev=1");
  MatmulConfig fp4 = few_rows;
  fp4.W_dtype = DType::fp4_e2m1;
  CHECK(contains(weight_layout_id(fp4, KernelFamily::tensor_gemv), " pairs=split "));
  fp4.A_dtype = DType::float8_e4m3;
  CHECK(contains(weight_layout_id(fp4, KernelFamily::tensor_gemv), " pairs=natural "));
  MatmulConfig int8_activations = few_rows;
  int8_activations.A_dtype = DType::int8;
  CHECK(contains(weight_layout_id(int8_activations, KernelFamily::tensor_gemv), " step=8 pairs=byte_lanes "));
}
