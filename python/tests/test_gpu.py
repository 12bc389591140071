"""On a GPU with torch: Matmul on torch tensors against float64 references built from the exact
dequantized weights, and bitjit.Linear replacing a torch.nn.Linear. Skipped without torch or CUDA."""
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device for torch", allow_module_level=True)

import bitjit  # noqa: E402

MANTISSA = {"float16": 10, "bfloat16": 7}

# (A dtype, W dtype, group size, zeros mode or None): one per decode path and zeros mode.
FORMATS = [
    ("float16", "int4", 128, None),
    ("bfloat16", "uint4", 128, "original"),
    ("float16", "uint4", 64, "rescale"),
    ("float16", "int8", -1, None),
    ("bfloat16", "int2", 128, None),
    ("float16", "nf4", 64, None),
    ("float16", "fp4_e2m1", 128, None),
    ("bfloat16", "float8_e4m3", 128, None),
]


def rng():
    return np.random.default_rng(random.getrandbits(32))


def bound(A64, W64, exact, a_dtype):
    """Tensor-core accumulation and scaled weights in A's type (docs/correctness.md), plus the fp16 / bf16
    output rounding."""
    magnitude = A64.abs() @ W64.abs().T
    return magnitude * 2.0 ** -MANTISSA[a_dtype] + exact.abs() * 2.0 ** -MANTISSA[a_dtype] + 1e-5


@pytest.mark.parametrize("a_dtype,w_dtype,group,zeros", FORMATS)
@pytest.mark.parametrize("M", [1, 16, 100])
def test_matmul_on_torch_tensors_matches_float64(a_dtype, w_dtype, group, zeros, M):
    generator = rng()
    N, K = 384, 1024
    config = bitjit.MatmulConfig(M=[1, 16, 128], N=N, K=K, A_dtype=a_dtype, W_dtype=w_dtype, accum_dtype="float32",
                                 out_dtype=a_dtype, group_size=group, with_scaling=True,
                                 with_zeros=zeros is not None, zeros_mode=zeros)
    matmul = bitjit.Matmul(config=config)
    q = bitjit.quantization.quantize(config, generator.standard_normal((N, K)).astype(np.float32))
    dtype = getattr(torch, a_dtype)
    device = torch.device("cuda")
    W = torch.from_numpy(matmul.transform_packed_weight(q["W"])).to(device)
    scales = torch.from_numpy(q["scales"]).to(device).view(dtype)
    zeros_tensor = None
    if q["zeros"] is not None:
        zeros_tensor = torch.from_numpy(q["zeros"]).to(device)
        zeros_tensor = zeros_tensor.view(dtype) if zeros != "quantized" else zeros_tensor
    A = torch.randn((M, K), dtype=torch.float32, generator=torch.Generator().manual_seed(int(generator.integers(1 << 30))))
    A = A.to(dtype).to(device)
    got = matmul(A, W, scale=scales, zeros=zeros_tensor).double().cpu()
    A64 = A.double().cpu()
    W64 = torch.from_numpy(q["dequantized"])
    exact = A64 @ W64.T
    assert torch.all((got - exact).abs() <= bound(A64, W64, exact, a_dtype)), \
        f"largest error {(got - exact).abs().max().item():.3g}"


def test_linear_replaces_torch_linear_within_the_quantization_error():
    torch.manual_seed(random.getrandbits(32))
    reference = torch.nn.Linear(1024, 512, bias=True, dtype=torch.float16, device="cuda")
    layer = bitjit.Linear.from_linear(reference, W_dtype="int4", group_size=128, opt_M=[1, 16, 64])
    x = torch.randn((2, 7, 1024), dtype=torch.float16, device="cuda")
    got = layer(x).double()
    assert got.shape == (2, 7, 512)
    # The layer computes x . deq(W)^T + b: its distance from the float layer is the quantization
    # error, bounded per output by sum_k |x_k| |W - deq(W)|_k (plus fp16 rounding of both outputs).
    q = bitjit.quantization.quantize(layer.config, reference.weight.detach().float().cpu().numpy())
    deq = torch.from_numpy(q["dequantized"]).cuda()
    x64 = x.double().reshape(-1, 1024)
    quantization = x64.abs() @ (reference.weight.double() - deq).abs().T
    expected = reference(x).double().reshape(-1, 512)
    slack = 2.0 ** -9 * (x64.abs() @ reference.weight.double().abs().T + expected.abs()) + 1e-3
    assert torch.all((got.reshape(-1, 512) - expected).abs() <= quantization + slack)
    # and it is a real module: state_dict holds the packed weight and scales.
    assert {"qweight", "scales", "bias"} <= set(layer.state_dict())


def test_linear_loads_logical_values_like_bitblas():
    layer = bitjit.Linear(512, 256, bias=False, A_dtype="float16", W_dtype="int4", accum_dtype="float32",
                          out_dtype="float16", opt_M=[1, 32])
    weight = torch.randint(-8, 8, (256, 512), dtype=torch.int8)
    layer.load_and_transform_weight(weight)
    x = torch.randn((32, 512), dtype=torch.float16, device="cuda")
    got = layer(x).double()
    exact = x.double() @ weight.double().cuda().T
    assert torch.all((got - exact).abs() <= 2.0 ** -10 * (x.double().abs() @ weight.double().abs().cuda().T) * 2 + 1e-3)


# ---- issue 21: every operand's dtype and device, on the GPU ---------------------------------------

def uint4_call_operands(N=256, K=512):
    """A uint4 config with scales, float zeros and bias, and right operands for it, on the GPU."""
    config = bitjit.MatmulConfig(M=[1, 16], N=N, K=K, W_dtype="uint4", accum_dtype="float32", with_scaling=True,
                                 with_zeros=True, group_size=128, with_bias=True)
    matmul = bitjit.Matmul(config=config)
    operands = {"A": torch.zeros((3, K), dtype=torch.float16, device="cuda"),
                "W": torch.zeros((N, K // 2), dtype=torch.int8, device="cuda"),
                "scale": torch.ones((N, K // 128), dtype=torch.float16, device="cuda"),
                "zeros": torch.zeros((N, K // 128), dtype=torch.float16, device="cuda"),
                "bias": torch.zeros((N,), dtype=torch.float16, device="cuda"),
                "output": torch.zeros((3, N), dtype=torch.float16, device="cuda")}
    return matmul, operands


def call(matmul, operands):
    return matmul.forward(operands["A"], operands["W"], scale=operands["scale"], zeros=operands["zeros"],
                          bias=operands["bias"], output=operands["output"])


WRONG_DTYPES = {"A": torch.bfloat16, "W": torch.int16, "scale": torch.bfloat16, "zeros": torch.float32,
                "bias": torch.bfloat16, "output": torch.float32}


@pytest.mark.parametrize("operand", sorted(WRONG_DTYPES))
def test_wrong_dtype_of_each_operand_is_an_error_naming_it(operand):
    matmul, operands = uint4_call_operands()
    call(matmul, operands)  # the right operands run
    operands[operand] = operands[operand].to(WRONG_DTYPES[operand])
    given = str(WRONG_DTYPES[operand]).replace("torch.", "")
    with pytest.raises(bitjit.ConfigError, match=rf"Matmul: {operand} has the wrong dtype: given {given} on cuda"):
        call(matmul, operands)
    # A as int16 (same element size as float16) too: only the element size was compared before
    if operand == "A":
        operands["A"] = torch.zeros((3, 512), dtype=torch.int16, device="cuda")
        with pytest.raises(bitjit.ConfigError, match="A has the wrong dtype: given int16"):
            call(matmul, operands)


@pytest.mark.parametrize("operand", sorted(WRONG_DTYPES))
def test_cpu_tensor_for_each_operand_is_an_error_naming_it(operand):
    matmul, operands = uint4_call_operands()
    operands[operand] = operands[operand].cpu()
    with pytest.raises(bitjit.ConfigError, match=rf"Matmul: {operand} is not in CUDA device memory: given .* on cpu"):
        call(matmul, operands)


def test_non_contiguous_and_wrong_shape_are_errors():
    matmul, operands = uint4_call_operands()
    operands["A"] = torch.zeros((512, 3), dtype=torch.float16, device="cuda").t()
    with pytest.raises(bitjit.ConfigError, match="A is not contiguous"):
        call(matmul, operands)
    matmul, operands = uint4_call_operands()
    operands["scale"] = operands["scale"][:, :1].contiguous()
    with pytest.raises(bitjit.ConfigError, match=r"scale has the wrong shape: given float16 on cuda:\d with shape \[256, 1\]"):
        call(matmul, operands)


# ---- issue 21: float16 / bfloat16 weights through transform_weight at every family's M range ------

@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("M, rows", [(1, 1), (16, 16), (64, 64), (256, 256), ([1, 16, 64, 256], 200),
                                     ([64, 256], 100)])
def test_sixteen_bit_weights_match_float64_at_every_m(dtype, M, rows):
    generator = rng()
    N, K = 256, 1024
    config = bitjit.MatmulConfig(M=M, N=N, K=K, A_dtype=dtype, W_dtype=dtype, accum_dtype="float32", out_dtype=dtype)
    matmul = bitjit.Matmul(config=config)
    torch_dtype = getattr(torch, dtype)
    weight = torch.from_numpy(generator.standard_normal((N, K)).astype(np.float32)).to(torch_dtype)
    W = matmul.transform_weight(weight).cuda()  # [N, K/32, 32] where the kernel reads fragment order
    if matmul.weight_transform is not None:
        with pytest.raises(bitjit.ConfigError, match="transform_weight"):
            matmul(torch.zeros((rows, K), dtype=torch_dtype, device="cuda"), weight.cuda())
    A = torch.from_numpy(generator.standard_normal((rows, K)).astype(np.float32)).to(torch_dtype).cuda()
    got = matmul(A, W).double().cpu()
    A64, W64 = A.double().cpu(), weight.double()
    exact = A64 @ W64.T
    bound = (K / 8 + 41) * 2.0 ** -24 * (A64.abs() @ W64.abs().T) + exact.abs() * 2.0 ** -MANTISSA[dtype] + 1e-6
    assert torch.all((got - exact).abs() <= bound), f"{matmul.schedule_for(rows)['family']}: largest error " \
        f"{(got - exact).abs().max().item():.3g}"


def test_hardware_aware_finetune_reports_each_bucket():
    """The tuner's report per bucket: the rows, the schedule now run for them, its time against the time
    before (never slower: the schedule before is among those timed), and the seconds spent, of which the
    compiling comes first."""
    config = bitjit.MatmulConfig(M=[1, 16], N=256, K=512, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config=config)
    report = matmul.hardware_aware_finetune(2)
    assert [bucket["M"] for bucket in report] == [1, 16]
    for bucket in report:
        assert bucket["schedule"] == matmul.schedule_for(bucket["M"])
        assert 0 < bucket["latency_ms"] <= bucket["before_ms"]
        assert bucket["candidates_timed"] == 3  # the schedule before and the top 2
        assert 0 < bucket["compile_seconds"] < bucket["seconds"]
