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
  3. causal prefill GPU time per run, FA2 and FA3
     (BatchPrefillWithPagedKVCacheWrapper(backend="fa3"), the `_sm90` module:
     its output checked against FA2's on the same inputs first; a failure to
     plan or run it prints a message and leaves the FA3 columns empty).

usage: bench_attention_py.py [--out DIR] [--quick] [--only-prefill]
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
        self.pre3 = fi.BatchPrefillWithPagedKVCacheWrapper(self.ws, "NHD", backend="fa3")
        self.fa3 = False  # the prefill plan/run below use pre3 (FA3) instead of pre (FA2)

    def plan(self, b, decode):
        bf16 = self.torch.bfloat16
        if decode:
            self.dec.plan(b.kv_indptr, b.indices[0], b.last, HQ, HKV, HD, PAGE, q_data_type=bf16, kv_data_type=bf16)
        else:
            (self.pre3 if self.fa3 else self.pre).plan(b.qo_indptr, b.kv_indptr, b.indices[0], b.last, HQ, HKV, HD,
                                                       PAGE, causal=True, q_data_type=bf16, kv_data_type=bf16)

    def run(self, b, decode, rot=0):
        w = self.dec if decode else (self.pre3 if self.fa3 else self.pre)
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


def check(torch, attn, pool, out_dir, only_prefill=False):
    rows = []
    for decode, nb, ln in ((1, 3, 777), (1, 7, 100), (0, 2, 200), (0, 1, 333)):
        if only_prefill and decode:
            continue
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


FA3_MOD = ("batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_"
           "head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False_sm90")


def fa3_available(torch):
    """An SM 9.0 GPU (FA3's module holds sm_90a code only), and the FA3 module
    where FlashInfer loads prebuilt modules from (else its plan would JIT-build
    it for minutes instead of failing)."""
    cc = torch.cuda.get_device_capability()
    if tuple(cc) != (9, 0):
        print("prefill FA3: not measured (compute capability %d.%d, FA3 needs 9.0)" % tuple(cc))
        return False
    try:
        from flashinfer.jit import env as jit_env
        p = jit_env.FLASHINFER_AOT_DIR / FA3_MOD / (FA3_MOD + ".so")
    except Exception as e:  # noqa: BLE001
        print("prefill FA3: not measured (cannot locate FlashInfer's AOT dir: %r)" % (e,))
        return False
    if not p.exists():
        print("prefill FA3: not measured (no prebuilt module %s)" % p)
        return False
    return True


def fa3_check(torch, attn, b):
    """FA3's output vs FA2's on b (rotation 0), both poisoned (NaN) first:
    the relative L2 difference, or None where FA3 failed to plan or run."""
    b.out.fill_(float("nan"))
    attn.fa3 = False
    attn.plan(b, 0)
    attn.run(b, 0)
    ref = b.out.double()
    b.out.fill_(float("nan"))
    try:
        attn.fa3 = True
        attn.plan(b, 0)
        attn.run(b, 0)
        torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001
        print("prefill FA3: plan/run FAILED (%s: %s); FA3 not measured" % (type(e).__name__, e), flush=True)
        return None
    finally:
        attn.fa3 = False
    got = b.out.double()
    return math.sqrt(float(((got - ref) ** 2).sum()) / float((ref ** 2).sum()))


def bench_prefill(torch, gate, attn, pool, reps, out_dir):
    rows = []
    fa3_on = fa3_available(torch)
    failed = False
    for nb, ln in ((1, 1024), (1, 4096), (1, 16384), (16, 1024), (4, 8192)):
        b = Batch(torch, pool, nb, ln, ln)
        flops = nb * HQ * 4.0 * HD * (ln * (ln + 1) / 2.0)
        e3 = fa3_check(torch, attn, b) if fa3_on else None
        if fa3_on and e3 is None:
            fa3_on, failed = False, True
        fa3 = e3 is not None and e3 <= 1e-2  # False for NaN
        if e3 is not None:
            print("check prefill FA3 batch %3d len %5d: rel. L2 difference vs FA2 %.2e%s" %
                  (nb, ln, e3, "" if fa3 else " FAILED (over 1e-2): FA3 not timed here"), flush=True)
            failed = failed or not fa3
        med, p10, p90 = gpu_time(torch, gate, attn, b, 0, reps)
        tf = flops / (med * 1e-6) / 1e12
        row = (nb, ln, "%.0f" % flops, b.rot, "%.2f" % med, "%.2f" % p10, "%.2f" % p90, "%.1f" % tf)
        line = "prefill b=%-3d len=%-5d FlashInfer Python %9.2f us  %6.1f TFLOP/s" % (nb, ln, med, tf)
        if fa3:
            attn.fa3 = True
            try:
                med3, p10_3, p90_3 = gpu_time(torch, gate, attn, b, 0, reps)
            finally:
                attn.fa3 = False
            tf3 = flops / (med3 * 1e-6) / 1e12
            row += ("%.2f" % med3, "%.2f" % p10_3, "%.2f" % p90_3, "%.1f" % tf3, "%.3e" % e3)
            line += "  | FA3 %9.2f us  %6.1f TFLOP/s  %.2fx FA2" % (med3, tf3, tf3 / tf)
        else:
            row += ("", "", "", "", "%.3e" % e3 if e3 is not None else "")
            line += "  | FA3 -"
        rows.append(row)
        print(line, flush=True)
        del b
    write_csv(os.path.join(out_dir, "attn_prefill_py.csv"),
              ["batch", "len", "flops", "rotations", "us_med", "us_p10", "us_p90", "tflops", "fa3_us_med",
               "fa3_us_p10", "fa3_us_p90", "fa3_tflops", "fa3_rel_l2_vs_fa2"], rows)
    return failed


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
    ap.add_argument("--only-prefill", action="store_true",
                    help="the prefill checks and prefill GPU times only (FA2 and FA3)")
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
    check(torch, attn, pool, a.out, a.only_prefill)
    # (a wrapper that was never planned, e.g. decode under --only-prefill, has no module yet)
    print("modules:", getattr(attn.dec, "_cached_module", None), getattr(attn.pre, "_cached_module", None))
    rows = []
    if a.no_host or a.only_prefill:
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
    if not a.only_prefill:
        bench_decode(torch, gate, attn, pool, 10 if a.quick else 30, a.out)
    failed = bench_prefill(torch, gate, attn, pool, 10 if a.quick else 20, a.out)
    print("modules:", getattr(attn.pre, "_cached_module", None), getattr(attn.pre3, "_cached_module", None))
    print("gate expired: %d" % gate.expired)
    if failed:
        sys.exit("bench_attention_py: an FA3 check or call failed (see above)")


if __name__ == "__main__":
    main()
