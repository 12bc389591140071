#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/ (see docs/reliability.md).

    python3 fuzz/make_corpus.py --bitjit build/bitjit

Seeds are small valid and near-valid inputs: the configs of bench/configs and docs/examples, a
kernel file, index and export archive made by the bitjit CLI given (`prewarm` of one small config
for sm_80, then `db export`), GNU-tar members named ./v1/..., unsafe member names, deep nesting,
huge numbers and duplicate keys. Crash reproducers that scripts/fuzz.sh saves (crash-*) are kept.
"""
import argparse
import hashlib
import io
import json
import pathlib
import subprocess
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
KEY = "0123456789abcdef" * 4  # the key of the synthetic kernel file seeds

SMALL_CONFIG = {"M": 1, "N": 64, "K": 64, "A_dtype": "float16", "W_dtype": "int4", "accum_dtype": "float32",
                "out_dtype": "float16", "with_scaling": True, "group_size": 32}
SCHEDULE = {"family": "simt", "tile": {"m": 4, "n": 8}, "warps": {"m": 1, "n": 4, "k": 1},
            "pipeline": {"stages": 1, "k_per_stage": 0, "k_per_round": 0, "split_k": 1, "vector_bytes": 4,
                         "wgmma_group": 1},
            "launch": {"raster_group": 1}}
# The flat schedule of kernel file format 2 and database files of format 1.
FLAT_SCHEDULE = {"family": "simt", "threads": 128, "block_m": 4, "block_n": 8, "block_k": 0, "warp_m": 1,
                 "warp_n": 4, "stages": 1, "split_k": 1, "swizzle": 1, "vector_bytes": 4}


def deep(depth, open_text="[", close_text="]", inner="1"):
    return open_text * depth + inner + close_text * depth


def canonical(config):
    """The canonical form as compiler/config.cpp writes it for configs without M buckets or zeros."""
    full = {"A_dtype": "float16", "W_dtype": "float16", "accum_dtype": "float16", "out_dtype": "float16",
            "layout": "nt", "with_bias": False, "group_size": -1, "with_scaling": False, "with_zeros": False,
            "zeros_mode": "original"}
    full.update(config)
    return json.dumps(full, sort_keys=True, separators=(",", ":"))


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)


def bench_configs():
    files = sorted((ROOT / "bench" / "configs").glob("*.json")) + [ROOT / "docs" / "examples" / "w4a16_g128.json"]
    return {path.stem: path.read_text() for path in files}


def config_json_seeds():
    for stem, text in bench_configs().items():
        loaded = json.loads(text)
        for i, config in enumerate(loaded if isinstance(loaded, list) else [loaded]):
            write("config_json", f"{stem}_{i}.json", json.dumps(config))
    small = json.dumps(SMALL_CONFIG)
    near = {
        "small": small,
        "dynamic_m": json.dumps({**SMALL_CONFIG, "M": [1, 16, 16, 4096]}),
        "bitblas_nulls": json.dumps({**SMALL_CONFIG, "M": None, "group_size": None, "zeros_mode": None}),
        "zeros_quantized": json.dumps({**SMALL_CONFIG, "W_dtype": "uint4", "with_zeros": True,
                                       "zeros_mode": "quantized"}),
        "w8a8": json.dumps({"M": 16, "N": 64, "K": 64, "A_dtype": "int8", "W_dtype": "int8",
                            "accum_dtype": "int32", "out_dtype": "int32"}),
        "max_dims": json.dumps({**SMALL_CONFIG, "M": 2147483647, "N": 2147483647, "K": 2147483616}),
        "max_output": json.dumps({"M": 2147483647, "N": 2147483647, "K": 64, "A_dtype": "int8", "W_dtype": "int8",
                                  "accum_dtype": "int32", "out_dtype": "int32"}),
        "n_2pow63": small.replace('"N": 64', '"N": 9223372036854775808'),
        "n_2pow64": small.replace('"N": 64', '"N": 18446744073709551616'),
        "n_negative": small.replace('"N": 64', '"N": -9223372036854775808'),
        "n_float": small.replace('"N": 64', '"N": 64.0'),
        "n_exponent": small.replace('"N": 64', '"N": 1e400'),
        "n_string": small.replace('"N": 64', '"N": "64"'),
        "n_nan_like": small.replace('"N": 64', '"N": NaN'),
        "duplicate_key": small.replace('"N": 64', '"N": 64, "N": 128'),
        "unknown_field": json.dumps({**SMALL_CONFIG, "bits": 4}),
        "long_unknown_field": json.dumps({**SMALL_CONFIG, "x" * 3000: 1}),
        "long_dtype": json.dumps({**SMALL_CONFIG, "W_dtype": "u" * 3000}),
        "deep_m": small.replace('"M": 1', '"M": ' + deep(2000)),
        "deep_value": small.replace('"N": 64', '"N": ' + deep(2000, '{"a":', "}")),
        "deep_array": deep(3000),
        "deep_100000": deep(100000),
        "empty_m": json.dumps({**SMALL_CONFIG, "M": []}),
        "not_object": "[1, 2, 3]",
        "escapes": json.dumps({**SMALL_CONFIG, "layout": "n\u0000t\ud7ff"}),
        "canonical": canonical({"M": 1, "N": 64, "K": 64}),
    }
    for name, text in near.items():
        write("config_json", name + ".json", text)


def config_files_seeds():
    for stem, text in bench_configs().items():
        write("config_files", stem + ".json", text)
    write("config_files", "configs_object.json", json.dumps({"configs": [SMALL_CONFIG, {**SMALL_CONFIG, "M": [1, 16]}]}))
    write("config_files", "configs_empty.json", "[]")
    write("config_files", "configs_bad_entry.json", json.dumps([SMALL_CONFIG, {"N": 1}]))
    write("config_files", "configs_not_list.json", json.dumps({"configs": 3}))
    write("config_files", "configs_deep.json", '{"configs": ' + deep(100000) + "}")
    write("config_files", "configs_duplicate.json", '{"configs": [], "configs": [' + json.dumps(SMALL_CONFIG) + "]}")
    write("config_files", "schedule.json", json.dumps(SCHEDULE))
    write("config_files", "schedule_wgmma.json", json.dumps({
        **SCHEDULE, "family": "tensor_wgmma", "tile": {"m": 64, "n": 128}, "warps": {"m": 1, "n": 8, "k": 1},
        "pipeline": {**SCHEDULE["pipeline"], "stages": 4, "k_per_stage": 64, "vector_bytes": 16, "wgmma_group": 2}}))
    write("config_files", "schedule_huge.json", json.dumps({**SCHEDULE, "warps": {"n": 2 ** 40}}))
    write("config_files", "schedule_bad_family.json", json.dumps({**SCHEDULE, "family": ["simt"]}))
    write("config_files", "schedule_flat.json", json.dumps(FLAT_SCHEDULE))
    write("config_files", "schedule_bad_group.json", json.dumps({**SCHEDULE, "pipeline": [1], "launch": {"order": 1}}))
    write("config_files", "schedule_no_family.json", json.dumps({"tile": SCHEDULE["tile"]}))


def kernel_file_bytes(meta, binary, edit=lambda line: line, version=3):
    """A kernel file as tuning_db/kernel_file.hpp lays it out; `edit` changes the metadata line before
    its checksum is taken, so that near-valid files get past the checksum to the field checks."""
    meta = {**meta, "binary_sha256": hashlib.sha256(binary).hexdigest(), "binary_bytes": len(binary)}
    line = edit(json.dumps(meta, separators=(",", ":")).encode())
    if version == 1:
        return b"BITJIT-KERNEL 1\n" + line + b"\n" + binary
    return f"BITJIT-KERNEL {version} ".encode() + hashlib.sha256(line).hexdigest().encode() + b"\n" + line + b"\n" + binary


def elf_header(sm):
    """The 64-byte ELF header of a cubin for sm_<sm> as CUDA 13 writes it (ABI version 8: the SM number
    in bits 8..15 of e_flags); a cubin made of only its header is enough for the kernel file's checks."""
    header = bytearray(64)
    header[0:4] = b"\x7fELF"
    header[4], header[5], header[6], header[7], header[8] = 2, 1, 1, 0x41, 8
    header[16:18] = (2).to_bytes(2, "little")     # ET_EXEC
    header[18:20] = (190).to_bytes(2, "little")   # EM_CUDA
    header[20:24] = (1).to_bytes(4, "little")
    header[48:52] = (sm << 8).to_bytes(4, "little")
    header[52:54] = (64).to_bytes(2, "little")
    return bytes(header)


def synthetic_meta(key):
    return {"key": key, "config": json.loads(canonical({"M": 1, "N": 64, "K": 64})), "schedule": SCHEDULE,
            "arch": "sm_80", "nvrtc": "13.0", "bitjit": "0.1.0", "templates": "0" * 64, "flags": ["-arch=sm_80"],
            "compile_ms": 1.5, "created": "2026-01-01T00:00:00Z"}


def kernel_file_seeds(real_kernel):
    cubin = elf_header(80)
    good = kernel_file_bytes(synthetic_meta(KEY), cubin)
    named = lambda key, data: key.encode() + b"\n" + data
    size_field = b'"binary_bytes":64'
    write("kernel_file", "synthetic.kernel", named(KEY, good))
    if real_kernel:
        key, data = real_kernel
        write("kernel_file", "real.kernel", named(key, data))
    seeds = {
        "format_1": kernel_file_bytes(synthetic_meta(KEY), cubin, version=1),
        "format_2": kernel_file_bytes({**synthetic_meta(KEY), "schedule": FLAT_SCHEDULE}, cubin, version=2),
        "wrong_key": good,  # filed under another name below
        "truncated": good[:-10],
        "bad_magic": b"BITJIT-KERNEL 4" + good[15:],
        "no_binary_line": good[:good.rindex(b"\n")],
        "sm_90_cubin": kernel_file_bytes(synthetic_meta(KEY), elf_header(90)),
        "arch_not_sm": kernel_file_bytes({**synthetic_meta(KEY), "arch": "compute_80"}, cubin),
        "not_elf": kernel_file_bytes(synthetic_meta(KEY), b"x" * 64),
        "huge_size": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: l.replace(size_field, b'"binary_bytes":18446744073709551615')),
        "negative_size": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: l.replace(size_field, b'"binary_bytes":-1')),
        "float_size": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: l.replace(size_field, b'"binary_bytes":64.5')),
        "key_number": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: l.replace(f'"key":"{KEY}"'.encode(), b'"key":7')),
        "duplicate_key": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: l.replace(b"{", b'{"key":"x",', 1)),
        "meta_not_object": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: b"[" + l + b"]"),
        "deep_meta": kernel_file_bytes(synthetic_meta(KEY), cubin, lambda l: deep(100000).encode()),
    }
    flipped = bytearray(good)
    flipped[-1] ^= 1
    seeds["flipped_binary"] = bytes(flipped)
    flipped = bytearray(good)
    flipped[good.index(b'"arch"') + 2] ^= 1
    seeds["flipped_metadata"] = bytes(flipped)
    for name, data in seeds.items():
        write("kernel_file", name + ".kernel", named("f" * 64 if name == "wrong_key" else KEY, data))
    write("kernel_file", "path_key.kernel", named("/tmp/x/pwned", kernel_file_bytes(synthetic_meta("/tmp/x/pwned"), cubin)))
    write("kernel_file", "upper_key.kernel", named(KEY.upper(), kernel_file_bytes(synthetic_meta(KEY.upper()), cubin)))


def index_json(entries):
    return json.dumps({"format": 2, "kernels": entries}, indent=1)


def tuned_json():
    config = canonical({"M": 1, "N": 64, "K": 64})
    entry = {"config": config, "device": "NVIDIA H200", "arch": "sm_90a", "schedule": SCHEDULE,
             "latency_ms": 0.0123, "measured": "2026-01-01T00:00:00Z"}
    dynamic = {**entry, "config": config.replace('"M":1', '"M":[1,16]') + " @M=16"}
    return {"format": 2, "tuned": {f"{entry['device']}|{entry['config']}": entry,
                                   f"{dynamic['device']}|{dynamic['config']}": dynamic}}


def db_json_seeds(real_index):
    meta = synthetic_meta(KEY)
    write("db_json", "index_synthetic.json", index_json({KEY: {**meta, "binary_bytes": 64}}))
    if real_index:
        write("db_json", "index_real.json", real_index)
    tuned = tuned_json()
    write("db_json", "tuned.json", json.dumps(tuned, indent=1))
    write("db_json", "index_and_tuned.json", json.dumps({**tuned, "kernels": {KEY: meta}}))
    bad_entry = {**tuned, "tuned": {"x|y": {"config": 1, "latency_ms": -1}, "bogus": {**next(iter(tuned["tuned"].values())), "latency_ms": -1.0, "schedule": {"family": "bogus"}}}}
    write("db_json", "tuned_bad_entries.json", json.dumps(bad_entry))
    write("db_json", "format_3.json", json.dumps({"format": 3, "kernels": {}}))
    write("db_json", "format_1_tuned.json", json.dumps({**tuned, "format": 1, "tuned": {
        key: {**entry, "schedule": FLAT_SCHEDULE} for key, entry in tuned["tuned"].items()}}))
    write("db_json", "kernels_not_object.json", json.dumps({"format": 2, "kernels": [1, 2], "tuned": "x"}))
    write("db_json", "deep_index.json", '{"format": 2, "kernels": {"' + KEY + '": ' + deep(5000) + "}}")
    write("db_json", "deep_top.json", deep(100000))
    write("db_json", "duplicate_keys.json", '{"format": 2, "format": 2, "kernels": {"a": 1, "a": 2}}')
    write("db_json", "path_keys.json", index_json({"/tmp/x/victim": meta, "../../x": meta}))
    write("db_json", "huge_numbers.json", '{"format": 1e999, "kernels": {"a": {"binary_bytes": 1e999}}}')
    # The index's journal: a line per entry, the last one cut short, one not an entry, one a path key.
    line = json.dumps({**meta, "binary_bytes": 64})
    other = json.dumps({**meta, "key": "f" * 64, "binary_bytes": 1})
    write("db_json", "journal_lines.jsonl", "\n".join([line, other, "[1, 2]", json.dumps({**meta, "key": "../x"}),
                                                       line[:len(line) // 2]]))


def ustar_member(name, data, type_flag=b"0", size=None, name_bytes=None):
    """One ustar header (checksum computed) and the data, padded to 512 bytes."""
    header = bytearray(512)
    raw_name = name_bytes if name_bytes is not None else name.encode()
    header[0:len(raw_name)] = raw_name
    header[100:108] = b"0000644\0"
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = (size if size is not None else f"{len(data):011o}\0".encode())
    header[136:148] = b"00000000000\0"
    header[156:157] = type_flag
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = b"        "
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    return bytes(header) + data + bytes((512 - len(data) % 512) % 512)


def tar_of(members, end=True):
    return b"".join(members) + (bytes(1024) if end else b"")


def gnu_tar(files):
    """An archive written by Python's tarfile in GNU format, members named ./<path> as `tar -C dir -cf x.tar .` names them."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as archive:
        directory = tarfile.TarInfo("./")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def tar_seeds(real_tar, real_gnu_tar):
    kernel = kernel_file_bytes(synthetic_meta(KEY), elf_header(80))
    tuned = json.dumps(tuned_json()).encode()
    index = index_json({KEY: synthetic_meta(KEY)}).encode()
    files = {f"v1/kernels/{KEY}.kernel": kernel, "v1/index.json": index, "v1/tuned.json": tuned}
    seeds = {
        "synthetic.tar": tar_of([ustar_member(name, data) for name, data in files.items()]),
        "gnu_dot_members.tar": gnu_tar(files),
        "absolute_key.tar": tar_of([ustar_member("v1/kernels//tmp/x/pwned.kernel",
                                                 kernel_file_bytes(synthetic_meta("/tmp/x/pwned"), elf_header(80)))]),
        "dotdot_key.tar": tar_of([ustar_member("v1/kernels/../../../outside/" + "0" * 64 + ".kernel", kernel)]),
        "absolute.tar": tar_of([ustar_member("/etc/passwd", b"x")]),
        "dotdot.tar": tar_of([ustar_member("../x", b"x")]),
        "directory_and_symlink.tar": tar_of([ustar_member("v1/", b"", b"5"), ustar_member("v1/kernels", b"", b"2")]),
        "no_end_marker.tar": tar_of([ustar_member("v1/index.json", index)], end=False),
        "truncated.tar": tar_of([ustar_member("v1/index.json", index)])[:700],
        "huge_size.tar": tar_of([ustar_member("v1/index.json", b"", size=b"77777777777\0")]),
        "name_100_bytes.tar": tar_of([ustar_member("", b"x", name_bytes=b"v1/" + b"a" * 97)]),
        "empty.tar": bytes(1024),
    }
    bad_checksum = bytearray(seeds["synthetic.tar"])
    bad_checksum[0] ^= 1
    seeds["bad_checksum.tar"] = bytes(bad_checksum)
    if real_tar:
        seeds["real_export.tar"] = real_tar
        seeds["real_gnu_tar.tar"] = real_gnu_tar
    for name, data in seeds.items():
        write("tar", name, data)
        write("db_import", name, data)


def packing_seeds():
    """[call, element, bits or dtype, row length, bytes...]: call 0 general_compress (bits index into
    1, 2, 4, 8, 3, 0, 16, -4), 1 transform_weight (dtype index, compiler/dtype.hpp order); element:
    kind + 6 * width index (kinds: int, uint, float, bfloat, bool, other; widths 8, 16, 32, 64, ...)."""
    import struct
    int8, int16, int32, int64, uint8, float16, float32, float64, bfloat16, boolean = 0, 6, 12, 18, 1, 8, 14, 20, 9, 4
    dtype = {"float16": 0, "bfloat16": 1, "int8": 4, "int4": 5, "int2": 6, "int1": 7, "uint8": 8, "uint4": 9,
             "uint2": 10, "uint1": 11, "nf4": 12, "fp4_e2m1": 13, "float8_e4m3": 14, "float8_e5m2": 15}
    bits = {1: 0, 2: 1, 4: 2, 8: 3, 3: 4}
    seeds = {
        "compress_uint4_int8": bytes([0, int8, bits[4], 8]) + bytes(range(16)),
        "compress_int32_256": bytes([0, int32, bits[8], 4]) + struct.pack("<4i", 1, 2, 255, 256),
        "compress_int64_big": bytes([0, int64, bits[4], 2]) + struct.pack("<2q", 3, 2 ** 62),
        "compress_uint64_top": bytes([0, 1 + 18, bits[8], 1]) + struct.pack("<Q", 2 ** 64 - 1),
        "compress_float32_fraction": bytes([0, float32, bits[4], 2]) + struct.pack("<2f", 3.0, 3.9),
        "compress_float64_nan": bytes([0, float64, bits[2], 4]) + struct.pack("<4d", 0, 1, float("nan"), float("inf")),
        "compress_float16": bytes([0, float16, bits[4], 4]) + struct.pack("<4e", 1.0, 2.0, 15.0, -0.0),
        "compress_bool": bytes([0, boolean, bits[1], 8]) + bytes([1, 0] * 4),
        "compress_negative": bytes([0, int16, bits[2], 4]) + struct.pack("<4h", 0, 1, 2, -1),
        "compress_bits_3": bytes([0, int8, bits[3], 0]) + bytes(8),
        "compress_count_short": bytes([2, int8, bits[4], 0]) + bytes(7),
        "weight_int4": bytes([1, int8, dtype["int4"], 8]) + struct.pack("<8b", -8, -1, 0, 7, 1, 2, 3, 4),
        "weight_int4_out_of_range": bytes([1, int32, dtype["int4"], 2]) + struct.pack("<2i", 8, 300),
        "weight_int1": bytes([1, int8, dtype["int1"], 8]) + struct.pack("<8b", 1, -1, 1, -1, 0, 1, 1, 1),
        "weight_uint8_negative": bytes([1, int8, dtype["uint8"], 4]) + struct.pack("<4b", 0, 1, -1, 2),
        "weight_uint8_int16": bytes([1, int16, dtype["uint8"], 2]) + struct.pack("<2h", 255, 256),
        "weight_nf4_codes": bytes([1, uint8, dtype["nf4"], 8]) + bytes(range(16)),
        "weight_fp8_float": bytes([1, float32, dtype["float8_e4m3"], 2]) + struct.pack("<2f", 1.0, 2.0),
        "weight_float16": bytes([1, float16, dtype["float16"], 4]) + struct.pack("<4e", 1.0, -2.5, 65504.0, 0.0),
        "weight_float16_from_float32": bytes([1, float32, dtype["float16"], 2]) + struct.pack("<2f", 1.0, 1e-9),
        "weight_bfloat16": bytes([1, bfloat16, dtype["bfloat16"], 2]) + struct.pack("<2H", 0x3F80, 0x7FC0),
        "weight_bool": bytes([1, boolean, dtype["uint1"], 8]) + bytes([1, 0] * 4),
    }
    for name, data in seeds.items():
        write("packing", name, data)


def real_database(bitjit):
    """(kernel key, kernel file bytes), index.json text and an export .tar, from the CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "config.json").write_text(json.dumps([SMALL_CONFIG]))
        cache = tmp / "cache"
        subprocess.run([bitjit, "prewarm", "--configs", str(tmp / "config.json"), "--arch", "sm_80",
                        "--cache-dir", str(cache)], check=True, stdout=subprocess.DEVNULL)
        # A store leaves its index entry in the journal; a repair folds it into index.json.
        subprocess.run([bitjit, "db", "verify", "--repair", "--cache-dir", str(cache)], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([bitjit, "db", "export", str(tmp / "export.tar"), "--cache-dir", str(cache)], check=True,
                       stdout=subprocess.DEVNULL)
        kernel_path = next((cache / "v1" / "kernels").glob("*.kernel"))
        # The cache directory as GNU tar archives it (members ./v1/...), as a user would ship it.
        subprocess.run(["tar", "--format=gnu", "-C", str(cache), "-cf", str(tmp / "gnu.tar"), "."], check=True)
        return ((kernel_path.stem, kernel_path.read_bytes()), (cache / "v1" / "index.json").read_text(),
                (tmp / "export.tar").read_bytes(), (tmp / "gnu.tar").read_bytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bitjit", help="the bitjit CLI, for the real kernel file, index and export")
    args = parser.parse_args()
    for folder in CORPUS.glob("*"):  # keep crash reproducers, regenerate the rest
        for seed in folder.iterdir():
            if not seed.name.startswith("crash-"):
                seed.unlink()
    real_kernel, real_index, real_tar, real_gnu_tar = real_database(args.bitjit) if args.bitjit else (None,) * 4
    config_json_seeds()
    config_files_seeds()
    kernel_file_seeds(real_kernel)
    db_json_seeds(real_index)
    tar_seeds(real_tar, real_gnu_tar)
    packing_seeds()


if __name__ == "__main__":
    main()
