"""GPTQ and AWQ layers packed the way their checkpoints store them, written here in numpy from the
formats' published layouts (independently of bitjit), with the float64 weights each layer means.

GPTQ   qweight [K*b/32, N] int32: field j (bits j*b ..) of word (r, n) is k = r*(32/b) + j
       qzeros  [G, N*b/32] int32: field j of word (g, c) is column c*(32/b) + j, holding z - 1
       scales  [G, N] fp16; g_idx [K] int32 the group of each input column
       w[n, k] = s[g, n] * (q[n, k] - z[g, n]) with g = g_idx[k] and z = stored + 1
AWQ    qweight [K, N/8] int32: field p of word (k, c) is column 8c + (0, 2, 4, 6, 1, 3, 5, 7)[p]
       qzeros  [G, N/8] the same way, holding z; scales [G, N] fp16; w = s * (q - z), g = k / group
"""
from __future__ import annotations

import numpy as np

AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)


def _pack_along_rows(values: np.ndarray, bits: int) -> np.ndarray:
    """values [R, C] codes -> int32 [R*bits/32, C]: field j of word (r, c) is row r*(32/bits) + j; for
    3 bits, GPTQ's packing of 32 rows into 3 words (_pack_three_bit)."""
    if bits == 3:
        return _pack_three_bit(values)
    per_word = 32 // bits
    rows, cols = values.shape
    words = np.zeros((rows // per_word, cols), dtype=np.uint32)
    for j in range(per_word):
        words |= values[j::per_word].astype(np.uint32) << np.uint32(j * bits)
    return words.view(np.int32)


def _pack_three_bit(values: np.ndarray) -> np.ndarray:
    """GPTQ's 3-bit packing, 32 rows v0..v31 into 3 words, as its packer writes them: v0..v9 at bits 3j
    of word 0 and v10's low two bits at 30; v10's third bit at bit 0 of word 1, v11..v20 at 3j + 1,
    v21's low bit at 31; v21's high two bits at bit 0 of word 2, v22..v31 at 3j + 2."""
    rows, cols = values.shape
    v = values.astype(np.uint64).reshape(rows // 32, 32, cols)
    words = np.zeros((rows // 32, 3, cols), dtype=np.uint64)
    for j in range(10):
        words[:, 0] |= v[:, j] << np.uint64(3 * j)
        words[:, 1] |= v[:, 11 + j] << np.uint64(3 * j + 1)
        words[:, 2] |= v[:, 22 + j] << np.uint64(3 * j + 2)
    words[:, 0] |= v[:, 10] << np.uint64(30)
    words[:, 1] |= (v[:, 10] >> np.uint64(2)) & np.uint64(1)
    words[:, 1] |= v[:, 21] << np.uint64(31)
    words[:, 2] |= (v[:, 21] >> np.uint64(1)) & np.uint64(3)
    return (words & np.uint64(0xFFFFFFFF)).astype(np.uint32).reshape(rows // 32 * 3, cols).view(np.int32)


def act_order_g_idx(K: int, group_size: int, rng) -> np.ndarray:
    """A desc_act g_idx: GPTQ quantized the columns in a random order, group i being the i-th run of
    group_size columns of that order."""
    order = rng.permutation(K)
    g_idx = np.empty(K, dtype=np.int32)
    g_idx[order] = np.arange(K) // group_size
    return g_idx


def random_gptq_layer(N: int, K: int, bits: int, group_size: int, sym: bool, act_order: bool, rng,
                      bias: bool = False) -> dict:
    """Random codes, zeros (sym: 2**(bits-1), as GPTQ's symmetric mode stores them) and scales."""
    groups = K // group_size
    codes = rng.integers(0, 2 ** bits, size=(N, K))
    zeros = np.full((groups, N), 2 ** (bits - 1)) if sym else rng.integers(0, 2 ** bits, size=(groups, N))
    scales = rng.uniform(1e-3, 5e-2, size=(groups, N)).astype(np.float16)
    g_idx = act_order_g_idx(K, group_size, rng) if act_order else (np.arange(K) // group_size).astype(np.int32)
    layer = gptq_tensors(codes, zeros, scales, g_idx, bits)
    if bias:
        layer["bias"] = rng.uniform(-1, 1, size=N).astype(np.float16)
    return layer


def gptq_tensors(codes: np.ndarray, zeros: np.ndarray, scales: np.ndarray, g_idx: np.ndarray, bits: int) -> dict:
    """The stored tensors and the float64 weights [N, K] they mean (with GPTQ's z - 1 storage: a zero
    of 0 is stored as 2**bits - 1 and read back as 2**bits, as GPTQ's kernels read it)."""
    mask = 2 ** bits - 1
    stored_zeros = (zeros - 1) & mask
    qzeros = _pack_along_rows(stored_zeros.T, bits).T.copy()  # pack along N: rows of the transpose
    effective = stored_zeros.astype(np.float64) + 1
    g = g_idx.astype(np.int64)
    weight = scales.astype(np.float64)[g].T * (codes.astype(np.float64) - effective[g].T)
    return {"qweight": _pack_along_rows(codes.T, bits), "qzeros": qzeros, "scales": scales,
            "g_idx": g_idx.astype(np.int32), "reference": weight}


def _awq_pack(values: np.ndarray) -> np.ndarray:
    """values [R, N] 4-bit codes -> int32 [R, N/8] in AWQ's field order."""
    rows, N = values.shape
    words = np.zeros((rows, N // 8), dtype=np.uint32)
    for p, column in enumerate(AWQ_ORDER):
        words |= values[:, column::8].astype(np.uint32) << np.uint32(4 * p)
    return words.view(np.int32)


def random_awq_layer(N: int, K: int, group_size: int, rng, bias: bool = False) -> dict:
    groups = K // group_size
    codes = rng.integers(0, 16, size=(N, K))
    zeros = rng.integers(0, 16, size=(groups, N))
    scales = rng.uniform(1e-3, 5e-2, size=(groups, N)).astype(np.float16)
    g = np.arange(K) // group_size
    weight = scales.astype(np.float64)[g].T * (codes.astype(np.float64) - zeros.astype(np.float64)[g].T)
    layer = {"qweight": _awq_pack(codes.T), "qzeros": _awq_pack(zeros), "scales": scales, "reference": weight}
    if bias:
        layer["bias"] = rng.uniform(-1, 1, size=N).astype(np.float16)
    return layer


def gptq_quantize(weight: np.ndarray, bits: int, group_size: int, act_order: bool, rng) -> dict:
    """Round-to-nearest asymmetric quantization of float weights [N, K] into GPTQ's stored layout (the
    storage GPTQ's error-compensating solver fills; the codes here are simply the nearest ones), with a
    random act-order when asked. Returns gptq_tensors' dict."""
    N, K = weight.shape
    groups = K // group_size
    g_idx = act_order_g_idx(K, group_size, rng) if act_order else (np.arange(K) // group_size).astype(np.int32)
    w = weight.astype(np.float64)
    codes = np.zeros((N, K), dtype=np.int64)
    zeros = np.zeros((groups, N), dtype=np.int64)
    scales = np.zeros((groups, N), dtype=np.float16)
    top = 2 ** bits - 1
    for g in range(groups):
        columns = np.nonzero(g_idx == g)[0]
        block = w[:, columns]
        low, high = np.minimum(block.min(axis=1), 0), np.maximum(block.max(axis=1), 0)
        scale = np.maximum((high - low) / top, 1e-8).astype(np.float16)
        s = scale.astype(np.float64)
        zero = np.clip(np.round(-low / s), 1, top)  # >= 1: GPTQ's z - 1 storage keeps it exact
        codes[:, columns] = np.clip(np.round(block / s[:, None]) + zero[:, None], 0, top)
        zeros[g], scales[g] = zero, scale
    return gptq_tensors(codes, zeros, scales, g_idx, bits)


def dequantize_bitjit_layer(layer: dict) -> np.ndarray:
    """The float64 weights [N, K] in the INPUT's column order that bitjit's converted operands mean:
    W in general_compress order (codes LSB first), uint codes minus fp16 zeros, times fp16 scales, its
    columns scattered back through the act-order permutation."""
    config = layer["config"]
    bits = {"uint2": 2, "uint4": 4, "uint8": 8}[config["W_dtype"]]  # 3-bit GPTQ loads as uint4
    packed = layer["W"].astype(np.uint16)
    per_byte = 8 // bits
    codes = np.stack([(packed >> (j * bits)) & (2 ** bits - 1) for j in range(per_byte)], axis=-1)
    codes = codes.reshape(config["N"], config["K"]).astype(np.float64)
    group = np.arange(config["K"]) // (config["K"] // layer["scales"].shape[1])  # one group may read as -1
    weight = layer["scales"].astype(np.float64)[:, group] * (codes - layer["zeros"].astype(np.float64)[:, group])
    if layer.get("perm") is None:
        return weight
    unpermuted = np.empty_like(weight)
    unpermuted[:, layer["perm"]] = weight
    return unpermuted
