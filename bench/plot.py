#!/usr/bin/env python3
"""Speedup over cuBLAS fp16 against M, one line per weight format and panel per shape, from the
results.json that bench_matmul writes.

    bench/plot.py RESULTS.json OUT.png        (needs matplotlib)
"""
import json
import sys
from collections import defaultdict


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot.py: matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return 1
    with open(sys.argv[1]) as file:
        results = json.load(file)
    shapes = list(dict.fromkeys(row["shape"] for row in results["rows"]))
    series = defaultdict(lambda: defaultdict(list))  # shape -> format (and mode) -> [(M, speedup)]
    for row in results["rows"]:
        # A dynamic Matmul's line apart from the static one (--dynamic both holds both).
        name = row["format"] + (" (dynamic)" if row.get("dynamic_m") else "")
        series[row["shape"]][name].append((row["M"], row["speedup"]))
    columns = 4
    rows = (len(shapes) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False, sharey=True)
    for index, shape in enumerate(shapes):
        axis = axes[index // columns][index % columns]
        for name, points in sorted(series[shape].items()):
            points.sort()
            axis.plot([m for m, _ in points], [s for _, s in points], marker="o", label=name)
        axis.axhline(1.0, color="gray", linewidth=0.8)
        axis.set_xscale("log", base=2)
        axis.set_title(shape)
        axis.set_xlabel("M")
        if index % columns == 0:
            axis.set_ylabel("speedup over cuBLAS fp16")
    for index in range(len(shapes), rows * columns):
        axes[index // columns][index % columns].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7))
    figure.suptitle(f"bitjit {results.get('bitjit', '')} on {results['device']} ({results['date']}); "
                    f"copy bandwidth {results['copy_bandwidth_gbps']:.0f} GB/s")
    figure.tight_layout(rect=(0, 0.08, 1, 0.95))
    figure.savefig(sys.argv[2], dpi=110)
    print(f"wrote {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
