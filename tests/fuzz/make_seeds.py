#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate the seed corpora of the libFuzzer harnesses (never committed).

usage: make_seeds.py OUT_DIR [--module SO] [--jit-wheel WHL] [--hostile make_hostile.py]

Writes OUT_DIR/<harness>/<name> for the harnesses zip, extract, marker, index,
pipconf and config, and OUT_DIR/regress/<harness>/<name> for inputs that once
crashed or hung a harness (replayed by the fuzz_*_replay tests). The real
apache-tvm-ffi wheel is taken from $FIC_TEST_TVMFFI_WHEEL when set; --module is
any small shared object (the test module) stored at the real member paths;
--hostile runs tests/artifacts/make_hostile.py for its crafted wheels.
"""
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib

TVM = "tvm_ffi/lib/libtvm_ffi.so"
DATE = (2025, 1, 1, 0, 0, 0)
TVM_FILE = "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
TVM_SHA = "48ad3df2224f1b0943344895c6cba2f3f0a53bc67ddafdd3e9d7a34f56100aa9"
MAX_SMALL = 256 * 1024  # the extract harness runs with -max_len of this size


def mod(m):
    return "flashinfer_jit_cache/jit_cache/%s/%s.so" % (m, m)


def zi(name, mode=0o100755, method=zipfile.ZIP_DEFLATED):
    i = zipfile.ZipInfo(name, date_time=DATE)
    i.compress_type = method
    i.external_attr = mode << 16
    i.create_system = 3
    return i


def make_zip(members, comment=b"", zip64=False):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", allowZip64=True) as zf:
        for info, data in members:
            if zip64:
                with zf.open(info, "w", force_zip64=True) as f:
                    f.write(data)
            else:
                zf.writestr(info, data)
        zf.comment = comment
    return buf.getvalue()


def raw_zip(entries, eocd_count=None, cd_offset_delta=0, ff_offset_index=None):
    """A hand-assembled zip: entries = (name bytes, method, data bytes, crc or None,
    declared size or None, flags). Lets records lie in ways zipfile refuses;
    ff_offset_index: that central record's local-header offset is 0xFFFFFFFF
    (the ZIP64 escape) with no ZIP64 extra field."""
    out = bytearray()
    cd = bytearray()
    for idx, (name, method, data, crc, size, flags) in enumerate(entries):
        comp = data if method == 0 else zlib.compress(data)[2:-4] if method == 8 else data
        c = zlib.crc32(data) if crc is None else crc
        usize = len(data) if size is None else size
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, c, len(comp), usize, len(name), 0)
        out += name + comp
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, flags, method, 0, 0x21, c, len(comp), usize,
                          len(name), 0, 0, 0, 0, 0o100755 << 16, 0xFFFFFFFF if idx == ff_offset_index else off)
        cd += name
    cd_off = len(out)
    out += cd
    n = len(entries) if eocd_count is None else eocd_count
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), cd_off + cd_offset_delta, 0)
    return bytes(out)


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def zip_seeds(out, so, jit_wheel, hostile):
    zdir, edir = os.path.join(out, "zip"), os.path.join(out, "extract")
    small_so = so[:4096] if so else b"\x7fELF" + bytes(60)
    tiny = {
        "tiny_good.whl": make_zip([(zi(TVM), b"libtvm_ffi\n" * 20), (zi(mod("fic_test")), b"module\n" * 30),
                                   (zi("x-0.dist-info/WHEEL", 0o100644), b"Wheel-Version: 1.0\n")]),
        "tiny_stored.whl": make_zip([(zi(TVM, method=zipfile.ZIP_STORED), b"T" * 100),
                                     (zi(mod("fic_test"), method=zipfile.ZIP_STORED), b"M" * 50)]),
        "tiny_zip64.whl": make_zip([(zi(TVM), b"z64" * 50), (zi(mod("fic_test")), b"m")], zip64=True),
        "tiny_empty_members.whl": make_zip([(zi(TVM), b""), (zi(mod("fic_test")), b"")]),
        "tiny_two_modules.whl": make_zip([(zi(TVM), small_so), (zi(mod("norm")), small_so),
                                          (zi(mod("gdn_prefill_sm90")), b"g" * 300), (zi(mod("a.b+c-d")), b"x")]),
        "tiny_dirs_and_noise.whl": make_zip([(zi("flashinfer_jit_cache/", 0o040755), b""),
                                             (zi("flashinfer_jit_cache/jit_cache/fic_test/", 0o040755), b""),
                                             (zi(TVM), b"t"), (zi(mod("fic_test")), b"m"),
                                             (zi("flashinfer_jit_cache/jit_cache/x/y.so"), b"x"),
                                             (zi(u"flashinfer_jit_cache/jit_cache/\u00e9/\u00e9.so"), b"u")],
                                            comment=b"a comment"),
        "empty_archive.whl": make_zip([]),
        "only_eocd.whl": struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0, 0, 0, 0, 0),
        "raw_good.whl": raw_zip([(TVM.encode(), 8, b"hello" * 40, None, None, 0),
                                 (mod("fic_test").encode(), 0, b"world" * 10, None, None, 0)]),
        "raw_bad_crc.whl": raw_zip([(TVM.encode(), 0, b"abc" * 10, 0x12345678, None, 0),
                                    (mod("fic_test").encode(), 0, b"m", None, None, 0)]),
        "raw_size_lies.whl": raw_zip([(TVM.encode(), 8, b"A" * 5000, None, 10, 0),
                                      (mod("fic_test").encode(), 8, b"B" * 10, None, 5000, 0)]),
        "raw_count_lies.whl": raw_zip([(TVM.encode(), 0, b"t", None, None, 0)], eocd_count=0xFFFF),
        "raw_cd_offset_lies.whl": raw_zip([(TVM.encode(), 0, b"t", None, None, 0)], cd_offset_delta=7),
        "raw_encrypted_flag.whl": raw_zip([(TVM.encode(), 0, b"t" * 12, None, None, 1),
                                           (mod("fic_test").encode(), 0, b"m", None, None, 0)]),
        "raw_data_descriptor_flag.whl": raw_zip([(TVM.encode(), 8, b"d" * 100, None, None, 8),
                                                 (mod("fic_test").encode(), 8, b"m", None, None, 8)]),
        "raw_method_bzip.whl": raw_zip([(TVM.encode(), 12, b"bz", None, None, 0)]),
        "raw_nul_in_name.whl": raw_zip([(b"tvm_ffi/lib/libtvm_ffi.so\x00../../x", 0, b"t", None, None, 0),
                                        (mod("fic_test").encode(), 0, b"m", None, None, 0)]),
        "raw_duplicate.whl": raw_zip([(TVM.encode(), 0, b"one", None, None, 0), (TVM.encode(), 0, b"two", None, None, 0),
                                      (mod("fic_test").encode(), 0, b"m", None, None, 0)]),
        "raw_dot_names.whl": raw_zip([(b"./tvm_ffi/lib/libtvm_ffi.so", 0, b"t", None, None, 0),
                                      (b"flashinfer_jit_cache/jit_cache/a/./a.so", 0, b"a", None, None, 0),
                                      (b"...", 0, b"d", None, None, 0)]),
        "raw_bomb_ratio.whl": raw_zip([(TVM.encode(), 8, bytes(1 << 20), None, None, 0),
                                       (mod("fic_test").encode(), 0, b"m", None, None, 0)]),
    }
    for name, data in tiny.items():
        write(zdir, name, data)
        write(edir, name, data)
    # Hostile wheels of the artifact tests (same crafting, reused, not duplicated).
    if hostile and so:
        hdir = os.path.join(out, "hostile-tmp")
        sofile = os.path.join(out, "module.so")
        with open(sofile, "wb") as f:
            f.write(small_so)  # small: the harness mutates these quickly
        subprocess.check_call([sys.executable, hostile, hdir, sofile])
        for name in sorted(os.listdir(hdir)):
            data = open(os.path.join(hdir, name), "rb").read()
            write(zdir, "hostile_" + name, data)
            if len(data) <= MAX_SMALL:
                write(edir, "hostile_" + name, data)
        shutil.rmtree(hdir)
        os.unlink(sofile)
    if jit_wheel and os.path.exists(jit_wheel):
        data = open(jit_wheel, "rb").read()
        write(zdir, "fixture_jit.whl", data)
        if len(data) <= MAX_SMALL:
            write(edir, "fixture_jit.whl", data)
    real = os.environ.get("FIC_TEST_TVMFFI_WHEEL")
    if real and os.path.exists(real):
        data = open(real, "rb").read()
        write(zdir, "real_" + os.path.basename(real), data)
        # The real wheel's layout (every member name, attribute and method)
        # with contents cut to 64 bytes: small enough to mutate quickly.
        src = zipfile.ZipFile(io.BytesIO(data))
        members = []
        for info in src.infolist():
            content = src.read(info)[:64]
            ni = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            ni.compress_type, ni.external_attr, ni.create_system = info.compress_type, info.external_attr, info.create_system
            members.append((ni, content))
        members.append((zi(mod("fic_test")), b"m" * 64))
        cut = make_zip(members)
        write(zdir, "real_layout_cut.whl", cut)
        if len(cut) <= MAX_SMALL:
            write(edir, "real_layout_cut.whl", cut)


def marker(files, jit_sha="a" * 64, tvm_sha="b" * 64, jit="j.whl", tvm="t.whl"):
    s = "fic-cache-v1\nwheel\tjit_cache\t%s\t%s\nwheel\ttvmffi\t%s\t%s\n" % (jit_sha, jit, tvm_sha, tvm)
    for rel, size, sha in files:
        s += "file\t%s\t%s\t%s\n" % (rel, size, sha)
    return s + "end\n"


def marker_seeds(out):
    """Markers for the marker harness. 64 x 'J', 'T', 'M', 'L' stand for the
    SHA-256 of its jit-cache wheel, tvm-ffi wheel, module and libtvm_ffi (the
    harness substitutes them), so these seeds can match its real entry."""
    d = os.path.join(out, "marker")
    J, T, M, L = ("J" * 64, "T" * 64, "M" * 64, "L" * 64)
    jit, tvm = "flashinfer_jit_cache-0.0.0-py3-none-any.whl", "apache_tvm_ffi-0.0.0-py3-none-any.whl"
    tvm_len, mod_len = len(b"libtvm_ffi bytes\n"), len(b"module bytes\n")
    # The entry's marker lists libtvm_ffi.so alone (modules carry their own).
    good = [(TVM, tvm_len, L)]
    module = ("modules/m/m.so", mod_len, M)

    def real(files, **kw):
        args = dict(jit_sha=J, tvm_sha=T, jit=jit, tvm=tvm)
        args.update(kw)
        return marker(files, **args)

    seeds = {
        "real": real(good),
        "real_reordered": real(good[::-1]),
        "real_wrong_size": real([(TVM, tvm_len + 1, L)]),
        "real_wrong_file_sha": real([(TVM, tvm_len, M)]),
        "real_missing_file": real([module]),
        "real_extra_file": real(good + [module]),
        "real_wrong_jit_sha": real(good, jit_sha="a" * 64),
        "real_wrong_tvm_name": real(good, tvm="other.whl"),
        "real_swapped_wheels": real(good, jit_sha=T, tvm_sha=J),
        "valid_other": marker(good),
        "valid_many": marker([(mod("m%d" % i), i, "c" * 64) for i in range(33)]),
        "too_many": marker([(mod("m%d" % i), i, "c" * 64) for i in range(34)]),
        "big_size": marker([(TVM, 18446744073709551615, "d" * 64)]),
        "overflow_size": marker([(TVM, "18446744073709551616", "d" * 64)]),
        "leading_zero": marker([(TVM, "017", "d" * 64)]),
        "upper_hex": marker([(TVM, 17, "D" * 64)]),
        "dup_path": marker([(TVM, 1, "d" * 64), (TVM, 1, "d" * 64)]),
        "traversal": marker([("../x", 1, "d" * 64)]),
        "abs": marker([("/etc/passwd", 1, "d" * 64)]),
        "marker_name": marker([("COMPLETE", 1, "d" * 64)]),
        "double_slash": marker([("a//b", 1, "d" * 64)]),
        "crlf": real(good).replace("\n", "\r\n"),
        "no_end": real(good)[:-4],
        "trailing": real(good) + "x\n",
        "truncated": real(good)[:-1],
        "empty": "",
        "tabs": real(good).replace("\tfile", "\t\tfile"),
        "wheel_names_odd": marker(good, jit="..", tvm="a\\b.whl"),
    }
    for k, v in seeds.items():
        write(d, k, v)


def index_seeds(out):
    d = os.path.join(out, "index")
    page = "https://example.org/simple/apache-tvm-ffi/"
    pep503 = ("<!DOCTYPE html>\n<html><head><title>Links for apache-tvm-ffi</title></head><body>\n"
              "<a href=\"../../packages/ab/cd/%s#sha256=%s\" data-requires-python=\"&gt;=3.9\">%s</a><br/>\n"
              "</body></html>\n") % (TVM_FILE, TVM_SHA, TVM_FILE)
    seeds = {
        "pep503": "%s\n%s\n%s\n%s" % (page, TVM_FILE, TVM_SHA, pep503),
        "pep503_default_header": pep503,
        "single_quotes_upper": "%s\nf-1.whl\n\n<A HREF='https://files.example/p/f-1.whl?a=1&amp;b=2#sha256=00'>f-1.whl</A>"
                               % page,
        "unquoted": "%s\nf-1.whl\n\n<a href=f-1.whl>f-1.whl</a>" % page,
        "entities": "%s\nf+1.whl\n\n<a href=\"&#x66;&#43;1.whl\">f&#x2B;1.whl</a>" % page,
        "relative_dots": "http://h/a/b/c/\nf.whl\n\n<a href=\"../../../../x/./y/../f.whl\">f.whl</a>\n../g\n./\n..\n/.\n?q\n//cdn/x",
        "scheme_relative": "https://u:p@h:8443/s/\nf.whl\n\n<a href=\"//cdn.example/f.whl\">x</a>",
        "percent": "https://h/\nf-0.6.3+cu130.whl\n\n<a href=\"g/f-0.6.3%2Bcu130.whl#md5=00\">f-0.6.3+cu130.whl</a>",
        "fragment_mismatch": "%s\nf.whl\n%s\n<a href=\"f.whl#sha256=cdcd\">f.whl</a>" % (page, TVM_SHA),
        "no_anchor": "%s\nf.whl\n\n<abbr href=\"f.whl\">f.whl</abbr><a>f.whl</a><a href>x</a><a =>" % page,
        "unterminated": "%s\nf.whl\n\n<a href=\"f.whl" % page,
        "nonascii": "%s\nf.whl\n\n<a href=\"d\xe9j\xe0/f.whl\">f.whl</a> \x00 <a href='a b/f.whl'>f.whl</a>" % page,
        "userinfo": "http://user:secret@host/simple/\nf.whl\n\n<a href=f.whl>f.whl</a>",
        "query_base": "http://h/a?x=1#frag\nf.whl\n\n<a href=\"?y=2\">f.whl</a>\n<a href=\"\">f.whl</a>",
    }
    for k, v in seeds.items():
        write(d, k, v.encode("latin-1"))


def pipconf_seeds(out):
    d = os.path.join(out, "pipconf")
    seeds = {
        "global": "[global]\nindex-url = https://pypi.example/simple\n",
        "download_beats_global": "[global]\nindex-url=https://g/simple\n[download]\nindex_url : https://d/simple\n",
        "continuation": "[global]\nindex-url =\n    https://cont.example/simple\n",
        "comments": "# c\n; c\n[global]\n  # indented comment\nINDEX-URL = https://case/simple  \n",
        "other_section": "[install]\nindex-url = https://no\n[global ]\nextra-index-url = https://x\n",
        "empty_value": "[global]\nindex-url =\n[download]\nindex-url=\n",
        "crlf": "[global]\r\nindex-url = https://crlf/simple\r\n",
        "no_section": "index-url = https://nosection\n",
        "long_line": "[global]\nindex-url = https://" + "a" * 9000 + "\n",
        "nul": "[global]\nindex-url = https://a\x00b\n",
        "unterminated_section": "[global\nindex-url = https://x\n",
    }
    for k, v in seeds.items():
        write(d, k, v)


def config_seeds(out, jit_wheel):
    d = os.path.join(out, "config")
    real = os.environ.get("FIC_TEST_TVMFFI_WHEEL", "")
    n = 17

    def fields(**kw):
        order = ["c_cache", "rs_cache", "xdg_cache", "home", "explicit", "pip_index_url", "pip_config_file",
                 "virtual_env", "xdg_config_home", "xdg_config_dirs", "seed_dirs", "jit", "tvm", "arch", "memo",
                 "lock", "modules"]
        vals = [kw.get(k, "") for k in order]
        last = max([i for i, k in enumerate(order) if k in kw] + [0])
        return "\0".join(vals[: last + 1])

    seeds = {
        "nothing": "",
        "home_only": fields(home="/nonexistent-home"),
        "xdg_relative": fields(xdg_cache="relative/xdg", home="/h"),
        "trailing_slashes": fields(c_cache="/tmp/x///", explicit=""),
        "relative_cache": fields(c_cache="rel/cache"),
        "alias": fields(rs_cache="/tmp/alias"),
        "long": fields(c_cache="/" + "a" * 5000),
        "explicit": fields(c_cache="/ignored", explicit="/tmp/explicit/"),
        "pip": fields(pip_index_url="https://idx/simple", pip_config_file="/etc/pip.conf", arch="x86_64"),
        "pip_files": fields(pip_config_file="/nonexistent", virtual_env="/venv", xdg_config_home="/x",
                            xdg_config_dirs="::/a:" + ":".join("/d%d" % i for i in range(40)), arch="arm64"),
        "arch": fields(arch="aarch64"),
        "memo": fields(memo="fic-wheel-id-v2\t1\t2\t3\t4\t5\t" + "a" * 64 + "\n/x\n", lock="12345\n"),
        "lock": fields(lock="-99999999999999999999999"),
        "modules": fields(modules="norm:gdn_prefill_sm90:../x:.hidden:a b:" + ":".join("m%d" % i for i in range(35))),
        "seed_dirs": fields(seed_dirs="/nonexistent:/tmp::" + "/" * 5000, modules="fic_test"),
    }
    if jit_wheel and real:
        seeds["real_wheels"] = fields(jit=jit_wheel, tvm=real, modules="fic_test")
        seeds["real_wheels_missing_module"] = fields(jit=jit_wheel, tvm=real, modules="norm")
        seeds["swapped_wheels"] = fields(jit=real, tvm=jit_wheel, modules="fic_test")
    for k, v in seeds.items():
        write(d, k, v.encode("latin-1"))


# Inputs that once crashed, hung or failed an oracle; replayed by the
# fuzz_*_replay tests (see docs/reliability.md for each finding).
ZIP_NOENT = raw_zip([(TVM.encode(), 0, b"t", None, None, 0), (mod("fic_test").encode(), 0, b"m", None, None, 0)],
                    ff_offset_index=1)  # finding zip-noent: NOT_FOUND "No such file" instead of FIC_ERR_ZIP
# F23: a page URL with no valid scheme before "://" showed its userinfo in
# "not an absolute URL: ..." (CI, fuzz_index, crash-18f8d33b...).
INDEX_REDACT_NO_SCHEME = (b'h/../://u:p@h:84\r\x00\x00\x00\x00\x00\x00\x0043/w/\nf.7hl\n\n<a ' + b'\xff' * 71 + b'7' +
                          b'\xff' * 19 + b'">x</a>')
# F24: NUL bytes inside index-url, then an indented line: the value was cut
# at the NUL and the next line appended (CI, fuzz_pipconf, crash-b463cc06...).
PIPCONF_NUL_CONTINUED = (b'[global]\nindex-url = https://' + b'a' * 175 + b'UBSA' + b'a' * 135 + b'\x00' * 18 + b'a' * 129 +
                         b'h&tps://cont.example/simple' + b'a' * 549 + b'x-url\n    tps:/' + b'a' * 13 + b'/x\n' + b'a' * 14)
# The F23 message oracle once misfired on an empty userinfo ("@http://h/a"
# is redacted to "***@http://h/a", which still contains the page).
INDEX_EMPTY_USERINFO = (b'@http://h/a?x=?x=1#fraghref=\nf.wll\n\n<aef="?y=2">f.whl</a>\n<a href="">w.fhl</a>')
# F24 as the stricter oracle sees it: the value cut at a NUL byte.
PIPCONF_NUL_CUT = b'[global]\nindex-url = https://a\x00b\n'
REGRESSIONS = {
    "config": {},
    "index": {"redact-no-scheme": INDEX_REDACT_NO_SCHEME, "oracle-empty-userinfo": INDEX_EMPTY_USERINFO},
    "marker": {},
    "pipconf": {"nul-continued": PIPCONF_NUL_CONTINUED, "nul-cut": PIPCONF_NUL_CUT},
    "zip": {"zip-noent.whl": ZIP_NOENT},
    "extract": {"zip-noent.whl": ZIP_NOENT},
}


def main():
    args = sys.argv[1:]
    out = args[0]
    opt = {}
    i = 1
    while i < len(args):
        opt[args[i]] = args[i + 1]
        i += 2
    so = open(opt["--module"], "rb").read() if opt.get("--module") else None
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    zip_seeds(out, so, opt.get("--jit-wheel"), opt.get("--hostile"))
    marker_seeds(out)
    index_seeds(out)
    pipconf_seeds(out)
    config_seeds(out, opt.get("--jit-wheel"))
    for h, inputs in REGRESSIONS.items():
        rd = os.path.join(out, "regress", h)
        os.makedirs(rd, exist_ok=True)
        for name, data in inputs.items():
            write(rd, name, data)
    with open(os.path.join(out, "stamp"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
