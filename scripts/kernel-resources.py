#!/usr/bin/env python3
"""Registers, spills and shared memory of every kernel in a bitjit kernel database, via cuobjdump.

    scripts/kernel-resources.py [DB_DIR]     (default: $BITJIT_CACHE_DIR)

cuobjdump as scripts/kernel_files.py finds it (PATH, $CUDA_HOME/bin or PyPI's wheel).
"""
import json
import os
import re
import sys
from pathlib import Path

from kernel_files import cuobjdump, cuobjdump_folder, kernel_files


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BITJIT_CACHE_DIR", ""))
    kernels = list(kernel_files(root))
    if not kernels:
        print(f"no kernels under {root}/v1/kernels", file=sys.stderr)
        return 1
    tools = cuobjdump_folder()
    if tools is None:
        print("no cuobjdump: not on PATH, in $CUDA_HOME/bin or from the nvidia-cuda-cuobjdump wheel", file=sys.stderr)
        return 3
    for meta, cubin in kernels:
        usage = cuobjdump(cubin, ["--dump-resource-usage"], tools)
        resources = re.search(r"REG:\d+.*", usage)
        config = meta.get("config", {})
        schedule = meta.get("schedule", {})
        describe = lambda obj: obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
        print(f"{meta.get('arch')} {describe(config)} {describe(schedule)}\n    {resources.group(0) if resources else usage.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
