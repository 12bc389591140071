// The bitjit C++ library as the Python extension module bitjit._bitjit (nanobind). Thin on
// purpose: configs travel as JSON text (the C++ parser checks every field), weights as bytes, and
// device operands as (pointer, shape, itemsize) triples that python/bitjit/__init__.py takes from
// torch tensors or __cuda_array_interface__ objects.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/json_input.hpp"
#include "compiler/config.hpp"
#include "compiler/schedule.hpp"
#include "quant/checkpoints.hpp"
#include "quant/packing.hpp"
#include "quant/quantize.hpp"
#include "runtime/matmul.hpp"

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

// A device operand: (pointer, shape, bytes per element), or None for an operand not passed.
using Operand = std::optional<std::tuple<uintptr_t, std::vector<int64_t>, int>>;

TensorView view_for(const Operand& operand, const OperandSpec& spec, const char* name) {
  if (!operand) return TensorView();
  const auto& [pointer, shape, itemsize] = *operand;
  if (itemsize != info(spec.dtype).storage_bytes()) {
    throw ConfigError(std::string(name) + " has " + std::to_string(itemsize) + "-byte elements; this config stores " +
                      std::string(to_string(spec.dtype)) + " in " + std::to_string(info(spec.dtype).storage_bytes()) +
                      "-byte elements");
  }
  return TensorView(reinterpret_cast<const void*>(pointer), spec.dtype, shape);
}

}  // namespace

NB_MODULE(_bitjit, m) {
  // ConfigError (a bad config, operand or argument) is a ValueError; other bitjit errors (CUDA,
  // NVRTC, the database) are RuntimeErrors. One translator, so the subclass is matched first.
  static PyObject* config_error = PyErr_NewException("bitjit._bitjit.ConfigError", PyExc_ValueError, nullptr);
  m.attr("ConfigError") = nb::handle(config_error);
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const ConfigError& failure) {
      PyErr_SetString(config_error, failure.what());
    } catch (const Error& failure) {
      PyErr_SetString(PyExc_RuntimeError, failure.what());
    }
  });

  m.def("canonical_config", [](const std::string& json) { return canonical_form(parse_config(json)); },
        "The config's canonical JSON; raises ConfigError (a ValueError) naming a bad field.");
  m.def(
      "general_compress",
      [](nb::ndarray<const uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> values, int64_t rows, int64_t cols,
         int bits) { return to_bytes(general_compress({values.data(), values.size()}, rows, cols, bits)); },
      "Packs rows*cols codes (each < 2**bits) along the last axis, LSB first.");

  m.def(
      "quantize_weight",
      [](const std::string& config_json, nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu> weight) {
        const QuantizedWeight q = quantize_weight(parse_config(config_json), {weight.data(), weight.size()});
        return std::make_tuple(to_bytes(q.W.bytes), to_bytes(q.scales.bytes), to_bytes(q.zeros.bytes),
                               std::vector<double>(q.dequantized.begin(), q.dequantized.end()));
      },
      "Float weights [N*K] -> (W packed along K in general_compress order, scales, zeros, dequantized values).");

  // Checkpoints: (config JSON, W bytes [N, K*bits/8] in general_compress order, scales bytes [N, G]
  // fp16, zeros bytes [N, G] fp16).
  using Words = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
  using Halves = nb::ndarray<const uint16_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
  auto checkpoint_tuple = [](const CheckpointLayer& layer) {
    return std::make_tuple(canonical_form(layer.config), to_bytes(layer.W.bytes), to_bytes(layer.scales.bytes),
                           to_bytes(layer.zeros.bytes));
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
          nb::arg("config_json"), nb::arg("arch") = "")
      .def_prop_ro("source", [](const Matmul& self) { return self.source(); })
      .def_prop_ro("arch", [](const Matmul& self) { return self.arch(); })
      .def_prop_ro("schedule", [](const Matmul& self) { return to_json(self.schedule()).dump(); })
      .def("schedule_for", [](const Matmul& self, int64_t M) { return to_json(self.schedule_for(M)).dump(); })
      .def("profile_latency", [](const Matmul& self, std::optional<int64_t> M) { return self.profile_latency(M); },
           nb::arg("M") = nb::none())
      .def("hardware_aware_finetune",
           [](Matmul& self, int topk) {
             nlohmann::json buckets = nlohmann::json::array();
             for (const BucketTuning& b : self.hardware_aware_finetune(topk).buckets) {
               buckets.push_back({{"M", b.rows}, {"schedule", to_json(b.chosen)}, {"latency_ms", b.chosen_ms},
                                  {"before_schedule", to_json(b.before)}, {"before_ms", b.before_ms},
                                  {"candidates_timed", b.candidates_timed}, {"seconds", b.seconds}});
             }
             return buckets.dump();
           })
      .def_prop_ro("weight_layout", [](const Matmul& self) { return std::string(to_string(self.weight_layout())); })
      .def("transform_weight",
           [](const Matmul& self, nb::ndarray<const int8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> values) {
             return to_bytes(self.transform_weight(std::span<const int8_t>(values.data(), values.size())).bytes);
           })
      .def("transform_packed_weight",
           [](const Matmul& self, nb::ndarray<const uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> packed) {
             const OperandSpec spec = operand_specs(self.config(), 1).W;
             HostTensor tensor{spec.dtype, spec.shape, std::vector<uint8_t>(packed.data(), packed.data() + packed.size())};
             return to_bytes(self.transform_weight(tensor).bytes);
           })
      .def("operand_dtypes",
           [](const Matmul& self, int64_t M) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             std::vector<std::string> names;
             for (const OperandSpec* spec : {&specs.A, &specs.W, &specs.scales, &specs.zeros, &specs.bias, &specs.C}) {
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
      .def("run",
           [](const Matmul& self, int64_t M, const Operand& A, const Operand& W, const Operand& C, const Operand& scales,
              const Operand& zeros, const Operand& bias, uintptr_t stream) {
             const OperandSpecs specs = operand_specs(self.config(), M);
             self.run(view_for(A, specs.A, "A"), view_for(W, specs.W, "W"), view_for(C, specs.C, "C"),
                      view_for(scales, specs.scales, "scales"), view_for(zeros, specs.zeros, "zeros"),
                      view_for(bias, specs.bias, "bias"), reinterpret_cast<CUstream>(stream));
           });
}
