// Dynamic M: Matmul::create builds one kernel per M bucket (shared where the schedules agree) and
// run() dispatches on the call's M. Checked through the chosen schedules; compiling for an explicit
// arch needs no GPU.
#include "compiler/weight_layout.hpp"
#include "runtime/matmul.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

TEST_CASE("each M bucket gets its own kernel and a call takes the smallest bucket holding its M", "[runtime]") {
  TemporaryDirectory cache;
  ScopedEnv use_cache("BITJIT_CACHE_DIR", cache.str());
  const MatmulConfig config = w4a16_g128_config(MSpec::buckets({1, 8, 16, 64, 256, 1024}), 8192, 512);
  const Matmul matmul = Matmul::create(config, {"sm_90a"});

  CHECK(matmul.schedule_for(1).family == KernelFamily::tensor_gemv);
  CHECK(matmul.schedule_for(1).tile.m == 8);
  CHECK(canonical_form(matmul.schedule_for(1)) == canonical_form(matmul.schedule_for(8)));  // one shared kernel
  CHECK(matmul.schedule_for(9).tile.m == 16);
  CHECK(matmul.schedule_for(16).family == KernelFamily::tensor_gemv);
  // From 17 rows the Hopper family, on the same weights (runs of 8 k, read in fragment order).
  CHECK(matmul.schedule_for(17).family == KernelFamily::tensor_wgmma_ws);
  CHECK(matmul.schedule_for(17).tile.m == 64);
  CHECK(matmul.schedule_for(200).tile.m == 128);
  CHECK(matmul.schedule_for(1000).tile.m == 256);
  // Above every bucket: the largest bucket's kernel, which takes any M.
  CHECK(canonical_form(matmul.schedule_for(5000)) == canonical_form(matmul.schedule()));
  CHECK(contains(matmul.source_for(1), "bitjit::tensor_gemv<Problem, Tiles>"));
  CHECK(contains(matmul.source(), "bitjit::tensor_wgmma_ws<Problem, Tiles>"));
  // The weights are laid out once for every bucket: runs of 8 k, which the Hopper kernels read too.
  CHECK(contains(matmul.source_for(1), "static constexpr int kRun = 8;"));
  CHECK(contains(matmul.source(), "static constexpr int kStoredRun = 8;"));
  CHECK(matmul.weight_layout() == WeightLayout::mma_runs);

  // Without wgmma (sm_80): tensor_gemm from 17 rows.
  const Matmul ampere = Matmul::create(config, {"sm_80"});
  CHECK(ampere.schedule_for(17).family == KernelFamily::tensor_gemm);
  CHECK(ampere.schedule_for(17).tile.m == 64);
  CHECK(ampere.schedule_for(200).tile.m == 64);
  CHECK(ampere.schedule_for(1000).tile.m == 128);
  CHECK(contains(ampere.source(), "bitjit::tensor_gemm<Problem, Tiles>"));

  // A call's M past every bucket is bounded like a config's dimensions: refused by name before any
  // device work (no GPU needed to see it).
  const int64_t too_many = kLargestDimension + 1;
  const std::vector<uint8_t> byte(16);
  try {
    matmul.run(TensorView(byte.data(), DType::float16, {too_many, config.K}), TensorView(), TensorView(), TensorView(),
               TensorView(), TensorView());
    FAIL("a call with M = 2^31 ran");
  } catch (const ConfigError& error) {
    CHECK(contains(error.what(), "A has M=2147483648 rows; M must be at most 2147483647 (split the call along M)"));
  }

  // An explicit schedule serves every bucket.
  const Matmul pinned = Matmul::create(config, {"sm_90a", matmul.schedule_for(1)});
  CHECK(canonical_form(pinned.schedule_for(1024)) == canonical_form(matmul.schedule_for(1)));
}

// The weight layout follows the config and the kernels: with a bucket of at most 16 rows every
// family reads tensor_gemv's runs of 8 (an explicit tensor_wgmma schedule too); with every bucket
// above 16 rows the Hopper families read mma_fragments (runs of 2) and an explicit tensor_gemm
// schedule mma_runs; transform_weight produces the one the kernels read, and weight_layout_id names
// it (equal where the bytes are).
TEST_CASE("the weight layout follows the buckets and the kernels", "[runtime][layout]") {
  TemporaryDirectory cache;
  ScopedEnv use_cache("BITJIT_CACHE_DIR", cache.str());
  std::vector<int8_t> values(size_t(256 * 512));
  for (size_t i = 0; i < values.size(); ++i) values[i] = int8_t(int(i * 7 % 16) - 8);  // every int4 value

  const MatmulConfig small = w4a16_g128_config(MSpec::buckets({16, 256}), 256, 512);
  const Matmul by_default = Matmul::create(small, {"sm_90a"});
  const Matmul hopper = Matmul::create(small, {"sm_90a", wgmma_128x128_schedule(3)});
  CHECK(by_default.weight_layout() == WeightLayout::mma_runs);
  CHECK(hopper.weight_layout() == WeightLayout::mma_runs);
  CHECK(hopper.schedule_for(16).family == KernelFamily::tensor_wgmma);  // one schedule for every bucket
  CHECK(contains(hopper.source(), "kStoredRun = 8"));
  CHECK(by_default.transform_weight(values).bytes == hopper.transform_weight(values).bytes);
  CHECK(by_default.weight_layout_id() == hopper.weight_layout_id());  // the same bytes, the same name

  const MatmulConfig large = w4a16_g128_config(MSpec::buckets({17, 256}), 256, 512);
  const Matmul fragments_by_default = Matmul::create(large, {"sm_90a"});
  const Matmul gemm = Matmul::create(large, {"sm_90a", default_schedule(large, "sm_80")});
  CHECK(is_hopper_family(fragments_by_default.schedule().family));
  CHECK(fragments_by_default.weight_layout() == WeightLayout::mma_fragments);
  CHECK(contains(fragments_by_default.source(), "kStoredRun = 2"));
  CHECK(gemm.schedule().family == KernelFamily::tensor_gemm);
  CHECK(gemm.weight_layout() == WeightLayout::mma_runs);
  const HostTensor runs = gemm.transform_weight(values), fragments = fragments_by_default.transform_weight(values);
  CHECK(runs.bytes != fragments.bytes);
  CHECK(gemm.weight_layout_id() != fragments_by_default.weight_layout_id());  // other bytes, another name
  // The same weights, two arrangements: both undo to the same general_compress bytes.
  CHECK(from_mma_runs(runs.bytes, large, *mma_run_layout(large)) ==
        from_mma_runs(fragments.bytes, large, *fragment_order_layout(large)));
}

// Each bucket's kernel asks for the alignment its own loads need, checked before any device work
// (so no GPU is needed to see it): tensor_gemv's 16-byte activation quads (runs of 8 k) refuse an A
// 8 bytes past a 16-byte boundary, which its 8-byte alignment let through to a misaligned-address
// fault on the GPU; the Hopper kernel's TMA asks 16 bytes too.
TEST_CASE("a call's A is checked against the alignment of its bucket's kernel", "[runtime]") {
  TemporaryDirectory cache;
  ScopedEnv use_cache("BITJIT_CACHE_DIR", cache.str());
  const MatmulConfig config = w4a16_g128_config(MSpec::buckets({1, 16, 64}), 256, 512);
  const Matmul matmul = Matmul::create(config, {"sm_90a"});
  REQUIRE(matmul.schedule_for(1).family == KernelFamily::tensor_gemv);
  REQUIRE(contains(matmul.source_for(1), "static constexpr int kRun = 8;"));
  alignas(16) static uint8_t bytes[64];
  for (const int64_t rows : {1, 16, 64}) {
    INFO(rows << " rows: " << canonical_form(matmul.schedule_for(rows)));
    try {
      matmul.run(TensorView(bytes + 8, DType::float16, {rows, config.K}), TensorView(), TensorView(), TensorView(),
                 TensorView(), TensorView());
      FAIL("an A 8 bytes past a 16-byte boundary was launched");
    } catch (const ConfigError& error) {
      CHECK(contains(error.what(), "Matmul::run: A at "));
      CHECK(contains(error.what(), " is not aligned to 16 bytes, which this kernel's loads need"));
    }
  }
}
