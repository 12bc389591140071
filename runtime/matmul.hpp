#pragma once
// bitjit::Matmul: a config compiled into a kernel for one arch, run on device pointers.
#include <cuda.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "compiler/config.hpp"
#include "compiler/schedule.hpp"
#include "compiler/weight_layout.hpp"
#include "quant/packing.hpp"
#include "quant/host_tensor.hpp"
#include "runtime/tensor_view.hpp"
#include "runtime/timing.hpp"
#include "runtime/tuning.hpp"

namespace bitjit {

struct MatmulOptions {
  std::string arch;                        // a name of the arch table (compiler/arch.hpp); empty: the current GPU's
  std::optional<TileSchedule> schedule;    // empty: the default schedule for the config and arch
};

// Split-K / stream-K scratch owned by the caller, for runs whose memory must come from the caller's
// allocator (PyTorch's, which serves CUDA graph capture from the graph's own pool). The counters must
// be zero before the first run that uses them; every run leaves them at zero.
struct ScratchView {
  void* partials = nullptr;
  size_t partial_bytes = 0;
  void* counters = nullptr;
  size_t counter_bytes = 0;
};

// Bytes of scratch a run of M rows needs on a device (both zero for kernels without split-K).
struct ScratchNeed {
  size_t partial_bytes = 0;
  size_t counter_bytes = 0;
};

// Where a run launches.
struct RunTarget {
  CUstream stream = nullptr;
  // The device the operands live on and `stream` belongs to; -1: the current context's. Another device's
  // primary context is made current for the launch and the thread's own restored after (DeviceScope).
  int device = -1;
  // Empty: the Matmul's own scratch for (context, stream), allocated by the first run that needs it.
  ScratchView scratch;
};

class Matmul {
 public:
  // Validates and lowers, then takes each binary from this process's cache, else the kernel database
  // (tuning_db/), else compiles it with NVRTC and stores it there. Without options.schedule, the
  // schedule tuned for this GPU (stored in the database) is used when there is one, else the default.
  // Needs a GPU only when options.arch is empty; the module is loaded on the first run.
  static Matmul create(const MatmulConfig& config, const MatmulOptions& options = {});

  const MatmulConfig& config() const;
  // With dynamic M, each bucket has its own kernel (bitjit picks a schedule per bucket; kernels with
  // equal schedules are shared) and run() takes the smallest bucket holding the call's M; an M above
  // every bucket runs the largest bucket's kernel. schedule() and source() are the largest bucket's.
  const TileSchedule& schedule() const;
  const TileSchedule& schedule_for(int64_t M) const;
  const std::string& arch() const;
  const std::string& source() const;  // the generated CUDA C
  const std::string& source_for(int64_t M) const;

  // C = A · dequant(W)ᵀ (+ bias). Every view is checked against the config: a wrong dtype or shape,
  // a null or misaligned pointer, or an operand the config does not use, is a ConfigError. With a
  // static M, A has exactly M rows; with dynamic M, any M from 1 to 2^31 - 1. Asynchronous on `stream`.
  // Split-K kernels (tensor_gemm with split_k > 1) sum their slices through a scratch buffer the
  // Matmul keeps per stream, allocated by the first run on that stream that needs it (so make one
  // such run before capturing a CUDA graph); runs on different streams never share one.
  void run(const TensorView& A, const TensorView& W, const TensorView& C, const TensorView& scales = {},
           const TensorView& zeros = {}, const TensorView& bias = {}, CUstream stream = nullptr) const;
  // The same on any device (one Matmul serves layers on several GPUs of its arch: each device's context
  // loads its own modules, on its first run there, every bucket's at once). A device of another arch
  // than arch() is a ConfigError naming both. Nothing is compiled, loaded, allocated or synchronized
  // by a run once this device (and, with the Matmul's own scratch, this stream) has run it: so CUDA
  // graphs capture it. Where a run on a capturing stream would have to load modules or allocate
  // scratch, it throws CaptureError instead (cuModuleLoadData and cuMemAlloc are not capturable).
  void run(const TensorView& A, const TensorView& W, const TensorView& C, const TensorView& scales,
           const TensorView& zeros, const TensorView& bias, const RunTarget& target) const;

  // Loads every bucket's module in `device`'s context now (-1: the current one), e.g. before capture.
  void load(int device = -1) const;
  // The scratch a run of M rows on `device` needs (zero for kernels without split-K / stream-K).
  ScratchNeed scratch_need(int64_t M, int device = -1) const;

  // The weight layout the kernel reads. weight_reorder_block(): the k-block (in elements of W) inside
  // which that layout moves elements away from general_compress's order (for 16-bit weights: from
  // plain row-major [N, K]; in channel tiles a k-block's pieces also move among a tile's 16 rows), 0
  // where it moves none; weight_transform(): whether it moves any, i.e. whether transform_weight
  // changes the bytes it is given.
  WeightLayout weight_layout() const;
  // weight_layout_id (compiler/schedule.hpp) of this Matmul's kernels: record it with stored W.
  std::string weight_layout_id() const;
  int64_t weight_reorder_block() const;
  bool weight_transform() const { return weight_reorder_block() != 0; }
  // W for this kernel from the user's logical values [N, K] (signed for intN, e.g. int4 in [-8, 7];
  // codes in [0, 2^bits) for unsigned, nf4, fp4 and fp8 formats), or from general_compress's output
  // (for float16 / bfloat16 weights: the values [N, K] themselves, row-major).
  HostTensor transform_weight(std::span<const int8_t> logical_values) const;
  HostTensor transform_weight_codes(std::span<const uint8_t> codes) const;
  HostTensor transform_weight(const HostTensor& packed) const;
  // The same from an array as a user hands it over (N * K elements, any element type): every value is
  // checked as given (weight_fields_from_array, quant/packing.hpp) before it is packed.
  HostTensor transform_weight_array(ArrayElement element, std::span<const uint8_t> bytes) const;

  // Median time of one run in milliseconds, on random inputs it allocates itself (weights rotated
  // through enough copies to exceed twice the L2), after `warmup` runs, timed with CUDA events around
  // batches of 10 runs; `repeats` batches. M is the static M, or for dynamic M the given one
  // (default: the largest bucket). `timing` (runtime/timing.hpp): runs issued from the host each batch
  // (eager, what an eager framework's call costs, the host's work included where it is the longer),
  // or a batch of at least one run per weight copy captured once into a CUDA graph and replayed (the
  // kernels' own time); a graph needs a warmup of at least one run (it loads the kernels).
  double profile_latency(std::optional<int64_t> M = std::nullopt, int warmup = 10, int repeats = 20,
                         LaunchTiming timing = LaunchTiming::eager) const;

  // For each M bucket (the static M, or each bucket of a dynamic M): ranks the legal schedules with
  // the cost model (compiler/candidates.hpp), compiles the best `topk` and the current one in
  // parallel, times each on random operands as profile_latency does, and keeps the fastest: this
  // Matmul runs it from now on, and the kernel database stores it for this config and GPU, so later
  // Matmul::create calls on this device pick it up. Needs the GPU the Matmul was created for; not to
  // be called while another thread runs this Matmul. `progress`, if given, is called after each
  // timed candidate with (the bucket's rows, candidates done, candidates of the bucket).
  TuningReport hardware_aware_finetune(int topk = 20,
                                       const std::function<void(int64_t, int, int)>& progress = {});

  Matmul(Matmul&&) noexcept;
  Matmul& operator=(Matmul&&) noexcept;
  ~Matmul();

 private:
  struct Impl;
  explicit Matmul(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bitjit
