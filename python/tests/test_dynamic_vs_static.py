"""scripts/dynamic-vs-static.py (the device recipe's `dynamic` step puts a dynamic-M bench run beside a
static one): its table on random results of both runs, computed here independently, and its refusal of
runs that cover different cases."""
import json
import pathlib
import random
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "dynamic-vs-static.py"


def write_results(path, times):
    rows = [{"format": fmt, "shape": shape, "M": m, "bitjit_us": us} for (fmt, shape, m), us in times.items()]
    path.write_text(json.dumps({"device": "test", "rows": rows}))


def run(dynamic, static):
    return subprocess.run([sys.executable, str(SCRIPT), str(dynamic), str(static)], capture_output=True, text=True)


def test_the_table_holds_each_case_and_the_range_per_m(tmp_path):
    rng = random.Random()
    cases = [(fmt, shape, m) for fmt in ("int4_g128", "int4_g128_bf16") for shape in ("70B o", "70B down")
             for m in (1, 16, 4096)]
    dynamic = {case: rng.uniform(5.0, 5000.0) for case in cases}
    static = {case: dynamic[case] * rng.uniform(0.7, 1.1) for case in cases}
    write_results(tmp_path / "dynamic.json", dynamic)
    write_results(tmp_path / "static.json", static)
    result = run(tmp_path / "dynamic.json", tmp_path / "static.json")
    assert result.returncode == 0, result.stderr
    for case in cases:
        d, s = dynamic[case], static[case]
        assert f"{d:.1f} / {s:.1f} ({s / d:.2f})" in result.stdout
    for fmt in ("int4_g128", "int4_g128_bf16"):
        ratios = {m: [static[(fmt, shape, m)] / dynamic[(fmt, shape, m)] for shape in ("70B o", "70B down")]
                  for m in (1, 16, 4096)}
        expected = "| range | " + " | ".join(f"{min(r):.2f}-{max(r):.2f}" for r in ratios.values()) + " |"
        assert expected in result.stdout


def test_runs_of_different_cases_are_refused(tmp_path):
    write_results(tmp_path / "dynamic.json", {("int4_g128", "70B o", 1): 10.0, ("int4_g128", "70B o", 16): 12.0})
    write_results(tmp_path / "static.json", {("int4_g128", "70B o", 1): 9.0})
    result = run(tmp_path / "dynamic.json", tmp_path / "static.json")
    assert result.returncode == 1
    assert "different cases" in result.stderr


def test_a_missing_or_foreign_file_is_a_named_error(tmp_path):
    write_results(tmp_path / "dynamic.json", {("int4_g128", "70B o", 1): 10.0})
    missing = run(tmp_path / "dynamic.json", tmp_path / "nowhere.json")
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr and "nowhere.json" in missing.stderr
    (tmp_path / "broken.json").write_text("{not json")
    broken = run(tmp_path / "dynamic.json", tmp_path / "broken.json")
    assert broken.returncode == 2 and "is not JSON" in broken.stderr
    (tmp_path / "other.json").write_text(json.dumps({"rows": [{"format": "int4_g128"}]}))
    other = run(tmp_path / "dynamic.json", tmp_path / "other.json")
    assert other.returncode == 2 and "is not bench_matmul's results.json" in other.stderr
