#pragma once
// The tile-scheduling IR: a TileSchedule says how one kernel family tiles the problem. It is plain
// data with a canonical, hashable JSON form; lowering (compiler/lower.hpp) is a pure function of
// (config, schedule, arch). What each family makes of the fields, its validation and its defaults
// live in compiler/families/ (family.hpp: the table); the functions below look the family up there.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "compiler/config.hpp"
#include "compiler/weight_layout.hpp"

namespace bitjit {

enum class KernelFamily : uint8_t {
  simt,  // CUDA-core FMA; correct for every accepted config, the baseline the others must match
  gemv,  // fp16/bf16 activations, float accumulation: streams the packed weights for small M
  tensor_gemv,  // the same job with mma.sync: weights decoded in pairs, read in the mma_runs layout
  tensor_gemm,  // M >= 16: tiles of A and W staged through a cp.async ring, the tensor_gemv mma per warp tile
  tensor_wgmma,  // sm_90a: the same ring, weights decoded into wgmma's register operand, wgmma per
                 // warpgroup
  tensor_wgmma_ws,  // sm_90a: tensor_wgmma's decode and wgmma (or its W8A8 wgmma), warp-specialized: a
                    // producer warpgroup fills the ring by TMA on mbarriers for consumer warpgroups, on
                    // a persistent grid
};
// The Hopper families (tensor_wgmma, tensor_wgmma_ws: wgmma, weights decoded into its register
// operand): the family table's rows whose own layout is mma_fragments; for a config with a bucket of
// at most 16 rows they read mma_runs instead (wgmma_layout).
bool is_hopper_family(KernelFamily family);
std::string_view to_string(KernelFamily family);

// How one kernel tiles the problem, in four groups whose fields mean the same in every family; a
// family that has no use for a field takes its neutral value (the comment's "else"), and its
// validation says so. Every family's own rules: compiler/families/<family>.cpp.
struct TileSchedule {
  // The block's tile of C.
  struct Tile {
    int m = 4;  // rows of C per block
    int n = 8;  // columns (output channels) of C per block
  };
  // The warps that compute the tile, by the dimension each splits: a block runs 32 * m * n * k
  // threads, and tensor_wgmma_ws a producer warpgroup besides (block_threads).
  struct Warps {
    int m = 1;  // warps along M, each taking tile.m / m rows (tensor_gemm)
    int n = 4;  // warps along N, each taking its own columns (simt, gemv, tensor_gemm, the Hopper families)
    int k = 1;  // warps along K, their sums added in shared memory at the end (tensor_gemv)
  };
  // How K is walked: loaded, staged, split and multiplied.
  struct Pipeline {
    int stages = 1;        // depth of the shared-memory ring (the staged families); else 1
    int k_per_stage = 0;   // K per stage of the ring (the staged families); else 0
    int k_per_round = 0;   // K one warp loads per round, the next round in flight (tensor_gemv); else 0
    int split_k = 1;       // slices of K computed by separate blocks and summed through the workspace
    int vector_bytes = 4;  // bytes of packed W each lane loads at once (1, 2, 4, 8, 16)
    int wgmma_group = 1;   // 16-k steps decoded first and issued as one wgmma group (tensor_wgmma and
                           // tensor_wgmma_ws decoding weights for fp16 / bf16 activations); else 1
  };
  // The grid: in which order blocks take output tiles, and how many share an SM.
  struct Launch {
    int raster_group = 1;  // row blocks per group of the tile order (tensor_wgmma_ws's persistent
                           // grid); else 1, row-major
    int blocks_per_sm = 0;  // blocks the compiler must fit on one SM (__launch_bounds__'s minimum:
                            // registers capped at registers_per_sm / (blocks x threads), spilling if
                            // need be); 0, the compiler's own count. Written only when set, so the
                            // canonical forms (database keys) of the schedules without it stay.
    int cluster_n = 1;  // blocks of a thread-block cluster along N, sharing their activation boxes by
                        // TMA multicast (tensor_wgmma_ws on W8A8: 1 or 2); else 1. Written only
                        // when not 1, for the same reason.
  };

  KernelFamily family = KernelFamily::simt;
  Tile tile;
  Warps warps;
  Pipeline pipeline;
  Launch launch;
};

// Threads per block of the schedule's kernel: 32 per computing warp, and the producer warpgroup of
// the families that have one (KernelFamilyTraits::producer_warpgroup). For a validated schedule;
// saturates rather than overflowing for any other.
int block_threads(const TileSchedule& schedule);

// launch.blocks_per_sm: 0, or 1 to the blocks that leave each of the schedule's threads at least 32
// registers on the arch; throws ConfigError naming the range otherwise. validate_schedule checks it
// after the family's checks; a family whose own checks divide the SM by it (tensor_wgmma_ws) checks it
// first, once its threads are valid.
void validate_blocks_per_sm(const TileSchedule& schedule, const std::string& arch);

// Throws ConfigError naming the field when the schedule cannot run the config on the arch.
void validate_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);
// validate_schedule as a yes / no answer.
bool is_valid_schedule(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);
// validate_schedule's message ("invalid TileSchedule: ..."), or "" where the schedule can run the config.
std::string schedule_refusal(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);

// The JSON form: {"family": ..., "tile": {"m", "n"}, "warps": {"m", "n", "k"}, "pipeline": {...},
// "launch": {...}} with every field (canonical_form: keys sorted, no spaces: the kernel-database
// key's schedule half). schedule_from_json requires the family and takes a missing group or field
// as TileSchedule's default; an unknown key or a value of the wrong type is a ConfigError naming its
// path (schedule.pipeline.split_k) and what is allowed. Validation is validate_schedule's.
nlohmann::json to_json(const TileSchedule& schedule);
TileSchedule schedule_from_json(const nlohmann::json& json);
std::string canonical_form(const TileSchedule& schedule);

// Defined with the selection policy in compiler/families/select.cpp:
// The mma_runs parameters the family's kernels read for this config: wgmma_layout for the Hopper
// families, mma_run_layout for the others; nullopt where they read the general layout.
std::optional<MmaRunLayout> family_layout(const MatmulConfig& config, KernelFamily family);
// The weight layout the family's kernels read (what Matmul::transform_weight must produce).
WeightLayout family_weight_layout(const MatmulConfig& config, KernelFamily family);
// A name for the exact bytes transform_weight produces for the config on the family's kernels: W's
// type and shape, the layout, and for the tensor-core layouts every parameter that moves a code
// (loads, runs, steps, pair order, channel tiles), with kWeightLayoutRevision. Equal names, equal bytes for equal
// logical weights; stored with transformed weights (bitjit.Linear's state) so that loading them into
// kernels that read other bytes is refused instead of computed wrong.
std::string weight_layout_id(const MatmulConfig& config, KernelFamily family);
// Raised whenever the bytes of a layout with unchanged parameters change meaning, so that weights
// transformed by an earlier version are refused (1: 2026-11-30, the first recorded).
inline constexpr int kWeightLayoutRevision = 1;

// Static shared memory of the schedule's kernel for the config on `arch`: tables, alignment,
// barriers, the warps' sums (each family's file says which), and the 1024 bytes ptxas reserves in
// every kernel that uses shared memory from compute capability 9.0 on
// (tests/compiler/test_shared_memory.cpp compares it with the compiled kernels').
int static_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule, const std::string& arch);
// Dynamic shared memory per block of the schedule's kernel (the staged families' ring; 0 for the
// others).
int dynamic_shared_bytes(const MatmulConfig& config, const TileSchedule& schedule);

// The schedule bitjit uses when nothing was tuned: legal for the config, chosen from its shape.
TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch);
// The same for calls of `rows` rows (one bucket of a dynamic M); the weight layout stays the config's.
TileSchedule default_schedule(const MatmulConfig& config, const std::string& arch, int64_t rows);
// The distinct default schedules over the config's M buckets (one for a static M): what Matmul::create
// compiles when nothing was tuned.
std::vector<TileSchedule> default_bucket_schedules(const MatmulConfig& config, const std::string& arch);

}  // namespace bitjit
