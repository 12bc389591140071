#pragma once
// The epilogue: add the bias to the accumulated sum, cast to the output format, store.
#include "bitjit/decode/formats.cuh"

namespace bitjit {

template <class P>
__device__ __forceinline__ void store_output(const MatmulParams& params, long long m, long long n,
                                             typename P::Accum sum) {
  const long long index = m * P::N + n;
  if constexpr (is_same<typename P::Accum, int>::value && P::Out::kInteger) {
    int result = sum;
    if constexpr (P::kBias) result += P::Bias::decode_int(load_code<typename P::Bias>(params.bias, n));
    store_code<typename P::Out>(params.C, index, P::Out::encode_int(result));
  } else {
    float result = float(sum);
    if constexpr (P::kBias) result += P::Bias::decode(load_code<typename P::Bias>(params.bias, n));
    store_code<typename P::Out>(params.C, index, P::Out::encode(result));
  }
}

}  // namespace bitjit
