"""The scripts that put two bench_matmul runs side by side (scripts/bench_results.py): dynamic-vs-static.py
(the device recipe's `dynamic` step) and base-vs-new.py (its `baseline` step). Their tables on random
results of both runs, computed here independently, base-vs-new's mark of a changed schedule, and their
refusal of runs that cover different cases or of files that are not results."""
import json
import pathlib
import random
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"
COMPARISONS = ("dynamic-vs-static.py", "base-vs-new.py")


def write_results(path, times, schedules=None):
    rows = [{"format": fmt, "shape": shape, "M": m, "bitjit_us": us,
             "schedule": (schedules or {}).get((fmt, shape, m), {"family": "tensor_gemv"})}
            for (fmt, shape, m), us in times.items()]
    path.write_text(json.dumps({"device": "test", "rows": rows}))


def run(script, first, second):
    return subprocess.run([sys.executable, str(SCRIPTS / script), str(first), str(second)], capture_output=True,
                          text=True)


@pytest.mark.parametrize("script", COMPARISONS)
def test_each_case_its_ratio_and_the_range_per_m(tmp_path, script):
    rng = random.Random()
    formats, shapes, ms = ("int4_g128", "uint4_g128_qzeros"), ("8B o", "70B down"), (1, 16, 256, 4096)
    cases = [(fmt, shape, m) for fmt in formats for shape in shapes for m in ms]
    first = {case: rng.uniform(5.0, 5000.0) for case in cases}
    second = {case: first[case] * rng.uniform(0.5, 1.5) for case in cases}
    changed = rng.choice(cases)  # a schedule that differs: marked by base-vs-new only
    write_results(tmp_path / "first.json", first)
    write_results(tmp_path / "second.json", second, {changed: {"family": "tensor_wgmma_ws"}})
    result = run(script, tmp_path / "first.json", tmp_path / "second.json")
    assert result.returncode == 0, result.stderr
    for case in cases:
        cell = f"{first[case]:.1f} / {second[case]:.1f} ({second[case] / first[case]:.2f})"
        assert cell in result.stdout
        assert (cell + " †" in result.stdout) == (script == "base-vs-new.py" and case == changed)
    for fmt in formats:
        ratios = [[second[(fmt, s, m)] / first[(fmt, s, m)] for s in shapes] for m in ms]
        assert "| range | " + " | ".join(f"{min(r):.2f}-{max(r):.2f}" for r in ratios) + " |" in result.stdout


@pytest.mark.parametrize("script", COMPARISONS)
def test_runs_of_different_cases_and_foreign_files_are_refused(tmp_path, script):
    write_results(tmp_path / "first.json", {("int4_g128", "70B o", 1): 10.0, ("int4_g128", "70B o", 16): 12.0})
    write_results(tmp_path / "second.json", {("int4_g128", "70B o", 1): 9.0})
    different = run(script, tmp_path / "first.json", tmp_path / "second.json")
    assert different.returncode == 1 and "different cases" in different.stderr
    missing = run(script, tmp_path / "first.json", tmp_path / "nowhere.json")
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "nowhere.json" in missing.stderr
    (tmp_path / "broken.json").write_text("{not json")
    broken = run(script, tmp_path / "first.json", tmp_path / "broken.json")
    assert broken.returncode == 2 and "is not JSON" in broken.stderr
    (tmp_path / "other.json").write_text(json.dumps({"rows": [{"format": "int4_g128"}]}))
    other = run(script, tmp_path / "first.json", tmp_path / "other.json")
    assert other.returncode == 2 and "is not bench_matmul's results.json" in other.stderr
    (tmp_path / "deep.json").write_text("[" * 200000 + "]" * 200000)
    deep = run(script, tmp_path / "first.json", tmp_path / "deep.json")
    assert deep.returncode == 2 and "nested too deeply" in deep.stderr
    write_results(tmp_path / "zero.json", {("int4_g128", "70B o", 1): 0.0, ("int4_g128", "70B o", 16): 12.0})
    zero = run(script, tmp_path / "first.json", tmp_path / "zero.json")
    assert zero.returncode == 2 and "bitjit_us=0.0" in zero.stderr and "must be a positive time" in zero.stderr
    with open(tmp_path / "huge.json", "wb") as huge:
        huge.truncate((64 << 20) + 1)  # sparse: size without the bytes
    too_large = run(script, tmp_path / "first.json", tmp_path / "huge.json")
    assert too_large.returncode == 2 and "over the" in too_large.stderr
    usage = subprocess.run([sys.executable, str(SCRIPTS / script)], capture_output=True, text=True)
    assert usage.returncode == 2 and "results.json" in usage.stderr


def test_a_dynamic_both_run_alone(tmp_path):
    """dynamic-vs-static.py on the one results.json of `bench_matmul --dynamic both` (rows of both modes,
    told apart by dynamic_m): the same table as from two files; a file of one mode only, or base-vs-new
    on such a file (each case timed twice), is refused by name."""
    rng = random.Random()
    cases = [(fmt, shape, m) for fmt in ("int4_g128", "uint4_g128_qzeros") for shape in ("8B o", "70B down")
             for m in (1, 32, 256)]
    dynamic = {case: rng.uniform(5.0, 5000.0) for case in cases}
    static = {case: dynamic[case] * rng.uniform(0.5, 1.5) for case in cases}
    rows = [{"format": fmt, "shape": shape, "M": m, "bitjit_us": us, "dynamic_m": mode, "schedule": {}}
            for (fmt, shape, m) in cases for us, mode in ((static[(fmt, shape, m)], False), (dynamic[(fmt, shape, m)], True))]
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"device": "test", "rows": rows}))
    result = subprocess.run([sys.executable, str(SCRIPTS / "dynamic-vs-static.py"), str(both)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    for case in cases:
        assert f"{dynamic[case]:.1f} / {static[case]:.1f} ({static[case] / dynamic[case]:.2f})" in result.stdout
    write_results(tmp_path / "static.json", static)
    one_mode = subprocess.run([sys.executable, str(SCRIPTS / "dynamic-vs-static.py"), str(tmp_path / "static.json")],
                              capture_output=True, text=True)
    assert one_mode.returncode == 2 and "holds no rows of dynamic_m=true: not a --dynamic both run" in one_mode.stderr
    twice = run("base-vs-new.py", both, both)
    assert twice.returncode == 2 and "M=1 is timed twice (a --dynamic both run: compare its two modes)" in twice.stderr
    alone = subprocess.run([sys.executable, str(SCRIPTS / "base-vs-new.py"), str(both)], capture_output=True, text=True)
    assert alone.returncode == 2 and "results.json" in alone.stderr
