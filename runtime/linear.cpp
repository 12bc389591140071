#include "runtime/linear.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "quant/quantize.hpp"

namespace bitjit {
namespace {

// The config fields that describe the stored weight and differ between the layer and the checkpoint
// ("K 4096 vs 8192, ..."), from their JSON forms. M, bias, accumulation and output belong to the
// layer alone.
std::string config_difference(const MatmulConfig& layer, const MatmulConfig& checkpoint) {
  const nlohmann::json ours = to_json(layer), theirs = to_json(checkpoint);
  std::string differences;
  for (const auto& [field, value] : ours.items()) {
    const bool layer_only = field == "M" || field == "with_bias" || field == "accum_dtype" || field == "out_dtype";
    if (layer_only || theirs.value(field, nlohmann::json()) == value) continue;
    differences += (differences.empty() ? "" : ", ") + field + " " + value.dump() + " vs " +
                   theirs.value(field, nlohmann::json()).dump();
  }
  return differences;
}

}  // namespace

MatmulConfig Linear::layer_config(int64_t in_features, int64_t out_features, bool bias, const LinearOptions& options) {
  MatmulConfig config;
  config.M = options.M;
  config.N = out_features;
  config.K = in_features;
  config.A_dtype = options.A_dtype;
  config.W_dtype = options.W_dtype;
  config.accum_dtype = options.accum_dtype;
  config.out_dtype = options.out_dtype;
  config.group_size = options.group_size;
  config.with_scaling = options.with_scaling;
  config.with_zeros = options.with_zeros;
  config.zeros_mode = options.zeros_mode;
  config.with_bias = bias;
  validate(config);
  return config;
}

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, const LinearOptions& options)
    : matmul_(Matmul::create(layer_config(in_features, out_features, bias, options))), has_bias_(bias) {}

LinearOptions Linear::options_for(const CheckpointLayer& checkpoint) {
  const MatmulConfig& c = checkpoint.config;
  LinearOptions options;
  options.A_dtype = c.A_dtype;
  options.W_dtype = c.W_dtype;
  options.accum_dtype = c.accum_dtype;
  options.out_dtype = c.out_dtype;
  options.group_size = c.group_size;
  options.with_scaling = c.with_scaling;
  options.with_zeros = c.with_zeros;
  options.zeros_mode = c.zeros_mode;
  return options;
}

OperandSpecs Linear::specs() const { return operand_specs(config(), 1); }

void Linear::upload(const HostTensor& W, const HostTensor& scales, const HostTensor& zeros, std::span<const float> bias) {
  const MatmulConfig& c = config();
  if (has_bias_ != !bias.empty() || (has_bias_ && int64_t(bias.size()) != c.N)) {
    throw ConfigError("Linear: " + std::string(has_bias_ ? "the layer has a bias: pass " + std::to_string(c.N) + " values"
                                                         : "the layer was made without a bias; pass none") +
                      " (got " + std::to_string(bias.size()) + ")");
  }
  HostTensor bias_tensor;
  if (has_bias_) {
    bias_tensor = make_host_tensor(bias_dtype(c), {c.N});
    for (int64_t n = 0; n < c.N; ++n) set_value(bias_tensor, n, double(bias[n]));
  }
  const HostTensor arranged = matmul_.transform_weight(W);
  W_ = upload_host_tensor(arranged);
  scales_ = upload_host_tensor(scales);
  zeros_ = upload_host_tensor(zeros);
  bias_ = upload_host_tensor(bias_tensor);
  loaded_ = true;
}

void Linear::load_from_float(std::span<const float> weight, std::span<const float> bias) {
  const QuantizedWeight quantized = quantize_weight(config(), weight);
  upload(quantized.W, quantized.scales, quantized.zeros, bias);
}

void Linear::load_checkpoint(const CheckpointLayer& checkpoint, std::span<const float> bias) {
  const std::string differences = config_difference(config(), checkpoint.config);
  if (!differences.empty()) {
    throw ConfigError("Linear::load_checkpoint: the checkpoint's config differs from the layer's (" + differences +
                      "); make the layer with Linear::options_for(checkpoint)");
  }
  if (!checkpoint.permutation.empty()) {
    // Act-order: W's columns are the checkpoint's in permuted order, so x's columns must be gathered
    // the same way before the matmul; this layer takes A as it is and would compute something else.
    throw ConfigError("Linear::load_checkpoint: an act-order (desc_act) checkpoint permutes K; forward would need "
                      "A's columns gathered by checkpoint.permutation, which this layer does not do: gather them "
                      "and run a Matmul on the checkpoint's operands, or use Python's bitjit.Linear (it gathers)");
  }
  upload(checkpoint.W, checkpoint.scales, checkpoint.zeros, bias);
}

void Linear::forward(const TensorView& A, const TensorView& C, CUstream stream) const {
  if (!loaded_) throw Error("Linear::forward: no weights loaded; call load_from_float or load_checkpoint first");
  const OperandSpecs s = specs();
  matmul_.run(A, view_of(W_, s.W), C, view_of(scales_, s.scales), view_of(zeros_, s.zeros), view_of(bias_, s.bias),
              stream);
}

}  // namespace bitjit
