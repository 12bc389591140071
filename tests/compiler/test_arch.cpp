// The arch table (compiler/arch.hpp): its rows agree with their names, the Hopper families stay on
// the archs with wgmma, and the Blackwell rows (sm_100a, sm_120a) get the mma.sync and CUDA-core
// families, whose default kernels NVRTC compiles to SASS for them (no GPU needed).
#include <fstream>
#include <set>

#include "common/error.hpp"
#include "compiler/arch.hpp"
#include "compiler/lower.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/text.hpp"
#include "tuning_db/kernel_file.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

const std::vector<std::string> kBlackwell = {"sm_100a", "sm_120a"};

// A default kernel of each non-Hopper family and the family the defaults give it on every arch
// without wgmma.
struct FamilySample {
  const char* what;
  MatmulConfig config;
  KernelFamily family;
};

std::vector<FamilySample> family_samples() {
  MatmulConfig narrow_groups = uint4_zeros_config(16, 64, 256, 8);  // groups of 8: no tensor-core layout
  MatmulConfig fp8_int8;  // int8 weights are not exact in e4m3: no fp8 mma, and gemv takes 16-bit A only
  fp8_int8.M = 4;
  fp8_int8.N = 64;
  fp8_int8.K = 256;
  fp8_int8.A_dtype = DType::float8_e4m3;
  fp8_int8.W_dtype = DType::int8;
  fp8_int8.accum_dtype = DType::float32;
  fp8_int8.with_scaling = true;
  fp8_int8.group_size = 128;
  return {{"W4A16 g128, M = 16", w4a16_g128_config(16, 256, 1024), KernelFamily::tensor_gemv},
          {"W4A16 g128, M = 128", w4a16_g128_config(128, 256, 1024), KernelFamily::tensor_gemm},
          {"uint4 with zeros in groups of 8", narrow_groups, KernelFamily::gemv},
          {"fp8 activations, int8 weights", fp8_int8, KernelFamily::simt}};
}

}  // namespace

TEST_CASE("every arch row agrees with its name and capabilities", "[arch]") {
  std::set<std::string> names;
  for (const ArchInfo& row : arch_table()) {
    const std::string name = row.name;
    INFO(name);
    CHECK(names.insert(name).second);
    const std::string number = "sm_" + std::to_string(row.cc_major) + std::to_string(row.cc_minor);
    CHECK((name == number || name == number + "a"));
    CHECK(&arch_info(name) == &row);
    CHECK(arch_for_compute_capability(row.cc_major, row.cc_minor) == name);
    CHECK(row.shared_bytes_per_sm > row.shared_bytes_per_block);
    CHECK(row.reference.sm_count > 0);
    CHECK(row.reference.dram_gbps > 0);
    CHECK(row.reference.mma_tflops > 0);
    // wgmma is sm_90a-only code, and its warp-specialized family loads by TMA.
    CHECK(row.has_wgmma == (name == "sm_90a"));
    CHECK(row.has_wgmma == (row.reference.wgmma_tflops > 0));
    CHECK((!row.has_wgmma || row.has_tma));
  }
  CHECK(archs_with(&ArchInfo::has_fp8_mma) == "sm_89, sm_90a, sm_100a, sm_120a");
  CHECK(archs_with(&ArchInfo::has_tma) == "sm_90a, sm_100a, sm_120a");
  CHECK_THROWS_WITH(arch_info("sm_100"),
                    "arch='sm_100' is not supported; allowed: sm_80, sm_86, sm_89, sm_90a, sm_100a, sm_120a");
}

TEST_CASE("the Blackwell archs get the mma.sync and CUDA-core families, never the Hopper ones", "[arch][schedule]") {
  // Buckets from 64 rows up: tensor_wgmma_ws serves them on sm_90a, and nothing Hopper may serve
  // them elsewhere.
  const MatmulConfig buckets = w4a16_g128_config(MSpec::buckets({64, 256, 4096}), 8192, 8192);
  CHECK(default_schedule(buckets, "sm_90a", 4096).family == KernelFamily::tensor_wgmma_ws);
  for (const std::string& arch : kBlackwell) {
    INFO(arch);
    for (const TileSchedule& s : default_bucket_schedules(buckets, arch)) {
      CHECK_FALSE(is_hopper_family(s.family));
      CHECK(schedule_error_on(buckets, s, arch).empty());
    }
    CHECK(default_schedule(buckets, arch, 4096).family == KernelFamily::tensor_gemm);
    // The sm_90a defaults: refused, naming the archs that have the instructions.
    const TileSchedule hopper = default_schedule(buckets, "sm_90a", 4096);
    CHECK(contains(schedule_error_on(buckets, hopper, arch),
                   "family=tensor_wgmma_ws needs wgmma (archs with it: sm_90a), got arch=" + arch));
    TileSchedule unspecialized = wgmma_128x128_schedule(3);
    unspecialized.pipeline.vector_bytes = hopper.pipeline.vector_bytes;
    unspecialized.pipeline.k_per_stage = hopper.pipeline.k_per_stage;
    CHECK(contains(schedule_error_on(buckets, unspecialized, arch),
                   "family=tensor_wgmma needs wgmma (archs with it: sm_90a), got arch=" + arch));
    for (const FamilySample& sample : family_samples()) {
      INFO(sample.what);
      CHECK(default_schedule(sample.config, arch).family == sample.family);
    }
  }
}

// A default kernel of each family the Blackwell rows take, compiled by NVRTC for both: the cubin's
// ELF header names the arch, the tensor-core families run on HMMA and the CUDA-core ones use no
// tensor instruction (cuobjdump's SASS, read by scripts/sass-opcodes.py as the sm_90a scan does).
TEST_CASE("default kernels of the mma.sync and CUDA-core families compile to SASS for sm_100a and sm_120a",
          "[arch][codegen][nvrtc][sass]") {
  const TemporaryDirectory tensor_cubins, cuda_core_cubins;
  int index = 0;
  for (const FamilySample& sample : family_samples()) {
    for (const std::string& arch : kBlackwell) {
      INFO(sample.what << " on " << arch);
      const GeneratedKernel kernel = emit_kernel(sample.config, default_schedule(sample.config, arch), arch);
      const CompiledKernel binary =
          compile_cuda({kernel.source, kernel.file_name, arch, {}, canonical_form(sample.config), CompileOutput::cubin});
      const std::string_view cubin(binary.cubin.data(), binary.cubin.size());
      CHECK(db::cubin_arch_problem(cubin, arch) == std::nullopt);
      const bool tensor = sample.family == KernelFamily::tensor_gemv || sample.family == KernelFamily::tensor_gemm;
      const TemporaryDirectory& folder = tensor ? tensor_cubins : cuda_core_cubins;
      std::ofstream(folder.path() / (std::to_string(index++) + "_" + arch + ".cubin"), std::ios::binary)
          .write(cubin.data(), std::streamsize(cubin.size()));
    }
  }
  const std::string script = std::string(BITJIT_SOURCE_DIR) + "/scripts/sass-opcodes.py";
  const ProcessResult tensor = run_process({"/usr/bin/env", "python3", script, "--expect", "HMMA", tensor_cubins.str()});
  if (tensor.exit_code == 3) BITJIT_SKIP("no cuobjdump to read the SASS with (scripts/install-deps.sh installs it)");
  INFO(tensor.out << tensor.err);
  CHECK(tensor.exit_code == 0);
  CHECK(contains(tensor.out, "4 kernels checked, 0 breaking the rules"));
  const ProcessResult cuda_core =
      run_process({"/usr/bin/env", "python3", script, "--forbid", "HMMA", "--forbid", "QMMA", cuda_core_cubins.str()});
  INFO(cuda_core.out << cuda_core.err);
  CHECK(cuda_core.exit_code == 0);
  CHECK(contains(cuda_core.out, "4 kernels checked, 0 breaking the rules"));
}
