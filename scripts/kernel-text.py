#!/usr/bin/env python3
"""Size and hash of the machine code of every kernel in a bitjit kernel database, without a GPU.

    scripts/kernel-text.py DB_DIR [DB_DIR ...]

For refactoring device code on a machine without a GPU or cuobjdump: compile the same configs into
two databases (`bitjit codegen --config C.json --arch sm_90a --compile --cache-dir DB`), before and
after the change, and compare. Equal .text hashes mean the kernel's instructions did not change, so
earlier benchmark results still describe it; line tables and the database key change anyway.
Kernel files are read by scripts/kernel_files.py.
"""
import hashlib
import json
import struct
import sys

from kernel_files import kernel_files


def elf_sections(cubin: bytes) -> dict:
    """Section name -> (offset, size) of a 64-bit little-endian ELF file."""
    header_offset = struct.unpack_from("<Q", cubin, 0x28)[0]
    entry_size, count, names_index = struct.unpack_from("<HHH", cubin, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", cubin, header_offset + i * entry_size) for i in range(count)]
    names_offset = headers[names_index][4]
    sections = {}
    for header in headers:
        start = names_offset + header[0]
        name = cubin[start:cubin.index(b"\0", start)].decode()
        sections[name] = (header[4], header[5])
    return sections


def describe(config: dict) -> str:
    fields = ["A_dtype", "W_dtype", "M", "N", "K", "group_size", "zeros_mode" if config.get("with_zeros") else None]
    return " ".join(f"{field}={config[field]}" for field in fields if field)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for root in sys.argv[1:]:
        kernels = list(kernel_files(root))
        if not kernels:
            print(f"no kernels under {root}/v1/kernels", file=sys.stderr)
            return 1
        print(root)
        rows = []
        for meta, cubin in kernels:
            texts = {name: span for name, span in elf_sections(cubin).items() if name.startswith(".text.")}
            for name, (offset, size) in texts.items():
                digest = hashlib.sha256(cubin[offset:offset + size]).hexdigest()[:16]
                rows.append(f"  {meta['arch']} {describe(meta['config'])} {json.dumps(meta.get('schedule', {}), sort_keys=True)}"
                            f" {name} {size} bytes sha256:{digest}")
        print("\n".join(sorted(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
