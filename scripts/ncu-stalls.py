#!/usr/bin/env python3
"""Summarizes the warp-stall sampling of one kernel from Nsight Compute's SASS page.

    ncu -i REPORT.ncu-rep --page source --csv --print-source sass > SASS.csv
    scripts/ncu-stalls.py SASS.csv[.gz] [TOP]

Prints the total of each stall reason over all instructions, then the TOP (default 25)
instructions with the most samples, each with its three largest reasons: where the warps wait
(a wgmma wait, a barrier, a load's consumer) and why.
"""
import collections
import csv
import sys

from ncu_sass import read_sass_table


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    try:
        header, data = read_sass_table(sys.argv[1], ("Address", "Source", "Warp Stall Sampling (All Samples)"))
    except (OSError, ValueError, csv.Error) as error:
        print(f"ncu-stalls: {error}", file=sys.stderr)
        return 2
    address, source = header.index("Address"), header.index("Source")
    samples = header.index("Warp Stall Sampling (All Samples)")
    reasons = [i for i, name in enumerate(header) if name.startswith("stall_") and "Not Issued" not in name]
    totals = collections.Counter()
    for row in data:
        for i in reasons:
            totals[header[i]] += int(row[i] or 0)
    total = sum(totals.values()) or 1
    print(f"stall samples: {total}")
    for name, count in totals.most_common(12):
        print(f"  {name:26s} {count:9d} {100 * count / total:5.1f} %")
    print(f"top {top} instructions:")
    data.sort(key=lambda row: -int(row[samples] or 0))
    for row in data[:top]:
        largest = sorted(((int(row[i] or 0), header[i]) for i in reasons), reverse=True)[:3]
        why = ", ".join(f"{name[6:]} {count}" for count, name in largest if count)
        print(f"  {row[address][-5:]} {int(row[samples] or 0):8d} {100 * int(row[samples] or 0) / total:5.1f} %  "
              f"{row[source].strip()[:56]:56s} {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
