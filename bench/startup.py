#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Start-up as a user sees it: time from starting a fresh process to the first
gemma_rmsnorm result (1x4096 f16), median of --reps runs of each, interleaved.

  fic cold          bench_gpu --startup-only on an empty cache directory
                    (the norm module is extracted from the wheel), norm only
  fic warm          the same on a cache a previous run filled (cache hit)
  flashinfer_py     python3 -c "import torch, flashinfer; ...; flashinfer.gemma_rmsnorm(x, w)"
                    with FlashInfer's JIT cache already holding norm.so
  torch op          python3 -c "import torch; ...; x * 2" (the floor of any PyTorch program)

The clock is CLOCK_MONOTONIC in both this driver and the children: spawn to
first result = the child's timestamp when the result was complete (stream
synchronised) minus the time just before spawning it. wall_ms is spawn to exit.
One untimed run of each comes first (page cache, FlashInfer's JIT cache).

usage: startup.py --bench-gpu BIN --jit-cache-wheel W --tvmffi-wheel T --out DIR [--reps N] [--tmp DIR]
Writes DIR/startup.csv and prints the medians.
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY_FLASHINFER = r"""
import time, resource
t0 = time.monotonic_ns()
import torch
t1 = time.monotonic_ns()
import flashinfer
t2 = time.monotonic_ns()
x = torch.rand(1, 4096, dtype=torch.float16, device="cuda") * 4 - 2
w = torch.rand(4096, dtype=torch.float16, device="cuda") - 0.5
torch.cuda.synchronize()
t3 = time.monotonic_ns()
y = flashinfer.gemma_rmsnorm(x, w)
t4 = time.monotonic_ns()
torch.cuda.synchronize()
t5 = time.monotonic_ns()
assert bool(torch.isfinite(y).all())
print("STARTUP_PY,%d,%d,%d,%d,%d,%d,%.1f" % (t0, t1, t2, t3, t4, t5,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""

PY_TORCH = r"""
import time, resource
t0 = time.monotonic_ns()
import torch
t1 = time.monotonic_ns()
x = torch.rand(1, 4096, dtype=torch.float16, device="cuda") * 4 - 2
torch.cuda.synchronize()
t3 = time.monotonic_ns()
y = x * 2
t4 = time.monotonic_ns()
torch.cuda.synchronize()
t5 = time.monotonic_ns()
print("STARTUP_PY,%d,%d,%d,%d,%d,%d,%.1f" % (t0, t1, t1, t3, t4, t5,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
"""

HEADER = ["label", "rep", "spawn_to_first_result_ms", "wall_ms", "before_main_ms", "import_torch_ms",
          "import_flashinfer_ms", "cuda_init_ms", "open_ms", "first_call_host_ms", "first_call_done_ms",
          "peak_rss_mb"]


def run(cmd, env=None):
    t_spawn = time.monotonic_ns()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    t_exit = time.monotonic_ns()
    if p.returncode != 0:
        sys.exit("startup.py: %s failed (%d):\n%s%s" % (cmd[0], p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return t_spawn, t_exit, p.stdout


def parse_fic(out, t_spawn, t_exit):
    line = [x for x in out.splitlines() if x.startswith("STARTUP,")][-1].split(",")
    # STARTUP,first_result_mono_ns,label,cuda_init_ms,open_ms,first_call_host_ms,first_call_done_ms,
    # open_to_first_result_ms,second_call_host_us,peak_rss_mb
    mono = float(line[1])
    return {"spawn_to_first_result_ms": (mono - t_spawn) / 1e6, "wall_ms": (t_exit - t_spawn) / 1e6,
            "cuda_init_ms": float(line[3]), "open_ms": float(line[4]), "first_call_host_ms": float(line[5]),
            "first_call_done_ms": float(line[6]), "peak_rss_mb": float(line[9])}


def parse_py(out, t_spawn, t_exit):
    t = [x for x in out.splitlines() if x.startswith("STARTUP_PY,")][-1].split(",")
    t0, t1, t2, t3, t4, t5 = (int(v) for v in t[1:7])
    return {"spawn_to_first_result_ms": (t5 - t_spawn) / 1e6, "wall_ms": (t_exit - t_spawn) / 1e6,
            "before_main_ms": (t0 - t_spawn) / 1e6, "import_torch_ms": (t1 - t0) / 1e6,
            "import_flashinfer_ms": (t2 - t1) / 1e6, "cuda_init_ms": (t3 - t2) / 1e6,
            "first_call_host_ms": (t4 - t3) / 1e6, "first_call_done_ms": (t5 - t3) / 1e6,
            "peak_rss_mb": float(t[7])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-gpu", required=True)
    ap.add_argument("--jit-cache-wheel", required=True)
    ap.add_argument("--tvmffi-wheel", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--fic-ld-path", default="", help="LD_LIBRARY_PATH for bench_gpu only (libzip, libcurl)")
    a = ap.parse_args()
    fic_env = dict(os.environ)
    if a.fic_ld_path:
        fic_env["LD_LIBRARY_PATH"] = a.fic_ld_path + (":" + fic_env["LD_LIBRARY_PATH"]
                                                      if fic_env.get("LD_LIBRARY_PATH") else "")
    tmp = tempfile.mkdtemp(prefix="fic-startup-", dir=a.tmp)
    warm_cache = os.path.join(tmp, "warm")

    def fic(cache, label):
        return [a.bench_gpu, "--startup-only", "--cache-dir", cache, "--label", label, "--modules", "norm",
                "--jit-cache-wheel", a.jit_cache_wheel, "--tvmffi-wheel", a.tvmffi_wheel, "--out", tmp]

    kinds = [
        ("fic cold (extraction)", lambda r: fic(os.path.join(tmp, "cold%d" % r), "cold"), parse_fic, fic_env),
        ("fic warm (cache hit)", lambda r: fic(warm_cache, "warm"), parse_fic, fic_env),
        ("flashinfer_py (warm JIT cache)", lambda r: [a.python, "-c", PY_FLASHINFER], parse_py, None),
        ("torch op only (floor of a PyTorch program)", lambda r: [a.python, "-c", PY_TORCH], parse_py, None),
    ]
    for _, cmd, _, env in kinds:  # untimed: page cache, FlashInfer's JIT cache, the warm cache
        run(cmd(-1), env)
    rows = []
    for r in range(a.reps):
        for label, cmd, parse, env in kinds:
            t_spawn, t_exit, out = run(cmd(r), env)
            d = parse(out, t_spawn, t_exit)
            rows.append([label, r] + ["%.2f" % d[h] if h in d else "" for h in HEADER[2:]])
        shutil.rmtree(os.path.join(tmp, "cold%d" % r), ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(a.out, "startup.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    print("\n-- start-up in fresh processes, median of %d (ms)" % a.reps)
    print("%-44s %16s %10s %10s %10s %10s %8s" % ("", "spawn->result", "wall", "import", "CUDA init", "open",
                                                "RSS MB"))
    for label, _, _, _ in kinds:
        sel = [x for x in rows if x[0] == label]

        def med(col):
            i = HEADER.index(col)
            v = [float(x[i]) for x in sel if x[i] != ""]
            return statistics.median(v) if v else float("nan")

        imp = med("import_torch_ms") + (med("import_flashinfer_ms") if "flashinfer" in label else 0)
        print("%-44s %16.1f %10.1f %10.1f %10.1f %10.1f %8.0f" % (
            label, med("spawn_to_first_result_ms"), med("wall_ms"), imp if "fic" not in label else 0,
            med("cuda_init_ms"), med("open_ms") if "fic" in label else 0, med("peak_rss_mb")))


if __name__ == "__main__":
    main()
