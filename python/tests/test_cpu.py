"""The Python package on a machine without a GPU: configs, packing, code generation and errors."""
import random

import numpy as np
import pytest

import bitjit


def test_config_defaults_follow_bitblas():
    config = bitjit.MatmulConfig(M=1, N=2048, K=1024, W_dtype="int4", group_size=None, zeros_mode=None)
    assert '"group_size":-1' in config.canonical
    assert '"zeros_mode":"original"' in config.canonical
    assert '"accum_dtype":"float16"' in config.canonical
    buckets = bitjit.MatmulConfig(N=64, K=64, W_dtype="uint4", accum_dtype="float32")
    assert '"M":[1,16,32,64,128,256,512,1024]' in buckets.canonical


@pytest.mark.parametrize("fields, named", [
    ({"W_dtype": "int5"}, 'W_dtype="int5"'),
    ({"W_dtype": "int4", "with_scaling": True, "group_size": 100}, "group_size=100"),
    ({"W_dtype": "int4", "layout": "nn"}, "layout"),
])
def test_bad_configs_name_the_field(fields, named):
    with pytest.raises(ValueError) as error:
        bitjit.MatmulConfig(M=1, N=64, K=256, **fields)
    assert named in str(error.value)
    assert isinstance(error.value, bitjit.ConfigError)


def test_general_compress_matches_numpy():
    rng = np.random.default_rng(random.getrandbits(32))
    for bits in (1, 2, 4, 8):
        codes = rng.integers(0, 2 ** bits, size=(3, 64))
        per_byte = 8 // bits
        expected = np.zeros((3, 64 // per_byte), dtype=np.uint8)
        for j in range(per_byte):
            expected |= (codes[:, j::per_byte] << (j * bits)).astype(np.uint8)
        assert np.array_equal(bitjit.quantization.general_compress(codes, bits=bits), expected)
    with pytest.raises(ValueError, match="out of range|16"):
        bitjit.quantization.general_compress(np.array([[16, 0]]), bits=4)


def test_matmul_compiles_for_an_arch_without_a_gpu():
    config = bitjit.MatmulConfig(M=1, N=256, K=512, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config=config, target="sm_90a")
    assert matmul.arch == "sm_90a"
    assert matmul.schedule["family"] == "tensor_gemv"
    assert "bitjit::tensor_gemv<Problem, Tiles>" in matmul.source


def test_each_m_bucket_has_its_kernel_and_tuning_needs_the_gpu():
    config = bitjit.MatmulConfig(M=[1, 16, 256], N=256, K=512, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config=config, target="sm_80")  # no GPU here, or not an sm_80 one on the device
    assert matmul.schedule_for(1)["family"] == "tensor_gemv"
    assert matmul.schedule_for(17)["family"] == "tensor_gemm"
    assert matmul.schedule == matmul.schedule_for(256)
    with pytest.raises(Exception, match="GPU"):
        matmul.hardware_aware_finetune(4)


def test_transform_weight_packs_every_value_once():
    rng = np.random.default_rng(random.getrandbits(32))
    config = bitjit.MatmulConfig(M=1, N=32, K=256, W_dtype="int4", accum_dtype="float32")
    matmul = bitjit.Matmul(config=config, target="sm_80")
    weight = rng.integers(-8, 8, size=(32, 256)).astype(np.int8)
    packed = matmul.transform_weight(weight)
    assert packed.shape == (32, 128)
    # The tensor-core layout reorders codes inside each row; every row still holds its own codes
    # (offset binary: v + 8), each once.
    nibbles = np.stack([packed.view(np.uint8) & 15, packed.view(np.uint8) >> 4], axis=-1).reshape(32, 256)
    assert np.array_equal(np.sort(nibbles, axis=1), np.sort(weight.astype(np.int16) + 8, axis=1))
    with pytest.raises(ValueError, match="expected"):
        matmul.transform_weight(weight[:, :128])


def test_calls_need_gpu_arrays():
    config = bitjit.MatmulConfig(M=1, N=32, K=256, W_dtype="int4", accum_dtype="float32")
    matmul = bitjit.Matmul(config=config, target="sm_80")
    with pytest.raises(ValueError, match="output is required"):
        matmul(np.zeros((1, 256), dtype=np.float16), np.zeros((32, 128), dtype=np.int8))
    with pytest.raises(TypeError, match="__cuda_array_interface__"):
        matmul(np.zeros((1, 256), dtype=np.float16), np.zeros((32, 128), dtype=np.int8),
               output=np.zeros((1, 32), dtype=np.float16))


def test_gptq_checkpoint_converts_to_operands():
    rng = np.random.default_rng(random.getrandbits(32))
    K, N, groups = 256, 64, 2
    codes = rng.integers(0, 16, size=(N, K))
    zeros = rng.integers(0, 16, size=(groups, N))
    scales = rng.uniform(1e-3, 1e-1, size=(groups, N)).astype(np.float16)
    # GPTQ packing: qweight [K/8, N], nibble j of word (r, n) = k 8r + j; qzeros [groups, N/8] hold z - 1.
    qweight = np.zeros((K // 8, N), dtype=np.uint32)
    for j in range(8):
        qweight |= (codes.T[j::8].astype(np.uint32) << (4 * j))
    qzeros = np.zeros((groups, N // 8), dtype=np.uint32)
    for j in range(8):
        qzeros |= (((zeros[:, j::8] - 1) & 15).astype(np.uint32) << (4 * j))
    layer = bitjit.quantization.from_gptq(qweight.view(np.int32), qzeros.view(np.int32), scales, bits=4)
    assert layer["config"]["W_dtype"] == "uint4" and layer["config"]["group_size"] == 128
    assert np.array_equal(layer["W"], bitjit.quantization.general_compress(codes, bits=4))
    assert np.array_equal(layer["scales"], scales.T)
    assert np.array_equal(layer["zeros"], (((zeros - 1) & 15) + 1).T.astype(np.float16))
    config = bitjit.MatmulConfig(**{k: v for k, v in layer["config"].items() if k != "M"}, M=1)
    packed = bitjit.Matmul(config=config, target="sm_90a").transform_packed_weight(layer["W"])
    assert packed.shape == layer["W"].shape
    assert layer["perm"] is None
    with pytest.raises(ValueError, match="g_idx puts 256 columns in group 0"):
        bitjit.quantization.from_gptq(qweight.view(np.int32), qzeros.view(np.int32), scales, bits=4,
                                      g_idx=np.zeros(K, dtype=np.int32))


def test_quantize_gives_codes_that_dequantize_to_the_returned_values():
    rng = np.random.default_rng(random.getrandbits(32))
    config = bitjit.MatmulConfig(M=1, N=16, K=256, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    weight = rng.standard_normal((16, 256)).astype(np.float32)
    q = bitjit.quantization.quantize(config, weight)
    assert q["W"].shape == (16, 128) and q["scales"].shape == (16, 2) and q["zeros"] is None
    nibbles = np.stack([q["W"] & 15, q["W"] >> 4], axis=-1).reshape(16, 256).astype(np.float64)
    scales = np.repeat(q["scales"].astype(np.float64), 128, axis=1)
    # int4 is stored offset-binary (v + 8): each code times its group's scale is the returned value,
    assert np.array_equal((nibbles - 8) * scales, q["dequantized"])
    # and the nearest one: at most half a step (plus the scale's own fp16 rounding) from the weight.
    assert np.all(np.abs(q["dequantized"] - weight) <= 0.5 * scales * (1 + 2.0 ** -9) + 1e-6)
    with pytest.raises(ValueError, match="expected"):
        bitjit.quantization.quantize(config, weight[:, :128])


def test_linear_needs_torch_only_when_used():
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs torch"):
            bitjit.Linear
        return
    layer = bitjit.Linear(256, 64, bias=True, A_dtype="float16", W_dtype="uint4", accum_dtype="float32",
                          out_dtype="float16", group_size=128, with_zeros=True, opt_M=[1, 32], target="sm_80")
    assert tuple(layer.qweight.shape) == (64, 128)
    assert tuple(layer.scales.shape) == (64, 2) and tuple(layer.zeros.shape) == (64, 2)
    with pytest.raises(RuntimeError, match="no weights loaded"):
        layer(torch.zeros(1, 256, dtype=torch.float16))
