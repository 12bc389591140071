#!/usr/bin/env python3
"""The throughput, memory and occupancy figures of Nsight Compute details pages side by side.

    scripts/ncu-details.py PAGE [PAGE ...] [--names A,B,...] [--line]

A page is what `ncu -i REPORT --page details` prints (plain or gzipped); only its first kernel is
read. The default output is a markdown table, one column per page (headed by --names, else the
file names): duration, DRAM / L2 / L1 / SM throughput, hit rates, registers, grid, occupancy. With
--line, one page's figures on one line (for a run's summary). A page without the "GPU Speed Of
Light Throughput" section is named in the error; a figure no page has is left out, one some pages
lack shows "-" for them.
"""
import argparse
import gzip
import pathlib
import re
import sys

# (label, metric name, unit or None for any): the figures compared, in the order shown. The unit tells
# the two "Memory Throughput" rows apart (percent of peak in Speed Of Light, bytes a second in Memory
# Workload Analysis).
FIGURES = (
    ("duration", "Duration", None),
    ("DRAM throughput", "DRAM Throughput", "%"),
    ("memory throughput", "Memory Throughput", "byte/s"),
    ("L2 throughput", "L2 Cache Throughput", "%"),
    ("L1/TEX throughput", "L1/TEX Cache Throughput", "%"),
    ("SM throughput", "Compute (SM) Throughput", "%"),
    ("L2 hit rate", "L2 Hit Rate", "%"),
    ("L1/TEX hit rate", "L1/TEX Hit Rate", "%"),
    ("registers a thread", "Registers Per Thread", None),
    ("grid", "Grid Size", None),
    ("block", "Block Size", None),
    ("theoretical occupancy", "Theoretical Occupancy", "%"),
    ("achieved occupancy", "Achieved Occupancy", "%"),
    ("active warps an SM", "Achieved Active Warps Per SM", None),
)
# A kernel's header line: "  name (grid)x(block), Context 1, Stream 14, Device 0, CC 9.0".
KERNEL_HEADER = re.compile(r"^\s+\S.*\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\), Context \d+")
# A metric row of a section's table: name, optional unit, value (numbers with thousands separators).
METRIC_ROW = re.compile(r"^\s{4}(?P<name>\S.*?\S)\s{2,}(?:(?P<unit>\S+)\s+)?(?P<value>-?[\d,]+(?:\.\d+)?)\s*$")
SECTION = "Section: GPU Speed Of Light Throughput"
# A details page of one kernel is tens of KiB; a larger file (or a gzip that inflates past it) is not one.
MOST_PAGE_BYTES = 64 << 20


def first_kernel_lines(path: pathlib.Path) -> list:
    """The lines of the page's first kernel (from its header to the next kernel's)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", errors="replace") as file:
        text = file.read(MOST_PAGE_BYTES + 1)
    if len(text) > MOST_PAGE_BYTES:
        raise ValueError(f"{path}: over {MOST_PAGE_BYTES >> 20} MiB of text: not a details page")
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if KERNEL_HEADER.match(line)]
    if not headers:
        return lines
    end = headers[1] if len(headers) > 1 else len(lines)
    return lines[headers[0]:end]


def read_figures(path: pathlib.Path) -> dict:
    """{label: (value, unit)} of FIGURES found in the page's first kernel. ValueError naming the path
    where the page has no Speed Of Light section (not a details page, or an empty profile)."""
    lines = first_kernel_lines(path)
    if not any(SECTION in line for line in lines):
        raise ValueError(f"{path}: no '{SECTION}' (expected `ncu -i REPORT --page details` output)")
    rows = [match for match in map(METRIC_ROW.match, lines) if match]
    figures = {}
    for label, name, unit in FIGURES:
        for row in rows:
            row_unit = row.group("unit") or ""
            if row.group("name") == name and (unit is None or row_unit.endswith(unit)):
                figures[label] = (row.group("value"), row_unit)
                break
    return figures


def cell(figure) -> str:
    if figure is None:
        return "-"
    value, unit = figure
    return f"{value} {unit}".strip()


def table(pages: list, names: list) -> str:
    figures = [read_figures(page) for page in pages]
    missing = [label for label, _, _ in FIGURES if all(label not in found for found in figures)]
    if len(missing) == len(FIGURES):
        raise ValueError(f"none of the figures in {', '.join(map(str, pages))}")
    out = ["| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, _, _ in FIGURES:
        if label in missing:
            continue
        out.append(f"| {label} | " + " | ".join(cell(found.get(label)) for found in figures) + " |")
    return "\n".join(out)


def line(page: pathlib.Path) -> str:
    found = read_figures(page)
    return ", ".join(f"{label} {cell(found[label])}" for label, _, _ in FIGURES if label in found)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(prog="ncu-details.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="+", type=pathlib.Path)
    parser.add_argument("--names", help="column heads, comma-separated, one a page (default: the file names)")
    parser.add_argument("--line", action="store_true", help="one page's figures on one line")
    args = parser.parse_args(argv)
    for page in args.pages:
        if not page.is_file():
            parser.error(f"{page}: not a file")
    names = args.names.split(",") if args.names else [page.name for page in args.pages]
    if len(names) != len(args.pages):
        parser.error(f"--names has {len(names)} names for {len(args.pages)} pages")
    if args.line and len(args.pages) != 1:
        parser.error(f"--line takes one page, got {len(args.pages)}")
    try:
        print(line(args.pages[0]) if args.line else table(args.pages, names))
    except (OSError, EOFError) as error:  # unreadable, or a .gz that is not gzip (gzip.BadGzipFile) or cut short
        print(f"ncu-details.py: cannot read a page: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"ncu-details.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
