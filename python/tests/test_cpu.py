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
        assert np.array_equal(bitjit.quantization.general_compress(codes, bits, np.uint8), expected)
        packed = bitjit.quantization.general_compress(codes, source_bits=bits)  # BitBLAS's default: int8 storage
        assert packed.dtype == np.int8 and np.array_equal(packed.view(np.uint8), expected)
    with pytest.raises(bitjit.ConfigError, match=r"value 16 at index 0 \(row 0, col 0\) is outside \[0, 15\]"):
        bitjit.quantization.general_compress(np.array([[16, 0]]), source_bits=4)


def test_matmul_compiles_for_an_arch_without_a_gpu():
    config = bitjit.MatmulConfig(M=1, N=256, K=512, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config=config, target="sm_90a")
    assert matmul.arch == "sm_90a"
    assert matmul.schedule["family"] == "tensor_gemv"
    # The schedule's JSON in its groups (docs/tuning.md): tensor_gemv's warps split K, no ring, the
    # activations a k-block ahead and four rounds of loads a step of the k-loop (stages 2 and
    # k_per_stage: a grid of few blocks); the kernel runs 32 threads per warp and the schedule's tile.
    schedule = matmul.schedule
    assert set(schedule) == {"family", "tile", "warps", "pipeline", "launch"}
    assert schedule["warps"] == {"m": 1, "n": 1, "k": 4}
    assert schedule["pipeline"]["stages"] == 2
    assert schedule["pipeline"]["k_per_stage"] == 4 * schedule["pipeline"]["k_per_round"]
    assert "static constexpr bool kActivationsAhead = true;" in matmul.source
    assert "static constexpr int kRoundsPerStep = 4;" in matmul.source
    assert f"static constexpr int kThreads = {32 * schedule['warps']['k']};" in matmul.source
    assert f"static constexpr int kBlockN = {schedule['tile']['n']};" in matmul.source
    assert "bitjit::tensor_gemv<Problem, Tiles>" in matmul.source


def test_compiling_lets_other_python_threads_run():
    """Matmul creation compiles with NVRTC (hundreds of milliseconds) without holding the GIL: a Python
    thread counting meanwhile keeps a good share of the pace it has alone (holding the GIL, it would
    stand still for the whole compile). A config no earlier run compiled: N drawn at random."""
    import threading
    import time
    ticks, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1
    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.2)  # alone: the main thread sleeps, without the GIL
        start, before = time.perf_counter(), ticks[0]
        time.sleep(0.3)
        pace = (ticks[0] - before) / (time.perf_counter() - start)
        config = bitjit.MatmulConfig(M=[1, 16], N=64 * random.randrange(64, 4096), K=512, W_dtype="int4",
                                     accum_dtype="float32", with_scaling=True, group_size=128)
        start, before = time.perf_counter(), ticks[0]
        bitjit.Matmul(config=config, target="sm_90a")
        elapsed, during = time.perf_counter() - start, ticks[0] - before
    finally:
        stop.set()
        counter.join()
    assert elapsed > 0.1, f"{elapsed:.3f} s: taken from the kernel database, not compiled"
    assert during > 0.1 * pace * elapsed, (during, pace, elapsed)  # holding it: about 0.01


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
    # The tensor-core layout reorders codes inside each tile of 16 rows (tensor_gemv's channel tiles);
    # every tile still holds its own codes (offset binary: v + 8), each once.
    nibbles = np.stack([packed.view(np.uint8) & 15, packed.view(np.uint8) >> 4], axis=-1).reshape(2, 16 * 256)
    codes = (weight.astype(np.int16) + 8).reshape(2, 16 * 256)
    assert np.array_equal(np.sort(nibbles, axis=1), np.sort(codes, axis=1))
    with pytest.raises(ValueError, match="expected"):
        matmul.transform_weight(weight[:, :128])


def test_calls_need_gpu_arrays():
    config = bitjit.MatmulConfig(M=1, N=32, K=256, W_dtype="int4", accum_dtype="float32")
    matmul = bitjit.Matmul(config=config, target="sm_80")
    with pytest.raises(ValueError, match="output is required"):
        matmul(np.zeros((1, 256), dtype=np.float16), np.zeros((32, 128), dtype=np.int8))
    with pytest.raises(bitjit.ConfigError, match=r"A is not in CUDA device memory: given float16 on cpu"):
        matmul(np.zeros((1, 256), dtype=np.float16), np.zeros((32, 128), dtype=np.int8),
               output=np.zeros((1, 32), dtype=np.float16))
    with pytest.raises(TypeError, match="__cuda_array_interface__"):
        matmul([[0.0] * 256], np.zeros((32, 128), dtype=np.int8), output=np.zeros((1, 32), dtype=np.float16))


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
    assert np.array_equal(layer["W"], bitjit.quantization.general_compress(codes, bits=4, storage_dtype=np.uint8))
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
    # A fresh layer holds zeros, as BitBLAS's does; its call is checked like any other (CPU tensors here).
    assert not layer.qweight.any() and not layer.scales.any()
    with pytest.raises(ValueError, match="not in CUDA device memory"):
        layer(torch.zeros(1, 256, dtype=torch.float16))


# ---- issue 21: every operand's dtype, values as given, numpy integers --------------------------------

def int4_matmul(W_dtype="int4", **fields):
    config = bitjit.MatmulConfig(M=1, N=32, K=256, W_dtype=W_dtype, accum_dtype="float32", **fields)
    return bitjit.Matmul(config=config, target="sm_80")


OPERANDS = {  # name -> (right dtype, shape) for uint4 with scales, float zeros and bias, M = 1
    "A": (np.float16, (1, 256)), "W": (np.int8, (32, 128)), "scale": (np.float16, (32, 2)),
    "zeros": (np.float16, (32, 2)), "bias": (np.float16, (32,)), "output": (np.float16, (1, 32)),
}


@pytest.mark.parametrize("operand", sorted(OPERANDS))
@pytest.mark.parametrize("wrong", [np.float32, np.int16, np.bool_])
def test_every_operand_dtype_is_checked_before_anything_runs(operand, wrong):
    matmul = int4_matmul("uint4", with_scaling=True, with_zeros=True, group_size=128, with_bias=True)
    arrays = {name: np.zeros(shape, dtype=dtype) for name, (dtype, shape) in OPERANDS.items()}
    arrays[operand] = np.zeros(OPERANDS[operand][1], dtype=wrong)
    given = "bool" if wrong is np.bool_ else np.dtype(wrong).name
    with pytest.raises(bitjit.ConfigError, match=rf"Matmul: {operand} has the wrong dtype: given {given} on cpu"):
        matmul.forward(arrays["A"], arrays["W"], scale=arrays["scale"], zeros=arrays["zeros"], bias=arrays["bias"],
                       output=arrays["output"])


def test_transform_weight_checks_values_as_given():
    matmul = int4_matmul()
    weight = np.zeros((32, 256), dtype=np.int32)
    weight[3, 5] = 300  # was packed as 44 after a cast to int8
    with pytest.raises(bitjit.ConfigError, match=r"value 300 at index 773 \(row 3, col 5\) is outside int4's range"):
        matmul.transform_weight(weight)
    weight[3, 5] = 256  # was packed as 0
    with pytest.raises(bitjit.ConfigError, match="value 256 at index 773"):
        matmul.transform_weight(weight)
    for bad, named in ((np.full((32, 256), 3.7), "float64"), (np.full((32, 256), np.nan, np.float32), "float32"),
                       (np.zeros((32, 256), dtype=bool), "bool")):
        with pytest.raises(bitjit.ConfigError, match=f"weight has dtype {named}; int4 weights are given as integer"):
            matmul.transform_weight(bad)
    unsigned = bitjit.Matmul(bitjit.MatmulConfig(M=1, N=32, K=256, W_dtype="uint8", accum_dtype="float32"),
                             target="sm_80")
    codes = np.zeros((32, 256), dtype=np.int8)
    codes[0, 7] = -1  # was accepted as the byte 255
    with pytest.raises(bitjit.ConfigError, match=r"value -1 at index 7 \(row 0, col 7\) is outside uint8's range \[0, 255\]"):
        unsigned.transform_weight(codes)
    assert unsigned.transform_weight(np.full((32, 256), 255, dtype=np.int32)).view(np.uint8).min() == 255


@pytest.mark.parametrize("values, message", [
    ([[3.9, 1.0]], r"value 3.9 at index 0 \(row 0, col 0\) is not a whole number"),
    ([[1.0, np.nan]], r"value nan at index 1 \(row 0, col 1\) is not a whole number"),
    ([[2, -3]], r"value -3 at index 1 \(row 0, col 1\) is outside \[0, 15\]"),
])
def test_general_compress_refuses_what_it_cannot_pack(values, message):
    with pytest.raises(bitjit.ConfigError, match=message):
        bitjit.quantization.general_compress(np.array(values), source_bits=4)
    # whole floats pack (BitBLAS's general_compress takes float16 arrays)
    assert bitjit.quantization.general_compress(np.array([[3.0, 1.0]], np.float16), 4).tolist() == [[0x13]]


def test_native_general_compress_checks_rows_times_cols_against_the_values():
    # rows * cols overflowing int64, negative, or not the number of values given: never read past the array.
    from bitjit._bitjit import general_compress as native
    values = np.arange(8, dtype=np.uint8) % 16
    for rows, cols in ((2 ** 62, 4), (-2, -4), (4, 4), (1, 2 ** 63 - 1)):
        with pytest.raises(bitjit.ConfigError, match=r"general_compress: rows x cols = .* does not describe the 8 values"):
            native(values, rows, cols, 4)
    assert list(native(values, 2, 4, 4)) == [0x10, 0x32, 0x54, 0x76]


def test_numpy_integers_are_integers_and_bad_numbers_name_their_field():
    config = bitjit.MatmulConfig(M=np.int64(1), N=np.int64(1024), K=np.int32(512), W_dtype="int4",
                                 group_size=np.int64(128), with_scaling=True)
    assert '"M":1' in config.canonical and '"N":1024' in config.canonical
    assert '"M":[1,16]' in bitjit.MatmulConfig(M=[np.int64(1), 16], N=64, K=64).canonical
    for value, message in ((float("nan"), "N=nan must be an integer"), (True, "N=True must be an integer, not a bool"),
                           (2 ** 63, "N=9223372036854775808 is outside the 64-bit integers"),
                           (1024.0, "N=1024.0 must be an integer")):
        with pytest.raises(bitjit.ConfigError, match=message):
            bitjit.MatmulConfig(M=1, N=value, K=64)


def fragment_order(weight, block=32):
    """The mma_fragments order derived from its definition (compiler/weight_layout.hpp): in each 16-k
    step, lane t holds k 2t, 2t + 1, 2t + 8, 2t + 9; a lane's load covers block / 4 consecutive
    codes, i.e. block / 16 steps, and the four lanes' loads follow each other."""
    n, k = weight.shape
    order = []
    for lane in range(4):
        for step in range(block // 16):
            order += [16 * step + 2 * lane + d for d in (0, 1, 8, 9)]
    rows = weight.reshape(n, k // block, block)
    return rows[:, :, order]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sixteen_bit_weights_go_through_transform_weight_into_fragment_order(dtype):
    rng = np.random.default_rng(random.getrandbits(32))
    config = bitjit.MatmulConfig(M=256, N=64, K=512, A_dtype=dtype, W_dtype=dtype, accum_dtype="float32",
                                 out_dtype=dtype)
    matmul = bitjit.Matmul(config=config, target="sm_90a")
    assert matmul.schedule["family"] == "tensor_wgmma_ws" and matmul.weight_transform is not None
    values = rng.standard_normal((64, 512)).astype(np.float16).astype(np.float32)
    if dtype == "bfloat16":  # values bfloat16 holds exactly: the top 16 bits of a float32
        values = (values.view(np.uint32) & 0xFFFF0000).view(np.float32)
    transformed = matmul.transform_weight(values)
    assert transformed.shape == (64, 16, 32)
    patterns = (values.astype(np.float16).view(np.uint16) if dtype == "float16"
                else (values.view(np.uint32) >> 16).astype(np.uint16))
    assert np.array_equal(transformed.view(np.uint16), fragment_order(patterns))
    # weight_transform takes the plain values too; a value the format does not hold is an error
    assert np.array_equal(matmul.weight_transform(values).view(np.uint16), transformed.view(np.uint16))
    values = values.astype(np.float64)
    values[5, 9] = 0.1
    with pytest.raises(bitjit.ConfigError, match=rf"value 0.1 at index 2569 \(row 5, col 9\) is not exactly a {dtype}"):
        matmul.transform_weight(values)
    values[5, 9] = np.inf
    with pytest.raises(bitjit.ConfigError, match="value inf at index 2569 .* is not finite"):
        matmul.transform_weight(values)


def test_a_plain_sixteen_bit_weight_never_reaches_a_fragment_order_kernel():
    config = bitjit.MatmulConfig(M=256, N=64, K=512, W_dtype="float16", accum_dtype="float32")
    matmul = bitjit.Matmul(config=config, target="sm_90a")
    A, out = np.zeros((256, 512), np.float16), np.zeros((256, 64), np.float16)
    with pytest.raises(bitjit.ConfigError, match=r"W has shape \(64, 512\), expected \(64, 16, 32\).*transform_weight"):
        matmul(A, np.zeros((64, 512), np.float16), out)
    # at M = 1 (tensor_gemv) the kernel reads plain rows: no transform, weight_transform is None
    plain = bitjit.Matmul(bitjit.MatmulConfig(M=1, N=64, K=512, W_dtype="float16", accum_dtype="float32"),
                          target="sm_90a")
    assert plain.weight_transform is None
    assert plain.transform_weight(np.ones((64, 512), np.float16)).shape == (64, 512)


def test_weight_layout_id_differs_where_the_bytes_do():
    """Three rows read whole-load runs, buckets past 8 rows runs of 8, both in 16-channel tiles (N = 64):
    the same logical weights give other bytes, and the ids say so; the same config gives the same id.
    Tiles wherever a bucket has at most 16 rows (bitjit.Linear's default buckets too), rows whole where
    none has (a static 256 rows: the Hopper kernels' fragment order)."""
    def matmul(M, W_dtype="int4"):
        config = bitjit.MatmulConfig(M=M, N=64, K=4096, W_dtype=W_dtype, accum_dtype="float32", with_scaling=True,
                                     group_size=128)
        return bitjit.Matmul(config=config, target="sm_90a")
    few_rows, buckets = matmul(3), matmul([1, 16, 256])
    assert few_rows.weight_layout_id == "mma_runs W=int4 N=64 K=4096 load=16 run=32 step=4 pairs=split tiles=16 rev=1"
    assert buckets.weight_layout_id == "mma_runs W=int4 N=64 K=4096 load=16 run=8 step=4 pairs=split tiles=16 rev=1"
    assert matmul(3).weight_layout_id == few_rows.weight_layout_id
    # int4 at one row: runs of 8 too, in tiles
    assert matmul(1).weight_layout_id == "mma_runs W=int4 N=64 K=4096 load=16 run=8 step=4 pairs=split tiles=16 rev=1"
    assert matmul([1, 16]).weight_layout_id == matmul(1).weight_layout_id
    assert matmul(1, "fp4_e2m1").weight_layout_id.startswith("mma_runs W=fp4_e2m1 ")
    assert matmul(None).weight_layout_id == buckets.weight_layout_id  # the default buckets, 1 ... 1024
    assert matmul(256).weight_layout_id == "mma_fragments W=int4 N=64 K=4096 load=16 run=2 step=4 pairs=split rev=1"
    assert matmul([17, 256]).weight_layout_id == matmul(256).weight_layout_id
    rng = np.random.default_rng(random.getrandbits(32))
    values = rng.integers(-8, 8, size=(64, 4096))
    assert not np.array_equal(few_rows.transform_weight(values), buckets.transform_weight(values))


# ---- issue 22: BitBLAS's names and call shapes -----------------------------------------------------

def test_bitblas_config_fields_are_honoured_or_named_errors():
    config = bitjit.MatmulConfig(M=1, N=64, K=256, W_dtype="int4", with_bias=None, with_scaling=None, with_zeros=None,
                                 storage_dtype="int8", fast_decoding=True, propagate_a=False, propagate_b=0)
    assert config.with_bias is False and config.with_scaling is False and config.with_zeros is False
    assert bitjit.MatmulConfig(N=64, K=64, optimize_stratety=1).M == [16, 32, 64, 128, 256, 512, 1024]
    fp8 = bitjit.MatmulConfig(M=1, N=64, K=256, A_dtype="e4m3_float8", W_dtype="e4m3_float8", accum_dtype="float32")
    assert fp8.A_dtype == "float8_e4m3" and '"W_dtype":"float8_e4m3"' in fp8.canonical
    for fields, named in (({"propagate_b": True}, "propagate_b=True"), ({"fast_decoding": False}, "fast_decoding"),
                          ({"storage_dtype": "int32"}, "storage_dtype='int32'"), ({"with_bias": 1}, "with_bias=1"),
                          ({"optimize_stratety": 5}, "optimize_stratety=5")):
        with pytest.raises(bitjit.ConfigError, match=named):
            bitjit.MatmulConfig(M=1, N=64, K=256, W_dtype="int4", **fields)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        bitjit.MatmulConfig(M=1, N=64, K=256, bogus=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        bitjit.Matmul(config, target="sm_80", bogus=1)  # Matmul(**kw) swallowed unknown arguments


def test_bitblas_matmul_surface():
    config = bitjit.MatmulConfig(M=1, N=64, K=256, W_dtype="int4")
    for target, arch in (("sm_90a", "sm_90a"), ("nvidia/nvidia-a100", "sm_80"), ("cuda -arch=sm_86", "sm_86"),
                         ("sm_90", "sm_90a")):
        matmul = bitjit.Matmul(config, target=target, backend="tir", from_database=False, name="m")
        assert matmul.arch == arch
    assert matmul.get_source() == matmul.source and matmul.N == 64 and matmul.W_dtype == "int4"
    with pytest.raises(bitjit.ConfigError, match="target='rocm'.*'sm_90a', 'sm_100a', 'sm_120a'"):
        bitjit.Matmul(config, target="rocm")
    assert bitjit.Matmul(config, target="sm_120a").arch == "sm_120a"
    with pytest.raises(bitjit.ConfigError, match=r"this config takes at most 3: A, W, output"):
        matmul(np.zeros((1, 256), np.float16), np.zeros((64, 128), np.int8), None, None)
    bitjit.set_log_level("INFO")
    bitjit.set_log_level(30)
    with pytest.raises(bitjit.ConfigError, match="level='loud'"):
        bitjit.set_log_level("loud")


def test_positional_operands_fill_the_used_operands_then_output():
    config = bitjit.MatmulConfig(M=1, N=32, K=256, W_dtype="int4", accum_dtype="float32", with_scaling=True,
                                 group_size=128, with_bias=True)
    matmul = bitjit.Matmul(config, target="sm_80")
    A, W = np.zeros((1, 256), np.float16), np.zeros((32, 128), np.int8)
    scale, bias, out = np.zeros((32, 2), np.float16), np.zeros((32,), np.float16), np.zeros((1, 32), np.float32)
    # the fourth positional operand is bias (the config has no zeros), the fifth the output: the output's
    # wrong dtype is reported under its name
    with pytest.raises(bitjit.ConfigError, match="output has the wrong dtype: given float32"):
        matmul(A, W, scale, bias, out)
    with pytest.raises(TypeError, match="bias given both by position and by keyword"):
        matmul(A, W, scale, bias, bias=bias)


# ---- nanobind's leak report at interpreter exit ------------------------------------------------------

EXIT_SCRIPT = """
import bitjit
config = bitjit.MatmulConfig(M=[1, 16], N=128, K=256, W_dtype="int4", accum_dtype="float32", with_scaling=True,
                             group_size=128)
matmul = bitjit.Matmul(config, target="sm_90a")  # a user's global, alive until the interpreter ends
kept = [bitjit.Matmul(config, target="sm_90a")]
print("ran")
"""


def run_to_exit(script):
    """Runs `script` in a fresh interpreter (bitjit found as this one finds it); returns its stderr."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0 and "ran" in done.stdout, done.stderr
    return done.stderr


def test_no_leak_report_at_exit_without_torch():
    """nanobind prints 'leaked N instances' when bitjit's native objects outlive the interpreter's
    teardown (a module-level cache still holding them); a user must never see it."""
    stderr = run_to_exit(EXIT_SCRIPT + "import sys\nassert 'torch' not in sys.modules\n")
    assert "leaked" not in stderr, stderr
