"""bitjit with torch on a machine without a GPU: the torch operators' fake kernels, GPTQ / AWQ
safetensors checkpoints into bitjit.Linear, quantize_model and state_dict round trips. Kernels are
compiled for sm_90a (no GPU needed); what runs them is in test_torch_gpu.py."""
import json
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bitjit  # noqa: E402
from bitjit import checkpoints, ops  # noqa: E402,F401
from checkpoint_layouts import (dequantize_bitjit_layer, random_awq_layer,  # noqa: E402
                                random_gptq_layer)

TARGET = "sm_90a"
ONE_BUCKET = [16]  # one kernel per layer keeps the compiles few on a CPU machine


@pytest.fixture
def rng():
    return np.random.default_rng(random.getrandbits(32))


def fake_cuda(*shape, dtype=torch.float16, device="cuda:0"):
    return torch.empty(*shape, dtype=dtype, device=device)


def test_fake_kernel_gives_the_output_shape_and_dtype_on_the_operands_device():
    from torch._subclasses.fake_tensor import FakeTensorMode
    config = bitjit.MatmulConfig(M=[1, 16], N=96, K=256, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    # Fake CUDA tensors need no GPU, but with GPUs torch checks their ordinals: cuda:1 (not the current
    # device) where that exists or none does, else cuda:0; another device for the mismatch.
    device = "cuda:0" if torch.cuda.device_count() == 1 else "cuda:1"
    other = "cpu" if device == "cuda:0" else "cuda:0"
    with FakeTensorMode(allow_non_fake_inputs=False):
        A = fake_cuda(5, 256, device=device)
        W = fake_cuda(96, 128, dtype=torch.int8, device=device)
        scales = fake_cuda(96, 2, device=device)
        C = torch.ops.bitjit.matmul(A, W, scales, None, None, config.canonical, TARGET)
        assert tuple(C.shape) == (5, 96) and C.dtype == torch.float16 and C.device == A.device
        with pytest.raises(bitjit.ConfigError, match=rf"Matmul: W is on another device than A: given on {other}, "
                                                     rf"expected on {device}"):
            torch.ops.bitjit.matmul(A, fake_cuda(96, 128, dtype=torch.int8, device=other), scales, None, None,
                                    config.canonical, TARGET)
        with pytest.raises(bitjit.ConfigError, match=r"Matmul: A has shape \(5, 128\); expected \[M, K\] with K = 256"):
            torch.ops.bitjit.matmul(fake_cuda(5, 128, device=device), W, scales, None, None, config.canonical,
                                    TARGET)


def test_operator_rejects_cpu_tensors_by_name():
    """The operator's error is the bindings' (the same wording as bitjit.Matmul on numpy / cupy arrays)."""
    config = bitjit.MatmulConfig(M=[1, 16], N=32, K=128, W_dtype="float16")
    with pytest.raises(bitjit.ConfigError, match="Matmul: A is not in CUDA device memory: given float16 on cpu"):
        torch.ops.bitjit.matmul(torch.zeros(2, 128, dtype=torch.float16), torch.zeros(32, 128, dtype=torch.float16),
                                None, None, None, config.canonical, TARGET)


def write_safetensors(path, tensors):
    from safetensors.numpy import save_file
    save_file({name: np.ascontiguousarray(value) for name, value in tensors.items()}, str(path))


def two_layer_model(K, hidden, N):
    return torch.nn.Sequential(torch.nn.Linear(K, hidden, bias=True), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, N, bias=False)).half()


def check_loaded(linear, layer, method):
    """The bitjit layer holds exactly the converted operands, and they mean the checkpoint's weights."""
    stored = {"x." + name: layer[name] for name in ("qweight", "qzeros", "scales", "g_idx") if name in layer}
    reference = layer["reference"]
    converted = checkpoints.convert_layer(stored, "x", method, reference.shape[1])
    assert np.array_equal(dequantize_bitjit_layer(converted), reference)  # exact: same fp16 scales, integers
    expected_w = linear.matmul.transform_packed_weight(converted["W"])
    assert np.array_equal(linear.qweight.cpu().numpy().view(np.uint8), expected_w.view(np.uint8))
    assert np.array_equal(linear.scales.cpu().numpy(), converted["scales"])
    assert np.array_equal(linear.zeros.cpu().numpy(), converted["zeros"])
    if converted["perm"] is None:
        assert linear.perm is None
    else:
        assert np.array_equal(linear.perm.cpu().numpy(), converted["perm"])


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_safetensors_load_into_bitjit_linear(tmp_path, rng, bits, sym, act_order):
    pytest.importorskip("safetensors")
    K, hidden, N, group = 256, 128, 64, 64
    first = random_gptq_layer(hidden, K, bits, group, sym, act_order, rng, bias=True)
    second = random_gptq_layer(N, hidden, bits, group, sym, act_order, rng)
    tensors = {}
    for prefix, layer in (("0", first), ("2", second)):
        for name in ("qweight", "qzeros", "scales", "g_idx", "bias"):
            if name in layer:
                tensors[f"{prefix}.{name}"] = layer[name]
    write_safetensors(tmp_path / "model.safetensors", tensors)
    model = two_layer_model(K, hidden, N)
    replaced = bitjit.load_quantized(model, tmp_path / "model.safetensors", "gptq", opt_M=ONE_BUCKET, target=TARGET)
    assert replaced == ["0", "2"]
    # 3-bit codes and zeros are held in uint4 (bitjit has no 3-bit format; every value is exact there).
    assert type(model[0]).__name__ == "Linear" and model[0].config.W_dtype == f"uint{4 if bits == 3 else bits}"
    for layer, linear in ((first, model[0]), (second, model[2])):
        check_loaded(linear, layer, "gptq")
    assert np.array_equal(model[0].bias.cpu().numpy(), first["bias"])


def test_awq_safetensors_load_into_bitjit_linear(tmp_path, rng):
    pytest.importorskip("safetensors")
    K, hidden, N, group = 256, 128, 64, 128
    first, second = random_awq_layer(hidden, K, group, rng, bias=True), random_awq_layer(N, hidden, group, rng)
    tensors = {f"{prefix}.{name}": layer[name] for prefix, layer in (("0", first), ("2", second))
               for name in ("qweight", "qzeros", "scales", "bias") if name in layer}
    write_safetensors(tmp_path / "awq.safetensors", tensors)
    model = two_layer_model(K, hidden, N)
    assert bitjit.load_quantized(model, [tmp_path / "awq.safetensors"], "awq", opt_M=ONE_BUCKET,
                                 target=TARGET) == ["0", "2"]
    for layer, linear in ((first, model[0]), (second, model[2])):
        check_loaded(linear, layer, "awq")


def test_checkpoint_errors_name_the_layer(tmp_path, rng):
    K, N = 256, 64
    layer = random_gptq_layer(N, K, 4, 64, False, False, rng)
    model = torch.nn.Sequential(torch.nn.Linear(K, N, bias=False)).half()
    # A 5-bit shape of GPTQ: qweight [K*5/32, N]; GPTQ stores 2, 3, 4 or 8 bits.
    five_bit = {"0.qweight": np.zeros((K * 5 // 32, N), np.int32), "0.qzeros": np.zeros((4, N * 5 // 32), np.int32),
                "0.scales": layer["scales"]}
    with pytest.raises(bitjit.ConfigError, match="bits=5 is not supported; allowed: 2, 3, 4, 8"):
        bitjit.load_quantized(model, five_bit, "gptq", target=TARGET)
    wrong = {"1.qweight": layer["qweight"], "1.qzeros": layer["qzeros"], "1.scales": layer["scales"]}
    with pytest.raises(bitjit.ConfigError, match="quantizes layers the model lacks: 1"):
        bitjit.load_quantized(model, wrong, "gptq", target=TARGET)
    with pytest.raises(ValueError, match="method='exl2'; allowed: gptq, awq"):
        bitjit.load_quantized(model, {"0.qweight": layer["qweight"], "0.qzeros": layer["qzeros"],
                                      "0.scales": layer["scales"]}, "exl2", target=TARGET)


def test_quantize_model_replaces_linears_in_place_and_skips_by_name():
    model = torch.nn.ModuleDict({"body": two_layer_model(256, 128, 128), "lm_head": torch.nn.Linear(128, 64).half()})
    replaced = bitjit.quantize_model(model, W_dtype="int4", group_size=128, skip=["lm_head"], opt_M=ONE_BUCKET,
                                     target=TARGET)
    assert replaced == ["body.0", "body.2"]
    assert type(model["body"][0]).__name__ == "Linear" and type(model["lm_head"]) is torch.nn.Linear
    with pytest.raises(bitjit.ConfigError, match=r"layer 0 \(100 -> 64"):
        bitjit.quantize_model(torch.nn.Sequential(torch.nn.Linear(100, 64).half()), group_size=128, target=TARGET)


def test_state_dict_round_trips_with_act_order(rng):
    K, N = 256, 64
    layer = random_gptq_layer(N, K, 4, 64, False, True, rng)
    tensors = {f"0.{name}": layer[name] for name in ("qweight", "qzeros", "scales", "g_idx")}
    source = torch.nn.Sequential(torch.nn.Linear(K, N, bias=False)).half()
    bitjit.load_quantized(source, tensors, "gptq", opt_M=ONE_BUCKET, target=TARGET)
    state = source.state_dict()
    assert set(state) == {"0.qweight", "0.scales", "0.zeros", "0.perm", "0._extra_state"}
    assert bytes(state["0._extra_state"].tolist()).decode() == source[0].matmul.weight_layout_id
    # A model of the same structure, without weights: the layer as a checkpoint of this config makes it.
    config = source[0].config
    fresh = bitjit.Linear(K, N, bias=False, A_dtype="float16", W_dtype=config.W_dtype, accum_dtype="float32",
                          out_dtype="float16", group_size=config.group_size, with_scaling=True, with_zeros=True,
                          opt_M=ONE_BUCKET, target=TARGET)
    target = torch.nn.Sequential(fresh)
    target.load_state_dict(state)
    # A fresh bitjit.Linear's buffers are on the GPU when there is one (BitBLAS's quick start calls a new
    # Linear on a CUDA input without .cuda()); load_state_dict copies the CPU state onto them.
    for name, value in target.state_dict().items():
        assert name.endswith("_extra_state") or value.device == fresh.qweight.device, name  # the record: on the CPU
        assert torch.equal(value.cpu(), state[name].cpu()), name


def layout_test_layer(opt_M, W_dtype="int4"):
    return bitjit.Linear(256, 64, bias=False, A_dtype="float16", W_dtype=W_dtype, accum_dtype="float32",
                         out_dtype="float16", group_size=128, with_scaling=True, opt_M=opt_M, target=TARGET)


def test_a_state_loads_only_into_kernels_that_read_its_bytes(rng, tmp_path):
    """The weight buffer holds the kernels' bytes: three rows read whole-load runs, 16 rows runs of 8.
    A state carries its layout (_extra_state) and loads only where the kernels read the same bytes;
    otherwise, or without the record (a state of an earlier version or another library), a ConfigError
    before anything is copied."""
    source = layout_test_layer([3])
    source.load_and_transform_weight(torch.from_numpy(rng.integers(-8, 8, size=(64, 256))),
                                     scales=torch.from_numpy(rng.uniform(0.5, 1.5, size=(64, 2))).half())
    state = source.state_dict()
    same = layout_test_layer([3])
    same.load_state_dict(state)
    assert torch.equal(same.qweight.cpu(), source.qweight.cpu())
    other = layout_test_layer(ONE_BUCKET)
    before = other.qweight.clone()
    with pytest.raises(bitjit.ConfigError, match=r"qweight was transformed for 'mma_runs W=int4 N=64 K=256 .*run=32.*"
                                                 r"this layer's kernels read 'mma_runs W=int4 N=64 K=256 .*run=8"):
        other.load_state_dict(state)
    assert torch.equal(other.qweight, before)  # refused before any copy
    with pytest.raises(bitjit.ConfigError, match=r"qweight.*transformed for 'mma_runs W=int4 .*kernels read 'mma_runs "
                                                 r"W=uint4"):
        layout_test_layer([3], "uint4").load_state_dict(state)
    unrecorded = {name: value for name, value in state.items() if name != "_extra_state"}
    with pytest.raises(bitjit.ConfigError, match=r"qweight: the state does not record the layout .*_extra_state is "
                                                 r"missing"):
        layout_test_layer([3]).load_state_dict(unrecorded)
    for bad, named in ((torch.zeros(3), "a torch.float32 tensor of shape \\(3,\\)"),
                       (torch.full((300,), 65, dtype=torch.uint8), "shape \\(300,\\)"),
                       (torch.tensor([200, 201], dtype=torch.uint8), "not ASCII")):
        with pytest.raises(bitjit.ConfigError, match=r"_extra_state .*" + named):
            layout_test_layer([3]).load_state_dict({**state, "_extra_state": bad})
    safetensors = pytest.importorskip("safetensors.torch")  # the record is a tensor: safetensors keeps it
    path = tmp_path / "layer.safetensors"
    safetensors.save_file({name: value.contiguous() for name, value in state.items()}, str(path))
    layout_test_layer([3]).load_state_dict(safetensors.load_file(str(path)))


def meta_mlp():
    """Two bitjit.Linear layers on the meta device: torch.compile and torch.export trace them through
    the operators' fake kernels, no GPU needed."""
    model = torch.nn.Sequential(
        bitjit.Linear(256, 128, bias=True, A_dtype="float16", W_dtype="int4", accum_dtype="float32",
                      out_dtype="float16", group_size=128, opt_M=ONE_BUCKET, target=TARGET),
        torch.nn.SiLU(),
        bitjit.Linear(128, 64, A_dtype="float16", W_dtype="uint4", accum_dtype="float32", out_dtype="float16",
                      group_size=128, with_zeros=True, opt_M=ONE_BUCKET, target=TARGET))
    return model.to("meta")


def test_compile_traces_bitjit_linear_as_one_graph_without_a_gpu():
    graphs = []

    def record(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    model = meta_mlp()
    compiled = torch.compile(model, backend=record, fullgraph=True, dynamic=True)  # a graph break raises
    for rows in (3, 17):
        out = compiled(torch.empty(rows, 256, dtype=torch.float16, device="meta"))
        assert tuple(out.shape) == (rows, 64) and out.dtype == torch.float16
    out = compiled(torch.empty(2, 5, 256, dtype=torch.float16, device="meta"))
    assert tuple(out.shape) == (2, 5, 64)
    assert 1 <= len(graphs) <= 2  # one dynamic graph (a second for the 3-d input at most)
    assert str(graphs[0].code).count("torch.ops.bitjit.matmul") == 2


def test_export_holds_the_bitjit_operator_without_a_gpu():
    exported = torch.export.export(meta_mlp(), (torch.empty(4, 256, dtype=torch.float16, device="meta"),))
    calls = [node for node in exported.graph.nodes if node.target is torch.ops.bitjit.matmul.default]
    assert len(calls) == 2
    assert calls[0].args[5] == meta_mlp()[0].config.canonical and calls[0].args[6] == TARGET


def test_tensor_parallel_shards_are_the_whole_layers_codes_at_group_boundaries(rng):
    from bitjit.parallel import shard_quantized
    N, K, world = 128, 512, 2
    config = bitjit.MatmulConfig(M=1, N=N, K=K, W_dtype="uint4", accum_dtype="float32", with_scaling=True,
                                 with_zeros=True, group_size=128)
    weight = rng.standard_normal((N, K)).astype(np.float32)
    whole = bitjit.quantization.quantize(config, weight)
    bias = rng.standard_normal(N).astype(np.float16)
    for rank in range(world):
        columns = shard_quantized(config, whole, bias, 0, rank, world)  # output features
        rows = slice(rank * N // world, (rank + 1) * N // world)
        assert (columns["K"], columns["N"]) == (K, N // world)
        assert np.array_equal(columns["W"], whole["W"][rows]) and np.array_equal(columns["bias"], bias[rows])
        assert np.array_equal(columns["scales"], whole["scales"][rows])
        inputs = shard_quantized(config, whole, bias, 1, rank, world)  # input features, whole groups
        assert (inputs["K"], inputs["N"]) == (K // world, N)
        # Quantizing the shard alone gives the same codes, scales and zeros: groups never straddle shards.
        alone = bitjit.quantization.quantize(
            bitjit.MatmulConfig(M=1, N=N, K=K // world, W_dtype="uint4", accum_dtype="float32", with_scaling=True,
                                with_zeros=True, group_size=128),
            weight[:, rank * K // world:(rank + 1) * K // world])
        for name in ("W", "scales", "zeros"):
            assert np.array_equal(inputs[name], alone[name]), name
    with pytest.raises(bitjit.ConfigError, match="does not split into 8 shards of whole groups of 128"):
        shard_quantized(config, whole, None, 1, 0, 8)  # 64 columns a shard: half a group


def test_no_leak_report_at_exit_with_the_operators_caches_filled():
    """torch's operator registry keeps bitjit.ops (and its per-call runners, which hold native Matmuls)
    alive to the interpreter's end; bitjit must release them, or nanobind reports them as leaked (seen
    after the quick start and the decode bench on the GPU)."""
    from test_cpu import EXIT_SCRIPT, run_to_exit
    script = "import torch\n" + EXIT_SCRIPT + """
from bitjit import natives, ops
native = natives.native_for(config.canonical, "sm_90a")
ops._runners[(config.canonical, "sm_90a", torch.device("cuda", 0))] = ops._Runner(config.canonical, "sm_90a", 0, native=native)
# The cache outlives the teardown of module dicts, as it did in the GPU run (torch's operator registry,
# never freed, holds bitjit.ops's functions and with them its globals): only bitjit's exit hook empties it.
import ctypes
ctypes.pythonapi.Py_IncRef(ctypes.py_object(ops._runners))
layer = bitjit.Linear(256, 128, W_dtype="int4", accum_dtype="float32", group_size=128, opt_M=[1, 16], target="sm_90a")
"""
    stderr = run_to_exit(script)
    assert "leaked" not in stderr, stderr


def test_loading_takes_tensors_that_require_grad(rng):
    """A user's nn.Linear weight and bias are Parameters: every loading path detaches them, and the
    buffers hold values, not autograd history."""
    K, N = 256, 64
    linear = torch.nn.Linear(K, N, bias=True).half()
    assert linear.weight.requires_grad
    layer = bitjit.Linear.from_linear(linear, W_dtype="int4", group_size=128, opt_M=ONE_BUCKET, target=TARGET)
    fresh = bitjit.Linear(K, N, bias=True, W_dtype="int4", accum_dtype="float32", group_size=128,
                          opt_M=ONE_BUCKET, target=TARGET)
    scales = torch.nn.Parameter(torch.rand(N, K // 128, dtype=torch.float16))
    bias = torch.nn.Parameter(torch.rand(N, dtype=torch.float16))
    fresh.load_and_transform_weight(torch.randint(-8, 8, (N, K), dtype=torch.int8), scales=scales, bias=bias)
    assert torch.equal(fresh.scales.cpu(), scales.detach()) and torch.equal(fresh.bias.cpu(), bias.detach())
    model = torch.nn.Sequential(torch.nn.Linear(K, N).half())
    bitjit.quantize_model(model, group_size=128, opt_M=ONE_BUCKET, target=TARGET)
    for module in (layer, fresh, model[0]):
        assert not any(buffer.requires_grad for buffer in module.buffers())


def test_operands_of_another_shape_are_refused_even_of_the_same_size():
    """scales [groups, out] (GPTQ's and AWQ's order) have the size of bitjit's [out, groups]: they were
    read transposed, silently. Packed bytes as another integer type keep their rows and load."""
    layer = bitjit.Linear(256, 64, bias=True, A_dtype="float16", W_dtype="uint4", accum_dtype="float32",
                          out_dtype="float16", group_size=128, with_scaling=True, with_zeros=True,
                          zeros_mode="quantized", opt_M=[1], target=TARGET)
    weight = torch.randint(0, 16, (64, 256))
    with pytest.raises(bitjit.ConfigError, match=r"scales has \(2, 64\) torch.float16; expected \(64, 2\) .*transposed"):
        layer.load_and_transform_weight(weight, scales=torch.rand(2, 64))
    with pytest.raises(bitjit.ConfigError, match=r"bias has \(8, 8\) torch.float16; expected \(64,\)"):
        layer.load_and_transform_weight(weight, bias=torch.rand(8, 8))
    zero_codes = torch.randint(0, 16, (64, 2), dtype=torch.uint8)
    packed = torch.from_numpy(bitjit.quantization.general_compress(zero_codes.T.contiguous(), source_bits=4,
                                                                   storage_dtype=np.uint8))
    with pytest.raises(bitjit.ConfigError, match=r"zeros has \(64,\) torch.uint8; expected \(2, 32\) torch.uint8"):
        layer.load_and_transform_weight(weight, zeros=packed.reshape(-1))
    with pytest.raises(bitjit.ConfigError, match=r"zeros has \(2, 16\) torch.float16; expected \(2, 32\) torch.uint8"):
        layer.load_and_transform_weight(weight, zeros=packed.view(torch.float16))  # the bytes, but not codes
    layer.load_and_transform_weight(weight, scales=torch.rand(64, 2), zeros=packed.view(torch.int8))
    assert torch.equal(layer.zeros.cpu(), packed)


def test_linear_names_inputs_and_outputs_of_the_wrong_shape():
    """x whose last dimension is not in_features was regrouped by a reshape (an unclear error at best); an
    output of the right size but another shape would be filled in the wrong order: both are named."""
    layer = bitjit.Linear(256, 64, bias=False, A_dtype="float16", W_dtype="int4", accum_dtype="float32",
                          out_dtype="float16", group_size=128, with_scaling=True, opt_M=[1], target=TARGET)
    with pytest.raises(bitjit.ConfigError, match=r"x has shape \(4, 128\); its last dimension must be in_features=256"):
        layer(torch.zeros(4, 128, dtype=torch.float16))
    with pytest.raises(bitjit.ConfigError, match=r"output has shape \(64, 4\); expected \(4, 64\) for x of shape \(4, 256\)"):
        layer(torch.zeros(4, 256, dtype=torch.float16), torch.zeros(64, 4, dtype=torch.float16))
    with pytest.raises(bitjit.ConfigError, match=r"output has shape \(2, 2, 64\); expected \(4, 64\)"):
        layer(torch.zeros(4, 256, dtype=torch.float16), torch.zeros(2, 2, 64, dtype=torch.float16))


def test_split_k_scratch_none_outside_capture_and_one_set_per_capture(monkeypatch):
    """ops._Runner's choice of split-K / stream-K scratch, with the native Matmul and the capture query
    stood in: None where the kernel needs none or the stream is not being captured (the kernels' own
    scratch then: no allocation, no fill per call); under capture one set per stream from torch's
    allocator, its counters zero, shared by the capture's runs, replaced for a new capture or a larger
    need, and let go by the stream's next run outside capture."""
    K, N = 256, 64
    config = json.dumps({"K": K, "N": N, "out_dtype": "float16"})

    class Native:
        def accepted_elements(self, M):
            return [["float16"], ["int8"], ["float16"], [], [], ["float16"]]

        def operand_shapes(self, M):
            return [[M, K], [N, K // 2], [N, K // 128], [0], [0], [M, N]]

        def scratch_need(self, M, device):
            return (0, 0) if M == 1 else (1024 * M, 8 * M)

    captures = {}  # stream -> capture id (absent: not capturing)
    monkeypatch.setattr(ops, "_stream_capture_id", lambda stream, device: captures.get(stream))
    runner = ops._Runner(config, "sm_90a", 0, native=Native())
    cpu = torch.device("cpu")
    assert runner._scratch(1, 11, cpu) is None  # no scratch needed
    assert runner._scratch(16, 11, cpu) is None and runner.captured == {}  # not capturing: the kernels' own
    captures[11] = 7
    first = runner._scratch(16, 11, cpu)
    held = runner.captured[11]
    assert first == (held.partials.data_ptr(), 16 * 1024, held.counters.data_ptr(), 128)
    assert not bool(held.counters.any())
    assert runner._scratch(16, 11, cpu) == first and runner._scratch(4, 11, cpu) == first  # shared, fits
    assert runner._scratch(32, 11, cpu) != first and runner.captured[11] is not held  # a larger need
    assert runner.captured[11].capture == 7 and runner.captured[11].counters.numel() == 256
    captures[12] = 7
    runner._scratch(16, 12, cpu)
    assert set(runner.captured) == {11, 12} and runner.captured[12] is not runner.captured[11]  # per stream
    larger = runner.captured[11]
    captures[11] = 8
    runner._scratch(16, 11, cpu)
    assert runner.captured[11] is not larger and runner.captured[11].capture == 8  # a new capture
    del captures[11]
    assert runner._scratch(16, 11, cpu) is None and set(runner.captured) == {12}  # that capture has ended
