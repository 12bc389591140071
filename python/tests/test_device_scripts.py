"""The device recipe's scripts on this machine, with stand-ins for what needs a GPU:
scripts/device-run.sh's `baseline` step timing several sets of bench options on one base build
(a fake bench_matmul, a base.tgz whose CMake project only installs it), and scripts/device-chains.sh
running chain files under one call's time limit (a fake device-run.sh whose steps sleep or print),
skipping what would pass the limit and packing everything."""
import json
import pathlib
import random
import shutil
import subprocess
import tarfile

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"

# bench_matmul's stand-in: writes results.json into --out with a time per (shape, M) drawn from the
# seed in FAKE_SEED_FILE and its side (the base's binary lies under build-base*/), and records its
# arguments and kernel database.
FAKE_BENCH = r'''#!/usr/bin/env python3
import json, os, pathlib, random, sys
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1])
out.mkdir(parents=True, exist_ok=True)
ms = [int(m) for m in args[args.index("--M") + 1].split(",")]
side = "base" if any(p.startswith("build-base") for p in pathlib.Path(sys.argv[0]).parts) else "new"
seed = pathlib.Path(os.environ["FAKE_SEED_FILE"]).read_text() + side
rng = random.Random(seed)
modes = {"both": (False, True), "yes": (True,)}.get(args[args.index("--dynamic") + 1] if "--dynamic" in args else "no",
                                                  (False,))
rows = [{"format": "int4_g128", "shape": shape, "M": m, "bitjit_us": rng.uniform(5, 500), "dynamic_m": dynamic,
         "schedule": {"family": "tensor_gemv"}} for shape in ("8B o", "70B down") for m in ms for dynamic in modes]
(out / "results.json").write_text(json.dumps({"device": "fake", "rows": rows}))
(out / "args.txt").write_text(" ".join(args))
(out / "db.txt").write_text(os.environ["BITJIT_CACHE_DIR"])
'''


# The scripts run with a short PATH of their own; the folders of cmake and of its build tool go first,
# wherever this machine installed them (a pip wheel's bin, say).
SCRIPT_PATH = ":".join(dict.fromkeys(
    [str(pathlib.Path(found).parent) for found in map(shutil.which, ("cmake", "ninja", "make")) if found] +
    ["/usr/bin", "/bin", "/usr/local/bin"]))


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def fake_repo(tmp_path, *scripts):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for script in scripts:
        shutil.copy(SCRIPTS / script, repo / "scripts" / script)
    return repo


def write_executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def build_tool_generator():
    """The CMake generator of the build tool this machine has (the GPU machine has ninja and no make)."""
    if shutil.which("ninja"):
        return "Ninja"
    if shutil.which("make"):
        return "Unix Makefiles"
    pytest.skip("neither ninja nor make is installed")


def fake_base(tmp_path, archive_path):
    """A base tree: a CMake project that installs the bench stand-in as its build-release/bench/bench_matmul."""
    base = tmp_path / "base-src" / "base"
    write_executable(base / "fake_bench", FAKE_BENCH)
    (base / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(fake NONE)\n"
        "file(COPY ${CMAKE_SOURCE_DIR}/fake_bench DESTINATION ${CMAKE_BINARY_DIR}/bench)\n"
        "file(RENAME ${CMAKE_BINARY_DIR}/bench/fake_bench ${CMAKE_BINARY_DIR}/bench/bench_matmul)\n")
    (base / "CMakePresets.json").write_text(json.dumps({
        "version": 3,
        "configurePresets": [{"name": "release", "binaryDir": "${sourceDir}/build-release",
                              "generator": build_tool_generator()}],
        "buildPresets": [{"name": "release", "configurePreset": "release"}]}))
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(base, arcname="base")


def baseline_repo(tmp_path, archive_name):
    """A checkout for `baseline`: the new side's bench stand-in as build-release/bench/bench_matmul, the
    base's in the archive archive_name, and the file of the fakes' seed."""
    need("cmake")
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh", "base-vs-new.py", "bench_results.py")
    seed_file = tmp_path / "seed"
    seed_file.write_text(str(random.random()))
    write_executable(repo / "build-release" / "bench" / "bench_matmul", FAKE_BENCH)
    fake_base(tmp_path, repo / archive_name)
    return repo, seed_file


def test_baseline_times_each_set_of_options_on_one_base_build(tmp_path):
    repo, seed_file = baseline_repo(tmp_path, "base.tgz")
    out = tmp_path / "out"
    sets = ["--formats int4_g128 --M 16", "--formats int4_g128 --M 1,16 --dynamic yes"]
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1",
           "BENCH_ARGS": ";".join(sets), "FAKE_SEED_FILE": str(seed_file)}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "baseline"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for n, options in enumerate(sets):
        suffix = "" if n == 0 else f"-{n + 1}"
        for side in ("base", "new"):
            assert (out / f"bench-{side}{suffix}" / "args.txt").read_text() == \
                f"{options} --out {out}/bench-{side}{suffix}"
            assert (out / f"bench-{side}{suffix}" / "db.txt").read_text() == \
                str(repo / "build-release" / f"baseline-{side}-db")
        base_rows = json.loads((out / f"bench-base{suffix}" / "results.json").read_text())["rows"]
        new_rows = json.loads((out / f"bench-new{suffix}" / "results.json").read_text())["rows"]
        table = (out / f"base-vs-new{suffix}.md").read_text()
        for base_row, new_row in zip(base_rows, new_rows):
            ratio = new_row["bitjit_us"] / base_row["bitjit_us"]
            assert f"{base_row['bitjit_us']:.1f} / {new_row['bitjit_us']:.1f} ({ratio:.2f})" in table
        assert f"new over base{suffix}: | range |" in result.stdout
    assert not (out / "bench-base-3").exists()
    # `pack` (last): everything under $OUT into all.tgz, the summary beside it.
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "pack"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["all.tgz", "summary.txt"]
    assert "build skipped (DEVICE_RUN_BUILT=1)" in (out / "summary.txt").read_text()
    with tarfile.open(out / "all.tgz") as archive:
        assert "./base-vs-new-2.md" in archive.getnames() and "./summary.txt" in archive.getnames()
    # An empty set between ';' would time the whole default suite: refused by name, the others run.
    shutil.rmtree(out)
    env["BENCH_ARGS"] = ";".join([sets[0], " ", sets[1]])
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "baseline"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "baseline: set 2 of BENCH_ARGS is empty" in result.stdout
    assert not (out / "bench-base-2").exists() and (out / "base-vs-new-3.md").exists()


def test_baseline_takes_a_base_archive_and_database_root_of_its_own(tmp_path):
    """Two chains timing against bases of their own: BASE_TGZ=base-x.tgz builds in build-base-x, and
    DEVICE_RUN_DB_ROOT (device-chains.sh's, one per chain) holds the kernel databases."""
    repo, seed_file = baseline_repo(tmp_path, "base-x.tgz")
    out, db_root = tmp_path / "out", tmp_path / "chain-7"
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1",
           "BENCH_ARGS": "--formats int4_g128 --M 1", "FAKE_SEED_FILE": str(seed_file), "BASE_TGZ": "base-x.tgz",
           "DEVICE_RUN_DB_ROOT": str(db_root)}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "baseline"], env=env, cwd=repo,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repo / "build-base-x" / "base" / "build-release" / "bench" / "bench_matmul").exists()
    assert not (repo / "build-base").exists()
    for side in ("base", "new"):
        assert (out / f"bench-{side}" / "db.txt").read_text() == str(db_root / f"baseline-{side}-db")
    assert "new over base: | range |" in result.stdout
    # A base that is not a .tgz is refused by name before anything runs.
    env["BASE_TGZ"] = "base.tar"
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "baseline"], env=env, cwd=repo,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "BASE_TGZ=base.tar must name a .tgz" in result.stderr


def test_variants_with_a_tag_keep_their_results_apart(tmp_path):
    """Two `variants` steps of one chain: VARIANTS_TAG=zeros writes variants-zeros/<n> beside the untagged
    variants/<n>, each override passed to the bench; a tag that is not a plain name is refused by name."""
    repo, seed_file = baseline_repo(tmp_path, "base.tgz")
    out = tmp_path / "out"
    overrides = ['{}', '{"launch":{"blocks_per_sm":4}}']
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1",
           "BENCH_ARGS": "--formats int4_g128 --M 1", "FAKE_SEED_FILE": str(seed_file), "VARIANTS": ";".join(overrides)}
    for tag in ("", "zeros"):
        result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "variants"],
                                env={**env, "VARIANTS_TAG": tag}, cwd=repo, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        folder = "variants-zeros" if tag else "variants"
        for n, override in enumerate(overrides, start=1):
            assert (out / folder / str(n) / "args.txt").read_text() == \
                f"--formats int4_g128 --M 1 --schedule {override} --out {out}/{folder}/{n}"
            assert f"{folder} {n} {override} rc=0" in result.stdout
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "variants"],
                            env={**env, "VARIANTS_TAG": "../x"}, cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "VARIANTS_TAG=../x must be letters, digits or _" in result.stderr
    assert not (tmp_path / "x").exists() and not (out.parent / "variants-..").exists()


# The GPU test binary's stand-in: prints the filter and the other arguments it was given and a
# Catch2-like last line.
FAKE_TEST_GPU = r'''#!/usr/bin/env python3
import signal, sys, time
test_filter = sys.argv[1]
if "--list-test-names-only" in sys.argv:  # Catch2 2's listing: the sweeps are the cases named "every config"
    sweeps = ["every config of the format matrix", "every config tensor_wgmma takes"]
    print("\n".join(sweeps if test_filter == "[sweep]" else
                    [name for name in sweeps if test_filter.startswith("every config")] or [test_filter]))
    sys.exit(0)
if test_filter == "the format sweep's plan*":  # its count of the sweep's kernels: the whole's, or a shard's part
    import os
    shard = os.environ.get("BITJIT_SWEEP_SHARD")
    print(f"format sweep plan: 7462 configs, {21214 // (int(shard.split('/')[1]) if shard else 1)} kernels for sm_90a")
    sys.exit(0)
print("filter", test_filter)
print("args", " ".join(sys.argv[2:]))
if "slow" in test_filter:  # one case ends, a sweep starts and outlasts any limit a test gives it
    def killed(*_):  # as Catch2 does: the case reported failed, with its duration line
        print("SIGTERM - Termination request signal\n0.000 s: the slow sweep", flush=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, killed)
    print("0.512 s: a quick case", flush=True)
    print("sweep progress: 200 of 936 runs, 0 failed, 3 s", flush=True)
    time.sleep(60)
print("All tests passed (1 assertion in 1 test case)")
'''


def test_checks_with_a_tag_keep_their_logs_apart(tmp_path):
    """Two `checks` steps of one chain: CHECKS_TAG=second writes checks-second/<n>.log beside the untagged
    checks/<n>.log, each filter run by the GPU test binary; a tag that is not a plain name is refused by
    name."""
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh")
    write_executable(repo / "build-release" / "tests" / "test_gpu", FAKE_TEST_GPU)
    out = tmp_path / "out"
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1"}
    for tag, filters in (("", ["first a*", "first b*"]), ("second", ["second c*"])):
        result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "checks"],
                                env={**env, "CHECKS_TAG": tag, "CHECK_TESTS": ";".join(filters)}, cwd=repo,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        folder = "checks-second" if tag else "checks"
        for n, test_filter in enumerate(filters, start=1):
            assert (out / folder / f"{n}.log").read_text().startswith(f"filter {test_filter}\n")
            assert f"check {n} ({test_filter}) rc=0: All tests passed" in result.stdout
    assert (out / "checks" / "1.log").read_text().startswith("filter first a*")  # not overwritten
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "checks"],
                            env={**env, "CHECKS_TAG": "../x", "CHECK_TESTS": "a*"}, cwd=repo, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "CHECKS_TAG=../x must be letters, digits or _" in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_check_cut_by_its_time_limit_is_no_verdict(tmp_path):
    """A check killed by CHECK_TIMEOUT is summarized as cut, with no verdict (Catch2 would count the kill
    as one failed assertion), the cases that ended before it and its last sweep progress line; the
    others as before."""
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh")
    write_executable(repo / "build-release" / "tests" / "test_gpu", FAKE_TEST_GPU)
    out = tmp_path / "out"
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1", "CHECK_TIMEOUT": "2",
           "CHECK_TESTS": "slow sweep*;quick*"}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "checks"], env=env, cwd=repo,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("check 1 (slow sweep*) CUT by CHECK_TIMEOUT=2 s, no verdict (Catch2 counts the kill as a failure): "
            "1 case(s) ended before the cut; sweep progress: 200 of 936 runs, 0 failed, 3 s") in result.stdout
    assert "check 2 (quick*) rc=0: All tests passed" in result.stdout


def test_dynamic_times_both_modes_in_one_bench_run(tmp_path):
    """`dynamic` runs bench_matmul once with --dynamic both over DYNAMIC_ARGS and puts its two modes
    side by side (scripts/dynamic-vs-static.py on the one results.json)."""
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh", "dynamic-vs-static.py", "bench_results.py")
    write_executable(repo / "build-release" / "bench" / "bench_matmul", FAKE_BENCH)
    seed_file = tmp_path / "seed"
    seed_file.write_text(str(random.random()))
    out = tmp_path / "out"
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1", "FAKE_SEED_FILE": str(seed_file),
           "DYNAMIC_ARGS": "--formats int4_g128 --M 1,32"}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "dynamic"], env=env, cwd=repo,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "dynamic" / "args.txt").read_text() == f"--formats int4_g128 --M 1,32 --dynamic both --out {out}/dynamic"
    rows = json.loads((out / "dynamic" / "results.json").read_text())["rows"]
    table = (out / "dynamic-vs-static.md").read_text()
    assert len(rows) == 8
    for static, dynamic in zip(rows[0::2], rows[1::2]):
        assert (static["M"], static["dynamic_m"], dynamic["dynamic_m"]) == (dynamic["M"], False, True)
        x, y = dynamic["bitjit_us"], static["bitjit_us"]
        assert f"{x:.1f} / {y:.1f} ({y / x:.2f})" in table
    assert "dynamic over static: | range |" in result.stdout


def test_hopper_runs_its_shards_side_by_side(tmp_path):
    """`hopper` runs the [wgmma] tests as HOPPER_SHARDS processes of Catch2's sharding, a log each and a
    line each in the summary; a shard count that is not 1-16 is refused by name before anything runs."""
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh")
    write_executable(repo / "build-release" / "tests" / "test_gpu", FAKE_TEST_GPU)
    out = tmp_path / "out"
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1", "HOPPER_SHARDS": "3"}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "hopper"], env=env, cwd=repo,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    for shard in range(3):
        log = (out / "hopper" / f"{shard}.log").read_text()
        assert log.startswith(f"filter [wgmma]\nargs --shard-count 3 --shard-index {shard} -d yes\n")
        assert f"hopper shard {shard} of 3 rc=0" in result.stdout
    assert not (out / "hopper" / "3.log").exists()
    for bad in ("0", "17", "x"):
        result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "hopper"],
                                env={**env, "HOPPER_SHARDS": bad, "OUT": str(tmp_path / "bad")}, cwd=repo,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and f"HOPPER_SHARDS={bad} must be a whole number from 1 to 16" in result.stderr
        assert not (tmp_path / "bad" / "hopper").exists()


# `bitjit tune`'s stand-in: records its arguments in the database folder it is given.
FAKE_TUNE = r'''#!/usr/bin/env python3
import pathlib, sys
args = sys.argv[1:]
assert args[0] == "tune", args
db = pathlib.Path(args[args.index("--cache-dir") + 1])
db.mkdir(parents=True, exist_ok=True)
(db / "tune-args.txt").write_text(" ".join(args))
print("tuned", args[args.index("--configs") + 1])
'''


def test_tune_with_a_tag_keeps_its_results_apart(tmp_path):
    """Two `tune` steps of one chain: TUNE_TAG=low_bit writes tune-low_bit.log, bench-default-low_bit/,
    bench-tuned-low_bit/ and tuned-vs-default-low_bit.md on databases of its own beside the untagged
    step's; a tag that is not a plain name is refused by name before anything runs."""
    repo, seed_file = baseline_repo(tmp_path, "base.tgz")
    write_executable(repo / "build-release" / "bitjit", FAKE_TUNE)
    out = tmp_path / "out"
    db_root = repo / "build-release"
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "DEVICE_RUN_BUILT": "1", "BENCH_ARGS": "--formats int2_g128 --M 1",
           "FAKE_SEED_FILE": str(seed_file), "TUNE_TOPK": "12"}
    for tag, configs in (("", "suite.json"), ("low_bit", "low-bit.json")):
        result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "tune"],
                                env={**env, "TUNE_TAG": tag, "TUNE_CONFIGS": configs}, cwd=repo,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        t = f"-{tag}" if tag else ""
        assert (out / f"tune{t}.log").read_text() == f"tuned {configs}\n"
        assert (db_root / f"tuned-db{t}" / "tune-args.txt").read_text() == \
            f"tune --configs {configs} --topk 12 --cache-dir {db_root}/tuned-db{t}"
        for side in ("default", "tuned"):
            assert (out / f"bench-{side}{t}" / "db.txt").read_text() == str(db_root / f"{side}-db{t}")
            assert (out / f"bench-{side}{t}" / "args.txt").read_text() == \
                f"--formats int2_g128 --M 1 --out {out}/bench-{side}{t}"
        assert "| range |" in (out / f"tuned-vs-default{t}.md").read_text()
        assert f"tuned over default{t}: | range |" in result.stdout
    assert (out / "tune.log").read_text() == "tuned suite.json\n"  # the first step's, not overwritten
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "tune"],
                            env={**env, "TUNE_TAG": "a/b"}, cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "TUNE_TAG=a/b must be letters, digits or _" in result.stderr
    assert not (out / "tune-a").exists()
    long_tag = "t" * 65  # past a file name's room once suffixed
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "tune"],
                            env={**env, "TUNE_TAG": long_tag}, cwd=repo, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"TUNE_TAG={long_tag} must be letters, digits or _, at most 64" in result.stderr


# Nsight Compute's stand-in: a profiling run records its arguments and the environment the peers need
# and writes the report; an export prints a details page (a duration, a DRAM throughput) or a
# two-instruction SASS table.
FAKE_NCU = r'''#!/usr/bin/env python3
import json, os, pathlib, sys
args = sys.argv[1:]
if "-i" in args:
    if "details" in args:  # a kernel's header and its Speed Of Light table; the peers' DRAM figures differ
        dram = "80.00" if "humming" in args[args.index("-i") + 1] else "60.00"
        print("  kernel (132, 1, 1)x(256, 1, 1), Context 1, Stream 7, Device 0, CC 9.0")
        print("    Section: GPU Speed Of Light Throughput")
        print("    DRAM Throughput                   %        " + dram)
        print("    Duration                         us       12.34")
    else:
        print('"Address","Source","Warp Stall Sampling (All Samples)","stall_long_sb","stall_math"')
        print('"0x7f0000000010","LDG.E.128 R4, desc[UR4][R2.64]","30","25","5"')
        print('"0x7f0000000020","HMMA.16816.F32 R8, R4, R6, R8","10","0","10"')
    sys.exit(0)
report = pathlib.Path(args[args.index("-o") + 1] + ".ncu-rep")
report.write_text("report")
record = {"args": args, "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
          "HUMMING_CACHE_DIR": os.environ.get("HUMMING_CACHE_DIR", ""), "BITJIT_CACHE_DIR": os.environ.get("BITJIT_CACHE_DIR", "")}
with open(os.environ["FAKE_NCU_LOG"], "a") as log:
    log.write(json.dumps(record) + "\n")
'''


def test_peer_stalls_profile_humming_and_bitjit_inside_the_peers_run(tmp_path):
    """`peer-stalls`: for each static PROFILE_CASES entry, Nsight Compute on one launch of humming's GEMM and
    one of bitjit's kernel, each inside bench/peers.py on that one case (the peers' build and wheels, short
    timing), exported and summed as `stalls` does; a dynamic case, and one whose parts are not plain names
    and numbers (they name files), are refused by name."""
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh", "ncu-stalls.py", "ncu_sass.py", "ncu-details.py")
    bin_dir = tmp_path / "bin"
    write_executable(bin_dir / "ncu", FAKE_NCU)
    write_executable(bin_dir / "cmake", "#!/bin/sh\nexit 0\n")  # the Python extension's build
    # pip's stand-in; every other python3 call goes to this interpreter.
    write_executable(bin_dir / "python3", f"#!/bin/sh\nif [ \"$1\" = -m ] && [ \"$2\" = pip ]; then exit 0; fi\n"
                                          f"exec {shutil.which('python3')} \"$@\"\n")
    (repo / ".whl-peers").mkdir()
    (repo / ".whl-peers" / "humming_kernels-0.1.20-cp310-abi3-manylinux_2_28_x86_64.whl").write_text("wheel")
    out, log = tmp_path / "out", tmp_path / "ncu.log"
    env = {"PATH": f"{bin_dir}:{SCRIPT_PATH}", "OUT": str(out), "DEVICE_RUN_BUILT": "1", "FAKE_NCU_LOG": str(log),
           "PROFILE_CASES": "int4_g128:70B_down:16 int4_g128:70B_o:64:1,16,64 ../x:70B_o:1 int4_g128:70B_o:1:1;2"}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "peer-stalls"], env=env, cwd=repo,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(runs) == 2
    for run, peer, kernel in zip(runs, ("humming", "bitjit"), ("regex:^humming", "regex:bitjit_matmul")):
        name = out / "peer-stalls" / f"int4_g128-70B_down-16-{peer}"
        assert run["args"] == ["-k", kernel, "--launch-skip", "3", "--launch-count", "1", "--set", "full",
                               "--import-source", "no", "-o", str(name), "python3", "bench/peers.py",
                               "--formats", "int4_g128", "--shapes", "70B_down", "--M", "16", "--launches", "2",
                               "--warmup", "1", "--batches", "1", "--out", f"{name}-peers"]
        assert run["PYTHONPATH"].split(":")[1:] == [str(repo / "build-python" / "python"),
                                                    str(repo / "build-python" / "python-deps")]
        assert run["HUMMING_CACHE_DIR"] == str(repo / "build-release" / "humming-cache")
        assert run["BITJIT_CACHE_DIR"] == str(repo / "build-release" / "bench-db")
        assert "12.34" in (name.parent / f"{name.name}.txt").read_text()
        stalls = (name.parent / f"{name.name}-stalls.txt").read_text()
        assert "stall samples: 40" in stalls and "stall_long_sb" in stalls
        assert (name.parent / f"{name.name}-sass.csv.gz").exists()
        assert f"peer-stalls int4_g128:70B_down:16 {peer}: Duration us 12.34 stall_long_sb 25 62.5 % stall_math 15 37.5 %" \
            in " ".join(result.stdout.split())
        dram = "80.00" if peer == "humming" else "60.00"
        assert (name.parent / f"{name.name}-figures.txt").read_text() == f"duration 12.34 us, DRAM throughput {dram} %\n"
        assert f"peer-stalls int4_g128:70B_down:16 {peer}: DRAM throughput {dram} %" in result.stdout
    # Both kernels' figures side by side.
    details = (out / "peer-stalls" / "int4_g128-70B_down-16-details.md").read_text()
    assert "| figure | humming | bitjit |" in details and "| DRAM throughput | 80.00 % | 60.00 % |" in details
    assert "peer-stalls int4_g128:70B_o:64:1,16,64: static M only (format:shape:M)" in result.stdout
    # The parts of a case name files under $OUT: anything but plain names and numbers is refused by name.
    for bad in ("../x:70B_o:1", "int4_g128:70B_o:1:1;2"):
        assert f"peer-stalls: {bad} is not format:shape:M[:BUCKETS]" in result.stdout
    assert not (out / "x-70B_o-1-humming.ncu-rep").exists() and not (tmp_path / "x-70B_o-1-humming.ncu-rep").exists()


def test_the_python_build_folder_is_a_plain_name(tmp_path):
    """DEVICE_RUN_PYTHON_BUILD names a folder of the checkout (device-chains.sh sets build-python-chain<i>):
    a path is refused by name before any step runs."""
    repo = fake_repo(tmp_path, "device-run.sh", "pack-out.sh")
    for folder in ("../x", "a/b", "x y"):
        result = subprocess.run(["bash", str(repo / "scripts" / "device-run.sh"), "pytest"],
                                env={"PATH": SCRIPT_PATH, "OUT": str(tmp_path / "out"), "DEVICE_RUN_BUILT": "1",
                                     "DEVICE_RUN_PYTHON_BUILD": folder},
                                cwd=repo, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        assert f"DEVICE_RUN_PYTHON_BUILD={folder} must be letters, digits, - or _" in result.stderr
    assert not (tmp_path / "x").exists() and not (repo / "a").exists()


def test_chains_cut_each_step_to_the_call_and_pack_everything(tmp_path):
    need("timeout")
    repo = fake_repo(tmp_path, "device-chains.sh", "pack-out.sh")
    # device-run.sh's stand-in: `build` prints the build line; `sleep N` sleeps; `say X` prints X.
    write_executable(repo / "scripts" / "device-run.sh", r'''#!/usr/bin/env bash
mkdir -p "$OUT"
echo "== chain env: gpu=$CUDA_VISIBLE_DEVICES built=${DEVICE_RUN_BUILT:-0} db=${BITJIT_CACHE_DIR##*/} root=${DEVICE_RUN_DB_ROOT##*/} python=${DEVICE_RUN_PYTHON_BUILD:-shared}"
case "$1" in
  build) echo "== build ok" ;;
  sleep) sleep "$2"; echo "== slept $2" ;;
  say) echo "== said $2 with ${WORD:-nothing}" ;;
esac
''')
    (repo / "chain0").write_text("export WORD=alpha\nstep 30 say one\nstep 60 sleep 8\n")
    (repo / "chain1").write_text("step 30 say two\nstep 60 sleep 6\nstep 30 say late\n")
    out = tmp_path / "out"
    # One GPU: the chains in turn, 22 s before packing; after 14 s of sleep the last step has under 10.
    env = {"PATH": SCRIPT_PATH, "OUT": str(out), "CALL_LIMIT": "24", "PACK_SECONDS": "2",
           "GPUS": "1"}
    result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh"), "chain0", "chain1"], cwd=repo,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["all.tgz", "summary.txt"]
    summary = (out / "summary.txt").read_text()
    assert "== said one with alpha" in summary and "== said two with nothing" in summary
    assert "== slept 8" in summary and "== slept 6" in summary
    assert "== skipped say late (asked 30 s," in summary
    # One after the other the chains share the Python extension's build folder.
    assert "gpu=0 built=1 db=chain-db-0 root=chain-0 python=shared" in summary
    assert "gpu=0 built=1 db=chain-db-1 root=chain-1 python=shared" in summary
    with tarfile.open(out / "all.tgz") as archive:
        names = archive.getnames()
    assert "./chain0/steps.txt" in names and "./chain1/steps.txt" in names and "./build-summary.txt" in names

    # Side by side (two GPUs) each chain has its GPU and a Python build folder of its own.
    shutil.rmtree(out)
    result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh"), "chain0", "chain1"], cwd=repo,
                            env={**env, "GPUS": "2", "CALL_LIMIT": "60"}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (out / "summary.txt").read_text()
    assert "gpu=0 built=1 db=chain-db-0 root=chain-0 python=build-python-chain0" in summary
    assert "gpu=1 built=1 db=chain-db-1 root=chain-1 python=build-python-chain1" in summary

    # A step longer than what is left is stopped by its limit, and says so.
    (repo / "chain0").write_text("step 60 sleep 30\n")
    shutil.rmtree(out)
    env["CALL_LIMIT"] = "13"  # 11 s for the step
    result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh"), "chain0"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (out / "summary.txt").read_text()
    assert "== sleep 30 stopped by its" in summary and "== slept 30" not in summary


def test_chains_refuse_missing_chain_files(tmp_path):
    repo = fake_repo(tmp_path, "device-chains.sh", "pack-out.sh")
    result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh"), "nowhere"], cwd=repo,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "chain file nowhere does not exist" in result.stderr
    result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh")], cwd=repo, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "usage:" in result.stderr
    (repo / "chain0").write_text("step 5 say one\n")
    for setting, value, unit in (("CALL_LIMIT", "ten", "seconds"), ("PACK_SECONDS", "-3", "seconds"),
                                 ("GPUS", "2x", "GPUs")):
        result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh"), "chain0"], cwd=repo,
                                env={"PATH": SCRIPT_PATH, setting: value}, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2
        assert f"{setting}={value} must be a whole number ({unit})" in result.stderr


def test_chains_refuse_a_step_line_without_seconds_or_step(tmp_path):
    need("timeout")
    repo = fake_repo(tmp_path, "device-chains.sh", "pack-out.sh")
    write_executable(repo / "scripts" / "device-run.sh", "#!/usr/bin/env bash\nmkdir -p \"$OUT\"\necho \"== ran $*\"\n")
    (repo / "chain0").write_text("step soon say\nstep 30\nstep 30 say fine\n")
    out = tmp_path / "out"
    result = subprocess.run(["bash", str(repo / "scripts" / "device-chains.sh"), "chain0"], cwd=repo,
                            env={"PATH": SCRIPT_PATH, "OUT": str(out), "GPUS": "1"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (out / "summary.txt").read_text()
    assert "== step 'soon say' refused: write step SECONDS STEP..." in summary
    assert "== step '30 ' refused" in summary
    assert "== ran say fine" in summary


def test_chains_check_refuses_before_a_call(tmp_path):
    """`device-chains.sh --check` runs nothing and makes no output folder: each chain's exports in order,
    every step line's seconds and steps checked by device-run.sh's DEVICE_RUN_CHECK_ONLY (names, the base
    archive, tags, PROFILE_CASES, VARIANTS' JSON, CHECK_TESTS), every refusal named with its chain."""
    repo = fake_repo(tmp_path, "device-chains.sh", "device-run.sh", "pack-out.sh")
    (repo / "base.tgz").write_bytes(b"")
    (repo / "good").write_text(
        "export CHECK_TESTS='tensor_gemv matches*'\nstep 100 checks\n"
        "export VARIANTS='{};{\"tile\":{\"n\":32}}' VARIANTS_TAG=nf4_one_row\nstep 90 variants\n"
        "export PROFILE_CASES='int4_g128:70B_down:16 int4_g128:70B_o:1:1,16'\nstep 200 peer-stalls baseline\n")
    (repo / "bad").write_text(
        "export VARIANTS='{};tile.n=32'\nstep 90 variants\n"
        "export BASE_TGZ=base-x.tgz\nstep 100 baseline\n"
        "step 10 sweep bogus\nstep ten sweep\nstep 20 checks\n"
        "export PROFILE_CASES='int4_g128:70B_down'\nstep 20 stalls\n")
    script = ["bash", str(repo / "scripts" / "device-chains.sh"), "--check"]
    env = {"PATH": SCRIPT_PATH}
    result = subprocess.run(script + ["good"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "device-chains: good ok" in result.stdout
    result = subprocess.run(script + ["good", "bad"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    # no bench_matmul in this checkout: the bench options are left unchecked, said in notes, refusing nothing
    refusals = [line for line in result.stderr.splitlines() if ": note: " not in line]
    assert "device-chains: good: note: no bench_matmul built here" in result.stderr
    assert all(line.startswith("device-chains: bad: ") for line in refusals), refusals
    for said in ("VARIANTS entry 'tile.n=32' is not a JSON object",
                 "BASE_TGZ=base-x.tgz does not exist",
                 "unknown step bogus",
                 "step 'ten sweep' refused",
                 "checks: CHECK_TESTS is empty",
                 "PROFILE_CASES entry int4_g128:70B_down is not format:shape:M"):
        assert sum(said in line for line in refusals) == 1, (said, refusals)
    tagged = repo / "tagged"
    tagged.write_text("export VARIANTS_TAG=nf4-one-row\nstep 90 variants\n")
    result = subprocess.run(script + ["tagged"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "VARIANTS_TAG=nf4-one-row must be letters, digits or _" in result.stderr
    assert not (repo / "device-out").exists()


def test_chains_check_names_sweep_settings_and_sweeps_side_by_side(tmp_path):
    """`--check` refuses a malformed BITJIT_SWEEP_SHARD (k/n, 0 <= k < n <= 1000), BITJIT_SWEEP_STRIDE or
    MEMCHECK_STRIDE (1-9999) by name, and notes, refusing nothing, a checks step whose filters run
    sweeps side by side (the cases listed by a test_gpu built here, CHECK_TEST_BIN)."""
    repo = fake_repo(tmp_path, "device-chains.sh", "device-run.sh", "pack-out.sh")
    script = ["bash", str(repo / "scripts" / "device-chains.sh"), "--check", "chain"]
    env = {"PATH": SCRIPT_PATH}
    for setting, value, said in (("BITJIT_SWEEP_SHARD", "4/4", "expected k/n, whole numbers with 0 <= k < n <= 1000"),
                                 ("BITJIT_SWEEP_SHARD", "1", "expected k/n"),
                                 ("BITJIT_SWEEP_SHARD", "0/1001", "expected k/n"),
                                 ("BITJIT_SWEEP_STRIDE", "0", "expected a whole number from 1 to 9999"),
                                 ("BITJIT_SWEEP_STRIDE", "x", "expected a whole number from 1 to 9999"),
                                 ("MEMCHECK_STRIDE", "10000", "expected a whole number from 1 to 9999")):
        (repo / "chain").write_text(f"export {setting}={value}\nstep 100 sweep\n")
        result = subprocess.run(script, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and f"{setting}='{value}': {said}" in result.stderr, (setting, value, result.stderr)
    (repo / "chain").write_text("export BITJIT_SWEEP_SHARD=3/8 BITJIT_SWEEP_STRIDE=0020\nstep 100 sweep\n")
    result = subprocess.run(script, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    write_executable(tmp_path / "test_gpu", FAKE_TEST_GPU)
    listing = {**env, "CHECK_TEST_BIN": str(tmp_path / "test_gpu")}
    (repo / "chain").write_text("export CHECK_TESTS='every config of*;tensor_gemv*;every config tensor*'\nstep 100 checks\n")
    result = subprocess.run(script, cwd=repo, env=listing, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert ("note: checks: 2 filters take sweeps ('every config of*' 'every config tensor*'), which would compile "
            "side by side on the same cores") in result.stderr
    (repo / "chain").write_text("export CHECK_TESTS='every config of*;tensor_gemv*'\nstep 100 checks\n")
    result = subprocess.run(script, cwd=repo, env=listing, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "filters take sweeps" not in result.stderr, result.stderr


def test_chains_check_notes_a_baseline_timed_eagerly(tmp_path):
    """--check notes, refusing nothing, each set of a baseline step's BENCH_ARGS without --timing (the
    bench's eager default times the host's launches too); a set with --timing: no note."""
    repo = fake_repo(tmp_path, "device-chains.sh", "device-run.sh", "pack-out.sh")
    (repo / "base.tgz").write_bytes(b"")
    (repo / "chain").write_text('export BENCH_ARGS="--formats int4_g128 --M 64;--formats int4_g128 --M 32 --timing graph"\n'
                                "step 100 baseline\n")
    script = ["bash", str(repo / "scripts" / "device-chains.sh"), "--check", "chain"]
    result = subprocess.run(script, cwd=repo, env={"PATH": SCRIPT_PATH}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    eager = [line for line in result.stderr.splitlines() if "has no --timing" in line]
    assert eager == ["device-chains: chain: note: baseline: BENCH_ARGS set '--formats int4_g128 --M 64' has no --timing: "
                     "eager launches (the bench's default) time the host's launches too; --timing graph compares the "
                     "kernels"], result.stderr


def test_chains_check_estimates_the_format_sweeps_compiling(tmp_path):
    """--check notes, refusing nothing, a checks step whose filters take the format sweep where the kernels
    a test_gpu built here counts for it ("the format sweep's plan*", under the exported shard) take
    CHECK_TIMEOUT or more at 24 a second, and gives a sweep step the estimate always; a shard that fits,
    another filter, or no test_gpu: no note."""
    repo = fake_repo(tmp_path, "device-chains.sh", "device-run.sh", "pack-out.sh")
    write_executable(tmp_path / "test_gpu", FAKE_TEST_GPU)
    script = ["bash", str(repo / "scripts" / "device-chains.sh"), "--check", "chain"]
    listing = {"PATH": SCRIPT_PATH, "CHECK_TEST_BIN": str(tmp_path / "test_gpu")}

    def notes(chain: str, env: dict = listing) -> list[str]:
        (repo / "chain").write_text(chain)
        result = subprocess.run(script, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return [line for line in result.stderr.splitlines() if "the format sweep:" in line]
    whole = notes("export CHECK_TESTS='tensor_gemv*;every config of*' CHECK_TIMEOUT=370\nstep 375 checks\n")
    assert whole == ["device-chains: chain: note: checks: the format sweep: 7462 configs, 21214 kernels for sm_90a: "
                     "about 883 s of compiling, past its limit of 370 s: it would be cut before its first run; give it "
                     "a part (BITJIT_SWEEP_SHARD=k/n) or a larger BITJIT_SWEEP_STRIDE"]
    assert notes("export CHECK_TESTS='every config of*' BITJIT_SWEEP_SHARD=1/8 CHECK_TIMEOUT=300\nstep 300 checks\n") == []
    assert len(notes("export CHECK_TESTS='every config of*' BITJIT_SWEEP_SHARD=1/2\nstep 300 checks\n")) == 1  # 240 s
    assert notes("export CHECK_TESTS='tensor_gemv*'\nstep 300 checks\n") == []
    assert notes("export BITJIT_SWEEP_SHARD=0/4\nstep 300 sweep\n") == [
        "device-chains: chain: note: sweep: the format sweep: 7462 configs, 5303 kernels for sm_90a: about 220 s of "
        "compiling before its first run"]
    assert notes("export CHECK_TESTS='every config of*'\nstep 300 checks\n", {"PATH": SCRIPT_PATH,
                 "CHECK_TEST_BIN": str(tmp_path / "none")}) == []


# bench_matmul --check's stand-in: refuses a format named "bad" as the bench does, lists a case refused
# for any override naming tile.n 128, and records its arguments.
FAKE_BENCH_CHECK = r'''#!/usr/bin/env python3
import os, pathlib, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CHECK_LOG"], "a") as log:
    log.write(" ".join(args) + "\n")
assert args[-2] == "--check", args
if "bad" in args[args.index("--formats") + 1].split(","):
    sys.exit("bench_matmul: unknown format bad; known: int4_g128")
schedule = args[args.index("--schedule") + 1] if "--schedule" in args else ""
print("case: int4_g128 70B o M=1: {}")
if '"n":128' in schedule:
    print("refused: int4_g128 70B o M=1: invalid TileSchedule: tile.n=128 must be 16, 32, 48 or 64")
print("2 cases on " + args[-1])
'''


def test_chains_check_runs_the_bench_options_through_bench_matmul_check(tmp_path):
    """With a bench_matmul built here (BENCH_CHECK_BIN), --check passes each step's bench options to its
    `--check ARCH`: every set of a baseline's BENCH_ARGS, BENCH_ARGS with each VARIANTS override, and
    DYNAMIC_ARGS with --dynamic both; a bench's refusal fails the chain, a case whose family refuses an
    override is a note; without a binary the options are left unchecked, said in a note."""
    repo = fake_repo(tmp_path, "device-chains.sh", "device-run.sh", "pack-out.sh")
    (repo / "base.tgz").write_bytes(b"")
    bench = tmp_path / "bench_check"
    write_executable(bench, FAKE_BENCH_CHECK)
    log = tmp_path / "check.log"
    (repo / "chain").write_text(
        "export BENCH_ARGS='--formats int4_g128 --M 1;--formats bad --M 16'\nstep 100 baseline\n"
        "export BENCH_ARGS='--formats int4_g128 --M 1' VARIANTS='{};{\"tile\":{\"n\":128}}'\nstep 90 variants\n"
        "export DYNAMIC_ARGS='--formats int4_g128 --M 1,16'\nstep 60 dynamic\n")
    env = {"PATH": SCRIPT_PATH, "BENCH_CHECK_BIN": str(bench), "FAKE_CHECK_LOG": str(log),
           "BENCH_CHECK_ARCH": "sm_90a"}
    script = ["bash", str(repo / "scripts" / "device-chains.sh"), "--check", "chain"]
    result = subprocess.run(script, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "device-chains: chain: device-run: baseline: bench_matmul --formats bad --M 16: bench_matmul: " \
           "unknown format bad" in result.stderr
    assert "device-chains: chain: note: variants {\"tile\":{\"n\":128}}: refused: int4_g128 70B o M=1" in result.stderr
    assert log.read_text().splitlines() == [
        "--formats int4_g128 --M 1 --check sm_90a",
        "--formats bad --M 16 --check sm_90a",
        "--formats int4_g128 --M 1 --schedule {} --check sm_90a",
        "--formats int4_g128 --M 1 --schedule {\"tile\":{\"n\":128}} --check sm_90a",
        "--formats int4_g128 --M 1,16 --dynamic both --check sm_90a",
    ]
    (repo / "chain").write_text("export BENCH_ARGS='--formats int4_g128 --M 1'\nstep 100 bench\n")
    result = subprocess.run(script, cwd=repo, env={**env, "BENCH_CHECK_BIN": str(tmp_path / "none")},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"note: no bench_matmul built here ({tmp_path / 'none'}): bench's bench options unchecked" in result.stderr
