#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench_py: the Python side of the GPU benchmarks (issue #12), measured the
way bench_gpu measures flashinfer-c, in the same run (bench/run_gpu_bench.sh).

Implementations, all on torch's current CUDA stream:
  flashinfer_py          flashinfer.gemma_rmsnorm / rmsnorm / fused_add_rmsnorm
                         (FlashInfer 0.6.3's Python API, out= given, enable_pdl=False
                         as in bench_gpu)
  flashinfer_py_default  flashinfer.gemma_rmsnorm(x, w): output allocated per call,
                         PDL chosen by FlashInfer (on for sm_90), as most callers write it
  tvm_ffi_direct         the norm module's TVM-FFI function called from Python with no
                         FlashInfer wrapper (get_norm_module().gemma_rmsnorm(...))
  torch_eager            the same math in torch ops (Hugging Face's Gemma/Llama RMSNorm;
                         vLLM's native fused add + RMSNorm)
  torch_rms_norm         torch.nn.functional.rms_norm (weight 1 + w precomputed for Gemma)
  torch_copy_small       out.copy_(x) at 1x4096: the host cost of one small torch op

Host cost: 1x4096 f16, --calls calls per round in chunks of --chunk, each chunk
enqueued behind torch.cuda._sleep (the GPU is held, so the host never waits for
it), host clock around the loop, --rounds rounds in rotated order.
GPU time: per-call CUDA event pairs, all enqueued behind the sleep gate, median
of --reps; input/output pairs rotated over 4x the L2 size. stream_us: the same
calls back to back without the gate, total / calls.

usage: bench_py.py --out DIR [--quick] [--no-norm] [--no-gdn] [--gdn-seqs N]
       bench_py.py --jit-build --out DIR   (time FlashInfer's JIT build/load of norm)
Writes host_cost_py.csv, norm_gpu_py.csv, gdn_py.csv, env_py.csv (and
jit_build.csv) into DIR. Exits 1 if a correctness check fails.
"""
import argparse
import csv
import os
import platform
import sys
import time

import bench_common

EPS = 1e-6
SHAPES = [(1, 4096), (512, 4096), (2048, 8192), (8192, 8192), (16384, 8192)]
KERNELS = ["gemma_rmsnorm", "rmsnorm", "fused_add_rmsnorm"]


def die(msg):
    print("bench_py: " + msg, file=sys.stderr)
    sys.exit(1)


def quantile(v, q):
    """Nearest rank, as bench_gpu's quantile()."""
    s = sorted(v)
    i = int(q * (len(s) - 1) + 0.5)
    return s[max(0, min(len(s) - 1, i))]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


# --------------------------------------------------------------------------
# The implementations
# --------------------------------------------------------------------------


def torch_impls(torch):
    """The same math in torch ops, as the common model code writes it."""

    def gemma(x, w, out):  # Hugging Face GemmaRMSNorm
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)
        return (y * (1.0 + w.float())).type_as(x)

    def rms(x, w, out):  # Hugging Face LlamaRMSNorm
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + EPS)
        return w * h.to(x.dtype)

    def fused(x, r, w):  # vLLM RMSNorm.forward_native with a residual, in place as FlashInfer's
        s = x.to(torch.float32) + r.to(torch.float32)
        r.copy_(s)
        s = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + EPS)
        x.copy_(s.to(x.dtype) * w)

    return gemma, rms, fused


class Case:
    """Buffers of one kernel at one shape and dtype, rotated to defeat L2."""

    def __init__(self, torch, kernel, dtype, batch, hidden, l2_bytes, seed):
        g = torch.Generator(device="cuda")
        g.manual_seed(seed)
        nbytes = batch * hidden * 2
        want = 4 * l2_bytes // (2 * nbytes) + 1 if l2_bytes else 2
        self.nbuf = max(2, min(64, want))
        self.kernel, self.batch, self.hidden, self.dtype = kernel, batch, hidden, dtype

        def uni(shape, lo, hi, dt=dtype):
            return (torch.rand(shape, generator=g, device="cuda", dtype=torch.float32) * (hi - lo) + lo).to(dt)

        self.x = [uni((batch, hidden), -2.0, 2.0) for _ in range(self.nbuf)]
        if kernel == "fused_add_rmsnorm":
            self.o = [uni((batch, hidden), -1.0, 1.0) for _ in range(self.nbuf)]  # the residual
        else:
            self.o = [torch.zeros((batch, hidden), device="cuda", dtype=dtype) for _ in range(self.nbuf)]
        self.w = uni((hidden,), -0.5, 0.5)
        self.w1 = (1.0 + self.w.float()).to(dtype)  # Gemma's weight for F.rms_norm
        mult = 4 if kernel == "fused_add_rmsnorm" else 2
        self.bytes = mult * nbytes + hidden * 2


def make_calls(torch, fi, case):
    """impl -> f(i): one call on buffer pair i % nbuf."""
    gemma_t, rms_t, fused_t = torch_impls(torch)
    mod = fi.norm.get_norm_module()
    k, n, x, o, w = case.kernel, case.nbuf, case.x, case.o, case.w
    F = torch.nn.functional
    H = (case.hidden,)
    if k == "gemma_rmsnorm":
        direct = mod.gemma_rmsnorm
        return {
            "flashinfer_py": lambda i: fi.gemma_rmsnorm(x[i % n], w, EPS, out=o[i % n], enable_pdl=False),
            "flashinfer_py_default": lambda i: fi.gemma_rmsnorm(x[i % n], w),
            "tvm_ffi_direct": lambda i: direct(o[i % n], x[i % n], w, EPS, False),
            "torch_eager": lambda i: gemma_t(x[i % n], w, o[i % n]),
            "torch_rms_norm": lambda i: F.rms_norm(x[i % n], H, case.w1, EPS),
        }
    if k == "rmsnorm":
        direct = mod.rmsnorm
        return {
            "flashinfer_py": lambda i: fi.rmsnorm(x[i % n], w, EPS, out=o[i % n], enable_pdl=False),
            "tvm_ffi_direct": lambda i: direct(o[i % n], x[i % n], w, EPS, False),
            "torch_eager": lambda i: rms_t(x[i % n], w, o[i % n]),
            "torch_rms_norm": lambda i: F.rms_norm(x[i % n], H, w, EPS),
        }
    direct = mod.fused_add_rmsnorm
    return {
        "flashinfer_py": lambda i: fi.fused_add_rmsnorm(x[i % n], o[i % n], w, EPS, enable_pdl=False),
        "tvm_ffi_direct": lambda i: direct(x[i % n], o[i % n], w, EPS, False),
        "torch_eager": lambda i: fused_t(x[i % n], o[i % n], w),
    }


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


class Gate(bench_common.Gate):
    """bench_common's gate (the same calibration), counting its expiries apart
    for host chunks and GPU batches."""

    def __init__(self, torch):
        super().__init__(torch)
        self.expired = {"host": 0, "gpu": 0}

    def check(self, where):
        """Call after enqueueing, before synchronising: was the GPU still held?
        (It was not if the stream already ran dry: the host fell behind.)"""
        if self.torch.cuda.current_stream().query():
            self.expired[where] += 1


def host_estimate_us(torch, f, n=50):
    for i in range(5):
        f(i)
    torch.cuda.synchronize()
    t0 = time.perf_counter_ns()
    for i in range(n):
        f(i)
    t1 = time.perf_counter_ns()
    torch.cuda.synchronize()
    return (t1 - t0) / n / 1e3


def host_round(torch, gate, f, calls, chunk, est_us):
    total, done = 0, 0
    while done < calls:
        c = min(chunk, calls - done)
        gate.hold(c * est_us * 2 + 300)
        t0 = time.perf_counter_ns()
        for _ in range(c):
            f(0)
        t1 = time.perf_counter_ns()
        gate.check("host")
        torch.cuda.synchronize()
        total += t1 - t0
        done += c
    return total / calls


class Events:
    def __init__(self, torch, n):
        self.e0 = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
        self.e1 = [torch.cuda.Event(enable_timing=True) for _ in range(n)]


def gpu_time(torch, gate, ev, f, reps, warm):
    """(median, p10, p90, stream) in us per call."""
    est = host_estimate_us(torch, f, max(warm, 5))
    gate.hold(reps * (est * 2 + 10) + 500)
    for i in range(reps):
        ev.e0[i].record()
        f(i)
        ev.e1[i].record()
    gate.check("gpu")
    torch.cuda.synchronize()
    v = [ev.e0[i].elapsed_time(ev.e1[i]) * 1e3 for i in range(reps)]
    ev.e0[0].record()
    for i in range(reps):
        f(i)
    ev.e1[0].record()
    torch.cuda.synchronize()
    stream_us = ev.e0[0].elapsed_time(ev.e1[0]) * 1e3 / reps
    return quantile(v, 0.5), quantile(v, 0.1), quantile(v, 0.9), stream_us


# --------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------


def reference(torch, kernel, x, r, w):
    xd = x.double() + (r.double() if r is not None else 0)
    y = xd * torch.rsqrt(xd.pow(2).mean(-1, keepdim=True) + EPS)
    return y * (1.0 + w.double() if kernel == "gemma_rmsnorm" else w.double())


def check_correctness(torch, fi, l2):
    """flashinfer_py and torch_eager near float64 (33x3072); returns rows for env_py.csv."""
    rows = []
    for k in KERNELS:
        for dt, name, tol in ((torch.float16, "f16", 2e-3), (torch.bfloat16, "bf16", 1e-2)):
            for impl in ("flashinfer_py", "torch_eager"):
                c = Case(torch, k, dt, 33, 3072, 0, 99)
                x0, r0 = c.x[0].clone(), c.o[0].clone() if k == "fused_add_rmsnorm" else None
                res = make_calls(torch, fi, c)[impl](0)
                got = c.x[0] if k == "fused_add_rmsnorm" else (res if res is not None else c.o[0])
                ref = reference(torch, k, x0, r0, c.w)
                if not torch.isfinite(got).all():
                    die("%s %s %s: non-finite output" % (impl, k, name))
                err = ((got.double() - ref).norm() / ref.norm()).item()
                if err > tol:
                    die("%s %s %s: relative L2 error %.3g vs float64" % (impl, k, name, err))
                rows.append(("rel_l2_err_%s_%s_%s" % (impl, k, name), "%.3g" % err))
    print("correctness: " + ", ".join("%s %s" % r for r in rows))
    return rows


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------

HOST_ORDER = [
    ("gemma_rmsnorm", "flashinfer_py"),
    ("gemma_rmsnorm", "flashinfer_py_default"),
    ("gemma_rmsnorm", "tvm_ffi_direct"),
    ("gemma_rmsnorm", "torch_eager"),
    ("gemma_rmsnorm", "torch_rms_norm"),
    ("rmsnorm", "flashinfer_py"),
    ("rmsnorm", "tvm_ffi_direct"),
    ("rmsnorm", "torch_eager"),
    ("rmsnorm", "torch_rms_norm"),
    ("fused_add_rmsnorm", "flashinfer_py"),
    ("fused_add_rmsnorm", "tvm_ffi_direct"),
    ("fused_add_rmsnorm", "torch_eager"),
    ("none", "torch_copy_small"),
]


def bench_host(torch, fi, gate, a):
    calls = {}
    cases = {k: Case(torch, k, torch.float16, 1, 4096, 0, 5) for k in KERNELS}
    for k, impl in HOST_ORDER:
        if impl == "torch_copy_small":
            c = cases["gemma_rmsnorm"]
            calls[(k, impl)] = lambda i, c=c: c.o[0].copy_(c.x[0])
        else:
            calls[(k, impl)] = make_calls(torch, fi, cases[k])[impl]
    est = {key: host_estimate_us(torch, f, 200) for key, f in calls.items()}
    rows, R = [], a.rounds
    for r in range(R):
        for j in range(len(HOST_ORDER)):
            key = HOST_ORDER[(j + r) % len(HOST_ORDER)]  # rotate the order between rounds
            ns = host_round(torch, gate, calls[key], a.calls, a.chunk, est[key])
            rows.append((key[1], key[0], "f16", 1, 4096, r, a.calls, a.chunk, "%.1f" % ns))
    write_csv(os.path.join(a.out, "host_cost_py.csv"),
              ["impl", "kernel", "dtype", "batch", "hidden", "round", "calls", "chunk", "ns_per_call"], rows)
    print("\n-- host cost per call, 1x4096 f16 (median over %d rounds of %d calls)" % (R, a.calls))
    for key in HOST_ORDER:
        v = [float(x[8]) for x in rows if (x[1], x[0]) == key]
        print("%-18s %-22s %10.0f ns" % (key[0], key[1], quantile(v, 0.5)))


def bench_norm_gpu(torch, fi, gate, a, l2):
    ev = Events(torch, a.reps)
    rows = []
    warm = 3 if a.quick else 10
    print("\n-- GPU time per call (CUDA events, median of %d)" % a.reps)
    print("%-18s %-22s %-5s %-11s %9s %7s %10s" % ("kernel", "impl", "dtype", "shape", "GPU us", "GB/s", "stream us"))
    for dt, dname in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        for b, h in SHAPES:
            for k in KERNELS:
                c = Case(torch, k, dt, b, h, l2, 1234 + b + h)
                for impl, f in make_calls(torch, fi, c).items():
                    if impl == "flashinfer_py_default":
                        continue  # host cost only: same kernel as flashinfer_py (plus PDL and an allocation)
                    med, p10, p90, st = gpu_time(torch, gate, ev, f, a.reps, warm)
                    gbps = c.bytes / (med * 1e3)
                    rows.append((impl, k, dname, b, h, "%.3f" % med, "%.3f" % p10, "%.3f" % p90, "%.3f" % st,
                                 c.bytes, "%.1f" % gbps, c.nbuf))
                    print("%-18s %-22s %-5s %-11s %9.2f %7.0f %10.2f" % (k, impl, dname, "%dx%d" % (b, h), med,
                                                                         gbps, st))
                del c
                torch.cuda.empty_cache()
    write_csv(os.path.join(a.out, "norm_gpu_py.csv"),
              ["impl", "kernel", "dtype", "batch", "hidden", "gpu_us_median", "gpu_us_p10", "gpu_us_p90",
               "stream_us", "bytes", "gbps", "buffers"], rows)


GDN_HEADER = ["impl", "dtype", "total_tokens", "num_seqs", "gpu_ms_median", "gpu_ms_p10", "gpu_ms_p90", "stream_ms",
              "tokens_per_s", "nonfinite_outputs"]


def gdn_inputs(torch, dt, T, N):
    g = torch.Generator(device="cuda")
    g.manual_seed(T)

    def uni(shape, lo, hi, d=dt):
        return (torch.rand(shape, generator=g, device="cuda", dtype=torch.float32) * (hi - lo) + lo).to(d)

    q, k = uni((T, 16, 128), -0.15, 0.15), uni((T, 16, 128), -0.15, 0.15)
    v = uni((T, 32, 128), -1.0, 1.0)
    alpha, beta = uni((T, 32), 0.9, 1.0, torch.float32), uni((T, 32), 0.0, 1.0, torch.float32)
    cu = torch.tensor([T * i // N for i in range(N + 1)], dtype=torch.int64, device="cuda")
    o = torch.empty((T, 32, 128), dtype=dt, device="cuda")
    st = torch.empty((N, 32, 128, 128), dtype=torch.float32, device="cuda")
    return q, k, v, alpha, beta, cu, o, st


def bench_gdn(torch, fi, gate, a, env):
    """flashinfer.chunk_gated_delta_rule at the Qwen3-Next shape; skipped (with the
    reason in env_py.csv) unless the module is present as a prebuilt (AOT) .so: a
    JIT build takes minutes."""
    from flashinfer.jit.gdn import gen_gdn_prefill_sm90_module

    spec = gen_gdn_prefill_sm90_module()
    env.append(("gdn_aot_path", str(spec.aot_path)))
    if not spec.is_aot and not spec.jit_library_path.exists() and not a.allow_gdn_jit:
        env.append(("gdn_skipped", "no prebuilt gdn_prefill_sm90.so at %s" % spec.aot_path))
        write_csv(os.path.join(a.out, "gdn_py.csv"), GDN_HEADER, [])
        print("gdn: skipped (no prebuilt module)")
        return
    t0 = time.perf_counter()
    fi.gdn_prefill.get_gdn_prefill_module()
    env.append(("gdn_module_load_ms", "%.1f" % ((time.perf_counter() - t0) * 1e3)))
    lens = [1024, 4096, 16384] if a.quick else [1024, 2048, 4096, 8192, 16384, 32768, 65536]
    ev = Events(torch, 20)
    rows, N = [], a.gdn_seqs
    print("\n-- gdn_prefill via flashinfer.chunk_gated_delta_rule")
    for dt, dname in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        for T in lens:
            q, k, v, al, be, cu, o, st = gdn_inputs(torch, dt, T, N)

            def call(i):
                fi.chunk_gated_delta_rule(q, k, v, g=al, beta=be, scale=None, initial_state=None,
                                          output_final_state=True, cu_seqlens=cu, output=o, output_state=st)

            med, p10, p90, stream = gpu_time(torch, gate, ev, call, 5 if a.quick else 20, 2)
            nonfinite = int((~torch.isfinite(o)).sum().item())
            rows.append(("flashinfer_py", dname, T, N, "%.4f" % (med / 1e3), "%.4f" % (p10 / 1e3),
                         "%.4f" % (p90 / 1e3), "%.4f" % (stream / 1e3), "%.0f" % (T / (med * 1e-6)), nonfinite))
            print("%-5s %8d %10.3f ms %14.0f tok/s nonfinite %d" % (dname, T, med / 1e3, T / (med * 1e-6),
                                                                     nonfinite))
            del q, k, v, al, be, cu, o, st
    write_csv(os.path.join(a.out, "gdn_py.csv"), GDN_HEADER, rows)


def probe_streams(torch, fi, gate, a, l2, env):
    """gemma_rmsnorm through FlashInfer's Python API at small shapes on torch's
    default (legacy) stream and on a side stream: does the stream explain the
    small-shape GPU-time difference to flashinfer-c (which uses a non-blocking
    stream)? Run with flashinfer-c's norm.so installed as FlashInfer's prebuilt
    module, so that both sides run the same binary."""
    spec = fi.jit.norm.gen_norm_module()
    env.append(("probe_norm_module", str(spec.get_library_path())))
    env.append(("probe_norm_is_aot", int(spec.is_aot)))
    ev, rows, side = Events(torch, a.reps), [], torch.cuda.Stream()
    print("\n-- FlashInfer Python GPU time by stream (gemma_rmsnorm f16, median of %d)" % a.reps)
    for b, h in ((1, 4096), (512, 4096)):
        c = Case(torch, "gemma_rmsnorm", torch.float16, b, h, l2, 77)
        f = make_calls(torch, fi, c)["flashinfer_py"]
        for name, st in (("legacy", torch.cuda.default_stream()), ("side", side)):
            with torch.cuda.stream(st):
                med, p10, p90, stream = gpu_time(torch, gate, ev, f, a.reps, 10)
            rows.append(("flashinfer_py", name, "gemma_rmsnorm", "f16", b, h, "%.3f" % med, "%.3f" % p10,
                         "%.3f" % p90, "%.3f" % stream))
            print("flashinfer_py  %-7s %dx%d %8.3f us" % (name, b, h, med))
    write_csv(os.path.join(a.out, "norm_gpu_py_streams.csv"),
              ["impl", "stream", "kernel", "dtype", "batch", "hidden", "gpu_us_median", "gpu_us_p10", "gpu_us_p90",
               "stream_us"], rows)


def versions(torch, fi):
    import importlib.metadata as md

    def ver(name):
        try:
            return md.version(name)
        except Exception:
            return "?"

    p = torch.cuda.get_device_properties(0)
    return [("python", platform.python_version()), ("torch", torch.__version__), ("torch_cuda", torch.version.cuda),
            ("flashinfer", getattr(fi, "__version__", "?")), ("apache_tvm_ffi", ver("apache-tvm-ffi")),
            ("gpu", p.name), ("l2_bytes", getattr(p, "L2_cache_size", 0)),
            ("norm_module", str(fi.jit.norm.gen_norm_module().get_library_path()))]


def section(name, env, fn):
    """Run one section; a failure is printed and recorded, and the others still run."""
    try:
        fn()
    except Exception as e:  # one broken section must not cost the run's other numbers
        import traceback

        traceback.print_exc()
        env.append(("failed_" + name.replace(" ", "_"), repr(e)[:300]))
        print("bench_py: section %s failed: %r" % (name, e), file=sys.stderr)


def jit_build(a):
    """Fresh process: time FlashInfer's first get_norm_module() (JIT build if the
    cache is empty, then load)."""
    t0 = time.perf_counter()
    import torch
    import flashinfer as fi
    t1 = time.perf_counter()
    spec = fi.jit.norm.gen_norm_module()
    cached = spec.is_compiled
    fi.norm.get_norm_module()
    t2 = time.perf_counter()
    write_csv(os.path.join(a.out, "jit_build.csv"), ["module", "was_cached", "import_s", "build_and_load_s", "path"],
              [("norm", int(cached), "%.2f" % (t1 - t0), "%.2f" % (t2 - t1), str(spec.get_library_path()))])
    print("FlashInfer JIT norm: %s in %.1f s (import %.1f s)" % ("loaded" if cached else "built and loaded",
                                                                 t2 - t1, t1 - t0))
    del torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench-gpu-out")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-norm", action="store_true")
    ap.add_argument("--no-gdn", action="store_true")
    ap.add_argument("--allow-gdn-jit", action="store_true", help="let FlashInfer JIT-build gdn_prefill_sm90 (minutes)")
    ap.add_argument("--jit-build", action="store_true")
    ap.add_argument("--probe-streams", action="store_true", help="only the stream probe (see probe_streams)")
    ap.add_argument("--calls", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--gdn-seqs", type=int, default=4)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.jit_build:
        return jit_build(a)
    a.calls = a.calls or (1000 if a.quick else 3000)
    a.rounds = a.rounds or (3 if a.quick else 7)
    a.reps = min(200, a.reps or (30 if a.quick else 100))
    import torch
    import flashinfer as fi

    torch.cuda.set_device(0)
    env = versions(torch, fi)
    l2 = int(dict(env)["l2_bytes"]) or 50 * 2**20
    gate = Gate(torch)
    env.append(("sleep_cycles_per_us", "%.1f" % gate.cycles_per_us))
    env += check_correctness(torch, fi, l2)
    if a.probe_streams:
        section("stream probe", env, lambda: probe_streams(torch, fi, gate, a, l2, env))
        a.no_norm = a.no_gdn = True
    if not a.no_norm:
        section("host cost", env, lambda: bench_host(torch, fi, gate, a))
        section("norm GPU time", env, lambda: bench_norm_gpu(torch, fi, gate, a, l2))
    if not a.no_gdn:
        section("gdn_prefill", env, lambda: bench_gdn(torch, fi, gate, a, env))
    env += [("calls_per_round", a.calls), ("rounds", a.rounds), ("chunk", a.chunk), ("reps", a.reps),
            ("gate_expired_host_chunks", gate.expired["host"]),
            ("gate_expired_gpu_batches", gate.expired["gpu"]), ("quick", int(a.quick))]
    name = "env_py_probe.csv" if a.probe_streams else "env_py_gdn.csv" if a.no_norm else "env_py.csv"
    write_csv(os.path.join(a.out, name), ["key", "value"], env)
    if any(gate.expired.values()):
        print("note: the sleep gate ran out before the host finished enqueueing: %s" % gate.expired)


if __name__ == "__main__":
    main()
