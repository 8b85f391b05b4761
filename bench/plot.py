#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Plots and Markdown tables from one run of bench/run_gpu_bench.sh.

usage: python3 bench/plot.py CSV_DIR [--img-dir docs/img] [--markdown] [--no-plots]

Reads (any may be missing) host_cost_c.csv, host_cost_py.csv, norm_gpu_c.csv,
norm_gpu_py.csv, gdn_c.csv, gdn_py.csv, startup.csv, startup_inproc.csv,
env_c.csv, env_py.csv, jit_build.csv, and writes
  IMG_DIR/bench_host_overhead.png   host cost per call, every implementation
  IMG_DIR/bench_norm_bandwidth.png  GB/s of the three norm kernels vs the d2d copy
  IMG_DIR/bench_gdn_prefill.png     gdn_prefill tokens/s, flashinfer-c vs FlashInfer Python
  IMG_DIR/bench_startup.png         fresh process to first result
--markdown prints the tables of docs/benchmarks.md filled with the numbers.
Needs matplotlib only for the plots; the standard library otherwise.
"""
import argparse
import csv
import os
import statistics
import sys

KERNELS = ["gemma_rmsnorm", "rmsnorm", "fused_add_rmsnorm"]
HOST_IMPLS = ["raw_safe_call", "fic_typed", "fic_function_call", "tvm_ffi_direct", "flashinfer_py",
              "flashinfer_py_default", "torch_rms_norm", "torch_eager", "torch_copy_small",
              "cudaLaunchKernel_empty"]
GPU_IMPLS = ["fic_typed", "raw_safe_call", "flashinfer_py", "tvm_ffi_direct", "torch_rms_norm", "torch_eager"]
LABEL = {"fic_typed": "flashinfer-c typed", "raw_safe_call": "raw safe call (C)", "fic_function_call":
         "flashinfer-c generic", "tvm_ffi_direct": "tvm-ffi from Python", "flashinfer_py": "FlashInfer Python",
         "flashinfer_py_default": "FlashInfer Python, defaults", "torch_rms_norm": "F.rms_norm",
         "torch_eager": "PyTorch eager", "torch_copy_small": "torch copy_ (1 op)",
         "cudaLaunchKernel_empty": "empty cudaLaunchKernel", "d2d_copy": "cudaMemcpy D2D"}


def read(d, name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def env_map(d, name):
    return {r["key"]: r["value"] for r in read(d, name)}


def fmt_ratio(x):
    return "%.2fx" % x if x == x else "-"


# --------------------------------------------------------------------------
# Host cost
# --------------------------------------------------------------------------


def host_summary(d):
    """(impl, kernel) -> (median, min, max) ns over rounds."""
    rows = read(d, "host_cost_c.csv") + read(d, "host_cost_py.csv")
    v = {}
    for r in rows:
        v.setdefault((r["impl"], r["kernel"]), []).append(float(r["ns_per_call"]))
    return {k: (statistics.median(x), min(x), max(x)) for k, x in v.items()}


def host_table(d):
    s = host_summary(d)
    if not s:
        return []
    empty = s.get(("cudaLaunchKernel_empty", "none"), (float("nan"),))[0]
    out = ["| kernel | implementation | median us/call | min | max | vs raw | vs FlashInfer Python | vs empty launch |",
           "|---|---|---|---|---|---|---|---|"]
    for k in KERNELS + ["none"]:
        raw = s.get(("raw_safe_call", k), (float("nan"),))[0]
        fpy = s.get(("flashinfer_py", k), (float("nan"),))[0]
        for impl in HOST_IMPLS:
            if (impl, k) not in s:
                continue
            m, lo, hi = s[(impl, k)]
            out.append("| %s | %s | %.2f | %.2f | %.2f | %s | %s | %s |" % (
                k if k != "none" else "-", LABEL.get(impl, impl), m / 1e3, lo / 1e3, hi / 1e3, fmt_ratio(m / raw),
                fmt_ratio(m / fpy), fmt_ratio(m / empty)))
    return out + [""]


# --------------------------------------------------------------------------
# GPU time
# --------------------------------------------------------------------------


def gpu_rows(d):
    """(impl, kernel, dtype, shape) -> row; the copy is stored per (dtype, shape) for every kernel."""
    g = {}
    for r in read(d, "norm_gpu_c.csv") + read(d, "norm_gpu_py.csv"):
        sh = "%sx%s" % (r["batch"], r["hidden"])
        g[(r["impl"], r["kernel"], r["dtype"], sh)] = r
    return g


def shapes_of(g):
    seen = []
    for (_, _, _, sh) in g:
        if sh not in seen:
            seen.append(sh)
    return sorted(seen, key=lambda s: tuple(int(x) for x in s.split("x")))


def gpu_tables(d):
    g = gpu_rows(d)
    if not g:
        return []
    out = []
    for k in KERNELS:
        out += ["**%s** (GPU time per call in us, median; GB/s = bytes read + written / time)" % k, "",
                "| dtype | shape | flashinfer-c | raw call | FlashInfer Python | PyTorch eager | F.rms_norm | "
                "flashinfer-c GB/s | copy GB/s | of copy | vs raw | vs FlashInfer Python |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for dt in ("f16", "bf16"):
            for sh in shapes_of(g):
                f = g.get(("fic_typed", k, dt, sh))
                if not f:
                    continue

                def us(impl):
                    r = g.get((impl, k, dt, sh))
                    return float(r["gpu_us_median"]) if r else float("nan")

                c = g.get(("d2d_copy", "copy", dt, sh))
                cg = float(c["gbps"]) if c else float("nan")
                fg = float(f["gbps"])
                cells = ["%.2f" % us(i) if us(i) == us(i) else "-" for i in
                         ("fic_typed", "raw_safe_call", "flashinfer_py", "torch_eager", "torch_rms_norm")]
                out.append("| %s | %s | %s | %.0f | %.0f | %.0f%% | %s | %s |" % (
                    dt, sh, " | ".join(cells), fg, cg, 100 * fg / cg, fmt_ratio(us("fic_typed") / us("raw_safe_call")),
                    fmt_ratio(us("fic_typed") / us("flashinfer_py"))))
        out.append("")
    return out


def stream_table(d):
    """Back-to-back calls without the gate: what a stream sees when the host issues one call at a time."""
    g = gpu_rows(d)
    if not g:
        return []
    out = ["| kernel | dtype | shape | flashinfer-c | raw call | FlashInfer Python | tvm-ffi from Python | "
           "PyTorch eager |", "|---|---|---|---|---|---|---|---|"]
    for k in KERNELS:
        for dt in ("f16",):
            for sh in shapes_of(g):
                cells = []
                for impl in ("fic_typed", "raw_safe_call", "flashinfer_py", "tvm_ffi_direct", "torch_eager"):
                    r = g.get((impl, k, dt, sh))
                    cells.append("%.2f" % float(r["stream_us"]) if r else "-")
                if cells[0] != "-":
                    out.append("| %s | %s | %s | %s |" % (k, dt, sh, " | ".join(cells)))
    return out + [""]


def copy_ratio_table(d):
    g = gpu_rows(d)
    env = env_map(d, "env_c.csv")
    if not g:
        return []
    big = [sh for sh in shapes_of(g) if int(sh.split("x")[0]) >= 8192]
    out = ["| GPU | dtype | shape | d2d copy GB/s | " + " | ".join("%s of copy" % k for k in KERNELS) + " |",
           "|---|---|---|---|" + "---|" * len(KERNELS)]
    for dt in ("f16", "bf16"):
        for sh in big:
            c = g.get(("d2d_copy", "copy", dt, sh))
            if not c:
                continue
            cells = []
            for k in KERNELS:
                f = g.get(("fic_typed", k, dt, sh))
                cells.append("%.0f%%" % (100 * float(f["gbps"]) / float(c["gbps"])) if f else "-")
            out.append("| %s | %s | %s | %.0f | %s |" % (env.get("gpu", "?"), dt, sh, float(c["gbps"]),
                                                         " | ".join(cells)))
    return out + [""]


# --------------------------------------------------------------------------
# gdn_prefill, start-up
# --------------------------------------------------------------------------


def gdn_table(d):
    c = {(r["dtype"], r["total_tokens"]): r for r in read(d, "gdn_c.csv")}
    p = {(r["dtype"], r["total_tokens"]): r for r in read(d, "gdn_py.csv")}
    if not c and not p:
        skip = env_map(d, "env_c_gdn.csv").get("gdn_skipped") or env_map(d, "env_c.csv").get("gdn_skipped")
        return ["gdn_prefill skipped: %s" % skip, ""] if skip else []
    out = ["| dtype | total tokens | flashinfer-c ms | FlashInfer Python ms | flashinfer-c / Python | "
           "flashinfer-c tokens/s | stream ms (C / Python) | non-finite (C / Python) |",
           "|---|---|---|---|---|---|---|---|"]
    keys = sorted(set(c) | set(p), key=lambda k: (k[0] != "f16", int(k[1])))
    for k in keys:
        a, b = c.get(k), p.get(k)
        ma = float(a["gpu_ms_median"]) if a else float("nan")
        mb = float(b["gpu_ms_median"]) if b else float("nan")
        out.append("| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |" % (
            k[0], k[1], "%.3f" % ma if a else "-", "%.3f" % mb if b else "-", fmt_ratio(ma / mb),
            "%.3g" % float(a["tokens_per_s"]) if a else "-", "%.3f" % float(a["stream_ms"]) if a else "-",
            "%.3f" % float(b["stream_ms"]) if b else "-", a["nonfinite_outputs"] if a else "-", b["nonfinite_outputs"] if b else "-"))
    return out + [""]


def startup_summary(d):
    rows = read(d, "startup.csv")
    labels = []
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
    res = []
    for lab in labels:
        sel = [r for r in rows if r["label"] == lab]

        def med(col):
            v = [float(r[col]) for r in sel if r.get(col)]
            return statistics.median(v) if v else float("nan")

        first = [float(r["spawn_to_first_result_ms"]) for r in sel]
        res.append((lab, len(sel), med("spawn_to_first_result_ms"), min(first), max(first), med("wall_ms"),
                    med("import_torch_ms") + (med("import_flashinfer_ms") if "flashinfer" in lab else 0),
                    med("cuda_init_ms"), med("open_ms"), med("first_call_done_ms"), med("peak_rss_mb")))
    return res


def startup_table(d):
    s = startup_summary(d)
    out = []
    if s:
        out += ["| fresh process | runs | spawn to first result ms (median) | min | max | spawn to exit ms | "
                "imports ms | CUDA init ms | open ms | first call to result ms | peak RSS MB |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in s:
            cells = ["%.1f" % x if x == x and x != 0 else "-" for x in r[2:10]]
            out.append("| %s | %d | %s | %.0f |" % (r[0], r[1], " | ".join(cells), r[10]))
        out.append("")
    inp = read(d, "startup_inproc.csv")
    if inp:
        out += ["| in one process (after CUDA init) | open ms | first call ms (host) | first result ms | "
                "open to first result ms |", "|---|---|---|---|---|"]
        for r in inp:
            out.append("| %s | %.2f | %.2f | %.2f | %.2f |" % (r["label"], float(r["open_ms"]),
                                                               float(r["first_call_host_ms"]),
                                                               float(r["first_call_done_ms"]),
                                                               float(r["open_to_first_result_ms"])))
        out.append("")
    jb = read(d, "jit_build.csv")
    for r in jb:
        out.append("FlashInfer's JIT build and load of `%s` (first use, empty JIT cache): %s s "
                   "(import of torch + flashinfer before it: %s s)." % (r["module"], r["build_and_load_s"],
                                                                        r["import_s"]))
        out.append("")
    return out


def markdown(d):
    env, envp = env_map(d, "env_c.csv"), env_map(d, "env_py.csv")
    out = []
    if env:
        out += ["GPU: %s (sm_%s, %s SMs, L2 %s MB), CUDA driver %s, runtime %s; torch %s, flashinfer-python %s, "
                "apache-tvm-ffi %s%s" % (
                    env.get("gpu"), env.get("compute_capability", "").replace(".", ""), env.get("sms"),
                    int(env.get("l2_bytes", 0)) >> 20, env.get("cuda_driver"), env.get("cuda_runtime"),
                    envp.get("torch"), envp.get("flashinfer"), envp.get("apache_tvm_ffi"),
                    ", QUICK RUN" if env.get("quick") == "1" else ""), ""]
    for title, part in (("Host cost per call (1x4096 f16)", host_table(d)), ("GPU time", gpu_tables(d)),
                        ("Back-to-back stream time, us per call (f16)", stream_table(d)),
                        ("Copy ratio at large shapes", copy_ratio_table(d)), ("gdn_prefill", gdn_table(d)),
                        ("Start-up", startup_table(d))):
        if part:
            out += ["### " + title, ""] + part
    return "\n".join(out)


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------


def plot_host(plt, d, img, gpu):
    s = host_summary(d)
    if not s:
        return None
    items = [(impl, k) for k in KERNELS[:1] + ["none"] for impl in HOST_IMPLS if (impl, k) in s]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    names = [LABEL.get(i, i) for i, _ in items]
    med = [s[x][0] / 1e3 for x in items]
    lo = [m - s[x][1] / 1e3 for m, x in zip(med, items)]
    hi = [s[x][2] / 1e3 - m for m, x in zip(med, items)]
    colors = ["#1f77b4" if i.startswith("fic") else "#ff7f0e" if i.startswith(("flashinfer", "tvm")) else
              "#d62728" if i.startswith("torch") else "#888888" for i, _ in items]
    ax.barh(names, med, xerr=[lo, hi], color=colors, capsize=3)
    for i, m in enumerate(med):
        ax.text(m * 1.05, i, "%.1f us" % m, va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("host time per call, us (log scale; median over rounds, bars min-max)")
    ax.set_title("Host cost per call, gemma_rmsnorm 1x4096 f16 (%s)" % gpu, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(min(med) * 0.5, max(med) * 4)
    fig.tight_layout()
    p = os.path.join(img, "bench_host_overhead.png")
    fig.savefig(p, dpi=120)
    plt.close(fig)
    return p


def plot_bandwidth(plt, d, img, gpu):
    g = gpu_rows(d)
    if not g:
        return None
    shapes = shapes_of(g)
    fig, axes = plt.subplots(len(KERNELS), 2, figsize=(11, 3.2 * len(KERNELS)), squeeze=False)
    styles = {"fic_typed": ("#1f77b4", "o-"), "raw_safe_call": ("#aec7e8", "x--"), "flashinfer_py": ("#ff7f0e", "s-"),
              "torch_eager": ("#d62728", "v-"), "torch_rms_norm": ("#9467bd", "^-"), "d2d_copy": ("#888888", ":")}
    for row, k in enumerate(KERNELS):
        for col, dt in enumerate(("f16", "bf16")):
            ax = axes[row][col]
            for impl, (color, st) in styles.items():
                key = lambda sh: (impl, "copy" if impl == "d2d_copy" else k, dt, sh)
                xs = [i for i, sh in enumerate(shapes) if key(sh) in g]
                if not xs:
                    continue
                ax.plot(xs, [float(g[key(shapes[i])]["gbps"]) for i in xs], st, color=color, label=LABEL[impl],
                        markersize=4)
            ax.set_xticks(range(len(shapes)))
            ax.set_xticklabels(shapes, fontsize=8)
            ax.set_ylabel("GB/s")
            ax.set_title("%s %s (%s)" % (k, dt, gpu), fontsize=9)
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    p = os.path.join(img, "bench_norm_bandwidth.png")
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def plot_gdn(plt, d, img, gpu):
    c, p = read(d, "gdn_c.csv"), read(d, "gdn_py.csv")
    if not c and not p:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for rows, name, color in ((c, "flashinfer-c", "#1f77b4"), (p, "FlashInfer Python", "#ff7f0e")):
        for dt, st in (("f16", "o-"), ("bf16", "s--")):
            sel = [r for r in rows if r["dtype"] == dt]
            if sel:
                ax.plot([int(r["total_tokens"]) for r in sel], [float(r["tokens_per_s"]) / 1e6 for r in sel], st,
                        color=color, label="%s %s" % (name, dt), markersize=4)
    t = sorted({int(r["total_tokens"]) for r in c + p})
    ax.set_xscale("log", base=2)
    ax.set_xticks(t)
    ax.set_xticklabels(["%dk" % (x // 1024) for x in t])
    ax.set_xlabel("total tokens (%s equal sequences)" % (c or p)[0]["num_seqs"])
    ax.set_ylabel("million tokens/s")
    ax.set_ylim(bottom=0)
    ax.set_title("gdn_prefill, Qwen3-Next shape (%s)" % gpu, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(img, "bench_gdn_prefill.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_startup(plt, d, img, gpu):
    s = startup_summary(d)
    if not s:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    names = [r[0] for r in s]
    med = [r[2] for r in s]
    ax.barh(names, med, xerr=[[m - r[3] for m, r in zip(med, s)], [r[4] - m for m, r in zip(med, s)]],
            color=["#1f77b4" if n.startswith("fic") else "#ff7f0e" if "flashinfer" in n else "#d62728"
                   for n in names], capsize=3)
    for i, m in enumerate(med):
        ax.text(m * 1.05, i, "%.0f ms" % m, va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(min(med) * 0.5, max(med) * 4)
    ax.set_xlabel("fresh process: spawn to first gemma_rmsnorm result, ms (log; median, bars min-max)")
    ax.set_title("Start-up (%s)" % gpu, fontsize=10)
    ax.invert_yaxis()
    fig.tight_layout()
    path = os.path.join(img, "bench_startup.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plots(d, img):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(img, exist_ok=True)
    gpu = env_map(d, "env_c.csv").get("gpu", "GPU")
    made = [f(plt, d, img, gpu) for f in (plot_host, plot_bandwidth, plot_gdn, plot_startup)]
    return [p for p in made if p]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv_dir")
    ap.add_argument("--img-dir", default=os.path.join(here, "..", "docs", "img"))
    ap.add_argument("--markdown", action="store_true", help="print the result tables as Markdown")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir(a.csv_dir):
        sys.exit("plot.py: no such directory: %s" % a.csv_dir)
    if a.markdown:
        print(markdown(a.csv_dir))
    if not a.no_plots:
        try:
            made = plots(a.csv_dir, a.img_dir)
        except ImportError:
            sys.exit("plot.py: matplotlib is not installed (pip install matplotlib), or pass --no-plots")
        for p in made:
            print("wrote %s" % os.path.normpath(p), file=sys.stderr)


if __name__ == "__main__":
    main()
