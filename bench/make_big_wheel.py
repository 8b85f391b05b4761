#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write a synthetic ~2.2 GB ZIP64 wheel for bench_extract.

usage: make_big_wheel.py OUT.whl [GiB] [MEMBER=FILE ...]

MEMBER=FILE puts the real bytes of FILE at MEMBER instead of synthetic ones
(e.g. the real norm.so, so that a kernel can be called after extraction).

Layout: padding members first (stored random data and deflated zeros, like
the many modules of a real flashinfer_jit_cache wheel), then the members the
benchmark extracts, placed past 2 GiB so that their offsets need ZIP64:
    flashinfer_jit_cache/jit_cache/norm/norm.so                      4 MiB
    flashinfer_jit_cache/jit_cache/gdn_prefill_sm90/gdn_prefill_sm90.so  6 MiB
    tvm_ffi/lib/libtvm_ffi.so                                         1 MiB
The .so-like members are half random, half repetitive text (compress ~2:1).
"""
import os
import sys
import zipfile

DATE = (2025, 1, 1, 0, 0, 0)


def so_like(n, seed):
    rnd = os.urandom(n // 2)
    text = (b"\x7fELF-like symbol table %d " % seed) * (n // 50 + 1)
    return (rnd + text)[:n]


def add(zf, name, data, method):
    zi = zipfile.ZipInfo(name, date_time=DATE)
    zi.compress_type = method
    zi.external_attr = 0o100755 << 16
    zi.create_system = 3
    with zf.open(zi, "w", force_zip64=True) as f:
        for i in range(0, len(data), 1 << 22):
            f.write(data[i:i + (1 << 22)])


def main():
    out = sys.argv[1]
    gib = float(sys.argv[2]) if len(sys.argv) > 2 and "=" not in sys.argv[2] else 2.1
    real = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)

    def member(name, size, seed):
        if name in real:
            with open(real[name], "rb") as f:
                return f.read()
        return so_like(size, seed)

    target = int(gib * (1 << 30))
    tmp = out + ".tmp"
    chunk = 64 << 20
    with zipfile.ZipFile(tmp, "w") as zf:
        written, i = 0, 0
        while written < target:
            if i % 4 == 3:  # deflated zero padding (cheap to write, large when inflated)
                add(zf, "flashinfer_jit_cache/jit_cache/pad%03d/pad%03d.so" % (i, i), bytes(chunk), zipfile.ZIP_DEFLATED)
                written += chunk // 1000
            else:
                add(zf, "flashinfer_jit_cache/jit_cache/pad%03d/pad%03d.so" % (i, i), os.urandom(chunk), zipfile.ZIP_STORED)
                written += chunk
            i += 1
        norm = "flashinfer_jit_cache/jit_cache/norm/norm.so"
        gdn = "flashinfer_jit_cache/jit_cache/gdn_prefill_sm90/gdn_prefill_sm90.so"
        tvm = "tvm_ffi/lib/libtvm_ffi.so"
        add(zf, norm, member(norm, 4 << 20, 1), zipfile.ZIP_DEFLATED)
        add(zf, gdn, member(gdn, 6 << 20, 2), zipfile.ZIP_DEFLATED)
        add(zf, tvm, member(tvm, 1 << 20, 3), zipfile.ZIP_DEFLATED)
        zf.writestr("bench-0.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
