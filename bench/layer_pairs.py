#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Per-case comparison of every sampling call's GPU time, in call order,
between bench_layer (layer_sampling_reps.csv) and bench_layer_py.py
(layer_sampling_reps_py.csv) of one folder: medians, the correlation of the
two sequences (close to 1 when both sides drew the same random numbers, so
each call did the same work) and the median of the per-call ratios.
usage: layer_pairs.py DIR [C_DIR2]   (C_DIR2: a second bench_layer pass)"""
import csv
import math
import statistics as st
import sys


def load(p):
    d = {}
    for r in csv.DictReader(open(p)):
        d.setdefault((r["op"], r["vocab"], r["batch"]), []).append(float(r["us"]))
    return d


def corr(a, b):
    ma, mb = st.mean(a), st.mean(b)
    den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / den if den else float("nan")


d = sys.argv[1]
c, p = load(d + "/layer_sampling_reps.csv"), load(d + "/layer_sampling_reps_py.csv")
c2 = load(sys.argv[2] + "/layer_sampling_reps.csv") if len(sys.argv) > 2 else None
h = "| op | vocab | batch | C median us | Python median us | corr(C, Python) | median per-call C/Python |"
if c2:
    h += " C again median | corr(C, C again) |"
print(h)
print("|" + "---|" * (h.count("|") - 1))
for k in c:
    a, b = c[k], p[k]
    line = (f"| {k[0]} | {k[1]} | {k[2]} | {st.median(a):.1f} | {st.median(b):.1f} | {corr(a, b):.3f} | "
            f"{st.median([x / y for x, y in zip(a, b)]):.3f} |")
    if c2:
        line += f" {st.median(c2[k]):.1f} | {corr(a, c2[k]):.3f} |"
    print(line)
