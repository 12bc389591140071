"""bitjit's matmul as PyTorch operators (torch.library), so that torch.compile, torch.export and CUDA
graphs see one opaque op with known output shapes instead of Python they cannot trace:

    torch.ops.bitjit.matmul(A, W, scales, zeros, bias, config, weight_arch) -> C
    torch.ops.bitjit.matmul_out(A, W, scales, zeros, bias, output, config, weight_arch) -> ()  (writes output)

A [M, K], W the packed weights, scales / zeros / bias None where the config has none; config is the
MatmulConfig's canonical JSON text and weight_arch the arch whose kernels W was packed for
(Matmul.arch). The op runs on the device of its tensors, on torch's current stream there, with the
kernels of that device's arch (natives.py); W's packing must be what those kernels read.

Under CUDA graph capture the op compiles, loads and synchronizes nothing: kernels are loaded on a
device by its first run there (every M bucket at once), and split-K scratch comes from torch's
allocator, which serves capture from the graph's pool. A capture that would need a load or a compile
raises bitjit.CaptureError. Imported by bitjit.Matmul and bitjit.Linear when torch is used.
"""

import functools
import json
from typing import Dict, Optional, Sequence, Tuple

import torch

from . import natives
from ._bitjit import CaptureError, ConfigError

__all__ = ["matmul", "matmul_out"]


@functools.lru_cache(maxsize=None)
def _config_fields(config: str) -> Tuple[int, int, torch.dtype]:
    fields = json.loads(config)
    return int(fields["K"]), int(fields["N"]), getattr(torch, fields["out_dtype"])


def _check_operands(A: torch.Tensor, named: Sequence[Tuple[str, Optional[torch.Tensor]]], config: str,
                    allow_meta: bool = False) -> None:
    """Shapes the fake kernel needs and torch's device rule: every operand on A's device, a CUDA one
    (or, for the fake kernel, "meta": shapes only, as a model traced on a machine without a GPU)."""
    K, _, _ = _config_fields(config)
    if A.dim() != 2 or A.shape[1] != K:
        raise ConfigError(f"bitjit.matmul: A has shape {tuple(A.shape)}; expected [M, K] with K = {K} (config {config})")
    if A.device.type != "cuda" and not (allow_meta and A.device.type == "meta"):
        raise ConfigError(f"bitjit.matmul: A is not in CUDA device memory: it is on {A.device}")
    others = [(name, tensor) for name, tensor in named if tensor is not None and tensor.device != A.device]
    if others:
        where = ", ".join(f"{name} on {tensor.device}" for name, tensor in others)
        raise ConfigError(f"bitjit.matmul: operands on different devices: A on {A.device}, {where}; every operand "
                          "(and output) must be on A's device")


# torch dtypes -> the element names the bindings check operands by (bitjit's dtype names).
_ELEMENTS = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32", torch.int8: "int8",
             torch.uint8: "uint8", torch.int32: "int32", torch.float8_e4m3fn: "float8_e4m3",
             torch.float8_e5m2: "float8_e5m2"}


def _descriptor(tensor: Optional[torch.Tensor]):
    """A tensor as the bindings' operand descriptor (pointer, shape, element, contiguous, DLPack device
    type 2 = CUDA, device index), or None: cheaper than a DLPack export on every call, and the bindings
    check dtype, layout and shape against the config and name the operand."""
    if tensor is None:
        return None
    element = _ELEMENTS.get(tensor.dtype, str(tensor.dtype).replace("torch.", ""))
    return (tensor.data_ptr(), list(tensor.shape), element, tensor.is_contiguous(), 2, tensor.device.index)


def _capturing() -> bool:
    return torch.cuda.is_current_stream_capturing()


# (config, weight arch, device) -> the native Matmul that runs there, and (that, M) -> its scratch
# bytes: the per-call lookups, kept to a dict access each (a decode step calls every layer once).
_runners: Dict[Tuple[str, str, int], object] = {}
_scratch: Dict[Tuple[str, str, int, int], Tuple[int, int]] = {}


def _native(config: str, weight_arch: str, device: int):
    """The kernels for `device`'s arch, whose weight layout must be the one W was packed in."""
    key = (config, weight_arch, device)
    native = _runners.get(key)
    if native is not None:
        return native
    arch = natives.device_arch(device)
    may_compile = not _capturing()
    try:
        native = natives.native_for(config, arch, may_compile=may_compile)
        packed_for = native if arch == weight_arch else natives.native_for(config, weight_arch,
                                                                           may_compile=may_compile)
    except LookupError as missing:
        raise CaptureError(f"bitjit.matmul: capturing a CUDA graph on device {device} ({arch}) would need to compile "
                           f"this config's kernels ({missing}); run it on that device once before the capture") from None
    if native.weight_layout != packed_for.weight_layout:
        raise ConfigError(f"bitjit.matmul: W was packed for {weight_arch} ({packed_for.weight_layout} layout) but device "
                          f"{device} is {arch}, whose kernels read the {native.weight_layout} layout; create the layer "
                          f"for {arch} (target=\"{arch}\" or on that device) (config {config})")
    _runners[key] = native
    return native


def _forget_runners() -> None:
    """Drops the per-call lookups: natives.remember changed a config's kernels (a new Matmul, tuning)."""
    _runners.clear()
    _scratch.clear()


natives.on_change(_forget_runners)


def _run(A, W, scales, zeros, bias, output, config: str, weight_arch: str) -> None:
    operands = (("W", W), ("scales", scales), ("zeros", zeros), ("bias", bias), ("output", output))
    _check_operands(A, operands, config)
    device = A.device.index if A.device.index is not None else torch.cuda.current_device()
    M = int(A.shape[0])
    if M == 0:  # no rows, nothing to compute (torch's rule for empty batches)
        return
    native = _native(config, weight_arch, device)
    scratch = None
    need = _scratch.get((config, weight_arch, device, M))
    if need is None:
        need = _scratch[(config, weight_arch, device, M)] = tuple(native.scratch_need(M, device))
    partial_bytes, counter_bytes = need
    if partial_bytes:
        # From torch's allocator: stream-ordered, and under capture the graph's own memory. The counters
        # start at zero (every run leaves them so; zeroed here since the block may be reused).
        partials = torch.empty(partial_bytes, dtype=torch.uint8, device=A.device)
        counters = torch.zeros(counter_bytes, dtype=torch.uint8, device=A.device)
        scratch = (partials.data_ptr(), partial_bytes, counters.data_ptr(), counter_bytes)
    stream = torch.cuda.current_stream(A.device).cuda_stream
    native.run(M, _descriptor(A), _descriptor(W), _descriptor(output), _descriptor(scales), _descriptor(zeros),
               _descriptor(bias), stream, device, scratch)


@torch.library.custom_op("bitjit::matmul", mutates_args=())
def matmul(A: torch.Tensor, W: torch.Tensor, scales: Optional[torch.Tensor], zeros: Optional[torch.Tensor],
           bias: Optional[torch.Tensor], config: str, weight_arch: str) -> torch.Tensor:
    """C = A · dequant(W)ᵀ (+ bias): a new [M, N] tensor of the config's out_dtype on A's device."""
    _, N, out_dtype = _config_fields(config)
    output = torch.empty((A.shape[0], N), dtype=out_dtype, device=A.device)
    _run(A, W, scales, zeros, bias, output, config, weight_arch)
    return output


@matmul.register_fake
def _matmul_fake(A, W, scales, zeros, bias, config, weight_arch):
    _check_operands(A, (("W", W), ("scales", scales), ("zeros", zeros), ("bias", bias)), config, allow_meta=True)
    _, N, out_dtype = _config_fields(config)
    return A.new_empty((A.shape[0], N), dtype=out_dtype)


@torch.library.custom_op("bitjit::matmul_out", mutates_args=("output",))
def matmul_out(A: torch.Tensor, W: torch.Tensor, scales: Optional[torch.Tensor], zeros: Optional[torch.Tensor],
               bias: Optional[torch.Tensor], output: torch.Tensor, config: str, weight_arch: str) -> None:
    """matmul writing into `output` [M, N] (out_dtype, contiguous, on A's device)."""
    _run(A, W, scales, zeros, bias, output, config, weight_arch)


@matmul_out.register_fake
def _matmul_out_fake(A, W, scales, zeros, bias, output, config, weight_arch):
    _check_operands(A, (("W", W), ("scales", scales), ("zeros", zeros), ("bias", bias), ("output", output)), config,
                    allow_meta=True)
    _, N, out_dtype = _config_fields(config)
    if tuple(output.shape) != (A.shape[0], N) or output.dtype != out_dtype:
        raise ConfigError(f"bitjit.matmul: output is {tuple(output.shape)} {output.dtype}; expected "
                          f"({A.shape[0]}, {N}) {out_dtype}")
