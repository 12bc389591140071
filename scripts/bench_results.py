"""What the scripts that compare two bench_matmul runs share: reading a results.json by case, and the
markdown table per format of two timings per (shape, M) with their ratio and its range per M."""
import json
import math
import os
import sys
from collections import defaultdict

# A results.json of the whole suite is well under a megabyte; anything this large is not one.
LARGEST_RESULTS_BYTES = 64 << 20


class ResultsError(Exception):
    pass


def rows_by_case(path, dynamic=None):
    """bench_matmul's rows of one results.json by (format, shape, M); with dynamic True or False only the
    rows of that mode (dynamic_m: a `--dynamic both` run holds both for each case). ResultsError names
    the file and what is wrong with it, a case twice among the rows taken included."""
    try:
        size = os.path.getsize(path)
        if size > LARGEST_RESULTS_BYTES:
            raise ResultsError(f"{path} has {size} bytes, over the {LARGEST_RESULTS_BYTES} a results.json may have")
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
        rows = {}
        for row in results["rows"]:
            if dynamic is not None and bool(row.get("dynamic_m", False)) != dynamic:
                continue
            case = (row["format"], row["shape"], int(row["M"]))
            if case in rows:
                raise ResultsError(f"{path}: {case[0]} {case[1]} M={case[2]} is timed twice"
                                   + (" (a --dynamic both run: compare its two modes)" if dynamic is None else ""))
            rows[case] = row
            us = float(row["bitjit_us"])
            if not (math.isfinite(us) and us > 0):
                raise ResultsError(f"{path}: bitjit_us={row['bitjit_us']!r} of {row['format']} {row['shape']} "
                                   f"M={row['M']} must be a positive time")
        return rows
    except OSError as error:
        raise ResultsError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path} is not JSON: {error}") from error
    except RecursionError as error:
        raise ResultsError(f"{path} is nested too deeply to be a results.json") from error
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsError(f"{path} is not bench_matmul's results.json (rows with format, shape, M and "
                           f"bitjit_us): {error!r}") from error


def print_ratio_tables(first, second, heading, mark=None):
    """For each format, a table of "first / second µs (second over first)" per shape and M, and the range
    of that ratio per M. heading(format) titles a table; mark(first_row, second_row), if given, is
    appended to a cell (e.g. a sign that the schedule differs). Both runs must hold the same cases."""
    formats = list(dict.fromkeys(case[0] for case in first))
    for fmt in formats:
        shapes = list(dict.fromkeys(case[1] for case in first if case[0] == fmt))
        ms = sorted({case[2] for case in first if case[0] == fmt})
        print(heading(fmt) + "\n")
        print("| shape | " + " | ".join(f"M = {m}" for m in ms) + " |")
        print("|---|" + "---|" * len(ms))
        ratios = defaultdict(list)
        for shape in shapes:
            cells = []
            for m in ms:
                a, b = first[(fmt, shape, m)], second[(fmt, shape, m)]
                x, y = a["bitjit_us"], b["bitjit_us"]
                ratios[m].append(y / x)
                cells.append(f"{x:.1f} / {y:.1f} ({y / x:.2f})" + (mark(a, b) if mark else ""))
            print(f"| {shape} | " + " | ".join(cells) + " |")
        print("| range | " + " | ".join(f"{min(ratios[m]):.2f}-{max(ratios[m]):.2f}" for m in ms) + " |\n")


def compare_runs(argv, usage, heading, mark=None, one_file_modes=None):
    """The command of a comparing script: argv[1] and argv[2] are the two runs' results.json; prints
    their tables (print_ratio_tables) and returns the exit status: 2 for bad arguments or a file that is
    not a run's results, 1 for runs of different cases, 0 otherwise. With one_file_modes (first, second)
    argv may name one results.json instead, whose rows of dynamic_m == first and == second are the two
    runs (a `bench_matmul --dynamic both` run)."""
    name = argv[0].rsplit("/", 1)[-1].removesuffix(".py")
    one_file = one_file_modes is not None and len(argv) == 2
    if len(argv) != 3 and not one_file:
        print(usage.strip(), file=sys.stderr)
        return 2
    try:
        if one_file:
            first, second = (rows_by_case(argv[1], mode) for mode in one_file_modes)
            if not first:
                raise ResultsError(f"{argv[1]} holds no rows of dynamic_m={str(one_file_modes[0]).lower()}: "
                                   "not a --dynamic both run")
        else:
            first, second = rows_by_case(argv[1]), rows_by_case(argv[2])
    except ResultsError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    if first.keys() != second.keys():
        only = sorted(set(first) ^ set(second))
        print(f"{name}: the two runs cover different cases, e.g. {only[:3]}", file=sys.stderr)
        return 1
    print_ratio_tables(first, second, heading, mark)
    return 0
