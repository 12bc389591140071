#!/usr/bin/env python3
"""The table of a change's bench run beside its base's (the device recipe's `baseline` step):
bench_matmul's results.json of the base build and of the new one over the same cases, as a markdown
table per format of "base / new µs (new over base)" per shape and M, and the range of that ratio per
M; a cell whose schedule differs between the two runs is marked with "†", so that a change of code can
be told from a change of schedule.

    scripts/base-vs-new.py BASE/results.json NEW/results.json > table.md

A case present in one file only is an error (the two runs must cover the same cases).
"""
import json
import sys

from bench_results import compare_runs


def schedule_mark(base, new):
    same = json.dumps(base.get("schedule"), sort_keys=True) == json.dumps(new.get("schedule"), sort_keys=True)
    return "" if same else " †"


if __name__ == "__main__":
    sys.exit(compare_runs(sys.argv, __doc__, lambda fmt: f"{fmt}: base / new µs (new over base; below 1 the change "
                                                         "is faster; † the schedule differs)", schedule_mark))
