#include "quant/checkpoints.hpp"

#include <string>

#include "common/error.hpp"
#include "quant/packing.hpp"

namespace bitjit {
namespace {

[[noreturn]] void reject(const std::string& what, const std::string& message) {
  throw ConfigError(what + ": " + message);
}

void expect_size(const std::string& what, const char* tensor, size_t got, int64_t expected, const std::string& shape) {
  if (int64_t(got) != expected) {
    reject(what, std::string(tensor) + " has " + std::to_string(got) + " elements; expected " + shape + " = " +
                     std::to_string(expected));
  }
}

uint32_t field(int32_t word, int index, int bits) {
  return (uint32_t(word) >> (index * bits)) & ((1u << bits) - 1u);
}

// Field i of a GPTQ stream: fields of `bits` bits laid LSB first through consecutive int32 words
// (word_at(w) is word w of the stream). 2, 4 and 8 bits fill whole words; 3 bits put 32 fields in
// 3 words, fields 10 and 21 straddling two of them.
template <class WordAt>
uint32_t stream_field(WordAt word_at, int64_t i, int bits) {
  const int64_t bit = i * bits;
  const int offset = int(bit % 32);
  uint64_t value = uint32_t(word_at(bit / 32)) >> offset;
  if (offset + bits > 32) value |= uint64_t(uint32_t(word_at(bit / 32 + 1))) << (32 - offset);
  return uint32_t(value) & ((1u << bits) - 1u);
}

// The width bitjit stores a GPTQ code in: its own, or 4 for 3-bit codes (bitjit has no 3-bit
// format; every 3-bit code and zero point is exact in uint4, at 4/3 of the checkpoint's bytes).
int stored_bits(int bits) { return bits == 3 ? 4 : bits; }

// The fp16 scales [G, N] of both formats, as bitjit's [N, G].
HostTensor transposed_scales(std::span<const uint16_t> scales, int64_t groups, int64_t N) {
  HostTensor out = make_host_tensor(DType::float16, {N, groups});
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t n = 0; n < N; ++n) set_bits(out, n * groups + g, scales[g * N + n]);
  }
  return out;
}

CheckpointLayer layer_shell(int64_t K, int64_t N, int bits, int64_t groups) {
  CheckpointLayer layer;
  MatmulConfig& config = layer.config;
  config.N = N;
  config.K = K;
  config.A_dtype = DType::float16;
  config.W_dtype = bits == 2 ? DType::uint2 : bits == 4 ? DType::uint4 : DType::uint8;
  config.accum_dtype = DType::float32;
  config.out_dtype = DType::float16;
  config.with_scaling = true;
  config.with_zeros = true;
  config.zeros_mode = ZerosMode::original;
  config.group_size = K / groups;
  layer.codes.assign(size_t(N * K), 0);
  layer.zeros = make_host_tensor(DType::float16, {N, groups});
  return layer;
}

// per_unit: the codes that fill a whole number of int32 words (32 / bits, or 32 for 3 bits).
void check_dimensions(const std::string& what, int64_t K, int64_t N, int64_t groups, int per_unit) {
  if (K < 1 || N < 1) reject(what, "in_features=" + std::to_string(K) + " and out_features=" + std::to_string(N) + " must be positive");
  if (K % per_unit != 0 || N % per_unit != 0) {
    reject(what, "in_features=" + std::to_string(K) + " and out_features=" + std::to_string(N) + " must be multiples of " +
                     std::to_string(per_unit) + " (the codes that fill whole int32 words)");
  }
  if (groups < 1 || K % groups != 0) {
    reject(what, "scales describe " + std::to_string(groups) + " groups, which do not divide in_features=" + std::to_string(K));
  }
}

// The act-order permutation of a g_idx (columns sorted by group, ascending k within one), or empty
// when every column already sits in group k / group_size.
std::vector<int64_t> act_order_permutation(const std::string& what, std::span<const int32_t> g_idx, int64_t groups,
                                           int64_t group_size) {
  const int64_t K = int64_t(g_idx.size());
  std::vector<int64_t> members(static_cast<size_t>(groups), 0);
  bool in_order = true;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t g = g_idx[size_t(k)];
    if (g < 0 || g >= groups) {
      reject(what, "g_idx[" + std::to_string(k) + "] = " + std::to_string(g) + " is outside the scales' groups [0, " +
                       std::to_string(groups) + ")");
    }
    ++members[size_t(g)];
    in_order = in_order && g == k / group_size;
  }
  if (in_order) return {};
  for (int64_t g = 0; g < groups; ++g) {
    if (members[size_t(g)] != group_size) {
      reject(what, "g_idx puts " + std::to_string(members[size_t(g)]) + " columns in group " + std::to_string(g) +
                       "; every group must hold in_features / groups = " + std::to_string(group_size));
    }
  }
  // Counting sort: each group's columns start at g * group_size, in ascending k.
  std::vector<int64_t> next(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) next[size_t(g)] = g * group_size;
  std::vector<int64_t> permutation(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) permutation[size_t(next[size_t(g_idx[size_t(k)])]++)] = k;
  return permutation;
}

void finish(CheckpointLayer& layer, int bits) {
  layer.W.dtype = layer.config.W_dtype;
  layer.W.shape = {layer.config.N, layer.config.K * bits / 8};
  layer.W.bytes = general_compress(layer.codes, layer.config.N, layer.config.K, bits);
  validate(layer.config);
}

}  // namespace

CheckpointLayer from_gptq(int64_t in_features, int64_t out_features, int bits, std::span<const int32_t> qweight,
                          std::span<const int32_t> qzeros, std::span<const uint16_t> scales,
                          std::span<const int32_t> g_idx, GptqZeros zeros) {
  const std::string what = "from_gptq";
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
    reject(what, "bits=" + std::to_string(bits) + " is not supported; allowed: 2, 3, 4, 8");
  }
  const int per_unit = bits == 3 ? 32 : 32 / bits;  // fields per whole number of words (3 for 3 bits)
  const int64_t K = in_features, N = out_features;
  const int64_t groups = N > 0 ? int64_t(scales.size()) / N : 0;
  check_dimensions(what, K, N, groups, per_unit);
  expect_size(what, "scales", scales.size(), groups * N, "[groups, out_features]");
  const int64_t row_words = K * bits / 32, zero_words = N * bits / 32;  // per column of qweight, per group of qzeros
  const std::string per = bits == 3 ? " * 3 / 32" : " / " + std::to_string(per_unit);
  expect_size(what, "qweight", qweight.size(), row_words * N, "[in_features" + per + ", out_features]");
  expect_size(what, "qzeros", qzeros.size(), groups * zero_words, "[groups, out_features" + per + "]");
  const int64_t group_size = K / groups;
  std::vector<int64_t> permutation;
  if (!g_idx.empty()) {
    expect_size(what, "g_idx", g_idx.size(), K, "[in_features]");
    permutation = act_order_permutation(what, g_idx, groups, group_size);
  }
  CheckpointLayer layer = layer_shell(K, N, stored_bits(bits), groups);
  for (int64_t n = 0; n < N; ++n) {
    const auto column_word = [&](int64_t r) { return qweight[size_t(r * N + n)]; };  // qweight's stream runs down a column
    for (int64_t j = 0; j < K; ++j) {
      const int64_t k = permutation.empty() ? j : permutation[size_t(j)];  // the checkpoint's column
      layer.codes[n * K + j] = uint8_t(stream_field(column_word, k, bits));
    }
  }
  layer.permutation = std::move(permutation);
  const uint32_t offset = zeros == GptqZeros::stored_minus_one ? 1u : 0u;
  for (int64_t g = 0; g < groups; ++g) {
    const auto group_word = [&](int64_t c) { return qzeros[size_t(g * zero_words + c)]; };  // along the row
    for (int64_t n = 0; n < N; ++n) {
      const uint32_t z = stream_field(group_word, n, bits) + offset;
      set_value(layer.zeros, n * groups + g, double(z));  // small integers: exact in fp16
    }
  }
  layer.scales = transposed_scales(scales, groups, N);
  finish(layer, stored_bits(bits));
  return layer;
}

CheckpointLayer from_awq(int64_t in_features, int64_t out_features, std::span<const int32_t> qweight,
                         std::span<const int32_t> qzeros, std::span<const uint16_t> scales) {
  const std::string what = "from_awq";
  constexpr int kBits = 4, kPerWord = 8;
  const int64_t K = in_features, N = out_features;
  const int64_t groups = N > 0 ? int64_t(scales.size()) / N : 0;
  check_dimensions(what, K, N, groups, kPerWord);
  expect_size(what, "scales", scales.size(), groups * N, "[groups, out_features]");
  expect_size(what, "qweight", qweight.size(), K * (N / kPerWord), "[in_features, out_features / 8]");
  expect_size(what, "qzeros", qzeros.size(), groups * (N / kPerWord), "[groups, out_features / 8]");
  CheckpointLayer layer = layer_shell(K, N, kBits, groups);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t c = 0; c < N / kPerWord; ++c) {
      for (int p = 0; p < kPerWord; ++p) {
        layer.codes[(c * kPerWord + kAwqOrder[p]) * K + k] = uint8_t(field(qweight[k * (N / kPerWord) + c], p, kBits));
      }
    }
  }
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t c = 0; c < N / kPerWord; ++c) {
      for (int p = 0; p < kPerWord; ++p) {
        const int64_t n = c * kPerWord + kAwqOrder[p];
        const uint32_t z = field(qzeros[g * (N / kPerWord) + c], p, kBits);
        set_value(layer.zeros, n * groups + g, double(z));  // small integers: exact in fp16
      }
    }
  }
  layer.scales = transposed_scales(scales, groups, N);
  finish(layer, kBits);
  return layer;
}

}  // namespace bitjit
