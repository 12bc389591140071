#include "runtime/matmul.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "common/error.hpp"
#include "common/text.hpp"
#include "common/log.hpp"
#include "compiler/arch.hpp"
#include "compiler/lower.hpp"
#include "quant/packing.hpp"
#include "quant/random.hpp"
#include "runtime/device.hpp"
#include "runtime/driver.hpp"
#include "runtime/kernel_cache.hpp"
#include "runtime/loaded_kernel.hpp"
#include "runtime/tensor_maps.hpp"
#include "runtime/timing.hpp"
#include "runtime/tuning.hpp"
#include "tuning_db/database.hpp"
#include "templates/bitjit/core/matmul_params.cuh"

namespace bitjit {
namespace {

std::string expected_text(const OperandSpec& spec) {
  return std::string(to_string(spec.dtype)) + shape_text(spec.shape);
}

// cuLaunchKernelEx's configuration of `shape` on `stream`, without attributes.
CUlaunchConfig launch_config(const LaunchShape& shape, CUstream stream) {
  CUlaunchConfig launch{};
  launch.gridDimX = shape.grid[0], launch.gridDimY = shape.grid[1], launch.gridDimZ = shape.grid[2];
  launch.blockDimX = shape.block[0], launch.blockDimY = shape.block[1], launch.blockDimZ = shape.block[2];
  launch.sharedMemBytes = shape.shared_bytes;
  launch.hStream = stream;
  return launch;
}

CUlaunchAttribute cluster_attribute(uint32_t blocks) {
  CUlaunchAttribute cluster{};
  cluster.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  cluster.value.clusterDim.x = blocks, cluster.value.clusterDim.y = 1, cluster.value.clusterDim.z = 1;
  return cluster;
}

// A launch of `shape` by cuLaunchKernelEx with its attributes: a programmatic dependent launch (its
// blocks may start while the grid before it in the stream finishes; the kernel itself waits for that
// grid before touching global memory: KernelPlan::programmatic_launch) and thread-block clusters of
// shape.cluster blocks along x.
CUresult launch_with_attributes(CUfunction function, const LaunchShape& shape, bool programmatic, CUstream stream,
                                void** arguments) {
  std::array<CUlaunchAttribute, 2> attributes{};
  unsigned int count = 0;
  if (programmatic) {
    attributes[count].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attributes[count++].value.programmaticStreamSerializationAllowed = 1;
  }
  if (shape.cluster > 1) attributes[count++] = cluster_attribute(shape.cluster);
  CUlaunchConfig launch = launch_config(shape, stream);
  launch.attrs = attributes.data();
  launch.numAttrs = count;
  return Driver::get().cuLaunchKernelEx(&launch, function, arguments, nullptr);
}

// The SMs a clustered launch of `function` (shape.cluster blocks a cluster, one block an SM) can
// keep busy at once: the driver's count of co-resident clusters times their size. A cluster's
// blocks run in one GPC, so a GPC with an odd count of free SMs leaves one idle, and a persistent
// grid sized by the SM count would run its last clusters after the others. Asked once per function
// and launch (keyed by both: a handle of an unloaded module may come back for another kernel).
int clustered_multiprocessors(CUfunction function, const LaunchShape& shape, const std::function<std::string()>& context) {
  using Key = std::tuple<CUfunction, uint32_t, uint32_t, uint32_t>;
  static std::mutex mutex;
  static std::map<Key, int> known;
  const Key key{function, shape.cluster, shape.block[0] * shape.block[1] * shape.block[2], shape.shared_bytes};
  const std::lock_guard<std::mutex> lock(mutex);
  if (const auto found = known.find(key); found != known.end()) return found->second;
  CUlaunchAttribute cluster = cluster_attribute(shape.cluster);
  CUlaunchConfig launch = launch_config(shape, nullptr);
  launch.attrs = &cluster;
  launch.numAttrs = 1;
  int clusters = 0;
  check_cuda(Driver::get().cuOccupancyMaxActiveClusters(&clusters, function, &launch), "cuOccupancyMaxActiveClusters",
             context);
  if (clusters < 1) {
    throw CudaError("cuOccupancyMaxActiveClusters: no cluster of " + std::to_string(shape.cluster) + " blocks of " +
                    std::to_string(shape.block[0]) + " threads and " + std::to_string(shape.shared_bytes) +
                    " bytes of dynamic shared memory fits on this GPU (" + context() + ")");
  }
  return known[key] = clusters * int(shape.cluster);
}

// Throws CaptureError when `stream` is being captured into a CUDA graph: `what` (loading modules,
// allocating scratch) cannot be captured and must happen before.
void refuse_during_capture(CUstream stream, const std::function<std::string()>& what) {
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  check_cuda(Driver::get().cuStreamIsCapturing(stream, &status), "cuStreamIsCapturing", what);
  if (status == CU_STREAM_CAPTURE_STATUS_NONE) return;
  throw CaptureError("Matmul::run on a stream that is being captured into a CUDA graph would need " + what() +
                     ", which capture does not allow; run the layer once on this device (and stream) before the "
                     "capture, as torch.cuda.graph's warm-up does, or call load() first");
}

}  // namespace

struct Matmul::Impl {
  MatmulConfig config;
  std::string canonical;  // for error messages
  // One kernel per M bucket (ascending; a static M is one bucket), shared where schedules agree. A
  // call runs the kernel of the smallest bucket holding its M, or of the largest bucket above that.
  std::vector<int64_t> bucket_rows;
  std::vector<std::shared_ptr<LoadedKernel>> bucket_kernels;
  // Split-K scratch per context and stream (launches on one stream run in order, so they may share
  // it): float32 slice sums, and per-tile counters that every launch leaves at zero. Keyed by the
  // context too: the legacy default stream (null) is one per context.
  struct Workspace {
    DeviceBuffer partials;
    DeviceBuffer counters;
  };
  mutable std::mutex workspace_mutex;
  mutable std::map<std::pair<CUcontext, CUstream>, Workspace> workspaces;

  LoadedKernel& kernel_for(int64_t M) const {
    for (size_t i = 0; i < bucket_rows.size(); ++i) {
      if (M <= bucket_rows[i]) return *bucket_kernels[i];
    }
    return *bucket_kernels.back();
  }
  const GeneratedKernel& largest() const { return bucket_kernels.back()->kernel; }

  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError("Matmul::run: " + message + " (config " + canonical + ")");
  }

  void check_operand(const char* name, const TensorView& view, const OperandSpec& spec, int alignment) const {
    if (!spec.used()) {
      if (view.data != nullptr) {
        fail(std::string(name) + " was given (" + describe(view) + ") but the config does not use it");
      }
      return;
    }
    if (view.data == nullptr) fail(std::string(name) + " is null; the config needs " + expected_text(spec));
    if (view.dtype != spec.dtype) {
      fail(std::string(name) + " has dtype " + std::string(to_string(view.dtype)) + ", expected " + expected_text(spec));
    }
    if (view.shape != spec.shape) {
      fail(std::string(name) + " has shape " + shape_text(view.shape) + ", expected " + expected_text(spec) +
           (info(spec.dtype).is_packed() ? " (packed bytes along the last axis)" : ""));
    }
    if (reinterpret_cast<uintptr_t>(view.data) % uintptr_t(alignment) != 0) {
      fail(std::string(name) + " at " + describe(view) + " is not aligned to " + std::to_string(alignment) +
           " bytes, which this kernel's loads need");
    }
  }

  int64_t rows_of(const TensorView& A) const {
    if (A.shape.size() != 2) fail("A must have shape [M, K], got " + shape_text(A.shape));
    const int64_t M = A.shape[0];
    if (M < 1) fail("A has M=" + std::to_string(M) + " rows; M must be at least 1");
    // A dynamic M past the largest bucket runs that bucket's kernel; its row indices are sized for
    // the dimension bound every config has.
    if (M > kLargestDimension) {
      fail("A has M=" + std::to_string(M) + " rows; M must be at most " + std::to_string(kLargestDimension) +
           " (split the call along M)");
    }
    if (!config.M.is_dynamic() && M != config.M.value()) {
      fail("A has M=" + std::to_string(M) + " rows but the config has a static M=" +
           std::to_string(config.M.value()) + "; give M as a list of buckets for dynamic M");
    }
    return M;
  }

  // The device's own arch or a ConfigError: the kernels were compiled for one arch.
  void check_arch(int device) const {
    const DeviceInfo& gpu = device_info(device);
    if (gpu.arch() != largest().plan.arch) {
      fail("the operands are on device " + std::to_string(device) + " (" + gpu.name + ", " + gpu.arch() +
           ") but this Matmul was compiled for " + largest().plan.arch + "; create one for that device's arch");
    }
  }

  // Every bucket's module in the scope's context (each kernel once), so that after any first run on a
  // device every M runs there without loading (a CUDA graph may capture any of them).
  void load_all(const DeviceScope& scope, CUstream stream) const {
    refuse_during_capture(stream, [&] { return "loading its kernels on device " + std::to_string(scope.device()); });
    for (const auto& kernel : bucket_kernels) kernel->load_in(scope.context(), scope.device());
  }

  // The caller's scratch, checked to be large enough, or this context's and stream's own, grown to the
  // shape's needs (new counters start at zero).
  void attach_workspace(MatmulParams& params, const LaunchShape& shape, const RunTarget& target,
                        const DeviceScope& scope) const {
    if (shape.workspace_bytes == 0) return;
    const size_t partial_bytes = size_t(shape.workspace_bytes);
    const size_t counter_bytes = size_t(shape.tile_counters) * sizeof(unsigned int);
    const ScratchView& given = target.scratch;
    if (given.partials != nullptr || given.counters != nullptr) {
      if (given.partials == nullptr || given.partial_bytes < partial_bytes || given.counters == nullptr ||
          given.counter_bytes < counter_bytes) {
        fail("scratch has " + std::to_string(given.partial_bytes) + " bytes of partials and " +
             std::to_string(given.counter_bytes) + " of counters; this run needs " + std::to_string(partial_bytes) +
             " and " + std::to_string(counter_bytes) + " (scratch_need)");
      }
      params.workspace = given.partials;
      params.tile_counters = static_cast<unsigned int*>(given.counters);
      return;
    }
    std::lock_guard<std::mutex> lock(workspace_mutex);
    Workspace& workspace = workspaces[{scope.context(), target.stream}];
    if (workspace.partials.size() < partial_bytes || workspace.counters.size() < counter_bytes) {
      refuse_during_capture(target.stream, [&] {
        return "to allocate " + std::to_string(partial_bytes + counter_bytes) + " bytes of split-K scratch for this stream";
      });
    }
    if (workspace.partials.size() < partial_bytes) workspace.partials = DeviceBuffer(partial_bytes);
    if (workspace.counters.size() < counter_bytes) {
      workspace.counters = DeviceBuffer(counter_bytes);
      // On the launch's stream: a plain memset would not be ordered before it on a non-blocking stream.
      check_cuda(Driver::get().cuMemsetD8Async(workspace.counters.ptr(), 0, counter_bytes, target.stream),
                 "cuMemsetD8Async(split-K tile counters)", "config " + canonical);
    }
    params.workspace = workspace.partials.data();
    params.tile_counters = static_cast<unsigned int*>(workspace.counters.data());
  }

  void launch(LoadedKernel& loaded, const MatmulParams& params, int64_t M, const RunTarget& target) const {
    const DeviceScope scope(target.device);
    check_arch(scope.device());
    CUfunction function = loaded.function_in(scope.context());
    if (function == nullptr) {
      load_all(scope, target.stream);
      function = loaded.function_in(scope.context());
    }
    const GeneratedKernel& kernel = loaded.kernel;
    const auto context = [&] { return "M=" + std::to_string(M) + ", " + kernel.file_name + ", config " + canonical; };
    LaunchShape shape = launch_shape(kernel.plan, M, device_info(scope.device()).sm_count);
    if (shape.cluster > 1) shape = launch_shape(kernel.plan, M, clustered_multiprocessors(function, shape, context));
    MatmulParams arguments = params;
    arguments.stream_k_tiles = shape.stream_k_tiles;
    attach_workspace(arguments, shape, target, scope);
    TensorMaps maps;
    if (kernel.plan.tensor_maps) maps = loaded.tensor_maps_for(params.A, params.W, M);
    void* kernel_arguments[] = {&arguments, &maps};  // the kernel reads the second only if it takes one
    if (kernel.plan.programmatic_launch || shape.cluster > 1) {
      const CUresult result =
          launch_with_attributes(function, shape, kernel.plan.programmatic_launch, target.stream, kernel_arguments);
      if (result == CUDA_SUCCESS) return;
      const std::string call =
          "cuLaunchKernelEx (" +
          std::string(kernel.plan.programmatic_launch ? "programmatic dependent launch" : "") +
          (kernel.plan.programmatic_launch && shape.cluster > 1 ? ", " : "") +
          (shape.cluster > 1 ? "clusters of " + std::to_string(shape.cluster) + " blocks" : "") + ")";
      check_cuda(result, call.c_str(), context);
      return;
    }
    check_cuda(Driver::get().cuLaunchKernel(function, shape.grid[0], shape.grid[1], shape.grid[2], shape.block[0],
                                            shape.block[1], shape.block[2], shape.shared_bytes, target.stream,
                                            kernel_arguments, nullptr),
               "cuLaunchKernel", context);
  }
};

namespace {

// The GPU whose tuned schedules apply to kernels for `arch`: the one this thread uses, when the arch
// is its own, whether found here (none named) or named by the caller as the same (BitBLAS's quick
// start names it: target=auto_detect_nvidia_target()). A named arch of another GPU, or one named on
// a machine without a GPU, is compiled ahead of time and takes the defaults.
std::optional<DeviceInfo> gpu_for_tuned_schedules(const std::string& named_arch, const std::string& arch) {
  if (named_arch.empty()) return current_device_info();
  const std::optional<int> device = device_in_use();
  if (!device || device_info(*device).arch() != arch) return std::nullopt;
  return device_info(*device);
}

// The schedule tuned for this config on `gpu` (hardware_aware_finetune stores it), else the default.
TileSchedule chosen_schedule(const MatmulConfig& config, const std::string& arch, const std::optional<DeviceInfo>& gpu,
                             int64_t rows) {
  if (gpu) {
    db::KernelDatabase& database = db::default_database();
    const std::string key = tuned_entry_key(config, rows);
    if (auto tuned = database.tuned(key, gpu->name); tuned && tuned->arch == arch) {
      try {
        TileSchedule schedule = schedule_from_json(tuned->schedule);
        validate_schedule(config, schedule, arch);
        const TileSchedule fallback = default_schedule(config, arch, rows);
        if (weight_layout_id(config, schedule.family) != weight_layout_id(config, fallback.family)) {
          // The weights are packed once for every bucket, so a tuned entry must keep the config's layout.
          throw ConfigError("family=" + std::string(to_string(schedule.family)) + " reads the weight layout '" +
                            weight_layout_id(config, schedule.family) + "', this config's kernels '" +
                            weight_layout_id(config, fallback.family) + "'");
        }
        return schedule;
      } catch (const ConfigError& error) {
        database.warn_once("kernel database: the tuned schedule for " + key + " on " +
                           tuned->device + " is not usable (" + error.what() + "); using the default schedule");
      }
    }
  }
  return default_schedule(config, arch, rows);
}

}  // namespace

Matmul::Matmul(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Matmul::Matmul(Matmul&&) noexcept = default;
Matmul& Matmul::operator=(Matmul&&) noexcept = default;
Matmul::~Matmul() = default;

Matmul Matmul::create(const MatmulConfig& config, const MatmulOptions& options) {
  validate(config);
  std::string arch = options.arch;
  if (arch.empty()) {
    ensure_context();
    arch = current_device_info().arch();
  }
  check_arch(arch);
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->canonical = canonical_form(config);
  impl->bucket_rows = config.M.values();
  std::sort(impl->bucket_rows.begin(), impl->bucket_rows.end());
  std::map<std::string, std::shared_ptr<LoadedKernel>> by_schedule;
  const std::optional<DeviceInfo> tuned_gpu =
      options.schedule ? std::nullopt : gpu_for_tuned_schedules(options.arch, arch);
  for (int64_t rows : impl->bucket_rows) {
    const TileSchedule schedule = options.schedule ? *options.schedule : chosen_schedule(config, arch, tuned_gpu, rows);
    std::shared_ptr<LoadedKernel>& loaded = by_schedule[canonical_form(schedule)];
    if (!loaded) {
      loaded = std::make_shared<LoadedKernel>();
      loaded->kernel = generate_kernel(config, schedule, arch);
      log().debug("Matmul::create: {} with {} on {} from M={}", impl->canonical, canonical_form(schedule), arch, rows);
    }
    impl->bucket_kernels.push_back(loaded);
  }
  return Matmul(std::move(impl));
}

WeightLayout Matmul::weight_layout() const {
  // Equal for every bucket: an explicit schedule serves them all, tuned ones keep the default's layout.
  return family_weight_layout(impl_->config, impl_->largest().plan.schedule.family);
}

std::string Matmul::weight_layout_id() const {
  return bitjit::weight_layout_id(impl_->config, impl_->largest().plan.schedule.family);
}

int64_t Matmul::weight_reorder_block() const {
  if (weight_layout() == WeightLayout::general) return 0;
  const MmaRunLayout layout = *family_layout(impl_->config, impl_->largest().plan.schedule.family);
  if (!reorders_weights(impl_->config, layout)) return 0;
  return layout.k_block(info(impl_->config.W_dtype).bits);
}

const MatmulConfig& Matmul::config() const { return impl_->config; }
const TileSchedule& Matmul::schedule() const { return impl_->largest().plan.schedule; }
const TileSchedule& Matmul::schedule_for(int64_t M) const { return impl_->kernel_for(M).kernel.plan.schedule; }
const std::string& Matmul::arch() const { return impl_->largest().plan.arch; }
const std::string& Matmul::source() const { return impl_->largest().source; }
const std::string& Matmul::source_for(int64_t M) const { return impl_->kernel_for(M).kernel.source; }

void Matmul::run(const TensorView& A, const TensorView& W, const TensorView& C, const TensorView& scales,
                 const TensorView& zeros, const TensorView& bias, CUstream stream) const {
  RunTarget target;
  target.stream = stream;
  run(A, W, C, scales, zeros, bias, target);
}

void Matmul::load(int device) const {
  const DeviceScope scope(device);
  impl_->check_arch(scope.device());
  impl_->load_all(scope, nullptr);
}

ScratchNeed Matmul::scratch_need(int64_t M, int device) const {
  if (M < 1) throw ConfigError("scratch_need: M=" + std::to_string(M) + " must be at least 1");
  const DeviceScope scope(device);
  const LaunchShape shape = launch_shape(impl_->kernel_for(M).kernel.plan, M, device_info(scope.device()).sm_count);
  if (shape.workspace_bytes == 0) return {};
  return {size_t(shape.workspace_bytes), size_t(shape.tile_counters) * sizeof(unsigned int)};
}

void Matmul::run(const TensorView& A, const TensorView& W, const TensorView& C, const TensorView& scales,
                 const TensorView& zeros, const TensorView& bias, const RunTarget& target) const {
  const int64_t M = impl_->rows_of(A);
  const OperandSpecs specs = operand_specs(impl_->config, M);
  LoadedKernel& loaded = impl_->kernel_for(M);
  const auto& alignment = loaded.kernel.plan.alignment;
  impl_->check_operand("A", A, specs.A, alignment[0]);
  impl_->check_operand("W", W, specs.W, alignment[1]);
  impl_->check_operand("scales", scales, specs.scales, alignment[2]);
  impl_->check_operand("zeros", zeros, specs.zeros, alignment[3]);
  impl_->check_operand("bias", bias, specs.bias, alignment[4]);
  impl_->check_operand("C", C, specs.C, alignment[5]);
  MatmulParams params{A.data, W.data, scales.data, zeros.data, bias.data, C.data, nullptr, M, nullptr, 0};
  impl_->launch(loaded, params, M, target);
}

HostTensor Matmul::transform_weight(std::span<const int8_t> logical_values) const {
  const MatmulConfig& c = impl_->config;
  if (int64_t(logical_values.size()) != c.N * c.K) {
    throw ConfigError("transform_weight: got " + std::to_string(logical_values.size()) + " values, expected N*K = " +
                      std::to_string(c.N * c.K));
  }
  std::vector<uint8_t> codes = logical_to_codes(c.W_dtype, logical_values);
  return transform_weight_codes(codes);
}

HostTensor Matmul::transform_weight_codes(std::span<const uint8_t> codes) const {
  const MatmulConfig& c = impl_->config;
  const DTypeInfo& w = info(c.W_dtype);
  if (w.bits > 8) {
    throw ConfigError("transform_weight: W_dtype=" + std::string(w.name) +
                      " has values, not codes; pass its [N, K] values to transform_weight as a HostTensor or an array");
  }
  if (int64_t(codes.size()) != c.N * c.K) {
    throw ConfigError("transform_weight: got " + std::to_string(codes.size()) + " codes, expected N*K = " +
                      std::to_string(c.N * c.K));
  }
  HostTensor packed = make_host_tensor(c.W_dtype, operand_specs(c, 1).W.shape);
  packed.bytes = general_compress(codes, c.N, c.K, w.bits);
  return transform_weight(packed);
}

HostTensor Matmul::transform_weight_array(ArrayElement element, std::span<const uint8_t> bytes) const {
  const MatmulConfig& c = impl_->config;
  std::vector<uint8_t> fields = weight_fields_from_array(c.W_dtype, element, bytes, c.N * c.K, c.K);
  if (info(c.W_dtype).bits <= 8) return transform_weight_codes(fields);
  return transform_weight(HostTensor{c.W_dtype, {c.N, c.K}, std::move(fields)});
}

HostTensor Matmul::transform_weight(const HostTensor& packed) const {
  const OperandSpec spec = operand_specs(impl_->config, 1).W;
  if (packed.dtype != spec.dtype || packed.shape != spec.shape) {
    throw ConfigError("transform_weight: got " + std::string(to_string(packed.dtype)) + shape_text(packed.shape) +
                      ", expected general_compress output " + expected_text(spec));
  }
  switch (weight_layout()) {
    case WeightLayout::general: return packed;
    case WeightLayout::mma_runs:
    case WeightLayout::mma_fragments: {
      HostTensor arranged = packed;
      const TileSchedule& schedule = impl_->largest().plan.schedule;
      arranged.bytes = to_mma_runs(packed.bytes, impl_->config, *family_layout(impl_->config, schedule.family));
      return arranged;
    }
  }
  throw Error("transform_weight: unknown weight layout");
}

namespace {

// Random operands on the device for timing, the weights in enough copies that a pass over them
// exceeds twice the L2, so every launch reads them from HBM as in a real model.
struct TimingInputs {
  OperandSpecs specs;
  int copies = 1;
  std::vector<DeviceBuffer> weights;
  DeviceBuffer a, scales, zeros, bias, out;

  TimingInputs(const MatmulConfig& config, int64_t M, std::mt19937_64& rng) : specs(operand_specs(config, M)) {
    const MatmulOperands operands = random_operands_fast(config, M, rng);
    copies = copies_past_l2(specs.W.bytes(), current_device_info().l2_bytes);
    for (int i = 0; i < copies; ++i) weights.push_back(upload_host_tensor(operands.W));
    a = upload_host_tensor(operands.A);
    scales = upload_host_tensor(operands.scales);
    zeros = upload_host_tensor(operands.zeros);
    bias = upload_host_tensor(operands.bias);
    out = DeviceBuffer(size_t(specs.C.bytes()));
  }

  // Launch i of a timing run: rotates through the weight copies.
  void run(const Matmul& matmul, int i, CUstream stream) const {
    matmul.run(view_of(a, specs.A), view_of(weights[size_t(i % copies)], specs.W), view_of(out, specs.C),
               view_of(scales, specs.scales), view_of(zeros, specs.zeros), view_of(bias, specs.bias), stream);
  }
};

// Median ms per launch with batches of about half a millisecond: a rough time first sets the batch,
// so a 10 µs kernel is timed over 20 launches per event pair and a 10 ms one over 1. The batches
// are CUDA graphs (LaunchTiming::graph, every weight copy in each): the candidates differ in their
// kernels, not in the host's work per launch, which eager batches add to kernels of a few
// microseconds (8B one row: 7.8 µs eager against 6.5 in a graph on the H200) together with its
// noise, so that candidates a few percent apart could trade places.
double tuning_time_ms(const Matmul& matmul, const TimingInputs& inputs, CUstream stream) {
  const auto launch = [&](int i) { inputs.run(matmul, i, stream); };
  const double rough = median_launch_ms(stream, launch, {2, 1, 3});
  const int batch = std::clamp(int(0.5 / std::max(rough, 1e-3)), 1, 20);
  return median_launch_ms(stream, launch, {3, batch, 7, LaunchTiming::graph, inputs.copies});
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

double Matmul::profile_latency(std::optional<int64_t> M_opt, int warmup, int repeats, LaunchTiming timing) const {
  const MatmulConfig& c = impl_->config;
  const int64_t M = M_opt ? *M_opt : c.M.largest();
  if (repeats < 1) throw ConfigError("profile_latency: repeats=" + std::to_string(repeats) + " must be at least 1");
  if (warmup < 0 || (timing == LaunchTiming::graph && warmup < 1)) {
    // A captured run may not allocate the stream's split-K scratch: a run before the capture does.
    throw ConfigError("profile_latency: warmup=" + std::to_string(warmup) + " must be at least " +
                      (timing == LaunchTiming::graph ? "1 with graph timing (the runs before the capture allocate "
                                                       "the stream's scratch, which a captured run may not)"
                                                     : "0"));
  }
  load();
  std::mt19937_64 rng(std::random_device{}());
  const TimingInputs inputs(c, M, rng);
  Stream stream;
  return median_launch_ms(stream.get(), [&](int i) { inputs.run(*this, i, stream.get()); },
                          {warmup, 10, repeats, timing, inputs.copies});
}

TuningReport Matmul::hardware_aware_finetune(int topk, const std::function<void(int64_t, int, int)>& progress) {
  if (topk < 1) throw ConfigError("hardware_aware_finetune: topk=" + std::to_string(topk) + " must be at least 1");
  ensure_context();
  const DeviceInfo& device = current_device_info();
  if (device.arch() != arch()) {
    throw ConfigError("hardware_aware_finetune: this Matmul was created for " + arch() + " but the current GPU is " +
                      device.name + " (" + device.arch() + "); tuning times kernels on the GPU they run on");
  }
  const auto start = std::chrono::steady_clock::now();
  const MatmulConfig& config = impl_->config;
  const TargetDevice target = target_device(device);
  std::mt19937_64 rng(std::random_device{}());
  Stream stream;
  TuningReport report;
  for (size_t b = 0; b < impl_->bucket_rows.size(); ++b) {
    const auto bucket_start = std::chrono::steady_clock::now();
    const int64_t rows = impl_->bucket_rows[b];
    // The current schedule first and the default next, so the tuned choice is never slower than
    // either (the current one may be an entry tuned before the defaults changed); then the model's
    // best of each tile geometry before a second of any (timing_order).
    const TileSchedule before = impl_->bucket_kernels[b]->kernel.plan.schedule;
    std::vector<TileSchedule> schedules;
    std::set<std::string> taken;
    const auto take = [&](const TileSchedule& s) {
      if (taken.insert(canonical_form(s)).second) schedules.push_back(s);
    };
    take(before);
    take(default_schedule(config, arch(), rows));
    for (const RankedSchedule& ranked : timing_order(candidate_schedules(config, target, rows))) {
      if (int(schedules.size()) > topk) break;
      take(ranked.schedule);
    }
    // NVRTC is thread-safe: compile every candidate at once.
    std::vector<std::future<Matmul>> compiling;
    for (const TileSchedule& schedule : schedules) {
      compiling.push_back(std::async(std::launch::async, [&, schedule] { return create(config, {arch(), schedule}); }));
    }
    std::vector<Matmul> candidates;
    for (auto& future : compiling) candidates.push_back(future.get());
    const double compile_seconds = seconds_since(bucket_start);

    const TimingInputs inputs(config, rows, rng);
    std::vector<double> times;
    for (size_t i = 0; i < candidates.size(); ++i) {
      times.push_back(tuning_time_ms(candidates[i], inputs, stream.get()));
      if (progress) progress(rows, int(i + 1), int(candidates.size()));
    }
    const size_t best = size_t(std::min_element(times.begin(), times.end()) - times.begin());
    impl_->bucket_kernels[b] = candidates[best].impl_->bucket_kernels.front();
    db::default_database().store_tuned({tuned_entry_key(config, rows), device.name, arch(),
                                        to_json(schedules[best]), times[best], utc_now()});
    const double bucket_seconds = seconds_since(bucket_start);
    report.buckets.push_back({rows, schedules[best], times[best], before, times[0], int(candidates.size()),
                              bucket_seconds, compile_seconds});
    log().info("tuned {} for M={}: {:.4f} ms with {} (was {:.4f} ms), {} candidates in {:.1f} s ({:.1f} s compiling)",
               impl_->canonical, rows, times[best], canonical_form(schedules[best]), times[0], candidates.size(),
               bucket_seconds, compile_seconds);
  }
  report.seconds = seconds_since(start);
  return report;
}

}  // namespace bitjit
