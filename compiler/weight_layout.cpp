#include "compiler/weight_layout.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/parallel.hpp"

namespace bitjit {
namespace {

// Position p of the layout (code index within the row) -> logical k, for a row of K codes.
int64_t logical_k(int64_t p, const MmaRunLayout& layout, int bits) {
  const int64_t codes = layout.codes_per_load(bits);
  const int64_t block = p / (4 * codes), within = p % (4 * codes);
  const int64_t lane = within / codes, i = within % codes;
  return block * 4 * codes + 4 * layout.run * (i / layout.run) + layout.run * lane + i % layout.run;
}

bool reorders_fields(const MmaRunLayout& layout, int bits) {
  return (layout.split_pairs && bits < 16) || (layout.byte_lanes && bits < 8);
}

// Field index of the code at position p inside the row's stream of fields.
int64_t field_of_position(int64_t p, const MmaRunLayout& layout, int bits) {
  if (!reorders_fields(layout, bits)) return p;
  const int fields_per_word = 32 / bits;
  const int64_t word = p / fields_per_word;
  const int element = int(p % fields_per_word);
  int field;
  if (layout.byte_lanes) {
    field = element / 4 + (element % 4) * (8 / bits);  // element 4s + j -> field s + j * fields per byte
  } else {
    field = element % 2 == 0 ? element / 2 : fields_per_word / 2 + element / 2;  // 2p -> p, 2p + 1 -> P/2 + p
  }
  return word * fields_per_word + field;
}

uint32_t read_field(std::span<const uint8_t> bytes, int64_t field, int bits) {
  const int64_t bit = field * bits;
  if (bits < 8) return (bytes[bit / 8] >> (bit % 8)) & ((1u << bits) - 1u);
  uint32_t value = 0;
  for (int b = 0; b < bits; b += 8) value |= uint32_t(bytes[(bit + b) / 8]) << b;  // whole bytes, LSB first
  return value;
}

void write_field(std::span<uint8_t> bytes, int64_t field, int bits, uint32_t value) {
  const int64_t bit = field * bits;
  if (bits < 8) {
    bytes[bit / 8] = uint8_t(bytes[bit / 8] | (value << (bit % 8)));
    return;
  }
  for (int b = 0; b < bits; b += 8) bytes[(bit + b) / 8] = uint8_t(value >> b);
}

enum class Direction { to_runs, from_runs };

// Each field of a k-block in the runs order (the position p a lane's load holds) -> the field of the
// same code in general order, inside the block: the rearrangement repeats every k-block, so a row
// is moved block by block through this table instead of computing both indices per code.
std::vector<int64_t> block_sources(const MmaRunLayout& layout, int bits) {
  const int64_t block = 4 * layout.codes_per_load(bits);
  std::vector<int64_t> source(static_cast<size_t>(block));
  for (int64_t p = 0; p < block; ++p) source[size_t(field_of_position(p, layout, bits))] = logical_k(p, layout, bits);
  return source;
}

// Codes narrower than a byte: each row unpacked to a byte a field, the fields moved through the block
// table, then packed again: three sequential passes the compiler vectorizes, where a bit-field read
// and write per code took about 8 ns a code (8B gate_up's 117 M codes: 1 s on one core).
void rearrange_narrow_rows(std::span<const uint8_t> input, std::span<uint8_t> output, int64_t row_bytes, int64_t K,
                           int bits, const std::vector<int64_t>& source, Direction direction, int64_t n_begin,
                           int64_t n_end) {
  const int64_t block = int64_t(source.size());
  const int per_byte = 8 / bits;
  const uint32_t mask = (1u << bits) - 1u;
  std::vector<uint8_t> fields(static_cast<size_t>(K)), moved(static_cast<size_t>(K));
  for (int64_t n = n_begin; n < n_end; ++n) {
    const uint8_t* in_row = input.data() + n * row_bytes;
    uint8_t* out_row = output.data() + n * row_bytes;
    for (int64_t b = 0; b < row_bytes; ++b)
      for (int j = 0; j < per_byte; ++j) fields[size_t(b * per_byte + j)] = uint8_t((in_row[b] >> (j * bits)) & mask);
    for (int64_t first = 0; first < K; first += block) {
      const uint8_t* from = fields.data() + first;
      uint8_t* to = moved.data() + first;
      if (direction == Direction::to_runs) {
        for (int64_t field = 0; field < block; ++field) to[field] = from[source[size_t(field)]];
      } else {
        for (int64_t field = 0; field < block; ++field) to[source[size_t(field)]] = from[field];
      }
    }
    for (int64_t b = 0; b < row_bytes; ++b) {
      uint8_t byte = 0;
      for (int j = 0; j < per_byte; ++j) byte = uint8_t(byte | (moved[size_t(b * per_byte + j)] << (j * bits)));
      out_row[b] = byte;
    }
  }
}

// Moves rows [n_begin, n_end) of W between general order and the runs, block by block.
void rearrange_rows(std::span<const uint8_t> input, std::span<uint8_t> output, int64_t row_bytes, int64_t K, int bits,
                    const std::vector<int64_t>& source, Direction direction, int64_t n_begin, int64_t n_end) {
  if (bits < 8) return rearrange_narrow_rows(input, output, row_bytes, K, bits, source, direction, n_begin, n_end);
  const int64_t block = int64_t(source.size());
  for (int64_t n = n_begin; n < n_end; ++n) {
    std::span<const uint8_t> in_row = input.subspan(n * row_bytes, row_bytes);
    std::span<uint8_t> out_row = output.subspan(n * row_bytes, row_bytes);
    for (int64_t first = 0; first < K; first += block) {
      for (int64_t field = 0; field < block; ++field) {
        const int64_t runs_field = first + field, general_field = first + source[size_t(field)];
        if (direction == Direction::to_runs) write_field(out_row, runs_field, bits, read_field(in_row, general_field, bits));
        else write_field(out_row, general_field, bits, read_field(in_row, runs_field, bits));
      }
    }
  }
}

// A model's layers are hundreds of millions of codes (70B gate_up: 470 M, about 2 s on one core):
// large weights go in ranges of rows (or tiles) over the host's cores, each range its own bytes of
// the output.
constexpr int64_t kCodesWorthThreads = int64_t(1) << 23;

// Moves each (channel, k-block) piece between rows whole and channel tiles (MmaRunLayout::channel_tiles):
// the codes inside a piece stay as they are.
std::vector<uint8_t> move_pieces(std::span<const uint8_t> input, const MatmulConfig& config, const MmaRunLayout& layout,
                                 Direction direction) {
  const int64_t row_bytes = config.K * info(config.W_dtype).bits / 8;
  const int64_t piece = 4 * layout.load_bytes, pieces_per_row = row_bytes / piece;
  if (config.N % kLayoutChannelTile != 0) {
    throw Error("mma_runs layout: channel tiles of " + std::to_string(kLayoutChannelTile) + " need N a multiple of " +
                std::to_string(kLayoutChannelTile) + ", got N=" + std::to_string(config.N));
  }
  std::vector<uint8_t> output(input.size(), 0);
  const auto move_tiles = [&](int64_t tile_begin, int64_t tile_end) {
    for (int64_t tile = tile_begin; tile < tile_end; ++tile) {
      for (int64_t c = 0; c < kLayoutChannelTile; ++c) {
        const int64_t n = tile * kLayoutChannelTile + c;
        for (int64_t b = 0; b < pieces_per_row; ++b) {
          const int64_t in_row = n * row_bytes + b * piece;
          const int64_t in_tile = tile * kLayoutChannelTile * row_bytes + (b * kLayoutChannelTile + c) * piece;
          const int64_t from = direction == Direction::to_runs ? in_row : in_tile;
          const int64_t to = direction == Direction::to_runs ? in_tile : in_row;
          std::copy_n(input.begin() + from, piece, output.begin() + to);
        }
      }
    }
  };
  for_each_range_in_parallel(config.N / kLayoutChannelTile, config.N * config.K >= kCodesWorthThreads, move_tiles);
  return output;
}

std::vector<uint8_t> rearrange_codes(std::span<const uint8_t> input, const MatmulConfig& config,
                                     const MmaRunLayout& layout, Direction direction) {
  const int bits = info(config.W_dtype).bits;
  const int64_t row_bytes = config.K * bits / 8;
  const std::vector<int64_t> source = block_sources(layout, bits);
  if (config.K % int64_t(source.size()) != 0) {  // mma_run_layout takes only such K
    throw Error("mma_runs layout: K=" + std::to_string(config.K) + " is not whole k-blocks of " +
                std::to_string(source.size()) + " codes");
  }
  std::vector<uint8_t> output(input.size(), 0);
  for_each_range_in_parallel(config.N, config.N * config.K >= kCodesWorthThreads, [&](int64_t n_begin, int64_t n_end) {
    rearrange_rows(input, output, row_bytes, config.K, bits, source, direction, n_begin, n_end);
  });
  return output;
}

// To the runs the codes move inside each row first, then the rows' pieces into tiles; back, the
// other way round.
std::vector<uint8_t> rearrange(std::span<const uint8_t> input, const MatmulConfig& config, const MmaRunLayout& layout,
                               Direction direction) {
  const int64_t row_bytes = config.K * info(config.W_dtype).bits / 8;
  if (int64_t(input.size()) != config.N * row_bytes) {
    throw ConfigError("mma_runs layout: got " + std::to_string(input.size()) + " bytes of W, expected N*K*bits/8 = " +
                      std::to_string(config.N * row_bytes));
  }
  if (!layout.channel_tiles) return rearrange_codes(input, config, layout, direction);
  if (direction == Direction::to_runs) {
    return move_pieces(rearrange_codes(input, config, layout, direction), config, layout, direction);
  }
  return rearrange_codes(move_pieces(input, config, layout, direction), config, layout, direction);
}

}  // namespace

std::string_view to_string(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::general: return "general";
    case WeightLayout::mma_runs: return "mma_runs";
    case WeightLayout::mma_fragments: return "mma_fragments";
  }
  return "?";
}

std::optional<MmaRunLayout> fragment_order_layout(const MatmulConfig& config) {
  std::optional<MmaRunLayout> layout = mma_run_layout(config);
  if (!layout || layout->step_codes != 4) return std::nullopt;  // int8 activations: m16n8k32 steps
  layout->run = 2;
  return layout;
}

std::optional<MmaRunLayout> wgmma_layout(const MatmulConfig& config) {
  const std::optional<MmaRunLayout> runs = mma_run_layout(config);
  const bool small_bucket = config.M.smallest() <= kMostGemvRows;
  // Runs of 8 k of codes of at most 4 bits: a lane's fragment-order word is one field pattern of
  // each quad lane's word, moved by a rotation (8-bit codes would need a per-lane word choice).
  if (small_bucket && runs && runs->step_codes == 4 && runs->run == 8 && info(config.W_dtype).bits <= 4) return runs;
  if (w4a8_operands(config)) return w4a8_layout(config);
  return fragment_order_layout(config);
}

std::optional<MmaRunLayout> w4a8_layout(const MatmulConfig& config) {
  // The W4A8 kernels read tensor_gemv_8bit's runs as they are (byte lanes for int8 activations,
  // natural order for fp8), where each 32-k step lies in one lane's 16-byte load (runs of at least
  // 32 k): one layout for every bucket.
  const std::optional<MmaRunLayout> runs = mma_run_layout(config);
  if (!runs || runs->load_bytes != 16 || runs->run < 32 || !w4a8_operands(config)) return std::nullopt;
  return runs;
}

bool reorders_weights(const MatmulConfig& config, const MmaRunLayout& layout) {
  const int bits = info(config.W_dtype).bits;
  return layout.channel_tiles || reorders_fields(layout, bits) || layout.run != layout.codes_per_load(bits);
}

WeightLayout weight_layout(const MatmulConfig& config, const std::string& arch) {
  (void)arch;  // mma.sync m16n8k16 exists on every arch of the table (sm_80 and newer)
  return mma_run_layout(config) ? WeightLayout::mma_runs : WeightLayout::general;
}

std::vector<uint8_t> to_mma_runs(std::span<const uint8_t> general, const MatmulConfig& config, const MmaRunLayout& layout) {
  return rearrange(general, config, layout, Direction::to_runs);
}

std::vector<uint8_t> from_mma_runs(std::span<const uint8_t> runs, const MatmulConfig& config, const MmaRunLayout& layout) {
  return rearrange(runs, config, layout, Direction::from_runs);
}

}  // namespace bitjit
