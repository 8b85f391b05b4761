#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The decode-step model of issue #15 (docs/decode_step_spec: the shared
specification) in PyTorch + FlashInfer 0.6.3's Python API: the Python twin of
examples/decode_step/ (flashinfer-c + cuBLAS), with the same flags, the same
weights bit for bit and the same JSON lines (impl "python").

Kernels: flashinfer.norm.rmsnorm / fused_add_rmsnorm,
flashinfer.rope.apply_llama31_rope_pos_ids_inplace,
flashinfer.page.append_paged_kv_cache, BatchPrefillWithPagedKVCacheWrapper
(backend "fa2", causal), BatchDecodeWithPagedKVCacheWrapper
(use_tensor_cores=False; use_cuda_graph=True with fixed buffers in graph mode),
flashinfer.activation.silu_and_mul, flashinfer.sampling.softmax +
top_k_top_p_sampling_from_probs (filter_apply_order "top_k_first"), and
cuBLAS through torch (F.linear for the bf16 projections; the LM head as
torch.mm(h, lm_head.t(), out_dtype=torch.float32), the same
bf16 x bf16 -> f32 GEMM shape as C's cublasGemmEx, with F.linear + .float()
as a fallback on a torch without out_dtype: the JSON key "lm_head" says which).
bench/run_decode_step_bench.sh installs flashinfer-c's modules where
FlashInfer loads prebuilt (AOT) modules from, so both sides run the same .so;
this program prints the module files it mapped (/proc/self/maps).

Conventions the C side must share (beyond the spec):
  * scales are float32((float)sqrt(3.0 / n)); weights (2u - 1) * scale and
    norms 1 + (2u - 1) * 0.1f, each operation rounded to float32 (no FMA);
  * --fill random: the flat index of a KV element runs over
    [layer][k=0, v=1][page][slot][head][dim] of the whole caches
    (num_pages = batch * pages_per_seq), modulo 2^32; the first decode step's
    input token of sequence i is its last prompt token, hash(seed, 5, i*L + L-1) % V;
  * page permutation: a = [0..n-1]; for k in 0..n-2: j = k + hash(seed, 9, k) % (n - k); swap a[k], a[j];
  * sampling: Philox seed = --seed, offset starting at 0 and advancing by
    (rows * 32 + 3) // 4 * 4 per sampling call (prefill: one call per chunk;
    decode: one per step in eager mode, graph replays keep the captured one);
    greedy is the same top-k-first call with top_k = 1 (top_p stays 0.9);
  * decode step s (0-based) appends the token at position L + s; page-table
    arrays are int32; positions and batch indices int32.

usage: decode_step_py.py [spec flags] [--grid "B:L,B:L,..."] [--both]
       decode_step_py.py --self-test-hash      (standard library only)
Exit status: 0 ok, 1 a check failed, 2 bad configuration.
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

M32 = 0xFFFFFFFF
LLAMA3_8B = dict(hidden=4096, hq=32, hkv=8, hd=128, inter=14336, vocab=128256)
SMALL = dict(hidden=512, hq=4, hkv=1, hd=128, inter=1024, vocab=1000)
EPS = 1e-5
ROPE = dict(rope_scale=8.0, rope_theta=5e5, low_freq_factor=1.0, high_freq_factor=4.0, old_context_len=8192)
S_EMBED, S_FINAL_NORM, S_LM_HEAD, S_PROMPT, S_KV, S_PAGES = 1, 2, 3, 5, 7, 9
TOP_K, TOP_P = 50, 0.9
PREFILL_TOKENS = 16384
STEP_RUNS = 5
PREFILL_RUNS = 3


def layer_stream(layer, j):
    return 16 + 16 * layer + j


# --------------------------------------------------------------------------
# The spec's hash and uniform in pure Python (the reference)
# --------------------------------------------------------------------------


def hash_u32(seed, stream, i):
    x = (i * 0x9E3779B1 + stream * 0x85EBCA77 + seed) & M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def f32(x):
    """x rounded to float32 (nearest even), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def bf16_bits(x):
    """bits of float32 x rounded to bf16, nearest even (no NaN here)."""
    b = struct.unpack("<I", struct.pack("<f", x))[0]
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF


def scale_for(fan_in):
    return math.sqrt(3.0 / fan_in)  # a double; rounded to float32 where used


def value_ref(seed, stream, i, scale):
    """The float32 value of element i (scale None: a norm weight)."""
    u = (hash_u32(seed, stream, i) >> 8) * 2.0 ** -24  # exact
    d = 2.0 * u - 1.0  # exact in float32
    if scale is None:
        return f32(1.0 + f32(d * f32(0.1)))
    return f32(d * f32(scale))


# Known answers, computed with a C11 program (uint32_t arithmetic, float ops
# without contraction, (float)sqrt(3.0/4096)): (i, hash(1234, 1, i), bf16 of
# 2u-1, bf16 of (2u-1)*sqrt(3/4096), bf16 of 1+(2u-1)*0.1).
KAT_SEED, KAT_STREAM = 1234, 1
KAT = [
    (0, 2718875221, 0x3E88, 0x3BEC, 0x3F83),
    (1, 3103031255, 0x3EE4, 0x3C45, 0x3F86),
    (2, 1705959343, 0xBE53, 0xBBB6, 0x3F7B),
    (3, 1379395894, 0xBEB7, 0xBC1F, 0x3F77),
    (1000, 2216968876, 0x3D05, 0x3A66, 0x3F80),
    (123456789, 1159492697, 0xBEEC, 0xBC4C, 0x3F74),
    (4294967295, 4234152536, 0x3F79, 0x3CD7, 0x3F8C),
]
KAT_TOKEN0 = 59035  # hash(1234, 5, 0) % 128256


def self_test_hash(verbose=True):
    """The pure-Python hash/uniform against the C known answers."""
    bad = 0
    for i, h, b1, b2, b3 in KAT:
        got = (hash_u32(KAT_SEED, KAT_STREAM, i), bf16_bits(value_ref(KAT_SEED, KAT_STREAM, i, 1.0)),
               bf16_bits(value_ref(KAT_SEED, KAT_STREAM, i, scale_for(4096))),
               bf16_bits(value_ref(KAT_SEED, KAT_STREAM, i, None)))
        ok = got == (h, b1, b2, b3)
        bad += not ok
        if verbose:
            print("hash(%d, %d, %10d) = %10d  bf16: %04x %04x %04x  %s" %
                  ((KAT_SEED, KAT_STREAM, i) + got + ("ok" if ok else "MISMATCH, want %r" % ((h, b1, b2, b3),),)))
    tok = hash_u32(1234, S_PROMPT, 0) % LLAMA3_8B["vocab"]
    bad += tok != KAT_TOKEN0
    if verbose:
        print("prompt token 0 = %d  %s" % (tok, "ok" if tok == KAT_TOKEN0 else "MISMATCH"))
        print("self-test-hash: %s" % ("ok" if not bad else "%d mismatches" % bad))
    return bad == 0


# --------------------------------------------------------------------------
# The same hash with torch int64 ops on the GPU
# --------------------------------------------------------------------------


def _mulc_(torch, x, c, tmp):
    """x = (x * c) mod 2^32 in place, 0 <= x < 2^32, with no int64 overflow."""
    torch.mul(x, c >> 16, out=tmp)
    tmp.bitwise_and_(0xFFFF).bitwise_left_shift_(16)
    x.mul_(c & 0xFFFF).add_(tmp).bitwise_and_(M32)


def _xorshift_(torch, x, s, tmp):
    torch.bitwise_right_shift(x, s, out=tmp)
    x.bitwise_xor_(tmp)


def hash_t(torch, seed, stream, x):
    """x: int64 indices in [0, 2^32), replaced by hash(seed, stream, x)."""
    tmp = torch.empty_like(x)
    _mulc_(torch, x, 0x9E3779B1, tmp)
    x.add_((stream * 0x85EBCA77 + seed) & M32).bitwise_and_(M32)
    _xorshift_(torch, x, 16, tmp)
    _mulc_(torch, x, 0x7FEB352D, tmp)
    _xorshift_(torch, x, 15, tmp)
    _mulc_(torch, x, 0x846CA68B, tmp)
    _xorshift_(torch, x, 16, tmp)
    return x


def fill_hash(torch, dst, seed, stream, scale, base=0, chunk=1 << 25):
    """dst (bf16, any shape, contiguous) = the spec's values of flat indices
    base + 0 .. numel-1 (mod 2^32); scale None: norm weights."""
    flat = dst.view(-1)
    n = flat.numel()
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        x = torch.arange(base + s, base + s + m, dtype=torch.int64, device=dst.device).bitwise_and_(M32)
        hash_t(torch, seed, stream, x)
        u = torch.bitwise_right_shift(x, 8).to(torch.float32).mul_(2.0 ** -24)
        del x
        u.mul_(2.0).sub_(1.0)
        if scale is None:
            u.mul_(0.1).add_(1.0)
        else:
            u.mul_(scale)
        flat[s:s + m].copy_(u)  # float32 -> bf16, round to nearest even


def hash_mod_t(torch, seed, stream, n, mod, device):
    x = torch.arange(0, n, dtype=torch.int64, device=device)
    return hash_t(torch, seed, stream, x).remainder_(mod)


def torch_self_check(torch):
    """torch's hash/values against the pure-Python reference: index 0..63 and
    the last 3 before 2^32 for weights, norms and prompt ids; exit 1 on a mismatch."""
    bf16 = torch.bfloat16
    idx = list(range(64)) + [M32 - 2, M32 - 1, M32]
    bad = 0
    for stream, scale in ((S_EMBED, 1.0), (S_LM_HEAD, scale_for(4096)), (S_FINAL_NORM, None),
                          (layer_stream(3, 5), scale_for(14336))):
        for base, ids in ((0, idx[:64]), (M32 - 2, idx[64:])):
            t = torch.empty(len(ids), dtype=bf16, device="cuda")
            fill_hash(torch, t, 1234, stream, scale, base=base)
            got = [v & 0xFFFF for v in t.view(torch.int16).tolist()]
            want = [bf16_bits(value_ref(1234, stream, i, scale)) for i in ids]
            bad += sum(a != b for a, b in zip(got, want))
    tok = hash_mod_t(torch, 1234, S_PROMPT, 64, 128256, "cuda").tolist()
    bad += sum(a != hash_u32(1234, S_PROMPT, i) % 128256 for i, a in enumerate(tok))
    print("torch hash self-check vs pure Python: %s" % ("ok" if not bad else "%d MISMATCHES" % bad), flush=True)
    if bad or not self_test_hash(verbose=False):
        sys.exit(1)


# --------------------------------------------------------------------------
# Model, cache, one configuration
# --------------------------------------------------------------------------


class Model:
    def __init__(self, torch, shape, layers, seed):
        self.torch = torch
        self.H, self.Hq, self.Hkv, self.D = shape["hidden"], shape["hq"], shape["hkv"], shape["hd"]
        self.I, self.V, self.layers = shape["inter"], shape["vocab"], layers
        H, Hq, Hkv, D, I, V = self.H, self.Hq, self.Hkv, self.D, self.I, self.V

        def w(shape_, stream, scale):
            t = torch.empty(shape_, dtype=torch.bfloat16, device="cuda")
            fill_hash(torch, t, seed, stream, scale)
            return t

        self.embed = w((V, H), S_EMBED, 1.0)
        self.final_norm = w((H,), S_FINAL_NORM, None)
        self.lm_head = w((V, H), S_LM_HEAD, scale_for(H))
        self.attn_norm, self.w_qkv, self.w_o, self.mlp_norm, self.w_gate_up, self.w_down = [], [], [], [], [], []
        for layer in range(layers):
            self.attn_norm.append(w((H,), layer_stream(layer, 0), None))
            self.w_qkv.append(w(((Hq + 2 * Hkv) * D, H), layer_stream(layer, 1), scale_for(H)))
            self.w_o.append(w((H, Hq * D), layer_stream(layer, 2), scale_for(Hq * D)))
            self.mlp_norm.append(w((H,), layer_stream(layer, 3), None))
            self.w_gate_up.append(w((2 * I, H), layer_stream(layer, 4), scale_for(H)))
            self.w_down.append(w((H, I), layer_stream(layer, 5), scale_for(I)))
        # LM head: bf16 x bf16 -> f32 in one cuBLAS GEMM when torch has mm(out_dtype=)
        try:
            a = torch.ones((2, 8), dtype=torch.bfloat16, device="cuda")
            r = torch.mm(a, a.t(), out_dtype=torch.float32)
            self.lm_path = "mm_out_dtype_f32" if r.dtype == torch.float32 else "linear_bf16_then_float"
        except (TypeError, RuntimeError):
            self.lm_path = "linear_bf16_then_float"
        torch.cuda.synchronize()

    def logits(self, h):
        if self.lm_path == "mm_out_dtype_f32":
            return self.torch.mm(h, self.lm_head.t(), out_dtype=self.torch.float32)
        return self.torch.nn.functional.linear(h, self.lm_head).float()


def page_permutation(torch, seed, n):
    hs = hash_u32_list(torch, seed, S_PAGES, n)
    a = list(range(n))
    for k in range(n - 1):
        j = k + hs[k] % (n - k)
        a[k], a[j] = a[j], a[k]
    return a


def hash_u32_list(torch, seed, stream, n):
    x = torch.arange(0, n, dtype=torch.int64)
    return hash_t(torch, seed, stream, x).tolist()


def inc(rows):
    """Philox offset advance of one sampling call over `rows` rows (FlashInfer's)."""
    return (rows * 32 + 3) // 4 * 4


def median(v):
    return statistics.median(v)


class Config:
    """One (batch, context): KV caches, page table, prefill, decode steps."""

    def __init__(self, ctx, B, L):
        torch, fi, m, a = ctx.torch, ctx.fi, ctx.m, ctx.args
        self.ctx, self.torch, self.fi, self.m, self.a = ctx, torch, fi, m, a
        self.B, self.L, self.S, self.P = B, L, a.steps, a.page_size
        P, S = self.P, self.S
        self.pps = (L + S + P - 1) // P
        self.npages = B * self.pps
        i32, bf16 = torch.int32, torch.bfloat16
        shape = (self.npages, P, m.Hkv, m.D)
        self.kc = [torch.empty(shape, dtype=bf16, device="cuda") for _ in range(m.layers)]
        self.vc = [torch.empty(shape, dtype=bf16, device="cuda") for _ in range(m.layers)]
        self.table = torch.tensor(page_permutation(torch, a.seed, self.npages), dtype=i32).view(B, self.pps)
        self.prompts = hash_mod_t(torch, a.seed, S_PROMPT, B * L, m.V, "cuda").to(i32).view(B, L)
        self.top_k = 1 if a.greedy else TOP_K
        # decode: one pinned slot per step (the GPU may still read slot s when
        # the host fills slot s+1), one device buffer: [indptr | last | pos | indices]
        self.nfix = 3 * B + 1
        self.host = torch.zeros((S, self.nfix + B * self.pps), dtype=i32, pin_memory=True)
        self.dev = torch.zeros(self.nfix + B * self.pps, dtype=i32, device="cuda")
        self.d_indptr, self.d_last = self.dev[0:B + 1], self.dev[B + 1:2 * B + 1]
        self.d_pos, self.d_idx = self.dev[2 * B + 1:3 * B + 1], self.dev[3 * B + 1:]
        self.ar = torch.arange(B + 1, dtype=i32)
        self.bidx = torch.arange(B, dtype=i32, device="cuda")
        self.ids = torch.zeros(B, dtype=i32, device="cuda")
        ws = ctx.float_ws
        self.dec_e = fi.BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", use_tensor_cores=False)
        self.dec_g = fi.BatchDecodeWithPagedKVCacheWrapper(
            ws, "NHD", use_cuda_graph=True, use_tensor_cores=False, paged_kv_indptr_buffer=self.d_indptr,
            paged_kv_indices_buffer=self.d_idx, paged_kv_last_page_len_buffer=self.d_last)
        self.graph = None
        self.off0 = 0
        if a.fill == "random":
            n_cache = self.npages * P * m.Hkv * m.D
            for layer in range(m.layers):
                fill_hash(torch, self.kc[layer], a.seed, S_KV, 1.0, base=(2 * layer) * n_cache)
                fill_hash(torch, self.vc[layer], a.seed, S_KV, 1.0, base=(2 * layer + 1) * n_cache)
            self.start_ids = self.prompts[:, L - 1].contiguous()
        else:
            self.prefill_setup()
            self.start_ids, self.off0 = self.prefill()
        torch.cuda.synchronize()

    # ---- the forward of the spec, T tokens
    def forward(self, attn, ids, pos, bidx, kv_indptr, kv_idx, kv_last, out_attn=None):
        torch, fi, m = self.torch, self.fi, self.m
        F = torch.nn.functional
        T = ids.shape[0]
        Hq, Hkv, D = m.Hq, m.Hkv, m.D
        resid = torch.index_select(m.embed, 0, ids)  # the embedding gather, int32 ids
        h = fi.norm.rmsnorm(resid, m.attn_norm[0], EPS)
        for layer in range(m.layers):
            qkv = F.linear(h, m.w_qkv[layer])
            q = qkv[:, :Hq * D].view(T, Hq, D)
            k = qkv[:, Hq * D:(Hq + Hkv) * D].view(T, Hkv, D)
            v = qkv[:, (Hq + Hkv) * D:].view(T, Hkv, D)
            fi.rope.apply_llama31_rope_pos_ids_inplace(q, k, pos, **ROPE)
            cache = (self.kc[layer], self.vc[layer])
            fi.page.append_paged_kv_cache(k, v, bidx, pos, cache, kv_idx, kv_indptr, kv_last, "NHD")
            o_att = attn.run(q, cache, out=out_attn)
            o = F.linear(o_att.view(T, Hq * D), m.w_o[layer])
            fi.norm.fused_add_rmsnorm(o, resid, m.mlp_norm[layer], EPS)
            gu = F.linear(o, m.w_gate_up[layer])
            act = fi.activation.silu_and_mul(gu)
            d = F.linear(act, m.w_down[layer])
            nxt = m.attn_norm[layer + 1] if layer + 1 < m.layers else m.final_norm
            fi.norm.fused_add_rmsnorm(d, resid, nxt, EPS)
            h = d
        return h

    def sample(self, h_rows, offset):
        fi = self.fi
        probs = fi.sampling.softmax(self.m.logits(h_rows))
        return fi.sampling.top_k_top_p_sampling_from_probs(
            probs, self.top_k, TOP_P, filter_apply_order="top_k_first", deterministic=True,
            seed=self.a.seed, offset=offset)

    # ---- prefill (chunks of whole sequences, <= 16384 tokens each)
    def prefill_setup(self):
        torch, B, L, P = self.torch, self.B, self.L, self.P
        i32 = torch.int32
        self.nb = min(B, max(1, PREFILL_TOKENS // L))
        self.chunks = []
        npl = (L + P - 1) // P
        for c0 in range(0, B, self.nb):
            nb = min(self.nb, B - c0)
            T = nb * L
            sizes = [nb + 1, nb + 1, nb, T, T, nb * npl]
            off = [0]
            for s in sizes:
                off.append(off[-1] + s)
            hb = torch.empty(off[-1], dtype=i32, pin_memory=True)
            ar = torch.arange(nb + 1, dtype=i32)
            hb[off[0]:off[1]] = ar * L
            hb[off[1]:off[2]] = ar * npl
            hb[off[2]:off[3]] = L - (npl - 1) * P
            hb[off[3]:off[4]] = torch.arange(L, dtype=i32).repeat(nb)
            hb[off[4]:off[5]] = torch.arange(nb, dtype=i32).repeat_interleave(L)
            hb[off[5]:off[6]] = self.table[c0:c0 + nb, :npl].reshape(-1)
            db = torch.empty(off[-1], dtype=i32, device="cuda")
            v = [(off[i], off[i + 1]) for i in range(6)]
            out = torch.empty((T, self.m.Hq, self.m.D), dtype=torch.bfloat16, device="cuda")
            self.chunks.append((c0, nb, hb, db, v, out))

    def prefill(self):
        """Prefill every sequence; returns (sampled next ids [B], Philox offset after)."""
        torch, fi, m = self.torch, self.fi, self.m
        ids = torch.empty(self.B, dtype=torch.int32, device="cuda")
        offset = 0
        pre = self.ctx.prefill_wrapper
        for c0, nb, hb, db, v, out in self.chunks:
            db.copy_(hb, non_blocking=True)
            h = lambda i: hb[v[i][0]:v[i][1]]  # noqa: E731
            d = lambda i: db[v[i][0]:v[i][1]]  # noqa: E731
            pre.plan(h(0), h(1), d(5), h(2), m.Hq, m.Hkv, m.D, self.P, causal=True,
                     q_data_type=torch.bfloat16, kv_data_type=torch.bfloat16)
            toks = self.prompts[c0:c0 + nb].reshape(-1)
            hid = self.forward(pre, toks, d(3), d(4), d(1), d(5), d(2), out_attn=out)
            last = hid.view(nb, self.L, m.H)[:, self.L - 1, :].contiguous()
            ids[c0:c0 + nb] = self.sample(last, offset)
            offset += inc(nb)
        return ids, offset

    # ---- decode
    def host_part(self, s, wrapper):
        """Page table of step s on the host (pinned slot s), one upload, the plan."""
        torch, B, L, P, m = self.torch, self.B, self.L, self.P, self.m
        kv_len = L + s + 1
        npg = (kv_len + P - 1) // P
        hs = self.host[s]
        n = self.nfix + B * npg
        torch.mul(self.ar, npg, out=hs[0:B + 1])
        hs[B + 1:2 * B + 1].fill_(kv_len - (npg - 1) * P)
        hs[2 * B + 1:3 * B + 1].fill_(L + s)
        hs[self.nfix:n].view(B, npg).copy_(self.table[:, :npg])
        self.dev[:n].copy_(hs[:n], non_blocking=True)
        wrapper.plan(hs[0:B + 1], self.d_idx[:B * npg], hs[B + 1:2 * B + 1], m.Hq, m.Hkv, m.D, P,
                     q_data_type=torch.bfloat16, kv_data_type=torch.bfloat16)

    def body(self, wrapper, offset):
        h = self.forward(wrapper, self.ids, self.d_pos, self.bidx, self.d_indptr, self.d_idx, self.d_last)
        self.ids.copy_(self.sample(h, offset))

    def step_eager(self, s):
        self.host_part(s, self.dec_e)
        self.body(self.dec_e, self.off0 + s * inc(self.B))

    def step_graph(self, s):
        self.host_part(s, self.dec_g)
        self.graph.replay()

    def reset(self):
        self.ids.copy_(self.start_ids)

    def capture(self):
        torch = self.torch
        self.reset()
        self.host_part(0, self.dec_g)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self.body(self.dec_g, self.off0)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        self.reset()
        self.host_part(0, self.dec_g)
        torch.cuda.synchronize()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.body(self.dec_g, self.off0)
        torch.cuda.synchronize()

    def run_steps(self, step):
        for s in range(self.S):
            step(s)

    def measure(self, mode, gate):
        torch, S = self.torch, self.S
        step = self.step_eager if mode == "eager" else self.step_graph
        self.reset()
        self.run_steps(step)  # warm-up
        torch.cuda.synchronize()
        runs = []
        for _ in range(STEP_RUNS):
            self.reset()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            self.run_steps(step)
            torch.cuda.synchronize()
            runs.append((time.perf_counter() - t0) * 1e3 / S)
        host = []
        self.reset()
        for s in range(S):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(s)
            host.append((time.perf_counter() - t0) * 1e3)
        torch.cuda.synchronize()
        toks = []
        self.reset()
        for s in range(S):
            step(s)
            toks.append(self.ids.tolist())
        return dict(step_ms=median(runs), host_ms=median(host), step_ms_runs=[round(x, 4) for x in runs],
                    host_ms_min=min(host)), [list(r) for r in zip(*toks)]

    def gpu_time(self, gate, host_ms_graph):
        """CUDA events around each replay, steps queued behind the stream gate."""
        torch, S = self.torch, self.S
        e0 = [torch.cuda.Event(enable_timing=True) for _ in range(S)]
        e1 = [torch.cuda.Event(enable_timing=True) for _ in range(S)]
        self.reset()
        torch.cuda.synchronize()
        gate.hold(S * host_ms_graph * 1e3 * 2 + 2000)
        for s in range(S):
            self.host_part(s, self.dec_g)
            e0[s].record()
            self.graph.replay()
            e1[s].record()
        gate.check()
        torch.cuda.synchronize()
        return median([e0[s].elapsed_time(e1[s]) for s in range(S)])

    def prefill_time(self):
        torch = self.torch
        v = []
        for _ in range(PREFILL_RUNS):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            self.prefill()
            torch.cuda.synchronize()
            v.append((time.perf_counter() - t0) * 1e3)
        return median(v)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


class Ctx:
    pass


def loaded_modules():
    """FlashInfer/tvm-ffi shared objects mapped into this process."""
    out = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1] if len(line.split()) >= 6 else ""
                if p.endswith(".so") and ("flashinfer" in p or "tvm_ffi" in p or "fi-ws" in p):
                    out.add(p)
    except OSError:
        pass
    return sorted(out)


def emit(a, obj):
    line = json.dumps(obj)
    print(line, flush=True)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")


def parse_grid(a):
    if not a.grid:
        return [(a.batch, a.context)]
    out = []
    for item in a.grid.split(","):
        b, l_ = item.strip().split(":")
        out.append((int(b), int(l_)))
    return out


def check_config(a, shape, grid):
    msg = None
    if a.layers < 1 or a.steps < 1 or a.page_size < 1 or a.seed < 0 or a.seed > M32:
        msg = "--layers, --steps, --page-size must be >= 1 and --seed in [0, 2^32)"
    elif shape["hq"] % shape["hkv"]:
        msg = "query heads must be a multiple of KV heads"
    for b, l_ in grid:
        if b < 1 or l_ < 1:
            msg = "batch and context must be >= 1 (got %d:%d)" % (b, l_)
        elif b * ((l_ + a.steps + a.page_size - 1) // a.page_size) >= 2 ** 31:
            msg = "too many pages for int32 page ids at %d:%d" % (b, l_)
    if msg:
        print("decode_step_py: bad configuration: " + msg, file=sys.stderr)
        sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--page-size", type=int, default=16)
    ap.add_argument("--fill", choices=("random", "prefill"), default="prefill")
    ap.add_argument("--greedy", action="store_true")
    ap.add_argument("--eager", action="store_true", help="eager mode only (default: graph mode)")
    ap.add_argument("--both", action="store_true", help="eager and graph mode in the same process")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--grid", default=None, help='"B:L,B:L,...": several configurations in one process')
    ap.add_argument("--self-test-hash", action="store_true", help="pure-Python hash check (no torch)")
    a = ap.parse_args()
    if a.self_test_hash:
        sys.exit(0 if self_test_hash() else 1)
    shape = SMALL if a.small else LLAMA3_8B
    grid = parse_grid(a)
    check_config(a, shape, grid)
    modes = ["eager", "graph"] if a.both else (["eager"] if a.eager else ["graph"])

    import torch
    import flashinfer as fi
    import flashinfer.activation  # noqa: F401
    import flashinfer.norm  # noqa: F401
    import flashinfer.page  # noqa: F401
    import flashinfer.rope  # noqa: F401
    import flashinfer.sampling  # noqa: F401
    import importlib.metadata as md

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_common import Gate

    print("torch", torch.__version__, "flashinfer", md.version("flashinfer-python"), "device",
          torch.cuda.get_device_name(), flush=True)
    if not self_test_hash(verbose=False):
        print("decode_step_py: pure-Python hash disagrees with the known answers", file=sys.stderr)
        sys.exit(1)
    torch_self_check(torch)
    t0 = time.perf_counter()
    ctx = Ctx()
    ctx.torch, ctx.fi, ctx.args = torch, fi, a
    ctx.m = Model(torch, shape, a.layers, a.seed)
    ctx.float_ws = torch.zeros(128 * 1024 * 1024, dtype=torch.uint8, device="cuda")
    ctx.prefill_wrapper = fi.BatchPrefillWithPagedKVCacheWrapper(ctx.float_ws, "NHD", backend="fa2")
    print("weights: %d layers in %.1f s; LM head: %s" % (a.layers, time.perf_counter() - t0, ctx.m.lm_path),
          flush=True)
    gate = Gate(torch)
    printed = False
    common = dict(impl="python", layers=a.layers, steps=a.steps, page_size=a.page_size, fill=a.fill,
                  greedy=a.greedy, small=a.small, seed=a.seed, lm_head=ctx.m.lm_path)
    for B, L in grid:
        t0 = time.perf_counter()
        kv_gb = 2 * a.layers * B * ((L + a.steps + a.page_size - 1) // a.page_size) * a.page_size * \
            shape["hkv"] * shape["hd"] * 2 / 1e9
        free = torch.cuda.mem_get_info()[0] / 1e9
        if kv_gb > free - 4:
            print("decode_step_py: bad configuration: KV cache %.1f GB at %d:%d, %.1f GB free" % (kv_gb, B, L, free),
                  file=sys.stderr)
            sys.exit(2)
        cfg = Config(ctx, B, L)
        base = dict(common, batch=B, context=L)
        if a.fill == "prefill":
            ms = cfg.prefill_time()
            emit(a, dict(base, phase="prefill", ms=round(ms, 4), tokens_per_s=round(B * L / ms * 1e3, 1)))
        cfg.capture()
        res, toks = {}, {}
        for mode in modes:
            res[mode], toks[mode] = cfg.measure(mode, gate)
            if not printed:
                for p in loaded_modules():
                    print("mapped:", p, flush=True)
                printed = True
        if "graph" not in res:
            cfg.run_steps(cfg.step_graph)  # warm the graph path for the GPU time
            torch.cuda.synchronize()
        host_g = res["graph"]["host_ms"] if "graph" in res else 1.0
        gpu = cfg.gpu_time(gate, host_g)
        for mode in modes:
            r = res[mode]
            emit(a, dict(base, phase="decode", mode=mode, step_ms=round(r["step_ms"], 4), gpu_ms=round(gpu, 4),
                         host_ms=round(r["host_ms"], 4), tokens_per_s=round(B / r["step_ms"] * 1e3, 1),
                         host_share=round(r["host_ms"] / r["step_ms"], 4), step_ms_runs=r["step_ms_runs"],
                         host_ms_min=round(r["host_ms_min"], 4), gate_expired=gate.expired))
            emit(a, dict(base, phase="tokens", mode=mode, greedy=a.greedy, tokens=toks[mode]))
        if len(modes) == 2 and a.greedy:
            same = sum(x == y for p, q in zip(toks["eager"], toks["graph"]) for x, y in zip(p, q))
            print("greedy eager vs graph: %d / %d tokens identical" % (same, B * a.steps), flush=True)
        print("config %d:%d done in %.1f s" % (B, L, time.perf_counter() - t0), flush=True)
        del cfg
        torch.cuda.empty_cache()
    jit = [p for p in loaded_modules() if "/data/aot/" not in p and "flashinfer" in p and "cached_ops" in p]
    if jit:
        print("WARNING: modules loaded from FlashInfer's JIT cache, not the prebuilt ones:", *jit, sep="\n  ")


if __name__ == "__main__":
    main()
