"""The compiled kernels of each (config, arch), shared by every Matmul, Linear and torch operator of a
process. torch.ops.bitjit.* take the config as its canonical JSON text, not a Python object, so that
torch.compile and torch.export see plain constants; they find the kernels here. No torch import."""
from __future__ import annotations

import atexit
import threading
from typing import Callable, Dict, List, Tuple

from ._bitjit import Matmul as _NativeMatmul
from ._bitjit import device_arch as _device_arch

_lock = threading.Lock()
_natives: Dict[Tuple[str, str], _NativeMatmul] = {}
_device_archs: Dict[int, str] = {}


_listeners: List[Callable[[], None]] = []


@atexit.register
def _forget_all() -> None:
    """Drops the kernels, and every per-call lookup that holds them (ops.py's runners), before the
    interpreter tears the extension down: torch's operator registry keeps these modules alive to the
    end, and nanobind reports native objects still alive then as leaks on stderr."""
    with _lock:
        _natives.clear()
    for listener in _listeners:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Calls `listener` whenever remember() changes what runs (ops.py drops its per-call lookups)."""
    _listeners.append(listener)


def remember(canonical: str, native: _NativeMatmul) -> None:
    """Makes `native` the one that runs this config on its arch (a new Matmul's, or one just tuned:
    its schedules, and with them its split-K scratch, may have changed)."""
    with _lock:
        _natives[(canonical, native.arch)] = native
    for listener in _listeners:
        listener()


def device_arch(device: int) -> str:
    """The arch of CUDA device `device` ("sm_90a"), queried once."""
    with _lock:
        arch = _device_archs.get(device)
    if arch is None:
        arch = _device_arch(device)
        with _lock:
            _device_archs[device] = arch
    return arch


def native_for(canonical: str, arch: str, *, may_compile: bool = True) -> _NativeMatmul:
    """The kernels of a config for an arch: a remembered Matmul's, else created (compiled or taken from
    the kernel database) and remembered. may_compile=False raises LookupError instead of creating."""
    with _lock:
        native = _natives.get((canonical, arch))
    if native is not None:
        return native
    if not may_compile:
        raise LookupError(f"no kernels for {arch} yet (config {canonical})")
    native = _NativeMatmul.create(canonical, arch)
    with _lock:
        return _natives.setdefault((canonical, arch), native)
