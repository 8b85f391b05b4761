#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""FlashInfer Python's side of the attention benchmarks (issue #13): the same
shapes as bench/bench_attention.c (bf16, head dim 128, GQA 32/8, paged KV NHD,
page size 16) through BatchDecodeWithPagedKVCacheWrapper (CUDA-core decode,
use_tensor_cores=False) and BatchPrefillWithPagedKVCacheWrapper(backend="fa2"),
causal. bench/run_attention_bench.sh places flashinfer-c's modules where
FlashInfer loads prebuilt (AOT) modules from, so both sides run the same .so.

  0. correctness vs a float64 torch reference (decode 3x777 and 7x100,
     causal prefill 2x200 and 1x333);
  1. host cost per plan() and per run() (plans back to back; runs enqueued in
     chunks behind torch.cuda._sleep so the host never waits for the GPU);
  2. decode GPU time per run (CUDA events, runs queued behind the sleep),
     kv_indices rotated over disjoint page ranges as the C side does;
  3. causal prefill GPU time per run.

usage: bench_attention_py.py [--out DIR] [--quick]
       bench_attention_py.py --jit-build [--out DIR]   (time FlashInfer's JIT
       build of the two modules, in a fresh process with an empty JIT cache)
"""
import argparse
import math
import os
import sys
import time

from bench_common import Gate  # noqa: E402 (run as a script from bench/)

HQ, HKV, HD, PAGE = 32, 8, 128, 16
ROUNDS = 7
MAX_ROT = 32
PATH = "FlashInfer Python"


def quantile(v, q):
    v = sorted(v)
    i = int(q * (len(v) - 1) + 0.5)
    return v[max(0, min(len(v) - 1, i))]


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")


class Pool:
    def __init__(self, torch, pages):
        self.pages = pages
        g = torch.Generator(device="cuda").manual_seed(11)
        self.k = torch.empty((pages, PAGE, HKV, HD), dtype=torch.bfloat16, device="cuda").uniform_(-1, 1, generator=g)
        self.v = torch.empty((pages, PAGE, HKV, HD), dtype=torch.bfloat16, device="cuda").uniform_(-1, 1, generator=g)


class Batch:
    """batch sequences of kv_len tokens, qo_len query rows each; kv_indices
    rotate over disjoint page ranges (as bench_attention.c)."""

    def __init__(self, torch, pool, batch, kv_len, qo_len):
        self.batch, self.kv_len, self.qo_len, self.rows = batch, kv_len, qo_len, batch * qo_len
        pps = (kv_len + PAGE - 1) // PAGE
        self.pages = batch * pps
        rot = int(256 * 1024 * 1024 / (self.pages * PAGE * HKV * HD * 4)) + 1
        self.rot = max(1, min(rot, MAX_ROT, pool.pages // self.pages))
        i32 = torch.int32
        self.qo_indptr = torch.arange(0, batch + 1, dtype=i32) * qo_len  # host, as a caller passes them
        self.kv_indptr = torch.arange(0, batch + 1, dtype=i32) * pps
        self.last = torch.full((batch,), kv_len - (pps - 1) * PAGE, dtype=i32)
        self.indices = [torch.arange(r * self.pages, (r + 1) * self.pages, dtype=i32, device="cuda")
                        for r in range(self.rot)]
        g = torch.Generator(device="cuda").manual_seed(13 + batch * 7 + kv_len)
        self.q = torch.empty((self.rows, HQ, HD), dtype=torch.bfloat16, device="cuda").uniform_(-1, 1, generator=g)
        self.out = torch.empty_like(self.q)


class Attn:
    def __init__(self, torch, fi, pool):
        self.torch, self.fi, self.pool = torch, fi, pool
        self.ws = torch.zeros(128 * 1024 * 1024, dtype=torch.uint8, device="cuda")
        self.dec = fi.BatchDecodeWithPagedKVCacheWrapper(self.ws, "NHD", use_tensor_cores=False)
        self.pre = fi.BatchPrefillWithPagedKVCacheWrapper(self.ws, "NHD", backend="fa2")

    def plan(self, b, decode):
        bf16 = self.torch.bfloat16
        if decode:
            self.dec.plan(b.kv_indptr, b.indices[0], b.last, HQ, HKV, HD, PAGE, q_data_type=bf16, kv_data_type=bf16)
        else:
            self.pre.plan(b.qo_indptr, b.kv_indptr, b.indices[0], b.last, HQ, HKV, HD, PAGE, causal=True,
                          q_data_type=bf16, kv_data_type=bf16)

    def run(self, b, decode, rot=0):
        w = self.dec if decode else self.pre
        if b.rot > 1:  # the page table of rotation `rot` (same lengths: no new plan, as in C)
            w._paged_kv_indices_buf = b.indices[rot]
        w.run(b.q, (self.pool.k, self.pool.v), out=b.out)


def reference_error(torch, pool, b, decode):
    """Relative L2 error of b.out against float64 attention (rotation 0)."""
    num = den = 0.0
    idx = b.indices[0].long()
    pps = b.pages // b.batch
    for s in range(b.batch):
        pages = idx[s * pps:(s + 1) * pps]
        k = pool.k[pages].reshape(-1, HKV, HD)[:b.kv_len].double()
        v = pool.v[pages].reshape(-1, HKV, HD)[:b.kv_len].double()
        k = k.repeat_interleave(HQ // HKV, dim=1)
        v = v.repeat_interleave(HQ // HKV, dim=1)
        q = b.q[s * b.qo_len:(s + 1) * b.qo_len].double()
        sc = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(HD)
        if not decode:
            qi = torch.arange(b.qo_len, device="cuda")[:, None] + (b.kv_len - b.qo_len)
            ki = torch.arange(b.kv_len, device="cuda")[None, :]
            sc = sc.masked_fill(ki > qi, float("-inf"))
        ref = torch.einsum("hqk,khd->qhd", torch.softmax(sc, dim=-1), v)
        got = b.out[s * b.qo_len:(s + 1) * b.qo_len].double()
        num += float(((got - ref) ** 2).sum())
        den += float((ref ** 2).sum())
    return math.sqrt(num / den)


def check(torch, attn, pool, out_dir):
    rows = []
    for decode, nb, ln in ((1, 3, 777), (1, 7, 100), (0, 2, 200), (0, 1, 333)):
        b = Batch(torch, pool, nb, ln, 1 if decode else ln)
        b.out.fill_(float("nan"))
        attn.plan(b, decode)
        attn.run(b, decode)
        torch.cuda.synchronize()
        e = reference_error(torch, pool, b, decode)
        fam = "decode" if decode else "prefill"
        print("check %-7s batch %3d len %5d: rel. L2 error vs float64 %.2e" % (fam, nb, ln, e))
        rows.append((fam, nb, ln, "%.3e" % e))
        if not e < 1e-2:
            sys.exit("bench_attention_py: error %.3e over 1e-2" % e)
    write_csv(os.path.join(out_dir, "attn_check_py.csv"), ["family", "batch", "len", "rel_l2_vs_f64"], rows)


def plan_round(torch, attn, b, decode, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        attn.plan(b, decode)
    t1 = time.perf_counter_ns()
    torch.cuda.synchronize()
    return (t1 - t0) / n / 1e3


def run_round(torch, gate, attn, b, decode, n, est_us):
    chunk, total = 128, 0
    for _ in range(0, n, chunk):
        gate.hold(chunk * est_us * 2 + 300)
        t0 = time.perf_counter_ns()
        for _ in range(chunk):
            attn.run(b, decode)
        t1 = time.perf_counter_ns()
        gate.check()
        torch.cuda.synchronize()
        total += t1 - t0
    return total / n / 1e3


def host_cost(torch, gate, attn, pool, decode, nb, ln, runs, quick, rows):
    b = Batch(torch, pool, nb, ln, 1 if decode else ln)
    nplan, nrun = (200, 512) if quick else (1000, 2048)
    plan_round(torch, attn, b, decode, 20)
    pv = [plan_round(torch, attn, b, decode, nplan) for _ in range(ROUNDS)]
    rv = []
    if runs:
        attn.plan(b, decode)
        t0 = time.perf_counter_ns()
        for _ in range(50):
            attn.run(b, decode)
        est = (time.perf_counter_ns() - t0) / 50 / 1e3
        torch.cuda.synchronize()
        rv = [run_round(torch, gate, attn, b, decode, nrun, est) for _ in range(ROUNDS)]
    fam = "decode" if decode else "prefill"
    r = (quantile(rv, 0.5), min(rv), max(rv)) if rv else ("nan",) * 3
    rows.append((fam, nb, ln, PATH, "%.3f" % quantile(pv, 0.5), "%.3f" % min(pv), "%.3f" % max(pv)) +
                tuple(x if isinstance(x, str) else "%.3f" % x for x in r))
    print("host %-7s b=%-3d len=%-5d %-26s plan %8.2f us (%.2f-%.2f)  run %s us" %
          (fam, nb, ln, PATH, quantile(pv, 0.5), min(pv), max(pv), rows[-1][7]))


def gpu_time(torch, gate, attn, b, decode, reps):
    attn.plan(b, decode)
    for i in range(3):
        attn.run(b, decode, i % b.rot)
    torch.cuda.synchronize()
    e0 = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    e1 = [torch.cuda.Event(enable_timing=True) for _ in range(reps)]
    gate.hold(reps * 150 + 2000)  # longer than the Python loop below takes to enqueue
    for i in range(reps):
        e0[i].record()
        attn.run(b, decode, i % b.rot)
        e1[i].record()
    gate.check()
    torch.cuda.synchronize()
    v = [e0[i].elapsed_time(e1[i]) * 1e3 for i in range(reps)]
    return quantile(v, 0.5), quantile(v, 0.1), quantile(v, 0.9)


def bench_decode(torch, gate, attn, pool, reps, out_dir):
    rows = []
    for nb in (1, 16, 64, 256):
        for ctx in (1024, 8192, 32768):
            b = Batch(torch, pool, nb, ctx, 1)
            kv_bytes = nb * ctx * HKV * HD * 2 * 2
            med, p10, p90 = gpu_time(torch, gate, attn, b, 1, reps)
            gbs = kv_bytes / (med * 1e3)
            rows.append((nb, ctx, kv_bytes, b.rot, "%.2f" % med, "%.2f" % p10, "%.2f" % p90, "%.1f" % gbs))
            print("decode b=%-3d ctx=%-5d FlashInfer Python %9.2f us  %7.1f GB/s" % (nb, ctx, med, gbs), flush=True)
            del b
    write_csv(os.path.join(out_dir, "attn_decode_py.csv"),
              ["batch", "ctx", "kv_bytes", "rotations", "us_med", "us_p10", "us_p90", "gbs"], rows)


def bench_prefill(torch, gate, attn, pool, reps, out_dir):
    rows = []
    for nb, ln in ((1, 1024), (1, 4096), (1, 16384), (16, 1024), (4, 8192)):
        b = Batch(torch, pool, nb, ln, ln)
        flops = nb * HQ * 4.0 * HD * (ln * (ln + 1) / 2.0)
        med, p10, p90 = gpu_time(torch, gate, attn, b, 0, reps)
        tf = flops / (med * 1e-6) / 1e12
        rows.append((nb, ln, "%.0f" % flops, b.rot, "%.2f" % med, "%.2f" % p10, "%.2f" % p90, "%.1f" % tf))
        print("prefill b=%-3d len=%-5d FlashInfer Python %9.2f us  %6.1f TFLOP/s" % (nb, ln, med, tf), flush=True)
        del b
    write_csv(os.path.join(out_dir, "attn_prefill_py.csv"),
              ["batch", "len", "flops", "rotations", "us_med", "us_p10", "us_p90", "tflops"], rows)


def jit_build(out_dir):
    """Fresh process, empty JIT cache, no prebuilt module: FlashInfer compiles
    both modules on first plan()."""
    import torch
    import flashinfer as fi
    rows = []
    pool = Pool(torch, 64)
    attn = Attn(torch, fi, pool)
    b = Batch(torch, pool, 2, 64, 1)
    for decode in (1, 0):
        t0 = time.perf_counter()
        attn.plan(b, decode) if decode else attn.plan(Batch(torch, pool, 2, 64, 64), 0)
        dt = time.perf_counter() - t0
        name = "batch_decode bf16 hd128" if decode else "batch_prefill fa2 bf16 hd128"
        print("FlashInfer JIT build + load of %s: %.1f s" % (name, dt), flush=True)
        rows.append((name, "%.1f" % dt))
    write_csv(os.path.join(out_dir, "attn_jit_build.csv"), ["module", "build_and_load_s"], rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-attn-out")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jit-build", action="store_true")
    ap.add_argument("--no-host", action="store_true", help="skip the host-cost section")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.jit_build:
        return jit_build(a.out)
    import torch
    import flashinfer as fi
    import importlib.metadata as md
    print("torch", torch.__version__, "flashinfer", md.version("flashinfer-python"), "tvm-ffi",
          md.version("apache-tvm-ffi"))
    pool = Pool(torch, 256 * 32768 // PAGE + 64)
    attn = Attn(torch, fi, pool)
    gate = Gate(torch)
    check(torch, attn, pool, a.out)
    print("modules:", attn.dec._cached_module, attn.pre._cached_module)
    rows = []
    if a.no_host:
        rows = None
    else:
        host_cost(torch, gate, attn, pool, 1, 1, 1024, True, a.quick, rows)
        host_cost(torch, gate, attn, pool, 1, 64, 8192, False, a.quick, rows)
        host_cost(torch, gate, attn, pool, 1, 256, 8192, False, a.quick, rows)
        host_cost(torch, gate, attn, pool, 0, 4, 256, True, a.quick, rows)
        host_cost(torch, gate, attn, pool, 0, 64, 1024, False, a.quick, rows)
    if rows is not None:
        write_csv(os.path.join(a.out, "attn_host_py.csv"),
                  ["family", "batch", "len", "path", "plan_us_med", "plan_us_min", "plan_us_max", "run_us_med",
                   "run_us_min", "run_us_max"], rows)
    bench_decode(torch, gate, attn, pool, 10 if a.quick else 30, a.out)
    bench_prefill(torch, gate, attn, pool, 10 if a.quick else 20, a.out)
    print("gate expired: %d" % gate.expired)


if __name__ == "__main__":
    main()
