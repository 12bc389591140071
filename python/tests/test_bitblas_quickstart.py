"""BitBLAS's quick start (data/bitblas_quickstart_blocks.md: its four code blocks as written) under
bitjit, changed only as a BitBLAS user moving to bitjit changes it: `bitblas` -> `bitjit` in the
imports and module references, plus the Linear block's own typos (`import torch` missing,
`linear_bitblas` for `model`). On a GPU with torch every block runs for real; the CPU part (configs,
packing, weight_transform for sm_90a) runs everywhere.

What the blocks do under bitjit (docs/python.md, "BitBLAS migration"):
1. general_compress(randint(-7, 7)) packs negative values: a ConfigError naming the first one's index
   (general_compress packs unsigned fields; int4 goes in as v + 8, or as it is through
   transform_weight). Past it, an M=1 config called with 1024 rows is a ConfigError saying how to
   declare dynamic M (test_static_m_called_with_other_rows_says_how_to_declare_m).
2. Runs. Its weights are intweight + 7 (maxq = 2**(bit-1) - 1) packed as int4 fields, whose offset is
   8: the kernel computes with W - 1, and the block's own assert_close (rtol=1e2, atol=1e-1) against
   W fails wherever the reference is near 0 (in about 70 % of random draws, for any exact int4
   kernel). The test checks the output against float64 from the weights the packed bytes hold, and
   that the block's assertion fails exactly when it fails for that exact result too.
3. Runs: profile_latency, hardware_aware_finetune, the prints.
4. Runs (fresh buffers of zeros, as BitBLAS's); its output is checked against the dequantized weights.
"""
import ast
import pathlib
import random
import re

import numpy as np
import pytest

import bitjit

BLOCKS = re.findall(r"```python\n(.*?)```", (pathlib.Path(__file__).parent / "data" /
                                             "bitblas_quickstart_blocks.md").read_text(), re.S)


def transformed(index: int) -> str:
    """Block `index` with only the allowed changes."""
    code = re.sub(r"\bbitblas\b", "bitjit", BLOCKS[index])  # bitblas_inputs, linear_bitblas stay
    if index == 3:
        code = "import torch\n" + code.replace("linear_bitblas(", "model(")
    return code


def test_the_data_holds_the_four_blocks_and_only_bitblas_is_renamed():
    assert len(BLOCKS) == 4
    for index in range(4):
        code = transformed(index)
        assert "bitblas." not in code and "import bitblas" not in code
        ast.parse(code)


def config_of(index: int):
    """The block's `matmul_config = bitblas.MatmulConfig(...)` statement, run as written."""
    tree = ast.parse(transformed(index))
    statement = next(node for node in tree.body if isinstance(node, ast.Assign)
                     and getattr(node.targets[0], "id", "") == "matmul_config")
    namespace = {"bitjit": bitjit, "np": np}
    exec(compile(ast.Module([statement], []), f"block {index + 1}", "exec"), namespace)
    return namespace["matmul_config"]


def nibbles(packed: np.ndarray) -> np.ndarray:
    """general_compress's 4-bit fields, in order."""
    raw = packed.view(np.uint8)
    return np.stack([raw & 15, raw >> 4], axis=-1).reshape(raw.shape[0], -1)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_cpu_part_configs_packing_and_weight_transform_for_sm_90a(index):
    config = config_of(index)
    assert config.M == 1 and config.W_dtype == "int4" and not config.with_bias and not config.with_scaling
    matmul = bitjit.Matmul(config=config, target="sm_90a")
    rng = np.random.default_rng(random.getrandbits(32))
    maxq = 7
    intweight = rng.integers(-maxq, maxq, (1024, 1024)).astype(np.int8) + maxq  # block 2's weights
    packed = bitjit.quantization.general_compress(intweight, source_bits=4, storage_dtype=np.int8)
    assert packed.dtype == np.int8 and packed.shape == (1024, 512)
    assert np.array_equal(nibbles(packed), intweight)
    assert matmul.weight_transform is not None  # tensor_gemv's mma_runs layout reorders int4 codes
    kernel = matmul.weight_transform(packed)
    assert kernel.dtype == np.int8 and kernel.shape == packed.shape
    # the layout moves codes inside each tile of 16 rows only (tensor_gemv's channel tiles);
    # transform_weight from the logical values agrees
    def by_tiles(codes):
        return np.sort(codes.reshape(codes.shape[0] // 16, -1), axis=1)
    assert np.array_equal(by_tiles(nibbles(kernel)), by_tiles(intweight))
    assert np.array_equal(matmul.transform_weight(intweight.astype(np.int16) - 8), kernel)
    # block 1 packs the signed values themselves: refused, naming the first negative one
    with pytest.raises(bitjit.ConfigError, match=r"general_compress: value -\d at index \d+ \(row \d+, col \d+\)"):
        bitjit.quantization.general_compress(intweight - maxq, source_bits=4)


# ---- on the GPU ---------------------------------------------------------------------------------

def gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device for torch")
    torch.manual_seed(random.getrandbits(32))
    return torch


def run_block(index: int, namespace=None) -> dict:
    namespace = {} if namespace is None else namespace
    namespace["__name__"] = f"bitblas_quickstart_block_{index + 1}"
    exec(compile(transformed(index), f"quick start block {index + 1}", "exec"), namespace)
    return namespace


def fp16_bound(torch, A64, W64, exact):
    """float32 accumulation (bitjit carries float16 accumulation out in float32; docs/correctness.md)
    and the float16 output's rounding."""
    K = A64.shape[-1]
    return (K / 8 + 41) * 2.0 ** -24 * (A64.abs() @ W64.abs().T) + 2.0 ** -10 * exact.abs() + 2.0 ** -24


def test_block_1_stops_at_general_compress_of_negative_values():
    gpu()
    with pytest.raises(bitjit.ConfigError, match=r"general_compress: value -\d at index \d+ .* outside \[0, 15\]"):
        run_block(0)


def test_static_m_called_with_other_rows_says_how_to_declare_m():
    torch = gpu()
    matmul = bitjit.Matmul(config=config_of(0))
    W = torch.from_numpy(matmul.transform_weight(np.zeros((1024, 1024), np.int8))).cuda()
    A = torch.rand((1024, 1024), dtype=torch.float16).cuda()
    with pytest.raises(bitjit.ConfigError, match="A has M=1024 rows but the config has a static M=1; give M as a list"):
        matmul(A, W, torch.empty((1024, 1024), dtype=torch.float16).cuda())


def test_block_2_runs_and_equals_the_packed_weights_product():
    torch = gpu()
    namespace = {}
    try:
        run_block(1, namespace)
        block_assertion = None
    except AssertionError as failure:  # the block's own assert_close, its last statement
        block_assertion = failure
    got = namespace["bitblas_inputs"][-1].double().cpu()
    A64 = namespace["torch_inputs"][0].double().cpu()
    W64 = torch.from_numpy(nibbles(namespace["qw_np"]).astype(np.float64) - 8)  # int4: field - 8
    exact = A64 @ W64.T
    assert torch.all((got - exact).abs() <= fp16_bound(torch, A64, W64, exact))
    # the block's assertion fails exactly when it fails for the exact product of those weights
    reference = namespace["ref_result"]
    try:
        torch.testing.assert_close(exact.to(torch.float16).cuda(), reference, rtol=1e2, atol=1e-1)
        exact_fails = False
    except AssertionError:
        exact_fails = True
    assert exact_fails == (block_assertion is not None), block_assertion


def test_block_3_profiles_and_tunes(capsys):
    gpu()
    namespace = run_block(2)
    assert namespace["latency"] > 0
    printed = capsys.readouterr().out
    assert "Latency: " in printed and "Latency After Tuning: " in printed


def test_block_4_linear_runs_on_its_fresh_buffers():
    torch = gpu()
    namespace = run_block(3)
    model, x, got = namespace["model"], namespace["dummpy_inp"], namespace["output_bitblas"]
    assert got.shape == (1, 1024) and got.dtype == torch.float16
    # fresh buffers are zeros, as BitBLAS's: int4 field 0 is -8 everywhere
    W64 = torch.from_numpy(nibbles(model.qweight.cpu().numpy()).astype(np.float64) - 8)
    assert torch.all(W64 == -8)
    A64 = x.double().cpu()
    exact = A64 @ W64.T
    assert torch.all((got.double().cpu() - exact).abs() <= fp16_bound(torch, A64, W64, exact))
