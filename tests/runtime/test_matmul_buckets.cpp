// Dynamic M: Matmul::create builds one kernel per M bucket (shared where the schedules agree) and
// run() dispatches on the call's M. Checked through the chosen schedules; compiling for an explicit
// arch needs no GPU.
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
  CHECK(matmul.schedule_for(1).block_m == 8);
  CHECK(canonical_form(matmul.schedule_for(1)) == canonical_form(matmul.schedule_for(8)));  // one shared kernel
  CHECK(matmul.schedule_for(9).block_m == 16);
  CHECK(matmul.schedule_for(16).family == KernelFamily::tensor_gemv);
  CHECK(matmul.schedule_for(17).family == KernelFamily::tensor_gemm);
  CHECK(matmul.schedule_for(17).block_m == 64);
  CHECK(matmul.schedule_for(200).block_m == 64);
  CHECK(matmul.schedule_for(1000).block_m == 128);
  // Above every bucket: the largest bucket's kernel, which takes any M.
  CHECK(canonical_form(matmul.schedule_for(5000)) == canonical_form(matmul.schedule()));
  CHECK(contains(matmul.source_for(1), "bitjit::tensor_gemv<Problem, Tiles>"));
  CHECK(contains(matmul.source(), "bitjit::tensor_gemm<Problem, Tiles>"));
  // The weights are laid out once for every bucket: runs of 8 k, as the largest bucket needs.
  CHECK(contains(matmul.source_for(1), "static constexpr int kRun = 8;"));

  // An explicit schedule serves every bucket.
  const Matmul pinned = Matmul::create(config, {"sm_90a", matmul.schedule_for(1)});
  CHECK(canonical_form(pinned.schedule_for(1024)) == canonical_form(matmul.schedule_for(1)));
}
