#!/usr/bin/env python3
"""Finds wgmma accumulator hazards in the SASS of every sm_90a kernel of a bitjit kernel database.

    scripts/wgmma-hazards.py PATH [PATH ...]
    scripts/wgmma-hazards.py --sass LISTING [LISTING ...]   (cuobjdump -sass text of one kernel each)

Each PATH is a kernel database (its v1/kernels/*.kernel), a .cubin file or a folder of them.
cuobjdump (and the nvdisasm it runs) are taken from PATH, else $CUDA_HOME/bin (default
/usr/local/cuda), else PyPI's nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm wheels; none found is
exit status 3.

A wgmma (HGMMA / IGMMA / QGMMA in SASS) writes its accumulator registers asynchronously, until a
WARPGROUP.DEPBAR.LE gsb0 that leaves it no longer pending. An instruction other than the next
wgmma that reads or writes those registers meanwhile sees (or clobbers) a stale value; the compiler
has emitted such copies for loop-carried accumulators after a "wait for all but one". This walks
each kernel's instructions in order, tracks whether a wgmma may be pending (after DEPBAR 0x0 none
is), following branches to a fixed point so that a wgmma left running at a loop's bottom is pending
at its top, and prints every access to a pending wgmma's accumulators. Exit status 1 if any is
found.
"""
import re
import sys

from kernel_files import cuobjdump_folder, kernel_sass, sm90a_kernels

GMMA = re.compile(r"\b[HIQ]GMMA\.64x(\d+)x\d+\S*\s+R(\d+)")
REGISTER = re.compile(r"\bR(\d+)\b")
WAIT_ALL = re.compile(r"WARPGROUP\.DEPBAR\.LE\s+gsb0,\s*0x0\b")


ADDRESS = re.compile(r"/\*([0-9a-f]{4,})\*/")
BRANCH = re.compile(r"^(@!?U?P\w+\s+)?BRA(\.\S+)?\s+(?:`\()?0x([0-9a-f]+)")
ENDS = re.compile(r"^(EXIT|RET\S*|BRA\S*)\b")  # unpredicated: no fall-through


def instructions(sass_lines):
    """(line number, address, instruction text) of every SASS instruction line."""
    for number, line in enumerate(sass_lines):
        address = ADDRESS.search(line)
        if address:
            text = line.split(";")[0]
            yield number, int(address.group(1), 16), text[text.index("*/") + 2:].strip()


def successors(index, program, index_of):
    """Indices of the instructions that may run after program[index]."""
    text = program[index][2]
    branch = BRANCH.search(text)
    found = []
    if branch and int(branch.group(3), 16) in index_of:
        found.append(index_of[int(branch.group(3), 16)])
    if not ENDS.search(text) and index + 1 < len(program):
        found.append(index + 1)
    return found


def pending_after(text, pending):
    """The accumulator ranges of wgmmas that may be in flight after `text`, given those before it."""
    gmma = GMMA.search(text)
    if gmma:
        first = int(gmma.group(2))
        return pending | {(first, first + int(gmma.group(1)) // 2 - 1)}
    if WAIT_ALL.search(text):
        return frozenset()
    return pending


def hazards(sass_lines):
    """Yields (line number, instruction) of accesses to a pending wgmma's accumulators, following
    branches (a loop's back edge carries its last wgmma to the loop's top) to a fixed point."""
    program = list(instructions(sass_lines))
    index_of = {address: index for index, (_, address, _) in enumerate(program)}
    pending_before = [frozenset() for _ in program]
    work = list(range(len(program)))
    while work:
        index = work.pop()
        after = pending_after(program[index][2], pending_before[index])
        for successor in successors(index, program, index_of):
            merged = pending_before[successor] | after
            if merged != pending_before[successor]:
                pending_before[successor] = merged
                work.append(successor)
    for index, (number, _, text) in enumerate(program):
        if GMMA.search(text) or WAIT_ALL.search(text):
            continue
        registers = [int(r) for r in REGISTER.findall(text)]
        if any(first <= r <= last for first, last in pending_before[index] for r in registers):
            yield number, text


def report(name, sass):
    """Prints the kernel's hazards (at most four); True if it has any."""
    bad = list(hazards(sass))
    if bad:
        print(name)
        for number, instruction in bad[:4]:
            print(f"    line {number}: {instruction}")
    return bool(bad)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "--sass":
        listings = [(path, open(path).read().splitlines()) for path in sys.argv[2:]]
    else:
        tools = cuobjdump_folder()
        if tools is None:
            print("no cuobjdump: not on PATH, in $CUDA_HOME/bin or from the nvidia-cuda-cuobjdump wheel", file=sys.stderr)
            return 3
        listings = ((name, kernel_sass(cubin, tools)) for name, cubin in sm90a_kernels(sys.argv[1:]))
    checked = found = 0
    for name, sass in listings:
        if not any(GMMA.search(line) for line in sass):
            continue
        checked += 1
        found += report(name, sass)
    print(f"{checked} wgmma kernels checked, {found} with accumulator hazards")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
