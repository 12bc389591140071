"""Packing and checkpoint conversion on numpy arrays (no GPU needed): BitBLAS's
``bitblas.quantization.general_compress`` and bitjit's quantizers and checkpoint converters."""
from __future__ import annotations

import json
import sys
from typing import Optional

import numpy as np

from ._bitjit import ConfigError

from ._bitjit import from_awq as _from_awq
from ._bitjit import from_gptq as _from_gptq
from ._bitjit import general_compress as _general_compress
from ._bitjit import quantize_weight as _quantize_weight

# numpy storage of each scale / float-zero dtype (bfloat16 as its 16-bit pattern).
_HALF_STORAGE = {"float16": np.float16, "bfloat16": np.uint16}


def general_compress(lowprecision_weight, source_bits: int = 4, storage_dtype=np.int8, *, bits: Optional[int] = None):
    """BitBLAS's general_compress: packs fields (whole numbers in [0, 2**source_bits)) along the last
    axis, 8 // source_bits per byte, element j of a byte at bits [j*bits, (j+1)*bits) (LSB first).
    Signed intN values go in offset binary (v + 2**(N-1)); Matmul.transform_weight takes them as
    they are. lowprecision_weight: [..., cols] integers, or floats holding whole numbers; returns
    [..., cols * source_bits // 8] of storage_dtype (np.int8, BitBLAS's default, or np.uint8).
    `bits` is bitjit's older name for source_bits. Raises ConfigError (a ValueError) naming the
    index and value of a field that is negative, too large, fractional or not finite."""
    if bits is not None:
        if source_bits != 4 and source_bits != bits:
            raise ConfigError(f"general_compress: source_bits={source_bits} and bits={bits} disagree; give one")
        source_bits = bits
    storage = np.dtype(storage_dtype)
    if storage not in (np.dtype(np.int8), np.dtype(np.uint8)):
        raise ConfigError(f"general_compress: storage_dtype={storage.name} is not supported; allowed: int8, uint8")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(lowprecision_weight, torch.Tensor):
        lowprecision_weight = lowprecision_weight.detach().cpu()
    array = np.asarray(lowprecision_weight)
    if array.ndim < 1 or array.dtype == object:
        raise ConfigError(f"general_compress: expected a numeric array [..., cols], got {array.dtype} with shape "
                          f"{array.shape}")
    cols = array.shape[-1]
    rows = int(np.prod(array.shape[:-1], dtype=np.int64))
    packed = _general_compress(np.ascontiguousarray(array).reshape(rows, cols), rows, cols, int(source_bits))
    return np.frombuffer(packed, dtype=storage).reshape(*array.shape[:-1], cols * int(source_bits) // 8).copy()


def _checkpoint_result(native) -> dict:
    """The converted layer as numpy arrays: config (canonical JSON), W [N, K*bits/8] uint8 in
    general_compress order (the layout of transform_weight's input, before the kernel layout), scales and
    zeros [N, groups] float16, and perm: for act-order GPTQ the checkpoint column of each of W's columns
    (int64 [K]; the activations' columns are gathered by it, x[:, perm]), else None."""
    config, weight, scales, zeros, permutation = native
    fields = json.loads(config)
    n, k = fields["N"], fields["K"]
    bits = {"uint2": 2, "uint4": 4, "uint8": 8}[fields["W_dtype"]]
    groups = k // fields["group_size"]
    return {"config": fields,
            "W": np.frombuffer(weight, dtype=np.uint8).reshape(n, k * bits // 8).copy(),
            "scales": np.frombuffer(scales, dtype=np.float16).reshape(n, groups).copy(),
            "zeros": np.frombuffer(zeros, dtype=np.float16).reshape(n, groups).copy(),
            "perm": np.asarray(permutation, dtype=np.int64) if permutation else None}


def _words(array, name: str) -> np.ndarray:
    values = np.asarray(array)
    if values.dtype not in (np.int32, np.uint32):
        raise ValueError(f"{name} must hold int32 words, got {values.dtype}")
    return np.ascontiguousarray(values).view(np.int32).reshape(-1)


def _halves(array) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.float16)).view(np.uint16).reshape(-1)


def from_gptq(qweight, qzeros, scales, bits: int = 4, g_idx=None, zeros_stored_minus_one: bool = True) -> dict:
    """A GPTQ layer as stored (qweight [K*bits/32, N], qzeros [groups, N*bits/32] int32, scales
    [groups, N] fp16, optional g_idx [K]) -> bitjit operands for a uint config with fp16 zeros
    (docs/formats.md); an act-order g_idx (desc_act=True) gives the column permutation "perm". bits:
    2, 3, 4 or 8; 3-bit layers become uint4 (bitjit has no 3-bit format; every code is exact in 4
    bits). Raises ConfigError naming a tensor of the wrong size or a g_idx whose groups are not all
    K / groups columns."""
    qweight = np.asarray(qweight)
    in_features, out_features = qweight.shape[0] * 32 // bits, qweight.shape[1]
    groups = None if g_idx is None else _words(np.asarray(g_idx, dtype=np.int32), "g_idx")
    return _checkpoint_result(_from_gptq(in_features, out_features, bits, _words(qweight, "qweight"),
                                         _words(qzeros, "qzeros"), _halves(scales), groups,
                                         zeros_stored_minus_one))


def from_awq(qweight, qzeros, scales) -> dict:
    """An AWQ (GEMM format, 4-bit) layer as stored: qweight [K, N/8], qzeros [groups, N/8] int32,
    scales [groups, N] fp16."""
    qweight = np.asarray(qweight)
    in_features, out_features = qweight.shape[0], qweight.shape[1] * 8
    return _checkpoint_result(_from_awq(in_features, out_features, _words(qweight, "qweight"),
                                        _words(qzeros, "qzeros"), _halves(scales)))


def quantize(config, weight) -> dict:
    """Float weights [N, K] -> this config's stored operands, as bitjit's quantizers choose them (per
    output row and group: the scale, and the zero point, from the group's values; each weight the
    nearest code; docs/formats.md). config: a bitjit.MatmulConfig. Returns numpy arrays: W [N,
    K*bits/8] uint8 in general_compress order (pass it through Matmul.transform_packed_weight),
    scales and zeros [N, groups] (float16, or bfloat16 as uint16 patterns; None when unused), and
    dequantized [N, K] float64, the exact values the codes stand for."""
    array = np.asarray(weight, dtype=np.float32)
    if array.shape != (config.N, config.K):
        raise ValueError(f"weight has shape {array.shape}; expected (N, K) = ({config.N}, {config.K})")
    packed, scales, zeros, dequantized = _quantize_weight(config.to_json(), np.ascontiguousarray(array).reshape(-1))
    storage = _HALF_STORAGE.get(config.A_dtype, np.float16)  # scales are fp16 unless A is bf16 (docs/formats.md)
    groups = max(1, len(scales) // (2 * config.N)) if scales else 0
    result = {"W": np.frombuffer(packed, dtype=np.uint8).reshape(config.N, -1).copy(),
              "scales": np.frombuffer(scales, dtype=storage).reshape(config.N, groups).copy() if scales else None,
              "zeros": None,
              "dequantized": np.asarray(dequantized, dtype=np.float64).reshape(config.N, config.K)}
    if zeros:
        if config.zeros_mode == "quantized":
            result["zeros"] = np.frombuffer(zeros, dtype=np.uint8).reshape(groups, -1).copy()
        else:
            result["zeros"] = np.frombuffer(zeros, dtype=storage).reshape(config.N, groups).copy()
    return result
