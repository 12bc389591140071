"""scripts/ncu-details.py on details pages written here the way Nsight Compute prints them (a kernel's
header line, then sections of metric tables), with random figures: the first kernel's figures only,
the two "Memory Throughput" rows told apart by unit, gzipped or not, pages side by side and one page
on a line; a page without the Speed Of Light section, a missing file, and mismatched --names refused.
Unreadable pages (a directory, a .gz that is not gzip or is cut short, one that inflates past 64 MiB)
are named errors. Also one page Nsight Compute wrote itself (bench/results)."""
import gzip
import pathlib
import random
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ncu-details.py"


def table_lines(rows):
    width = max(len(name) for name, _, _ in rows) + 4
    lines = ["    " + "-" * width + " ----------- ------------", "    Metric Name" + " " * (width - 11) +
             " Metric Unit Metric Value", "    " + "-" * width + " ----------- ------------"]
    for name, unit, value in rows:
        lines.append(f"    {name:<{width}} {unit:>11} {value:>12}")
    return lines + ["    " + "-" * width + " ----------- ------------", ""]


def write_page(path, rng, kernels=2):
    """A details page of `kernels` kernels with random figures; returns the first kernel's
    {label: cell text} as ncu-details.py should print them."""
    expected = {}
    lines = ["[1090] bench_matmul@127.0.0.1"]
    for kernel in range(kernels):
        figures = {
            "duration": ("Duration", "us", f"{rng.uniform(5, 900):.2f}"),
            "DRAM throughput": ("DRAM Throughput", "%", f"{rng.uniform(1, 99):.2f}"),
            "L1/TEX throughput": ("L1/TEX Cache Throughput", "%", f"{rng.uniform(1, 99):.2f}"),
            "L2 throughput": ("L2 Cache Throughput", "%", f"{rng.uniform(1, 99):.2f}"),
            "SM throughput": ("Compute (SM) Throughput", "%", f"{rng.uniform(1, 99):.2f}"),
            "memory throughput": ("Memory Throughput", "Tbyte/s", f"{rng.uniform(0.1, 4.8):.2f}"),
            "L2 hit rate": ("L2 Hit Rate", "%", f"{rng.uniform(1, 99):.2f}"),
            "registers a thread": ("Registers Per Thread", "register/thread", str(rng.randrange(32, 256))),
            "grid": ("Grid Size", "", f"{rng.randrange(1000, 99999):,}"),
            "achieved occupancy": ("Achieved Occupancy", "%", f"{rng.uniform(1, 99):.2f}"),
        }
        lines.append(f"  bitjit_matmul_{kernel} ({rng.randrange(1, 999)}, 1, 1)x(128, 1, 1), Context 1, Stream 14, "
                     "Device 0, CC 9.0")
        lines.append("    Section: GPU Speed Of Light Throughput")
        percent_of_peak = f"{rng.uniform(1, 99):.2f}"  # Speed Of Light's Memory Throughput, in percent
        lines += table_lines([("Elapsed Cycles", "cycle", f"{rng.randrange(10**6):,}"),
                              ("Memory Throughput", "%", percent_of_peak)] +
                             [figures[label] for label in ("DRAM throughput", "duration", "L1/TEX throughput",
                                                           "L2 throughput", "SM throughput")])
        lines.append("    Section: Memory Workload Analysis")
        lines += table_lines([figures["memory throughput"], ("Mem Busy", "%", "50.00"), figures["L2 hit rate"]])
        lines.append("    Section: Launch Statistics")
        lines += table_lines([("Block Size", "", "128"), figures["grid"], figures["registers a thread"]])
        lines.append("    Section: Occupancy")
        lines += table_lines([("Block Limit Registers", "block", "4"), figures["achieved occupancy"]])
        if kernel == 0:
            expected = {label: f"{value} {unit}".strip() for label, (_, unit, value) in figures.items()}
            expected["block"] = "128"
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as file:
            file.write(text)
    else:
        path.write_text(text)
    return expected


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def parse_table(stdout):
    """{label: [cells]} of the markdown table."""
    rows = [line.strip("|").split("|") for line in stdout.splitlines()[2:]]
    return {row[0].strip(): [cell.strip() for cell in row[1:]] for row in rows}


def test_the_first_kernels_figures_side_by_side(tmp_path):
    rng = random.Random()
    plain, zipped = tmp_path / "a.txt", tmp_path / "b.txt.gz"
    first, second = write_page(plain, rng), write_page(zipped, rng, kernels=1)
    result = run(plain, zipped, "--names", "humming,bitjit")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "| figure | humming | bitjit |"
    table = parse_table(result.stdout)
    for label in first:
        assert table[label] == [first[label], second[label]], label
    # Figures no page has are left out; the percent "Memory Throughput" is not the bytes-a-second one.
    assert "L1/TEX hit rate" not in table and "theoretical occupancy" not in table
    assert table["memory throughput"][0].endswith("Tbyte/s")


def test_one_page_on_a_line(tmp_path):
    page = tmp_path / "one.txt"
    expected = write_page(page, random.Random())
    result = run("--line", page)
    assert result.returncode == 0, result.stderr
    assert f"duration {expected['duration']}" in result.stdout
    assert f"L2 throughput {expected['L2 throughput']}" in result.stdout
    assert len(result.stdout.splitlines()) == 1


def test_a_page_nsight_compute_wrote():
    page = ROOT / "bench/results/2026-11-30-h200x2-swizzled-pieces/stalls/int4_g128-70B_gate_up-64.txt"
    table = parse_table(run(page).stdout)
    assert table["duration"] == ["165.95 us"]
    assert table["DRAM throughput"] == ["34.41 %"]
    assert table["memory throughput"] == ["1.66 Tbyte/s"]
    assert table["L2 hit rate"] == ["62.97 %"]
    assert table["registers a thread"] == ["96 register/thread"]
    assert table["achieved occupancy"] == ["26.29 %"]


def test_refusals(tmp_path):
    not_details = tmp_path / "log.txt"
    not_details.write_text("== build ok\n")
    result = run(not_details)
    assert result.returncode == 1
    assert "no 'Section: GPU Speed Of Light Throughput'" in result.stderr and str(not_details) in result.stderr
    assert f"{tmp_path / 'missing.txt'}: not a file" in run(tmp_path / "missing.txt").stderr
    assert f"{tmp_path}: not a file" in run(tmp_path).stderr
    # A .gz that is not gzip, one cut short, and one that inflates past any details page: named, no traceback.
    not_gzip = tmp_path / "page.txt.gz"
    not_gzip.write_bytes(random.Random().randbytes(100))
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(gzip.compress(b"    Section: GPU Speed Of Light Throughput\n" * 100)[:40])
    for broken in (not_gzip, cut):
        result = run(broken)
        assert result.returncode == 1 and "cannot read a page" in result.stderr and "Traceback" not in result.stderr
    bomb = tmp_path / "bomb.txt.gz"
    with gzip.open(bomb, "wb") as file:
        for _ in range(65):
            file.write(bytes(1 << 20))
    result = run(bomb)
    assert result.returncode == 1 and "over 64 MiB of text: not a details page" in result.stderr
    page = tmp_path / "page.txt"
    write_page(page, random.Random())
    assert "--names has 1 names for 2 pages" in run(page, page, "--names", "one").stderr
    assert "--line takes one page, got 2" in run("--line", page, page).stderr
