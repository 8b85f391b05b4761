#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the generated sources of a FlashInfer 0.6.3 JIT module (stdlib only).

usage: gen_sources.py --fi-root DIR --gen-dir DIR MODULE
       gen_sources.py --check-uri MODULE

MODULE is one of
  silu_and_mul | gelu_and_mul | gelu_tanh_and_mul          (jit/activation.py)
  batch_decode_with_kv_cache_dtype_q_..._use_logits_cap_B  (modules.py gen_batch_decode_module)
  batch_prefill_with_kv_cache_dtype_q_..._f16qk_B          (modules.py gen_batch_prefill_module, fa2)

--fi-root is the unpacked `flashinfer` package of the flashinfer-python wheel
(data/csrc/*.jinja, jit/activation.py, jit/attention/utils.py).  Nothing
upstream is stored in this repo: the templates, the activation template
string and generate_additional_params() are read from the wheel at build time;
this script only supplies the arguments FlashInfer passes to them (mirroring
flashinfer/jit/attention/modules.py and jit/activation.py at v0.6.3) and
renders with render_jinja.py.  Prints the TU paths in FlashInfer's source order.
"""
import argparse
import ast
import os
import re
import sys
import typing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_jinja  # noqa: E402

# flashinfer/jit/utils.py filename_safe_dtype_map (URI token) -> dtype_map (C++ type)
DTYPES = {"f16": "half", "bf16": "nv_bfloat16", "e4m3": "__nv_fp8_e4m3", "e5m2": "__nv_fp8_e5m2"}
IDTYPES = {"i32": "int32_t"}  # AOT only uses int32 indices
FP8 = ("e4m3", "e5m2")
# flashinfer/jit/utils.py pos_encoding_mode_literal / mask_mode_literal
POS_ENCODING = {0: "PosEncodingMode::kNone", 1: "PosEncodingMode::kRoPELlama", 2: "PosEncodingMode::kALiBi"}
MASK_MODES = {0: "MaskMode::kNone", 1: "MaskMode::kCausal", 2: "MaskMode::kCustom",
              3: "MaskMode::kMultiItemScoring"}
ACT_DEF_VARS = {"silu": "silu_def_cu_str", "gelu": "gelu_def_cu_str",
                "gelu_tanh": "gelu_def_tanh_cu_str"}  # jit/activation.py act_func_def_str

_ATTN = (r"dtype_q_(?P<q>[a-z0-9]+)_dtype_kv_(?P<kv>[a-z0-9]+)_dtype_o_(?P<o>[a-z0-9]+)"
         r"_dtype_idx_(?P<idx>[a-z0-9]+)_head_dim_qk_(?P<dqk>[1-9][0-9]*)_head_dim_vo_(?P<dvo>[1-9][0-9]*)"
         r"_posenc_(?P<pe>[012])_use_swa_(?P<swa>True|False)_use_logits_cap_(?P<cap>True|False)")
DECODE_RE = re.compile(r"batch_decode_with_kv_cache_" + _ATTN + r"\Z")
PREFILL_RE = re.compile(r"batch_prefill_with_kv_cache_" + _ATTN + r"_f16qk_(?P<f16qk>True|False)\Z")
ACT_RE = re.compile(r"(?P<act>silu|gelu|gelu_tanh)_and_mul\Z")


def parse_module(name):
    """-> (family, fields) or raises ValueError with a reason."""
    m = ACT_RE.match(name)
    if m:
        return "act", m.groupdict()
    for family, rx in (("decode", DECODE_RE), ("prefill_fa2", PREFILL_RE)):
        m = rx.match(name)
        if not m:
            continue
        f = m.groupdict()
        for k in ("q", "kv", "o"):
            if f[k] not in DTYPES:
                raise ValueError(f"dtype_{k} '{f[k]}' is not one of {sorted(DTYPES)}")
        if f["idx"] not in IDTYPES:
            raise ValueError(f"dtype_idx '{f['idx']}' is not one of {sorted(IDTYPES)}")
        if f["o"] in FP8:
            # gen_batch_prefill_module asserts this; AOT builds no fp8-output decode either
            raise ValueError("fp8 output is not supported")
        if family == "prefill_fa2" and f["q"] in FP8:
            raise ValueError("fp8 q is not supported by the fa2 backend (modules.py)")
        return family, f
    raise ValueError("not an activation, batch_decode or fa2 batch_prefill module name")


# ------------------------------------------------ reading the wheel's Python
def _module_ast(path):
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read(), path)


def module_str_constants(path):
    """Module-level NAME = "string literal" assignments of a Python file."""
    out = {}
    for node in _module_ast(path).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            out[node.targets[0].id] = node.value.value
    return out


def load_function(path, name):
    """Compile one pure top-level function (no globals beyond typing) from a file."""
    tree = _module_ast(path)
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    if len(fns) != 1:
        raise SystemExit(f"gen_sources.py: {name}() not found in {path}")
    ns = {"List": typing.List, "Optional": typing.Optional}
    exec(compile(ast.Module(body=fns, type_ignores=[]), path, "exec"), ns)
    return ns[name]


# ------------------------------------------------------------- generators
def gen_activation(fi_root, gen_dir, f):
    """jit/activation.py gen_act_and_mul_module."""
    consts = module_str_constants(os.path.join(fi_root, "jit", "activation.py"))
    act = f["act"]
    text = render_jinja.render(consts["activation_templ"],
                               {"act_func_name": act, "act_func_def": consts[ACT_DEF_VARS[act]]})
    os.makedirs(gen_dir, exist_ok=True)
    path = os.path.join(gen_dir, f"{act}_and_mul.cu")
    render_jinja.write_if_different(path, text)
    return [path]


def _bool(s):
    return s.lower()  # str(bool).lower() of the URI's True/False


def attention_kwargs(fi_root, family, f):
    """The kwargs modules.py gen_customize_batch_{decode,prefill}_module render with."""
    swa, cap, pe = _bool(f["swa"]), _bool(f["cap"]), int(f["pe"])
    alibi = str(pe == 2).lower()
    if family == "decode":  # gen_batch_decode_module
        tensors = (["maybe_alibi_slopes"], ["float"])
        scalars = (["logits_soft_cap", "sm_scale", "rope_rcp_scale", "rope_rcp_theta"], ["double"] * 4)
        variant = f"DefaultAttention<false, {swa}, {cap}, {alibi}>"
    else:  # gen_batch_prefill_module, backend == "fa2"
        tensors = (["maybe_custom_mask", "maybe_mask_indptr", "maybe_alibi_slopes",
                    "maybe_prefix_len_ptr", "maybe_token_pos_in_items_ptr", "maybe_max_item_len_ptr"],
                   ["uint8_t", "int32_t", "float", "uint32_t", "uint16_t", "uint16_t"])
        scalars = (["logits_soft_cap", "sm_scale", "rope_rcp_scale", "rope_rcp_theta",
                    "token_pos_in_items_len"], ["double", "double", "double", "double", "int64_t"])
        variant = f"DefaultAttention<use_custom_mask, {swa}, {cap}, {alibi}>"
    gap = load_function(os.path.join(fi_root, "jit", "attention", "utils.py"),
                        "generate_additional_params")
    decl, func_params, setter = gap(tensors[0], tensors[1], scalars[0], scalars[1])
    kw = {
        "additional_params_decl": decl,
        "additional_func_params": func_params,
        "additional_params_setter": setter,
        "variant_decl": "#include<flashinfer/attention/variants.cuh>",
        "variant_name": variant,
        "dtype_q": DTYPES[f["q"]], "dtype_kv": DTYPES[f["kv"]], "dtype_o": DTYPES[f["o"]],
        "idtype": IDTYPES[f["idx"]],
        "head_dim_qk": int(f["dqk"]), "head_dim_vo": int(f["dvo"]),
        "pos_encoding_mode": POS_ENCODING[pe],
        "use_sliding_window": swa, "use_logits_soft_cap": cap,
    }
    if family == "prefill_fa2":
        kw["use_fp16_qk_reduction"] = _bool(f["f16qk"])
    return kw


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def gen_attention(fi_root, gen_dir, family, f):
    """modules.py gen_customize_batch_decode_module / ..._prefill_module (fa2)."""
    csrc = os.path.join(fi_root, "data", "csrc")
    kw = attention_kwargs(fi_root, family, f)
    os.makedirs(gen_dir, exist_ok=True)
    out = []

    def emit(name, text):
        path = os.path.join(gen_dir, name)
        render_jinja.write_if_different(path, text)
        return path

    if family == "decode":
        out.append(emit("batch_decode_kernel.cu",
                        render_jinja.render(_read(os.path.join(csrc, "batch_decode_kernel_inst.jinja")), kw)))
        copies, config = ["batch_decode.cu", "batch_decode_jit_binding.cu"], "batch_decode"
    else:
        paged = _read(os.path.join(csrc, "batch_prefill_paged_kernel_inst.jinja"))
        ragged = _read(os.path.join(csrc, "batch_prefill_ragged_kernel_inst.jinja"))
        for mm in (0, 1, 2, 3):
            kmm = dict(kw, mask_mode=MASK_MODES[mm])
            out.append(emit(f"batch_prefill_paged_kernel_mask_{mm}.cu", render_jinja.render(paged, kmm)))
            out.append(emit(f"batch_prefill_ragged_kernel_mask_{mm}.cu", render_jinja.render(ragged, kmm)))
        copies, config = ["batch_prefill.cu", "batch_prefill_jit_binding.cu"], "batch_prefill"
    for name in copies:
        out.append(emit(name, _read(os.path.join(csrc, name))))
    emit(f"{config}_config.inc",
         render_jinja.render(_read(os.path.join(csrc, f"{config}_customize_config.jinja")), kw))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-uri", action="store_true", help="only validate MODULE")
    ap.add_argument("--fi-root")
    ap.add_argument("--gen-dir")
    ap.add_argument("module")
    a = ap.parse_args()
    try:
        family, fields = parse_module(a.module)
    except ValueError as e:
        sys.exit(f"gen_sources.py: {a.module}: {e}")
    if a.check_uri:
        return
    if not a.fi_root or not a.gen_dir:
        sys.exit("gen_sources.py: --fi-root and --gen-dir are required")
    if family == "act":
        paths = gen_activation(a.fi_root, a.gen_dir, fields)
    else:
        paths = gen_attention(a.fi_root, a.gen_dir, family, fields)
    print("\n".join(paths))


if __name__ == "__main__":
    main()
