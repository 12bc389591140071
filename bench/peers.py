#!/usr/bin/env python3
"""bitjit beside its peers in one process: cuBLAS fp16 (torch.mm), humming (the humming-kernels package,
a JIT successor of Marlin) and bitjit through its Python package, on the suite's shapes.

    python bench/peers.py [--formats int4_g128,uint4_g128_zeros,uint4_g128_qzeros] [--shapes all|8b|70b|70B_o,...]
                          [--M 1,16,64] [--dynamic no|yes|linear] [--out peers-out] [--seed N]
                          [--launches 20] [--warmup 3] [--batches 10] [--warm-humming 8]

Formats (bench_matmul's names): int4_g128 (fp16 activations, int4 weights in [-8, 7], one fp16 scale
per 128 k; humming's symmetric int4) and uint4_g128_zeros (uint4 codes with an fp16 scale and a zero
point per 128 k, w = (q - z) * s, the zero points given to bitjit as fp16 values: zeros_mode "original",
how bitjit's GPTQ loader takes them) and uint4_g128_qzeros (the same weights, the zero points given to
bitjit as packed 4-bit codes: zeros_mode "quantized", the kind humming's zero points are); humming
runs its uint4 with zero points for both. The shapes (N, K) are read from
bench/matmul_bench.cpp's suite. bitjit runs its default schedules, one static-M Matmul per M, or with
--dynamic yes one Matmul per (format, shape) whose M buckets are the --M list, or with --dynamic linear
one bitjit.Linear per (format, shape) with its default buckets (opt_M unset), as a model's layers run;
humming its default heuristics.

Method, per (format, shape, M), the same for the three: random weights (codes, scales, zero points)
shared by all of them; each output is checked first against a float64 reference computed from the
dequantized weights (check_output has the bound); the weight operands are then rotated through enough
copies that one pass exceeds twice the L2; a CUDA graph holds a batch of launches and is replayed
after a warm-up; the time per launch is the median of the batches. cuBLAS is timed once per
(shape, M), on fp16 weights holding the first format's dequantized values.

Before anything is timed, every (format, shape)'s humming layer is prepared and run once at each M
on zero weights, --warm-humming cases at a time (0: not at all): humming compiles its kernels on first
use, about 14 s a case one after another on the H200 machine (2026-12-02), most of a run's time, and
keeps them in its kernel cache for the timed loop. A case that fails there is printed and left to the
timed loop, which records its outcome.

Writes results.json and results.md (µs per launch, the speed ratios, and the wall seconds each
implementation took per row, its JIT compile included) to --out, after every row marked partial
("complete": false, and a line under the table), so a run stopped by a time limit keeps what it
measured; complete at the end. A case humming cannot run (it raises, or its own compatibility check
refuses it) is skipped with the reason printed and recorded; a result outside the bound is a failure.
Exit status 0 when every check passed, 1 when any failed, 2 when humming-kernels, bitjit or a GPU is
missing or an argument is wrong.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import pathlib
import random
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy
import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
SUITE_SOURCE = REPO / "bench" / "matmul_bench.cpp"
GROUP_SIZE = 128
# Where torch does not report the L2 size: a size above every current GPU's but Blackwell's.
FALLBACK_L2_BYTES = 120 * 2**20
IMPLEMENTATIONS = ("cublas_fp16", "humming", "bitjit")


@dataclass(frozen=True)
class Shape:
    name: str
    N: int
    K: int


@dataclass(frozen=True)
class Format:
    name: str
    W_dtype: str  # bitjit's weight type
    zeros: bool  # a zero point per group: w = (q - z) * s
    quantized_zeros: bool = False  # bitjit takes the zero points as packed 4-bit codes (humming's kind)

    def humming_weight_config(self) -> dict:
        """humming's own quantization format ("humming" quant method) for this weight format."""
        config = {"dtype": self.W_dtype, "group_size": GROUP_SIZE}
        if self.zeros:
            config["has_zero_point"] = True
        return config


FORMATS = {format.name: format for format in (Format("int4_g128", "int4", False),
                                             Format("uint4_g128_zeros", "uint4", True),
                                             Format("uint4_g128_qzeros", "uint4", True, quantized_zeros=True))}


class CheckFailed(Exception):
    """An output outside the bound of check_output."""


class Unsupported(Exception):
    """humming does not run this case (the reason is printed and recorded)."""


# ---- arguments -------------------------------------------------------------------------------------

def suite_shapes(source: pathlib.Path = SUITE_SOURCE) -> list[Shape]:
    """The suite of bench_matmul (its kSuite table), so that both benches time the same shapes."""
    try:
        text = source.read_text()
    except OSError as error:
        raise RuntimeError(f"cannot read the suite's shapes from {source}: {error}") from error
    table = re.search(r"kSuite\s*=\s*\{(.*?)\};", text, re.S)
    shapes = [Shape(name, int(n), int(k)) for name, n, k in
              re.findall(r'\{"([^"]+)",\s*(\d+),\s*(\d+)\}', table.group(1) if table else "")]
    if not shapes:
        raise RuntimeError(f"no kSuite table of {{\"name\", N, K}} entries found in {source}")
    return shapes


def select_shapes(suite: list[Shape], selection: str) -> list[Shape]:
    """"all", "8b", "70b" or suite names with '_' for the space ("70B_o,8B_qkv"), as bench_matmul takes them."""
    chosen: list[Shape] = []
    for token in selection.split(","):
        matches = [shape for shape in suite if token == "all" or token == shape.name.replace(" ", "_") or
                   (token in ("8b", "70b") and shape.name.lower().startswith(token + " "))]
        if not matches:
            names = ", ".join(shape.name.replace(" ", "_") for shape in suite)
            raise argparse.ArgumentTypeError(f"unknown shape {token!r}; allowed: all, 8b, 70b, {names}")
        chosen += [shape for shape in matches if shape not in chosen]
    return chosen


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def whole(text: str) -> int:
    """A whole number from 0 to 64 (threads, 0 for none)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 64, got {text!r}")
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 64, got {value}")
    return value


def m_list(text: str) -> list[int]:
    try:
        return [positive(part) for part in text.split(",")]
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"M must be positive integers separated by commas: {error}")


def format_list(text: str) -> list[Format]:
    unknown = [name for name in text.split(",") if name not in FORMATS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown format {unknown[0]!r}; allowed: {', '.join(FORMATS)}")
    return [FORMATS[name] for name in text.split(",")]


def parse_args(argv: list[str], suite: Optional[list[Shape]] = None) -> argparse.Namespace:
    suite = suite_shapes() if suite is None else suite
    parser = argparse.ArgumentParser(prog="bench/peers.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", type=format_list, default=format_list("int4_g128,uint4_g128_zeros,uint4_g128_qzeros"))
    parser.add_argument("--shapes", type=lambda text: select_shapes(suite, text), default=suite)
    parser.add_argument("--M", dest="Ms", type=m_list, default=[1, 16, 64])
    parser.add_argument("--dynamic", choices=("no", "yes", "linear"), default="no",
                        help="bitjit: yes, one Matmul whose M buckets are the --M list; linear, one bitjit.Linear with "
                        "its default buckets (default: a static-M Matmul per M)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("peers-out"))
    parser.add_argument("--seed", type=int, default=None, help="random data's seed (default: a fresh one, printed)")
    parser.add_argument("--launches", type=positive, default=20, help="launches per graph, at least (a multiple "
                        "of the rotated copies)")
    parser.add_argument("--warmup", type=positive, default=3, help="graph replays before the timed ones")
    parser.add_argument("--batches", type=positive, default=10, help="timed graph replays; the median is kept")
    parser.add_argument("--warm-humming", dest="warm_humming", type=whole, default=8,
                        help="humming's kernels compiled before the timing, this many (format, shape) cases at a "
                        "time (0: each in the timed loop)")
    return parser.parse_args(argv)


# ---- data and the reference ------------------------------------------------------------------------

@dataclass
class Weights:
    codes: torch.Tensor  # [N, K]: int4 values in [-8, 7] (int8), or uint4 codes in [0, 15] (uint8)
    scales: torch.Tensor  # [N, K / 128] float16
    zeros: Optional[torch.Tensor]  # [N, K / 128] uint8 zero points in [0, 15], or None


def random_weights(format: Format, N: int, K: int, generator: torch.Generator, device) -> Weights:
    groups = K // GROUP_SIZE
    if format.zeros:
        codes = torch.randint(0, 16, (N, K), generator=generator, device=device, dtype=torch.uint8)
        zeros = torch.randint(0, 16, (N, groups), generator=generator, device=device, dtype=torch.uint8)
    else:
        codes = torch.randint(-8, 8, (N, K), generator=generator, device=device, dtype=torch.int8)
        zeros = None
    # Scales in [0.5, 1.5): with activations in [-1, 1] the largest suite output stays far below fp16's range.
    scales = (torch.rand((N, groups), generator=generator, device=device) + 0.5).half()
    return Weights(codes, scales, zeros)


def random_activations(M: int, K: int, generator: torch.Generator, device) -> torch.Tensor:
    return (torch.rand((M, K), generator=generator, device=device) * 2 - 1).half()


def dequantized(weights: Weights) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, magnitudes) in float64, [N, K]: w = (q - z) * s, and (|q| + z) * s, the largest value the
    dequantization of w passes through (q * s or z * s when a kernel subtracts z * s): what its
    roundings are relative to."""
    scales = weights.scales.double().repeat_interleave(GROUP_SIZE, dim=1)
    codes = weights.codes.double()
    zeros = weights.zeros.double().repeat_interleave(GROUP_SIZE, dim=1) if weights.zeros is not None else 0.0
    return (codes - zeros) * scales, (codes.abs() + zeros) * scales


def reference(A: torch.Tensor, values: torch.Tensor, magnitudes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(exact, sum |a| |w|) in float64: float64 adds the suite's K terms with an error far below the bound."""
    A64 = A.double()
    return A64 @ values.T, A64.abs() @ magnitudes.T


def error_bound(exact: torch.Tensor, magnitude_sum: torch.Tensor, K: int) -> torch.Tensor:
    """docs/correctness.md's bound for fp16 activations and output on the tensor cores: each weight
    dequantized in fp16 with at most two roundings (2^-10 of sum |a| |w|, |w| taken as the magnitude of
    dequantized()), float32 sums ((K/8 + 41) * 2^-24 of it), the output's rounding to fp16 (an ulp,
    at most 2^-10 of |exact|) and the smallest fp16 subnormal. A weight packed in the wrong place moves
    an output by about its own size, far past this."""
    return magnitude_sum * (2.0**-10 + (K / 8 + 41) * 2.0**-24) + exact.abs() * 2.0**-10 + 2.0**-24


@dataclass
class Check:
    max_error: float
    worst_fraction_of_bound: float  # the largest |got - exact| / bound; at most 1 to pass

    def as_dict(self) -> dict:
        return {"max_error": self.max_error, "worst_fraction_of_bound": self.worst_fraction_of_bound}


def check_output(got: torch.Tensor, exact: torch.Tensor, magnitude_sum: torch.Tensor, K: int, what: str) -> Check:
    """Raises CheckFailed naming `what` and the worst element unless every element of `got` is finite and
    within error_bound."""
    if tuple(got.shape) != tuple(exact.shape):
        raise CheckFailed(f"{what}: output shape {tuple(got.shape)}, expected {tuple(exact.shape)}")
    not_finite = (~torch.isfinite(got)).nonzero()
    if len(not_finite):
        row, column = (int(i) for i in not_finite[0])
        raise CheckFailed(f"{what}: output [{row}, {column}] is {got[row, column].item()}, expected "
                          f"{exact[row, column].item():.6g} ({len(not_finite)} outputs not finite)")
    error = (got.double() - exact).abs()
    fraction = error / error_bound(exact, magnitude_sum, K)
    row, column = divmod(int(fraction.argmax()), exact.shape[1])
    check = Check(float(error.max()), float(fraction[row, column]))
    if check.worst_fraction_of_bound > 1.0:
        raise CheckFailed(f"{what}: output [{row}, {column}] is {got[row, column].item():.6g}, expected "
                          f"{exact[row, column].item():.6g}: its error {error[row, column].item():.3g} is "
                          f"{check.worst_fraction_of_bound:.3g}x the bound ({int((fraction > 1).sum())} outputs past it)")
    return check


# ---- timing ----------------------------------------------------------------------------------------

def l2_bytes(properties) -> int:
    """The L2 size torch reports for the device, else FALLBACK_L2_BYTES."""
    size = int(getattr(properties, "L2_cache_size", 0) or 0)
    return size if size > 0 else FALLBACK_L2_BYTES


def copies_past_l2(operand_bytes: int, l2: int) -> int:
    """Copies of the weight operands such that one pass over them exceeds twice the L2, so that every
    launch reads its weights from memory: the rule of bench_matmul's rotation (runtime/timing.cpp)."""
    return min(max((2 * l2 + operand_bytes - 1) // max(operand_bytes, 1) + 1, 2), 64)


def launches_per_graph(copies: int, at_least: int) -> int:
    """A whole number of passes over the copies, so that every copy is read equally often."""
    return copies * math.ceil(at_least / copies)


def operand_bytes(operands: tuple) -> int:
    return sum(t.numel() * t.element_size() for t in operands if t is not None)


def rotated(operands: tuple, l2: int) -> list[tuple]:
    copies = copies_past_l2(operand_bytes(operands), l2)
    return [operands] + [tuple(t.clone() if t is not None else None for t in operands) for _ in range(copies - 1)]


@dataclass(frozen=True)
class TimingPlan:
    launches: int
    warmup: int
    batches: int


def time_per_launch_us(launch: Callable[[int], object], copies: int, plan: TimingPlan) -> float:
    """Median µs per launch of a CUDA graph of launches_per_graph() launches (launch(i) runs on copy i)."""
    for i in range(copies):  # eagerly first: anything done once per operand set stays out of the graph
        launch(i)
    torch.cuda.synchronize()
    count = launches_per_graph(copies, plan.launches)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(count):
            launch(i % copies)
    for _ in range(plan.warmup):
        graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(plan.batches):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / count)
    return statistics.median(times)


# ---- the implementations ---------------------------------------------------------------------------

@dataclass
class Runner:
    """One implementation's kernel for one (format, shape): call(operands, A, C) writes C = A . W^T."""
    call: Callable[[tuple, torch.Tensor, torch.Tensor], object]
    operands: tuple  # the weight operands it reads (W, scales, zeros, ...), rotated when timed
    detail: Callable[[int], dict] = field(default=lambda M: {})  # recorded in results.json per M


def measure(runner: Runner, A: torch.Tensor, N: int, exact: torch.Tensor, magnitude_sum: torch.Tensor,
            what: str, l2: int, plan: TimingPlan) -> dict:
    """Checks one launch against the reference, then times the rotated operands."""
    C = torch.full((A.shape[0], N), float("nan"), dtype=torch.float16, device=A.device)  # unwritten: NaN
    runner.call(runner.operands, A, C)
    check = check_output(C, exact, magnitude_sum, A.shape[1], what)
    operand_sets = rotated(runner.operands, l2)
    us = time_per_launch_us(lambda i: runner.call(operand_sets[i], A, C), len(operand_sets), plan)
    return {"us": us, "copies": len(operand_sets), "check": check.as_dict(), **runner.detail(A.shape[0])}


def cublas_runner(values: torch.Tensor) -> Runner:
    """torch.mm on fp16 weights [N, K] (the dequantized values rounded to fp16): cuBLAS's fp16 GEMM."""
    weight = values.half().contiguous()
    return Runner(call=lambda operands, A, C: torch.mm(A, operands[0].T, out=C), operands=(weight,))


def bitjit_zeros_mode(format: Format) -> Optional[str]:
    if not format.zeros:
        return None
    return "quantized" if format.quantized_zeros else "original"


def bitjit_zeros(bitjit, format: Format, zeros: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """The zero points [N, groups] as bitjit's config takes them, on their device: zeros_mode "original"
    as values in the scales' type; "quantized" as 4-bit codes [groups, N / 2] bytes packed along N by
    bitjit.quantization.general_compress (docs/formats.md)."""
    if zeros is None:
        return None
    if not format.quantized_zeros:
        return zeros.half()
    packed = bitjit.quantization.general_compress(zeros.T.contiguous(), source_bits=4, storage_dtype=numpy.uint8)
    return torch.from_numpy(packed).to(zeros.device)


def bitjit_runner(bitjit, format: Format, shape: Shape, weights: Weights, M,
                  transformed: Optional[dict] = None) -> Runner:
    """bitjit.Matmul with its default schedules; M an int (static) or the list of buckets. transformed,
    a dict kept across the Ms of one case, holds the operands per weight_layout_id: Matmuls whose
    kernels read the same bytes share one transform of the weights (on the host: seconds for the 70B
    shapes)."""
    config = bitjit.MatmulConfig(M=M, N=shape.N, K=shape.K, A_dtype="float16", W_dtype=format.W_dtype,
                                 accum_dtype="float32", out_dtype="float16", layout="nt", group_size=GROUP_SIZE,
                                 with_scaling=True, with_zeros=format.zeros, zeros_mode=bitjit_zeros_mode(format))
    matmul = bitjit.Matmul(config)
    transformed = {} if transformed is None else transformed
    if matmul.weight_layout_id not in transformed:
        zeros = bitjit_zeros(bitjit, format, weights.zeros)
        transformed[matmul.weight_layout_id] = (matmul.transform_weight(weights.codes), weights.scales, zeros)
    operands = transformed[matmul.weight_layout_id]
    return Runner(call=lambda ops, A, C: matmul(A, ops[0], scale=ops[1], zeros=ops[2], output=C),
                  operands=operands,
                  detail=lambda rows: {"schedule": matmul.schedule_for(rows)})


def linear_runner(bitjit, format: Format, shape: Shape, weights: Weights) -> Runner:
    """bitjit.Linear with its default buckets (opt_M unset), the layer a model runs. Timed through the
    operator its forward calls (bitjit.ops.call with the layer's config), on rotated copies of its
    buffers."""
    layer = bitjit.Linear(shape.K, shape.N, bias=False, A_dtype="float16", W_dtype=format.W_dtype,
                          accum_dtype="float32", out_dtype="float16", group_size=GROUP_SIZE, with_scaling=True,
                          with_zeros=format.zeros, zeros_mode=bitjit_zeros_mode(format))
    layer.load_and_transform_weight(weights.codes.cpu(), scales=weights.scales.cpu(),
                                    zeros=None if weights.zeros is None
                                    else bitjit_zeros(bitjit, format, weights.zeros).cpu())
    layer = layer.to(weights.codes.device)
    operands = (layer._kernel_weight, layer.scales, layer.zeros)
    return Runner(call=lambda ops, A, C: bitjit.ops.call(A, ops[0], ops[1], ops[2], None, C, layer._op_config,
                                                         layer._op_arch),
                  operands=operands,
                  detail=lambda rows: {"schedule": layer.matmul.schedule_for(rows),
                                       "buckets": json.loads(layer.config.canonical)["M"]})


def humming_checkpoint_tensors(humming, weights: Weights) -> dict:
    """Weights in humming's own checkpoint format: codes packed 8 to an int32 along K (symmetric int4 as
    offset-binary codes, value + 8: humming's dequantization subtracts 8), scales [N, groups], zero
    points packed 8 to an int32 along N ([N / 8, groups])."""
    pack = humming.ops.pack_weight
    if weights.zeros is None:
        codes = (weights.codes.to(torch.int16) + 8).to(torch.uint8)
    else:
        codes = weights.codes
    tensors = {"weight": pack(codes.contiguous(), 4), "weight_scale": weights.scales}
    if weights.zeros is not None:
        tensors["zero_point"] = pack(weights.zeros.T.contiguous(), 4).T.contiguous()
    return tensors


def humming_runner(humming, format: Format, shape: Shape, weights: Weights) -> Runner:
    """A humming layer in its own format, transformed for its kernels, called through humming_forward
    (what HummingLayer.forward runs) so that the rotated copies of its weights can be passed in."""
    from humming.forward import humming_forward
    from humming.layer import HummingLayer
    layer = HummingLayer(shape_n=shape.N, shape_k=shape.K, weight_config=format.humming_weight_config(),
                         torch_dtype=torch.float16).cuda()
    if not layer.weight_schema.is_compatible_with(layer.input_schema, torch.float16):
        major, minor = torch.cuda.get_device_capability()
        raise Unsupported(f"humming's compatibility check refuses {format.humming_weight_config()} with fp16 "
                          f"activations on sm_{major}{minor}")
    tensors = humming_checkpoint_tensors(humming, weights)
    expected = set(layer.state_dict())
    if not set(tensors) <= expected:  # load_from_tensors ignores unknown names: never silently
        raise RuntimeError(f"humming's layer takes {sorted(expected)}, not {sorted(set(tensors) - expected)}")
    layer.load_from_tensors(tensors)
    layer.transform()
    operands = (layer.weight, layer.weight_scale, getattr(layer, "zero_point", None))
    return Runner(call=lambda ops, A, C: humming_forward(layer.humming_config, inputs=A, weight=ops[0],
                                                         weight_scale=ops[1], zero_point=ops[2], outputs=C,
                                                         locks=layer.locks),
                  operands=operands)


def outcome(name: str, what: str, attempt: Callable[[], dict], unsupported: tuple = ()) -> dict:
    """attempt()'s result, or {"skipped": reason} for an `unsupported` exception, or {"failed": reason}."""
    try:
        return attempt()
    except CheckFailed as error:
        print(f"FAILED {name} {what}: {error}", flush=True)
        return {"failed": str(error)}
    except unsupported as error:
        reason = f"{type(error).__name__}: {error}".strip().splitlines()[0]
        print(f"skipped {name} {what}: {reason}", flush=True)
        return {"skipped": reason}
    except Exception as error:  # noqa: BLE001 - recorded as a failure of this case, the run goes on
        print(f"FAILED {name} {what}: {type(error).__name__}: {error}", flush=True)
        return {"failed": f"{type(error).__name__}: {error}"}


def prepared(name: str, what: str, prepare: Callable[[], Runner], unsupported: tuple = ()) -> Runner | dict:
    """prepare()'s Runner, or the outcome dict of its failure (reused for every M of the case)."""
    result: dict = {}

    def attempt() -> dict:
        result["runner"] = prepare()
        return {}
    failure = outcome(name, what, attempt, unsupported)
    return result.get("runner", failure)


# ---- results ---------------------------------------------------------------------------------------

def speed_ratios(row: dict) -> dict:
    """Speed of the first named over the second (time of the second / time of the first); None when
    either was not timed."""
    us = {name: row[name].get("us") for name in IMPLEMENTATIONS}
    ratio = (lambda fast, slow: us[slow] / us[fast] if us[fast] and us[slow] else None)
    return {"humming_vs_cublas": ratio("humming", "cublas_fp16"), "bitjit_vs_cublas": ratio("bitjit", "cublas_fp16"),
            "bitjit_vs_humming": ratio("bitjit", "humming")}


TABLE_HEADER = ("| format | shape | M | cuBLAS fp16 µs | humming µs | bitjit µs | humming vs cuBLAS | "
                "bitjit vs cuBLAS | bitjit vs humming | bitjit family |")
TABLE_RULE = "|---|---|---|---|---|---|---|---|---|---|"


def cell_time(result: dict) -> str:
    if "us" in result:
        return f"{result['us']:.1f}"
    return "skipped" if "skipped" in result else "FAILED"


def cell_ratio(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}x"


def table_line(row: dict) -> str:
    ratios = row["ratios"]
    family = row["bitjit"].get("schedule", {}).get("family", "–")
    return (f"| {row['format']} | {row['shape']} | {row['M']} | {cell_time(row['cublas_fp16'])} | "
            f"{cell_time(row['humming'])} | {cell_time(row['bitjit'])} | {cell_ratio(ratios['humming_vs_cublas'])} | "
            f"{cell_ratio(ratios['bitjit_vs_cublas'])} | {cell_ratio(ratios['bitjit_vs_humming'])} | {family} |")


def row_notes(row: dict) -> list[str]:
    """One line per implementation skipped or failed in this row, with the reason."""
    return [f"- {name}, {row['format']} {row['shape']} M={row['M']}: {kind}: {row[name][kind]}"
            for name in IMPLEMENTATIONS for kind in ("skipped", "failed") if kind in row[name]]


def markdown_report(meta: dict, rows: list[dict]) -> str:
    bitjit_m = f"dynamic M, buckets {meta['Ms']}" if meta["dynamic"] else "static M"
    if meta.get("linear"):
        bitjit_m = "bitjit.Linear with its default buckets"
    lines = [f"# bitjit beside humming and cuBLAS fp16 on {meta['device']}, {meta['date']}", "",
             f"One process (bench/peers.py): torch {meta['torch']}, humming-kernels {meta['humming']}, bitjit "
             f"{meta['bitjit']} ({bitjit_m}, default schedules). Weights (+ scales, zero points) rotated past twice "
             f"the {meta['l2_bytes'] / 2**20:.0f} MiB L2, a CUDA graph of at least {meta['launches']} launches "
             f"replayed {meta['warmup']} times to warm up, then the median of {meta['batches']} replays; every "
             f"case first checked against a float64 reference on the dequantized weights. Seed {meta['seed']}.", "",
             "Times in µs per launch; ratios are speeds (the second's time over the first's): above 1 the first "
             "is faster.", "", TABLE_HEADER, TABLE_RULE]
    lines += [table_line(row) for row in rows]
    warm_up = meta.get("humming_warm_up", {})
    if warm_up.get("threads"):
        lines += ["", f"humming's kernels were compiled before the timing ({warm_up['cases']} cases on "
                      f"{warm_up['threads']} threads in {warm_up['seconds']} s, {warm_up['failed']} failed or skipped "
                      "there), so its per-row seconds leave its JIT out."]
    if not meta.get("complete", True):
        lines += ["", f"Partial: {len(rows)} of the {meta['cases_planned']} cases planned; the run had not finished "
                      "when these results were written."]
    notes = [note for row in rows for note in row_notes(row)]
    if notes:
        lines += ["", "Skipped and failed:", ""] + notes
    return "\n".join(lines) + "\n"


def write_results(out: pathlib.Path, meta: dict, rows: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
    (out / "results.md").write_text(markdown_report(meta, rows))


def summary(rows: list[dict], out: pathlib.Path) -> str:
    compared = [row["ratios"]["bitjit_vs_humming"] for row in rows if row["ratios"]["bitjit_vs_humming"] is not None]
    skipped = sum("skipped" in row[name] for row in rows for name in IMPLEMENTATIONS)
    failed = sum("failed" in row[name] for row in rows for name in IMPLEMENTATIONS)
    return (f"peers: {len(rows)} cases; bitjit at least humming's speed in {sum(r >= 1.0 for r in compared)} of "
            f"{len(compared)} compared; {skipped} skipped, {failed} failed; {out / 'results.md'}")


# ---- the run ---------------------------------------------------------------------------------------

def import_peers():
    """(humming, bitjit), or exits naming the missing package."""
    try:
        import humming
        import humming.forward  # noqa: F401
        import humming.layer  # noqa: F401
    except ImportError as error:
        sys.exit(f"bench/peers.py: the humming-kernels package is required (import humming failed: {error}); "
                 "pip install humming-kernels, or on the GPU machine run scripts/fetch-peer-wheels.sh first and "
                 "carry .whl-peers (docs/device-runs.md, the peers step)")
    try:
        import bitjit
    except ImportError as error:
        sys.exit(f"bench/peers.py: bitjit's Python package is required (import bitjit failed: {error}); build with "
                 "the Python extension and put build/python on PYTHONPATH (docs/python.md)")
    return humming, bitjit


@dataclass
class Session:
    """What every case of one run shares."""
    args: argparse.Namespace
    humming: object
    bitjit: object
    generator: torch.Generator
    l2: int
    plan: TimingPlan
    device: str = "cuda"
    cublas_done: dict = field(default_factory=dict)  # (shape, M) -> result: cuBLAS does not depend on the format


def timed(session: Session, name: str, runner: Runner | dict, what: str, A: torch.Tensor, N: int,
          exact: torch.Tensor, magnitude_sum: torch.Tensor, unsupported: tuple = ()) -> dict:
    """measure()'s outcome, or the outcome of the runner's preparation when that failed or was skipped."""
    if isinstance(runner, dict):
        return runner
    return outcome(name, what, lambda: measure(runner, A, N, exact, magnitude_sum, what, session.l2, session.plan),
                   unsupported)


class Stopwatch:
    """Wall seconds spent per implementation (preparing its kernel, a JIT compile included, checking and
    timing), read and restarted per row: where a run's time goes, for fitting runs into a time limit."""

    def __init__(self):
        self.seconds = {name: 0.0 for name in IMPLEMENTATIONS}

    def run(self, name: str, work: Callable[[], object]):
        start = time.monotonic()
        try:
            return work()
        finally:
            self.seconds[name] += time.monotonic() - start

    def take(self) -> dict:
        taken, self.seconds = self.seconds, {name: 0.0 for name in IMPLEMENTATIONS}
        return {name: round(value, 3) for name, value in taken.items()}


def run_case(session: Session, format: Format, shape: Shape,
             on_row: Callable[[dict], None] = lambda row: None) -> list[dict]:
    """The rows of one (format, shape): every M of the run, the three implementations each; on_row(row)
    after each (the run writes its results there, so a time limit loses at most one row)."""
    args, device, case = session.args, session.device, f"{format.name} {shape.name}"
    clock = Stopwatch()
    weights = random_weights(format, shape.N, shape.K, session.generator, device)
    values, magnitudes = dequantized(weights)
    humming_case = clock.run("humming", lambda: prepared(
        "humming", case, lambda: humming_runner(session.humming, format, shape, weights), unsupported=(Exception,)))
    cublas_case = None
    if any((shape.name, M) not in session.cublas_done for M in args.Ms):
        cublas_case = clock.run("cublas_fp16", lambda: prepared("cublas_fp16", case, lambda: cublas_runner(values)))
    dynamic_case = None
    if args.dynamic == "yes":
        dynamic_case = clock.run("bitjit", lambda: prepared(
            "bitjit", case, lambda: bitjit_runner(session.bitjit, format, shape, weights, args.Ms)))
    elif args.dynamic == "linear":
        dynamic_case = clock.run("bitjit", lambda: prepared(
            "bitjit", case, lambda: linear_runner(session.bitjit, format, shape, weights)))
    rows = []
    transformed = {}  # the case's weights per layout, shared by its static Matmuls (bitjit_runner)
    for M in args.Ms:
        what = f"{case} M={M}"
        A = random_activations(M, shape.K, session.generator, device)
        exact, magnitude_sum = reference(A, values, magnitudes)
        operands = (what, A, shape.N, exact, magnitude_sum)
        if (shape.name, M) not in session.cublas_done:
            session.cublas_done[shape.name, M] = clock.run(
                "cublas_fp16", lambda: timed(session, "cublas_fp16", cublas_case, *operands))
        bitjit_case = dynamic_case if dynamic_case is not None else clock.run("bitjit", lambda: prepared(
            "bitjit", what, lambda: bitjit_runner(session.bitjit, format, shape, weights, M, transformed)))
        row = {"format": format.name, "shape": shape.name, "N": shape.N, "K": shape.K, "M": M,
               "cublas_fp16": session.cublas_done[shape.name, M],
               "humming": clock.run("humming", lambda: timed(session, "humming", humming_case, *operands,
                                                             unsupported=(Exception,))),
               "bitjit": clock.run("bitjit", lambda: timed(session, "bitjit", bitjit_case, *operands))}
        row["ratios"] = speed_ratios(row)
        row["seconds"] = clock.take()
        print(table_line(row), flush=True)
        print("  seconds: " + ", ".join(f"{name} {value:.1f}" for name, value in row["seconds"].items()),
              file=sys.stderr, flush=True)
        rows.append(row)
        on_row(row)
    return rows


def zero_weights(format: Format, N: int, K: int, device) -> Weights:
    """Weights of the format's types and shapes, all codes 0 and scales 1: a kernel's inputs, not a test's."""
    groups = K // GROUP_SIZE
    code_type = torch.uint8 if format.zeros else torch.int8
    zeros = torch.zeros((N, groups), device=device, dtype=torch.uint8) if format.zeros else None
    return Weights(torch.zeros((N, K), device=device, dtype=code_type),
                   torch.ones((N, groups), device=device, dtype=torch.float16), zeros)


def warm_humming_case(session: Session, format: Format, shape: Shape) -> None:
    """humming's layer for one (format, shape), prepared and run once at each M of the run."""
    runner = humming_runner(session.humming, format, shape, zero_weights(format, shape.N, shape.K, session.device))
    for M in session.args.Ms:
        A = torch.zeros((M, shape.K), dtype=torch.float16, device=session.device)
        C = torch.empty((M, shape.N), dtype=torch.float16, device=session.device)
        runner.call(runner.operands, A, C)
    if torch.device(session.device).type == "cuda":
        torch.cuda.synchronize()  # an asynchronous failure is this case's, not a later one's


def warm_humming(session: Session) -> dict:
    """Prepares every (format, shape)'s humming layer and runs it at each M before anything is timed,
    --warm-humming cases at a time, so that its JIT compiles (in subprocesses) run side by side rather
    than one after another in the timed loop. Returns what it did, for the results' meta; prints each
    case that failed (the timed loop prepares it again and records the outcome)."""
    cases = [(format, shape) for shape in session.args.shapes for format in session.args.formats]
    threads = min(session.args.warm_humming, len(cases))
    if threads == 0:
        return {"threads": 0}
    start = time.monotonic()

    def warm(case) -> Optional[str]:
        format, shape = case
        try:
            warm_humming_case(session, format, shape)
            return None
        except Unsupported as refusal:
            return f"{format.name} {shape.name}: skipped: {refusal}"
        except Exception as error:  # recorded by the timed loop; here only said
            return f"{format.name} {shape.name}: {type(error).__name__}: {error}"
    with ThreadPoolExecutor(max_workers=threads) as pool:
        failures = [failure for failure in pool.map(warm, cases) if failure is not None]
    if torch.device(session.device).type == "cuda":
        torch.cuda.empty_cache()
    seconds = round(time.monotonic() - start, 1)
    for failure in failures:
        print(f"humming warm-up: {failure}", file=sys.stderr, flush=True)
    print(f"humming warm-up: {len(cases)} cases on {threads} threads in {seconds} s, "
          f"{len(failures)} failed or skipped", file=sys.stderr, flush=True)
    return {"threads": threads, "cases": len(cases), "failed": len(failures), "seconds": seconds}


def run(args: argparse.Namespace, humming, bitjit) -> tuple[dict, list[dict]]:
    properties = torch.cuda.get_device_properties(torch.device("cuda"))
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    generator = torch.Generator(device="cuda")
    generator.manual_seed(seed)
    session = Session(args, humming, bitjit, generator, l2_bytes(properties),
                      TimingPlan(args.launches, args.warmup, args.batches))
    meta = {"device": properties.name, "arch": bitjit.auto_detect_nvidia_target(),
            "sm_count": properties.multi_processor_count, "l2_bytes": session.l2,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"), "torch": torch.__version__,
            "humming": getattr(humming, "__version__", "unknown"), "bitjit": bitjit.__version__, "seed": seed,
            "Ms": args.Ms, "dynamic": args.dynamic != "no", "linear": args.dynamic == "linear", "launches": args.launches, "warmup": args.warmup,
            "batches": args.batches,
            # torch's default lets cuBLAS's fp16 GEMM reduce split-K partial sums in fp16: recorded, not changed.
            "cublas_fp16_reduced_precision_reduction": torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction}
    print(f"{meta['device']} ({meta['arch']}), {meta['sm_count']} SMs, L2 {session.l2 / 2**20:.0f} MiB; torch "
          f"{meta['torch']}, humming-kernels {meta['humming']}, bitjit {meta['bitjit']}; seed {seed}", flush=True)
    print(TABLE_HEADER + "\n" + TABLE_RULE, flush=True)
    meta["cases_planned"] = len(args.shapes) * len(args.formats) * len(args.Ms)
    meta["complete"] = False
    meta["humming_warm_up"] = warm_humming(session)
    rows = []

    def keep(row: dict) -> None:  # what is done so far, marked partial: a run stopped by a time limit keeps it
        rows.append(row)
        write_results(args.out, meta, rows)
    for shape in args.shapes:
        for format in args.formats:
            run_case(session, format, shape, keep)
            torch.cuda.empty_cache()  # the case's weights and copies are gone: keep the next one's room
    meta["complete"] = True
    return meta, rows


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    humming, bitjit = import_peers()
    if not torch.cuda.is_available():
        print("bench/peers.py: no CUDA device for torch (the peers run on the GPU)", file=sys.stderr)
        return 2
    meta, rows = run(args, humming, bitjit)
    write_results(args.out, meta, rows)
    print(summary(rows, args.out), flush=True)
    return 1 if any("failed" in row[name] for row in rows for name in IMPLEMENTATIONS) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
