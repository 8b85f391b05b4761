#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Check that gen_sources.py / render_jinja.py write byte-identical sources to FlashInfer's own generators.

usage: check_render.py FLASHINFER_PYTHON_WHEEL

A developer check, NOT a build dependency: it needs jinja2 (pip install
jinja2), but not torch.  It unpacks the wheel's `flashinfer/jit` and
`flashinfer/data/csrc` to a temp dir, imports the REAL
flashinfer/jit/attention/modules.py and jit/activation.py with small stubs for
torch (dtype objects only), jit.env (paths), jit.core (gen_jit_spec returns
its arguments) and a few unrelated imports, runs
gen_batch_decode_module / gen_batch_prefill_module("fa2", ...) /
gen_act_and_mul_module for a grid of configurations, and compares every
generated file (kernel instantiations, copied .cu, config.inc) and the source
order with what gen_sources.py writes.  It also compares render_jinja.py with
jinja2 on the 32 gdn_prefill_sm90 instantiations.  Exit 0 iff all match.
"""
import filecmp
import itertools
import os
import pathlib
import subprocess
import sys
import tempfile
import types
import zipfile

import jinja2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import render_jinja  # noqa: E402


def install_stubs(root, gen_dir):
    class DType:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            return "torch." + self.name

    torch = types.ModuleType("torch")
    torch.dtype = DType
    for n in ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "int8", "uint8",
              "int32", "uint32", "int64", "uint64", "float32"):
        setattr(torch, n, DType(n))
    torch.__getattr__ = lambda name: DType(name)  # anything else touched at import time

    def pkg(name, path):
        m = types.ModuleType(name)
        m.__path__ = [path]
        sys.modules[name] = m
        return m

    fi = os.path.join(root, "flashinfer")
    pkg("flashinfer", fi)
    pkg("flashinfer.jit", os.path.join(fi, "jit"))
    pkg("flashinfer.jit.attention", os.path.join(fi, "jit", "attention"))
    pkg("flashinfer.jit.attention.fmha_v2", os.path.join(fi, "jit", "attention", "fmha_v2"))
    env = types.ModuleType("flashinfer.jit.env")
    env.FLASHINFER_CSRC_DIR = pathlib.Path(fi, "data", "csrc")
    env.FLASHINFER_GEN_SRC_DIR = pathlib.Path(gen_dir)
    core = types.ModuleType("flashinfer.jit.core")
    core.JitSpec = object
    core.gen_jit_spec = lambda name, sources, **kw: (name, [str(s) for s in sources], kw)
    core.logger = None
    core.sm90a_nvcc_flags = []
    core.current_compilation_context = None
    cubin = types.ModuleType("flashinfer.jit.cubin_loader")
    cubin.get_cubin = cubin.get_meta_hash = None
    gk = types.ModuleType("flashinfer.jit.attention.fmha_v2.generate_kernels")
    gk.enumerate_kernels = None
    sys.modules.update({"torch": torch, "flashinfer.jit.env": env, "flashinfer.jit.core": core,
                        "flashinfer.jit.cubin_loader": cubin,
                        "flashinfer.jit.attention.fmha_v2.generate_kernels": gk})
    sys.modules["flashinfer.jit"].env = env
    return torch


def same_tree(ours, theirs):
    a, b = sorted(os.listdir(ours)), sorted(os.listdir(theirs))
    if a != b:
        return f"file sets differ: {a} vs {b}"
    for f in a:
        if not filecmp.cmp(os.path.join(ours, f), os.path.join(theirs, f), shallow=False):
            return f"{f} differs"
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tmp = tempfile.mkdtemp(prefix="fi-check-render.")
    with zipfile.ZipFile(sys.argv[1]) as z:
        z.extractall(tmp, [n for n in z.namelist()
                           if n.startswith(("flashinfer/jit/", "flashinfer/data/csrc/"))])
    theirs_dir, ours_dir = os.path.join(tmp, "theirs"), os.path.join(tmp, "ours")
    torch = install_stubs(tmp, theirs_dir)
    import importlib
    modules = importlib.import_module("flashinfer.jit.attention.modules")
    activation = importlib.import_module("flashinfer.jit.activation")

    fi_root = os.path.join(tmp, "flashinfer")
    gen = os.path.join(HERE, "gen_sources.py")
    failures, n = [], 0

    def compare(spec, ours_gen_dir):
        nonlocal n
        name, srcs, _ = spec
        out = subprocess.run([sys.executable, gen, "--fi-root", fi_root, "--gen-dir", ours_gen_dir, name],
                             capture_output=True, text=True)
        if out.returncode:
            failures.append(f"{name}: gen_sources.py failed: {out.stderr.strip()}")
            return
        ours = [os.path.basename(p) for p in out.stdout.split()]
        if ours != [os.path.basename(s) for s in srcs]:
            failures.append(f"{name}: source order {ours} != {[os.path.basename(s) for s in srcs]}")
        err = same_tree(ours_gen_dir, os.path.dirname(srcs[0]))
        if err:
            failures.append(f"{name}: {err}")
        n += 1

    for act in ("silu", "gelu", "gelu_tanh"):
        d = os.path.join(tmp, "act", act)
        env_mod = sys.modules["flashinfer.jit.env"]
        env_mod.FLASHINFER_GEN_SRC_DIR = pathlib.Path(d, "theirs")
        activation.jit_env.FLASHINFER_GEN_SRC_DIR = env_mod.FLASHINFER_GEN_SRC_DIR
        compare(activation.gen_act_and_mul_module(act), os.path.join(d, "ours"))

    bf16, f16, e4m3, i32 = torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.int32
    grid = itertools.product([(bf16, bf16), (f16, f16), (bf16, e4m3), (f16, e4m3)],
                             [64, 128, 256], [0, 1, 2], [False, True], [False, True])
    for (q, kv), hd, pe, swa, cap in grid:
        spec = modules.gen_batch_decode_module(q, kv, q, i32, hd, hd, pe, swa, cap)
        compare(spec, os.path.join(ours_dir, spec[0]))
        for f16qk in (False, True):
            spec = modules.gen_batch_prefill_module("fa2", q, kv, q, i32, hd, hd, pe, swa, cap, f16qk)
            compare(spec, os.path.join(ours_dir, spec[0]))

    # render_jinja.py vs jinja2 on the gdn instantiations build.sh renders
    tmpl = open(os.path.join(fi_root, "data", "csrc", "gdn_prefill_sm90_kernel_inst.jinja")).read()
    for dtype, *bits in itertools.product(["half", "nv_bfloat16"], *[["false", "true"]] * 4):
        kw = dict(zip(["is_gva", "needs_beta", "needs_alpha", "init_state"], bits), dtype=dtype)
        if render_jinja.render(tmpl, kw) != jinja2.Template(tmpl).render(**kw):
            failures.append(f"gdn {kw}: render_jinja.py differs from jinja2")
        n += 1

    for f in failures:
        print("MISMATCH:", f)
    print(f"check_render.py: {n - len(failures)}/{n} generated module source sets byte-identical"
          f" to FlashInfer 0.6.3's generators (jinja2 {jinja2.__version__}); work dir {tmp}")
    if not failures:
        import shutil
        shutil.rmtree(tmp)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
