# SPDX-License-Identifier: Apache-2.0
"""Build FlashInfer 0.6.3 modules with FlashInfer's own JIT (its generators,
sources and nvcc flags), on a machine with nvcc and PyTorch, and pack them
into a jit-cache test wheel with the real member paths.

This is the second, independent source of real modules next to build.sh:
build.sh renders the sources itself (stdlib only, CI-friendly) and does not
cover fa3 (`..._sm90`) prefill or MLA; this script asks FlashInfer's Python
package to build any module by its real AOT name. Used on the GPU machine
(16 cores), where FlashInfer's wheel is carried (see bench/device_env.sh).

usage: python3 jit_on_device.py --out DIR [--split-mib 15] URI...
  URI: batch_prefill_with_kv_cache_..._sm90 | batch_prefill_with_kv_cache_...
       (fa2) | batch_decode_with_kv_cache_... | batch_mla_attention_...[_sm90]
Writes DIR/jit-modules.whl (the jit-cache wheel from make_wheel.py, renamed:
the device tool brings back no file whose name holds '+'; rename it to
flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_x86_64.whl here)
and, when it is larger than --split-mib, the parts DIR/jit-modules.whl.part-NN
instead (join them with cat) so each fits the device tool's $OUT limit.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DT = {"f16": "float16", "bf16": "bfloat16", "e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "i32": "int32"}
ATTN = re.compile(
    r"^batch_(prefill|decode)_with_kv_cache_dtype_q_(\w+?)_dtype_kv_(\w+?)_dtype_o_(\w+?)_dtype_idx_(i32)_"
    r"head_dim_qk_(\d+)_head_dim_vo_(\d+)_posenc_(\d)_use_swa_(True|False)_use_logits_cap_(True|False)"
    r"(?:_f16qk_(True|False))?(_sm90)?$")
MLA = re.compile(r"^batch_mla_attention_dtype_q_(\w+?)_dtype_kv_(\w+?)_dtype_o_(\w+?)_dtype_idx_(i32)_"
                 r"head_dim_ckv_(\d+)_head_dim_kpe_(\d+)_profiler_(True|False)(_sm90)?$")


def spec_for(uri, torch, modules):
    t = lambda s: getattr(torch, DT[s])
    m = ATTN.match(uri)
    if m:
        kind, q, kv, o, idx, dqk, dvo, pe, swa, cap, f16qk, sm90 = m.groups()
        common = (t(q), t(kv), t(o), t(idx), int(dqk), int(dvo), int(pe), swa == "True", cap == "True")
        if kind == "decode":
            return modules.gen_batch_decode_module(*common)
        return modules.gen_batch_prefill_module("fa3" if sm90 else "fa2", *common, f16qk == "True")
    m = MLA.match(uri)
    if m:
        q, kv, o, idx, ckv, kpe, prof, sm90 = m.groups()
        return modules.gen_batch_mla_module("fa3" if sm90 else "fa2", t(q), t(kv), t(o), t(idx), int(ckv), int(kpe),
                                            prof == "True")
    sys.exit("jit_on_device: not a supported module name: " + uri)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--split-mib", type=int, default=15)
    ap.add_argument("uris", nargs="+")
    a = ap.parse_args()
    os.environ.setdefault("FLASHINFER_CUDA_ARCH_LIST", "9.0a")
    import torch
    from flashinfer.jit import build_jit_specs
    from flashinfer.jit.attention import modules
    specs = [spec_for(u, torch, modules) for u in a.uris]
    for u, s in zip(a.uris, specs):
        if s.name != u:
            sys.exit("jit_on_device: FlashInfer names %s as %s" % (u, s.name))
    t0 = time.time()
    build_jit_specs(specs, verbose=False, skip_prebuilt=False)
    print("jit_on_device: built %d modules in %.0f s" % (len(specs), time.time() - t0), flush=True)
    mods = os.path.join(a.out, "mods")
    for s in specs:
        d = os.path.join(mods, s.name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(str(s.jit_library_path), os.path.join(d, s.name + ".so"))
        print("  %s  %d bytes" % (s.name, os.path.getsize(os.path.join(d, s.name + ".so"))))
    subprocess.check_call([sys.executable, os.path.join(HERE, "make_wheel.py"), "--modules-dir", mods, "--out", a.out])
    shutil.rmtree(mods)
    whl = [f for f in os.listdir(a.out) if f.startswith("flashinfer_jit_cache-")][0]
    path = os.path.join(a.out, "jit-modules.whl")
    os.replace(os.path.join(a.out, whl), path)
    limit = a.split_mib << 20
    if os.path.getsize(path) > limit:
        with open(path, "rb") as f:
            for i, chunk in enumerate(iter(lambda: f.read(limit), b"")):
                with open(os.path.join(a.out, "jit-modules.whl.part-%02d" % i), "wb") as p:
                    p.write(chunk)
        os.remove(path)
        print("jit_on_device: %s split into %d parts" % (path, i + 1))


if __name__ == "__main__":
    main()
