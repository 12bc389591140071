#!/usr/bin/env python3
"""Executed warp instructions by opcode of one kernel, or of two side by side, from Nsight Compute's
SASS page (the device recipe's `stalls` step keeps it as stalls/<case>-sass.csv.gz).

    scripts/ncu-opcodes.py SASS.csv[.gz] [OTHER.csv[.gz]] [--top N]

With one file: each opcode's executed instructions (its "Instructions Executed" summed over its
SASS lines; predicates and modifiers dropped: @!P0 SHF.R.U32.HI counts as SHF), most first. With
two: both counts and the change from the first to the second, largest change first, so that two
kernels of one schedule (a static and a dynamic M, a change and its base) show where their
instruction counts part. A profile of the same launch count makes the totals comparable.
"""
import argparse
import collections
import csv
import re
import sys

from ncu_sass import read_sass_table

# The opcode of a SASS line: after an optional predicate (@P0, @!UP1, @PT), up to the first dot.
OPCODE = re.compile(r"^\s*(?:@!?U?P[T\d]+\s+)?([A-Z][A-Z0-9_]*)")


def executed_by_opcode(path: str) -> collections.Counter:
    header, rows = read_sass_table(path, ("Source", "Instructions Executed"))
    source, executed = header.index("Source"), header.index("Instructions Executed")
    counts = collections.Counter()
    for row in rows:
        if len(row) <= max(source, executed) or not row[executed].strip().isdigit():
            continue
        match = OPCODE.match(row[source])
        if match:
            counts[match.group(1)] += int(row[executed])
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second", nargs="?")
    parser.add_argument("--top", type=int, default=25, help="opcodes listed (default 25)")
    args = parser.parse_args()
    try:
        first = executed_by_opcode(args.first)
        second = executed_by_opcode(args.second) if args.second else None
    except (OSError, ValueError, csv.Error) as error:
        print(f"ncu-opcodes: {error}", file=sys.stderr)
        return 2
    if second is None:
        print(f"executed warp instructions: {sum(first.values())}")
        for opcode, count in first.most_common(args.top):
            print(f"  {opcode:12s} {count:12d}")
        return 0
    print(f"executed warp instructions: {sum(first.values())} -> {sum(second.values())} "
          f"({sum(second.values()) - sum(first.values()):+d})")
    opcodes = sorted(set(first) | set(second), key=lambda op: (-abs(second[op] - first[op]), op))
    for opcode in opcodes[:args.top]:
        print(f"  {opcode:12s} {first[opcode]:12d} {second[opcode]:12d} {second[opcode] - first[opcode]:+12d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
