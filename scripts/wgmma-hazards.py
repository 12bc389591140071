#!/usr/bin/env python3
"""Finds wgmma accumulator hazards in the SASS of every sm_90a kernel of a bitjit kernel database.

    scripts/wgmma-hazards.py DB_DIR [DB_DIR ...]      (needs cuobjdump on PATH)

A wgmma (HGMMA / IGMMA / QGMMA in SASS) writes its accumulator registers asynchronously, until a
WARPGROUP.DEPBAR.LE gsb0 that leaves it no longer pending. An instruction other than the next
wgmma that reads or writes those registers meanwhile sees (or clobbers) a stale value; the compiler
has emitted such copies for loop-carried accumulators after a "wait for all but one". This walks
each kernel's instructions in order, tracks whether a wgmma may be pending (after DEPBAR 0x0 none
is), and prints every access to a pending wgmma's accumulators. Exit status 1 if any is found.
"""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

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


def kernel_sass(cubin: bytes) -> list:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        result = subprocess.run(["cuobjdump", "-sass", file.name], capture_output=True, text=True, check=True)
    return [line for line in result.stdout.splitlines() if re.match(r"\s+/\*[0-9a-f]{4}\*/", line)]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    checked = found = 0
    for root in sys.argv[1:]:
        for path in sorted((Path(root) / "v1" / "kernels").glob("*.kernel")):
            data = path.read_bytes()
            first = data.index(b"\n")
            second = data.index(b"\n", first + 1)
            meta = json.loads(data[first + 1:second])
            if meta.get("arch") != "sm_90a":
                continue
            sass = kernel_sass(data[second + 1:])
            if not any(GMMA.search(line) for line in sass):
                continue
            checked += 1
            bad = list(hazards(sass))
            if bad:
                found += 1
                print(f"{json.dumps(meta['config'], sort_keys=True)} {json.dumps(meta.get('schedule', {}), sort_keys=True)}")
                for number, instruction in bad[:4]:
                    print(f"    line {number}: {instruction}")
    print(f"{checked} wgmma kernels checked, {found} with accumulator hazards")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
