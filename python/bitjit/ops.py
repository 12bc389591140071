"""bitjit's matmul as PyTorch operators (torch.library), so that torch.compile, torch.export and CUDA
graphs see one opaque op with known output shapes instead of Python they cannot trace:

    torch.ops.bitjit.matmul(A, W, scales, zeros, bias, config, weight_arch) -> C
    torch.ops.bitjit.matmul_out(A, W, scales, zeros, bias, output, config, weight_arch) -> ()  (writes output)

A [M, K], W the packed weights, scales / zeros / bias None where the config has none; config is the
MatmulConfig's canonical JSON text and weight_arch the arch whose kernels W was packed for
(Matmul.arch). The op runs on the device of its tensors, on torch's current stream there, with the
kernels of that device's arch (natives.py); W's packing must be what those kernels read.

Under CUDA graph capture the op compiles, loads and synchronizes nothing: kernels are loaded on a
device by its first run there (every M bucket at once), and split-K / stream-K scratch comes from
torch's allocator, which serves capture from the graph's pool, one set per capture and stream that
every run of the config in that capture shares (_CaptureScratch). Outside capture the runs take the
kernels' own scratch for the stream (the C++ Matmul's, allocated by its first run there). A capture
that would need a load or a compile raises bitjit.CaptureError. Imported by bitjit.Matmul and
bitjit.Linear when torch is used.
"""

import functools
import json
from typing import Dict, Optional, Sequence, Tuple

import torch

from . import natives
from ._bitjit import CaptureError, ConfigError
from ._bitjit import stream_capture_id as _stream_capture_id

__all__ = ["matmul", "matmul_out"]


@functools.lru_cache(maxsize=None)
def _config_fields(config: str) -> Tuple[int, int, torch.dtype]:
    fields = json.loads(config)
    return int(fields["K"]), int(fields["N"]), getattr(torch, fields["out_dtype"])


def _check_fake_operands(A: torch.Tensor, named: Sequence[Tuple[str, Optional[torch.Tensor]]], config: str) -> None:
    """What the fake kernels can check without kernels: A's shape (the output's depends on it) and torch's
    device rule, every operand on A's device. Everything else, and every error of a real call, is the
    bindings' (Matmul.run's checks, one wording for the torch and the non-torch paths)."""
    K, _, _ = _config_fields(config)
    if A.dim() != 2 or A.shape[1] != K:
        raise ConfigError(f"Matmul: A has shape {tuple(A.shape)}; expected [M, K] with K = {K} (config {config})")
    for name, tensor in named:
        if tensor is not None and tensor.device != A.device:
            raise ConfigError(f"Matmul: {name} is on another device than A: given on {tensor.device}, expected on "
                              f"{A.device} (A's device)")


# torch dtypes <-> the element names the bindings check operands by (bitjit's dtype names).
_ELEMENTS = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32", torch.int8: "int8",
             torch.uint8: "uint8", torch.int16: "int16", torch.int32: "int32", torch.float8_e4m3fn: "float8_e4m3",
             torch.float8_e5m2: "float8_e5m2"}
_DTYPES = {name: dtype for dtype, name in _ELEMENTS.items()}


def _descriptor(tensor: Optional[torch.Tensor]):
    """A tensor as the bindings' operand descriptor (pointer, shape, element, contiguous, DLPack device
    type: 1 CPU, 2 CUDA, 0 other (meta), device index), or None. Only the refusal path builds these."""
    if tensor is None:
        return None
    element = _ELEMENTS.get(tensor.dtype, str(tensor.dtype).replace("torch.", ""))
    device_type = {"cuda": 2, "cpu": 1}.get(tensor.device.type, 0)
    index = tensor.device.index if tensor.device.index is not None else -1
    return (tensor.data_ptr() if device_type else 0, list(tensor.shape), element, tensor.is_contiguous(), device_type,
            index)


def _capturing() -> bool:
    return torch.cuda.is_current_stream_capturing()


def _native(config: str, weight_arch: str, device: int):
    """The kernels for `device`'s arch, whose weight layout must be the one W was packed in."""
    arch = natives.device_arch(device)
    may_compile = not _capturing()
    try:
        native = natives.native_for(config, arch, may_compile=may_compile)
        packed_for = native if arch == weight_arch else natives.native_for(config, weight_arch,
                                                                           may_compile=may_compile)
    except LookupError as missing:
        raise CaptureError(f"bitjit.matmul: capturing a CUDA graph on device {device} ({arch}) would need to compile "
                           f"this config's kernels ({missing}); run it on that device once before the capture") from None
    if native.weight_layout_id != packed_for.weight_layout_id:  # exact: the layout name alone misses run lengths
        raise ConfigError(f"bitjit.matmul: W was packed for {weight_arch} ({packed_for.weight_layout_id!r}) but device "
                          f"{device} is {arch}, whose kernels read {native.weight_layout_id!r}; create the layer "
                          f"for {arch} (target=\"{arch}\" or on that device) (config {config})")
    return native


def _current_stream(device: int) -> int:
    """torch's current stream on `device` as a handle, without building a torch.cuda.Stream object."""
    return torch._C._cuda_getCurrentRawStream(device)


class _CaptureScratch:
    """Split-K / stream-K scratch for the runs of one config in one CUDA graph capture on one stream, from
    torch's allocator (so from the graph's pool). Its counters are zeroed once, by the capture's first
    run that needs them (a fill the graph replays once, before that run), and every run leaves them at
    zero for the next: zeroing them per run put a fill kernel before every launch (on the H200 about
    1-3.6 µs a launch beside the C++ bench's time for the same stream-K kernels, 2026-12-02). Held
    until the next capture on the stream or until the runner goes, so that nothing else in the capture
    takes the memory; once released it is like any temporary of the graph's (dead between replays)."""

    __slots__ = ("capture", "partials", "counters")

    def __init__(self, capture: int, partial_bytes: int, counter_bytes: int, device) -> None:
        self.capture = capture
        self.partials = torch.empty(partial_bytes, dtype=torch.uint8, device=device)
        self.counters = torch.zeros(counter_bytes, dtype=torch.uint8, device=device)

    def fits(self, capture: int, partial_bytes: int, counter_bytes: int) -> bool:
        return (self.capture == capture and self.partials.numel() >= partial_bytes
                and self.counters.numel() >= counter_bytes)

    def view(self) -> Tuple[int, int, int, int]:
        return (self.partials.data_ptr(), self.partials.numel(), self.counters.data_ptr(), self.counters.numel())


class _Runner:
    """One config's calls on one CUDA device, worked out once: the kernels, and what each operand must
    be (torch dtypes, shapes, the device), so that a call compares torch's own tensor metadata and
    hands the bindings raw pointers. A decode step calls each layer once per token, so this per-call
    host time is what eager decoding waits on. An operand that does not fit goes through the bindings'
    full check (Matmul.run with descriptors), which raises the error naming it."""

    __slots__ = ("native", "index", "device", "K", "N", "A_dtypes", "C_dtypes", "fixed", "scratch", "captured")

    def __init__(self, config: str, weight_arch: str, index: int, native=None) -> None:
        self.native = native if native is not None else _native(config, weight_arch, index)
        self.index = index
        self.device = torch.device("cuda", index)
        self.K, self.N, _ = _config_fields(config)
        accepted = self.native.accepted_elements(1)
        shapes = self.native.operand_shapes(1)
        dtypes = [tuple(_DTYPES[name] for name in names if name in _DTYPES) for names in accepted]
        self.A_dtypes, self.C_dtypes = dtypes[0], dtypes[5]
        # W, scales, zeros, bias: (torch dtypes, shape), or None where the config has no such operand.
        self.fixed = tuple((dtypes[i], torch.Size(shapes[i])) if accepted[i] else None for i in (1, 2, 3, 4))
        self.scratch: Dict[int, Tuple[int, int]] = {}  # M -> split-K scratch bytes (partials, counters)
        self.captured: Dict[int, _CaptureScratch] = {}  # stream handle -> the scratch of its latest capture

    def _fits(self, A, others, output) -> bool:
        device = self.device
        if not (A.device == device and A.dtype in self.A_dtypes and A.dim() == 2 and A.shape[1] == self.K
                and A.is_contiguous()):
            return False
        if not (output.device == device and output.dtype in self.C_dtypes and output.dim() == 2
                and output.shape[0] == A.shape[0] and output.shape[1] == self.N and output.is_contiguous()):
            return False
        for tensor, expected in zip(others, self.fixed):
            if expected is None or tensor is None:
                if expected is not None or tensor is not None:
                    return False
            elif not (tensor.device == device and tensor.dtype in expected[0] and tensor.shape == expected[1]
                      and tensor.is_contiguous()):
                return False
        return True

    def run(self, A, W, scales, zeros, bias, output) -> None:
        M = A.shape[0]
        if M == 0:  # no rows, nothing to compute (torch's rule for empty batches)
            return
        stream = _current_stream(self.index)
        if not self._fits(A, (W, scales, zeros, bias), output):
            # The bindings' check raises the error naming the operand (or runs, if this check was only
            # stricter than theirs: an element type torch spells differently).
            self.native.run(M, _descriptor(A), _descriptor(W), _descriptor(output), _descriptor(scales),
                            _descriptor(zeros), _descriptor(bias), stream, self.index,
                            self._scratch(M, stream, A.device))
            return
        pointer = lambda tensor: 0 if tensor is None else tensor.data_ptr()  # noqa: E731
        self.native.run_pointers(M, A.data_ptr(), W.data_ptr(), output.data_ptr(), pointer(scales), pointer(zeros),
                                 pointer(bias), stream, self.index, self._scratch(M, stream, A.device))

    def _scratch(self, M: int, stream: int, device):
        """The split-K / stream-K scratch of a run of M rows on `stream`: None where the kernel needs none
        or the stream is not being captured (the kernels' own scratch for the stream then, zeroed once
        by the C++ Matmul, no work per run); under capture its _CaptureScratch."""
        need = self.scratch.get(M)
        if need is None:
            need = self.scratch[M] = tuple(self.native.scratch_need(M, self.index))
        partial_bytes, counter_bytes = need
        if not partial_bytes:
            return None
        capture = _stream_capture_id(stream, self.index)
        if capture is None:
            self.captured.pop(stream, None)  # that capture has ended: its scratch goes back to its pool
            return None
        held = self.captured.get(stream)
        if held is None or not held.fits(capture, partial_bytes, counter_bytes):
            held = self.captured[stream] = _CaptureScratch(capture, partial_bytes, counter_bytes, device)
        return held.view()


# (config, weight arch, A's torch.device) -> its _Runner: the per-call lookup, one dict access.
_runners: Dict[Tuple[str, str, torch.device], _Runner] = {}


def _forget_runners() -> None:
    """Drops the runners: natives.remember changed a config's kernels (a new Matmul, tuning), or the
    interpreter is exiting (natives.py)."""
    _runners.clear()


natives.on_change(_forget_runners)


def _run(A, W, scales, zeros, bias, output, config: str, weight_arch: str) -> None:
    runner = _runners.get((config, weight_arch, A.device))
    if runner is None:
        runner = _new_runner(A, W, scales, zeros, bias, output, config, weight_arch)
    runner.run(A, W, scales, zeros, bias, output)


def _new_runner(A, W, scales, zeros, bias, output, config: str, weight_arch: str) -> _Runner:
    if A.device.type != "cuda":  # nothing to run on: the bindings' check names the operand and its device
        native = natives.native_for(config, weight_arch)
        native.run(int(A.shape[0]) if A.dim() else 0, _descriptor(A), _descriptor(W), _descriptor(output),
                   _descriptor(scales), _descriptor(zeros), _descriptor(bias), 0, -1, None)
        raise ConfigError(f"Matmul: A is not in CUDA device memory: given on {A.device}")  # not reached
    runner = _runners[(config, weight_arch, A.device)] = _Runner(config, weight_arch, A.device.index)
    return runner


def _eager(A) -> bool:
    """Whether a call may skip torch's dispatcher and run the kernel at once: a plain CUDA tensor in
    eager mode, with no gradient to record and no torch mode (fake tensors, tracing, profilers' dispatch
    modes) that must see the operator. Everything else goes through torch.ops.bitjit.*."""
    return (type(A) is torch.Tensor and A.is_cuda and not (A.requires_grad and torch.is_grad_enabled())
            and not torch.compiler.is_compiling() and not torch._C._len_torch_dispatch_stack()
            and not torch._C._is_torch_function_mode_enabled())


def call(A, W, scales, zeros, bias, output, config: str, weight_arch: str):
    """bitjit.Linear's and bitjit.Matmul's way in: torch.ops.bitjit.matmul / matmul_out, or in plain
    eager mode their kernel directly (the same run, without the dispatcher's Python round trip)."""
    if output is None:
        if _eager(A):
            _, N, out_dtype = _config_fields(config)
            output = torch.empty((A.shape[0], N), dtype=out_dtype, device=A.device)
            _run(A, W, scales, zeros, bias, output, config, weight_arch)
            return output
        return torch.ops.bitjit.matmul(A, W, scales, zeros, bias, config, weight_arch)
    if _eager(A):
        _run(A, W, scales, zeros, bias, output, config, weight_arch)
    else:
        torch.ops.bitjit.matmul_out(A, W, scales, zeros, bias, output, config, weight_arch)
    return output


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
    _check_fake_operands(A, (("W", W), ("scale", scales), ("zeros", zeros), ("bias", bias)), config)
    _, N, out_dtype = _config_fields(config)
    return A.new_empty((A.shape[0], N), dtype=out_dtype)


@torch.library.custom_op("bitjit::matmul_out", mutates_args=("output",))
def matmul_out(A: torch.Tensor, W: torch.Tensor, scales: Optional[torch.Tensor], zeros: Optional[torch.Tensor],
               bias: Optional[torch.Tensor], output: torch.Tensor, config: str, weight_arch: str) -> None:
    """matmul writing into `output` [M, N] (out_dtype, contiguous, on A's device)."""
    _run(A, W, scales, zeros, bias, output, config, weight_arch)


@matmul_out.register_fake
def _matmul_out_fake(A, W, scales, zeros, bias, output, config, weight_arch):
    _check_fake_operands(A, (("W", W), ("scale", scales), ("zeros", zeros), ("bias", bias), ("output", output)),
                         config)
    _, N, out_dtype = _config_fields(config)
    if tuple(output.shape) != (A.shape[0], N) or output.dtype != out_dtype:
        raise ConfigError(f"Matmul: output is {tuple(output.shape)} {output.dtype}; expected "
                          f"({A.shape[0]}, {N}) {out_dtype}")
