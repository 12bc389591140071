"""What the scripts that read a bitjit kernel database share: its kernel files and cuobjdump.

Each <DB_DIR>/v1/kernels/*.kernel file is a magic line, one line of JSON metadata and the cubin.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path


def kernel_files(root):
    """(metadata, cubin) of every kernel of the database at root, in file-name order."""
    for path in sorted((Path(root) / "v1" / "kernels").glob("*.kernel")):
        data = path.read_bytes()
        first = data.index(b"\n")
        second = data.index(b"\n", first + 1)
        yield json.loads(data[first + 1:second]), data[second + 1:]


def cuobjdump_folder():
    """The folder of cuobjdump (and the nvdisasm it runs): PATH, else $CUDA_HOME/bin (default
    /usr/local/cuda), else PyPI's nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm wheels; None if none."""
    found = shutil.which("cuobjdump")
    if found:
        return str(Path(found).parent)
    candidates = [Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin"]
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidates += sorted(Path(root).glob("cu*/bin"))
    for folder in candidates:
        if (folder / "cuobjdump").exists():
            return str(folder)
    return None


def cuobjdump(cubin: bytes, options: list, tools: str) -> str:
    """cuobjdump's output for the cubin (written to a temporary file) with the options."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        env = dict(os.environ, PATH=tools + os.pathsep + os.environ.get("PATH", ""))
        return subprocess.run([str(Path(tools) / "cuobjdump"), *options, file.name], capture_output=True, text=True,
                              check=True, env=env).stdout


def kernel_sass(cubin: bytes, tools: str) -> list:
    """The cubin's SASS instruction lines, in order."""
    return [line for line in cuobjdump(cubin, ["-sass"], tools).splitlines() if re.match(r"\s+/\*[0-9a-f]{4,}\*/", line)]


def sm90a_kernels(paths):
    """(name, cubin) of every sm_90a kernel under the paths: kernel databases (their sm_90a kernels),
    .cubin files, and folders of .cubin files (taken as they are)."""
    for root in map(Path, paths):
        if root.suffix == ".cubin":
            yield root.name, root.read_bytes()
        for path in sorted(root.glob("*.cubin")) if root.is_dir() else []:
            yield path.name, path.read_bytes()
        for meta, cubin in kernel_files(root):
            if meta.get("arch") == "sm_90a":
                yield f"{json.dumps(meta['config'], sort_keys=True)} {json.dumps(meta.get('schedule', {}), sort_keys=True)}", cubin
