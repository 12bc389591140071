// The shared memory the host plans for each kernel against what the compiled kernel holds, without a
// GPU: every entry point's default kernel for its sample config (tests/support/kernel_samples.hpp) is
// compiled by NVRTC with one more symbol, the device code's own dynamic-shared-memory need
// (<entry point>_dynamic_shared_bytes in its header), read back from the cubin's symbol table; the
// static shared memory is the size of the kernel's .nv.shared section, which the driver adds to the
// dynamic bytes of the launch.
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "compiler/lower.hpp"
#include "compiler/schedule.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/kernel_samples.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

constexpr const char* kProbeSymbol = "bitjit_probe_dynamic_shared_bytes";

template <class T>
T read_at(std::string_view elf, uint64_t offset) {
  REQUIRE(offset + sizeof(T) <= elf.size());
  T value;
  std::memcpy(&value, elf.data() + offset, sizeof(T));
  return value;
}

// The sections of a 64-bit little-endian ELF image (a cubin): name, file offset, size, link.
struct Section {
  std::string name;
  uint64_t offset, size;
  uint32_t type, link;
};

std::vector<Section> elf_sections(std::string_view elf) {
  REQUIRE(elf.substr(0, 4) == "\x7f" "ELF");
  const auto headers = read_at<uint64_t>(elf, 0x28);
  const auto entry_size = read_at<uint16_t>(elf, 0x3A), count = read_at<uint16_t>(elf, 0x3C),
             names_index = read_at<uint16_t>(elf, 0x3E);
  std::vector<Section> sections(count);
  for (uint16_t i = 0; i < count; ++i) {
    const uint64_t header = headers + uint64_t(i) * entry_size;
    sections[i] = {std::to_string(read_at<uint32_t>(elf, header)), read_at<uint64_t>(elf, header + 0x18),
                   read_at<uint64_t>(elf, header + 0x20), read_at<uint32_t>(elf, header + 4),
                   read_at<uint32_t>(elf, header + 0x28)};
  }
  REQUIRE(names_index < count);
  const Section& names = sections[names_index];
  for (Section& section : sections) section.name = std::string(elf.data() + names.offset + std::stoul(section.name));
  return sections;
}

// The size of the kernel's .nv.shared section (none: no static shared memory).
uint64_t static_shared_of(const std::vector<Section>& sections) {
  for (const Section& section : sections)
    if (section.name == std::string(".nv.shared.") + kKernelName) return section.size;
  return 0;
}

// The 4-byte value of a defined symbol, read from its section's data.
std::optional<int32_t> symbol_value(std::string_view elf, const std::vector<Section>& sections, std::string_view name) {
  constexpr uint32_t kSymbolTable = 2;
  for (const Section& table : sections) {
    if (table.type != kSymbolTable) continue;
    const Section& strings = sections.at(table.link);
    for (uint64_t entry = table.offset; entry + 24 <= table.offset + table.size; entry += 24) {
      const char* symbol_name = elf.data() + strings.offset + read_at<uint32_t>(elf, entry);
      if (symbol_name != name) continue;
      const auto section_index = read_at<uint16_t>(elf, entry + 6);
      const auto value = read_at<uint64_t>(elf, entry + 8);
      return read_at<int32_t>(elf, sections.at(section_index).offset + value);
    }
  }
  return std::nullopt;
}

// Each sample's default kernel compiled once, with the probe symbol, for both test cases.
struct CompiledSample {
  SampledKernel sample;
  std::vector<char> cubin;
};

const std::vector<CompiledSample>& compiled_samples() {
  static const std::vector<CompiledSample> all = [] {
    std::vector<CompiledSample> compiled;
    for (const SampledKernel& k : sampled_kernels()) {
      const GeneratedKernel kernel = emit_kernel(k.sample.config, k.schedule, k.sample.arch);
      const std::string probe = kernel.source + "\nextern \"C\" __constant__ int " + kProbeSymbol + " = " +
                                k.kernel->function + "_dynamic_shared_bytes<Problem, Tiles>();\n";
      compiled.push_back({k, compile_cuda({probe, kernel.file_name, k.sample.arch, {}, canonical_form(k.sample.config),
                                           CompileOutput::cubin})
                                 .cubin});
    }
    return compiled;
  }();
  return all;
}

// The static shared memory of the schedule's kernel for the config, compiled for `arch`.
uint64_t compiled_static_shared(const MatmulConfig& config, const TileSchedule& s, const std::string& arch) {
  const GeneratedKernel kernel = emit_kernel(config, s, arch);
  const std::vector<char> cubin =
      compile_cuda({kernel.source, kernel.file_name, arch, {}, canonical_form(config), CompileOutput::cubin}).cubin;
  return static_shared_of(elf_sections(std::string_view(cubin.data(), cubin.size())));
}

std::string describe(const SampledKernel& k) {
  return std::string(k.kernel->function) + " " + canonical_form(k.sample.config) + " " + canonical_form(k.schedule) +
         " on " + k.sample.arch;
}

}  // namespace

TEST_CASE("every entry point's default kernel uses the dynamic shared memory the host launches it with",
          "[nvrtc][shared]") {
  for (const CompiledSample& compiled : compiled_samples()) {
    const SampledKernel& k = compiled.sample;
    INFO(describe(k));
    const std::string_view elf(compiled.cubin.data(), compiled.cubin.size());
    const std::optional<int32_t> device_dynamic = symbol_value(elf, elf_sections(elf), kProbeSymbol);
    REQUIRE(device_dynamic.has_value());
    CHECK(*device_dynamic == dynamic_shared_bytes(k.sample.config, k.schedule));
    const KernelPlan plan = plan_kernel(k.sample.config, k.schedule, k.sample.arch);
    CHECK(*device_dynamic == int64_t(launch_shape(plan, k.sample.rows, 132).shared_bytes));
  }
}

// The static bytes are the kernel's own variables and, for the Hopper families, the compiler's
// rounding and reserve before the 1024-byte aligned ring: the host counted the latter short for
// tensor_wgmma_ws (1152 bytes where the cubin holds 2048) and the former without tensor_gemv's warps'
// sums until this test showed it.
TEST_CASE("every entry point's default kernel holds the static shared memory the host counts", "[nvrtc][shared]") {
  for (const CompiledSample& compiled : compiled_samples()) {
    const SampledKernel& k = compiled.sample;
    INFO(describe(k));
    const std::string_view elf(compiled.cubin.data(), compiled.cubin.size());
    CHECK(static_shared_of(elf_sections(elf)) == uint64_t(static_shared_bytes(k.sample.config, k.schedule, k.sample.arch)));
  }
}

// tensor_gemv's shared memory is all static: the warps' sums (warps.k x tile.n / 16 tiles x row halves
// x 512 bytes) and nf4's 32 KiB pair table. No kernel may hold more than 48 KiB of it, and where a
// schedule asked for more, ptxas refused it at compile time ("uses too much shared data"); the schedule
// check refuses it now, and what it takes compiles, holding what the host counts.
TEST_CASE("tensor_gemv takes the warps' sums that fit 48 KiB of static shared memory and refuses more",
          "[nvrtc][shared]") {
  int accepted = 0, refused = 0;
  for (DType format : {DType::int4, DType::nf4})
    for (const char* arch : {"sm_80", "sm_90a"})
      for (int warps_k : {4, 8, 12, 16})
        for (int tile_n : {32, 64}) {
          MatmulConfig config = w4a16_g128_config(16, 512, 4096);
          config.W_dtype = format;
          TileSchedule s = default_schedule(config, arch);
          REQUIRE(s.family == KernelFamily::tensor_gemv);
          s.warps.k = warps_k;
          s.tile.m = 16;
          s.tile.n = tile_n;
          s.pipeline.split_k = 1;
          INFO(canonical_form(config) << " " << canonical_form(s) << " on " << arch);
          const std::string error = schedule_error_on(config, s, arch);
          if (static_shared_bytes(config, s, arch) > 48 * 1024) {
            CHECK(contains(error, "bytes of static shared memory"));
            CHECK(contains(error, "warps.k=" + std::to_string(warps_k)));
            ++refused;
          } else {
            REQUIRE(error.empty());
            CHECK(compiled_static_shared(config, s, arch) == uint64_t(static_shared_bytes(config, s, arch)));
            ++accepted;
          }
        }
  CHECK(accepted >= 8);
  CHECK(refused >= 8);
}

// The pair table is nf4's alone: 32 KB of static shared memory (a copy per lane) in the small-M
// families and the Hopper ones' narrower tiles, 8 KB (8 copies) in the Hopper 256-row tiles, which
// then keep three stages; fp4 decodes by placing its code bits (PairDecode::fp4_bits) and holds none.
// The host's count and the cubins agree for both, in the families that decode pairs, fp16 and bf16.
TEST_CASE("the static shared memory of nf4 holds its pair table and fp4 none", "[nvrtc][shared]") {
  const std::pair<const char*, int64_t> families[] = {{"sm_80", 16}, {"sm_80", 64}, {"sm_90a", 256}, {"sm_90a", 4096}};
  int checked = 0;
  for (DType format : {DType::nf4, DType::fp4_e2m1})
    for (DType activations : {DType::float16, DType::bfloat16})
      for (const auto& [arch, rows] : families) {
        MatmulConfig config = w4a16_g128_config(rows, 256, 1024);
        config.W_dtype = format;
        config.A_dtype = config.out_dtype = activations;
        const TileSchedule s = default_schedule(config, arch);
        INFO(canonical_form(config) << " " << canonical_form(s) << " on " << arch);
        const uint64_t device_static = compiled_static_shared(config, s, arch);
        CHECK(device_static == uint64_t(static_shared_bytes(config, s, arch)));
        const int copies = s.tile.m == 256 ? 8 : 32;
        if (format == DType::nf4) CHECK(device_static >= uint64_t(256 * copies * 4));
        else CHECK(device_static < uint64_t(256 * copies * 4));
        if (rows == 256) CHECK(s.tile.m == 128);
        if (rows == 4096) CHECK(s.tile.m == 256);  // as int4's default
        ++checked;
      }
  CHECK(checked == 16);
}

// From compute capability 9.0 on ptxas reserves 1024 bytes of static shared memory in every kernel
// that uses shared memory (tensor_gemv int4: 9216 bytes on sm_90a, 8192 on sm_80); the host counted
// it for the Hopper families only, so the mma.sync and CUDA-core kernels' rings were planned 1 KB
// too large on sm_90a, sm_100a and sm_120a. Every entry point that is not sm_90a-only, compiled with
// its sample's schedule for those three archs, against the host's count.
TEST_CASE("the entry points' static shared memory on sm_90a and newer includes the compiler's reserve", "[nvrtc][shared]") {
  int checked = 0;
  for (const SampledKernel& k : sampled_kernels()) {
    if (k.sample.arch == "sm_90a") continue;  // the Hopper kernels: the test above
    for (const char* arch : {"sm_90a", "sm_100a", "sm_120a"}) {
      INFO(describe(k) << " compiled for " << arch);
      if (!is_valid_schedule(k.sample.config, k.schedule, arch)) continue;
      CHECK(compiled_static_shared(k.sample.config, k.schedule, arch) ==
            uint64_t(static_shared_bytes(k.sample.config, k.schedule, arch)));
      ++checked;
    }
  }
  CHECK(checked >= 15);
}
