#!/usr/bin/env python3
"""The table of a dynamic-M run beside a static-M one: bench_matmul's results.json of `--dynamic yes`
and of `--dynamic no` over the same formats, shapes and M list, or the one results.json of a
`--dynamic both` run (both modes timed in turn in one process), as a markdown table per format of
"dynamic / static µs (static over dynamic)" per shape and M, and the range of that ratio per M.

    scripts/dynamic-vs-static.py DYNAMIC/results.json STATIC/results.json > table.md
    scripts/dynamic-vs-static.py BOTH/results.json > table.md

A case present in one run only is an error (the two runs must cover the same cases).
"""
import sys

from bench_results import compare_runs

if __name__ == "__main__":
    sys.exit(compare_runs(sys.argv, __doc__,
                          lambda fmt: f"{fmt}: dynamic / static µs (static over dynamic; 1.00 is parity)",
                          one_file_modes=(True, False)))
