// GPTQ and AWQ checkpoints into bitjit operands. The checkpoints are packed here from random codes
// following each format's published layout, independently of quant/checkpoints.cpp, and the
// weights bitjit's reference dequantizes from the result must be the ones the checkpoint means.
#include <algorithm>
#include <array>
#include <random>
#include <string>

#include "common/error.hpp"
#include "quant/checkpoints.hpp"
#include "quant/reference.hpp"
#include "tests/support/catch.hpp"
#include "tests/support/random.hpp"
#include "tests/support/text.hpp"

using namespace bitjit;
using namespace bitjit::testing;

namespace {

// A layer as the quantizer left it: codes [N][K], zero codes [G][N], fp16 scale bits [G][N].
struct Layer {
  int64_t K, N, G;
  int bits;
  std::vector<uint32_t> q, z;
  std::vector<uint16_t> s;
  uint32_t code(int64_t n, int64_t k) const { return q[n * K + k]; }
  double value(int64_t n, int64_t k, uint32_t zero) const {
    return decode_value(DType::float16, s[(k / (K / G)) * N + n]) * (double(code(n, k)) - double(zero));
  }
};

Layer random_layer(int64_t K, int64_t N, int64_t G, int bits, std::mt19937_64& rng) {
  Layer layer{K, N, G, bits, {}, {}, {}};
  std::uniform_int_distribution<uint32_t> code(0, (1u << bits) - 1);
  std::uniform_real_distribution<double> scale(1e-3, 0.1);
  for (int64_t i = 0; i < N * K; ++i) layer.q.push_back(code(rng));
  for (int64_t i = 0; i < G * N; ++i) {
    layer.z.push_back(code(rng));
    layer.s.push_back(uint16_t(encode_value(DType::float16, scale(rng))));
  }
  return layer;
}

// GPTQ's 3-bit packing of 32 values v into 3 words, as its packer writes them: v0..v9 at bits 3j of
// word 0 and v10's low two bits at 30; v10's third bit at bit 0 of word 1, v11..v20 at 3j + 1, v21's
// low bit at 31; v21's high two bits at bit 0 of word 2 and v22..v31 at 3j + 2.
std::array<uint32_t, 3> pack_three_bit(const uint32_t (&v)[32]) {
  std::array<uint32_t, 3> w{};
  for (int j = 0; j < 10; ++j) w[0] |= v[j] << (3 * j);
  w[0] |= v[10] << 30;
  w[1] = (v[10] >> 2) & 1u;
  for (int j = 0; j < 10; ++j) w[1] |= v[11 + j] << (3 * j + 1);
  w[1] |= v[21] << 31;
  w[2] = (v[21] >> 1) & 3u;
  for (int j = 0; j < 10; ++j) w[2] |= v[22 + j] << (3 * j + 2);
  return w;
}

// Packs values(i) for i in [0, count) along a GPTQ stream: 32 / bits per word, or for 3 bits 32 per
// 3 words; word w of the stream goes to words[at(w)].
template <class Value, class At>
void pack_stream(int bits, int64_t count, Value value, At at, std::vector<int32_t>& words) {
  if (bits == 3) {
    for (int64_t first = 0; first < count; first += 32) {
      uint32_t v[32];
      for (int i = 0; i < 32; ++i) v[i] = value(first + i);
      const std::array<uint32_t, 3> packed = pack_three_bit(v);
      for (int w = 0; w < 3; ++w) words[at(first / 32 * 3 + w)] |= int32_t(packed[w]);
    }
    return;
  }
  const int per_word = 32 / bits;
  for (int64_t i = 0; i < count; ++i) words[at(i / per_word)] |= int32_t(value(i) << ((i % per_word) * bits));
}

// GPTQ: qweight [K*b/32, N], its stream running down each column n along k; qzeros [G, N*b/32], its
// stream running along each group's row, holding z - 1 (wrapping) in the classic format.
std::vector<int32_t> gptq_qweight(const Layer& layer) {
  const int64_t rows = layer.K * layer.bits / 32;
  std::vector<int32_t> words(size_t(rows * layer.N), 0);
  for (int64_t n = 0; n < layer.N; ++n)
    pack_stream(layer.bits, layer.K, [&](int64_t k) { return layer.code(n, k); },
                [&](int64_t r) { return size_t(r * layer.N + n); }, words);
  return words;
}

std::vector<int32_t> gptq_qzeros(const Layer& layer, uint32_t minus) {
  const uint32_t mask = (1u << layer.bits) - 1;
  const int64_t row_words = layer.N * layer.bits / 32;
  std::vector<int32_t> words(size_t(layer.G * row_words), 0);
  for (int64_t g = 0; g < layer.G; ++g)
    pack_stream(layer.bits, layer.N, [&](int64_t n) { return (layer.z[g * layer.N + n] - minus) & mask; },
                [&](int64_t c) { return size_t(g * row_words + c); }, words);
  return words;
}

// AWQ: 4-bit fields packed along N; field p of a word holds column 8c + order[p].
constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

std::vector<int32_t> awq_pack(const std::vector<uint32_t>& values, int64_t rows, int64_t N) {
  std::vector<int32_t> words(size_t(rows * (N / 8)), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < N / 8; ++c)
      for (int p = 0; p < 8; ++p) words[r * (N / 8) + c] |= int32_t(values[r * N + c * 8 + kOrder[p]] << (4 * p));
  return words;
}

// The weights bitjit's reference reads from the converted operands.
std::vector<double> dequantized(const CheckpointLayer& converted) {
  MatmulOperands operands;
  operands.W = converted.W;
  operands.scales = converted.scales;
  operands.zeros = converted.zeros;
  return dequantize_reference(converted.config, operands);
}

}  // namespace

TEST_CASE("GPTQ checkpoints convert bit for bit, both zero conventions", "[checkpoints]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (int bits : {2, 3, 4, 8}) {
    for (GptqZeros convention : {GptqZeros::stored_minus_one, GptqZeros::exact}) {
      const Layer layer = random_layer(256, 64, 4, bits, rng);
      const uint32_t minus = convention == GptqZeros::stored_minus_one ? 1u : 0u;
      std::vector<int32_t> g_idx(size_t(layer.K));
      for (int64_t k = 0; k < layer.K; ++k) g_idx[k] = int32_t(k / (layer.K / layer.G));
      const CheckpointLayer converted = from_gptq(layer.K, layer.N, bits, gptq_qweight(layer), gptq_qzeros(layer, minus),
                                                  layer.s, g_idx, convention);
      INFO("bits=" << bits << " minus=" << minus);
      CHECK(converted.config.group_size == 64);
      CHECK(converted.config.zeros_mode == ZerosMode::original);
      const int stored = bits == 3 ? 4 : bits;  // 3-bit codes and zeros held in uint4
      CHECK(converted.config.W_dtype == (stored == 2 ? DType::uint2 : stored == 4 ? DType::uint4 : DType::uint8));
      CHECK(converted.W.shape == std::vector<int64_t>{layer.N, layer.K * stored / 8});
      const std::vector<double> w = dequantized(converted);
      const uint32_t mask = (1u << bits) - 1;
      for (int64_t n = 0; n < layer.N; ++n) {
        for (int64_t k = 0; k < layer.K; ++k) {
          REQUIRE(converted.codes[n * layer.K + k] == layer.code(n, k));
          // What the checkpoint's own kernels compute: the stored zero (wrapped), plus one if so stored.
          const uint32_t zero = ((layer.z[(k / 64) * layer.N + n] - minus) & mask) + minus;
          REQUIRE(w[n * layer.K + k] == layer.value(n, k, zero));
        }
      }
    }
  }
}

// desc_act: GPTQ quantized the columns in a random order and numbered the groups in that order, so
// column k sits in group g_idx[k]. The converted layer's column j is checkpoint column permutation[j],
// its groups runs of K / G: every converted weight must be the checkpoint's weight it stands for.
TEST_CASE("GPTQ act-order checkpoints convert with the column permutation", "[checkpoints]") {
  BITJIT_RANDOM_ENGINE(rng);
  for (int bits : {2, 3, 4, 8}) {
    const Layer layer = random_layer(256, 32, 4, bits, rng);
    const int64_t group_size = layer.K / layer.G;
    std::vector<int64_t> order(size_t(layer.K));  // the order GPTQ quantized the columns in
    for (int64_t k = 0; k < layer.K; ++k) order[size_t(k)] = k;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int32_t> g_idx(size_t(layer.K));
    for (int64_t i = 0; i < layer.K; ++i) g_idx[size_t(order[size_t(i)])] = int32_t(i / group_size);
    const CheckpointLayer converted =
        from_gptq(layer.K, layer.N, bits, gptq_qweight(layer), gptq_qzeros(layer, 1), layer.s, g_idx);
    INFO("bits=" << bits);
    REQUIRE(converted.permutation.size() == size_t(layer.K));
    const std::vector<double> w = dequantized(converted);
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t j = 0; j < layer.K; ++j) {
      const int64_t k = converted.permutation[size_t(j)];
      REQUIRE(g_idx[size_t(k)] == j / group_size);  // groups are runs after the permutation
      if (j > 0 && j % group_size != 0) REQUIRE(converted.permutation[size_t(j - 1)] < k);  // ascending within one
      for (int64_t n = 0; n < layer.N; ++n) {
        const int64_t g = g_idx[size_t(k)];
        const uint32_t zero = ((layer.z[g * layer.N + n] - 1) & mask) + 1;
        const double expected = decode_value(DType::float16, layer.s[g * layer.N + n]) *
                                (double(layer.code(n, k)) - double(zero));
        REQUIRE(w[n * layer.K + j] == expected);
      }
    }
  }
}

TEST_CASE("a g_idx in natural order is no permutation", "[checkpoints]") {
  BITJIT_RANDOM_ENGINE(rng);
  const Layer layer = random_layer(128, 16, 2, 4, rng);
  std::vector<int32_t> g_idx(size_t(layer.K));
  for (int64_t k = 0; k < layer.K; ++k) g_idx[size_t(k)] = int32_t(k / 64);
  CHECK(from_gptq(layer.K, layer.N, 4, gptq_qweight(layer), gptq_qzeros(layer, 1), layer.s, g_idx).permutation.empty());
}

TEST_CASE("AWQ checkpoints convert bit for bit through the field order", "[checkpoints]") {
  BITJIT_RANDOM_ENGINE(rng);
  const Layer layer = random_layer(128, 48, 2, 4, rng);
  std::vector<uint32_t> by_k(size_t(layer.K * layer.N));  // q as [K, N]
  for (int64_t n = 0; n < layer.N; ++n)
    for (int64_t k = 0; k < layer.K; ++k) by_k[k * layer.N + n] = layer.code(n, k);
  const CheckpointLayer converted =
      from_awq(layer.K, layer.N, awq_pack(by_k, layer.K, layer.N), awq_pack(layer.z, layer.G, layer.N), layer.s);
  CHECK(converted.config.W_dtype == DType::uint4);
  const std::vector<double> w = dequantized(converted);
  for (int64_t n = 0; n < layer.N; ++n)
    for (int64_t k = 0; k < layer.K; ++k) REQUIRE(w[n * layer.K + k] == layer.value(n, k, layer.z[(k / 64) * layer.N + n]));
}

TEST_CASE("checkpoint conversion names what is wrong", "[checkpoints]") {
  BITJIT_RANDOM_ENGINE(rng);
  const Layer layer = random_layer(256, 64, 4, 4, rng);
  const std::vector<int32_t> qweight = gptq_qweight(layer), qzeros = gptq_qzeros(layer, 1);
  auto error_of = [](auto convert) {
    try {
      convert();
    } catch (const ConfigError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  auto gptq_error = [&](int bits, std::span<const int32_t> weight, std::span<const int32_t> g_idx) {
    return error_of([&] { from_gptq(layer.K, layer.N, bits, weight, qzeros, layer.s, g_idx); });
  };
  CHECK(contains(gptq_error(3, qweight, {}), "qweight has 2048 elements; expected [in_features * 3 / 32, out_features] = 1536"));
  CHECK(contains(gptq_error(5, qweight, {}), "bits=5 is not supported; allowed: 2, 3, 4, 8"));
  // 3 bits pack 32 codes into 3 words: out_features=40 does not fill them.
  CHECK(contains(error_of([&] { from_gptq(96, 40, 3, std::vector<int32_t>(9 * 40), std::vector<int32_t>(4), layer.s); }),
                 "in_features=96 and out_features=40 must be multiples of 32 (the codes that fill whole int32 words)"));
  CHECK(contains(gptq_error(4, std::span(qweight).first(10), {}), "qweight has 10 elements; expected [in_features / 8, out_features] = 2048"));
  std::vector<int32_t> uneven(size_t(layer.K), 0);  // every column in group 0
  CHECK(contains(gptq_error(4, qweight, uneven), "g_idx puts 256 columns in group 0; every group must hold "
                                                  "in_features / groups = 64"));
  std::vector<int32_t> outside(size_t(layer.K));
  for (int64_t k = 0; k < layer.K; ++k) outside[k] = int32_t(k / 64);
  outside[7] = 4;
  CHECK(contains(gptq_error(4, qweight, outside), "g_idx[7] = 4 is outside the scales' groups [0, 4)"));
  CHECK_THROWS_AS(from_awq(100, 64, qweight, qzeros, layer.s), ConfigError);  // K not a whole number of groups
}
