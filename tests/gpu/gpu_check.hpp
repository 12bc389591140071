#pragma once
// Runs a Matmul on the GPU and compares every output element with the float64 reference.
#include <cstdio>
#include <random>
#include <string>

#include "quant/reference.hpp"
#include "runtime/matmul.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "tests/support/catch.hpp"

// Leaves the test (skipped) unless a Hopper GPU (sm_90a) is present: `what` runs nowhere else.
#define BITJIT_REQUIRE_HOPPER(what)                                                          \
  do {                                                                                      \
    const ::bitjit::Driver& driver = ::bitjit::Driver::get();                               \
    if (!driver.available()) BITJIT_SKIP("no GPU: " + driver.unavailable_reason());         \
    if (::bitjit::current_device_info().arch() != "sm_90a") {                               \
      BITJIT_SKIP(std::string(what) + " needs a Hopper GPU (sm_90a)");                      \
    }                                                                                       \
  } while (0)

namespace bitjit::testing {

// How far a kernel's output may be from the exact result, per element. The simt family accumulates
// in float32 (int32 for integer configs), so the bound is:
//   accumulation: each lane sums K/32 products sequentially, then 5 shuffle levels: at most
//     (K/32 + 5) float32 roundings of partial sums bounded by sum|a*w|, plus one rounding each for
//     the product, the dequantization (up to two operations) and the bias: (K/32 + 9) * 2^-24 * sum|a*w|;
//   output cast: a float32 value rounded to the output format, after that float32 intermediate
//     (double rounding): one ulp of the output format, 2^-(mantissa bits) * |y|, plus its smallest
//     subnormal.
// Integer accumulation into an integer output is exact.
// Kernels that scale the weights in A's 16-bit type (tensor_gemm, tensor_wgmma) round each scaled weight at most
// twice (difference with the zero, then the product): 2 * 2^-(A's mantissa bits + 1) * sum|a*w|.
double tolerance(const MatmulConfig& config, KernelFamily family, double exact, double magnitude);

class GpuChecker {
 public:
  // Uploads the operands, poisons C, runs, and compares; integer outputs run twice with two
  // different poisons so an unwritten element cannot pass by matching the poison.
  void check(const Matmul& matmul, int64_t M, const MatmulOperands& operands, const ReferenceResult& reference);
  // check() on random operands of M rows for the matmul's config, against the float64 reference.
  void check_random(const Matmul& matmul, int64_t M, std::mt19937_64& rng);
  size_t failures() const { return failures_; }

 private:
  void report(const Matmul& matmul, int64_t M, int64_t index, double got, double expected, double bound);
  size_t failures_ = 0;
  size_t reported_ = 0;
};

}  // namespace bitjit::testing
