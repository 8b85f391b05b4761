#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pack built modules into a test flashinfer_jit_cache wheel (stdlib only).

usage: make_wheel.py --modules-dir DIR [--version 0.6.3+cu130] [--out DIR] [MODULE ...]

Members: flashinfer_jit_cache/jit_cache/<m>/<m>.so for every DIR/<m>/<m>.so
(or only the MODULEs named), plus a minimal dist-info (METADATA, WHEEL, RECORD).
Output: <out>/flashinfer_jit_cache-<version>-cp39-abi3-manylinux_2_28_x86_64.whl
(out defaults to --modules-dir). Deterministic: sorted members, fixed
timestamps (SOURCE_DATE_EPOCH or 1980-01-01), deflate.
"""
import argparse
import base64
import hashlib
import os
import sys
import time
import zipfile

DIST = "flashinfer_jit_cache"
TAG = "cp39-abi3-manylinux_2_28_x86_64"


def record_hash(data: bytes) -> str:
    d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + d.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules-dir", required=True)
    ap.add_argument("--version", default="0.6.3+cu130")
    ap.add_argument("--out")
    ap.add_argument("modules", nargs="*")
    a = ap.parse_args()

    mdir = os.path.abspath(a.modules_dir)
    mods = a.modules or sorted(
        m for m in os.listdir(mdir)
        if not m.startswith(".") and os.path.isfile(os.path.join(mdir, m, m + ".so")))
    if not mods:
        sys.exit(f"make_wheel.py: no <m>/<m>.so modules in {mdir}")
    files = []  # (arcname, bytes, mode)
    for m in mods:
        so = os.path.join(mdir, m, m + ".so")
        if not os.path.isfile(so):
            sys.exit(f"make_wheel.py: missing {so}")
        with open(so, "rb") as f:
            files.append((f"{DIST}/jit_cache/{m}/{m}.so", f.read(), 0o755))

    distinfo = f"{DIST}-{a.version}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        "Name: flashinfer-jit-cache\n"
        f"Version: {a.version}\n"
        "Summary: TEST wheel (flashinfer-c): locally built FlashInfer TVM-FFI modules "
        + ", ".join(mods) + " for sm_90a\n"
        "License: Apache-2.0\n"
    ).encode()
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: flashinfer-c tools/kernel-modules/make_wheel.py\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {TAG}\n"
    ).encode()
    files.append((f"{distinfo}/METADATA", metadata, 0o644))
    files.append((f"{distinfo}/WHEEL", wheel, 0o644))
    record = "".join(f"{n},{record_hash(d)},{len(d)}\n" for n, d, _ in files)
    record += f"{distinfo}/RECORD,,\n"
    files.append((f"{distinfo}/RECORD", record.encode(), 0o644))

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    dt = time.gmtime(max(epoch, 315532800))[:6]
    out_dir = os.path.abspath(a.out or mdir)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{DIST}-{a.version}-{TAG}.whl")
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:  # dist-info last, RECORD last of all
            zi = zipfile.ZipInfo(name, dt)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = (0o100000 | mode) << 16
            zi.create_system = 3
            z.writestr(zi, data)
    os.replace(tmp, path)
    print(f"make_wheel.py: wrote {path} ({os.path.getsize(path)} bytes) with modules: {' '.join(mods)}")


if __name__ == "__main__":
    main()
