#!/usr/bin/env python3
"""Plots and Markdown tables from bench_gpu's CSV files.

usage: python3 bench/plot.py CSV_DIR [--img-dir docs/img] [--markdown] [--no-plots]

Reads overhead.csv, overhead_summary.csv, norm_bandwidth.csv, gdn_prefill.csv,
startup.csv and env.csv (any may be missing) and writes
  IMG_DIR/bench_host_overhead.png
  IMG_DIR/bench_gemma_rmsnorm_bandwidth.png
  IMG_DIR/bench_gdn_prefill.png
--markdown prints the tables of docs/benchmarks.md filled with the numbers.
Needs matplotlib only for the plots; the standard library otherwise.
"""
import argparse
import csv
import os
import sys


def read(d, name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def env_map(d):
    return {r["key"]: r["value"] for r in read(d, "env.csv")}


def shape(r):
    return "%sx%s" % (r["batch"], r["hidden"])


def markdown(d):
    env = env_map(d)
    out = []
    if env:
        out.append("GPU: %s (sm_%s, %s SMs), CUDA driver %s, runtime %s%s" % (
            env.get("gpu"), env.get("compute_capability", "").replace(".", ""), env.get("sms"),
            env.get("cuda_driver"), env.get("cuda_runtime"), ", QUICK RUN" if env.get("quick") == "1" else ""))
        out.append("")
    summ = read(d, "overhead_summary.csv")
    if summ:
        out.append("| method | median ns/call | min | max | vs raw | vs empty launch |")
        out.append("|---|---|---|---|---|---|")
        for r in summ:
            out.append("| %s | %.0f | %.0f | %.0f | %.2fx | %.2fx |" % (
                r["method"], float(r["median_ns"]), float(r["min_ns"]), float(r["max_ns"]),
                float(r["ratio_vs_raw"]), float(r["ratio_vs_empty"])))
        out.append("")
    bw = read(d, "norm_bandwidth.csv")
    if bw:
        out.append("| dtype | shape | fic us | fic GB/s | raw us | raw GB/s | d2d copy GB/s | fic of copy | "
                   "stream us/call |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        rows = {}
        for r in bw:
            rows.setdefault((r["dtype"], shape(r)), {})[r["path"]] = r
        for (dt, sh), p in rows.items():
            f, w, c = p.get("fic"), p.get("raw"), p.get("d2d_copy")
            if not (f and w and c):
                continue
            out.append("| %s | %s | %.2f | %.0f | %.2f | %.0f | %.0f | %.0f%% | %.2f |" % (
                dt, sh, float(f["gpu_us_median"]), float(f["gbps"]), float(w["gpu_us_median"]), float(w["gbps"]),
                float(c["gbps"]), 100 * float(f["frac_of_copy"]), float(f["stream_us"])))
        out.append("")
    gdn = read(d, "gdn_prefill.csv")
    if gdn:
        out.append("| total tokens | sequences | GPU ms | tokens/s | non-finite outputs |")
        out.append("|---|---|---|---|---|")
        for r in gdn:
            out.append("| %s | %s | %.3f | %.3g | %s |" % (
                r["total_tokens"], r["num_seqs"], float(r["gpu_ms_median"]), float(r["tokens_per_s"]),
                r["nonfinite_outputs"]))
        out.append("")
    elif env.get("gdn_skipped"):
        out.append("gdn_prefill skipped: %s" % env["gdn_skipped"])
        out.append("")
    st = read(d, "startup.csv")
    if st:
        out.append("| run | open ms | first call ms (host) | first result ms | open to first result ms | "
                   "peak RSS MB |")
        out.append("|---|---|---|---|---|---|")
        for r in st:
            out.append("| %s | %.2f | %.2f | %.2f | %.2f | %.0f |" % (
                r["label"], float(r["open_ms"]), float(r["first_call_host_ms"]), float(r["first_call_done_ms"]),
                float(r["open_to_first_result_ms"]), float(r["peak_rss_mb"])))
        out.append("")
        out.append("CUDA context creation (before the above, not included): %.1f ms" % float(st[0]["cuda_init_ms"]))
        out.append("")
    return "\n".join(out)


def plots(d, img):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(img, exist_ok=True)
    env = env_map(d)
    gpu = env.get("gpu", "GPU")
    made = []

    summ = read(d, "overhead_summary.csv")
    if summ:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        names = [r["method"] for r in summ]
        med = [float(r["median_ns"]) / 1e3 for r in summ]
        lo = [m - float(r["min_ns"]) / 1e3 for m, r in zip(med, summ)]
        hi = [float(r["max_ns"]) / 1e3 - m for m, r in zip(med, summ)]
        colors = ["#888888", "#1f77b4", "#6baed6", "#bbbbbb"][: len(names)]
        ax.barh(names, med, xerr=[lo, hi], color=colors, capsize=3)
        for i, m in enumerate(med):
            ax.text(m, i, "  %.2f us" % m, va="center")
        ax.set_xlabel("host time per call, us (median over rounds; bars: min-max)")
        ax.set_title("Host cost per call, gemma_rmsnorm 1x4096 f16 (%s)" % gpu, fontsize=10)
        ax.invert_yaxis()
        ax.set_xlim(0, max(med) * 1.35)
        fig.tight_layout()
        p = os.path.join(img, "bench_host_overhead.png")
        fig.savefig(p, dpi=130)
        plt.close(fig)
        made.append(p)

    bw = read(d, "norm_bandwidth.csv")
    if bw:
        dtypes = [t for t in ("f16", "bf16") if any(r["dtype"] == t for r in bw)]
        fig, axes = plt.subplots(1, len(dtypes), figsize=(6 * len(dtypes), 3.8), squeeze=False)
        for ax, dt in zip(axes[0], dtypes):
            rows = [r for r in bw if r["dtype"] == dt]
            shapes = []
            for r in rows:
                if shape(r) not in shapes:
                    shapes.append(shape(r))
            width = 0.27
            for k, (path, label, color) in enumerate([("fic", "flashinfer-c", "#1f77b4"),
                                                      ("raw", "raw safe call", "#ff7f0e"),
                                                      ("d2d_copy", "cudaMemcpy D2D", "#999999")]):
                vals = []
                for s in shapes:
                    m = [float(r["gbps"]) for r in rows if shape(r) == s and r["path"] == path]
                    vals.append(m[0] if m else 0)
                xs = [i + (k - 1) * width for i in range(len(shapes))]
                ax.bar(xs, vals, width, label=label, color=color)
            ax.set_xticks(range(len(shapes)))
            ax.set_xticklabels(shapes, rotation=20)
            ax.set_ylabel("GB/s (bytes read + written)")
            ax.set_title("gemma_rmsnorm %s (%s)" % (dt, gpu), fontsize=10)
            ax.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        p = os.path.join(img, "bench_gemma_rmsnorm_bandwidth.png")
        fig.savefig(p, dpi=130)
        plt.close(fig)
        made.append(p)

    gdn = read(d, "gdn_prefill.csv")
    if gdn:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        t = [int(r["total_tokens"]) for r in gdn]
        v = [float(r["tokens_per_s"]) / 1e6 for r in gdn]
        ax.plot(t, v, "o-", color="#2ca02c")
        ax.set_xscale("log", base=2)
        ax.set_xticks(t)
        ax.set_xticklabels(["%dk" % (x // 1024) if x >= 1024 else str(x) for x in t])
        ax.set_xlabel("total tokens (%s equal sequences)" % gdn[0]["num_seqs"])
        ax.set_ylabel("million tokens/s")
        ax.set_ylim(0, max(v) * 1.15)
        ax.set_title("gdn_prefill, Qwen3-Next shape, bf16 (%s)" % gpu, fontsize=10)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        p = os.path.join(img, "bench_gdn_prefill.png")
        fig.savefig(p, dpi=130)
        plt.close(fig)
        made.append(p)
    return made


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
