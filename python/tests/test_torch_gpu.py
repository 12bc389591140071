"""bitjit as a PyTorch layer library on a GPU: torch.compile (fullgraph) and torch.export through
torch.ops.bitjit, CUDA graph capture and replay (torch.cuda.graph, mode="reduce-overhead"), the
device rules, and GPTQ / AWQ layers loaded from safetensors against their float64 weights."""
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device for torch", allow_module_level=True)

import bitjit  # noqa: E402
from checkpoint_layouts import random_awq_layer, random_gptq_layer  # noqa: E402


@pytest.fixture
def generator():
    g = torch.Generator(device="cpu")
    g.manual_seed(random.getrandbits(63))
    return g


def quantized_mlp(generator, K=512, hidden=1024, N=256, device="cuda:0"):
    """Two bitjit.Linear layers (int4 g128, then uint4 g128 with zeros) around a SiLU."""
    first = torch.nn.Linear(K, hidden, bias=True).half()
    second = torch.nn.Linear(hidden, N, bias=False).half()
    for layer in (first, second):
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / layer.in_features ** 0.5)
    model = torch.nn.Sequential(bitjit.Linear.from_linear(first, W_dtype="int4", group_size=128), torch.nn.SiLU(),
                                bitjit.Linear.from_linear(second, W_dtype="uint4", group_size=128, with_zeros=True))
    return model.to(device)


def rand(generator, *shape, device="cuda:0"):
    return torch.randn(*shape, generator=generator).half().to(device)


# The same kernels on the same inputs: only a split-K / stream-K reduction order could differ, within
# fp16 output rounding (2^-11 relative), so fp16's default tolerances hold.
def assert_same_result(got, expected):
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)


@torch.no_grad()
def test_compile_fullgraph_equals_eager_with_dynamic_rows(generator):
    model = quantized_mlp(generator)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)  # a graph break raises here
    for rows in (1, 7, 33):
        x = rand(generator, rows, 512)
        assert_same_result(compiled(x), model(x))
    x3 = rand(generator, 2, 5, 512)  # leading dimensions
    assert_same_result(compiled(x3), model(x3))


@torch.no_grad()
def test_export_runs_the_bitjit_operator(generator):
    model = quantized_mlp(generator)
    x = rand(generator, 4, 512)
    exported = torch.export.export(model, (x,))
    assert "bitjit.matmul" in str(exported.graph)
    assert_same_result(exported.module()(x), model(x))


def warm_up(model, x):
    """torch.cuda.graph's documented warm-up: a few runs on a side stream."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            model(x)
    torch.cuda.current_stream().wait_stream(side)


def check_capture_and_replays(model, generator, rows, K, replays=3):
    """Warm-up, capture of one forward, then replays with new inputs copied into the captured input:
    each replay's output is the eager forward of that input."""
    static_x = rand(generator, rows, K)
    warm_up(model, static_x)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = model(static_x)
    for _ in range(replays):
        x = rand(generator, rows, K)
        static_x.copy_(x)
        graph.replay()
        assert_same_result(static_y, model(x))


@torch.no_grad()
def test_cuda_graph_captures_and_replays_new_inputs(generator):
    check_capture_and_replays(quantized_mlp(generator), generator, 16, 512)


@torch.no_grad()
def test_capture_before_any_run_on_the_device_names_what_it_would_load(generator):
    # A shape no other test uses: its kernels are compiled (at construction) but not loaded on the GPU.
    layer = bitjit.Linear.from_linear(torch.nn.Linear(384, 160, bias=False).half(), W_dtype="int4",
                                      group_size=128).cuda()
    x = rand(generator, 8, 384)
    graph = torch.cuda.CUDAGraph()
    with pytest.raises(bitjit.CaptureError, match="loading its kernels on device 0"):
        with torch.cuda.graph(graph):
            layer(x)
    layer(x)  # after a run, the same capture works
    warm_up(layer, x)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = layer(x)
    graph.replay()
    assert_same_result(y, layer(x))


@torch.no_grad()
def test_reduce_overhead_replays_cuda_graphs(generator):
    from torch._dynamo.utils import counters
    counters.clear()
    model = quantized_mlp(generator)
    compiled = torch.compile(model, mode="reduce-overhead")
    for _ in range(5):  # the first calls warm up and record, the rest replay
        x = rand(generator, 8, 512)
        assert_same_result(compiled(x).clone(), model(x))
    assert not counters["inductor"].get("cudagraph_skips"), dict(counters["inductor"])


@torch.no_grad()
def test_split_k_scratch_comes_from_torch_under_capture(generator):
    # Long K and few channels: the shape split-K serves. Whether the default picks it is reported.
    layer = bitjit.Linear.from_linear(torch.nn.Linear(8192, 128, bias=False).half(), W_dtype="int4",
                                      group_size=128).cuda()
    check_capture_and_replays(layer, generator, 1, 8192)
    # Reported, not asserted: whether the default schedule at M = 1 takes split-K here (the C++ test
    # [graph] covers split-K scratch under capture with a schedule chosen to need it).
    print("schedule at M=1:", layer.matmul.schedule_for(1), "scratch bytes:", layer.matmul._native.scratch_need(1, 0))


def scratch_matmul(generator):
    """A static-M int4 g128 Matmul whose runs need split-K / stream-K scratch on this GPU (the default
    schedule of one of a few shapes: on sm_90a the 64-row stream-K kernel of N 6144, K 4096), with its
    weights (codes, fp16 scales, dequantized float64 values on the GPU); None where none does."""
    for M, N, K in ((64, 6144, 4096), (16, 4096, 14336), (1, 128, 8192)):
        config = bitjit.MatmulConfig(M=M, N=N, K=K, W_dtype="int4", accum_dtype="float32", with_scaling=True,
                                     group_size=128)
        matmul = bitjit.Matmul(config)
        if not matmul._native.scratch_need(M, 0)[0]:
            continue
        values = torch.randint(-8, 8, (N, K), dtype=torch.int8, generator=generator)
        scales = (torch.rand(N, K // 128, generator=generator) * 0.02 + 0.001).half()
        dequantized = (values.double() * scales.double().repeat_interleave(128, dim=1)).cuda()
        return matmul, M, matmul.transform_weight(values).cuda(), scales.cuda(), dequantized
    return None


def runner_of(matmul):
    from bitjit import ops
    return next(runner for (config, _, _), runner in ops._runners.items() if config == matmul.config.canonical)


def check_rows(result, x, dequantized):
    reference = x.double() @ dequantized.T
    bound = rounding_bound(reference, x.double().abs() @ dequantized.abs().T, x.shape[1])
    error = (result.double() - reference).abs()
    assert bool((error <= bound).all()), f"max error {error.max().item()} vs bound {bound.max().item()}"


@torch.no_grad()
def test_eager_runs_take_the_kernels_own_scratch_without_allocating(generator):
    """Outside capture a split-K / stream-K run passes no scratch of torch's (the C++ Matmul's own for the
    stream, zeroed once): no allocation and no fill kernel per call; the results are exact as before."""
    found = scratch_matmul(generator)
    if found is None:
        pytest.skip(f"no default schedule of the candidates needs split-K scratch on {torch.cuda.get_device_name()}")
    matmul, M, weight, scales, dequantized = found
    xs = [rand(generator, M, matmul.config.K) for _ in range(3)]
    outs = [torch.full((M, matmul.config.N), float("nan"), dtype=torch.float16, device="cuda") for _ in xs]
    matmul(xs[0], weight, scale=scales, output=outs[0])  # loads the kernels, allocates the stream's own scratch
    torch.cuda.synchronize()
    allocations = torch.cuda.memory_stats()["allocation.all.allocated"]  # how many torch has made, ever
    for x, out in zip(xs, outs):
        matmul(x, weight, scale=scales, output=out)
    assert torch.cuda.memory_stats()["allocation.all.allocated"] == allocations  # before: two a call
    for x, out in zip(xs, outs):
        check_rows(out, x, dequantized)
    assert runner_of(matmul).captured == {}


@torch.no_grad()
def test_a_capture_shares_one_zeroed_scratch_among_its_runs(generator):
    """Under torch.cuda.graph the runs of one config take one scratch set from the graph's pool (its
    counters zeroed once, by the first run's fill), kept by the capture's id: three runs in one capture
    hold one set; each replay with new inputs matches float64; a second capture on the same stream takes
    a new set; an eager run after it lets it go."""
    found = scratch_matmul(generator)
    if found is None:
        pytest.skip(f"no default schedule of the candidates needs split-K scratch on {torch.cuda.get_device_name()}")
    matmul, M, weight, scales, dequantized = found
    K, N = matmul.config.K, matmul.config.N
    static_x = rand(generator, M, K)
    outs = [torch.empty(M, N, dtype=torch.float16, device="cuda") for _ in range(3)]
    matmul(static_x, weight, scale=scales, output=outs[0])  # loads the kernels on this device
    torch.cuda.synchronize()
    runner = runner_of(matmul)
    stream = torch.cuda.Stream()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        capture = bitjit._bitjit.stream_capture_id(stream.cuda_stream, 0)
        assert capture is not None and bitjit._bitjit.stream_capture_id(stream.cuda_stream, 0) == capture
        for out in outs:
            matmul(static_x, weight, scale=scales, output=out)
        assert list(runner.captured) == [stream.cuda_stream]
        held = runner.captured[stream.cuda_stream]
        assert held.capture == capture
    assert bitjit._bitjit.stream_capture_id(stream.cuda_stream, 0) is None
    for _ in range(3):
        x = rand(generator, M, K)
        static_x.copy_(x)
        for out in outs:
            out.fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        for out in outs:
            check_rows(out, x, dequantized)
    again = torch.cuda.CUDAGraph()
    with torch.cuda.graph(again, stream=stream):
        matmul(static_x, weight, scale=scales, output=outs[0])
    assert runner.captured[stream.cuda_stream] is not held and runner.captured[stream.cuda_stream].capture != capture
    del held  # the first capture's set is now only its graph's memory
    x = rand(generator, M, K)
    static_x.copy_(x)
    again.replay()
    graph.replay()  # the first graph's scratch went back to the pool; its fill zeroes the counters again
    torch.cuda.synchronize()
    for out in outs:
        check_rows(out, x, dequantized)
    with torch.cuda.stream(stream):
        matmul(static_x, weight, scale=scales, output=outs[0])
    assert stream.cuda_stream not in runner.captured


@torch.no_grad()
def test_runs_on_the_tensors_device_whatever_the_current_device(generator):
    model = quantized_mlp(generator, device="cuda:0")
    x = rand(generator, 3, 512, device="cuda:0")
    expected = model(x)
    before = torch.cuda.current_device()
    with torch.cuda.device(0):
        assert_same_result(model(x.to("cuda")), expected)
    assert torch.cuda.current_device() == before
    if torch.cuda.device_count() > 1:  # test_multi_gpu.py covers a second device in full
        with torch.cuda.device(1):
            assert_same_result(model(x), expected)
            assert torch.cuda.current_device() == 1


def test_runs_from_a_thread_that_has_no_current_context(generator):
    """A new thread starts with no CUDA context current (until torch makes one so): the run uses its
    tensors' device's primary context, the one torch allocated them in."""
    import threading
    model = quantized_mlp(generator)
    x = rand(generator, 5, 512)
    with torch.no_grad():
        expected = model(x)
    results = {}

    def run():
        try:
            with torch.no_grad():
                results["y"] = model(x)
            torch.cuda.current_stream(x.device).synchronize()
        except Exception as error:  # reported by the main thread's assertion
            results["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert "error" not in results, results.get("error")
    assert_same_result(results["y"], expected)


@torch.no_grad()
def test_operands_on_other_devices_are_named(generator):
    model = quantized_mlp(generator)
    with pytest.raises(bitjit.ConfigError, match="Matmul: A is not in CUDA device memory: given float16 on cpu"):
        model(rand(generator, 2, 512, device="cpu"))
    config = bitjit.MatmulConfig(M=[1, 16], N=128, K=256, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config)
    weight = matmul.transform_weight(torch.randint(-8, 8, (128, 256), dtype=torch.int8))
    scales = torch.ones(128, 2, dtype=torch.float16)
    with pytest.raises(bitjit.ConfigError, match="Matmul: W is not in CUDA device memory: given int8 on cpu"):
        matmul(rand(generator, 2, 256), weight, scale=scales)


@torch.no_grad()
def test_matmul_call_and_output_go_through_the_operator(generator):
    config = bitjit.MatmulConfig(M=[1, 16], N=128, K=256, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config)
    values = torch.randint(-8, 8, (128, 256), dtype=torch.int8, generator=generator)
    scales = (torch.rand(128, 2, generator=generator) * 0.1 + 0.01).half()
    weight = matmul.transform_weight(values).cuda()
    x = rand(generator, 5, 256)
    reference = x.double() @ (values.double() * scales.double().repeat_interleave(128, dim=1)).cuda().T
    result = matmul(x, weight, scale=scales.cuda())
    out = torch.empty(5, 128, dtype=torch.float16, device="cuda")
    assert matmul(x, weight, scale=scales.cuda(), output=out) is out
    torch.testing.assert_close(out, result, rtol=0, atol=0)
    assert tuple(matmul(x[:0], weight, scale=scales.cuda()).shape) == (0, 128)  # an empty batch: no launch
    magnitude = x.double().abs() @ (values.double().abs() * scales.double().repeat_interleave(128, dim=1)).cuda().T
    assert bool(((result.double() - reference).abs() <= rounding_bound(reference, magnitude, 256)).all())


def rounding_bound(exact, magnitude, K):
    """What an fp16-activation kernel may lose against float64 (docs/correctness.md's model): the
    tensor-core families round each dequantized weight to fp16 (the scale product: 2^-11 relative, at
    most twice: 2^-10 of sum |a w|), float32 accumulation of K terms (K * 2^-24 of sum |a w|), and the
    fp16 output's rounding (2^-11 relative, 2^-10 allowed for the double rounding), plus fp16's
    smallest subnormal."""
    return (2.0 ** -10 + K * 2.0 ** -24) * magnitude + 2.0 ** -10 * exact.abs() + 2.0 ** -24


def gptq_model(layer, K, N, method, **load):
    tensors = {f"0.{name}": layer[name] for name in ("qweight", "qzeros", "scales", "g_idx", "bias") if name in layer}
    model = torch.nn.Sequential(torch.nn.Linear(K, N, bias="bias" in layer)).half()
    bitjit.load_quantized(model, tensors, method, **load)
    return model.cuda()


def check_against_reference(model, layer, generator, K):
    x = rand(generator, 9, K)
    reference = x.double() @ torch.from_numpy(layer["reference"]).cuda().T
    if "bias" in layer:
        reference += torch.from_numpy(layer["bias"].astype(np.float64)).cuda()
    magnitude = x.double().abs() @ torch.from_numpy(np.abs(layer["reference"])).cuda().T
    bound = rounding_bound(reference, magnitude, K)
    error = (model(x).double() - reference).abs()
    assert bool((error <= bound).all()), f"max error {error.max().item()} vs bound {bound.max().item()}"


@torch.no_grad()
@pytest.mark.parametrize("bits, sym, act_order", [(4, True, True), (4, False, True), (4, False, False),
                                                  (2, False, True), (3, False, True), (3, True, False),
                                                  (8, True, True), (8, False, False)])
def test_gptq_layers_compute_their_checkpoint_weights(generator, bits, sym, act_order):
    rng = np.random.default_rng(random.getrandbits(32))
    K, N = 512, 256
    layer = random_gptq_layer(N, K, bits, 128, sym, act_order, rng, bias=True)
    check_against_reference(gptq_model(layer, K, N, "gptq"), layer, generator, K)


@torch.no_grad()
def test_awq_layer_computes_its_checkpoint_weights(generator):
    rng = np.random.default_rng(random.getrandbits(32))
    K, N = 512, 256
    layer = random_awq_layer(N, K, 128, rng, bias=True)
    check_against_reference(gptq_model(layer, K, N, "awq"), layer, generator, K)


@torch.no_grad()
def test_state_dict_round_trip_gives_the_same_outputs(generator):
    source = quantized_mlp(generator)
    target = quantized_mlp(generator)  # other weights
    target.load_state_dict(source.state_dict())
    x = rand(generator, 4, 512)
    assert_same_result(target(x), source(x))


def test_operators_pass_torch_library_opcheck(generator):
    """torch's own checks of a custom operator: schema, fake kernel against the real one, and
    AOTAutograd's dynamic-shape dispatch."""
    config = bitjit.MatmulConfig(M=[1, 16], N=128, K=256, W_dtype="uint4", accum_dtype="float32",
                                 with_scaling=True, with_zeros=True, group_size=128, with_bias=True)
    matmul = bitjit.Matmul(config)
    q = bitjit.quantization.quantize(config, torch.randn(128, 256, generator=generator).numpy())
    W = torch.from_numpy(matmul.transform_packed_weight(q["W"])).cuda()
    scales, zeros = torch.from_numpy(q["scales"]).cuda(), torch.from_numpy(q["zeros"]).cuda()
    bias = rand(generator, 128)
    x = rand(generator, 5, 256)
    torch.library.opcheck(torch.ops.bitjit.matmul.default, (x, W, scales, zeros, bias, config.canonical, matmul.arch))
    out = torch.empty(5, 128, dtype=torch.float16, device="cuda")
    torch.library.opcheck(torch.ops.bitjit.matmul_out.default,
                          (x, W, scales, zeros, bias, out, config.canonical, matmul.arch))


@torch.no_grad()
def test_load_state_dict_from_cpu_into_a_fresh_layer_on_the_gpu(generator):
    """A fresh bitjit.Linear's buffers are on the GPU; a state saved from CPU buffers loads into them
    (load_state_dict copies across devices, the act-order perm included) and the layer computes what
    the saved one computes."""
    K, N = 256, 64
    layer = random_gptq_layer(N, K, 4, 64, False, True, np.random.default_rng(random.getrandbits(32)))
    tensors = {f"0.{name}": layer[name] for name in ("qweight", "qzeros", "scales", "g_idx")}
    source = torch.nn.Sequential(torch.nn.Linear(K, N, bias=False)).half()
    bitjit.load_quantized(source, tensors, "gptq")
    state = {name: value.cpu() for name, value in source.state_dict().items()}
    config = source[0].config
    fresh = bitjit.Linear(K, N, bias=False, A_dtype="float16", W_dtype=config.W_dtype, accum_dtype="float32",
                          out_dtype="float16", group_size=config.group_size, with_scaling=True, with_zeros=True)
    assert fresh.qweight.is_cuda
    target = torch.nn.Sequential(fresh)
    target.load_state_dict(state)
    assert all(value.is_cuda for name, value in target.state_dict().items() if not name.endswith("_extra_state"))
    x = rand(generator, 3, K)
    assert_same_result(target(x), source.cuda()(x))


@pytest.mark.parametrize("operand", ["W", "scale", "output"])
@torch.no_grad()
def test_eager_call_and_operator_word_a_cpu_operand_alike(operand):
    """Matmul's eager path (no dispatcher) and torch.ops.bitjit.matmul_out refuse a CPU operand with
    the bindings' one message, naming it and its device."""
    config = bitjit.MatmulConfig(M=[1, 16], N=128, K=256, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config)
    operands = {"A": torch.zeros(2, 256, dtype=torch.float16, device="cuda"),
                "W": torch.zeros(128, 128, dtype=torch.int8, device="cuda"),
                "scale": torch.ones(128, 2, dtype=torch.float16, device="cuda"),
                "output": torch.zeros(2, 128, dtype=torch.float16, device="cuda")}
    operands[operand] = operands[operand].cpu()
    message = rf"Matmul: {operand} is not in CUDA device memory: given \w+ on cpu"
    with pytest.raises(bitjit.ConfigError, match=message):
        matmul(operands["A"], operands["W"], scale=operands["scale"], output=operands["output"])
    with pytest.raises(bitjit.ConfigError, match=message):
        torch.ops.bitjit.matmul_out(operands["A"], operands["W"], operands["scale"], None, None, operands["output"],
                                    config.canonical, matmul.arch)
