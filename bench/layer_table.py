#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Markdown tables of the issue #14 benchmarks from the CSVs of
bench_layer (C) and bench_layer_py.py (Python) in one folder.
usage: layer_table.py DIR"""
import csv
import os
import sys


def rows(d, name):
    """Rows as dicts; a row with more fields than the header (a path name
    holding a comma, as run 1's "FlashInfer Python, in place") has its
    extra middle fields joined back into the path."""
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    r = list(csv.reader(open(p)))
    head, out = r[0], []
    for f in r[1:]:
        extra = len(f) - len(head)
        if extra > 0 and head[:2] == ["kernel", "path"]:
            f = [f[0], ",".join(f[1:2 + extra])] + f[2 + extra:]
        out.append(dict(zip(head, f)))
    return out


def main():
    d = sys.argv[1]
    host = rows(d, "layer_host.csv") + rows(d, "layer_host_py.csv")
    print("### Host cost per call (us, median of 7 rounds; min-max)\n")
    print("| kernel | implementation | median us | min | max | vs raw | vs FlashInfer Python |")
    print("|---|---|---|---|---|---|---|")
    kernels = [k for k in dict.fromkeys(r["kernel"] for r in host)]
    for k in kernels:
        rs = [r for r in host if r["kernel"] == k]
        raw = next((float(r["us_med"]) for r in rs if r["path"] == "raw safe call (C)"), None)
        fip = next((float(r["us_med"]) for r in rs if r["path"] == "FlashInfer Python"), None)
        for r in rs:
            m = float(r["us_med"])
            vr = f"{m / raw:.2f}x" if raw else "-"
            vf = f"{m / fip:.2f}x" if fip else "-"
            print(f"| {k} | {r['path']} | {m:.2f} | {float(r['us_min']):.2f} | {float(r['us_max']):.2f} | {vr} | {vf} |")
    c = {(r["op"], r["vocab"], r["batch"]): r for r in rows(d, "layer_sampling.csv")}
    p = {(r["op"], r["vocab"], r["batch"]): r for r in rows(d, "layer_sampling_py.csv")}
    print("\n### Sampling GPU time per call (us, median of 30; CUDA events) and rows/s\n")
    print("| op | vocab | batch | flashinfer-c us | FlashInfer Python us | flashinfer-c p10-p90 | Python p10-p90 "
          "| flashinfer-c rows/s | FlashInfer Python rows/s | c / Python time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in c:
        a, b = c[key], p.get(key)
        ca = float(a["us_med"])
        if b:
            pb = float(b["us_med"])
            print(f"| {key[0]} | {key[1]} | {key[2]} | {ca:.2f} | {pb:.2f} | {float(a['us_p10']):.2f}-"
                  f"{float(a['us_p90']):.2f} | {float(b['us_p10']):.2f}-{float(b['us_p90']):.2f} | "
                  f"{float(a['rows_per_s']):.3g} | {float(b['rows_per_s']):.3g} | {ca / pb:.2f}x |")
        else:
            print(f"| {key[0]} | {key[1]} | {key[2]} | {ca:.2f} | - | | | {float(a['rows_per_s']):.3g} | - | - |")


main()
