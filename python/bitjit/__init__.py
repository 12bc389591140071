"""bitjit for Python: mixed-precision matmul kernels compiled at run time for NVIDIA GPUs.

Names, fields, defaults and call shapes follow BitBLAS's, so code written for it runs with its
import renamed (docs/python.md has the migration table)::

    config = bitjit.MatmulConfig(M=1, N=2048, K=1024, A_dtype="float16", W_dtype="int4",
                                 accum_dtype="float16", out_dtype="float16", layout="nt")
    matmul = bitjit.Matmul(config=config)
    packed = matmul.transform_weight(weight_int8)    # logical values, e.g. int4 in [-8, 7]
    out = matmul(x, packed)                          # torch tensors on the GPU, current stream

torch is imported only when a torch tensor is passed; configs, packing and code generation work on
machines without a GPU.
"""
from __future__ import annotations

import json
import logging
import operator
import re
import sys
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from . import natives, quantization
from ._bitjit import CaptureError, ConfigError
from ._bitjit import __version__  # CMakeLists.txt's project version
from ._bitjit import Matmul as _NativeMatmul
from ._bitjit import canonical_config
from ._bitjit import device_arch as _device_arch
from ._bitjit import set_log_level as _set_native_log_level
from ._bitjit import supported_archs as _supported_archs

__all__ = ["CaptureError", "ConfigError", "Linear", "Matmul", "MatmulConfig", "auto_detect_nvidia_target",
           "load_quantized", "quantization", "quantize_model", "set_log_level"]

# BitBLAS's spellings of the fp8 formats -> bitjit's.
_DTYPE_ALIASES = {"e4m3_float8": "float8_e4m3", "e5m2_float8": "float8_e5m2"}
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
# BitBLAS's OptimizeStrategy: the M buckets a config without M gets.
_DEFAULT_M = {0: None, 1: [16, 32, 64, 128, 256, 512, 1024]}  # 0: bitjit's own default, 1 .. 1024


def _integer(name: str, value):
    """An integer field as given: Python and numpy integers; bool, floats and others are ConfigErrors."""
    if isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name}={value!r} must be an integer, not a bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise ConfigError(f"{name}={value!r} must be an integer, got {type(value).__name__}") from None
    if not _INT64[0] <= number <= _INT64[1]:
        raise ConfigError(f"{name}={number} is outside the 64-bit integers [-2**63, 2**63 - 1]")
    return number


def _flag(name: str, value) -> bool:
    """with_bias / with_scaling / with_zeros: True, False, or None (BitBLAS's word for False)."""
    if value is None:
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ConfigError(f"{name}={value!r} must be True, False or None")


def _no_ladder(name: str, value) -> None:
    """propagate_a / propagate_b: BitBLAS's ladder permutations. bitjit reads A row-major and W in the
    layout weight_transform produces, so only 'no permutation' can be honoured."""
    try:
        if value is None or (not isinstance(value, float) and operator.index(value) == 0):
            return
    except TypeError:
        raise ConfigError(f"{name}={value!r} must be None, False or 0") from None
    raise ConfigError(f"{name}={value!r} asks for BitBLAS's ladder permutation, which bitjit does not have: A is "
                      "read row-major and W in the layout Matmul.weight_transform produces; leave it None")


@dataclass(frozen=True)
class MatmulConfig:
    """C[M, N] = A[M, K] x dequant(W[N, K])^T (+ bias), BitBLAS's fields and defaults. None means
    BitBLAS's default: M the buckets 1, 16, ..., 1024; group_size -1 (one group); zeros_mode
    "original"; with_bias / with_scaling / with_zeros False. BitBLAS's other fields: storage_dtype
    (int8 or uint8: the element type of packed weights that transform_weight returns), fast_decoding
    (None or True: bitjit always converts codes with its fast decoders), propagate_a / propagate_b
    (None, False or 0: bitjit has no ladder permutation), optimize_stratety (0: M defaults to bitjit's
    buckets; 1, BitBLAS's ContiguousBatching: to 16 .. 1024). Docs: docs/python.md."""

    M: Union[int, Sequence[int], None] = None
    N: int = 0
    K: int = 0
    A_dtype: str = "float16"
    W_dtype: str = "float16"
    accum_dtype: str = "float16"
    out_dtype: str = "float16"
    layout: str = "nt"
    with_bias: Optional[bool] = False
    group_size: Optional[int] = None
    with_scaling: Optional[bool] = False
    with_zeros: Optional[bool] = False
    zeros_mode: Optional[str] = None
    storage_dtype: str = "int8"
    fast_decoding: Optional[bool] = None
    propagate_a: Optional[int] = None
    propagate_b: Optional[int] = None
    optimize_stratety: int = 0
    canonical: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen, as BitBLAS's)
        strategy = _integer("optimize_stratety", self.optimize_stratety)
        if strategy not in _DEFAULT_M:
            raise ConfigError(f"optimize_stratety={strategy} is not supported; allowed: 0 (SingleBatchDecodeOnly), "
                              "1 (ContiguousBatching)")
        if self.M is None:
            put("M", _DEFAULT_M[strategy])
        elif isinstance(self.M, (list, tuple)):
            put("M", [_integer("M", m) for m in self.M])
        else:
            put("M", _integer("M", self.M))
        put("N", _integer("N", self.N))
        put("K", _integer("K", self.K))
        if self.group_size is not None:
            put("group_size", _integer("group_size", self.group_size))
        for name in ("with_bias", "with_scaling", "with_zeros"):
            put(name, _flag(name, getattr(self, name)))
        for name in ("A_dtype", "W_dtype", "accum_dtype", "out_dtype"):
            value = getattr(self, name)
            put(name, _DTYPE_ALIASES.get(value, value) if isinstance(value, str) else value)
        storage = np.dtype(self.storage_dtype).name if not isinstance(self.storage_dtype, str) else self.storage_dtype
        if storage not in ("int8", "uint8", self.W_dtype):
            raise ConfigError(f"storage_dtype={self.storage_dtype!r} is not supported; allowed: int8, uint8 (the "
                              f"element type of packed weights), or W_dtype itself ({self.W_dtype})")
        put("storage_dtype", storage)
        if self.fast_decoding is not None and self.fast_decoding is not True:
            raise ConfigError(f"fast_decoding={self.fast_decoding!r} is not supported: bitjit always converts codes "
                              "with its fast decoders; leave it None or True")
        _no_ladder("propagate_a", self.propagate_a)
        _no_ladder("propagate_b", self.propagate_b)
        put("canonical", canonical_config(self.to_json()))  # raises ConfigError naming a bad field

    def to_json(self) -> str:
        fields = {name: getattr(self, name) for name in (
            "N", "K", "A_dtype", "W_dtype", "accum_dtype", "out_dtype", "layout", "with_bias",
            "group_size", "with_scaling", "with_zeros", "zeros_mode")}
        if self.M is not None:
            fields["M"] = self.M
        return json.dumps(fields)


def _torch_of(value):
    """The torch module when `value` is a torch tensor (torch is imported only by the caller)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(value, torch.Tensor) else None


def _element_name(dtype) -> str:
    """A numpy dtype's name as the bindings spell element types."""
    dtype = np.dtype(dtype)
    return "bool" if dtype.kind == "b" else dtype.name


def _device_operand(value, name: str):
    """An operand for the bindings: the object itself when it speaks DLPack (torch, cupy, numpy), else
    a descriptor (pointer, shape, element, contiguous, device type, device id) from
    __cuda_array_interface__. The bindings check dtype, device, layout and shape."""
    if value is None:
        return None
    torch = _torch_of(value)
    if torch is not None and "float8" in str(value.dtype):
        # torch's DLPack export does not take float8 in every version: describe the tensor instead.
        element = {"torch.float8_e4m3fn": "float8_e4m3", "torch.float8_e5m2": "float8_e5m2"}.get(
            str(value.dtype), str(value.dtype))
        return (value.data_ptr(), list(value.shape), element, value.is_contiguous(), 2 if value.is_cuda else 1,
                value.device.index if value.is_cuda else -1)
    if hasattr(value, "__dlpack__"):
        return value
    interface = getattr(value, "__cuda_array_interface__", None)
    if interface is None:
        raise TypeError(f"{name} must be a CUDA array (a torch tensor, a DLPack array or an object with "
                        f"__cuda_array_interface__), got {type(value).__name__}")
    shape = [int(s) for s in interface["shape"]]
    dtype = np.dtype(interface["typestr"])
    strides = interface.get("strides")
    row_major = [int(np.prod(shape[i + 1:], dtype=np.int64)) * dtype.itemsize for i in range(len(shape))]
    contiguous = strides is None or all(s == r for s, r, n in zip(strides, row_major, shape) if n != 1)
    return (int(interface["data"][0]), shape, _element_name(dtype), contiguous, 2, -1)


def _host_array(value, name: str) -> np.ndarray:
    """A host copy of `value` (torch on any device, numpy, lists) that keeps its element type; torch's
    bfloat16 travels through DLPack, which numpy cannot hold."""
    if _torch_of(value) is not None:
        return value.detach().cpu().contiguous()
    array = np.asarray(value)
    if array.dtype == object:
        raise ConfigError(f"{name} must be a numeric array, got objects")
    return np.ascontiguousarray(array)


def _like(array: np.ndarray, reference):
    """numpy `array` as the kind of array `reference` is (torch tensors on reference's device)."""
    torch = _torch_of(reference)
    if torch is None:
        return array
    return torch.from_numpy(array).to(reference.device)


# TVM target tags BitBLAS users pass (TVM's nvidia/ tags) -> bitjit's archs.
_TARGET_TAGS = {
    "nvidia/nvidia-a100": "sm_80", "nvidia/nvidia-a800": "sm_80", "nvidia/nvidia-a30": "sm_80",
    "nvidia/nvidia-a10": "sm_86", "nvidia/nvidia-a10g": "sm_86", "nvidia/nvidia-a40": "sm_86",
    "nvidia/geforce-rtx-3090": "sm_86", "nvidia/geforce-rtx-3080": "sm_86", "nvidia/rtx-a6000": "sm_86",
    "nvidia/geforce-rtx-4090": "sm_89", "nvidia/nvidia-l4": "sm_89", "nvidia/nvidia-l40": "sm_89",
    "nvidia/nvidia-h100": "sm_90a", "nvidia/nvidia-h800": "sm_90a", "nvidia/nvidia-h200": "sm_90a",
}


def _resolve_target(target) -> str:
    """A target as BitBLAS users give it -> bitjit's arch ("" = the current GPU's)."""
    if target is None:
        return ""
    if not isinstance(target, str):
        raise ConfigError(f"target={target!r} must be a string (an arch such as 'sm_90a', 'cuda' or a "
                          "'nvidia/...' tag), got " + type(target).__name__)
    text = target.strip()
    arch = re.search(r"(?:^|-arch=)(sm_\d+a?)\b", text)
    if arch:  # "sm_90a", or TVM's "cuda -arch=sm_80"
        return "sm_90a" if arch.group(1) == "sm_90" else arch.group(1)  # sm_90a: Hopper's full instruction set
    if text == "cuda" or text.startswith("cuda "):
        return ""
    if text in _TARGET_TAGS:
        return _TARGET_TAGS[text]
    archs = ", ".join(repr(arch) for arch in _supported_archs())
    raise ConfigError(f"target={target!r} is not supported; allowed: None or 'cuda' (the current GPU), "
                      f"{archs}, 'cuda -arch=sm_XX', or one of {sorted(_TARGET_TAGS)}")


class _WeightTransform:
    """Matmul.weight_transform: general_compress's bytes [N, K * bits / 8] (for 8-bit formats the bytes
    [N, K]; for float16 / bfloat16 weights the values [N, K]) -> the layout this kernel reads, as the
    same kind of array."""

    def __init__(self, matmul: "Matmul") -> None:
        self._matmul = matmul

    def __call__(self, weight):
        return self._matmul._packed_to_kernel_layout(weight)


class Matmul:
    """A config compiled for one GPU architecture. target: None or "cuda" (the current GPU's arch),
    an arch ("sm_80" ... "sm_120a": bitjit._bitjit.supported_archs(); they compile without a GPU), TVM's
    "cuda -arch=sm_XX" or an "nvidia/..." tag. enable_tuning=True runs hardware_aware_finetune()
    (BitBLAS's default is True; bitjit's is False, its default schedules being tuned already).
    from_database and backend are BitBLAS's: bitjit always takes kernels from its database when they
    are there and has one code generator (docs/python.md)."""

    def __init__(self, config: MatmulConfig, name: str = "matmul", target: Optional[str] = None,
                 enable_tuning: bool = False, from_database: bool = False, backend: Optional[str] = None) -> None:
        if not isinstance(config, MatmulConfig):
            raise ConfigError(f"config must be a bitjit.MatmulConfig, got {type(config).__name__}")
        if backend not in (None, "tir", "tl"):
            raise ConfigError(f"backend={backend!r} is not supported; allowed: None, 'tir', 'tl' (BitBLAS's names; "
                              "bitjit has one code generator)")
        if not isinstance(from_database, (bool, np.bool_)):
            raise ConfigError(f"from_database={from_database!r} must be True or False")
        self.config = config
        self.name = name
        self._native = _NativeMatmul.create(config.to_json(), _resolve_target(target))
        natives.remember(config.canonical, self._native)  # what torch.ops.bitjit.matmul runs for this config
        shapes = self._native.operand_shapes(1)
        self._operand_dtypes = self._native.operand_dtypes(1)
        self._weight_shape = tuple(shapes[1])
        block = self._native.weight_reorder_block
        self._sixteen_bit = self._operand_dtypes[1] in ("float16", "bfloat16")
        # 16-bit weights the kernel reads reordered (tensor_wgmma's fragment order): the transformed
        # weight is [N, K / block, block], so that a plain [N, K] weight can never run by mistake.
        self._fragment_shape = (config.N, config.K // block, block) if self._sixteen_bit and block else None
        if enable_tuning:
            self.hardware_aware_finetune()

    def __getattr__(self, name: str):
        # BitBLAS's Matmul exposes its config's fields as attributes (matmul.N, matmul.W_dtype, ...).
        if name in MatmulConfig.__dataclass_fields__ and name != "canonical":
            return getattr(self.config, name)
        raise AttributeError(f"'Matmul' object has no attribute {name!r}")

    @property
    def source(self) -> str:
        """The generated CUDA C."""
        return self._native.source

    def get_source(self) -> str:
        """The generated CUDA C (BitBLAS's name)."""
        return self._native.source

    @property
    def arch(self) -> str:
        return self._native.arch

    @property
    def schedule(self) -> dict:
        """The largest bucket's tile schedule: its family and the groups tile, warps, pipeline and launch
        (docs/tuning.md lists the fields)."""
        return json.loads(self._native.schedule)

    def schedule_for(self, M: int) -> dict:
        """The tile schedule of the kernel that runs calls of M rows (one kernel per M bucket)."""
        return json.loads(self._native.schedule_for(_integer("M", M)))

    def profile_latency(self, M: Optional[int] = None) -> float:
        """Median milliseconds of one call with M rows (default: the largest bucket) on random data."""
        return self._native.profile_latency(None if M is None else _integer("M", M))

    def hardware_aware_finetune(self, topk: int = 20) -> list:
        """Times the cost model's best `topk` tile schedules (and the current one) per M bucket on this
        GPU and keeps the fastest, also in the kernel database. Returns one dict per bucket: M,
        schedule, latency_ms, before_schedule, before_ms, candidates_timed, seconds (compile and timing),
        compile_seconds (of which compiling or loading the candidates)."""
        report = json.loads(self._native.hardware_aware_finetune(_integer("topk", topk)))
        natives.remember(self.config.canonical, self._native)  # its kernels (and scratch needs) changed
        return report

    # ---- weights ---------------------------------------------------------------------------------
    @property
    def weight_layout_id(self) -> str:
        """A name for the exact bytes transform_weight produces for this Matmul's kernels (W's type and
        shape, the layout and each parameter that moves a code): equal names, equal bytes. Record it
        with stored transformed weights; bitjit.Linear's state does."""
        return self._native.weight_layout_id

    @property
    def weight_transform(self):
        """None when the kernel reads general_compress's bytes (or, for 16-bit weights, plain [N, K])
        as they are; else a callable taking them and returning the kernel's layout (BitBLAS's)."""
        return _WeightTransform(self) if self._native.weight_reorder_block else None

    def _stored_weight(self, raw: bytes, reference):
        """The kernel's W bytes as an array of W's storage type, shaped as run() takes it, like `reference`."""
        dtype = self._operand_dtypes[1]
        if self._sixteen_bit:
            array = np.frombuffer(raw, dtype=np.uint16 if dtype == "bfloat16" else np.float16)
            array = array.reshape(self._fragment_shape or self._weight_shape).copy()
            torch = _torch_of(reference)
            if torch is not None and dtype == "bfloat16":
                return torch.from_numpy(array.view(np.int16)).view(torch.bfloat16).to(reference.device)
            return _like(array, reference)
        storage = np.int8 if dtype == "int8" else np.dtype(self.config.storage_dtype if self.config.storage_dtype in
                                                           ("int8", "uint8") else "uint8")
        return _like(np.frombuffer(raw, dtype=storage).reshape(self._weight_shape).copy(), reference)

    def _check_side_operand(self, name: str, index: int, value) -> None:
        """transform_weight's scale / zeros / bias: they need no transform, but are checked against the
        config so that none is accepted and then ignored."""
        if value is None:
            return
        if not self._operand_dtypes[index]:
            raise ConfigError(f"transform_weight: {name} was given but the config does not use it ({self.config.canonical})")
        expected = tuple(self._native.operand_shapes(1)[index])
        if tuple(value.shape) != expected:
            raise ConfigError(f"transform_weight: {name} has shape {tuple(value.shape)}, expected {expected}")

    def transform_weight(self, weight, scale=None, zeros=None, bias=None):
        """Logical weight values [N, K] -> the W this kernel reads, as the same kind of array (torch
        tensors come back on their device). Integer formats take integer arrays of the values (int4 in
        [-8, 7], uint4 in [0, 15]; codes for nf4, fp4, fp8), float16 / bfloat16 weights their float
        values; every value is checked as given (an error names its index and value). scale, zeros and
        bias (BitBLAS's signature) need no transform: they are checked against the config and not
        returned, as BitBLAS returns the weight alone."""
        for name, index, value in (("scale", 2, scale), ("zeros", 3, zeros), ("bias", 4, bias)):
            self._check_side_operand(name, index, value)
        raw = self._native.transform_weight(_host_array(weight, "weight"))
        return self._stored_weight(raw, weight)

    def _packed_to_kernel_layout(self, packed):
        if self._sixteen_bit:  # the values themselves: checked and reordered by transform_weight
            return self.transform_weight(packed)
        host = _host_array(packed, "weight")
        array = np.asarray(host) if _torch_of(packed) is None else host.numpy()
        if array.dtype not in (np.int8, np.uint8) or tuple(array.shape) != self._weight_shape:
            raise ConfigError(f"weight_transform: got {array.dtype} {tuple(array.shape)}; expected general_compress's "
                              f"int8 or uint8 bytes {self._weight_shape}")
        raw = self._native.transform_packed_weight(np.ascontiguousarray(array).view(np.uint8).reshape(-1))
        return self._stored_weight(raw, packed)

    def transform_packed_weight(self, packed):
        """general_compress output [N, K * bits / 8] (e.g. quantization.from_gptq(...)["W"]) -> the
        bytes this kernel reads, same shape and kind of array."""
        return self._packed_to_kernel_layout(packed)

    # ---- calls -----------------------------------------------------------------------------------
    def _kernel_weight(self, W):
        """W as run() takes it: a transformed 16-bit weight [N, K / b, b] is passed as [N, K]."""
        if self._fragment_shape is None or W is None:
            return W
        shape = tuple(getattr(W, "shape", ()))
        if shape != self._fragment_shape:
            plain = shape == (self.config.N, self.config.K)
            raise ConfigError(
                f"Matmul: W has shape {shape}, expected {self._fragment_shape}: this kernel ({self.schedule['family']} "
                f"on {self.arch}) reads {self.config.W_dtype} weights in the mma_fragments order, which "
                f"matmul.transform_weight(W) (or matmul.weight_transform) produces"
                + (" from a plain [N, K] weight like this one" if plain else ""))
        if _torch_of(W) is not None:
            return W.reshape(self.config.N, self.config.K) if W.is_contiguous() else W
        operand = _device_operand(W, "W")
        if isinstance(operand, tuple):
            return (operand[0], [self.config.N, self.config.K], *operand[2:])
        return operand

    def __call__(self, A, W, *operands, **keywords):
        """BitBLAS's call shapes: matmul(A, W, output), matmul(*inputs), matmul(A, W, scale=..., ...).
        Positional operands after W fill the operands this config uses, in BitBLAS's order (scale,
        zeros, bias), then output."""
        names = [name for name, used in (("scale", self.config.with_scaling), ("zeros", self.config.with_zeros),
                                         ("bias", self.config.with_bias)) if used] + ["output"]
        if len(operands) > len(names):
            raise ConfigError(f"Matmul: {2 + len(operands)} positional operands given; this config takes at most "
                              f"{2 + len(names)}: A, W, {', '.join(names)}")
        unknown = set(keywords) - {"scale", "zeros", "bias", "output"}
        if unknown:
            raise TypeError(f"Matmul: unknown keyword arguments {sorted(unknown)}; allowed: scale, zeros, bias, output")
        for name, value in zip(names, operands):
            if name in keywords:
                raise TypeError(f"Matmul: {name} given both by position and by keyword")
            keywords[name] = value
        return self.forward(A, W, **keywords)

    def forward(self, A, W, scale=None, zeros=None, bias=None, output=None):
        """C = A x dequant(W)^T (+ bias) on the current CUDA stream (torch's, when A is a torch tensor).
        A may have leading dimensions (torch tensors): C has A's leading dimensions and N."""
        torch = _torch_of(A)
        if torch is not None:
            return self._torch_forward(torch, A, W, scale, zeros, bias, output)
        leading = None
        if torch is not None and A.dim() != 2:
            leading = tuple(A.shape[:-1])
            A = A.reshape(-1, A.shape[-1])
            if output is not None and output.is_contiguous():
                output = output.reshape(-1, self.config.N)
        A_operand = _device_operand(A, "A")
        A_shape = A_operand[1] if isinstance(A_operand, tuple) else list(A.shape)
        if len(A_shape) != 2:
            raise ConfigError(f"Matmul: A has shape {tuple(A_shape)}; expected [M, K] = [M, {self.config.K}]")
        M = int(A_shape[0])
        if output is None:
            if torch is None:
                raise ConfigError("Matmul: output is required unless A is a torch tensor")
            output = torch.empty((M, self.config.N), dtype=getattr(torch, self.config.out_dtype), device=A.device)
        stream = torch.cuda.current_stream(A.device).cuda_stream if torch is not None and A.is_cuda else 0
        self._native.run(M, A_operand, _device_operand(self._kernel_weight(W), "W"),
                         _device_operand(output, "output"), _device_operand(scale, "scale"),
                         _device_operand(zeros, "zeros"), _device_operand(bias, "bias"), stream)
        return output.reshape(*leading, self.config.N) if leading is not None else output


    def load(self, device: Optional[int] = None) -> None:
        """Loads every M bucket's kernel on CUDA device `device` (default: the current one) now, e.g.
        before capturing a CUDA graph that would hold this Matmul's first run on that device."""
        self._native.load(-1 if device is None else _integer("device", device))

    def _torch_forward(self, torch, A, W, scale, zeros, bias, output):
        """Torch tensors go through torch.ops.bitjit.matmul / matmul_out (bitjit/ops.py): on A's
        device and torch's current stream there, traceable by torch.compile and CUDA graphs."""
        from . import ops
        leading = tuple(A.shape[:-1]) if A.dim() != 2 else None
        rows = A.reshape(-1, A.shape[-1]) if leading is not None else A
        W = self._kernel_weight(W)
        if output is None:
            C = ops.call(rows, W, scale, zeros, bias, None, self.config.canonical, self.arch)
            return C.reshape(*leading, self.config.N) if leading is not None else C
        if not output.is_contiguous():
            raise ConfigError(f"Matmul: output must be contiguous (row-major without gaps), got strides "
                              f"{output.stride()}")
        ops.call(rows, W, scale, zeros, bias, output.reshape(-1, self.config.N), self.config.canonical, self.arch)
        return output


def quantize_model(model, W_dtype: str = "int4", group_size: int = 128, skip: Sequence[str] = ("lm_head",), **options):
    """Replaces `model`'s torch.nn.Linear layers in place by bitjit.Linear (bitjit/replace_linears.py)."""
    from .replace_linears import quantize_model as quantize
    return quantize(model, W_dtype=W_dtype, group_size=group_size, skip=skip, **options)


def load_quantized(model, checkpoint, method: str, **options):
    """Loads a GPTQ or AWQ checkpoint into `model`, its linear layers as bitjit.Linear (bitjit/checkpoints.py)."""
    from .checkpoints import load_quantized as load
    return load(model, checkpoint, method, **options)


_LOG_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
               logging.CRITICAL: "critical"}


def set_log_level(level) -> None:
    """BitBLAS's set_log_level: a logging level (logging.INFO, 20) or its name ("INFO", "debug",
    "warning"); sets the "bitjit" Python logger and the C++ library's level."""
    if isinstance(level, str):
        name = level.strip().lower()
        name = {"warning": "warn", "fatal": "critical"}.get(name, name)
        numeric = {v: k for k, v in _LOG_LEVELS.items()}.get(name)
        if numeric is None:
            raise ConfigError(f"set_log_level: level={level!r} is not one of debug, info, warning, error, critical")
    else:
        numeric = _integer("level", level)
        if numeric not in _LOG_LEVELS:
            raise ConfigError(f"set_log_level: level={level!r} is not one of logging.DEBUG, INFO, WARNING, ERROR, "
                              "CRITICAL")
        name = _LOG_LEVELS[numeric]
    logging.getLogger("bitjit").setLevel(numeric)
    _set_native_log_level(name)


def auto_detect_nvidia_target(gpu_id: int = 0) -> str:
    """The arch of CUDA device `gpu_id` as Matmul's target takes it ("sm_90a" on an H100 / H200);
    raises RuntimeError without a GPU. (BitBLAS returns a TVM tag; bitjit's targets are archs.)"""
    return _device_arch(_integer("gpu_id", gpu_id))


_linear_class = None


def __getattr__(name: str):
    """bitjit.Linear, a torch.nn.Module, is built on first use: importing bitjit never imports torch."""
    global _linear_class
    if name == "Linear":
        if _linear_class is None:
            try:
                import torch  # noqa: F401
            except ImportError as error:
                raise ImportError("bitjit.Linear is a torch.nn.Module and needs torch; bitjit.Matmul works "
                                  "without it") from error
            from .linear import make_linear_class
            _linear_class = make_linear_class(Matmul, MatmulConfig)
        return _linear_class
    raise AttributeError(f"module 'bitjit' has no attribute {name!r}")


if "torch" in sys.modules:  # torch is there already: register torch.ops.bitjit now (else on first use)
    from . import ops  # noqa: E402,F401
