#!/usr/bin/env python3
"""Checks which instructions the SASS of kernels holds, e.g. that a warp-specialized kernel loads by
TMA and keeps no cp.async or block-wide barrier in its loops, or that a Blackwell kernel runs on HMMA.

    scripts/sass-opcodes.py [--expect OP]... [--forbid OP]... [--most OP=N]... PATH [PATH ...]

PATHs as for wgmma-hazards.py (kernel databases: their sm_90a kernels; .cubin files and folders of
them, of any arch). OP matches an
opcode by prefix (HGMMA matches HGMMA.64x128x16.F32...; GMMA alone is not a prefix: give HGMMA,
IGMMA or QGMMA, or use a "|" list, e.g. HGMMA|IGMMA|QGMMA). Each kernel must hold every --expect
(some opcode of its list), none of --forbid, and at most N of --most OP. Prints each kernel's counts
of the named opcodes; exit status 1 if a kernel breaks a rule, 3 without cuobjdump.
"""
import argparse
import collections
import re
import sys

from kernel_files import cuobjdump_folder, kernel_sass, sm90a_kernels

OPCODE = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T\d]+\s+)?([A-Z][A-Z0-9_.]*)")


def opcodes(sass_lines) -> collections.Counter:
    return collections.Counter(m.group(1) for m in map(OPCODE.search, sass_lines) if m)


def count(counts: collections.Counter, alternatives: str) -> int:
    """Instructions whose opcode starts with one of the "|"-separated prefixes."""
    prefixes = alternatives.split("|")
    return sum(n for op, n in counts.items() if any(op.startswith(p) for p in prefixes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--forbid", action="append", default=[])
    parser.add_argument("--most", action="append", default=[], help="OP=N")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    most = [(op, int(n)) for op, n in (rule.rsplit("=", 1) for rule in args.most)]
    tools = cuobjdump_folder()
    if tools is None:
        print("no cuobjdump: not on PATH, in $CUDA_HOME/bin or from the nvidia-cuda-cuobjdump wheel", file=sys.stderr)
        return 3
    checked = broken = 0
    for name, cubin in sm90a_kernels(args.paths):
        counts = opcodes(kernel_sass(cubin, tools))
        checked += 1
        problems = [f"no {op}" for op in args.expect if count(counts, op) == 0]
        problems += [f"{count(counts, op)} {op}" for op in args.forbid if count(counts, op) > 0]
        problems += [f"{count(counts, op)} {op} (at most {n})" for op, n in most if count(counts, op) > n]
        named = sorted({*args.expect, *args.forbid, *(op for op, _ in most)})
        print(name + ": " + ", ".join(f"{op} {count(counts, op)}" for op in named) +
              (" -- " + "; ".join(problems) if problems else ""))
        broken += bool(problems)
    print(f"{checked} kernels checked, {broken} breaking the rules")
    return 1 if broken or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
