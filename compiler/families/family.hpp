#pragma once
// The kernel families as one table. A KernelFamily (what a TileSchedule names) runs one or two
// device entry points: tensor_gemv has one for 16-bit and one for 8-bit activations, the Hopper
// families one that decodes weights and one for W8A8. Each entry point is a KernelTraits row that owns
// everything the host knows about it: which configs it takes, validation, its hand-set default,
// its tuning candidates and cost, its plan (header, function, constants, stages), its launch shape,
// its shared memory and its TMA tensors. The rest of the compiler looks rows up here and never
// switches on the family (docs/architecture.md: how to add a family).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/config.hpp"
#include "compiler/lower.hpp"
#include "compiler/schedule.hpp"

namespace bitjit {

// What the cost model (compiler/candidates.cpp) needs to know of one schedule's kernel.
struct KernelFootprint {
  int threads = 128;
  int shared_bytes = 0;
  int registers = 64;
  double instructions_per_mma = 0.0;  // 0: CUDA-core family
  double pipe_share = 1.0;            // of the tensor cores' peak the family's structure keeps busy
  bool stream_k = false;              // shares a short last wave out by k-stages (stream_k_tiles)
};

// One 2-D tensor a kernel loads by TMA: a row-major [rows, columns] of element_bytes elements, boxes of
// box_rows x box_columns, optionally in the 128-byte swizzle. runtime/tensor_maps.cpp encodes it.
// How a TMA box lands in shared memory: as is, or with its 16-byte chunks permuted by the 64- or
// 128-byte swizzle (chunk c of box row r at c ^ (r / 2 % 4), or at c ^ (r % 8)).
enum class TmaSwizzle { none, bytes64, bytes128 };

struct TmaTensor {
  const char* name = "";
  int element_bytes = 1;  // 1: bytes, 2: 16-bit values
  uint64_t columns = 0, rows = 0;
  uint32_t box_columns = 0, box_rows = 0;
  TmaSwizzle swizzle = TmaSwizzle::none;
  // Weights in channel tiles (compiler/weight_layout.hpp): rows of 16 channels' pieces of box_columns
  // bytes, encoded as 4-D [rows / 16 tiles][columns / box_columns k-blocks][16 channels][piece] with a
  // box of one k-block of box_rows / 16 tiles, which lands in shared memory as the 2-D box of rows whole.
  bool channel_tiles = false;
};

// One device entry point of a family (a function template in templates/bitjit).
struct KernelTraits {
  KernelFamily family;
  // Whether this entry point runs the config; null: every config the family's other entry points
  // leave (KernelFamilyTraits::kernels is searched in order).
  bool (*takes)(const MatmulConfig& config);
  const char* header;    // included by the generated source, e.g. "bitjit/kernels/simt_matmul.cuh"
  const char* function;  // instantiated with <Problem, Tiles>, e.g. "bitjit::simt_matmul"
  bool groups_wgmmas;    // reads TileSchedule::Pipeline::wgmma_group (every other entry point takes 1)
  bool tensor_maps;      // takes a TensorMaps parameter (tma_tensors), encoded per launch
  bool programmatic_launch;  // KernelPlan::programmatic_launch

  // Throws ConfigError naming the field when the schedule cannot run the config on arch.
  void (*validate)(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
  // The family's hand-set schedule for calls of `rows` rows; nullopt where the family does not run
  // the config. Callers validate it (compiler/families/select.cpp).
  std::optional<TileSchedule> (*default_for)(const MatmulConfig& config, const std::string& arch, int64_t rows);
  // Appends the family's tuning candidates around `fallback`, the bucket's default schedule (of this
  // family or another one reading the same weight layout); invalid ones are filtered by the caller.
  void (*add_candidates)(const MatmulConfig& config, const TileSchedule& fallback, int64_t rows,
                         std::vector<TileSchedule>& out);
  // Fills what the family adds to the footprint (threads and shared memory are filled before).
  void (*footprint)(const MatmulConfig& config, const TileSchedule& s, const std::string& arch, KernelFootprint& f);
  // Shared memory: static (tables, alignment, barriers) and dynamic (the staged families' ring).
  int (*static_shared_bytes)(const MatmulConfig& config, const TileSchedule& s);
  int (*dynamic_shared_bytes)(const MatmulConfig& config, const TileSchedule& s);
  // The plan: the Tiles constants, the pipeline's stages (for the generated file's header) and the
  // byte alignment of A, W, scales, zeros, bias and C pointers.
  std::vector<PlanConstant> (*tiles)(const MatmulConfig& config, const TileSchedule& s, const std::string& arch);
  std::vector<PlanStage> (*stages)(const MatmulConfig& config, const TileSchedule& s);
  std::array<int, 6> (*alignment)(const MatmulConfig& config, const TileSchedule& s);
  // Grid, block, dynamic shared memory and workspace for M rows (multiprocessors: the GPU's SM count).
  LaunchShape (*launch)(const KernelPlan& plan, int64_t M, int multiprocessors);
  // The A and W tensors loaded by TMA, for M rows; null unless tensor_maps.
  std::array<TmaTensor, 2> (*tma_tensors)(const KernelPlan& plan, int64_t M);
  // Reads TileSchedule::Launch::cluster_n: pairs of blocks sharing activation boxes (every other entry
  // point takes 1, refused by validate_schedule before the family's own checks).
  bool pairs_blocks = false;
};

struct KernelFamilyTraits {
  KernelFamily family;
  std::string_view name;  // in schedules' JSON and so in kernel-database keys: never renamed
  // The weight layout the family's kernels read for fp16 / bf16 activations (family_weight_layout
  // says which one a config gets); families reading the same one are tuned together.
  WeightLayout reads;
  // A warpgroup that only loads (tensor_wgmma_ws): the block runs 128 threads besides its computing warps.
  bool producer_warpgroup;
  std::span<const KernelTraits* const> kernels;  // searched in order (KernelTraits::takes)
};

// Every family, in the enum's order.
std::span<const KernelFamilyTraits> all_families();
const KernelFamilyTraits& family_traits(KernelFamily family);
// The family of that JSON name; nullopt for an unknown one.
std::optional<KernelFamily> family_named(std::string_view name);
// The entry point of `family` that runs the config.
const KernelTraits& kernel_traits(const MatmulConfig& config, KernelFamily family);

}  // namespace bitjit
