#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Markdown tables from the CSVs of bench/run_attention_bench.sh.

usage: attn_table.py RESULTS_DIR
"""
import csv
import os
import sys


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def ratio(a, b):
    a, b = num(a), num(b)
    return "%.2fx" % (a / b) if a == a and b == b and b > 0 else "-"


def host_table(d):
    rows = load(d, "attn_host.csv") + load(d, "attn_host_py.csv")
    by = {}
    for r in rows:
        by.setdefault((r["family"], r["batch"], r["len"]), {})[r["path"]] = r
    print("| host us (median of 7 rounds) | plan: typed | generic | raw | FlashInfer Python | typed/raw | typed/Python "
          "| run: typed | generic | raw | FlashInfer Python | typed/raw | typed/Python |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (fam, b, ln), p in by.items():
        g = lambda path, col: p.get(path, {}).get(col, "-")
        t, gn, rw, py = "flashinfer-c typed", "generic fic_function_call", "raw safe call", "FlashInfer Python"
        print("| %s b=%s len=%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            fam, b, ln, g(t, "plan_us_med"), g(gn, "plan_us_med"), g(rw, "plan_us_med"), g(py, "plan_us_med"),
            ratio(g(t, "plan_us_med"), g(rw, "plan_us_med")), ratio(g(t, "plan_us_med"), g(py, "plan_us_med")),
            g(t, "run_us_med"), g(gn, "run_us_med"), g(rw, "run_us_med"), g(py, "run_us_med"),
            ratio(g(t, "run_us_med"), g(rw, "run_us_med")), ratio(g(t, "run_us_med"), g(py, "run_us_med"))))


def gpu_table(d, fam):
    c = load(d, "attn_%s.csv" % fam)
    py = {(r["batch"], r.get("ctx", r.get("len"))): r for r in load(d, "attn_%s_py.csv" % fam)}
    key = "ctx" if fam == "decode" else "len"
    unit = "GB/s" if fam == "decode" else "TFLOP/s"
    extra = " | of copy" if fam == "decode" else ""
    print("| %s batch x %s | flashinfer-c us | raw us | FlashInfer Python us | c/Python | c %s | Python %s%s |" % (
        fam, key, unit, unit, extra))
    print("|---|---|---|---|---|---|---|" + ("---|" if extra else ""))
    for r in c:
        p = py.get((r["batch"], r[key]), {})
        rate = r["gbs"] if fam == "decode" else r["tflops"]
        prate = p.get("gbs" if fam == "decode" else "tflops", "-")
        tail = " | %.2f" % num(r["of_copy"]) if extra else ""
        print("| %s x %s | %s | %s | %s | %s | %s | %s%s |" % (r["batch"], r[key], r["us_med"], r["raw_us_med"],
                                                              p.get("us_med", "-"), ratio(r["us_med"], p.get("us_med")),
                                                              rate, prate, tail))


def fa3_table(d):
    """Prefill FA2 vs FA3 (TFLOP/s), both sides, where either CSV has FA3 columns with figures."""
    c = load(d, "attn_prefill.csv")
    py = {(r["batch"], r["len"]): r for r in load(d, "attn_prefill_py.csv")}
    if not any(r.get("fa3_tflops") for r in c + list(py.values())):
        return
    print("\n| prefill batch x len | c TFLOP/s FA2 | c FA3 | c FA3/FA2 | Python TFLOP/s FA2 | Python FA3 "
          "| Python FA3/FA2 | FA3 us: c | Python | c/Python | FA3 vs FA2 rel. L2: c | Python |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = [(r["batch"], r["len"]) for r in c] + [k for k in py if k not in {(r["batch"], r["len"]) for r in c}]
    cby = {(r["batch"], r["len"]): r for r in c}
    for k in keys:
        a, p = cby.get(k, {}), py.get(k, {})
        g = lambda r, col: r.get(col) or "-"
        print("| %s x %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            k[0], k[1], g(a, "tflops"), g(a, "fa3_tflops"), ratio(a.get("fa3_tflops"), a.get("tflops")),
            g(p, "tflops"), g(p, "fa3_tflops"), ratio(p.get("fa3_tflops"), p.get("tflops")),
            g(a, "fa3_us_med"), g(p, "fa3_us_med"), ratio(a.get("fa3_us_med"), p.get("fa3_us_med")),
            g(a, "fa3_rel_l2_vs_fa2"), g(p, "fa3_rel_l2_vs_fa2")))


def main():
    d = sys.argv[1]
    for r in load(d, "attn_copy.csv"):
        print("d2d copy: %s GB/s (read + write, %s bytes)\n" % (r["gbs"], r["bytes"]))
    for name in ("attn_check.csv", "attn_check_py.csv"):
        for r in load(d, name):
            print("check %s: %s %sx%s rel. L2 %s" % (name, r["family"], r["batch"], r["len"], r["rel_l2_vs_f64"]))
    print()
    host_table(d)
    print()
    gpu_table(d, "decode")
    print()
    gpu_table(d, "prefill")
    fa3_table(d)
    bd = load(d, "attn_breakdown.csv")
    if bd:
        print("\n| breakdown | family | batch | len | path | us (median) | min | max |")
        print("|---|---|---|---|---|---|---|---|")
        for r in bd:
            print("| %s | %s | %s | %s | %s | %s | %s | %s |" % tuple(r[k] for k in (
                "what", "family", "batch", "len", "path", "us_med", "us_min", "us_max")))
    for r in load(d, "attn_jit_build.csv"):
        print("\nFlashInfer JIT build + load: %s %s s" % (r["module"], r["build_and_load_s"]))


if __name__ == "__main__":
    main()
