"""bitjit for Python: mixed-precision matmul kernels compiled at run time for NVIDIA GPUs.

Field names, defaults and call shapes follow BitBLAS's quick start, so code written for it runs with
``import bitjit as bitblas``::

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
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np

from . import quantization
from ._bitjit import ConfigError
from ._bitjit import __version__  # CMakeLists.txt's project version
from ._bitjit import Matmul as _NativeMatmul
from ._bitjit import canonical_config

__all__ = ["ConfigError", "Linear", "Matmul", "MatmulConfig", "quantization"]


@dataclass
class MatmulConfig:
    """C[M, N] = A[M, K] x dequant(W[N, K])^T (+ bias). None means the default (BitBLAS's):
    M: the buckets 1, 16, ..., 1024; group_size: -1 (one group); zeros_mode: "original"."""

    M: Union[int, Sequence[int], None] = None
    N: int = 0
    K: int = 0
    A_dtype: str = "float16"
    W_dtype: str = "float16"
    accum_dtype: str = "float16"
    out_dtype: str = "float16"
    layout: str = "nt"
    with_bias: bool = False
    group_size: Optional[int] = None
    with_scaling: bool = False
    with_zeros: bool = False
    zeros_mode: Optional[str] = None
    canonical: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        self.canonical = canonical_config(self.to_json())  # raises ConfigError naming a bad field

    def to_json(self) -> str:
        fields = {name: getattr(self, name) for name in (
            "N", "K", "A_dtype", "W_dtype", "accum_dtype", "out_dtype", "layout", "with_bias",
            "group_size", "with_scaling", "with_zeros", "zeros_mode")}
        if self.M is not None:
            fields["M"] = self.M if isinstance(self.M, int) else list(self.M)
        return json.dumps(fields)


_TORCH_DTYPE_NAMES = {"torch.float16": "float16", "torch.bfloat16": "bfloat16", "torch.float32": "float32",
                      "torch.int8": "int8", "torch.uint8": "uint8", "torch.int32": "int32"}


def _torch_of(value):
    """The torch module when `value` is a torch tensor (torch is imported only by the caller)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(value, torch.Tensor) else None


def _operand(value, name: str):
    """(pointer, shape, itemsize) of a device array, or None."""
    if value is None:
        return None
    if _torch_of(value) is not None:
        if not value.is_cuda:
            raise ValueError(f"{name} must be a CUDA tensor, got one on {value.device}")
        if not value.is_contiguous():
            raise ValueError(f"{name} must be contiguous (row-major)")
        return (value.data_ptr(), list(value.shape), value.element_size())
    interface = getattr(value, "__cuda_array_interface__", None)
    if interface is None:
        raise TypeError(f"{name} must be a torch CUDA tensor or expose __cuda_array_interface__, got {type(value)}")
    if interface.get("strides") is not None:  # None is the interface's word for C-contiguous
        raise ValueError(f"{name} must be contiguous (row-major)")
    itemsize = np.dtype(interface["typestr"]).itemsize
    return (interface["data"][0], list(interface["shape"]), itemsize)


class Matmul:
    """A config compiled for one GPU architecture (default: the current GPU's; target="sm_90a"
    etc. compiles without a GPU). enable_tuning and backend are accepted for BitBLAS compatibility."""

    def __init__(self, config: MatmulConfig, target: Optional[str] = None, enable_tuning: bool = False,
                 backend: Optional[str] = None, **_ignored) -> None:
        self.config = config
        self._native = _NativeMatmul.create(config.to_json(), target or "")

    @property
    def source(self) -> str:
        """The generated CUDA C."""
        return self._native.source

    @property
    def arch(self) -> str:
        return self._native.arch

    @property
    def schedule(self) -> dict:
        return json.loads(self._native.schedule)

    def schedule_for(self, M: int) -> dict:
        """The tile schedule of the kernel that runs calls of M rows (one kernel per M bucket)."""
        return json.loads(self._native.schedule_for(int(M)))

    def profile_latency(self, M: Optional[int] = None) -> float:
        """Median milliseconds of one call with M rows (default: the largest bucket) on random data."""
        return self._native.profile_latency(None if M is None else int(M))

    def hardware_aware_finetune(self, topk: int = 20) -> list:
        """Times the cost model's best `topk` tile schedules (and the current one) per M bucket on this
        GPU and keeps the fastest, also in the kernel database. Returns one dict per bucket: M,
        schedule, latency_ms, before_schedule, before_ms, candidates_timed, seconds."""
        return json.loads(self._native.hardware_aware_finetune(int(topk)))

    def transform_weight(self, weight, scale=None, zeros=None, bias=None):
        """Logical weight values [N, K] as int8 (e.g. int4 in [-8, 7]; codes for unsigned, nf4,
        fp4, fp8) -> the packed bytes this kernel reads, as the same kind of array (torch tensors
        come back on their device). scale, zeros and bias need no transform and are ignored."""
        torch = _torch_of(weight)
        host = weight.detach().cpu().numpy() if torch is not None else np.asarray(weight)
        if host.shape != (self.config.N, self.config.K):
            raise ValueError(f"weight has shape {tuple(host.shape)}; expected (N, K) = ({self.config.N}, {self.config.K})")
        packed = self._native.transform_weight(np.ascontiguousarray(host, dtype=np.int8).reshape(-1))
        shape = self._native.operand_shapes(1)[1]
        array = np.frombuffer(packed, dtype=np.uint8 if self.config.W_dtype.startswith(("u", "nf", "fp", "float8"))
                              else np.int8).reshape(shape).copy()
        if self.config.W_dtype in ("float16", "bfloat16"):
            array = array.view(np.uint16).reshape(shape)
        if torch is not None:
            return torch.from_numpy(array).to(weight.device)
        return array

    def transform_packed_weight(self, packed):
        """general_compress output [N, K * bits / 8] (e.g. quantization.from_gptq(...)["W"]) -> the
        bytes this kernel reads, same shape; numpy in, numpy out."""
        array = np.ascontiguousarray(np.asarray(packed)).view(np.uint8)
        shape = self._native.operand_shapes(1)[1]
        if list(array.shape) != list(shape):
            raise ValueError(f"packed weight has shape {tuple(array.shape)}; expected {tuple(shape)}")
        return np.frombuffer(self._native.transform_packed_weight(array.reshape(-1)), dtype=np.uint8).reshape(shape).copy()

    def __call__(self, A, W, scale=None, zeros=None, bias=None, output=None):
        return self.forward(A, W, scale, zeros, bias, output)

    def forward(self, A, W, scale=None, zeros=None, bias=None, output=None):
        """C = A x dequant(W)^T (+ bias) on the current CUDA stream (torch's, when A is a torch tensor)."""
        M = int(A.shape[0])
        torch = _torch_of(A)
        if output is None:
            if torch is None:
                raise ValueError("output is required unless A is a torch tensor")
            out_dtype = getattr(torch, self.config.out_dtype)
            output = torch.empty((M, self.config.N), dtype=out_dtype, device=A.device)
        stream = torch.cuda.current_stream(A.device).cuda_stream if torch is not None else 0
        self._native.run(M, _operand(A, "A"), _operand(W, "W"), _operand(output, "output"),
                         _operand(scale, "scale"), _operand(zeros, "zeros"), _operand(bias, "bias"), stream)
        return output


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
