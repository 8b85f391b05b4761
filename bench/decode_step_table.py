#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Markdown tables (docs/benchmarks.md section 8), the goals of issue #15
evaluated from the data, and a plot, from the JSON lines of the decode-step
benchmark (examples/decode_step, impl "c"; bench/decode_step_py.py, impl
"python").

usage: decode_step_table.py JSONL... [--plot PNG] [--layers N]
       decode_step_table.py --compare-tokens A.jsonl B.jsonl
         (greedy tokens of A against B, per matching batch/context/layers/steps)
The decode and prefill tables and the goals take the objects of one layer
count (--layers; default the largest among the decode objects): the 2-layer
correctness runs (tokens) stay out of them. C objects carry "gemm" ("lt":
cublasLtMatmul, "ex": cublasGemmEx; none: ex, from before the switch); the
main table takes C's lt objects where present, a second table compares both,
and "host_profile" objects (--host-profile) get a table of their own.
Standard library only; matplotlib for --plot when installed.
"""
import argparse
import json
import sys

GPU_EQUAL = 0.03  # "GPU time equal": within 3 %
HOST_RATIO = 3.0  # host overhead per eager step at least 3x lower
GRAPH_NEAR = 0.05  # graph step within 5 % of the GPU time


def load(paths):
    out = []
    for p in paths:
        try:
            with open(p) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            pass
        except OSError as e:
            print("decode_step_table: %s" % e, file=sys.stderr)
    return out


def f(x, fmt="%.3f"):
    return fmt % x if isinstance(x, (int, float)) else "-"


def ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def gemm_of(o):
    return o.get("gemm", "ex") if o.get("impl") == "c" else ""


def decode_index(objs, c_gemm=None):
    """(impl, mode, batch, context) -> object; C objects of GEMM path c_gemm
    (None: lt where a point has it, else ex)."""
    d, by = {}, {}
    for o in objs:
        if o.get("phase") == "decode":
            by[(o["impl"], o["mode"], o["batch"], o["context"], gemm_of(o))] = o  # the last one wins
    for (impl, mode, b, ln, g), o in by.items():
        if impl != "c":
            d[(impl, mode, b, ln)] = o
        elif c_gemm is not None:
            if g == c_gemm:
                d[(impl, mode, b, ln)] = o
        elif g == "lt" or (impl, mode, b, ln, "lt") not in by:
            d[(impl, mode, b, ln)] = o
    return d


def decode_table(objs):
    d = decode_index(objs)
    keys = sorted({(k[2], k[3]) for k in d}, key=lambda t: (t[1], t[0]))
    layers = sorted({o["layers"] for o in d.values()})
    gemms = sorted({gemm_of(o) for o in d.values() if o.get("impl") == "c"})
    lines = ["Decode step, %s layer(s), ms per step (medians; GPU = CUDA events around the graph replay); "
             "C GEMMs: %s." % ("/".join(str(x) for x in layers),
                               " and ".join({"lt": "cublasLtMatmul (--gemm lt)", "ex": "cublasGemmEx (--gemm ex)"}
                                            .get(g, g) for g in gemms) or "-"), "",
             "| batch | context | C eager | C graph | Python eager | Python graph | GPU C | GPU Python | "
             "GPU C/Py | host C eager | host Py eager | host Py/C eager | host C graph | host Py graph | "
             "C graph/GPU | tok/s C graph | tok/s Py graph |",
             "|" + "---|" * 17]
    rows = []
    for b, ln in keys:
        g = lambda impl, mode, key: d.get((impl, mode, b, ln), {}).get(key)  # noqa: E731
        gpu_c = g("c", "graph", "gpu_ms") or g("c", "eager", "gpu_ms")
        gpu_p = g("python", "graph", "gpu_ms") or g("python", "eager", "gpu_ms")
        r = dict(batch=b, context=ln, ce=g("c", "eager", "step_ms"), cg=g("c", "graph", "step_ms"),
                 pe=g("python", "eager", "step_ms"), pg=g("python", "graph", "step_ms"), gc=gpu_c, gp=gpu_p,
                 hce=g("c", "eager", "host_ms"), hpe=g("python", "eager", "host_ms"),
                 hcg=g("c", "graph", "host_ms"), hpg=g("python", "graph", "host_ms"),
                 tc=g("c", "graph", "tokens_per_s"), tp=g("python", "graph", "tokens_per_s"))
        r["gpu_ratio"] = ratio(gpu_c, gpu_p)
        r["host_ratio"] = ratio(r["hpe"], r["hce"])
        r["graph_over_gpu"] = ratio(r["cg"], gpu_c)
        r["py_graph_over_gpu"] = ratio(r["pg"], gpu_p)
        rows.append(r)
        lines.append("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            b, ln, f(r["ce"]), f(r["cg"]), f(r["pe"]), f(r["pg"]), f(gpu_c), f(gpu_p), f(r["gpu_ratio"], "%.3fx"),
            f(r["hce"]), f(r["hpe"]), f(r["host_ratio"], "%.1fx"), f(r["hcg"]), f(r["hpg"]),
            f(r["graph_over_gpu"], "%.3fx"), f(r["tc"], "%.0f"), f(r["tp"], "%.0f")))
    return lines, rows


def prefill_table(objs):
    d = {}
    for o in objs:
        if o.get("phase") == "prefill":
            d[(o["impl"], o["batch"], o["context"])] = o
    keys = sorted({(k[1], k[2]) for k in d}, key=lambda t: t[1])
    if not keys:
        return []
    lines = ["", "Prefill (eager, real batch prefill of the prompts, median of 3).", "",
             "| batch | context | tokens | C ms | Python ms | C tokens/s | Python tokens/s | C/Python time |",
             "|---|---|---|---|---|---|---|---|"]
    for b, ln in keys:
        c, p = d.get(("c", b, ln), {}), d.get(("python", b, ln), {})
        lines.append("| %d | %d | %d | %s | %s | %s | %s | %s |" % (
            b, ln, b * ln, f(c.get("ms")), f(p.get("ms")), f(c.get("tokens_per_s"), "%.0f"),
            f(p.get("tokens_per_s"), "%.0f"), f(ratio(c.get("ms"), p.get("ms")), "%.3fx")))
    return lines


def gemm_table(objs):
    """C with cublasGemmEx (ex) against cublasLtMatmul (lt), per point with both."""
    ex, lt = decode_index(objs, "ex"), decode_index(objs, "lt")
    keys = sorted({(k[2], k[3]) for k in ex if k[0] == "c"} & {(k[2], k[3]) for k in lt if k[0] == "c"},
                  key=lambda t: (t[1], t[0]))
    if not keys:
        return []
    lines = ["", "C GEMM path: cublasGemmEx (ex, per-call heuristic) vs cublasLtMatmul (lt, descriptors and "
             "algorithm fixed at start-up); ms.", "",
             "| batch | context | host eager ex | host eager lt | ex/lt | eager step ex | eager step lt | "
             "graph step ex | graph step lt | GPU ex | GPU lt | GPU lt/ex |",
             "|" + "---|" * 12]
    for b, ln in keys:
        g = lambda d, mode, key: d.get(("c", mode, b, ln), {}).get(key)  # noqa: E731
        lines.append("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            b, ln, f(g(ex, "eager", "host_ms")), f(g(lt, "eager", "host_ms")),
            f(ratio(g(ex, "eager", "host_ms"), g(lt, "eager", "host_ms")), "%.2fx"),
            f(g(ex, "eager", "step_ms")), f(g(lt, "eager", "step_ms")), f(g(ex, "graph", "step_ms")),
            f(g(lt, "graph", "step_ms")), f(g(ex, "graph", "gpu_ms")), f(g(lt, "graph", "gpu_ms")),
            f(ratio(g(lt, "graph", "gpu_ms"), g(ex, "graph", "gpu_ms")), "%.3fx")))
    return lines


def host_profile_table(objs):
    """--host-profile objects: microseconds per eager step per category."""
    profs = {}
    for o in objs:
        if o.get("phase") == "host_profile":
            profs[(o.get("batch"), o.get("context"), o.get("layers"), gemm_of(o))] = o  # the last one wins
    if not profs:
        return []
    keys = sorted(profs)
    cats = []
    for k in keys:
        for name in profs[k].get("categories", {}):
            if name not in cats:
                cats.append(name)
    head = ["C %s, batch %s, context %s, %s layers" % (k[3], k[0], k[1], k[2]) for k in keys]
    lines = ["", "Host time of one eager C step by call (--host-profile: a clock read around each call, summed "
             "over the steps, each issued after a stream sync): us per step (calls per step, us per call).", "",
             "| category | " + " | ".join(head) + " |", "|" + "---|" * (len(keys) + 1)]
    for name in cats:
        cells = []
        for k in keys:
            c = profs[k].get("categories", {}).get(name)
            cells.append("%.1f (%g x %.2f)" % (c["us_per_step"], round(c["calls_per_step"], 2), c["us_per_call"])
                         if c else "-")
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    lines.append("| other (descriptors, params, loops) | %s |" % " | ".join(
        f(profs[k].get("other_us"), "%.1f") for k in keys))
    lines.append("| **total (profiled)** | %s |" % " | ".join(f(profs[k].get("step_us"), "%.1f") for k in keys))
    lines.append("| total, median step (profiled) | %s |" % " | ".join(
        f(profs[k].get("step_us_median"), "%.1f") for k in keys))
    lines.append("| host_ms median, no profile (us) | %s |" % " | ".join(
        f(profs[k]["host_ms"] * 1e3 if isinstance(profs[k].get("host_ms"), float) else None, "%.1f") for k in keys))
    algos = [(k, a) for k in keys for a in profs[k].get("gemm_algos", [])]
    if algos:
        lines += ["", "cuBLASLt algorithms of the decode GEMMs (--gemm lt; m rows x k in -> n out):", "",
                  "| run | GEMM | m | k | n | algo | tile | stages | split-k | reduction | workspace B |",
                  "|" + "---|" * 11]
        for k, a in algos:
            lines.append("| C %s b%s c%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                k[3], k[0], k[1], a.get("kind"), a.get("m"), a.get("k"), a.get("n"), a.get("algo"), a.get("tile"),
                a.get("stages"), a.get("splitk"), a.get("reduction"), a.get("workspace")))
    return lines


def select_layers(objs, layers=None):
    """Decode and prefill objects of one layer count (default: the largest
    among the decode objects); every other object is kept."""
    counts = [o.get("layers") for o in objs if o.get("phase") == "decode"]
    if layers is None:
        layers = max(counts) if counts else None
    if layers is None:
        return objs, None
    kept = [o for o in objs if o.get("phase") not in ("decode", "prefill") or o.get("layers") == layers]
    dropped = len(objs) - len(kept)
    if dropped:
        print("decode_step_table: %d decode/prefill object(s) of another layer count than %d left out" %
              (dropped, layers), file=sys.stderr)
    return kept, layers


def same_tokens(a, b):
    n = same = 0
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            n += 1
            same += x == y
    return same, n


def token_pairs(objs_a, objs_b):
    out = []
    key = lambda o: (o.get("batch"), o.get("context"), o.get("layers"), o.get("steps"), o.get("small", False))  # noqa
    for a in objs_a:
        for b in objs_b:
            if a is b or a.get("phase") != "tokens" or b.get("phase") != "tokens" or key(a) != key(b):
                continue
            if not (a.get("greedy") and b.get("greedy")):
                continue
            same, n = same_tokens(a["tokens"], b["tokens"])
            out.append(("%s %s" % (a.get("impl"), a.get("mode", "?")), "%s %s" % (b.get("impl"), b.get("mode", "?")),
                        key(a), same, n))
    return out


def tokens_table(objs):
    c = [o for o in objs if o.get("phase") == "tokens" and o.get("impl") == "c"]
    p = [o for o in objs if o.get("phase") == "tokens" and o.get("impl") == "python"]
    pairs = token_pairs(c, p) + token_pairs(c, c) + token_pairs(p, p)
    seen, lines = set(), []
    for la, lb, k, same, n in pairs:
        sig = tuple(sorted((la, lb))) + (k,)
        if la == lb or sig in seen:
            continue
        seen.add(sig)
        lines.append("| %s | %s | %s | %d / %d (%.1f %%) |" % (la, lb, "batch %s, context %s, %s layers, %s steps" %
                                                              k[:4], same, n, 100.0 * same / max(n, 1)))
    if not lines:
        return []
    return ["", "Greedy tokens (identical ids; bf16 GEMM algorithm differences may flip near-ties).", "",
            "| A | B | run | identical |", "|---|---|---|---|"] + lines


def goals(rows):
    out = ["", "Goals of issue #15, evaluated from these numbers:", ""]
    gr = [r["gpu_ratio"] for r in rows if r["gpu_ratio"]]
    if gr:
        ok = all(abs(x - 1) <= GPU_EQUAL for x in gr)
        out.append("- GPU time per step equal to the Python stack's (within %d %%): C/Python %.3f-%.3fx: %s." % (
            GPU_EQUAL * 100, min(gr), max(gr), "**met**" if ok else "**not met**"))
    hr = [(r["host_ratio"], r["batch"], r["context"]) for r in rows if r["host_ratio"]]
    if hr:
        lo = min(hr)
        ok = lo[0] >= HOST_RATIO
        out.append("- Host overhead per eager step at least %.0fx lower: Python/C %.1f-%.1fx (lowest at batch %d, "
                   "context %d): %s." % (HOST_RATIO, lo[0], max(hr)[0], lo[1], lo[2], "**met**" if ok else "**not met**"))
    gg = [(r["graph_over_gpu"], r["batch"], r["context"]) for r in rows if r["graph_over_gpu"]]
    if gg:
        hi = max(gg)
        ok = hi[0] - 1 <= GRAPH_NEAR
        pg = [r["py_graph_over_gpu"] for r in rows if r["py_graph_over_gpu"]]
        out.append("- With the graph, step time within a few %% (<= %d %%) of the GPU time: C graph step / GPU "
                   "%.3f-%.3fx (worst at batch %d, context %d): %s%s." % (
                       GRAPH_NEAR * 100, min(gg)[0], hi[0], hi[1], hi[2], "**met**" if ok else "**not met**",
                       "; Python graph %.3f-%.3fx" % (min(pg), max(pg)) if pg else ""))
    wins = []
    for r in rows:
        for mode, c, p in (("eager", r["ce"], r["pe"]), ("graph", r["cg"], r["pg"])):
            if isinstance(c, float) and isinstance(p, float) and p < c:
                wins.append("batch %d context %d %s (%.3f vs %.3f ms)" % (r["batch"], r["context"], mode, p, c))
    out.append("- Where the Python stack's step is faster: " + ("; ".join(wins) if wins else "nowhere") + ".")
    return out


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("decode_step_table: matplotlib not installed, no plot", file=sys.stderr)
        return
    ctxs = sorted({r["context"] for r in rows})
    fig, axes = plt.subplots(1, len(ctxs) + 1, figsize=(5 * (len(ctxs) + 1), 4.2))
    series = [("ce", "flashinfer-c eager", "C0", "-"), ("cg", "flashinfer-c graph", "C0", "--"),
              ("pe", "PyTorch + FlashInfer eager", "C1", "-"), ("pg", "PyTorch + FlashInfer graph", "C1", "--"),
              ("gc", "GPU time (C)", "k", ":")]
    for ax, ln in zip(axes, ctxs):
        rs = sorted((r for r in rows if r["context"] == ln), key=lambda r: r["batch"])
        for key, label, color, style in series:
            pts = [(r["batch"], r[key]) for r in rs if isinstance(r[key], float)]
            if pts:
                ax.plot(*zip(*pts), style, color=color, marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch")
        ax.set_ylabel("ms per decode step")
        ax.set_title("context %d" % ln)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    for ln, marker in zip(ctxs, "os^v"):
        rs = sorted((r for r in rows if r["context"] == ln), key=lambda r: r["batch"])
        for key, label, color in (("hce", "flashinfer-c", "C0"), ("hpe", "PyTorch + FlashInfer", "C1")):
            pts = [(r["batch"], r[key]) for r in rs if isinstance(r[key], float)]
            if pts:
                ax.plot(*zip(*pts), "-", color=color, marker=marker, label="%s, context %d" % (label, ln))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch")
    ax.set_ylabel("host ms to issue one eager step")
    ax.set_title("host time per eager step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("decode_step_table: wrote %s" % path, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--plot", default=None)
    ap.add_argument("--compare-tokens", action="store_true")
    ap.add_argument("--layers", type=int, default=None,
                    help="layer count of the decode/prefill tables (default: the largest in the data)")
    a = ap.parse_args()
    if a.compare_tokens:
        if len(a.jsonl) != 2:
            sys.exit("--compare-tokens takes two files")
        A, B = load([a.jsonl[0]]), load([a.jsonl[1]])
        pairs = token_pairs(A, B)
        if not pairs:
            print("tokens: nothing to compare (%s vs %s)" % tuple(a.jsonl))
        for la, lb, k, same, n in pairs:
            print("tokens %s vs %s (batch %s, context %s, %s layers, %s steps): %d / %d identical (%.1f %%)" %
                  ((la, lb) + k[:4] + (same, n, 100.0 * same / max(n, 1))))
        return
    objs, _ = select_layers(load(a.jsonl), a.layers)
    lines, rows = decode_table(objs)
    lines += gemm_table(objs) + prefill_table(objs) + tokens_table(objs) + host_profile_table(objs) + goals(rows)
    print("\n".join(lines))
    if a.plot and rows:
        plot(rows, a.plot)


if __name__ == "__main__":
    main()
