"""scripts/ncu-opcodes.py on SASS pages written here the way Nsight Compute writes them (a kernel-name
line, then the table): executed instructions per opcode counted independently, predicates and
modifiers dropped, gzipped or not, two kernels' difference, and a file without the table refused; and
scripts/ncu-stalls.py on the same pages through the same reader (scripts/ncu_sass.py)."""
import collections
import csv
import gzip
import pathlib
import random
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "ncu-opcodes.py"
OPCODES = ("HGMMA.64x64x16.F32", "SHF.R.U32.HI", "LOP3.LUT", "LDS.128", "HFMA2", "IMAD.WIDE")
PREDICATES = ("", "@P0 ", "@!P1 ", "@!UP2 ", "@PT ")


def write_sass_page(path, rng, lines=60):
    """A random SASS page; returns the executed count per bare opcode."""
    counts = collections.Counter()
    rows = [["Kernel Name", "bitjit_matmul"],
            ["Address", "Source", "Warp Stall Sampling (All Samples)", "Instructions Executed", "L1 Wavefronts Shared"]]
    for i in range(lines):
        opcode = rng.choice(OPCODES)
        executed = rng.randrange(0, 10**6)
        rows.append([hex(0x7f0000 + 16 * i), f"      {rng.choice(PREDICATES)}{opcode} R1, R2, R3",
                     str(rng.randrange(100)), str(executed), "0"])
        counts[opcode.split(".")[0]] += executed
    text_rows = rows + [["", "", "", "", ""]]  # a trailing row without a count is skipped
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as file:
        csv.writer(file, quoting=csv.QUOTE_ALL).writerows(text_rows)
    return counts


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def listed(stdout):
    """opcode -> the numbers on its line."""
    return {line.split()[0]: [int(x) for x in line.split()[1:]] for line in stdout.splitlines()[1:]}


def test_one_kernel_its_opcodes_most_first(tmp_path):
    rng = random.Random()
    counts = write_sass_page(tmp_path / "one-sass.csv.gz", rng)
    result = run(tmp_path / "one-sass.csv.gz")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"executed warp instructions: {sum(counts.values())}"
    rows = listed(result.stdout)
    assert {opcode: numbers[0] for opcode, numbers in rows.items()} == dict(counts)
    assert [numbers[0] for numbers in rows.values()] == sorted(counts.values(), reverse=True)


def test_two_kernels_side_by_side_largest_change_first(tmp_path):
    rng = random.Random()
    first = write_sass_page(tmp_path / "static-sass.csv", rng)
    second = write_sass_page(tmp_path / "dynamic-sass.csv.gz", rng)
    result = run(tmp_path / "static-sass.csv", tmp_path / "dynamic-sass.csv.gz", "--top", "3")
    assert result.returncode == 0, result.stderr
    total_first, total_second = sum(first.values()), sum(second.values())
    assert result.stdout.splitlines()[0] == \
        f"executed warp instructions: {total_first} -> {total_second} ({total_second - total_first:+d})"
    rows = listed(result.stdout)
    changes = sorted((abs(second[op] - first[op]) for op in set(first) | set(second)), reverse=True)
    assert len(rows) == min(3, len(changes))
    for opcode, (before, after, change) in rows.items():
        assert (before, after, change) == (first[opcode], second[opcode], second[opcode] - first[opcode])
    assert sorted((abs(numbers[2]) for numbers in rows.values()), reverse=True) == changes[:len(rows)]


def test_a_file_without_the_sass_table_is_refused(tmp_path):
    (tmp_path / "details.csv").write_text('"Section Name","Metric Name"\n"Speed Of Light","Duration"\n')
    result = run(tmp_path / "details.csv")
    assert result.returncode == 2
    assert "no SASS table with 'Source' and 'Instructions Executed' columns" in result.stderr
    result = run(tmp_path / "missing.csv")
    assert result.returncode == 2 and "missing.csv" in result.stderr


STALLS = SCRIPT.parent / "ncu-stalls.py"


def test_a_gzipped_page_cut_short_is_named_by_both_scripts(tmp_path):
    """A .gz that ends before its end-of-stream marker (a copy cut off): a named error, no traceback."""
    full = tmp_path / "full.csv.gz"
    write_sass_page(full, random.Random())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(full.read_bytes()[:len(full.read_bytes()) // 2])
    for script, args in ((SCRIPT, [cut]), (STALLS, [cut])):
        result = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, result.stderr
        assert str(cut) in result.stderr and "Traceback" not in result.stderr


def test_stalls_read_the_same_table_gzipped_and_refuse_a_file_without_it(tmp_path):
    """scripts/ncu-stalls.py reads the SASS page through the same reader (scripts/ncu_sass.py): the stall
    samples of a gzipped page summed, and a page without the table a named error, not a traceback."""
    rng = random.Random()
    rows = [["Kernel Name", "bitjit_matmul"],
            ["Address", "Source", "Warp Stall Sampling (All Samples)", "stall_long_sb", "stall_math"]]
    long_sb = math_ = 0
    for i in range(20):
        a, b = rng.randrange(1000), rng.randrange(1000)
        long_sb, math_ = long_sb + a, math_ + b
        rows.append([hex(0x7f0000 + 16 * i), "HFMA2 R1, R2, R3, R4", str(a + b), str(a), str(b)])
    with gzip.open(tmp_path / "page.csv.gz", "wt", newline="") as file:
        csv.writer(file).writerows(rows)
    result = subprocess.run([sys.executable, str(STALLS), str(tmp_path / "page.csv.gz"), "3"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"stall samples: {long_sb + math_}"
    assert "stall_long_sb" in result.stdout and f" {long_sb} " in result.stdout and f" {math_} " in result.stdout
    (tmp_path / "details.csv").write_text('"Section Name","Metric Name"\n"Speed Of Light","Duration"\n')
    result = subprocess.run([sys.executable, str(STALLS), str(tmp_path / "details.csv")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no SASS table with 'Address', 'Source' and 'Warp Stall Sampling (All Samples)' columns" in result.stderr
