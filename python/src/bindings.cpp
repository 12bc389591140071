// The bitjit C++ library as the Python extension module bitjit._bitjit (nanobind). Thin on
// purpose: configs travel as JSON text (the C++ parser checks every field), host arrays as
// nb::ndarray (numpy, torch on the CPU), and device operands as nb::ndarray (anything with DLPack:
// torch, cupy) or, for objects with only __cuda_array_interface__, as the descriptor tuple that
// python/bitjit/__init__.py builds. Every operand's dtype, device, layout and shape is checked here
// against the config before C++ sees a pointer.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <functional>
#include <set>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "compiler/arch.hpp"
#include "compiler/config.hpp"
#include "compiler/schedule.hpp"
#include "quant/checkpoints.hpp"
#include "quant/packing.hpp"
#include "quant/quantize.hpp"
#include "runtime/device.hpp"
#include "runtime/graph_capture.hpp"
#include "runtime/matmul.hpp"
#include "runtime/nvrtc_library.hpp"

namespace nb = nanobind;
using namespace bitjit;

namespace {

MatmulConfig parse_config(const std::string& text) {
  // Bounded in size and depth, duplicate keys refused (common/json_input.hpp).
  MatmulConfig config = config_from_json(parse_json_input(text, "config"));
  validate(config);
  return config;
}

nb::bytes to_bytes(const std::vector<uint8_t>& data) {
  return nb::bytes(reinterpret_cast<const char*>(data.data()), data.size());
}

using HostArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// DLPack's element type -> the value checks' view of it (quant/packing.hpp).
ArrayElement element_of(nb::dlpack::dtype dtype) {
  using Code = nb::dlpack::dtype_code;
  ArrayElement element;
  element.bits = dtype.bits;
  if (dtype.lanes != 1) return element;  // vector lanes: other
  switch (Code(dtype.code)) {
    case Code::Int: element.kind = ElementKind::signed_int; break;
    case Code::UInt: element.kind = ElementKind::unsigned_int; break;
    case Code::Float: element.kind = ElementKind::ieee_float; break;
    case Code::Bfloat: element.kind = ElementKind::bfloat; break;
    case Code::Bool: element.kind = ElementKind::boolean; break;
    default: break;
  }
  return element;
}

// The bytes of a host array (C-contiguous: nanobind copies one that is not).
std::span<const uint8_t> bytes_of(const HostArray& array) {
  return {static_cast<const uint8_t*>(array.data()), array.nbytes()};
}

// A device operand as given: where it lies, its element type's name (bitjit's dtype names where one
// fits, else numpy's), its shape, and whether it is row-major without gaps.
struct GivenOperand {
  uintptr_t pointer = 0;
  std::vector<int64_t> shape;
  std::string element;
  bool contiguous = true;
  int device_type = 0;  // DLPack's: 1 CPU, 2 CUDA, 3 CUDA host, 13 CUDA managed
  int device_id = -1;   // -1: unknown (__cuda_array_interface__ does not say)
};

std::string element_name(nb::dlpack::dtype dtype) {
  using Code = nb::dlpack::dtype_code;
  if (Code(dtype.code) == Code::Float8_E4M3FN && dtype.bits == 8) return "float8_e4m3";  // OCP E4M3FN, bitjit's
  if (Code(dtype.code) == Code::Float8_E5M2 && dtype.bits == 8) return "float8_e5m2";
  const ArrayElement element = element_of(dtype);
  if (element.kind == ElementKind::other) {
    return "DLPack type code " + std::to_string(dtype.code) + " of " + std::to_string(dtype.bits) + " bits";
  }
  return element.kind == ElementKind::bfloat ? "bfloat16" : element.name();
}

GivenOperand given_operand(const nb::ndarray<>& array) {
  GivenOperand given;
  given.pointer = reinterpret_cast<uintptr_t>(array.data());
  given.element = element_name(array.dtype());
  given.device_type = array.device_type();
  given.device_id = array.device_id();
  int64_t expected_stride = 1;
  for (size_t d = array.ndim(); d-- > 0;) {
    given.shape.insert(given.shape.begin(), int64_t(array.shape(d)));
    if (array.shape(d) != 1 && array.stride(d) != expected_stride) given.contiguous = false;
    expected_stride *= int64_t(array.shape(d));
  }
  return given;
}

// Python's descriptor of an object without DLPack: (pointer, shape, element name, contiguous,
// device type, device id).
using Descriptor = std::tuple<uintptr_t, std::vector<int64_t>, std::string, bool, int, int>;

GivenOperand given_operand(const Descriptor& descriptor) {
  const auto& [pointer, shape, element, contiguous, device_type, device_id] = descriptor;
  return GivenOperand{pointer, shape, element, contiguous, device_type, device_id};
}

std::string device_text(int type, int id) {
  const std::string ordinal = id >= 0 ? ":" + std::to_string(id) : "";
  switch (type) {
    case 1: return "cpu";
    case 2: return "cuda" + ordinal;
    case 3: return "cuda_host (pinned host memory)";
    case 13: return "cuda_managed" + ordinal;
    default: return "DLPack device type " + std::to_string(type);
  }
}

// Operands the kernel reads as codes (packed weights, uint8, nf4, fp4, fp8) may come as raw bytes.
bool read_as_codes(DType dtype) {
  const DTypeInfo& row = info(dtype);
  return row.bits <= 8 && row.kind != ValueKind::twos_complement;
}

// The element types an operand of dtype `expected` may be given as: its own, and raw bytes for codes.
std::vector<std::string> accepted_elements(DType expected) {
  std::vector<std::string> names{std::string(to_string(expected))};
  if (read_as_codes(expected)) names.insert(names.end(), {"uint8", "int8"});
  return names;
}

bool element_fits(DType expected, const std::string& given) {
  const std::vector<std::string> names = accepted_elements(expected);
  return std::find(names.begin(), names.end(), given) != names.end();
}

std::string expected_element(DType expected) {
  const DTypeInfo& row = info(expected);
  if (!read_as_codes(expected)) return std::string(row.name);
  return std::string(row.name) + (row.is_packed() ? " packed" : "") + " (as uint8 or int8 bytes" +
         (row.bits == 8 && row.is_float() ? ", or " + std::string(row.name) : "") + ")";
}

struct CheckedOperand;
TensorView checked_view(const CheckedOperand& o, const std::function<int()>& device);

// An operand the call gives, with the spec the config has for it.
struct CheckedOperand {
  std::optional<GivenOperand> given;
  OperandSpec spec;
  std::string name;

  [[noreturn]] void mismatch(const std::string& what, const std::string& expected_device) const {
    throw ConfigError("Matmul: " + name + " " + what + ": given " + given->element + " on " +
                      device_text(given->device_type, given->device_id) + " with shape " + shape_text(given->shape) +
                      ", expected " + expected_element(spec.dtype) + " on " + expected_device + " with shape " +
                      shape_text(spec.shape));
  }
  bool checked() const { return given && spec.used(); }  // an unused one given: Matmul::run names it
};

// Operands on more than one GPU (a layer moved to another device than its input, say): every one
// named with its device, rather than the first that differs from the device bitjit runs on.
void require_one_device(const std::vector<CheckedOperand>& operands) {
  std::set<int> devices;
  std::string placed;
  for (const CheckedOperand& o : operands) {
    if (!o.checked() || o.given->device_id < 0) continue;  // __cuda_array_interface__ does not say
    devices.insert(o.given->device_id);
    placed += (placed.empty() ? "" : ", ") + o.name + " on " + device_text(o.given->device_type, o.given->device_id);
  }
  if (devices.size() > 1) throw ConfigError("Matmul: operands on different devices: " + placed + "; move them to one GPU");
}

// Every operand's dtype first (so that the first error is the dtype's, whatever the operand's order),
// then each one's device, layout and shape; each error names the operand, what the config expects
// and what was given. `device`: the CUDA device bitjit runs on, asked for only once every operand is
// known to be in CUDA memory (a CPU-only machine never needs a GPU to get its error).
std::vector<TensorView> checked_views(const std::vector<CheckedOperand>& operands, const std::function<int()>& device) {
  for (const CheckedOperand& o : operands) {
    if (o.checked() && !element_fits(o.spec.dtype, o.given->element)) o.mismatch("has the wrong dtype", "a CUDA device");
  }
  for (const CheckedOperand& o : operands) {
    if (o.checked() && o.given->device_type != 2 && o.given->device_type != 13) {
      o.mismatch("is not in CUDA device memory", "a CUDA device");
    }
  }
  require_one_device(operands);
  std::vector<TensorView> views;
  for (const CheckedOperand& o : operands) views.push_back(checked_view(o, device));
  return views;
}
TensorView checked_view(const CheckedOperand& o, const std::function<int()>& device) {
  if (!o.given) return TensorView();
  if (!o.spec.used()) return TensorView(reinterpret_cast<const void*>(o.given->pointer), DType::uint8, o.given->shape);
  const std::string expected_device = "cuda:" + std::to_string(device());
  if (o.given->device_id >= 0 && "cuda:" + std::to_string(o.given->device_id) != expected_device) {
    o.mismatch("is on another GPU than the one bitjit runs on", expected_device);
  }
  if (!o.given->contiguous) o.mismatch("is not contiguous (row-major without gaps)", expected_device);
  if (o.given->shape != o.spec.shape) o.mismatch("has the wrong shape", expected_device);
  return TensorView(reinterpret_cast<const void*>(o.given->pointer), o.spec.dtype, o.spec.shape);
}


using DeviceOperand = std::optional<std::variant<nb::ndarray<>, Descriptor>>;
// Caller-owned split-K scratch: (partials pointer, bytes, counters pointer, bytes), or None.
using Scratch = std::optional<std::tuple<uintptr_t, size_t, uintptr_t, size_t>>;

RunTarget run_target(uintptr_t stream, int device, const Scratch& scratch) {
  RunTarget target;
  target.stream = reinterpret_cast<CUstream>(stream);
  target.device = device;
  if (scratch) {
    const auto& [partials, partial_bytes, counters, counter_bytes] = *scratch;
    target.scratch = {reinterpret_cast<void*>(partials), partial_bytes, reinterpret_cast<void*>(counters), counter_bytes};
  }
  return target;
}

std::optional<GivenOperand> given_of(const DeviceOperand& operand) {
  if (!operand) return std::nullopt;
  return std::visit([](const auto& value) { return given_operand(value); }, *operand);
}

}  // namespace

NB_MODULE(_bitjit, m) {
  // ConfigError (a bad config, operand or argument) is a ValueError; other bitjit errors (CUDA,
  // NVRTC, the database) are RuntimeErrors. One translator, so the subclass is matched first.
  static PyObject* config_error = PyErr_NewException("bitjit._bitjit.ConfigError", PyExc_ValueError, nullptr);
  m.attr("ConfigError") = nb::handle(config_error);
  // A run on a capturing stream that would load modules or allocate (runtime/matmul.hpp): a RuntimeError.
  static PyObject* capture_error = PyErr_NewException("bitjit._bitjit.CaptureError", PyExc_RuntimeError, nullptr);
  m.attr("CaptureError") = nb::handle(capture_error);
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const ConfigError& failure) {
      PyErr_SetString(config_error, failure.what());
    } catch (const CaptureError& failure) {
      PyErr_SetString(capture_error, failure.what());
    } catch (const Error& failure) {
      PyErr_SetString(PyExc_RuntimeError, failure.what());
    }
  });

  // The library's version, which is the project's (CMakeLists.txt) and the wheel's (pyproject.toml).
  m.attr("__version__") = version();
  // PyTorch's nvidia-* wheels, wherever on sys.path they are: NVRTC is looked for there too.
  std::vector<std::string> nvidia_folders;
  const nb::object nvidia = nb::module_::import_("importlib.util").attr("find_spec")("nvidia");
  if (!nvidia.is_none())
    for (nb::handle folder : nvidia.attr("submodule_search_locations")) nvidia_folders.push_back(nb::str(folder).c_str());
  set_python_nvidia_folders(std::move(nvidia_folders));

  m.def("canonical_config", [](const std::string& json) { return canonical_form(parse_config(json)); },
        "The config's canonical JSON; raises ConfigError (a ValueError) naming a bad field.");
  m.def(
      "general_compress",
      [](const HostArray& values, int64_t rows, int64_t cols, int bits) {
        int64_t count = 0;
        if (rows < 0 || cols < 0 || __builtin_mul_overflow(rows, cols, &count) || uint64_t(count) != values.size()) {
          throw ConfigError("general_compress: rows x cols = " + std::to_string(rows) + " x " + std::to_string(cols) +
                            " does not describe the " + std::to_string(values.size()) + " values given");
        }
        const std::vector<uint8_t> fields =
            packing_fields_from_array(bits, element_of(values.dtype()), bytes_of(values), count, cols);
        return to_bytes(general_compress(fields, rows, cols, bits));
      },
      "Packs rows*cols fields (whole numbers in [0, 2**bits), checked as given) along the last axis, LSB first.");
  m.def(
      "set_log_level", [](const std::string& name) {
        const spdlog::level::level_enum level = spdlog::level::from_str(name);
        if (level == spdlog::level::off && name != "off") {
          throw ConfigError("set_log_level: level='" + name + "' is not one of trace, debug, info, warn, error, "
                            "critical, off");
        }
        log().set_level(level);
      },
      "Sets the C++ library's log level (BITJIT_LOG_LEVEL's names).");
  m.def(
      "device_arch", [](int ordinal) { return device_info(ordinal).arch(); },
      "The arch (e.g. sm_80, sm_90a) of CUDA device `ordinal`; raises without a GPU.");
  m.def(
      "supported_archs", [] { return supported_archs(); },
      "The archs kernels compile for, in the arch table's order (docs/architecture.md).");
  m.def(
      "stream_capture_id",
      [](uintptr_t stream, int device) { return stream_capture_id(reinterpret_cast<CUstream>(stream), device); },
      nb::arg("stream"), nb::arg("device") = -1,
      "The id of the CUDA graph capture that stream (a handle; device: its CUDA device, -1 the current "
      "context's) is part of, or None when it is not being captured.");

  m.def(
      "quantize_weight",
      [](const std::string& config_json, nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu> weight) {
        const QuantizedWeight q = quantize_weight(parse_config(config_json), {weight.data(), weight.size()});
        return std::make_tuple(to_bytes(q.W.bytes), to_bytes(q.scales.bytes), to_bytes(q.zeros.bytes),
                               std::vector<double>(q.dequantized.begin(), q.dequantized.end()));
      },
      "Float weights [N*K] -> (W packed along K in general_compress order, scales, zeros, dequantized values).");

  // Checkpoints: (config JSON, W bytes [N, K*bits/8] in general_compress order, scales bytes [N, G]
  // fp16, zeros bytes [N, G] fp16, act-order column permutation [K] or empty).
  using Words = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
  using Halves = nb::ndarray<const uint16_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
  auto checkpoint_tuple = [](const CheckpointLayer& layer) {
    return std::make_tuple(canonical_form(layer.config), to_bytes(layer.W.bytes), to_bytes(layer.scales.bytes),
                           to_bytes(layer.zeros.bytes), layer.permutation);
  };
  m.def("from_gptq", [checkpoint_tuple](int64_t in_features, int64_t out_features, int bits, Words qweight, Words qzeros,
                                        Halves scales, std::optional<Words> g_idx, bool zeros_stored_minus_one) {
    const std::span<const int32_t> groups = g_idx ? std::span<const int32_t>(g_idx->data(), g_idx->size())
                                                  : std::span<const int32_t>();
    return checkpoint_tuple(from_gptq(in_features, out_features, bits, {qweight.data(), qweight.size()},
                                      {qzeros.data(), qzeros.size()}, {scales.data(), scales.size()}, groups,
                                      zeros_stored_minus_one ? GptqZeros::stored_minus_one : GptqZeros::exact));
  });
  m.def("from_awq", [checkpoint_tuple](int64_t in_features, int64_t out_features, Words qweight, Words qzeros,
                                       Halves scales) {
    return checkpoint_tuple(from_awq(in_features, out_features, {qweight.data(), qweight.size()},
                                     {qzeros.data(), qzeros.size()}, {scales.data(), scales.size()}));
  });

  nb::class_<Matmul>(m, "Matmul")
      .def_static(
          "create",
          [](const std::string& json, const std::string& arch) {
            MatmulOptions options;
            options.arch = arch;
            return Matmul::create(parse_config(json), options);
          },
          // Compiling takes hundreds of milliseconds a kernel and touches no Python object: other
          // Python threads run meanwhile (a model's layers built from a thread pool compile side by side).
          nb::arg("config_json"), nb::arg("arch") = "", nb::call_guard<nb::gil_scoped_release>())
      .def_prop_ro("source", [](const Matmul& self) { return self.source(); })
      .def_prop_ro("arch", [](const Matmul& self) { return self.arch(); })
      .def_prop_ro("schedule", [](const Matmul& self) { return to_json(self.schedule()).dump(); })
      .def("schedule_for", [](const Matmul& self, int64_t M) { return to_json(self.schedule_for(M)).dump(); })
      .def("profile_latency", [](const Matmul& self, std::optional<int64_t> M) { return self.profile_latency(M); },
           nb::arg("M") = nb::none(), nb::call_guard<nb::gil_scoped_release>())
      .def("hardware_aware_finetune",
           [](Matmul& self, int topk) {
             // Keeps the GIL: tuning replaces this Matmul's kernels, which another Python thread's run()
             // of the same Matmul would otherwise read meanwhile.
             nlohmann::json buckets = nlohmann::json::array();
             for (const BucketTuning& b : self.hardware_aware_finetune(topk).buckets) {
               buckets.push_back({{"M", b.rows}, {"schedule", to_json(b.chosen)}, {"latency_ms", b.chosen_ms},
                                  {"before_schedule", to_json(b.before)}, {"before_ms", b.before_ms},
                                  {"candidates_timed", b.candidates_timed}, {"seconds", b.seconds},
                                  {"compile_seconds", b.compile_seconds}});
             }
             return buckets.dump();
           })
      .def_prop_ro("weight_layout", [](const Matmul& self) { return std::string(to_string(self.weight_layout())); })
      .def_prop_ro("weight_layout_id", [](const Matmul& self) { return self.weight_layout_id(); })
      .def_prop_ro("weight_reorder_block", [](const Matmul& self) { return self.weight_reorder_block(); })
      .def("transform_weight",
           [](const Matmul& self, const HostArray& weight) {
             const MatmulConfig& c = self.config();
             std::vector<int64_t> shape;
             for (size_t d = 0; d < weight.ndim(); ++d) shape.push_back(int64_t(weight.shape(d)));
             if (shape != std::vector<int64_t>{c.N, c.K}) {
               throw ConfigError("transform_weight: weight has shape " + shape_text(shape) + ", expected [N, K] = " +
                                 shape_text({c.N, c.K}));
             }
             const ArrayElement element = element_of(weight.dtype());
             const std::span<const uint8_t> values = bytes_of(weight);
             HostTensor transformed;
             {
               // Seconds for a large layer (the host's cores reorder the codes); `weight` is held by the
               // call's arguments until it returns.
               nb::gil_scoped_release release;
               transformed = self.transform_weight_array(element, values);
             }
             return to_bytes(transformed.bytes);
           })
      .def("transform_packed_weight",
           [](const Matmul& self, nb::ndarray<const uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> packed) {
             const OperandSpec spec = operand_specs(self.config(), 1).W;
             HostTensor tensor{spec.dtype, spec.shape, std::vector<uint8_t>(packed.data(), packed.data() + packed.size())};
             HostTensor transformed;
             {
               nb::gil_scoped_release release;
               transformed = self.transform_weight(tensor);
             }
             return to_bytes(transformed.bytes);
           })
      .def("operand_dtypes",
           [](const Matmul& self, int64_t M) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             std::vector<std::string> names;
             for (const auto& [name, spec] : specs.named()) {
               names.push_back(spec->used() ? std::string(to_string(spec->dtype)) : "");
             }
             return names;
           })
      .def("operand_shapes",
           [](const Matmul& self, int64_t M) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             return std::vector<std::vector<int64_t>>{specs.A.shape, specs.W.shape, specs.scales.shape,
                                                      specs.zeros.shape, specs.bias.shape, specs.C.shape};
           })
      .def("accepted_elements",
           [](const Matmul& self, int64_t M) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             std::vector<std::vector<std::string>> names;
             for (const auto& [name, spec] : specs.named()) {
               names.push_back(spec->used() ? accepted_elements(spec->dtype) : std::vector<std::string>{});
             }
             return names;
           },
           "Per operand (A, W, scales, zeros, bias, C): the element types run() takes for it ([] when unused).")
      .def("load", [](const Matmul& self, int device) { self.load(device); }, nb::arg("device") = -1,
           "Loads every bucket's kernel on the device (-1: the current context's), e.g. before a CUDA graph capture.")
      .def(
          "scratch_need",
          [](const Matmul& self, int64_t M, int device) {
            const ScratchNeed need = self.scratch_need(M, device);
            return std::make_tuple(need.partial_bytes, need.counter_bytes);
          },
          nb::arg("M"), nb::arg("device") = -1, "(partial bytes, counter bytes) of split-K scratch a run of M rows needs.")
      // device: the CUDA device the operands are on (-1: the current context's); scratch: caller-owned
      // split-K scratch (partials pointer, bytes, counters pointer, bytes) or None (runtime/matmul.hpp).
      .def("run",
           [](const Matmul& self, int64_t M, const DeviceOperand& A, const DeviceOperand& W, const DeviceOperand& C,
              const DeviceOperand& scales, const DeviceOperand& zeros, const DeviceOperand& bias, uintptr_t stream,
              int device, const Scratch& scratch) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             const std::function<int()> run_device = [device] { return device >= 0 ? device : ensure_context(); };
             const std::vector<TensorView> v = checked_views(
                 {{given_of(A), specs.A, "A"}, {given_of(W), specs.W, "W"}, {given_of(scales), specs.scales, "scale"},
                  {given_of(zeros), specs.zeros, "zeros"}, {given_of(bias), specs.bias, "bias"},
                  {given_of(C), specs.C, "output"}},
                 run_device);
             self.run(v[0], v[1], v[5], v[2], v[3], v[4], run_target(stream, device, scratch));
           },
           nb::arg("M"), nb::arg("A"), nb::arg("W"), nb::arg("C"), nb::arg("scales"), nb::arg("zeros"), nb::arg("bias"),
           nb::arg("stream"), nb::arg("device") = -1, nb::arg("scratch") = nb::none())
      // The torch operator's per-call path (python/bitjit/ops.py): device pointers (0: not given) of
      // operands whose dtype, device, contiguity and shape the caller has compared with
      // accepted_elements / operand_shapes (torch's own tensor metadata, no DLPack export per call).
      // Matmul::run still refuses a missing or unused operand and a misaligned pointer.
      .def("run_pointers",
           [](const Matmul& self, int64_t M, uintptr_t A, uintptr_t W, uintptr_t C, uintptr_t scales, uintptr_t zeros,
              uintptr_t bias, uintptr_t stream, int device, const Scratch& scratch) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             auto view = [](uintptr_t pointer, const OperandSpec& spec) {
               return pointer ? TensorView(reinterpret_cast<const void*>(pointer), spec.used() ? spec.dtype : DType::uint8,
                                           spec.shape)
                              : TensorView();
             };
             self.run(view(A, specs.A), view(W, specs.W), view(C, specs.C), view(scales, specs.scales),
                      view(zeros, specs.zeros), view(bias, specs.bias), run_target(stream, device, scratch));
           },
           nb::arg("M"), nb::arg("A"), nb::arg("W"), nb::arg("C"), nb::arg("scales"), nb::arg("zeros"), nb::arg("bias"),
           nb::arg("stream"), nb::arg("device"), nb::arg("scratch") = nb::none());

}
