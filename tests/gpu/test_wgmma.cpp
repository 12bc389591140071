// The wgmma primitives of templates/bitjit/mma/wgmma.cuh, one layout fact at a time: a single m64n8k16
// step with A from registers (the m16n8k16 fragment order the tensor-core families decode into) and
// with A from shared memory, B from shared memory in K-major core matrices; and the int8 m64n64k32
// step with signed or unsigned A bytes from registers (W4A8's). Compiles for sm_90a on
// any machine; runs on a Hopper GPU.
#include <sstream>

#include "compiler/float_codec.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/module.hpp"
#include "runtime/nvrtc.hpp"
#include "tests/gpu/gpu_check.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"

using namespace bitjit;

namespace {

const char* kWgmmaCheckSource = R"(
#include "bitjit/mma/wgmma.cuh"
using namespace bitjit;

// Element (row, k) of a [rows, 16] tile in K-major core matrices: core (row / 8, k / 8) at
// ((row / 8) * 2 + k / 8) * 64 halves, then 8 halves per row.
__device__ int core_offset(int row, int k) { return ((row / 8) * 2 + k / 8) * 64 + (row % 8) * 8 + k % 8; }

// A [64, 16], B [8, 16] fp16 row-major; D = A * B^T [64, 8] float32, from the register-A and the
// shared-A forms. leading / stride: the descriptors' byte offsets between core matrices adjacent in
// K and in rows (128 and 256 for this layout).
extern "C" __global__ void __launch_bounds__(128)
wgmma_check(const uint16_t* A, const uint16_t* B, float* register_a, float* shared_a, unsigned leading, unsigned stride) {
  __shared__ alignas(128) uint16_t a_tile[64 * 16];
  __shared__ alignas(128) uint16_t b_tile[8 * 16];
  for (int i = threadIdx.x; i < 64 * 16; i += 128) a_tile[core_offset(i / 16, i % 16)] = A[i];
  for (int i = threadIdx.x; i < 8 * 16; i += 128) b_tile[core_offset(i / 16, i % 16)] = B[i];
  fence_shared_for_async();
  __syncthreads();
  const int warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
  const int row = 16 * warp + g;
  auto pair = [&](int r, int k) { return uint32_t(A[r * 16 + k]) | (uint32_t(A[r * 16 + k + 1]) << 16); };
  const uint32_t a[4] = {pair(row, 2 * t), pair(row + 8, 2 * t), pair(row, 2 * t + 8), pair(row + 8, 2 * t + 8)};
  float from_registers[4] = {0.0f, 0.0f, 0.0f, 0.0f}, from_shared[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const uint64_t b = shared_descriptor(b_tile, leading, stride);
  wgmma_fence();
  wgmma_64x8x16_f16_rs(from_registers, a, b, false);
  wgmma_64x8x16_f16_ss(from_shared, shared_descriptor(a_tile, leading, stride), b, false);
  wgmma_commit();
  wgmma_wait<0>();
  for (int c = 0; c < 4; ++c) {
    const int index = (row + (c >= 2 ? 8 : 0)) * 8 + 2 * t + (c & 1);
    register_a[index] = from_registers[c];
    shared_a[index] = from_shared[c];
  }
}

// The int8 form W4A8 runs (wgmma_64xNx32_rs_int8): A [64, 32] bytes (s8 or u8) row-major, from
// registers in m16n8k32's fragment order; B [64, 32] int8 row-major, in K-major core matrices of 8 rows
// x 16 bytes (core (row / 8, k / 16) at ((row / 8) * 2 + k / 16) * 128 bytes: leading 128, stride 256).
// D = A * B^T [64, 64] int32.
template <bool kUnsigned>
__device__ void wgmma_int8_check(const uint8_t* A, const uint8_t* B, int* D) {
  __shared__ alignas(128) uint8_t b_tile[64 * 32];
  for (int i = threadIdx.x; i < 64 * 32; i += 128) {
    const int row = i / 32, k = i % 32;
    b_tile[((row / 8) * 2 + k / 16) * 128 + (row % 8) * 16 + k % 16] = B[i];
  }
  fence_shared_for_async();
  __syncthreads();
  const int warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
  const int row = 16 * warp + g;
  auto quad = [&](int r, int k) { return *reinterpret_cast<const uint32_t*>(A + r * 32 + k); };
  const uint32_t a[4] = {quad(row, 4 * t), quad(row + 8, 4 * t), quad(row, 16 + 4 * t), quad(row + 8, 16 + 4 * t)};
  int d[32];
  for (int i = 0; i < 32; ++i) d[i] = 0;
  wgmma_fence();
  wgmma_64xNx32_rs_int8<kUnsigned, 64>(d, a, shared_descriptor(b_tile, 128, 256), false);
  wgmma_commit();
  wgmma_wait<0>();
  for (int j = 0; j < 8; ++j)
    for (int c = 0; c < 4; ++c) D[(row + (c >= 2 ? 8 : 0)) * 64 + 8 * j + 2 * t + (c & 1)] = d[4 * j + c];
}

extern "C" __global__ void __launch_bounds__(128) wgmma_s8_check(const uint8_t* A, const uint8_t* B, int* D) {
  wgmma_int8_check<false>(A, B, D);
}
extern "C" __global__ void __launch_bounds__(128) wgmma_u8_check(const uint8_t* A, const uint8_t* B, int* D) {
  wgmma_int8_check<true>(A, B, D);
}
)";

CompiledKernel compile_check() {
  return compile_cuda({kWgmmaCheckSource, "wgmma_check.cu", "sm_90a", {}, "wgmma layout check"});
}

}  // namespace

TEST_CASE("the wgmma primitives assemble for sm_90a", "[wgmma]") {
  const CompiledKernel kernel = compile_check();
  CHECK(kernel.cubin.size() > 1000);
}

TEST_CASE("one wgmma step matches the CPU with A from registers and from shared memory", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("wgmma");
  BITJIT_RANDOM_ENGINE(rng);
  // Multiples of 1/4 in [-2, 2]: every product and every sum of 16 is exact in float32.
  std::uniform_int_distribution<int> quarters(-8, 8);
  std::vector<double> a(64 * 16), b(8 * 16);
  std::vector<uint16_t> a_bits(a.size()), b_bits(b.size());
  for (size_t i = 0; i < a.size(); ++i) a_bits[i] = uint16_t(kFloat16Codec.encode(a[i] = quarters(rng) / 4.0));
  for (size_t i = 0; i < b.size(); ++i) b_bits[i] = uint16_t(kFloat16Codec.encode(b[i] = quarters(rng) / 4.0));
  std::vector<double> expected(64 * 8, 0.0);
  for (int r = 0; r < 64; ++r)
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < 16; ++k) expected[size_t(r * 8 + n)] += a[size_t(r * 16 + k)] * b[size_t(n * 16 + k)];

  const CompiledKernel kernel = compile_check();
  Module module(kernel.cubin, "wgmma layout check");
  CUfunction function = module.function("wgmma_check");
  DeviceBuffer a_device(a_bits.size() * 2), b_device(b_bits.size() * 2), registers(64 * 8 * 4), shared(64 * 8 * 4);
  a_device.upload(a_bits.data(), a_bits.size() * 2);
  b_device.upload(b_bits.data(), b_bits.size() * 2);
  // Runs with the given descriptor offsets; returns how many of the 512 outputs differ, per form.
  auto mismatches = [&](unsigned leading, unsigned stride) {
    CUdeviceptr pa = a_device.ptr(), pb = b_device.ptr(), pr = registers.ptr(), ps = shared.ptr();
    void* arguments[] = {&pa, &pb, &pr, &ps, &leading, &stride};
    Stream stream;
    check_cuda(Driver::get().cuLaunchKernel(function, 1, 1, 1, 128, 1, 1, 0, stream.get(), arguments, nullptr),
               "cuLaunchKernel(wgmma_check)");
    stream.synchronize();
    std::vector<float> from_registers(64 * 8), from_shared(64 * 8);
    registers.download(from_registers.data(), from_registers.size() * 4);
    shared.download(from_shared.data(), from_shared.size() * 4);
    std::pair<int, int> count{0, 0};
    for (size_t i = 0; i < expected.size(); ++i) {
      count.first += double(from_registers[i]) != expected[i];
      count.second += double(from_shared[i]) != expected[i];
    }
    return count;
  };
  const auto [register_errors, shared_errors] = mismatches(128, 256);
  if (register_errors + shared_errors > 0) {
    const auto [swapped_register, swapped_shared] = mismatches(256, 128);
    WARN("with leading/stride offsets swapped (256, 128): " << swapped_register << " and " << swapped_shared
                                                           << " mismatches (register A, shared A)");
  }
  CHECK(register_errors == 0);
  CHECK(shared_errors == 0);
}

// The int8 wgmma with A (the decoded weights of tensor_wgmma_w4a8) from registers, as s8 and as u8,
// against int8 B from shared memory: every byte value, exact int32 sums.
TEST_CASE("one int8 wgmma step matches the CPU with signed and unsigned A from registers", "[gpu][wgmma]") {
  BITJIT_REQUIRE_HOPPER("wgmma");
  BITJIT_RANDOM_ENGINE(rng);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> a(64 * 32), b(64 * 32);
  for (uint8_t& x : a) x = uint8_t(byte(rng));
  for (uint8_t& x : b) x = uint8_t(byte(rng));
  const CompiledKernel kernel = compile_check();
  Module module(kernel.cubin, "wgmma layout check");
  DeviceBuffer a_device(a.size()), b_device(b.size()), d_device(64 * 64 * 4);
  a_device.upload(a.data(), a.size());
  b_device.upload(b.data(), b.size());
  for (const bool unsigned_a : {false, true}) {
    std::vector<int64_t> expected(64 * 64, 0);
    for (int r = 0; r < 64; ++r)
      for (int n = 0; n < 64; ++n)
        for (int k = 0; k < 32; ++k) {
          const int a_value = unsigned_a ? int(a[size_t(r * 32 + k)]) : int(int8_t(a[size_t(r * 32 + k)]));
          expected[size_t(r * 64 + n)] += int64_t(a_value) * int8_t(b[size_t(n * 32 + k)]);
        }
    CUfunction function = module.function(unsigned_a ? "wgmma_u8_check" : "wgmma_s8_check");
    CUdeviceptr pa = a_device.ptr(), pb = b_device.ptr(), pd = d_device.ptr();
    void* arguments[] = {&pa, &pb, &pd};
    Stream stream;
    check_cuda(Driver::get().cuLaunchKernel(function, 1, 1, 1, 128, 1, 1, 0, stream.get(), arguments, nullptr),
               "cuLaunchKernel(wgmma int8 check)");
    stream.synchronize();
    std::vector<int32_t> d(64 * 64);
    d_device.download(d.data(), d.size() * 4);
    int errors = 0;
    for (size_t i = 0; i < d.size(); ++i) errors += int64_t(d[i]) != expected[i];
    INFO((unsigned_a ? "u8" : "s8") << " A: " << errors << " of 4096 sums differ");
    CHECK(errors == 0);
  }
}
