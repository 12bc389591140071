"""The installed wheel as a user meets it: run with a venv's python outside the source tree.

Imports bitjit, checks the version, the type stubs and py.typed, generates and compiles a kernel for
sm_90a (NVRTC only, no GPU), and prints which NVRTC library the process loaded. With
--nvrtc-under DIR, fails unless that library's file is inside DIR (the nvidia-cuda-nvrtc wheel, when
the toolkit is hidden). Needs BITJIT_CACHE_DIR pointing at an empty folder, so the kernel is compiled.
"""
import argparse
import os
import pathlib
import sys
import tempfile


def loaded_nvrtc():
    """The libnvrtc file mapped into this process, from /proc/self/maps (Linux)."""
    for line in pathlib.Path("/proc/self/maps").read_text().splitlines():
        path = pathlib.Path(line.split()[-1])
        if path.name.startswith("libnvrtc.so"):
            return path
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", required=True, help="the version the wheel must report")
    parser.add_argument("--nvrtc-under", help="the folder the loaded NVRTC must be in")
    args = parser.parse_args()

    import bitjit

    package = pathlib.Path(bitjit.__file__).parent
    assert bitjit.__version__ == args.version, f"bitjit.__version__ {bitjit.__version__} != {args.version}"
    for name in ("py.typed", "_bitjit.pyi"):
        assert (package / name).is_file(), f"{name} missing from {package}"
    assert "class Matmul" in (package / "_bitjit.pyi").read_text(), "_bitjit.pyi has no Matmul"

    if not os.environ.get("BITJIT_CACHE_DIR"):
        os.environ["BITJIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="bitjit-wheel-db-")
    config = bitjit.MatmulConfig(M=[1, 16], N=256, K=512, W_dtype="int4", accum_dtype="float32",
                                 with_scaling=True, group_size=128)
    matmul = bitjit.Matmul(config=config, target="sm_90a")
    assert matmul.arch == "sm_90a", matmul.arch
    assert "bitjit::tensor_gemv<Problem, Tiles>" in matmul.source
    kernels = list(pathlib.Path(os.environ["BITJIT_CACHE_DIR"]).rglob("*.kernel"))
    assert kernels, f"no kernel stored in {os.environ['BITJIT_CACHE_DIR']}"
    nvrtc = loaded_nvrtc()
    assert nvrtc is not None, "no libnvrtc in /proc/self/maps after compiling"
    print(f"bitjit {bitjit.__version__} from {package}: compiled for sm_90a with {nvrtc}; "
          f"{len(kernels)} kernel(s) stored in the database {os.environ['BITJIT_CACHE_DIR']}")
    if args.nvrtc_under:
        under = pathlib.Path(args.nvrtc_under).resolve()
        assert under in nvrtc.resolve().parents, f"NVRTC came from {nvrtc}, not from under {under}"
    return 0


if __name__ == "__main__":
    sys.exit(main())
