#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Craft fixture wheels, good and hostile, for the artifact tests.

usage: make_hostile.py OUT_DIR SO_FILE

SO_FILE is any shared object (the test module); it is stored at the real
member paths. Every hostile wheel targets one member the library extracts
(tvm_ffi/lib/libtvm_ffi.so or flashinfer_jit_cache/jit_cache/fic_test/fic_test.so)
or, for name checks, adds one bad name next to good members.
"""
import os
import random
import sys
import zipfile

TVM = "tvm_ffi/lib/libtvm_ffi.so"
MOD = "flashinfer_jit_cache/jit_cache/fic_test/fic_test.so"
DATE = (2025, 1, 1, 0, 0, 0)


def info(name, mode=0o100755, method=zipfile.ZIP_DEFLATED):
    zi = zipfile.ZipInfo(name, date_time=DATE)
    zi.compress_type = method
    zi.external_attr = mode << 16
    zi.create_system = 3  # unix
    return zi


def write(path, members, patch=None, zip64_limit=None):
    """members: list of (ZipInfo, bytes). patch(zf) may edit zf.filelist
    before the central directory is written (i.e. make it lie)."""
    saved = zipfile.ZIP64_LIMIT
    if zip64_limit is not None:
        zipfile.ZIP64_LIMIT = zip64_limit
    try:
        with zipfile.ZipFile(path, "w") as zf:
            for zi, data in members:
                zf.writestr(zi, data)
            zf.writestr(info("fixture-0.0.0.dist-info/WHEEL", 0o100644), "Wheel-Version: 1.0\n")
            if patch:
                patch(zf)
    finally:
        zipfile.ZIP64_LIMIT = saved


def entry(zf, name):
    return next(z for z in zf.filelist if z.filename == name)


def main():
    out, so_path = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    so = open(so_path, "rb").read()
    big = so * 4 + bytes(200000)  # compresses well, > 1 buffer of output per read
    p = lambda n: os.path.join(out, n)

    # Good wheels.
    write(p("good.whl"), [(info(TVM), so), (info(MOD), so)])
    write(p("zip64full.whl"), [(info(TVM), so), (info(MOD), so)], zip64_limit=0)
    write(p("stored.whl"), [(info(TVM, method=zipfile.ZIP_STORED), so), (info(MOD, method=zipfile.ZIP_STORED), so)])
    write(p("listing.whl"), [
        (info("flashinfer_jit_cache/jit_cache/norm/norm.so"), b"norm" * 10),
        (info("flashinfer_jit_cache/jit_cache/gdn_prefill_sm90/gdn_prefill_sm90.so"), b"g" * 1234),
        (info("flashinfer_jit_cache/jit_cache/page/other.so"), b"x"),          # <m>/<n>.so, n != m
        (info("flashinfer_jit_cache/jit_cache/norm/norm.so.bak"), b"x"),       # wrong suffix
        (info("flashinfer_jit_cache/jit_cache/a/b/a.so"), b"x"),               # too deep
        (info("flashinfer_jit_cache/jit_cache/sampling/sampling.so"), b"s" * 7),
        (info("flashinfer_jit_cache/jit_cache/"), b""),
        (info("other/jit_cache/foo/foo.so"), b"x"),
    ])

    # Hostile names (anywhere in the archive).
    write(p("traversal.whl"), [(info(TVM), so), (info(MOD), so), (info("../../evil.so"), b"evil")])
    write(p("traversal_inner.whl"), [(info(TVM), so), (info("flashinfer_jit_cache/jit_cache/../../../etc/x.so"), b"e")])
    write(p("absolute.whl"), [(info(TVM), so), (info("/etc/evil.so"), b"evil")])
    write(p("backslash.whl"), [(info(TVM), so), (info("flashinfer_jit_cache\\jit_cache\\x\\x.so"), b"evil")])

    # Symlink member at the extracted path.
    write(p("symlink.whl"), [(info(TVM, mode=0o120777, method=zipfile.ZIP_STORED), b"/etc/passwd"), (info(MOD), so)])
    # Directory-typed (FIFO) member.
    write(p("fifo.whl"), [(info(TVM, mode=0o010644), so), (info(MOD), so)])

    # Declared size over the 4 GiB cap (the central directory lies; zip64 extra).
    def huge(zf):
        entry(zf, TVM).file_size = 5 << 30
    write(p("huge.whl"), [(info(TVM), big), (info(MOD), so)], patch=huge)

    # Declared size within the cap but impossible for its compressed size.
    def ratio(zf):
        entry(zf, TVM).file_size = 3 << 30
    write(p("ratio.whl"), [(info(TVM), big), (info(MOD), so)], patch=ratio)

    # Inflates past its declared size (declared 1000 bytes, gives more).
    def longer(zf):
        entry(zf, TVM).file_size = 1000
    write(p("longer.whl"), [(info(TVM), big), (info(MOD), so)], patch=longer)

    # Declares more than it inflates to (within the ratio limit).
    def shorter(zf):
        e = entry(zf, TVM)
        e.file_size = e.file_size + 100
    write(p("shorter.whl"), [(info(TVM), big), (info(MOD), so)], patch=shorter)

    # Wrong CRC-32 (deflated and stored).
    def badcrc(zf):
        entry(zf, TVM).CRC ^= 0x5A5A5A5A
    write(p("badcrc.whl"), [(info(TVM), so), (info(MOD), so)], patch=badcrc)
    write(p("badcrc_stored.whl"), [(info(TVM, method=zipfile.ZIP_STORED), so), (info(MOD), so)], patch=badcrc)

    # Corrupted deflate data (flip bytes in the middle of the member's data).
    # The member is a fixed payload, not the test module: the module's bytes
    # change with its build (paths in its debug info), and so would what the
    # flipped bytes decode to (a malformed stream, a wrong CRC, or more bytes
    # than declared), which made the expected error depend on the build dir.
    rng = random.Random(20261129)
    payload = bytes(rng.getrandbits(8) if i % 5 == 0 else i % 251 for i in range(1 << 19))
    write(p("baddata.whl"), [(info(TVM), payload), (info(MOD), so)])
    with open(p("baddata.whl"), "r+b") as f:
        f.seek(2000)
        chunk = bytearray(f.read(64))
        f.seek(2000)
        f.write(bytes(b ^ 0xFF for b in chunk))

    # Encrypted flag set.
    def encrypted(zf):
        entry(zf, TVM).flag_bits |= 0x1
    write(p("encrypted.whl"), [(info(TVM), so), (info(MOD), so)], patch=encrypted)

    # Stored member whose sizes disagree.
    def stored_mismatch(zf):
        entry(zf, TVM).file_size += 10
    write(p("stored_mismatch.whl"), [(info(TVM, method=zipfile.ZIP_STORED), so), (info(MOD), so)],
          patch=stored_mismatch)

    # Duplicate member.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write(p("duplicate.whl"), [(info(TVM), so), (info(TVM), b"second copy"), (info(MOD), so)])

    # Truncated archive (loses the central directory) and not a zip at all.
    data = open(p("good.whl"), "rb").read()
    open(p("truncated.whl"), "wb").write(data[: len(data) // 2])
    open(p("notzip.whl"), "wb").write(b"this is not a zip archive\n" * 100)
    open(p("empty.whl"), "wb").write(b"")


if __name__ == "__main__":
    main()
