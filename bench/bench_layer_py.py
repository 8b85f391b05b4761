#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""FlashInfer Python's side of the RoPE / activation / sampling benchmarks
(issue #14): the same problems as bench/bench_layer.c through
flashinfer.apply_rope_pos_ids, flashinfer.silu_and_mul,
flashinfer.sampling.softmax, .top_p_sampling_from_probs,
.top_k_renorm_probs and .top_k_top_p_sampling_from_probs (top-k first).
bench/run_layer_bench.sh places flashinfer-c's modules where FlashInfer loads
prebuilt (AOT) modules from, so both sides run the same .so.

  0. correctness: RoPE and SiLU-and-mul against float64 torch references,
     softmax against torch.softmax, renorm rows sum to 1, ids in range; the
     ids of batch 8 at vocab 32k (seed 1234, offset 0) -> layer_ids_py.csv
     (the runner compares them with bench_layer's);
  1. host cost per call (1 small problem each): calls enqueued in chunks of
     64 behind torch.cuda._sleep so the host never waits for the GPU;
  2. sampling GPU time per call (CUDA events, calls queued behind the sleep)
     at vocab 32k/128k/256k, batch 1/8/64/512, on softmax(logits) of the
     logits bench_layer wrote to --logits-dir.

usage: bench_layer_py.py [--out DIR] [--logits-dir DIR] [--quick] [--no-host] [--same-draws]
"""
import argparse
import math
import os
import time

from bench_common import Gate  # noqa: E402 (run as a script from bench/)

ROUNDS = 7
VOCABS = (32768, 131072, 262144)
BATCHES = (1, 8, 64, 512)
TOP_P, TOP_K = 0.9, 50
REPS = []  # the GPU times of the current case, in call order


def quantile(v, q):
    v = sorted(v)
    i = int(q * (len(v) - 1) + 0.5)
    return v[max(0, min(len(v) - 1, i))]


def rel_l2(got, ref):
    got, ref = got.double(), ref.double()
    return float(((got - ref) ** 2).sum().sqrt() / (ref ** 2).sum().sqrt())


def rope_ref(torch, x, pos, theta=1e4):
    """NeoX RoPE in float64: pair j with j + D/2, angle pos * theta^(-2j/D)."""
    d = x.shape[-1]
    j = torch.arange(d // 2, dtype=torch.float64, device=x.device)
    ang = pos.double()[:, None, None] * theta ** (-2 * j / d)
    x = x.double()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([x1 * ang.cos() - x2 * ang.sin(), x2 * ang.cos() + x1 * ang.sin()], dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-layer-out")
    ap.add_argument("--logits-dir", default="/tmp/fic-layer-logits")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-host", action="store_true")
    ap.add_argument("--same-draws", action="store_true",
                    help="pass seed/offset explicitly, the sequence bench_layer uses (seed 7, offset advanced by "
                         "batch * 32 per call from 0 at each (vocabulary, batch)), so both sides draw the same numbers")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    import torch
    import flashinfer as fi
    import flashinfer.sampling as fs
    print(f"import torch + flashinfer: {time.time() - t0:.2f} s", flush=True)
    torch.manual_seed(0)
    dev = "cuda"
    bf16, f32 = torch.bfloat16, torch.float32
    q = torch.empty((1, 32, 128), dtype=bf16, device=dev).uniform_(-1, 1)
    k = torch.empty((1, 8, 128), dtype=bf16, device=dev).uniform_(-1, 1)
    pos = torch.tensor([1234], dtype=torch.int32, device=dev)
    x = torch.empty((1, 8192), dtype=bf16, device=dev).uniform_(-3, 3)
    o = torch.empty((1, 4096), dtype=bf16, device=dev)
    logits = torch.empty((1, 32768), dtype=f32, device=dev).uniform_(-8, 8)
    probs = fs.softmax(logits, 1.0, enable_pdl=False)

    # 0. correctness
    checks = []
    qr, kr = fi.apply_rope_pos_ids(q, k, pos)
    checks.append(("apply_rope_pos_ids", rel_l2(torch.cat([qr, kr], 1), rope_ref(torch, torch.cat([q, k], 1), pos)), 1e-2))
    fi.silu_and_mul(x, out=o, enable_pdl=False)
    xd = x.double()
    checks.append(("silu_and_mul", rel_l2(o, torch.nn.functional.silu(xd[:, :4096]) * xd[:, 4096:]), 1e-2))
    checks.append(("softmax", rel_l2(probs, torch.softmax(logits.double(), -1)), 1e-4))
    ids = fs.top_p_sampling_from_probs(probs, TOP_P)
    checks.append(("top_p_sampling_from_probs id in range", 0.0 if 0 <= int(ids[0]) < 32768 else 1.0, 0.5))
    rn = fs.top_k_renorm_probs(probs, TOP_K)
    nz = int((rn > 0).sum())
    checks.append(("top_k_renorm_probs |sum-1|", abs(float(rn.double().sum()) - 1), 1e-3))
    checks.append(("top_k_renorm_probs nonzeros == 50", float(nz != TOP_K), 0.5))
    ok = True
    with open(os.path.join(a.out, "layer_check_py.csv"), "w") as f:
        f.write("check,value,limit,result\n")
        for name, v, lim in checks:
            good = v <= lim
            ok &= good
            f.write(f"{name},{v:.3e},{lim},{'ok' if good else 'FAIL'}\n")
            print(f"check {name:40s} {v:.3e} (limit {lim}) {'ok' if good else 'FAIL'}", flush=True)
    if not ok:
        raise SystemExit("correctness check failed; no timings")

    gate = Gate(torch)
    cases = [
        ("apply_rope_pos_ids", "FlashInfer Python", lambda: fi.apply_rope_pos_ids(q, k, pos)),
        ("apply_rope_pos_ids", "FlashInfer Python, in place", lambda: fi.apply_rope_pos_ids_inplace(q, k, pos)),
        ("silu_and_mul", "FlashInfer Python", lambda: fi.silu_and_mul(x, out=o, enable_pdl=False)),
        ("silu_and_mul", "FlashInfer Python, defaults", lambda: fi.silu_and_mul(x)),
        ("softmax", "FlashInfer Python", lambda: fs.softmax(logits, 1.0, enable_pdl=False)),
        ("softmax", "FlashInfer Python, defaults", lambda: fs.softmax(logits)),
        ("top_p_sampling_from_probs", "FlashInfer Python", lambda: fs.top_p_sampling_from_probs(probs, TOP_P)),
        ("top_p_sampling_from_probs", "FlashInfer Python, seed+offset given",
         lambda: fs.top_p_sampling_from_probs(probs, TOP_P, seed=42, offset=0)),
        ("top_k_renorm_probs", "FlashInfer Python", lambda: fs.top_k_renorm_probs(probs, TOP_K)),
        ("-", "torch.empty(1) + zero_ (2 ops, floor reference)", lambda: torch.empty(1, device=dev).zero_()),
    ]
    if not a.no_host:
        host_cost(torch, gate, cases, a)
    throughput(torch, fs, gate, a)
    print(f"gate expired: {gate.expired}", flush=True)


def host_round(torch, gate, f, n, per_call_us):
    chunk, total = 64, 0.0
    for _ in range(0, n, chunk):
        gate.hold(chunk * per_call_us * 3 + 300)
        t0 = time.perf_counter_ns()
        for _ in range(chunk):
            f()
        total += time.perf_counter_ns() - t0
        gate.check()
        torch.cuda.synchronize()
    return total / n / 1e3


def host_cost(torch, gate, cases, a):
    n = 512 if a.quick else 1536
    est = []
    for _, _, f in cases:  # warm-up and a per-call estimate for the sleep length
        for _ in range(20):
            f()
        torch.cuda.synchronize()
        t0 = time.perf_counter_ns()
        for _ in range(64):
            f()
        est.append((time.perf_counter_ns() - t0) / 64 / 1e3)
        torch.cuda.synchronize()
    v = [[0.0] * ROUNDS for _ in cases]
    for r in range(ROUNDS):
        for j in range(len(cases)):
            i = (j + r) % len(cases)
            v[i][r] = host_round(torch, gate, cases[i][2], n, est[i])
    with open(os.path.join(a.out, "layer_host_py.csv"), "w") as f:
        f.write("kernel,path,us_med,us_min,us_max\n")
        for (kn, path, _), row in zip(cases, v):
            m = quantile(row, 0.5)
            f.write(f"{kn},\"{path}\",{m:.3f},{min(row):.3f},{max(row):.3f}\n")
            print(f"host {kn:26s} {path:48s} {m:7.2f} us ({min(row):.2f}-{max(row):.2f})", flush=True)


def gpu_time(torch, gate, f, reps):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    gate.hold(reps * 300 + 2000)
    for e0, e1 in ev:
        e0.record()
        f()
        e1.record()
    gate.check()
    torch.cuda.synchronize()
    v = [e0.elapsed_time(e1) * 1e3 for e0, e1 in ev]
    REPS.extend(v)
    return quantile(v, 0.5), quantile(v, 0.1), quantile(v, 0.9)


def throughput(torch, fs, gate, a):
    reps = 10 if a.quick else 30
    rows, rep_rows = [], []
    for V in VOCABS:
        path = os.path.join(a.logits_dir, f"logits_{V}.f32")
        lg = torch.from_file(path, shared=False, size=512 * V, dtype=torch.float32).view(512, V).cuda()
        probs = fs.softmax(lg, 1.0, enable_pdl=False)
        if V == 32768:
            with open(os.path.join(a.out, "layer_ids_py.csv"), "w") as f:
                f.write("op,id0,id1,id2,id3,id4,id5,id6,id7\n")
                p8 = probs[:8]
                a1 = fs.top_p_sampling_from_probs(p8, TOP_P, seed=1234, offset=0).tolist()
                a2 = fs.top_k_top_p_sampling_from_probs(p8, TOP_K, TOP_P, seed=1234, offset=0).tolist()
                f.write("top_p," + ",".join(map(str, a1)) + "\n")
                f.write("top_k_top_p," + ",".join(map(str, a2)) + "\n")
        for B in BATCHES:
            pb = probs[:B]
            draw = [0]  # bench_layer's Philox offset: it restarts at 0 for every (vocab, batch)

            def nxt(b, draw=draw):
                draw[0] += (b * 32 + 3) // 4 * 4
                return draw[0]

            if a.same_draws:
                ops = (("top_p_sampling_from_probs",
                        lambda: fs.top_p_sampling_from_probs(pb, TOP_P, seed=7, offset=nxt(B))),
                       ("top_k_top_p_sampling_from_probs",
                        lambda: fs.top_k_top_p_sampling_from_probs(pb, TOP_K, TOP_P, seed=7, offset=nxt(B))))
            else:
                ops = (("top_p_sampling_from_probs", lambda: fs.top_p_sampling_from_probs(pb, TOP_P)),
                       ("top_k_top_p_sampling_from_probs",
                        lambda: fs.top_k_top_p_sampling_from_probs(pb, TOP_K, TOP_P)))
            for name, f in ops:
                REPS.clear()
                med, p10, p90 = gpu_time(torch, gate, f, reps)
                rep_rows.extend((name, V, B, i, t) for i, t in enumerate(REPS))
                rows.append((name, V, B, "FlashInfer Python", med, p10, p90, B / (med * 1e-6)))
                print(f"gpu {name:32s} V={V:<6d} B={B:<3d} {med:9.2f} us (p10 {p10:.2f} p90 {p90:.2f}) "
                      f"{B / (med * 1e-6):.3g} rows/s", flush=True)
        del lg, probs
    with open(os.path.join(a.out, "layer_sampling_reps_py.csv"), "w") as f:
        f.write("op,vocab,batch,rep,us\n")
        for r in rep_rows:
            f.write(f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]:.3f}\n")
    with open(os.path.join(a.out, "layer_sampling_py.csv"), "w") as f:
        f.write("op,vocab,batch,impl,us_med,us_p10,us_p90,rows_per_s\n")
        for r in rows:
            f.write(f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]:.3f},{r[5]:.3f},{r[6]:.3f},{r[7]:.0f}\n")


if __name__ == "__main__":
    main()
