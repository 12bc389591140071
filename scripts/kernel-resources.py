#!/usr/bin/env python3
"""Registers, spills and shared memory of every kernel in a bitjit kernel database, via cuobjdump.

    scripts/kernel-resources.py [DB_DIR]     (default: $BITJIT_CACHE_DIR)

Each <DB_DIR>/v1/kernels/*.kernel file is a magic line, one line of JSON metadata and the cubin;
the cubin goes to a temporary file for cuobjdump --dump-resource-usage.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BITJIT_CACHE_DIR", ""))
    files = sorted((root / "v1" / "kernels").glob("*.kernel"))
    if not files:
        print(f"no kernels under {root}/v1/kernels", file=sys.stderr)
        return 1
    for path in files:
        data = path.read_bytes()
        first = data.index(b"\n")
        second = data.index(b"\n", first + 1)
        meta = json.loads(data[first + 1:second])
        with tempfile.NamedTemporaryFile(suffix=".cubin") as cubin:
            cubin.write(data[second + 1:])
            cubin.flush()
            usage = subprocess.run(["cuobjdump", "--dump-resource-usage", cubin.name],
                                   capture_output=True, text=True, check=True).stdout
        resources = re.search(r"REG:\d+.*", usage)
        config = meta.get("config", {})
        schedule = meta.get("schedule", {})
        describe = lambda obj: obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
        print(f"{meta.get('arch')} {describe(config)} {describe(schedule)}\n    {resources.group(0) if resources else usage.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
