#!/usr/bin/env python3
"""Finds wgmma accumulator hazards in the SASS of every sm_90a kernel of a bitjit kernel database.

    scripts/wgmma-hazards.py PATH [PATH ...]

Each PATH is a kernel database (its v1/kernels/*.kernel), a .cubin file or a folder of them.
cuobjdump (and the nvdisasm it runs) are taken from PATH, else $CUDA_HOME/bin (default
/usr/local/cuda), else PyPI's nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm wheels; none found is
exit status 3.

A wgmma (HGMMA / IGMMA / QGMMA in SASS) writes its accumulator registers asynchronously, until a
WARPGROUP.DEPBAR.LE gsb0 that leaves it no longer pending. An instruction other than the next
wgmma that reads or writes those registers meanwhile sees (or clobbers) a stale value; the compiler
has emitted such copies for loop-carried accumulators after a "wait for all but one". This walks
each kernel's instructions in order, tracks whether a wgmma may be pending (after DEPBAR 0x0 none
is), and prints every access to a pending wgmma's accumulators. Exit status 1 if any is found.
"""
import re
import sys

from kernel_files import cuobjdump_folder, kernel_sass, sm90a_kernels

GMMA = re.compile(r"\b[HIQ]GMMA\.64x(\d+)x\d+\S*\s+R(\d+)")
REGISTER = re.compile(r"\bR(\d+)\b")
WAIT_ALL = re.compile(r"WARPGROUP\.DEPBAR\.LE\s+gsb0,\s*0x0\b")


def hazards(sass_lines):
    """Yields (line number, instruction) of accesses to a pending wgmma's accumulators."""
    pending = None  # (first, last) accumulator register of the wgmmas that may be in flight
    for number, line in enumerate(sass_lines):
        instruction = line.split(";")[0].strip()
        gmma = GMMA.search(instruction)
        if gmma:
            first = int(gmma.group(2))
            pending = (first, first + int(gmma.group(1)) // 2 - 1)
            continue
        if WAIT_ALL.search(instruction):
            pending = None
            continue
        if pending and any(pending[0] <= int(r) <= pending[1] for r in REGISTER.findall(instruction)):
            yield number, instruction


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tools = cuobjdump_folder()
    if tools is None:
        print("no cuobjdump: not on PATH, in $CUDA_HOME/bin or from the nvidia-cuda-cuobjdump wheel", file=sys.stderr)
        return 3
    checked = found = 0
    for name, cubin in sm90a_kernels(sys.argv[1:]):
        sass = kernel_sass(cubin, tools)
        if not any(GMMA.search(line) for line in sass):
            continue
        checked += 1
        bad = list(hazards(sass))
        if bad:
            found += 1
            print(name)
            for number, instruction in bad[:4]:
                print(f"    line {number}: {instruction}")
    print(f"{checked} wgmma kernels checked, {found} with accumulator hazards")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
