#pragma once
// The simt family: correct for every configuration validation accepts, on every arch, with plain
// FMA (or integer multiply-add) on CUDA cores. Each warp owns output columns; its lanes split K, each
// loading kLoadBytes of the packed weight row at a time, so W is read once per block of kBlockM rows
// with coalesced loads; the warp then reduces its lanes' partial sums.
#include "bitjit/decode/dequant.cuh"
#include "bitjit/epilogue/store.cuh"
#include "bitjit/epilogue/warp_sums.cuh"
#include "bitjit/pipeline/loaded_bytes.cuh"

namespace bitjit {

// P: the Problem (formats, N, K, groups, flags); T: the tiles (kThreads, kBlockM, kBlockN, kLoadBytes).
template <class P, class T>
__device__ void simt_matmul(const MatmulParams& params) {
  using Accum = typename P::Accum;
  constexpr int kWarps = T::kThreads / 32;
  constexpr long long kRowBytes = P::K * P::W::kBits / 8;
  constexpr long long kLoadsPerRow = kRowBytes / T::kLoadBytes;
  constexpr int kElementsPerLoad = T::kLoadBytes * 8 / P::W::kBits;
  constexpr long long kGroupSize = P::K / P::kGroups;
  static_assert(kRowBytes % T::kLoadBytes == 0, "a weight row must split into whole loads");

  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const long long m_begin = (long long)blockIdx.y * T::kBlockM;
  const int rows = int(min((long long)T::kBlockM, params.M - m_begin));
  const uint8_t* weights = static_cast<const uint8_t*>(params.W);

  for (int column = warp; column < T::kBlockN; column += kWarps) {
    const long long n = (long long)blockIdx.x * T::kBlockN + column;
    if (n >= P::N) break;
    Accum sums[T::kBlockM];
#pragma unroll
    for (int r = 0; r < T::kBlockM; ++r) sums[r] = Accum(0);

    for (long long load = lane; load < kLoadsPerRow; load += 32) {
      LoadedBytes<T::kLoadBytes> bytes;
      bytes.load(weights + n * kRowBytes + load * T::kLoadBytes);
#pragma unroll
      for (int e = 0; e < kElementsPerLoad; ++e) {
        const long long k = load * kElementsPerLoad + e;
        const uint32_t code = bytes.template field<P::W::kBits>(e);
        if constexpr (is_same<Accum, int>::value) {
          const int w = P::W::decode_int(code);
#pragma unroll
          for (int r = 0; r < T::kBlockM; ++r) {
            if (r < rows) sums[r] += P::A::decode_int(load_code<typename P::A>(params.A, (m_begin + r) * P::K + k)) * w;
          }
        } else {
          const float w = dequantize<P>(code, n, k / kGroupSize, params);
#pragma unroll
          for (int r = 0; r < T::kBlockM; ++r) {
            if (r < rows) sums[r] += P::A::decode(load_code<typename P::A>(params.A, (m_begin + r) * P::K + k)) * w;
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < T::kBlockM; ++r) {
      const Accum total = warp_sum(sums[r]);
      if (lane == 0 && r < rows) store_output<P>(params, m_begin + r, n, total);
    }
  }
}

// simt_matmul's dynamic shared memory, no dynamic shared memory. The host launches it with its own
// dynamic_shared_bytes, which tests/compiler/test_shared_memory.cpp checks against this.
template <class P, class T>
constexpr int simt_matmul_dynamic_shared_bytes() {
  return 0;
}

}  // namespace bitjit
