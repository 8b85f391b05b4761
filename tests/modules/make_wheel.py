#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Pack files into a wheel-shaped zip at the given member paths.

usage: make_wheel.py OUT.whl MEMBER=FILE [MEMBER=FILE ...] [--zip64]

Used by the tests to build fixture wheels with the real member layout, e.g.
flashinfer_jit_cache/jit_cache/fic_test/fic_test.so=path/to/module.so.
"""
import os
import sys
import zipfile


def main(argv):
    out = argv[1]
    zip64 = "--zip64" in argv
    pairs = [a.split("=", 1) for a in argv[2:] if a != "--zip64"]
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, path in pairs:
            info = zipfile.ZipInfo(member, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o755 << 16
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=zip64) as dst:
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    dst.write(chunk)
        zf.writestr("fixture-0.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv)
