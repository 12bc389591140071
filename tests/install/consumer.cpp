// Generates and compiles a W4A16 kernel for sm_90a through the installed package's headers and
// library: no GPU needed (NVRTC only). Exits non-zero, saying why, on any failure.
#include <bitjit/bitjit.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

int main() {
  try {
    bitjit::MatmulConfig config;
    config.M = bitjit::MSpec::buckets({1, 16});
    config.N = 256;
    config.K = 512;
    config.W_dtype = bitjit::DType::int4;
    config.accum_dtype = bitjit::DType::float32;
    config.with_scaling = true;
    config.group_size = 128;
    bitjit::validate(config);

    const bitjit::TileSchedule schedule = bitjit::default_schedule(config, "sm_90a");
    const bitjit::GeneratedKernel kernel = bitjit::emit_kernel(config, schedule, "sm_90a");
    const bitjit::CompiledKernel binary =
        bitjit::compile_cuda({kernel.source, kernel.file_name, "sm_90a", {}, bitjit::canonical_form(config)});
    if (binary.cubin.size() < 4 || binary.cubin[0] != 0x7f || binary.cubin[1] != 'E') {
      std::fprintf(stderr, "compile_cuda returned %zu bytes that are not an ELF cubin\n", binary.cubin.size());
      return 1;
    }
    std::printf("bitjit %s: %s compiled for %s by NVRTC %s: %zu bytes of cubin\n", bitjit::version(),
                kernel.file_name.c_str(), binary.arch.c_str(), bitjit::nvrtc_version().c_str(), binary.cubin.size());

    // The user-facing API: a kernel per M bucket, compiled and stored in the database
    // (BITJIT_CACHE_DIR); the module loads on the first run, which needs a GPU.
    const uint64_t compiles_before = bitjit::nvrtc_compile_count();
    bitjit::MatmulOptions options;
    options.arch = "sm_90a";
    const bitjit::Matmul matmul = bitjit::Matmul::create(config, options);
    if (matmul.arch() != "sm_90a" || bitjit::nvrtc_compile_count() == compiles_before) {
      std::fprintf(stderr, "Matmul::create: arch %s, %llu compiles\n", matmul.arch().c_str(),
                   static_cast<unsigned long long>(bitjit::nvrtc_compile_count() - compiles_before));
      return 1;
    }
    std::printf("Matmul::create for %s: %llu kernel(s) compiled\n", matmul.arch().c_str(),
                static_cast<unsigned long long>(bitjit::nvrtc_compile_count() - compiles_before));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
