"""Two GPUs in one host: bitjit.Linear on cuda:0 and cuda:1 in one process (as Hugging Face's
device_map="auto" places layers), and tensor parallelism over NCCL (tp_mlp.py under torchrun).
Skipped unless torch sees at least two CUDA devices."""
import os
import random
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
    pytest.skip("needs two CUDA devices", allow_module_level=True)

import bitjit  # noqa: E402


@pytest.fixture
def generator():
    g = torch.Generator()
    g.manual_seed(random.getrandbits(63))
    return g


def float_mlp(generator):
    layers = [torch.nn.Linear(512, 1024, bias=True), torch.nn.Linear(1024, 256, bias=False)]
    for layer in layers:
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / layer.in_features ** 0.5)
    return [layer.half() for layer in layers]


class SplitMlp(torch.nn.Module):
    """first on one device, second on another, the activation moved between (accelerate's hooks do so)."""

    def __init__(self, first, second):
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x):
        hidden = torch.nn.functional.silu(self.first(x.to(self.first.qweight.device)))
        return self.second(hidden.to(self.second.qweight.device))


def quantized(layers, W_dtype="int4"):
    return [bitjit.Linear.from_linear(layer, W_dtype=W_dtype, group_size=128) for layer in layers]


@torch.no_grad()
def test_layers_on_two_devices_give_the_single_device_result(generator):
    floats = float_mlp(generator)
    single = SplitMlp(*[layer.to("cuda:0") for layer in quantized(floats)])
    split = SplitMlp(quantized(floats)[0].to("cuda:0"), quantized(floats)[1].to("cuda:1"))
    for rows in (1, 16, 37):
        x = torch.randn(rows, 512, generator=generator).half()
        expected = single(x.to("cuda:0"))
        got = split(x.to("cuda:0"))
        assert got.device == torch.device("cuda:1")
        torch.testing.assert_close(got.to("cuda:0"), expected, rtol=0, atol=0)  # same kernels, same inputs


@torch.no_grad()
def test_every_device_runs_whatever_the_current_device(generator):
    floats = float_mlp(generator)
    layer = quantized(floats)[0]
    x = torch.randn(4, 512, generator=generator).half()
    on0 = layer.to("cuda:0")(x.to("cuda:0"))
    for current in (0, 1):
        with torch.cuda.device(current):
            for device in ("cuda:0", "cuda:1"):
                moved = layer.to(device)
                torch.testing.assert_close(moved(x.to(device)).to("cuda:0"), on0, rtol=0, atol=0)
            assert torch.cuda.current_device() == current


@torch.no_grad()
def test_capture_on_the_second_device(generator):
    layer = quantized(float_mlp(generator))[0].to("cuda:1")
    x = torch.randn(8, 512, generator=generator).half().to("cuda:1")
    with torch.cuda.device(1):
        layer(x)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            y = layer(x)
        new = torch.randn(8, 512, generator=generator).half().to("cuda:1")
        x.copy_(new)
        graph.replay()
        torch.testing.assert_close(y, layer(new), rtol=0, atol=0)


@torch.no_grad()
def test_operands_on_mismatched_devices_are_named(generator):
    layer = quantized(float_mlp(generator))[0].to("cuda:1")
    with pytest.raises(bitjit.ConfigError, match="operands on different devices: A on cuda:0, W on cuda:1, "
                                                 "scale on cuda:1, bias on cuda:1"):
        layer(torch.zeros(2, 512, dtype=torch.float16, device="cuda:0"))


def test_tensor_parallel_mlp_matches_the_unsharded_layers(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "tp_mlp.py")
    out = tmp_path / "tp.json"
    env = dict(os.environ, NCCL_NVLS_ENABLE="0")
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             script, "--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    print(result.stdout[-4000:], result.stderr[-4000:])
    assert result.returncode == 0
    assert out.exists()
