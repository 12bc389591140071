#pragma once
// bitjit::Linear: a quantized linear layer y = x · dequant(W)ᵀ (+ bias) that owns its packed weight,
// scales, zeros and bias on the GPU and runs any number of rows through a dynamic-M Matmul.
#include <cuda.h>

#include <optional>
#include <span>

#include "compiler/config.hpp"
#include "quant/checkpoints.hpp"
#include "runtime/device.hpp"
#include "runtime/matmul.hpp"

namespace bitjit {

struct LinearOptions {
  DType A_dtype = DType::float16;
  DType W_dtype = DType::uint4;
  DType accum_dtype = DType::float32;
  DType out_dtype = DType::float16;
  int64_t group_size = -1;
  bool with_scaling = false;
  bool with_zeros = false;
  ZerosMode zeros_mode = ZerosMode::original;
  MSpec M;  // the row buckets; default 1, 16, 32, ..., 1024
};

class Linear {
 public:
  // Validates the layer's config (ConfigError names the field) before touching the GPU.
  Linear(int64_t in_features, int64_t out_features, bool bias, const LinearOptions& options = {});

  // The config the layer runs: N = out_features, K = in_features.
  static MatmulConfig layer_config(int64_t in_features, int64_t out_features, bool bias, const LinearOptions& options);

  const MatmulConfig& config() const { return matmul_.config(); }
  const Matmul& matmul() const { return matmul_; }

  // Quantizes weight [out_features, in_features] (row-major float) with the config's rules
  // (quant/quantize.hpp) and uploads it; bias [out_features] when the layer has one.
  void load_from_float(std::span<const float> weight, std::span<const float> bias = {});
  // A checkpoint converted by from_gptq / from_awq; its config (formats, groups, zeros) must be this
  // layer's: Linear::options_for(checkpoint) gives the options.
  void load_checkpoint(const CheckpointLayer& checkpoint, std::span<const float> bias = {});
  // The options a Linear needs to hold `checkpoint`.
  static LinearOptions options_for(const CheckpointLayer& checkpoint);

  // C[M, out_features] = A[M, in_features] · dequant(W)ᵀ (+ bias), any M >= 1, asynchronous on
  // `stream`. Throws Error if no weights were loaded.
  void forward(const TensorView& A, const TensorView& C, CUstream stream = nullptr) const;

 private:
  void upload(const HostTensor& W, const HostTensor& scales, const HostTensor& zeros, std::span<const float> bias);
  OperandSpecs specs() const;

  Matmul matmul_;
  bool has_bias_ = false;
  bool loaded_ = false;
  DeviceBuffer W_, scales_, zeros_, bias_;
};

}  // namespace bitjit
