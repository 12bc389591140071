"""Host time of one bitjit.Linear call up to the kernel launch, on a machine without a GPU.

Eager decoding (Hugging Face generate) is bound by the host: every layer is called once per token,
so what bitjit's Python does per call (checks, lookups, the dispatcher) adds up over a model's
layers. This bench times that path with the kernels compiled for sm_90a and only the native launch
replaced by a no-op, for CPU tensors standing in for CUDA ones (the per-call runner is told their
device is its device). It prints microseconds per call for the eager path (no dispatcher) and the
torch operator path (what torch.compile without CUDA graphs runs).

    PYTHONPATH=build/python python bench/op_overhead.py [--calls 20000]
"""
import argparse
import timeit

import torch

import bitjit
from bitjit import ops


class NoLaunch:
    """A native Matmul whose launch does nothing (everything the runner asks before it is the real one's)."""

    def __init__(self, native):
        self._native = native

    def accepted_elements(self, M):
        return self._native.accepted_elements(M)

    def operand_shapes(self, M):
        return self._native.operand_shapes(M)

    def scratch_need(self, M, device):
        return (0, 0)

    def run_pointers(self, *arguments):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--hidden", type=int, default=2048)
    args = parser.parse_args()
    layer = bitjit.Linear(args.hidden, args.hidden, W_dtype="int4", accum_dtype="float32", group_size=128,
                          opt_M=[1, 16], target="sm_90a")
    runner = ops._Runner(layer._op_config, layer._op_arch, 0, native=NoLaunch(layer.matmul._native))
    runner.device = torch.device("cpu")
    ops._runners[(layer._op_config, layer._op_arch, torch.device("cpu"))] = runner
    ops._current_stream = lambda device: 0
    x = torch.zeros(1, 1, args.hidden, dtype=torch.float16)
    is_eager = ops._eager
    results = {}
    with torch.no_grad():  # as generate() runs
        layer(x)  # warm the caches
        ops._eager = lambda A: type(A) is torch.Tensor and not torch.compiler.is_compiling() and not (
            A.requires_grad and torch.is_grad_enabled()) and not torch._C._len_torch_dispatch_stack() and not (
            torch._C._is_torch_function_mode_enabled())  # is_eager without its A.is_cuda
        results["bitjit.Linear eager"] = timeit.timeit(lambda: layer(x), number=args.calls)
        ops._eager = lambda A: False
        results["bitjit.Linear via torch.ops.bitjit.matmul"] = timeit.timeit(lambda: layer(x), number=args.calls)
        ops._eager = is_eager
    for name, seconds in results.items():
        print(f"{name:50s} {seconds / args.calls * 1e6:7.2f} us per call")


if __name__ == "__main__":
    main()
