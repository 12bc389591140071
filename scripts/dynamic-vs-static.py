#!/usr/bin/env python3
"""The table of a dynamic-M run beside a static-M one: bench_matmul's results.json of `--dynamic yes`
and of `--dynamic no` over the same formats, shapes and M list, as a markdown table per format of
"dynamic / static µs (static over dynamic)" per shape and M, and the range of that ratio per M.

    scripts/dynamic-vs-static.py DYNAMIC/results.json STATIC/results.json > table.md

A case present in one file only is an error (the two runs must cover the same cases).
"""
import json
import sys
from collections import defaultdict


class ResultsError(Exception):
    pass


def rows_by_case(path):
    """bench_matmul's rows of one results.json by (format, shape, M); ResultsError names the file and
    what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
        rows = {}
        for row in results["rows"]:
            rows[(row["format"], row["shape"], int(row["M"]))] = row
            float(row["bitjit_us"])
        return rows
    except OSError as error:
        raise ResultsError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path} is not JSON: {error}") from error
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsError(f"{path} is not bench_matmul's results.json (rows with format, shape, M and "
                           f"bitjit_us): {error!r}") from error


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        dynamic, static = rows_by_case(argv[1]), rows_by_case(argv[2])
    except ResultsError as error:
        print(f"dynamic-vs-static: {error}", file=sys.stderr)
        return 2
    if dynamic.keys() != static.keys():
        only = sorted(set(dynamic) ^ set(static))
        print(f"the two runs cover different cases, e.g. {only[:3]}", file=sys.stderr)
        return 1
    formats = list(dict.fromkeys(case[0] for case in static))
    for fmt in formats:
        shapes = list(dict.fromkeys(case[1] for case in static if case[0] == fmt))
        ms = sorted({case[2] for case in static if case[0] == fmt})
        print(f"{fmt}: dynamic / static µs (static over dynamic; 1.00 is parity)\n")
        print("| shape | " + " | ".join(f"M = {m}" for m in ms) + " |")
        print("|---|" + "---|" * len(ms))
        ratios = defaultdict(list)
        for shape in shapes:
            cells = []
            for m in ms:
                d, s = dynamic[(fmt, shape, m)]["bitjit_us"], static[(fmt, shape, m)]["bitjit_us"]
                ratios[m].append(s / d)
                cells.append(f"{d:.1f} / {s:.1f} ({s / d:.2f})")
            print(f"| {shape} | " + " | ".join(cells) + " |")
        print("| range | " + " | ".join(f"{min(ratios[m]):.2f}-{max(ratios[m]):.2f}" for m in ms) + " |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
