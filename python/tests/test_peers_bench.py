"""bench/peers.py (bitjit beside humming and cuBLAS) without a GPU: its arguments, the suite it reads from
bench_matmul, the L2 rotation, the reference check on small CPU tensors, humming's checkpoint layout,
the table and JSON it writes, and its message when humming-kernels is missing. The run itself needs a
GPU and humming-kernels (the last test; scripts/device-run.sh peers runs the whole bench). Skipped
without torch."""
import importlib.util
import json
import pathlib
import random
import sys
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

REPO = pathlib.Path(__file__).resolve().parents[2]
MiB = 2**20


def load_peers():
    spec = importlib.util.spec_from_file_location("peers_bench", REPO / "bench" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


peers = load_peers()


@pytest.fixture
def generator():
    seed = random.getrandbits(32)
    print(f"seed {seed}")
    return torch.Generator().manual_seed(seed)


# ---- arguments and the suite -----------------------------------------------------------------------

def test_the_suite_is_bench_matmuls():
    shapes = {shape.name: (shape.N, shape.K) for shape in peers.suite_shapes()}
    # Llama-3 8B and 70B: qkv, o, gate_up, down (the table names 8B down N 4096, K 14336).
    assert shapes == {"8B qkv": (6144, 4096), "8B o": (4096, 4096), "8B gate_up": (28672, 4096),
                      "8B down": (4096, 14336), "70B qkv": (10240, 8192), "70B o": (8192, 8192),
                      "70B gate_up": (57344, 8192), "70B down": (8192, 28672)}


def test_a_missing_or_changed_suite_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(RuntimeError, match="cannot read the suite's shapes from .*missing.cpp"):
        peers.suite_shapes(tmp_path / "missing.cpp")
    changed = tmp_path / "changed.cpp"
    changed.write_text('const std::vector<Shape> kShapes = {{"8B qkv", 6144, 4096}};\n')
    with pytest.raises(RuntimeError, match="no kSuite table .* in .*changed.cpp"):
        peers.suite_shapes(changed)


def test_defaults():
    args = peers.parse_args([])
    assert [f.name for f in args.formats] == ["int4_g128", "uint4_g128_zeros", "uint4_g128_qzeros"]
    assert [s.name for s in args.shapes] == [s.name for s in peers.suite_shapes()]
    assert args.Ms == [1, 16, 64]
    assert args.dynamic == "no"
    assert args.out == pathlib.Path("peers-out")
    assert (args.seed, args.launches, args.warmup, args.batches) == (None, 20, 3, 10)
    assert args.warm_humming == 8


def test_selections_as_bench_matmul_takes_them():
    args = peers.parse_args(["--shapes", "70b", "--M", "1,4096", "--formats", "uint4_g128_zeros", "--dynamic", "yes",
                             "--out", "x", "--seed", "7"])
    assert [s.name for s in args.shapes] == ["70B qkv", "70B o", "70B gate_up", "70B down"]
    assert args.Ms == [1, 4096]
    assert [f.name for f in args.formats] == ["uint4_g128_zeros"]
    assert (args.dynamic, args.out, args.seed) == ("yes", pathlib.Path("x"), 7)
    # Each shape once, in the order named.
    args = peers.parse_args(["--shapes", "8B_down,8b"])
    assert [s.name for s in args.shapes] == ["8B down", "8B qkv", "8B o", "8B gate_up"]


@pytest.mark.parametrize("argv, named", [
    (["--M", "0"], "M must be positive integers separated by commas: expected a positive integer, got 0"),
    (["--M", "1,x"], "got 'x'"),
    (["--formats", "int3_g128"], "unknown format 'int3_g128'; allowed: int4_g128, uint4_g128_zeros, uint4_g128_qzeros"),
    (["--shapes", "9B_qkv"], "unknown shape '9B_qkv'; allowed: all, 8b, 70b, 8B_qkv"),
    (["--launches", "0"], "expected a positive integer, got 0"),
    (["--dynamic", "maybe"], "invalid choice: 'maybe'"),
    (["--warm-humming", "-1"], "expected a whole number from 0 to 64, got -1"),
    (["--warm-humming", "65"], "expected a whole number from 0 to 64, got 65"),
    (["--warm-humming", "x"], "expected a whole number from 0 to 64, got 'x'"),
])
def test_bad_arguments_name_the_option_and_the_value(argv, named, capsys):
    with pytest.raises(SystemExit) as exit:
        peers.parse_args(argv)
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert argv[0] in error and named in error


# ---- the L2 rotation -------------------------------------------------------------------------------

def test_l2_size_from_torch_else_120_mib():
    assert peers.l2_bytes(SimpleNamespace(L2_cache_size=60 * MiB)) == 60 * MiB
    assert peers.l2_bytes(SimpleNamespace()) == 120 * MiB
    assert peers.l2_bytes(SimpleNamespace(L2_cache_size=0)) == 120 * MiB


def test_rotated_copies_exceed_twice_the_l2():
    l2 = 60 * MiB
    assert peers.copies_past_l2(2 * l2, l2) == 2  # never fewer than two: consecutive launches read different copies
    assert peers.copies_past_l2(l2, l2) == 3
    assert peers.copies_past_l2(1, l2) == 64  # at most 64 (tiny weights)
    rng = random.Random(random.getrandbits(32))
    for _ in range(1000):
        size = rng.randint(1, 4 * l2)
        copies = peers.copies_past_l2(size, l2)
        assert 2 <= copies <= 64
        # Even without the copy a launch reads, the others fill twice the L2 (unless capped at 64).
        assert (copies - 1) * size >= 2 * l2 or copies == 64
        assert (copies - 2) * size < 2 * l2 or copies == 2  # and no more copies than that takes


def test_graphs_hold_whole_passes_over_the_copies():
    assert peers.launches_per_graph(3, 20) == 21
    assert peers.launches_per_graph(64, 20) == 64
    assert peers.launches_per_graph(2, 20) == 20


def test_rotation_copies_every_tensor_operand(generator):
    W = torch.randint(0, 100, (64, 32), generator=generator, dtype=torch.int32)
    scales = torch.rand((64, 2), generator=generator).half()
    sets = peers.rotated((W, scales, None), l2=20_000)
    assert peers.operand_bytes((W, scales, None)) == 64 * 32 * 4 + 64 * 2 * 2
    assert len(sets) == peers.copies_past_l2(64 * 32 * 4 + 64 * 2 * 2, 20_000)
    assert sets[0][0] is W
    for copy in sets[1:]:
        assert copy[0].data_ptr() != W.data_ptr() and torch.equal(copy[0], W) and torch.equal(copy[1], scales)
        assert copy[2] is None


# ---- data and the reference check ------------------------------------------------------------------

def test_random_weights_lie_in_their_formats(generator):
    for format in peers.FORMATS.values():
        weights = peers.random_weights(format, 32, 256, generator, "cpu")
        assert weights.scales.shape == (32, 2) and weights.scales.dtype == torch.float16
        assert bool(((weights.scales >= 0.5) & (weights.scales <= 1.5)).all())
        if format.zeros:
            assert weights.codes.dtype == torch.uint8 and int(weights.codes.max()) <= 15
            assert weights.zeros.shape == (32, 2) and int(weights.zeros.max()) <= 15
        else:
            assert weights.codes.dtype == torch.int8 and weights.zeros is None
            assert -8 <= int(weights.codes.min()) and int(weights.codes.max()) <= 7


def test_dequantized_values_by_hand():
    codes = torch.zeros((2, 256), dtype=torch.uint8)
    codes[0, 0], codes[1, 200] = 3, 15
    scales = torch.tensor([[0.5, 2.0], [1.0, 0.25]], dtype=torch.float16)
    zeros = torch.tensor([[5, 1], [0, 9]], dtype=torch.uint8)
    values, magnitudes = peers.dequantized(peers.Weights(codes, scales, zeros))
    assert values.dtype == torch.float64 and values.shape == (2, 256)
    assert values[0, 0] == (3 - 5) * 0.5 and magnitudes[0, 0] == (3 + 5) * 0.5
    assert values[0, 130] == (0 - 1) * 2.0  # k 130 is in group 1
    assert values[1, 200] == (15 - 9) * 0.25 and magnitudes[1, 200] == (15 + 9) * 0.25
    signed = torch.tensor([[-8] * 128 + [7] * 128], dtype=torch.int8)
    values, magnitudes = peers.dequantized(peers.Weights(signed, torch.tensor([[0.5, 1.5]], dtype=torch.float16), None))
    assert values[0, 0] == -4.0 and magnitudes[0, 0] == 4.0 and values[0, 255] == 7 * 1.5


def case(format, generator, M=5, N=64, K=512):
    weights = peers.random_weights(format, N, K, generator, "cpu")
    values, magnitudes = peers.dequantized(weights)
    A = peers.random_activations(M, K, generator, "cpu")
    return weights, values, A, *peers.reference(A, values, magnitudes)


def kernel_like(A, values):
    """What a tensor-core kernel computes: weights dequantized in fp16, fp16 products summed in float32,
    the output rounded to fp16."""
    return (A.float() @ values.half().float().T).half()


@pytest.mark.parametrize("name", ["int4_g128", "uint4_g128_zeros"])
def test_check_accepts_a_kernels_roundings(name, generator):
    weights, values, A, exact, magnitude_sum = case(peers.FORMATS[name], generator)
    check = peers.check_output(kernel_like(A, values), exact, magnitude_sum, A.shape[1], "kernel")
    assert 0 < check.max_error and check.worst_fraction_of_bound <= 1.0


@pytest.mark.parametrize("name", ["int4_g128", "uint4_g128_zeros"])
def test_check_rejects_weights_out_of_place(name, generator):
    weights, values, A, exact, magnitude_sum = case(peers.FORMATS[name], generator)
    # Neighbouring k swapped in pairs (a packing order off by one), and the groups' scales of the wrong rows.
    swapped = values.view(values.shape[0], -1, 2).flip(-1).reshape(values.shape)
    other_rows = values.roll(1, dims=0)
    for wrong in (swapped, other_rows):
        with pytest.raises(peers.CheckFailed, match=r"kernel: output \[\d+, \d+\] is .* the bound"):
            peers.check_output(kernel_like(A, wrong), exact, magnitude_sum, A.shape[1], "kernel")


def test_check_names_the_element_out_of_bound_and_unwritten_outputs(generator):
    weights, values, A, exact, magnitude_sum = case(peers.FORMATS["int4_g128"], generator)
    got = exact.half()
    bound = peers.error_bound(exact, magnitude_sum, A.shape[1])
    got[3, 17] = (exact[3, 17] + 2 * bound[3, 17]).half()
    with pytest.raises(peers.CheckFailed, match=r"bitjit x: output \[3, 17\] .* \(1 outputs past it\)"):
        peers.check_output(got, exact, magnitude_sum, A.shape[1], "bitjit x")
    got = exact.half()
    got[4, 2] = float("nan")
    with pytest.raises(peers.CheckFailed, match=r"output \[4, 2\] is nan.*1 outputs not finite"):
        peers.check_output(got, exact, magnitude_sum, A.shape[1], "bitjit x")
    with pytest.raises(peers.CheckFailed, match=r"output shape \(5, 63\), expected \(5, 64\)"):
        peers.check_output(got[:, :63], exact, magnitude_sum, A.shape[1], "bitjit x")


def test_bitjit_zero_points_per_mode(generator):
    bitjit = pytest.importorskip("bitjit")
    weights = peers.random_weights(peers.FORMATS["uint4_g128_qzeros"], 64, 512, generator, "cpu")
    assert peers.bitjit_zeros_mode(peers.FORMATS["int4_g128"]) is None
    assert peers.bitjit_zeros_mode(peers.FORMATS["uint4_g128_zeros"]) == "original"
    assert peers.bitjit_zeros_mode(peers.FORMATS["uint4_g128_qzeros"]) == "quantized"
    values = peers.bitjit_zeros(bitjit, peers.FORMATS["uint4_g128_zeros"], weights.zeros)
    assert values.dtype == torch.float16 and torch.equal(values.to(torch.uint8), weights.zeros)
    # quantized: [groups, N / 2] bytes, channel 2j in the low nibble, 2j + 1 in the high one
    packed = peers.bitjit_zeros(bitjit, peers.FORMATS["uint4_g128_qzeros"], weights.zeros)
    assert packed.dtype == torch.uint8 and packed.shape == (4, 32)
    for group, channel in [(0, 0), (1, 5), (3, 62), (2, 63)]:
        field = (int(packed[group, channel // 2]) >> (4 * (channel % 2))) & 0xF
        assert field == int(weights.zeros[channel, group])
    assert peers.bitjit_zeros(bitjit, peers.FORMATS["int4_g128"], None) is None


def test_humming_checkpoint_layout(generator):
    """Codes go to humming's pack_weight along K, symmetric int4 as value + 8; zero points along N."""
    def pack(codes, bits):  # 8 nibbles to an int32 along the last dimension, the first in the low bits
        assert bits == 4 and codes.dtype == torch.uint8 and codes.is_contiguous()
        nibbles = codes.to(torch.int64).view(*codes.shape[:-1], -1, 8)
        return (nibbles << (4 * torch.arange(8))).sum(-1).to(torch.int64).to(torch.int32)

    def unpack(packed):
        words = packed.to(torch.int64) & 0xFFFFFFFF
        return ((words.unsqueeze(-1) >> (4 * torch.arange(8))) & 15).reshape(*packed.shape[:-1], -1)

    humming = SimpleNamespace(ops=SimpleNamespace(pack_weight=pack))
    signed = peers.random_weights(peers.FORMATS["int4_g128"], 64, 256, generator, "cpu")
    tensors = peers.humming_checkpoint_tensors(humming, signed)
    assert set(tensors) == {"weight", "weight_scale"} and tensors["weight"].shape == (64, 32)
    assert torch.equal(unpack(tensors["weight"]), signed.codes.to(torch.int64) + 8)
    assert tensors["weight_scale"] is signed.scales
    zeros = peers.random_weights(peers.FORMATS["uint4_g128_zeros"], 64, 256, generator, "cpu")
    tensors = peers.humming_checkpoint_tensors(humming, zeros)
    assert torch.equal(unpack(tensors["weight"]), zeros.codes.to(torch.int64))
    assert tensors["zero_point"].shape == (8, 2) and tensors["zero_point"].is_contiguous()
    assert torch.equal(unpack(tensors["zero_point"].T.contiguous()).T, zeros.zeros.to(torch.int64))


# ---- outcomes and results --------------------------------------------------------------------------

def test_outcomes_are_recorded_never_dropped(capsys):
    def raises(error):
        def attempt():
            raise error
        return attempt
    assert peers.outcome("bitjit", "int4 8B o M=1", lambda: {"us": 1.0}) == {"us": 1.0}
    skipped = peers.outcome("humming", "case", raises(AssertionError("no kernel\nfor this")), unsupported=(Exception,))
    assert skipped == {"skipped": "AssertionError: no kernel"}
    assert peers.outcome("humming", "case", raises(peers.CheckFailed("off")), unsupported=(Exception,)) == {
        "failed": "off"}
    assert peers.outcome("bitjit", "case", raises(ValueError("bad"))) == {"failed": "ValueError: bad"}
    printed = capsys.readouterr().out
    assert "skipped humming case: AssertionError: no kernel" in printed
    assert "FAILED humming case: off" in printed and "FAILED bitjit case: ValueError: bad" in printed


def row(M, cublas, humming, bitjit):
    result = {"format": "int4_g128", "shape": "70B down", "N": 8192, "K": 28672, "M": M,
              "cublas_fp16": cublas, "humming": humming, "bitjit": bitjit}
    result["ratios"] = peers.speed_ratios(result)
    return result


def test_results_table_and_json(tmp_path):
    rows = [row(1, {"us": 111.0}, {"us": 37.0}, {"us": 48.0, "schedule": {"family": "tensor_gemv"}}),
            row(16, {"us": 113.8}, {"skipped": "AssertionError: no config"}, {"us": 99.0, "schedule": {"family": "x"}}),
            row(64, {"us": 120.0}, {"us": 70.0}, {"failed": "int4_g128 70B down M=64: output [0, 1] is 3"})]
    assert rows[0]["ratios"] == {"humming_vs_cublas": 3.0, "bitjit_vs_cublas": 111.0 / 48.0,
                                 "bitjit_vs_humming": 37.0 / 48.0}
    assert rows[1]["ratios"]["bitjit_vs_humming"] is None and rows[2]["ratios"]["bitjit_vs_cublas"] is None
    meta = {"device": "NVIDIA H200", "date": "2026-11-29", "torch": "2.11", "humming": "0.1.20", "bitjit": "0.9",
            "dynamic": False, "Ms": [1, 16, 64], "l2_bytes": 60 * MiB, "launches": 20, "warmup": 3, "batches": 10,
            "seed": 5}
    peers.write_results(tmp_path / "out", meta, rows)
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == {**meta, "rows": rows}
    table = (tmp_path / "out" / "results.md").read_text()
    assert "NVIDIA H200, 2026-11-29" in table and "60 MiB L2" in table and "static M" in table
    assert peers.TABLE_HEADER in table
    assert "| int4_g128 | 70B down | 1 | 111.0 | 37.0 | 48.0 | 3.00x | 2.31x | 0.77x | tensor_gemv |" in table
    assert "| int4_g128 | 70B down | 16 | 113.8 | skipped | 99.0 | – | 1.15x | – | x |" in table
    assert "| int4_g128 | 70B down | 64 | 120.0 | 70.0 | FAILED | 1.71x | – | – | – |" in table
    assert "- humming, int4_g128 70B down M=16: skipped: AssertionError: no config" in table
    assert "- bitjit, int4_g128 70B down M=64: failed: int4_g128 70B down M=64: output [0, 1] is 3" in table
    assert peers.summary(rows, tmp_path) == (f"peers: 3 cases; bitjit at least humming's speed in 0 of 1 compared; "
                                             f"1 skipped, 1 failed; {tmp_path / 'results.md'}")


def test_partial_results_say_so(tmp_path):
    rows = [row(1, {"us": 111.0}, {"us": 37.0}, {"us": 48.0, "schedule": {"family": "tensor_gemv"}})]
    meta = {"device": "NVIDIA H200", "date": "2026-11-29", "torch": "2.11", "humming": "0.1.20", "bitjit": "0.9",
            "dynamic": False, "Ms": [1, 16, 64], "l2_bytes": 60 * MiB, "launches": 20, "warmup": 3, "batches": 10,
            "seed": 5, "cases_planned": 48, "complete": False}
    peers.write_results(tmp_path, meta, rows)
    assert json.loads((tmp_path / "results.json").read_text())["complete"] is False
    assert "Partial: 1 of the 48 cases planned" in (tmp_path / "results.md").read_text()
    peers.write_results(tmp_path, {**meta, "complete": True}, rows)
    assert "Partial" not in (tmp_path / "results.md").read_text()


def test_a_run_on_the_cpu_with_stand_ins(monkeypatch, generator, capsys):
    """run_case's bookkeeping with the GPU parts replaced: cuBLAS (torch.mm on the CPU) timed once per
    (shape, M) across formats, a humming that raises skipped for every M of the case, a wrong bitjit
    output a failure, a dynamic bitjit Matmul prepared once per (format, shape)."""
    def fake_humming(humming, format, shape, weights):
        if format.zeros:
            raise AssertionError("zero points are not supported here")
        values = peers.dequantized(weights)[0]
        return peers.Runner(call=lambda ops, A, C: C.copy_(kernel_like(A, ops[0])), operands=(values,))

    prepared_bitjit = []

    def fake_bitjit(bitjit, format, shape, weights, M, transformed=None):
        prepared_bitjit.append((format.name, M))
        values = peers.dequantized(weights)[0]
        wrong = values.roll(1, dims=0)  # every M of int4 right, uint4 wrong

        def call(ops, A, C):
            C.copy_(kernel_like(A, ops[1] if format.zeros else ops[0]))
        return peers.Runner(call=call, operands=(values, wrong), detail=lambda rows: {"schedule": {"family": "f"}})
    timed_copies = []

    def fake_timing(launch, copies, plan):
        for i in range(copies):
            launch(i)
        timed_copies.append(copies)
        return 10.0 + len(timed_copies)
    monkeypatch.setattr(peers, "humming_runner", fake_humming)
    monkeypatch.setattr(peers, "bitjit_runner", fake_bitjit)
    monkeypatch.setattr(peers, "time_per_launch_us", fake_timing)
    suite = [peers.Shape("tiny", 64, 256)]
    args = peers.parse_args(["--shapes", "tiny", "--M", "1,3", "--dynamic", "yes", "--formats", "int4_g128,uint4_g128_zeros"],
                            suite=suite)
    session = peers.Session(args, None, None, generator, l2=4096, plan=peers.TimingPlan(2, 1, 1), device="cpu")
    reported = []
    rows = [r for format in args.formats for r in peers.run_case(session, format, suite[0], reported.append)]
    assert reported == rows  # each row handed on as it is done
    assert [(r["format"], r["M"]) for r in rows] == [("int4_g128", 1), ("int4_g128", 3), ("uint4_g128_zeros", 1),
                                                     ("uint4_g128_zeros", 3)]
    for r in rows:  # wall seconds per implementation, every row
        assert set(r["seconds"]) == set(peers.IMPLEMENTATIONS) and all(t >= 0 for t in r["seconds"].values())
    assert prepared_bitjit == [("int4_g128", [1, 3]), ("uint4_g128_zeros", [1, 3])]  # one dynamic Matmul each
    assert rows[0]["cublas_fp16"] is rows[2]["cublas_fp16"] and rows[1]["cublas_fp16"] is rows[3]["cublas_fp16"]
    for r in rows:
        assert r["cublas_fp16"]["check"]["worst_fraction_of_bound"] <= 1.0
        assert r["cublas_fp16"]["copies"] == peers.copies_past_l2(64 * 256 * 2, 4096)
    assert rows[0]["humming"]["us"] > 0 and rows[0]["bitjit"]["schedule"] == {"family": "f"}
    assert rows[0]["ratios"]["bitjit_vs_humming"] == rows[0]["humming"]["us"] / rows[0]["bitjit"]["us"]
    for r in rows[2:]:
        assert r["humming"] == {"skipped": "AssertionError: zero points are not supported here"}
        assert r["bitjit"]["failed"].startswith(f"uint4_g128_zeros tiny M={r['M']}: output [")
    printed = capsys.readouterr().out
    assert printed.count("skipped humming uint4_g128_zeros tiny:") == 1  # reported once, recorded per M
    assert printed.count("FAILED bitjit uint4_g128_zeros tiny M=") == 2
    assert "| int4_g128 | tiny | 1 |" in printed


def test_humming_warms_every_case_at_every_m_before_the_timing(monkeypatch, capsys):
    """Every (format, shape) prepared once on zero weights of its types and shapes, called once per M with
    outputs of [M, N], several at a time; a refusal said as skipped, a failure named, neither fatal;
    --warm-humming 0 prepares nothing. The markdown says the per-row seconds leave humming's JIT out."""
    calls = []

    def fake_humming(humming, format, shape, weights):
        assert weights.codes.shape == (shape.N, shape.K) and not weights.codes.any()
        assert weights.codes.dtype == (torch.uint8 if format.zeros else torch.int8)
        assert weights.scales.shape == (shape.N, shape.K // 128) and bool((weights.scales == 1).all())
        assert (weights.zeros is not None) == format.zeros
        if shape.name == "refused":
            raise peers.Unsupported("not this one")
        if shape.name == "broken" and format.zeros:
            raise RuntimeError("no kernel")

        def call(ops, A, C):
            assert A.shape == (A.shape[0], shape.K) and C.shape == (A.shape[0], shape.N)
            calls.append((format.name, shape.name, A.shape[0]))
        return peers.Runner(call=call, operands=())
    monkeypatch.setattr(peers, "humming_runner", fake_humming)
    suite = [peers.Shape("tiny", 64, 256), peers.Shape("refused", 32, 128), peers.Shape("broken", 16, 128)]
    args = peers.parse_args(["--shapes", "all", "--M", "1,3", "--formats", "int4_g128,uint4_g128_zeros",
                             "--warm-humming", "4"], suite=suite)
    session = peers.Session(args, None, None, None, l2=4096, plan=peers.TimingPlan(2, 1, 1), device="cpu")
    done = peers.warm_humming(session)
    assert sorted(calls) == sorted((f, s, M) for f in ("int4_g128", "uint4_g128_zeros") for s in ("tiny", "broken")
                                   if (f, s) != ("uint4_g128_zeros", "broken") for M in (1, 3))
    assert done["threads"] == 4 and done["cases"] == 6 and done["failed"] == 3 and done["seconds"] >= 0
    said = capsys.readouterr().err
    assert "humming warm-up: int4_g128 refused: skipped: not this one" in said
    assert "humming warm-up: uint4_g128_zeros broken: RuntimeError: no kernel" in said
    assert "humming warm-up: 6 cases on 4 threads in" in said and "3 failed or skipped" in said
    meta = {"device": "d", "date": "x", "torch": "t", "humming": "h", "bitjit": "b", "dynamic": False, "Ms": [1, 3],
            "l2_bytes": MiB, "launches": 2, "warmup": 1, "batches": 1, "seed": 1, "humming_warm_up": done}
    assert "humming's kernels were compiled before the timing (6 cases on 4 threads in" in peers.markdown_report(meta, [])

    calls.clear()
    session.args = peers.parse_args(["--shapes", "all", "--warm-humming", "0"], suite=suite)
    assert peers.warm_humming(session) == {"threads": 0}
    assert calls == []
    assert "compiled before the timing" not in peers.markdown_report({**meta, "humming_warm_up": {"threads": 0}}, [])


def test_static_matmuls_of_one_layout_share_one_transform(generator):
    """bitjit_runner with a case's dict of transformed operands: a Matmul whose weight_layout_id was
    transformed before takes those operands (the same tensors) instead of transforming again; another
    layout gets its own."""
    transforms = []

    class Matmul:
        def __init__(self, config):
            self.weight_layout_id = "runs of 8" if config.M != 64 else "fragments"

        def transform_weight(self, codes):
            transforms.append(self.weight_layout_id)
            return codes.clone()

        def schedule_for(self, rows):
            return {"family": "f"}

    fake = SimpleNamespace(MatmulConfig=lambda **fields: SimpleNamespace(**fields), Matmul=Matmul)
    format = peers.format_list("int4_g128")[0]
    shape = peers.Shape("tiny", 64, 256)
    weights = peers.random_weights(format, shape.N, shape.K, generator, "cpu")
    transformed = {}
    runners = [peers.bitjit_runner(fake, format, shape, weights, M, transformed) for M in (1, 16, 64)]
    assert transforms == ["runs of 8", "fragments"]
    assert runners[0].operands is runners[1].operands and runners[2].operands is not runners[0].operands
    assert torch.equal(runners[0].operands[0], weights.codes)
    peers.bitjit_runner(fake, format, shape, weights, 1)  # without a dict: a transform of its own
    assert transforms == ["runs of 8", "fragments", "runs of 8"]


def test_a_linear_run_prepares_one_layer_per_format_and_shape(monkeypatch, generator, tmp_path):
    """--dynamic linear: one bitjit.Linear (its default buckets) per (format, shape) serves every M, never
    a Matmul; the report says what bitjit ran."""
    prepared_layers = []

    def fake_linear(bitjit, format, shape, weights):
        prepared_layers.append((format.name, shape.name))
        values = peers.dequantized(weights)[0]
        return peers.Runner(call=lambda ops, A, C: C.copy_(kernel_like(A, ops[0])), operands=(values,),
                            detail=lambda rows: {"schedule": {"family": "f"}, "buckets": [1, 16, 1024]})

    def no_matmul(*arguments):
        raise AssertionError("a Matmul was prepared in a Linear run")
    monkeypatch.setattr(peers, "linear_runner", fake_linear)
    monkeypatch.setattr(peers, "bitjit_runner", no_matmul)
    monkeypatch.setattr(peers, "humming_runner", lambda *arguments: (_ for _ in ()).throw(AssertionError("none")))
    monkeypatch.setattr(peers, "time_per_launch_us", lambda launch, copies, plan: 12.5)
    suite = [peers.Shape("tiny", 64, 256)]
    args = peers.parse_args(["--shapes", "tiny", "--M", "1,3,2000", "--dynamic", "linear", "--formats",
                             "int4_g128,uint4_g128_qzeros"], suite=suite)
    assert args.dynamic == "linear"
    session = peers.Session(args, None, None, generator, l2=4096, plan=peers.TimingPlan(2, 1, 1), device="cpu")
    rows = [r for format in args.formats for r in peers.run_case(session, format, suite[0])]
    assert prepared_layers == [("int4_g128", "tiny"), ("uint4_g128_qzeros", "tiny")]
    assert all(r["bitjit"]["us"] == 12.5 and r["bitjit"]["buckets"] == [1, 16, 1024] for r in rows)
    meta = {"device": "NVIDIA H200", "date": "2026-11-29", "torch": "2.11", "humming": "0.1.20", "bitjit": "0.9",
            "dynamic": True, "linear": True, "Ms": [1, 3, 2000], "l2_bytes": 60 * MiB, "launches": 20,
            "warmup": 3, "batches": 10, "seed": 5}
    peers.write_results(tmp_path, meta, rows)
    assert "bitjit.Linear with its default buckets" in (tmp_path / "results.md").read_text()


def test_missing_humming_is_an_error_naming_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "humming", None)  # import humming raises ImportError
    with pytest.raises(SystemExit) as exit:
        peers.import_peers()
    assert "the humming-kernels package is required" in str(exit.value.code)
    assert "scripts/fetch-peer-wheels.sh" in str(exit.value.code)


# ---- on a GPU with humming-kernels -----------------------------------------------------------------

def test_one_shape_on_the_gpu(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device for torch")
    pytest.importorskip("humming", reason="humming-kernels is not installed")
    pytest.importorskip("bitjit")
    assert peers.main(["--shapes", "8B_o", "--M", "1,16", "--launches", "4", "--batches", "3",
                       "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["rows"]) == 4
    for result in results["rows"]:
        for name in peers.IMPLEMENTATIONS:
            assert result[name]["us"] > 0 and result[name]["check"]["worst_fraction_of_bound"] <= 1.0
